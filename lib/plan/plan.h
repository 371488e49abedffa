// lib/plan — the ordered list of kernel steps that makes a ClusterSpec real.
//
// BuildPlan() is pure: the same spec gives the same plan, byte for byte. The applier in vnet/
// executes the steps; `minikube-net plan` prints them as the `ip`/`bridge`/`sysctl` commands a
// student could type.
//
// Concurrency contract: steps run phase by phase, in ascending order. Inside one phase, steps of
// the same `group` run in plan order on one worker; steps of different groups are independent and
// may run in parallel. Every link a step creates is later brought up by a SetLinkUp step that also
// writes the cluster's ownership marker into the link's ifalias; CreateNetns writes it into the
// ifalias of `lo`.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "lib/config/spec.h"
#include "lib/net/ip.h"

namespace mkn::plan {

// ip netns add NAME; ip -n NAME link set lo alias MARKER up
struct CreateNetns {
  std::string name;
};
// ip netns exec NS sysctl -w KEY=VALUE
struct SetSysctl {
  std::string ns, key, value;
};
// ip -n NS link add NAME mtu MTU address MAC type bridge
struct CreateBridge {
  std::string ns, name;
  int mtu = 1500;
  net::Mac mac;
};
// ip -n NS link add NAME mtu MTU [master M] type veth peer name PEER [address MAC] netns PEER_NS
struct CreateVeth {
  std::string ns, name;
  int mtu = 1500;
  std::string master;  // empty = none
  std::string peer_ns, peer_name;
  std::optional<net::Mac> peer_mac;
};
// ip -n NS link add NAME mtu MTU address MAC type vxlan id VNI local LOCAL dev DEV dstport PORT
// nolearning
struct CreateVxlan {
  std::string ns, name;
  int vni = 1;
  net::Ipv4 local;
  std::string dev;
  int port = config::kVxlanPort;
  int mtu = 1450;
  net::Mac mac;
};
// ip -n NS addr add ADDR dev DEV
struct AddAddress {
  std::string ns, dev;
  net::Prefix addr;
};
// ip -n NS link set DEV alias MARKER up
struct SetLinkUp {
  std::string ns, dev;
};
// ip -n NS route add DST [via VIA] dev DEV [onlink] [table T]
struct AddRoute {
  std::string ns;
  net::Prefix dst;  // /0 = default
  std::optional<net::Ipv4> via;
  std::string dev;
  bool onlink = false;
  int table = 0;  // 0 = main
};
// ip -n NS neigh add IP lladdr MAC dev DEV nud permanent
struct AddNeighbor {
  std::string ns, dev;
  net::Ipv4 ip;
  net::Mac mac;
};
// bridge -n NS fdb add MAC dev DEV dst DST self permanent
struct AddFdb {
  std::string ns, dev;
  net::Mac mac;
  net::Ipv4 dst;
};
// ip -n NS neigh add proxy IP dev DEV (answer ARP for IP on DEV: proxy ARP for one address)
struct AddProxyNeighbor {
  std::string ns, dev;
  net::Ipv4 ip;
};
// ip -n NS rule add pref PREF [to DST] [ipproto P dport LO-HI] lookup TABLE
struct AddRule {
  std::string ns;
  int pref = 0;
  std::optional<net::Prefix> dst;
  int ipproto = 0;  // 0 = any; else IPPROTO_TCP / IPPROTO_UDP with the port range
  int dport_min = 0, dport_max = 0;
  int table = 0;  // 255 = local
};
// ip -n NS rule del pref PREF lookup TABLE
struct DeleteRule {
  std::string ns;
  int pref = 0;
  int table = 0;
};
// ip -n NS tuntap add dev NAME mode tun vnet_hdr: a TUN whose fd the minikube-net process holds
// (the device lives as long as the process keeps it open).
struct CreateTun {
  std::string ns, name;
  int mtu = 1500;
};
// ip netns exec NS nft -f FILE: one atomic nftables transaction (nftables proxy mode).
struct LoadNftRuleset {
  std::string ns;
  std::string ruleset;
};
// bridge -n NS link set dev DEV hairpin on: the bridge may send a frame back out the port it came
// in on. nftables mode: a pod that reaches itself through its ClusterIP is DNATed to its own
// address, and br_netfilter hands that frame back to the bridge on the pod's own port.
struct SetHairpin {
  std::string ns, dev;
};
// network = "geneve": a TAP device with a virtio-net header (checksum and TSO offloads) whose fd
// the minikube-net process holds, like the proxy's TUN (the device lives as long as the fd):
//   ip -n NS tuntap add dev NAME mode tap vnet_hdr; ip -n NS link set NAME mtu MTU address MAC
struct CreateTap {
  std::string ns, name;
  int mtu = 1500;
  net::Mac mac;
};
// network = "geneve": the node's Geneve endpoint, a UDP socket on LOCAL:PORT opened in NS, served
// by minikube-net's pump (vnet/geneve): what DEV sends is encapsulated (VNI, the source-node option
// NODE) and sent to the node its destination MAC names; what arrives is checked and written into
// DEV. No command does this: the plan prints it as a comment.
struct ServeGeneve {
  std::string ns, dev;
  net::Ipv4 local;
  int port = 6081;
  int vni = 1;
  int node = 0;  // the node's number in the lab (1 = the first): the source-node option
};
// network = "geneve": an entry of the pump's table, the counterpart of a VXLAN FDB entry (`bridge
// fdb add MAC dev vxlan0 dst DST`): frames DEV sends to MAC go to DST. The pump builds the same
// table from the spec (lib/geneve/peers); the plan prints it as a comment.
struct GenevePeer {
  std::string ns, dev;
  net::Mac mac;
  net::Ipv4 dst;
  int port = 6081;
};
// A built-in app, served by the minikube-net process from a socket opened inside the pod's netns
// (or the world's: `world`, `pod` then "world"). A pod's app and the world's TCP apps listen on
// every address; the world's udp-echo has a socket per address (bound to `ip`), so that each reply
// leaves from the address its request went to (a wildcard socket would answer from the primary
// address, which the client's conntrack entry, and its connected socket, would not match).
struct StartApp {
  std::string ns, pod, container;
  config::AppKind app = config::AppKind::kHttpEcho;
  net::Ipv4 ip;
  int port = 0;
  // UDP for udp-echo and the cluster DNS's port 53/UDP (the DNS pod has one step per protocol).
  config::Protocol protocol = config::Protocol::kTcp;
  bool world = false;
};
// [cluster] world: the world's DNS for example.test (lib/world/dns), served by the minikube-net
// process from sockets opened inside NS: UDP port PORT on each of `addrs` (each answer leaves from
// the address asked, as the udp-echo's), TCP port PORT on every address. No command does this: the
// plan prints it as a comment.
struct ServeWorldDns {
  std::string ns;
  int port = 53;
  std::vector<net::Ipv4> addrs;
};
// ip netns exec NS env K=V... ARGV... (a child process, the pod's other containers)
struct StartCommand {
  std::string ns, pod, container;
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
};

// A CNI lab: the pod's namespace is handed to the plugin chain, as a container runtime does (libcni
// AddNetworkList): each plugin of the node's conflist in order, run inside the node's namespaces
// with CNI_COMMAND=ADD CNI_CONTAINERID CNI_NETNS=/run/netns/POD_NS CNI_IFNAME CNI_PATH and the
// config on stdin, the previous plugin's result as prevResult. The applier does not run it:
// vnet/cni does, between the phases that make the paths and the Services that need the pods'
// addresses.
struct CniAdd {
  std::string ns, pod, pod_ns;
  std::string container_id;
  std::string ifname;
};

// network = "bgp": one BGP speaker, its BIRD configuration (lib/bgp) written to CONFIG_PATH and the
// daemon started inside NS:
//   ip netns exec NS bird -f -c CONFIG_PATH -s SOCKET_PATH >>LOG_PATH 2>&1 &
// The applier does not start it: vnet/bgp does, from the thread that owns the cluster, as soon as
// the links exist (it then converges while the pods are made); `down` stops it.
struct StartBgpSpeaker {
  std::string ns, object;
  std::string config;
  std::string config_path, socket_path, log_path;
};

// proxy_mode = "ebpf": the cluster's own cgroup v2, made beneath the machine's cgroup2 mount (found
// in /proc/self/mountinfo; never the root cgroup) and marked as the cluster's, then the socket load
// balancer's four programs attached to it as links the minikube-net process holds (never pinned):
//   mkdir CGROUP; setfattr -n trusted.minikube-net -v MARKER CGROUP
//   bpftool cgroup attach CGROUP connect4|sendmsg4|recvmsg4|getpeername4 name mkn_... multi
// CGROUP is $CGROUP2/mkn-<cluster>-$NETNS_INODE: the mount and the inode of the netns `up` runs in
// are known only there. The applier does not do it: vnet/cluster (StartSockLb) does, after the
// nodes' tables and before any container, which starts in the cgroup; the maps are then written
// from lib/proxy/sock_lb.
struct AttachSockLb {
  std::string cgroup;
  std::string marker;
};

using Op =
    std::variant<CreateNetns, SetSysctl, CreateBridge, CreateVeth, CreateVxlan, AddAddress,
                 SetLinkUp, AddRoute, AddNeighbor, AddFdb, AddProxyNeighbor, AddRule, DeleteRule,
                 CreateTun, LoadNftRuleset, SetHairpin, StartApp, StartCommand, CniAdd, CreateTap,
                 ServeGeneve, GenevePeer, StartBgpSpeaker, AttachSockLb, ServeWorldDns>;

enum Phase : int {
  kPhaseUnderlay = 0,
  kPhaseNodes = 1,
  kPhasePods = 2,
  kPhaseRoutes = 3,
  kPhaseServices = 4,
  kPhaseContainers = 5,
  kPhaseCount = 6
};

struct Step {
  int phase = 0;
  int group = 0;
  Op op;
};

struct Plan {
  std::string cluster;
  std::string marker;
  bool cni = false;                // a network = "cni" lab: pods are the plugin chain's to wire
  bool routed = false;             // a routed underlay: ToRs (and a spine), not one bridge
  bool bgp = false;                // network = "bgp": the routes are the speakers'
  std::vector<std::string> netns;  // every namespace the plan creates, in creation order
  std::vector<Step> steps;
};

Plan BuildPlan(const config::ClusterSpec& spec);

// The steps of BuildPlan(spec) that make the given pods (by index) and nothing else: their
// namespaces, veths (the node-side end included), addresses, routes, apps and commands. For a pod
// recreated or added to a running cluster; the node namespaces must already exist.
Plan BuildPodPlan(const config::ClusterSpec& spec, const std::vector<int>& pods);

// The steps of `plan` whose phase is in [from, to), with the namespaces those steps create. A CNI
// lab comes up in two parts: the paths (phases before kPhaseServices), then, once the chain's ADD
// results gave the pods their addresses, the Services and containers of a plan rebuilt from the
// updated spec.
Plan PhaseRange(const Plan& plan, int from, int to);

// The plan as a shell script of ip/bridge/sysctl commands, one step a line, phases as comments.
std::string RenderShell(const Plan& plan);
// The plan as JSON: {"cluster", "marker", "netns": [...], "steps": [{"phase", "group", "op",
// ...}]}.
std::string RenderJson(const Plan& plan);

// Quotes a word for a POSIX shell when it needs it.
std::string ShellQuote(std::string_view word);

}  // namespace mkn::plan
