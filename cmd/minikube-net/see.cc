#include "cmd/minikube-net/see.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "cmd/minikube-net/common.h"
#include "lib/capture/promisc.h"
#include "lib/control/usage.h"
#include "lib/graph/graph.h"
#include "lib/strings/str_cat.h"
#include "vnet/capture/capture.h"
#include "vnet/cluster/client.h"
#include "vnet/cluster/lab.h"
#include "vnet/cluster/session.h"
#include "vnet/graph/graph.h"

namespace mkn {

CLI::App* AddCaptureCommand(CLI::App& app, CaptureFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "capture",
      "Capture on many interfaces in many namespaces of a running lab into one pcapng file");
  cmd->add_option(
      "targets", f.targets,
      "What to listen on: a pod, a node, a router of a racks lab (tor-<rack>, spine), "
      "`underlay` (the lab's physical network: its switch, or every ToR and the spine), "
      "or OBJECT:IFACE (default: every namespace of the lab; each interface but lo)");
  cmd->add_option("-c,--cluster", f.cluster,
                  "Cluster name (default: $MKN_CLUSTER, else the only cluster up)");
  cmd->add_option("-w,--write", f.output,
                  "The pcapng file to write; - for standard output (the default when it is not "
                  "a terminal)");
  cmd->add_option(
      "-f,--filter", f.filter,
      "A capture filter in tcpdump's syntax (pcap-filter(7)), e.g. \"icmp or port 80\"");
  cmd->add_option("--duration", f.duration,
                  "Stop after this long: seconds (10, 0.5) or a duration (1m30s)");
  cmd->add_option("--count", f.count, "Stop after this many packets (all interfaces together)")
      ->check(IntIn(1, int64_t{1} << 40));
  cmd->add_option("-s,--snaplen", f.snaplen,
                  "Bytes kept of each packet (default 262144, tcpdump's: whole packets)")
      ->check(IntIn(64, 262144));
  // The duplicates are the kernel's (br_netfilter's DNAT on a bridge that passes every frame up
  // because it is promiscuous), measured in the sandbox: the README's capture section has the
  // counts. lib/capture/promisc decides which bridges are spared.
  cmd->add_flag(
      "-p,--no-promiscuous", f.no_promiscuous,
      "Put no interface in promiscuous mode (tcpdump's -p): a bridge (br0, cbr0) then shows only "
      "what is for or from itself, not the frames it forwards. Without -p a bridge is left "
      "non-promiscuous anyway when all its ports are captured too (everything, a whole node): "
      "they show each frame it forwards, and a promiscuous cbr0 where the node's nftables rules "
      "translate (proxy_mode nftables; NodePorts in ebpf mode; CNI labs) would hand each "
      "translated frame to the node's stack, which delivers it to a pod of that node a second "
      "time. A bridge captured without its ports (node1:cbr0) is made promiscuous, with a "
      "warning: -p avoids the duplicates there");
  cmd->footer(
      "Each interface is one Interface Description Block named as its TARGET (web-0:eth0, "
      "node1:cbr0,\n"
      "underlay:br0, tor-r1:spine) with a description of where it is (netns, addresses); each "
      "packet carries\n"
      "its direction and kernel timestamp. Interfaces are promiscuous while captured, as with "
      "tcpdump, except a\n"
      "bridge whose ports are all captured too (the opening line names it): its ports show what it "
      "forwards.\n"
      "A bridge captured without them (node1:cbr0, underlay:br0) is promiscuous and shows the "
      "frames it\n"
      "forwards (see -p). In a racks lab (racks >= 2 or network = \"bgp\") "
      "there is no\n"
      "underlay namespace: `underlay` is every ToR and the spine, underlay:NODE that node's port "
      "in its\n"
      "rack's ToR, underlay:br0 every rack's bridge, underlay:tor-R the spine's port to that ToR. "
      "Ctrl-C,\n"
      "--duration or --count end the capture; the file is then closed whole, with each interface's "
      "kernel\n"
      "counters (received, dropped), which are also printed.\n"
      "Examples:\n"
      "  minikube-net capture -w all.pcapng --duration 10\n"
      "  minikube-net capture web-0 node1 -f icmp -w - | tshark -r -\n"
      "  minikube-net capture underlay:node1 -f 'udp port 4789 or udp port 6081 or tcp port 179' "
      "--count 20 -w node1.pcapng\n"
      "      # node1's wire: its VXLAN or Geneve tunnel, or its BGP session, on any lab shape\n"
      "  minikube-net capture tor-r1 spine -f icmp -w - | tshark -r - -T fields -e "
      "frame.interface_name -e ip.ttl\n"
      "  minikube-net capture -w - | wireshark -k -i -\n"
      "Exit codes: 0 captured, 1 runtime failure or missing privileges, 2 bad usage, target or "
      "filter.");
  return cmd;
}

absl::Status RunCaptureCommand(const CaptureFlags& f) {
  vnet::CaptureOptions o;
  o.targets = f.targets;
  o.filter = f.filter;
  o.snaplen = static_cast<uint32_t>(f.snaplen);
  o.promiscuous = !f.no_promiscuous;
  o.count = static_cast<uint64_t>(f.count);
  o.output = f.output.empty() ? "-" : f.output;
  if (!f.duration.empty()) {
    absl::Duration d;
    double seconds = 0;
    if (absl::SimpleAtod(f.duration, &seconds)) {
      d = absl::Seconds(seconds);
    } else if (!absl::ParseDuration(f.duration, &d)) {
      return absl::InvalidArgumentError(StrCat("capture: --duration ", f.duration,
                                               ": say seconds (10, 0.5) or a duration (1m30s)"));
    }
    // nan, inf and 1e400 parse as numbers (absl::Seconds makes them infinite): a capture the
    // flag was meant to bound would run until Ctrl-C.
    if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration())
      return absl::InvalidArgumentError(
          StrCat("capture: --duration must be more than 0 and finite, not ", f.duration));
    o.duration = d;
  }
  if (o.output == "-" && ::isatty(STDOUT_FILENO)) {
    return absl::InvalidArgumentError(
        "capture: standard output is a terminal: write a file (-w FILE.pcapng) or into a pipe "
        "(-w - | tshark -r -)");
  }
  MKN_RETURN_IF_ERROR(CheckOutputFile("capture: -w", o.output));
  MKN_RETURN_IF_ERROR(vnet::CheckPrivileges("open packet sockets in the lab's namespaces"));
  // Before any thread exists: every thread the capture makes inherits the blocked signals, and
  // Ctrl-C reaches the loop through this fd.
  MKN_ASSIGN_OR_RETURN(vnet::Fd stop, vnet::StopSignalFd());
  o.stop_fd = stop.get();
  MKN_ASSIGN_OR_RETURN(vnet::ClusterState s, vnet::PickCluster(f.cluster));
  o.on_open = [&](const std::vector<vnet::OpenInterface>& ifs,
                  const std::vector<std::string>& skipped) {
    for (const std::string& sk : skipped)
      std::cerr << "minikube-net: capture: skipped " << sk << "\n";
    std::string names, spared;
    std::vector<std::string> alone;
    size_t n_spared = 0;
    for (const vnet::OpenInterface& i : ifs) {
      StrAppend(&names, names.empty() ? "" : " ", i.idb.name);
      if (i.promiscuity == capture::Promiscuity::kBridgeSpared) {
        StrAppend(&spared, spared.empty() ? "" : " ", i.idb.name);
        ++n_spared;
      }
      if (i.promiscuity == capture::Promiscuity::kBridgeAlone) alone.push_back(i.idb.name);
    }
    if (!alone.empty()) std::cerr << capture::BridgeAloneWarning(alone) << "\n";
    std::cerr << "minikube-net: capturing on " << ifs.size()
              << (ifs.size() == 1 ? " interface" : " interfaces") << " of cluster " << s.cluster
              << " (" << names
              << (spared.empty()
                      ? ""
                      : StrCat("; ", n_spared == 1 ? "bridge " : "bridges ", spared,
                               " left non-promiscuous: ", n_spared == 1 ? "its" : "their",
                               " ports are captured"))
              << ")" << (f.filter.empty() ? "" : StrCat(", filter \"", f.filter, "\""))
              << (f.no_promiscuous ? ", not promiscuous" : "") << " into "
              << (o.output == "-" ? "standard output" : o.output) << "; Ctrl-C stops\n";
  };
  absl::StatusOr<vnet::CaptureSummary> sum = vnet::RunCapture(s, o);
  if (!sum.ok()) return sum.status();
  std::cerr << vnet::SummaryText(*sum);
  return absl::OkStatus();
}

CLI::App* AddGraphCommand(CLI::App& app, GraphFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "graph",
      "Draw a lab: underlay or racks (ToRs, spine), nodes, bridges, tunnels, pods, Services, the "
      "edge (DOT, Mermaid, SVG)");
  cmd->add_option("lab", f.target,
                  "A lab file (no `up` needed), or a running cluster's name (then with its live "
                  "pods and endpoints); default: the only cluster up");
  cmd->add_option("-c,--cluster", f.cluster, kClusterFlag);
  cmd->add_option("-o,--output", f.output,
                  "dot (Graphviz), mermaid (for Markdown) or svg (rendered by Graphviz's dot)")
      ->check(OneOf({"dot", "mermaid", "svg"}));
  cmd->footer(
      "Link ends are labelled with the interface and address on each side; a node is a box with "
      "its routes,\n"
      "cbr0, vxlan0 or gnv0 and pods; a racks lab's nodes hang off their rack's ToR (its br0), "
      "the ToRs off\n"
      "the spine, with the routes BGP learned; Services point at their endpoints, the edge's "
      "listeners at\n"
      "Services by route.\n"
      "Examples:\n"
      "  minikube-net graph examples/quickstart/lab.toml -o svg > lab.svg\n"
      "  minikube-net graph examples/ingress/lab.toml -o mermaid   # paste into Markdown\n"
      "  minikube-net graph quickstart | dot -Tpng > lab.png      # a running cluster, live\n"
      "Exit codes: 0 drawn, 1 dot failed or the cluster's state did not read, 2 bad lab or "
      "usage.");
  return cmd;
}

absl::Status RunGraphCommand(GraphFlags f) {
  MKN_ASSIGN_OR_RETURN(f.target, OneClusterWord("graph", f.target, f.cluster));
  graph::Graph g;
  if (!f.target.empty() && vnet::NamesALabFile(f.target)) {
    MKN_ASSIGN_OR_RETURN(vnet::LabFile lab, vnet::LoadLab(f.target));
    std::cerr << lab.report;
    if (!lab.spec) return absl::InvalidArgumentError(StrCat("graph: ", f.target, " does not load"));
    g = graph::BuildGraph(*lab.spec);
  } else {
    MKN_ASSIGN_OR_RETURN(vnet::ClusterState s, vnet::PickCluster(f.target));
    absl::StatusOr<vnet::LabFile> lab = vnet::LoadLab(s.lab);
    if (!lab.ok() || !lab->spec) {
      return absl::FailedPreconditionError(
          StrCat("graph ", s.cluster, ": its lab file ", s.lab, " no longer loads"));
    }
    const graph::LiveState live = vnet::LiveStateOf(s);
    g = graph::BuildGraph(*lab->spec, &live);
  }
  if (f.output == "mermaid") {
    std::cout << graph::RenderMermaid(g);
  } else if (f.output == "svg") {
    MKN_ASSIGN_OR_RETURN(std::string svg, vnet::RenderSvg(graph::RenderDot(g)));
    std::cout << svg;
  } else {
    std::cout << graph::RenderDot(g);
  }
  return absl::OkStatus();
}

}  // namespace mkn
