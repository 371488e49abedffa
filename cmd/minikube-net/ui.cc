#include "cmd/minikube-net/ui.h"

#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string_view>

#include "cmd/minikube-net/common.h"
#include "lib/control/usage.h"
#include "lib/strings/str_cat.h"
#include "lib/ui/dashboard.h"
#include "vnet/cluster/client.h"
#include "vnet/kernel/process.h"
#include "vnet/ui/server.h"
#include "vnet/ui/sources.h"

namespace mkn {
namespace {

constexpr const char* kWhatItShows =
    "The page shows the lab as a graph (Graphviz's SVG: nodes, bridges, tunnels, pods, Services, "
    "the edge),\n"
    "the Services with their endpoints and counters (what `get svc` prints), the edge's routes "
    "and\n"
    "listeners (`get routes`), the conntrack flows (`conntrack`) and the recent traces; it "
    "updates live\n"
    "(server-sent events, at most every 500 ms while something changes). Its trace form runs "
    "`trace SRC DST`\n"
    "and draws the hops on the graph. It listens on 127.0.0.1 only and answers only as "
    "127.0.0.1 or\n"
    "localhost.\n"
    "In ci/sandbox.sh (its own network namespace: a browser on the host cannot reach its "
    "loopback), forward\n"
    "a host port into it, on the host as root, one sandbox join per connection (CLUSTER: the "
    "sandbox's cluster):\n"
    "  socat TCP-LISTEN:8088,bind=127.0.0.1,reuseaddr,fork \\\n"
    "    EXEC:'ci/sandbox.sh --join CLUSTER -- socat - TCP\\:127.0.0.1\\:8088'\n"
    "then open http://127.0.0.1:8088/ in the host's browser (Ctrl-C stops socat). From another "
    "machine, add\n"
    "ssh -L 8088:127.0.0.1:8088 HOST on top. Without a browser: chromium --headless inside the "
    "sandbox, or curl.\n"
    "Everything it loads is served by the binary: no CDN.\n";

absl::StatusOr<int> PortOf(const std::string& text) {
  absl::StatusOr<int64_t> v = control::ParseIntIn(text, 0, 65535);
  if (!v.ok()) return v.status();
  return static_cast<int>(*v);
}

absl::StatusOr<std::unique_ptr<vnet::UiServer>> Serve(const std::string& cluster, int port) {
  MKN_ASSIGN_OR_RETURN(vnet::UiSources sources, vnet::ClusterSources(cluster));
  vnet::UiOptions o;
  o.port = port;
  o.sources = std::move(sources);
  return vnet::UiServer::Start(std::move(o));
}

// A port taken (AlreadyExists: EADDRINUSE): the message with what to do (lib/ui's hint), naming
// the cluster whose `up --ui` holds it when one does (its state's "ui"). Other errors unchanged.
absl::Status WithPortHint(const absl::Status& s, int port, std::string_view flag) {
  if (!absl::IsAlreadyExists(s)) return s;
  std::string holder;
  const std::string url = StrCat("http://127.0.0.1:", port, "/");
  for (const std::string& name : vnet::ListClusters()) {
    absl::StatusOr<vnet::ClusterState> st = vnet::ReadState(name);
    if (st.ok() && st->ui == url) holder = name;
  }
  return absl::Status(s.code(), StrCat(s.message(), ": ", ui::PortTakenHint(port, flag, holder)));
}

// In ci/sandbox.sh (MKN_IN_SANDBOX=1) the loopback is the sandbox's own: how a browser on the host
// gets there, as a line to copy. "" outside a sandbox.
std::string SandboxHint(const std::string& cluster, const vnet::UiServer& s) {
  const char* in = std::getenv("MKN_IN_SANDBOX");
  if (in == nullptr || std::string_view(in) != "1") return "";
  // The wrapper as the user types it: ci/sandbox.sh in a checkout, minikube-net-sandbox installed.
  const std::string sandbox = vnet::HowToRunHere().sandbox;
  return StrCat("dashboard from the host's browser: run there (as root",
                sandbox == "ci/sandbox.sh" ? ", in this checkout" : "", ") socat ",
                "TCP-LISTEN:", s.port(), ",bind=127.0.0.1,reuseaddr,fork EXEC:'", sandbox,
                " --join ", cluster, " -- socat - TCP\\:127.0.0.1\\:", s.port(),
                "' (see ui --help)\n");
}

}  // namespace

void AddUpUiOption(CLI::App* up, UpUiFlags& f) {
  f.option =
      up->add_option("--ui")
          ->description(StrCat("Serve the live dashboard on 127.0.0.1:PORT once ready "
                               "(PORT default ",
                               ui::kDefaultPort,
                               "; 0: any free port); the URL is printed, and is status -o "
                               "json's \"ui\""))
          ->expected(0, 1)
          ->type_name("[PORT]")
          ->check(CLI::Validator(
              [](std::string& text) {
                absl::StatusOr<int> p = PortOf(text);
                return p.ok() ? std::string()
                              : StrCat("--ui takes a PORT 0..65535, not \"", text,
                                       "\" (put the lab first: minikube-net up LAB --ui [PORT])");
              },
              ""));
}

std::function<absl::StatusOr<vnet::SessionOptions::Served>(const vnet::ClusterState&,
                                                           std::ostream&)>
UpServe(const UpUiFlags& f) {
  if (f.option == nullptr || f.option->count() == 0) return nullptr;
  int port = ui::kDefaultPort;
  if (!f.option->results().empty()) {
    absl::StatusOr<int> p = PortOf(f.option->results().front());
    if (p.ok()) port = *p;
  }
  return [port](const vnet::ClusterState& st,
                std::ostream& out) -> absl::StatusOr<vnet::SessionOptions::Served> {
    absl::StatusOr<std::unique_ptr<vnet::UiServer>> s = Serve(st.cluster, port);
    if (!s.ok()) {
      const absl::Status hinted = WithPortHint(s.status(), port, "--ui");
      return absl::Status(hinted.code(), StrCat("--ui: ", hinted.message()));
    }
    out << "dashboard: " << (*s)->Url() << "\n";
    out << SandboxHint(st.cluster, **s);
    vnet::SessionOptions::Served served;
    served.url = (*s)->Url();
    served.handle = std::shared_ptr<void>(std::move(*s));
    return served;
  };
}

CLI::App* AddUiCommand(CLI::App& app, UiFlags& f) {
  f.port = ui::kDefaultPort;
  CLI::App* cmd = app.add_subcommand(
      "ui", "Serve the live dashboard of a running cluster on 127.0.0.1 until Ctrl-C");
  cmd->add_option("cluster", f.cluster,
                  "Cluster name (default: $MKN_CLUSTER, else the only cluster up)");
  cmd->add_option("-c,--cluster", f.cluster_flag, kClusterFlag);
  cmd->add_option("-p,--port", f.port,
                  StrCat("Port on 127.0.0.1 (default ", ui::kDefaultPort, "; 0: any free port)"))
      ->check(CLI::Validator(
          [](std::string& text) {
            absl::StatusOr<int> p = PortOf(text);
            return p.ok() ? std::string() : std::string(p.status().message());
          },
          "0..65535"));
  cmd->footer(StrCat(
      kWhatItShows,
      "This process asks the cluster's owner over its control socket, as `get svc` does; `up LAB "
      "--ui`\n"
      "serves the same page from the owner itself. Ctrl-C (or SIGTERM) stops the dashboard, not "
      "the cluster.\n"
      "Examples:\n"
      "  minikube-net ui                         # the only cluster up, http://127.0.0.1:",
      ui::kDefaultPort,
      "/\n"
      "  minikube-net ui quickstart --port 9000\n"
      "  minikube-net up examples/services/lab.toml --ui      # the owner serves it\n"
      "  curl -s http://127.0.0.1:",
      ui::kDefaultPort,
      "/api/state | jq .services   # the snapshot as JSON\n"
      "Exit codes: 0 stopped by a signal, 1 runtime failure (the port in use: the message names "
      "the cluster\n"
      "whose up --ui holds it, and how to pick another: --port N, or --port 0 for any free one; "
      "the cluster gone) or missing\n"
      "privileges, 2 bad usage or an unknown cluster."));
  return cmd;
}

absl::Status RunUiCommand(const UiFlags& f) {
  MKN_RETURN_IF_ERROR(vnet::CheckPrivileges("ask the cluster's owner and run traces in the lab"));
  // Before any thread: the server's threads inherit the mask, so the signals wait for us here.
  const sigset_t stop = vnet::BlockStopSignals();
  MKN_ASSIGN_OR_RETURN(std::string cluster, OneClusterWord("ui", f.cluster, f.cluster_flag));
  MKN_ASSIGN_OR_RETURN(vnet::ClusterState s, vnet::PickCluster(cluster));
  absl::StatusOr<std::unique_ptr<vnet::UiServer>> server = Serve(s.cluster, f.port);
  if (!server.ok()) {
    // The server's messages start with "ui: " (said once, not "ui svc: ui: listen ...").
    const absl::Status hinted = WithPortHint(server.status(), f.port, "--port");
    std::string why(hinted.message());
    if (why.rfind("ui: ", 0) == 0) why.erase(0, 4);
    return absl::Status(hinted.code(), StrCat("ui ", s.cluster, ": ", why));
  }
  std::cout << "dashboard of cluster " << s.cluster << ": " << (*server)->Url()
            << " (Ctrl-C stops it; the cluster stays)\n"
            << SandboxHint(s.cluster, **server) << std::flush;
  siginfo_t info;
  while (sigwaitinfo(&stop, &info) < 0) {
  }
  (*server)->Stop();
  std::cerr << "dashboard of cluster " << s.cluster << " stopped\n";
  return absl::OkStatus();
}

}  // namespace mkn
