#include "cmd/minikube-net/trace.h"

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "absl/time/time.h"
#include "cmd/minikube-net/common.h"
#include "lib/strings/str_cat.h"
#include "lib/trace/trace.h"
#include "vnet/capture/sockets.h"
#include "vnet/cluster/client.h"
#include "vnet/cluster/lab.h"
#include "vnet/cluster/session.h"
#include "vnet/kernel/process.h"
#include "vnet/trace/trace.h"

namespace mkn {

CLI::App* AddTraceCommand(CLI::App& app, TraceFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "trace",
      "Follow one real, marked packet hop by hop (and its reply), where the lab says it must "
      "pass");
  cmd->add_option("src", f.src,
                  "Where the probe starts: a pod, a node (from its own stack), underlay (the "
                  "flat underlay's br0; in a racks lab the ToR of DST's rack), or host (the "
                  "namespace trace runs in, where the edge listens: DST an edge URL)")
      ->required();
  cmd->add_option("dst", f.dst,
                  "Where it goes: a pod, a node, a pod's or node's IP, a ClusterIP or svc/NAME, "
                  "each with :PORT for TCP/UDP (a Service's first port by default; svc/NAME:PORT "
                  "also by the port's name, svc/web:http); NODE:PORT is a NodePort (node1:30080); "
                  "the world outside ([cluster] world: world, a name such as example.test, or its "
                  "address; from a pod or a node); from host, an edge URL http://HOST[:PORT]/PATH")
      ->required();
  cmd->add_option("--proto", f.proto,
                  "icmp (an echo request; the default to a pod), tcp (a real connection: SYN "
                  "and SYN-ACK) or udp (a datagram and its echo); a Service's own by default")
      ->check(CLI::IsMember({"tcp", "udp", "icmp"}));
  cmd->add_option("-o,--output", f.output, "table (one line per hop) or json")
      ->check(CLI::IsMember({"table", "json"}));
  cmd->add_option("--pcap", f.pcap,
                  "Also write every copy seen into this pcapng file, one interface block per "
                  "namespace/interface, each matched copy with its hop as a comment");
  cmd->add_option("-c,--cluster", f.cluster,
                  "Cluster name (default: $MKN_CLUSTER, else the only cluster up)");
  cmd->add_option("--timeout", f.timeout_s,
                  "Seconds to wait for hops that have not seen the probe (default 2)")
      ->check(CLI::Validator(
          [](std::string& text) {
            // Said as a person would, not CLI11's "Value 0 not in range 0.050000 to 60.000000".
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (end != text.c_str() && *end == '\0' && v >= 0.05 && v <= 60) return std::string();
            return StrCat(
                "seconds from 0.05 to 60 (how long to wait for the hops "
                "that have not seen the probe), not \"",
                text, "\"");
          },
          "0.05..60"));
  cmd->add_flag("--dry-run", f.dry_run,
                "Print the predicted hops and each hop's capture filter; send nothing");
  cmd->footer(
      "The path is predicted from the lab (network and proxy mode: pod eth0, host veth, cbr0, "
      "vxlan0, gnv0 or\n"
      "the uplink, the underlay bridge's ports or a racks lab's ToR and spine routers, the "
      "Service's translation\n"
      "point: the proxy TUN, the nft DNAT or the ebpf mode's connect4 hook in the client's "
      "socket, the backend),\n"
      "then proved: packet sockets in every namespace on the way, one probe, each copy matched to "
      "its hop. Each\n"
      "line shows the packet as seen there (the ClusterIP -> pod rewrite, the VXLAN outer header) "
      "and why it went\n"
      "on (the route the kernel or a router looked up there, BIRD's marked proto bird; the "
      "conntrack entry of the\n"
      "DNAT; what connect4 rewrote). A hop that should have seen it and did not is MISSING, and "
      "the last hop that\n"
      "did is named.\n"
      "Examples:\n"
      "  minikube-net trace client web-1                 # ICMP echo, pod to pod\n"
      "  minikube-net trace client svc/web               # a TCP connection through the Service\n"
      "  minikube-net trace client svc/web:http          # its port by name, as kubectl "
      "port-forward\n"
      "  minikube-net trace client 10.96.0.53:53 --proto udp -o json\n"
      "  minikube-net trace client web-1 --pcap trace.pcapng && tshark -r trace.pcapng\n"
      "  minikube-net trace node1 web-1                  # from a node's own stack\n"
      "  minikube-net trace node1 svc/web                # a node's own connection to a Service\n"
      "  minikube-net trace underlay node2:30080         # a NodePort from the underlay\n"
      "  minikube-net trace node1 web-4                  # CNI lab: from the node's own stack\n"
      "  minikube-net trace client www.example.test:80   # to the world, masqueraded by node1\n"
      "  minikube-net trace host http://web.lab.test:8080/   # an HTTP request through the edge\n"
      "The edge (SRC host, DST http://HOST[:PORT]/PATH: HOST a name is sent as Host to the "
      "listener on PORT, an\n"
      "address picks the listener): a real HTTP request carrying an X-Mkn-Trace marker, seen on "
      "the caller's lo,\n"
      "then the edge (its route and backend from its access log, which logs the marker), the "
      "upstream from the\n"
      "listener's node as that node's own connection (pooled: its copies are matched by the "
      "marker in their\n"
      "payload), and back. The edge answering itself (404, 502, 503, 504) is where it died: exit "
      "1 naming it.\n"
      "https:// URLs are refused (exit 2): the marker would be inside TLS; trace the route over "
      "an http listener.\n"
      "A node's own connection to a ClusterIP (or to its own NodePort) leaves from cbr0's address "
      "and is\n"
      "translated in the nat output hook (nftables; ebpf too: the node's stack is not in the "
      "cluster's cgroup, so\n"
      "its nftables table serves it), the answer un-translated on input, which the probe's socket "
      "proves; in\n"
      "userspace mode it is routed into the proxy TUN from eth0's address. The underlay has no "
      "route to a ClusterIP.\n"
      "The world ([cluster] world; DST world, world:PORT, example.test, www.example.test, "
      "echo.example.test or\n"
      "their addresses: http-echo :80, tcp-echo :7, udp-echo :7, DNS :53): a pod's packet is "
      "routed by its node\n"
      "(its default route), masqueraded to the node's address (table ip mkn-egress: the rule's "
      "counter and the\n"
      "flow's conntrack entry are the reason), leaves the uplink with that address, is routed by "
      "the underlay side\n"
      "(the flat underlay's br0, a racks lab's ToR and spine) to the world's eth0; the answer is "
      "un-SNATed in the\n"
      "node. A lab with world = false says so (exit 2).\n"
      "CNI labs (network = \"cni\"): from a pod, a node or the underlay to a pod, a ClusterIP "
      "or a NodePort (and\n"
      "from a node or the underlay to a node). The ends' own interfaces are predicted (a pod's as "
      "its chain named\n"
      "it; a node's or the underlay's, the device its kernel routes DST to, from the source it "
      "picks: ip route get),\n"
      "and the nft translation (a ClusterIP's DNAT in the client's node; a NodePort's DNAT and "
      "masquerade in its\n"
      "node), proved by its conntrack entry; every interface of the ends', the endpoints' and "
      "their nodes'\n"
      "namespaces is sniffed, and the hops are shown in the order they saw the probe. The "
      "underlay reaches a pod\n"
      "only where its kernel has a route to it: else refused (exit 2) with ip route get's "
      "answer. From host,\n"
      "an edge URL, as in any lab (the upstream from the source the listener's node's kernel "
      "picks).\n"
      "Not traced yet (exit 2, a clear error): an https URL.\n"
      "A pod to itself is refused (exit 2): the packet goes over lo. A backend that picks itself "
      "through a Service\n"
      "is traced (nftables: masqueraded to cbr0's address; ebpf: over its lo).\n"
      "Verdicts (the last line; -o json's \"verdict\") and exit codes:\n"
      "  0 ok            every hop saw the probe and its answer\n"
      "  1 lost          a hop did not see it: the line names the last hop that did, and the "
      "NetworkPolicy that\n"
      "                  dropped it when a node's policy counters moved (\"dropped by "
      "NetworkPolicy x/deny (ingress of\n"
      "                  x/a)\"); 1 also when trace could not\n"
      "                  run: no privileges, no cluster up; -o json's verdict is then \"error\")\n"
      "  2 error         bad usage or name, or a kind not traced yet (-o json prints {\"verdict\": "
      "\"error\", ...})\n"
      "  3 refused       it got there and the destination refused it (a TCP RST, an ICMP "
      "unreachable): the path\n"
      "                  works, nothing listens on that port (check's \"refused\")\n"
      "  4 no endpoints  a Service without endpoints: nothing is sent (kube-proxy would reset "
      "it)\n"
      "  130             Ctrl-C (143: SIGTERM) ended the wait before every hop saw it: the hops "
      "seen so far, the\n"
      "                  verdict \"lost\" (\"interrupted ...\") and the --pcap are still "
      "written");
  return cmd;
}

namespace {

// The stop signal that ended a trace's wait (exit 128 + it, as a shell reports it).
int stopped_by = SIGINT;

absl::StatusOr<vnet::TraceResult> Trace(const TraceFlags& f) {
  MKN_ASSIGN_OR_RETURN(vnet::ClusterState s, vnet::PickCluster(f.cluster));
  absl::StatusOr<vnet::LabFile> lab = vnet::LoadLab(s.lab);
  if (!lab.ok() || !lab->spec) {
    return absl::FailedPreconditionError(
        StrCat("trace ", s.cluster, ": its lab file ", s.lab, " no longer loads"));
  }
  // The policies `apply` and `delete netpol` changed: trace names the one that drops a probe.
  MKN_RETURN_IF_ERROR(vnet::WithLivePolicies(s, *lab->spec));
  // The pods where kill and scale left them, not where the lab file put them.
  MKN_RETURN_IF_ERROR(vnet::WithLivePods(s, *lab->spec));
  if (f.dry_run) {
    MKN_ASSIGN_OR_RETURN(trace::Request r, trace::ParseRequest(*lab->spec, f.src, f.dst, f.proto));
    vnet::TraceResult res;
    MKN_ASSIGN_OR_RETURN(res.path, trace::PredictPath(*lab->spec, r));
    return res;
  }
  MKN_RETURN_IF_ERROR(CheckOutputFile("trace: --pcap", f.pcap));
  MKN_RETURN_IF_ERROR(vnet::CheckPrivileges("send a probe and sniff in the lab's namespaces"));
  vnet::TraceOptions o;
  o.src = f.src;
  o.dst = f.dst;
  o.proto = f.proto;
  o.pcap = f.pcap;
  o.timeout = absl::Seconds(f.timeout_s);
  // Ctrl-C (SIGTERM, SIGHUP) while the probe is awaited ends the wait: the hops seen so far and
  // the verdict are printed, the --pcap written, as capture closes its file whole. The signals
  // are blocked for the run only (no thread exists yet: RunInNetns's inherit the mask); once the
  // wait is over, the one taken is drained and the next ends the process as before.
  MKN_ASSIGN_OR_RETURN(vnet::Fd stop, vnet::StopSignalFd());
  auto release = [&stop] {
    if (!stop.valid()) return;
    signalfd_siginfo si;
    while (::read(stop.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si))
      stopped_by = static_cast<int>(si.ssi_signo);
    const sigset_t set = vnet::StopSignals();
    ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    stop = vnet::Fd();
  };
  o.stop_fd = stop.get();
  o.end_of_wait = release;
  absl::StatusOr<vnet::TraceResult> r = vnet::RunTrace(s, *lab->spec, o);
  release();
  return r;
}

}  // namespace

int RunTraceCommand(const TraceFlags& f) {
  absl::StatusOr<vnet::TraceResult> r = Trace(f);
  if (!r.ok()) {
    const std::string message(r.status().message());
    // A Service without endpoints is an answer about the lab, not a failure of trace: kube-proxy
    // would reset the connection, and check calls it refused.
    const bool no_endpoints = absl::IsFailedPrecondition(r.status()) &&
                              message.find("has no endpoints") != std::string::npos;
    const std::string_view verdict =
        no_endpoints ? trace::kVerdictNoEndpoints : trace::kVerdictError;
    if (f.output == "json") std::cout << trace::RenderJsonError(f.src, f.dst, verdict, message);
    if (no_endpoints) {
      Notice(StrCat(message, " (no pod matches its selector; a connection to it is reset)"));
      return kExitTraceNoEndpoints;
    }
    // Not traced yet is a limit of trace, like a usage error: never "the network lost it".
    if (absl::IsUnimplemented(r.status())) {
      Notice(message);
      return kExitBadInput;
    }
    return Exit(r.status());
  }
  if (f.dry_run) {
    std::cout << (f.output == "json" ? trace::RenderPredictionJson(r->path)
                                     : trace::RenderPrediction(r->path));
    return kExitOk;
  }
  if (f.output == "json") {
    std::cout << trace::RenderJson(r->path, r->seen, r->verdict);
  } else {
    std::cout << trace::RenderTable(r->path, r->seen, r->verdict);
  }
  // Cut short by Ctrl-C: 130 (SIGTERM 143), as a shell reports a command the signal ended.
  if (r->interrupted && !r->verdict.ok) return 128 + stopped_by;
  if (r->verdict.refused) return kExitTraceRefused;
  return r->verdict.ok ? kExitOk : kExitFailure;
}

}  // namespace mkn
