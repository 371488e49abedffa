#include "cmd/minikube-net/cluster.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <set>
#include <string_view>

#include "cmd/minikube-net/common.h"
#include "lib/bgp/report.h"
#include "lib/control/format.h"
#include "lib/control/protocol.h"
#include "lib/strings/str_cat.h"
#include "vnet/check/check.h"
#include "vnet/cluster/client.h"
#include "vnet/cluster/lab.h"
#include "vnet/cluster/session.h"
#include "vnet/cluster/state.h"

namespace mkn {
namespace {

// `exec`'s usage line: CLI11 cannot know that what follows the pod (after an optional --) is the
// command.
class ExecFormatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override {
    std::string line = CLI::Formatter::make_usage(app, std::move(name));
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return line + " [-- CMD [ARGS...]]\n";
  }
};

// `get`'s WHAT: a kind `kinds` accepts, or svc/NAME (kubectl's TYPE/NAME).
CLI::Validator KindOrKindSlashName(CLI::Validator kinds) {
  return CLI::Validator(
      [kinds](std::string& word) mutable {
        const size_t slash = word.find('/');
        std::string kind = word.substr(0, slash);
        if (slash != std::string::npos && slash + 1 == word.size())
          return StrCat("want ", kind, "/NAME, got \"", word, "\"");
        return kinds(kind);
      },
      kinds.get_description());
}

// --- check: the lab's [[expect]] rows probed on its running cluster ------------------------------

struct CheckFlags {
  std::string target, junit, output = "table";
  std::string cluster;  // -c: the same as a cluster name in `target`
};

int RunCheckCommand(CheckFlags f) {
  absl::StatusOr<std::string> target = OneClusterWord("check", f.target, f.cluster);
  if (!target.ok()) return Exit(target.status());
  f.target = *target;
  if (absl::Status st = vnet::CheckPrivileges("probe from inside the lab's namespaces"); !st.ok())
    return Exit(st);
  // LAB: the running cluster of that lab; CLUSTER (or nothing: $MKN_CLUSTER, else the only one
  // up): the rows of the lab file it came up from, as that file reads now.
  std::string lab = f.target;
  absl::StatusOr<vnet::ClusterState> s = absl::UnknownError("");
  int code = kExitOk;
  std::optional<config::ClusterSpec> spec;
  if (!f.target.empty() && vnet::NamesALabFile(f.target)) {
    spec = Lab(f.target, code);
    if (!spec) return code;
    s = vnet::PickCluster(spec->name);
  } else {
    s = vnet::PickCluster(f.target);
    if (s.ok()) {
      lab = s->lab;
      spec = Lab(lab, code);
      if (!spec) return code;
    }
  }
  if (!s.ok()) return Exit(s.status());
  if (s->phase != "ready") {
    return Exit(absl::FailedPreconditionError(
        StrCat("check ", s->cluster, ": the cluster is ", s->phase, ", not ready")));
  }
  absl::StatusOr<check::Report> r = vnet::RunCheck(*spec, *s);
  if (!r.ok()) return Exit(r.status());
  absl::StatusOr<int> exit_code = vnet::PrintCheck(*r, f.output, f.junit, std::cout);
  if (!exit_code.ok()) return Exit(exit_code.status());
  return *exit_code;
}

// --- get, exec, logs: a cluster's state, or its owner over the control socket --------------------

// `-n NS` keeps one namespace's rows; `-A` (or a lab with more than one namespace and no -n) shows
// them all with a NAMESPACE column. A lab without namespaces prints what it always printed.
std::vector<control::PodRow> PodsIn(std::vector<control::PodRow> rows, const std::string& ns,
                                    bool& column, bool all) {
  // kube-system (the cluster DNS pod) only with -A or -n kube-system, as kubectl's default
  // namespace hides it; the lab's own namespaces decide the NAMESPACE column.
  if (!all && !config::IsSystemNamespace(ns)) {
    std::erase_if(rows, [](const control::PodRow& r) {
      return config::IsSystemNamespace(config::NamespaceOfKey(r.name));
    });
  }
  bool several = false;
  for (const control::PodRow& r : rows) several |= r.name.find('/') != std::string::npos;
  column = all || (several && ns.empty());
  if (ns.empty() || all) return rows;
  std::vector<control::PodRow> out;
  for (control::PodRow& r : rows) {
    const size_t slash = r.name.find('/');
    const std::string in = slash == std::string::npos ? "default" : r.name.substr(0, slash);
    if (in != ns) continue;
    if (slash != std::string::npos) r.name = r.name.substr(slash + 1);
    out.push_back(std::move(r));
  }
  return out;
}

// The namespaces of keys ("<ns>/<name>", or a bare name in "default"), sorted, once each.
template <typename Rows, typename Key>
std::string NamespacesOf(const Rows& rows, Key key) {
  std::set<std::string> names;
  for (const auto& r : rows) names.insert(std::string(config::NamespaceOfKey(key(r))));
  std::string out;
  for (const std::string& n : names) StrAppend(&out, out.empty() ? "" : ", ", n);
  return out.empty() ? "none" : out;
}

// What kubectl says of an empty namespace, and (since a typo is the usual cause) which exist.
std::string NoneIn(std::string_view kind, const std::string& ns, const std::string& existing) {
  return StrCat("No ", kind, " in namespace \"", ns, "\" (namespaces with ", kind, ": ", existing,
                ").\n");
}

int RunGet(std::string what, const std::string& name_arg, const std::string& cluster,
           const std::string& output, const std::string& ns, bool all) {
  const bool json = output == "json";
  // kubectl's TYPE/NAME form: svc/kube-dns is svc kube-dns.
  std::string name = name_arg;
  if (const size_t slash = what.find('/'); slash != std::string::npos) {
    if (!name.empty()) {
      return Exit(absl::InvalidArgumentError(
          StrCat("get: name the object once: ", what, " or ", what.substr(0, slash), " ", name)));
    }
    name = what.substr(slash + 1);
    what = what.substr(0, slash);
  }
  const bool svc = what == "svc" || what == "service" || what == "services";
  if (!name.empty() && !svc) {
    return Exit(absl::InvalidArgumentError(
        StrCat("get ", what, ": no NAME here (get svc NAME or svc/NAME takes one)")));
  }
  // kube-system's Services (the cluster DNS's kube-dns) show with -A or -n kube-system, as
  // kubectl's default namespace hides them.
  const auto system_too = [&](auto print) {
    return [=](control::ServicesAnswer a) {
      if (!all && !config::IsSystemNamespace(ns)) {
        std::erase_if(a.services, [](const control::ServiceInfo& s) {
          return config::IsSystemNamespace(config::NamespaceOfKey(s.name));
        });
      }
      return print(a);
    };
  };
  if (what == "svc" || what == "service" || what == "services") {
    // As get pods: -n NS keeps one namespace's services, -A (or a lab with more than one
    // namespace and no -n) adds the NAMESPACE column.
    absl::StatusOr<control::ServicesAnswer> a = vnet::Ask(cluster, control::ServicesRequest{});
    if (!a.ok()) return Exit(a.status());
    // A name is looked up everywhere, so that a Service of kube-system can be hinted at.
    if (!all && !config::IsSystemNamespace(ns) && name.empty()) {
      std::erase_if(a->services, [](const control::ServiceInfo& s) {
        return config::IsSystemNamespace(config::NamespaceOfKey(s.name));
      });
    }
    bool several = false;
    for (const control::ServiceInfo& s : a->services)
      several |= s.name.find('/') != std::string::npos;
    const bool column = all || (several && ns.empty());
    if (!name.empty()) {
      // NAME, NS/NAME or svc/NAME (get svc svc/kube-dns, get svc kube-system/kube-dns).
      absl::StatusOr<control::ServiceName> want = control::ParseServiceName(name, ns);
      if (!want.ok()) return Exit(want.status());
      absl::StatusOr<control::ServicesAnswer> one = control::OneService(*std::move(a), *want);
      if (!one.ok()) return Exit(one.status());
      std::cout << (json ? control::ServicesJson(*one) : control::ServicesTable(*one, false));
      return kExitOk;
    }
    const std::string existing =
        NamespacesOf(a->services, [](const control::ServiceInfo& s) { return s.name; });
    control::ServicesAnswer shown =
        ns.empty() || all ? *std::move(a) : control::ServicesIn(*std::move(a), ns);
    if (json) {
      std::cout << control::ServicesJson(shown);
    } else if (shown.services.empty() && !ns.empty() && !all) {
      std::cout << NoneIn("services", ns, existing);
    } else {
      std::cout << control::ServicesTable(shown, column);
    }
    return kExitOk;
  }
  if (what == "proxy") {  // the same answer as svc: its node counters, not its services
    return AskAndPrint(cluster, control::ServicesRequest{},
                       json ? control::ProxyJson : control::ProxyText);
  }
  if (what == "endpoints" || what == "ep") {
    return AskAndPrint(cluster, control::EndpointsRequest{},
                       system_too(json ? control::ServicesJson : control::EndpointsTable));
  }
  if (what == "routes" || what == "route") {
    return AskAndPrint(cluster, control::RoutesRequest{},
                       json ? control::RoutesJson : control::RoutesText);
  }
  if (what == "overlay") {
    return AskAndPrint(cluster, control::OverlayRequest{},
                       json ? control::OverlayJson : control::OverlayText);
  }
  if (what == "dns") {
    return AskAndPrint(cluster, control::DnsRequest{}, json ? control::DnsJson : control::DnsText);
  }
  absl::StatusOr<vnet::ClusterState> s = vnet::PickCluster(cluster);
  if (!s.ok()) return Exit(s.status());
  if (what == "netpol" || what == "networkpolicies" || what == "networkpolicy") {
    if (absl::Status st = vnet::CheckPrivileges("read the nodes' NetworkPolicy counters"); !st.ok())
      return Exit(st);
    int code = kExitOk;
    std::optional<config::ClusterSpec> spec = LiveLab(*s, code);
    if (!spec) return code;
    if (!ns.empty() && !all) {  // -n NS: that namespace's policies only, as kubectl
      const std::string existing =
          NamespacesOf(spec->network_policies,
                       [](const config::NetworkPolicySpec& np) { return np.ns + "/" + np.name; });
      std::erase_if(spec->network_policies,
                    [&](const config::NetworkPolicySpec& np) { return np.ns != ns; });
      if (spec->network_policies.empty()) {
        std::cout << NoneIn("network policies", ns, existing);
        return kExitOk;
      }
    }
    absl::StatusOr<std::string> t = vnet::NetpolTable(*s, *spec);
    if (!t.ok()) return Exit(t.status());
    std::cout << *t;
    return kExitOk;
  }
  if (what == "world") {
    if (!s->world) {
      return Exit(absl::FailedPreconditionError(
          StrCat("get world: cluster ", s->cluster,
                 " has no world ([cluster] world = false, or a CNI lab without world = true)")));
    }
    std::cout << (json ? control::WorldJson(*s) : control::WorldText(*s));
    return kExitOk;
  }
  if (what == "pods" || what == "pod") {
    if (json) {
      std::cout << control::PodsJson(*s);
    } else {
      bool column = false;
      std::vector<control::PodRow> every = vnet::PodRows(*s);
      const std::string existing =
          NamespacesOf(every, [](const control::PodRow& r) { return r.name; });
      std::vector<control::PodRow> rows = PodsIn(std::move(every), ns, column, all);
      if (rows.empty() && !ns.empty()) {
        std::cout << NoneIn("pods", ns, existing);
      } else {
        std::cout << control::PodsTable(rows, column);
      }
    }
  } else {
    std::cout << (json ? control::NodesJson(*s) : control::NodesTable(vnet::NodeRows(*s)));
  }
  return kExitOk;
}

int RunExec(const std::string& name, const std::string& cluster, std::vector<std::string> cmd) {
  if (absl::Status st = vnet::CheckPrivileges("enter a network namespace"); !st.ok())
    return Exit(st);
  absl::StatusOr<vnet::ClusterState> s = vnet::PickCluster(cluster);
  if (!s.ok()) return Exit(s.status());
  // Single-threaded here: entering the netns for the exec is safe.
  if (absl::Status st = vnet::EnterNetnsOf(*s, name); !st.ok()) return Exit(st);
  if (cmd.empty()) cmd = {"sh"};
  // birdc without -s looks for BIRD's default socket (/run/bird/bird.ctl), which no speaker here
  // uses: say which one this speaker has before birdc says it cannot connect.
  if (std::filesystem::path(cmd[0]).filename() == "birdc" &&
      std::none_of(cmd.begin() + 1, cmd.end(),
                   [](const std::string& a) { return a.rfind("-s", 0) == 0; })) {
    for (const control::SpeakerState& sp : s->speakers) {
      if (sp.name == name) {
        std::cerr << "minikube-net: " << name << "'s BIRD listens on " << sp.socket << ": birdc -s "
                  << sp.socket << " ...\n";
      }
    }
  }
  signal(SIGPIPE, SIG_DFL);  // main() ignores it; the command must not inherit that
  std::vector<char*> argv;
  for (std::string& a : cmd) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  std::cerr << "minikube-net: run " << cmd[0] << ": " << std::strerror(errno) << "\n";
  return 127;  // as a shell says "command not found"
}

int RunLogs(const std::string& pod, const std::string& cluster) {
  absl::StatusOr<vnet::ClusterState> s = vnet::PickCluster(cluster);
  if (!s.ok()) return Exit(s.status());
  absl::StatusOr<std::string> logs = vnet::ReadLogs(*s, pod);
  if (!logs.ok()) return Exit(logs.status());
  std::cout << *logs;
  return kExitOk;
}

// --- bgp: a network = "bgp" lab's speakers ------------------------------------------------------

int RunBgp(const std::string& speaker, bool named, const std::string& cluster,
           const std::string& output) {
  // `bgp ''` names a speaker, none is called that: not "every speaker" (what no name means).
  if (named && speaker.empty()) {
    return Exit(absl::InvalidArgumentError(
        "bgp: an empty speaker name; name a node, tor-<rack> or spine, or none for every speaker"));
  }
  if (absl::Status st = vnet::CheckPrivileges(); !st.ok()) return Exit(st);
  absl::StatusOr<vnet::ClusterState> s = vnet::PickCluster(cluster);
  if (!s.ok()) return Exit(s.status());
  absl::StatusOr<std::vector<bgp::SpeakerStatus>> st = vnet::BgpStatus(*s, speaker);
  if (!st.ok()) return Exit(st.status());
  std::cout << (output == "json" ? bgp::BgpJson(*st) : bgp::BgpTable(*st));
  return kExitOk;
}

}  // namespace

struct ClusterVerbs {
  CheckFlags check_flags;
  std::string get_what, get_name, get_cluster, get_output = "table", get_ns;
  bool get_all = false;
  std::string exec_pod, exec_cluster;
  std::string ct_node, ct_cluster, ct_output = "table";
  std::string kill_pod, kill_cluster;
  std::string scale_dep, scale_cluster;
  int scale_replicas = 0;
  bool resync_check = false;
  std::string resync_cluster;
  std::string bgp_speaker, bgp_cluster, bgp_output = "table";
  std::string logs_pod, logs_cluster;
  CLI::App *check_cmd = nullptr, *get_cmd = nullptr, *exec_cmd_app = nullptr,
           *conntrack_cmd = nullptr, *kill_cmd = nullptr, *scale_cmd = nullptr,
           *resync_cmd = nullptr, *bgp_cmd = nullptr, *logs_cmd = nullptr;
};

ClusterVerbsPtr AddClusterVerbs(CLI::App& app) {
  ClusterVerbsPtr owned(new ClusterVerbs, [](ClusterVerbs* p) { delete p; });
  ClusterVerbs& v = *owned;
  v.check_cmd = app.add_subcommand(
      "check", "Probe a running lab's [[expect]] rows for real and print the reachability matrix");
  v.check_cmd->add_option("target", v.check_flags.target,
                          "Lab file (its running cluster) or cluster name (default: $MKN_CLUSTER, "
                          "else the only cluster up)");
  v.check_cmd->add_option("-c,--cluster", v.check_flags.cluster, kClusterFlag);
  v.check_cmd->add_option("--junit", v.check_flags.junit,
                          "Also write JUnit XML to FILE: one testcase per cell (for CI)");
  v.check_cmd->add_option("-o,--output", v.check_flags.output, "table (default) or json, on stdout")
      ->check(OneOf({"table", "json"}));
  v.check_cmd->footer(
      "Each [[expect]] row of the lab file (as the file reads now) becomes cells: every source pod "
      "of its\n"
      "`from` (a pod, a selector, a node, or \"host\") to every destination of its `to` (a pod, a "
      "selector, a\n"
      "pod IP, a node and port, svc/NAME[:PORT], or host-edge), probed from inside the source's "
      "namespace:\n"
      "  tcp   allow = the handshake completed          udp   allow = a datagram came back\n"
      "  icmp  allow = an echo reply                     http(s) to host-edge: allow = status "
      "1xx-3xx\n"
      "Deny is everything else: no answer within 1 s (a drop), a refusal (TCP reset, ICMP "
      "unreachable),\n"
      "no route, an HTTP 4xx/5xx. Probes run 16 at once; the run is bounded (10 s, more for big "
      "matrices).\n"
      "The matrix: rows = from, numbered columns = to; . allowed, X denied, ! not what the lab "
      "expects,\n"
      "E a probe that could not run (a missing tool), - no row for that pair.\n"
      "Examples:\n"
      "  minikube-net check                               # the only cluster up\n"
      "  minikube-net check examples/quickstart/lab.toml --junit check.xml\n"
      "  minikube-net up -d --check LAB.toml              # up, then check: exit 1 on a mismatch, "
      "the lab stays up\n"
      "up --check: -d exits with the verdict once checked and leaves the cluster running (down it "
      "when done);\n"
      "the foreground and --shell run as usual and exit 1 at the end when the check failed.\n"
      "Exit codes: 0 every cell as expected, 1 a mismatch, a probe error, a row with nothing to "
      "probe, no\n"
      "[[expect]] rows, or missing privileges; 2 bad lab file or usage, an unknown cluster.");

  v.get_cmd = app.add_subcommand(
      "get",
      "Show pods, nodes, services, endpoints, the Services proxy's node counters, routes (the "
      "edge's counters), the overlay, NetworkPolicies, the world or the cluster DNS of a cluster");
  v.get_cmd
      ->add_option("what", v.get_what,
                   "pods, nodes, svc (services, with their counters), endpoints, proxy (each "
                   "node's Services proxy: drops by reason, conntrack table, fragments), routes "
                   "(the edge's listeners and per-route counters) or overlay (network = "
                   "\"geneve\": each node's Geneve endpoint, its counters and drops by reason) or "
                   "netpol (the cluster's NetworkPolicies, the lab's and those applied since, "
                   "the pods each selects, the new flows dropped at them) or world (the world "
                   "outside the cluster: its names, addresses and servers) or dns (the cluster "
                   "DNS's queries, answers by rcode, drops by reason). svc/NAME: one Service")
      ->required()
      ->check(KindOrKindSlashName(
          OneOf({"pods", "nodes", "pod", "node", "svc", "services", "service", "endpoints", "ep",
                 "proxy", "routes", "route", "overlay", "netpol", "networkpolicies",
                 "networkpolicy", "world", "dns"})));
  v.get_cmd->add_option("name", v.get_name,
                        "svc: one Service: NAME in -n's namespace (default: default), "
                        "NAMESPACE/NAME, or either as svc/...; not found there, the namespaces "
                        "that have it are named");
  v.get_cmd->footer(
      "Pods and nodes come from the cluster's state file; services, endpoints, proxy and overlay "
      "from its\n"
      "running process (they change with kill and scale). `get svc -o json` is the array of "
      "services; what a\n"
      "node's proxy counts as a whole (a full table, fragments, drops no service owns) is `get "
      "proxy`. Examples:\n"
      "  minikube-net get pods\n  minikube-net get svc -o json\n  minikube-net get endpoints\n"
      "  minikube-net get proxy -o json | jq '.nodes[] | {node, drops: .nat.drops}'\n"
      "  minikube-net get overlay\n  minikube-net get pods -A      # every namespace, NAMESPACE "
      "column\n"
      "  minikube-net get svc -A       # kube-system's too: the cluster DNS (pod coredns, "
      "Service kube-dns)\n"
      "  minikube-net get pods -n x   # namespace x only\n  minikube-net get netpol\n"
      "  minikube-net get world       # the world outside: example.test's names and addresses\n"
      "  minikube-net get svc kube-dns -n kube-system   # one Service (also svc/kube-dns)\n"
      "  minikube-net get svc kube-system/kube-dns      # the same (or svc/kube-system/kube-dns)\n"
      "  minikube-net get dns         # the cluster DNS: answers by rcode, drops by reason\n"
      "proxy_mode = \"ebpf\": get svc's NEW and DROPS come from the programs' maps (connects "
      "translated,\n"
      "refused for want of endpoints); PACKETS, BYTES and FLOWS stay 0 for them, as no packet "
      "passes a proxy;\n"
      "an ALGORITHM other than random is served as random (random*).");
  v.get_cmd->add_option("-c,--cluster", v.get_cluster, kClusterFlag);
  v.get_cmd->add_option(
      "-n,--namespace", v.get_ns,
      "pods, svc, netpol: only this namespace's (names within it). Without -n, a lab "
      "with more than one namespace lists every pod and service with a "
      "NAMESPACE column, and a lab without namespaces lists them as it always "
      "did");
  v.get_cmd->add_flag("-A,--all-namespaces", v.get_all,
                      "pods, svc: every namespace's, with a NAMESPACE column (as kubectl)");
  v.get_cmd->add_option("-o,--output", v.get_output, "table or json")
      ->check(OneOf({"table", "json"}));

  v.exec_cmd_app = app.add_subcommand("exec",
                                      "Run CMD (default: sh) in a pod's (or node's, "
                                      "router's, or the underlay's) network namespace");
  v.exec_cmd_app->formatter(std::make_shared<ExecFormatter>());
  v.exec_cmd_app
      ->add_option("pod", v.exec_pod, "Pod, node, router (tor-<rack>, spine) or `underlay`")
      ->required();
  v.exec_cmd_app->add_option("-c,--cluster", v.exec_cluster, kClusterFlag);
  v.exec_cmd_app->allow_extras();
  v.exec_cmd_app
      ->prefix_command();  // everything after POD (and an optional --) is the command; default sh
  v.exec_cmd_app->footer(
      "CMD runs with its arguments, untouched by minikube-net's flag parsing after --; without "
      "one, sh.\n"
      "A pod's command gets POD_NAME, POD_IP and NODE_NAME in its environment.\n"
      "proxy_mode = \"ebpf\": in a pod, CMD also joins the cluster's cgroup v2 (the one difference "
      "from\n"
      "ip netns exec), so its connects to a ClusterIP are balanced by the programs there; still "
      "running at\n"
      "down, it is moved out to the cgroup2 mount's root and keeps running.\n"
      "Examples:\n  minikube-net exec client -- ping -c1 10.244.1.3\n"
      "  minikube-net exec node1 -- ip route\n  minikube-net exec web-0      # a shell in the pod\n"
      "Exit codes: CMD's own; 127 CMD could not be run (not found, not executable); 1 runtime "
      "failure or\n"
      "missing privileges; 2 bad usage, an unknown pod or node, or several clusters up and none "
      "named.");

  v.conntrack_cmd = app.add_subcommand(
      "conntrack", "List the Services' flows of each node with their translation");
  v.conntrack_cmd->add_option("-n,--node", v.ct_node,
                              "Only this node's flows (each node has its own table)");
  v.conntrack_cmd->add_option("-c,--cluster", v.ct_cluster, kClusterFlag);
  v.conntrack_cmd->add_option("-o,--output", v.ct_output, "table or json")
      ->check(OneOf({"table", "json"}));
  v.conntrack_cmd->footer(
      "Each flow shows what the client sent (client -> ClusterIP or NodePort) and what the "
      "endpoint sees and\n"
      "answers (userspace: pod -> the node's proxy address). proxy_mode = \"nftables\": the "
      "kernel's own\n"
      "table, translated flows only (all of it: minikube-net exec node1 -- cat "
      "/proc/net/nf_conntrack).\n"
      "proxy_mode = \"ebpf\": the same node tables; a pod's socket the programs translated "
      "goes to the pod\nitself and makes no flow here (get svc's NEW counts them).");

  v.kill_cmd = app.add_subcommand(
      "kill", "Kill a pod: it is recreated on its node with a new IP, Services follow");
  v.kill_cmd->add_option("pod", v.kill_pod, "Pod name")->required();
  v.kill_cmd->add_option("-c,--cluster", v.kill_cluster, kClusterFlag);
  v.kill_cmd->footer(
      "As a Deployment's pod dies and comes back: its containers stop, its namespace is removed, a "
      "new one\n"
      "gets the next free address; endpoints follow at once and flows to the old address are "
      "flushed\n"
      "(userspace, nftables: a UDP client socket is balanced again on its next datagram).\n"
      "proxy_mode = \"ebpf\": a socket is connected to the pod itself, so the pods' TCP and UDP "
      "sockets\n"
      "connected to the old address are destroyed (ss -K): their next call fails (ECONNABORTED; "
      "a UDP\n"
      "send() without an address: EDESTADDRREQ) and connect() again picks a live backend.");

  v.scale_cmd = app.add_subcommand("scale", "Set the number of replicas of a Deployment");
  v.scale_cmd->add_option("deployment", v.scale_dep, "Deployment name")->required();
  v.scale_cmd->add_option("replicas", v.scale_replicas, "Number of replicas")
      ->required()
      ->check(IntIn(0, config::kMaxPods));
  v.scale_cmd->add_option("-c,--cluster", v.scale_cluster, kClusterFlag);
  v.scale_cmd->footer(
      "New pods are <deployment>-<i> on the least loaded node; scaling down removes the newest "
      "first.\n"
      "Pods removed are handled as by kill (proxy_mode = \"ebpf\": the sockets connected to them "
      "are destroyed).");

  v.resync_cmd = app.add_subcommand(
      "resync",
      "proxy_mode = \"nftables\" or \"ebpf\": compare each node's table with a full sync; "
      "rewrite those that differ");
  v.resync_cmd->add_flag("--check", v.resync_check,
                         "Only compare: print the differences, change nothing (exit 1 if any)");
  v.resync_cmd->add_option("-c,--cluster", v.resync_cluster, kClusterFlag);
  v.resync_cmd->footer(
      "After up, a kill or scale writes only what it changes: a delta, one nft transaction per "
      "node.\n"
      "resync lists each node's table, loads a full sync of the spec in a scratch namespace, and "
      "compares the\n"
      "two (element order, counters and affinity entries aside). A node that differs (an nft "
      "command typed by\n"
      "hand) gets the full sync, in one transaction; a node in sync is left alone, its counters, "
      "round-robin\n"
      "positions and affinity entries kept. Every transaction is in <state "
      "dir>/logs/nftables.log.\n"
      "Exit codes: 0 in sync or repaired, 1 --check found differences (or a failure), 2 bad "
      "usage.");

  v.bgp_cmd = app.add_subcommand(
      "bgp", "Show the BGP sessions of a network = \"bgp\" lab's speakers (and one's routes)");
  v.bgp_cmd->add_option("speaker", v.bgp_speaker,
                        "A node, tor-<rack> or spine: its sessions and the routes of its table "
                        "(default: every speaker's sessions)");
  v.bgp_cmd->add_option("-c,--cluster", v.bgp_cluster, kClusterFlag);
  v.bgp_cmd->add_option("-o,--output", v.bgp_output, "table or json")
      ->check(OneOf({"table", "json"}));
  v.bgp_cmd->footer(
      "Each speaker is a BIRD daemon in its namespace, asked over its control socket\n"
      "(/run/minikube-net/<cluster>/bird/<speaker>.ctl): per session the peer, its address and "
      "AS, the BGP\n"
      "state (Established once up), how long it has been in it, and the prefixes received and "
      "exported.\n"
      "Examples:\n  minikube-net bgp\n  minikube-net bgp tor-r1          # its sessions and "
      "routes\n"
      "  minikube-net bgp node1 -o json\n"
      "  minikube-net exec tor-r1 -- birdc -s /run/minikube-net/bgp/bird/tor-r1.ctl show route\n"
      "A speaker that does not answer (stopped, exited) is shown with its error. Exit codes: 0 "
      "ok, 1 the\n"
      "lab runs no speakers, its process is gone, or missing privileges, 2 an unknown (or empty) "
      "speaker or\nbad usage.");

  v.logs_cmd = app.add_subcommand(
      "logs", "Print the logs of a pod's containers (or `logs ingress`: the edge's access log)");
  v.logs_cmd->add_option("pod", v.logs_pod, "Pod name")->required();
  v.logs_cmd->add_option("-c,--cluster", v.logs_cluster, kClusterFlag);
  return owned;
}

std::optional<int> RunClusterVerbs(const ClusterVerbs& v,
                                   const std::vector<std::string>& after_dashes) {
  if (*v.check_cmd) return RunCheckCommand(v.check_flags);
  if (*v.get_cmd)
    return RunGet(v.get_what, v.get_name, v.get_cluster, v.get_output, v.get_ns, v.get_all);
  if (*v.conntrack_cmd) {
    return AskAndPrint(v.ct_cluster, control::ConntrackRequest{v.ct_node},
                       v.ct_output == "json" ? control::ConntrackJson : control::ConntrackTable);
  }
  if (*v.kill_cmd)
    return AskAndPrint(v.kill_cluster, control::KillRequest{v.kill_pod}, control::KillText);
  if (*v.scale_cmd) {
    const control::ScaleRequest request{v.scale_dep, v.scale_replicas};
    return AskAndPrint(v.scale_cluster, request,
                       [&](const control::ScaleAnswer&) { return control::ScaleText(request); });
  }
  if (*v.exec_cmd_app) {
    std::vector<std::string> cmd = v.exec_cmd_app->remaining();
    cmd.insert(cmd.end(), after_dashes.begin(), after_dashes.end());
    return RunExec(v.exec_pod, v.exec_cluster, cmd);
  }
  if (*v.resync_cmd) {
    absl::StatusOr<control::ResyncAnswer> a =
        vnet::Ask(v.resync_cluster, control::ResyncRequest{v.resync_check});
    if (!a.ok()) return Exit(a.status());
    std::cout << control::ResyncText(*a);
    bool differ = false;
    for (const control::NodeResync& n : a->nodes) differ |= !n.differences.empty();
    return v.resync_check && differ ? kExitFailure : kExitOk;
  }
  if (*v.logs_cmd) return RunLogs(v.logs_pod, v.logs_cluster);
  if (*v.bgp_cmd) {
    return RunBgp(v.bgp_speaker, v.bgp_cmd->get_option("speaker")->count() > 0, v.bgp_cluster,
                  v.bgp_output);
  }
  return std::nullopt;
}

}  // namespace mkn
