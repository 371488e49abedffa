// lib/control/format — what the CLI prints: the human tables of get, conntrack and status, and the
// one-line results of kill, scale and cni, from the control protocol's answers (protocol.h) and
// from rows a cluster's state file gives (vnet/cluster/state.h makes them).
//
// Pure: text in, text out. Tables are left-aligned columns two spaces apart, a header row first,
// every line ending in "\n". e2e tests read these with awk and grep: a column's place is part of
// the CLI.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/control/protocol.h"

namespace mkn::control {

// Rows as given, columns padded to the widest cell (the last column is not padded):
// lib/strings/columns, named here for the tables of this file.
std::string Table(const std::vector<std::vector<std::string>>& rows);

// "1 node", "2 nodes", "0 pods": a count and its noun, plural unless the count is 1 (every noun
// the CLI counts takes an "s").
std::string Count(int64_t n, std::string_view noun);

// --- from a cluster's state file -------------------------------------------------------------

struct ContainerRow {
  std::string name;
  std::string app;         // "http-echo", ... or "command"
  std::string first_port;  // "TCP/8080", "" when it declares none
};

struct PodRow {
  std::string name, node, ip, netns;
  std::string error;  // a CNI lab's failed ADD: the pod has no address
  std::vector<ContainerRow> containers;
};

struct NodeRow {
  std::string name, underlay_ip, pod_cidr, netns;
  int pods = 0;
};

struct ClusterRow {
  std::string name;
  bool alive = false;  // the owner the state names runs (pid and start time)
  std::string phase, network, lab;
  int nodes = 0, pods = 0;
  int64_t pid = 0;
  // Its state could not be read (a user who is not root): only the name is known, and every other
  // column says so ("?" and "-") rather than showing zeros that look like counts.
  bool unreadable = false;
};

// POD NODE IP CONTAINERS ENTER WITH, then a line per pod whose CNI ADD failed. A pod's name is
// its key ("x/a" outside the default namespace): with `namespaces` the table opens with a
// NAMESPACE column and POD is the name within it; without, POD is the key as written.
std::string PodsTable(const std::vector<PodRow>& pods, bool namespaces = false);
// NODE UNDERLAY IP POD CIDR PODS NETNS.
std::string NodesTable(const std::vector<NodeRow>& nodes);
// CLUSTER STATE NETWORK NODES PODS PID LAB; a dead owner's state says how to clean up, an
// unreadable one "? (root only)" with "-" in the other columns.
std::string StatusTable(const std::vector<ClusterRow>& clusters);

// --- from answers ----------------------------------------------------------------------------

// get svc: NAME TYPE CLUSTER-IP PORT(S) ENDPOINTS ALGORITHM AFFINITY, and PACKETS BYTES FLOWS NEW
// DROPS summed over ports when the answer has counters. ALGORITHM is what is served; one the proxy
// mode serves instead of the lab's is marked "random*", with a "* <service>: ..." line under the
// table saying what the lab asked for. Under it, a line per node whose proxy dropped something
// ("node1: 5 packets dropped (no_flow 3, table_full 2); ..."; nftables: "node1 (kernel): ..."),
// and one if the userspace proxy stopped.
// A service's name is its key ("x/web" outside the default namespace): with `namespaces` the table
// opens with a NAMESPACE column and NAME is the name within it (as PodsTable's POD).
std::string ServicesTable(const ServicesAnswer& a, bool namespaces = false);
// `get svc -n NS`: the answer with only the services of namespace NS, each named within it.
ServicesAnswer ServicesIn(ServicesAnswer a, const std::string& ns);
// `get svc WORD [-n NS]`: the Service WORD names. WORD is NAME, NS/NAME (kubectl's -n NS NAME in
// one word, as exec and trace take a pod or a Service: x/web), or either after kubectl's type
// prefix svc/ (service/, services/): svc/kube-dns, svc/kube-system/kube-dns. `ns_flag` is -n's
// value ("" when not given); the namespace is WORD's, else -n's, else "default". InvalidArgument
// when WORD is empty, has an empty part or more than two, or names another namespace than -n.
struct ServiceName {
  std::string ns, name;
  bool operator==(const ServiceName&) const = default;
};
absl::StatusOr<ServiceName> ParseServiceName(std::string_view word, std::string_view ns_flag);
// `get svc NAME`: that Service's row alone (named within its namespace). NotFound when there is
// none, naming the namespaces that have a Service of that name ("did you mean -n kube-system?":
// kube-dns is kube-system's) and, when none does, the Services of `want.ns`.
absl::StatusOr<ServicesAnswer> OneService(ServicesAnswer a, const ServiceName& want);
// get endpoints: NAME ENDPOINTS ("ip(pod),..." or "<none>").
std::string EndpointsTable(const ServicesAnswer& a);
// `-o json` of get svc / get endpoints: the services array, indented by 2. The array scripts have
// always indexed: the node counters are ProxyJson's.
std::string ServicesJson(const ServicesAnswer& a);
// get proxy: a row per node. Userspace: NODE PACKETS DROPPED FLOWS MAX EVICTED REFUSED FRAGS HELD
// FRAGS REASSEMBLED DATAGRAMS FRAGS DROPPED TUN ERRORS DROPS BY REASON ("no_flow=3,table_full=2"
// or "-"); nftables: a line saying the kernel counts, then NODE FLOWS MAX EARLY DROPS DROPS INSERT
// FAILED REASM REQDS REASM OKS REASM FAILS IN DISCARDS. A lab without Services has no counters: a
// line says so.
std::string ProxyText(const ServicesAnswer& a);
// `-o json` of get proxy: {"proxy_mode", "nodes": [...], "proxy_error" when set}, indented by 2.
std::string ProxyJson(const ServicesAnswer& a);
// get routes: a "listening: ..." line per listener, then ROUTE REQUESTS 2XX 3XX 4XX 5XX BYTES IN
// BYTES OUT.
std::string RoutesText(const RoutesAnswer& a);
// `-o json` of get routes: the whole answer, "ok" included (as it has always printed).
std::string RoutesJson(const RoutesAnswer& a);
// get overlay: for network = "geneve", NODE DEVICE LOCAL VNI TX-FRAMES (GSO) TX-DGRAMS SENDS
// RX-DGRAMS RX-FRAMES JOINED DROPS, then a "NODE drops: reason=N ..." line per node that dropped
// anything and a "pump stopped: ..." line if it did; for other networks, the answer's note.
std::string OverlayText(const OverlayAnswer& a);
// `-o json` of get overlay: the whole answer.
std::string OverlayJson(const OverlayAnswer& a);
// `get dns`: the cluster DNS's queries, its answers by rcode (the usual ones first), the drops by
// reason and the TCP bounds' closes; a lab without the cluster DNS says so in one line.
std::string DnsText(const DnsAnswer& a);
std::string DnsJson(const DnsAnswer& a);
// conntrack: NODE PROTO STATE SERVICE ORIGINAL REPLY POD EXPIRES PACKETS.
std::string ConntrackTable(const ConntrackAnswer& a);
// `-o json` of conntrack: the flows array.
std::string ConntrackJson(const ConntrackAnswer& a);
// "pod web-1 killed and recreated on node1 with IP 10.244.0.5 in 23 ms".
std::string KillText(const KillAnswer& a);
// "deployment web scaled to 4".
std::string ScaleText(const ScaleRequest& r);
// resync: per node "node1: in sync with a full sync of the spec" or "node1: N differences from a
// full sync (-: only in the node, +: missing)" and the first kMaxResyncLines of them, then
// "node1: rewritten" when it was.
std::string ResyncText(const ResyncAnswer& a);
inline constexpr size_t kMaxResyncLines = 40;
// What `cni VERB` prints on stdout: every plugin call with `show_exec`; then, when the chain
// succeeded, ADD's result, VERSION's versions, or "cni VERB TARGET: ok (N plugin calls)" (not with
// `show_exec`, whose calls say it). TARGET is the pod for add/check/del, else "node <node>".
std::string CniText(const CniRequest& r, const CniAnswer& a, bool show_exec);

// `minikube-net cert`: where the CA, the certificate and the key are, and a curl line per host
// that a listener on 127.0.0.1:8443 would answer (IPv6 hosts and non-loopback addresses have
// none).
std::string CertText(const std::string& ca_cert, const std::string& ca_key, bool ca_reused,
                     const std::string& cert, const std::string& key,
                     const std::vector<std::string>& hosts);

// Where the user of a foreground `up` stands, for its stop hint.
struct StopHintFacts {
  std::string cluster;
  // The process runs in a sandbox (ci/sandbox.sh): the terminal that started it, and every
  // other one, is outside, where `down` finds no cluster.
  bool in_sandbox = false;
  // How to type the sandbox wrapper ("ci/sandbox.sh", "minikube-net-sandbox") and, in a shell it
  // opens with --join, this binary ("minikube-net" when --join puts it on PATH, else its path).
  std::string sandbox, binary;
};

// The line a foreground `up` prints once ready: Ctrl-C, or `down` from another terminal, which
// outside a sandbox is "minikube-net down CLUSTER" and from a sandbox's outside goes through
// `SANDBOX --join CLUSTER -- BINARY down CLUSTER`.
std::string ForegroundStopHint(const StopHintFacts& f);

}  // namespace mkn::control
