#include "cmd/minikube-net/trace.h"

#include <iostream>

#include "absl/time/time.h"
#include "lib/strings/str_cat.h"
#include "lib/trace/trace.h"
#include "vnet/cluster/client.h"
#include "vnet/cluster/lab.h"
#include "vnet/cluster/session.h"
#include "vnet/trace/trace.h"

namespace mkn {

CLI::App* AddTraceCommand(CLI::App& app, TraceFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "trace",
      "Follow one real, marked packet hop by hop (and its reply), where the lab says it must "
      "pass");
  cmd->add_option("src", f.src,
                  "Where the probe starts: a pod, a node (from its own stack), or underlay (the "
                  "flat underlay's br0; in a racks lab the ToR of DST's rack)")
      ->required();
  cmd->add_option("dst", f.dst,
                  "Where it goes: a pod, a node, a pod's or node's IP, a ClusterIP or svc/NAME, "
                  "each with :PORT for TCP/UDP (a Service's first port by default); NODE:PORT is "
                  "a NodePort (node1:30080)")
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
      ->check(CLI::Range(0.05, 60.0));
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
      "  minikube-net trace client 10.96.0.53:53 --proto udp -o json\n"
      "  minikube-net trace client web-1 --pcap trace.pcapng && tshark -r trace.pcapng\n"
      "  minikube-net trace node1 web-1                  # from a node's own stack\n"
      "  minikube-net trace underlay node2:30080         # a NodePort from the underlay\n"
      "CNI labs (network = \"cni\"): pod to pod; the pods' own interfaces are predicted, every "
      "interface of the\n"
      "pods' and their nodes' namespaces is sniffed, and the hops are shown in the order they saw "
      "the probe.\n"
      "Not traced yet (a clear error): `host` and an edge URL; a ClusterIP from a node.\n"
      "Exit codes: 0 every hop saw it, 1 the probe got lost (or a runtime failure), 2 bad usage "
      "or name.");
  return cmd;
}

absl::StatusOr<bool> RunTraceCommand(const TraceFlags& f) {
  MKN_ASSIGN_OR_RETURN(vnet::ClusterState s, vnet::PickCluster(f.cluster));
  absl::StatusOr<vnet::LabFile> lab = vnet::LoadLab(s.lab);
  if (!lab.ok() || !lab->spec) {
    return absl::FailedPreconditionError(
        StrCat("trace ", s.cluster, ": its lab file ", s.lab, " no longer loads"));
  }
  if (f.dry_run) {
    MKN_ASSIGN_OR_RETURN(trace::Request r, trace::ParseRequest(*lab->spec, f.src, f.dst, f.proto));
    MKN_ASSIGN_OR_RETURN(trace::Path p, trace::PredictPath(*lab->spec, r));
    std::cout << trace::RenderPrediction(p);
    return true;
  }
  MKN_RETURN_IF_ERROR(vnet::CheckPrivileges("send a probe and sniff in the lab's namespaces"));
  vnet::TraceOptions o;
  o.src = f.src;
  o.dst = f.dst;
  o.proto = f.proto;
  o.pcap = f.pcap;
  o.timeout = absl::Seconds(f.timeout_s);
  MKN_ASSIGN_OR_RETURN(vnet::TraceResult r, vnet::RunTrace(s, *lab->spec, o));
  if (f.output == "json") {
    std::cout << trace::RenderJson(r.path, r.seen, r.verdict);
  } else {
    std::cout << trace::RenderTable(r.path, r.seen, r.verdict);
  }
  return r.verdict.ok;
}

}  // namespace mkn
