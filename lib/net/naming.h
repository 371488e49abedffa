// lib/net/naming — every name minikube-net gives a kernel object or a file, produced in one place.
//
//   object                          name                              lives in
//   ------------------------------  --------------------------------  ------------------------
//   underlay ("physical switch")    mkn-<cluster>-underlay            /run/netns (named netns)
//   node N                          mkn-<cluster>-<N>                 /run/netns
//   pod P                           mkn-<cluster>-<P>                 /run/netns
//   `verify`'s throw-away test pod  mkn-<cluster>-vfy-<check>-<n>     /run/netns (down removes)
//   underlay bridge                 br0                               underlay netns
//   node's port on the underlay     <N> (node names fit IFNAMSIZ)     underlay netns
//   node's underlay interface       eth0                              node netns
//   routed underlay (more than one rack, or network = "bgp"): the racks' own switches and routers
//   top-of-rack router of rack R    mkn-<cluster>-tor-<R>             /run/netns
//   spine router                    mkn-<cluster>-spine               /run/netns (2+ racks)
//   rack bridge                     br0                               ToR netns
//   node's port on the rack bridge  <N>                               ToR netns
//   ToR's port to the spine         spine                             ToR netns
//   spine's port to rack R's ToR    tor-<R> (rack names fit 11 bytes) spine netns
//   BGP speaker of object O         <state dir>/bird/O.conf, O.ctl    host filesystem (tmpfs):
//     (a node, tor-<R>, spine)      (config, BIRD control socket),    birdc -s <...>/O.ctl
//                                   <state dir>/logs/bird-O.log
//   the world outside (world=true)  mkn-<cluster>-world               /run/netns
//   its port on the attach point    world                             underlay, spine or ToR netns
//   its own interface               eth0                              world netns
//   node's pod bridge               cbr0                              node netns
//   node's VXLAN device             vxlan0                            node netns
//   node's Geneve TAP               gnv0                              node netns
//   pod's host-side veth            veth<8 hex of hash(cluster/P)>    node netns (as CNI's)
//   pod's interface                 eth0                              pod netns
//   ownership marker                minikube-net:<cluster>            ifalias of lo, every link
//   runtime state                   /run/minikube-net/<cluster>/      host filesystem (tmpfs)
//   a pod's /etc/resolv.conf        <state dir>/resolv/<ns>.conf      host filesystem (tmpfs),
//     (cluster DNS)                                                   bound over /etc/resolv.conf
//                                                                     in each command's and
//                                                                     exec's own mount namespace
//   a running sandbox's record      /run/minikube-net-sandbox/<pid>   host filesystem (tmpfs): how
//                                   `ci/sandbox.sh --join` finds it (<pid>: its unshare's)
//   proxy_mode = "ebpf": the        mkn-<cluster>-<netns inode, hex>  the machine's cgroup v2 tree,
//   cluster's cgroup                                                  under its mount (state.json
//                                                                     records the path; xattr
//                                                                     trusted.minikube-net marks
//                                                                     it)
//
// Interface names are at most kMaxIfName (15) bytes: IFNAMSIZ is 16 with the NUL. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mkn::net {

inline constexpr size_t kMaxIfName = 15;
inline constexpr size_t kMaxClusterName = 32;
inline constexpr size_t kMaxPodName = 63;  // a DNS label, as Kubernetes requires
inline constexpr std::string_view kNetnsPrefix = "mkn-";
inline constexpr std::string_view kRunDir = "/run/minikube-net";
inline constexpr std::string_view kNetnsDir = "/run/netns";
// Where ci/sandbox.sh records each running sandbox, so a second terminal can join it (`--join`).
inline constexpr std::string_view kSandboxRunDir = "/run/minikube-net-sandbox";

inline constexpr std::string_view kUnderlayObject = "underlay";
inline constexpr std::string_view kSpineObject = "spine";
// [cluster] world: the namespace's object name, and its port's name where its link ends (the
// underlay, spine or ToR namespace; nodes' ports there are named after the nodes, so no node may
// be called "world").
inline constexpr std::string_view kWorldObject = "world";
inline constexpr std::string_view kWorldPort = "world";
inline constexpr std::string_view kWorldIf = "eth0";
// Each node's nftables table that masquerades its pods' traffic to the world.
inline constexpr std::string_view kEgressTable = "mkn-egress";
inline constexpr std::string_view kTorPrefix = "tor-";
// A rack name fits the spine's port to its ToR, "tor-<R>", in IFNAMSIZ.
inline constexpr size_t kMaxRackName = kMaxIfName - kTorPrefix.size();
// The ToR's port to the spine is named after what is at the other end, as node ports are.
inline constexpr std::string_view kTorSpinePort = "spine";
// The object name prefix of `verify`'s test pods (not in the state: `down` finds them by it).
inline constexpr std::string_view kVerifyPodPrefix = "vfy-";
inline constexpr std::string_view kUnderlayBridge = "br0";
inline constexpr std::string_view kPodIf = "eth0";
inline constexpr std::string_view kNodeUplinkIf = "eth0";
inline constexpr std::string_view kNodeBridge = "cbr0";
inline constexpr std::string_view kNodeVxlan = "vxlan0";
// network = "geneve": the TAP minikube-net's pump serves (lib/geneve, vnet/geneve).
inline constexpr std::string_view kNodeGeneve = "gnv0";
// The userspace proxy's TUN in each node: the service CIDR and the node's proxy address route into
// it.
inline constexpr std::string_view kNodeProxyTun = "mkn-proxy";
// The policy-routing table that sends NodePort traffic into the TUN (userspace mode).
inline constexpr int kNodePortTable = 100;
// nftables mode: the table minikube-net programs in each node (named as kube-proxy names its own).
inline constexpr std::string_view kNftTable = "kube-proxy";

// mkn-<cluster>-<object>: the named netns of a node, a pod, or the underlay.
std::string NetnsName(std::string_view cluster, std::string_view object);
// /run/netns/<NetnsName(...)>.
std::string NetnsPath(std::string_view cluster, std::string_view object);
// veth + 8 hex digits of FNV-1a over "<cluster>/<pod>" (salted on a collision inside one node).
std::string PodVethName(std::string_view cluster, std::string_view pod, uint32_t salt = 0);
// The ifalias every object of this cluster carries: the kernel-recorded proof that it is ours.
std::string OwnerMarker(std::string_view cluster);
// /run/minikube-net/<cluster>.
std::string StateDir(std::string_view cluster);
// "tor-<rack>": the object name of a rack's ToR (its netns is NetnsName(cluster, TorObject(rack))),
// and the spine's port to it.
std::string TorObject(std::string_view rack);
// <state dir>/resolv/<ns>.conf: what a pod of namespace <ns> sees as /etc/resolv.conf.
std::string ResolvConfPath(std::string_view cluster, std::string_view ns);
// <state dir>/bird: each BGP speaker's config and control socket.
std::string BirdDir(std::string_view cluster);
// <state dir>/bird/<object>.conf, .ctl; <state dir>/logs/bird-<object>.log.
std::string BirdConfigPath(std::string_view cluster, std::string_view object);
std::string BirdSocketPath(std::string_view cluster, std::string_view object);
std::string BirdLogPath(std::string_view cluster, std::string_view object);
// mkn-<cluster>-<netns_inode in hex>: the cgroup v2 the "ebpf" proxy mode attaches its programs
// to. The cgroup tree is shared by every sandbox on the machine; the inode of the network
// namespace `up` runs in tells two labs of one name apart.
std::string ClusterCgroupName(std::string_view cluster, uint64_t netns_inode);
// The extended attribute on that cgroup whose value is OwnerMarker(cluster): the kernel-recorded
// proof that the cgroup is the cluster's (down removes no cgroup without it).
inline constexpr std::string_view kCgroupMarkerXattr = "trusted.minikube-net";

// A DNS label: 1..max bytes of [a-z0-9-], starting and ending alphanumeric.
bool IsDnsLabel(std::string_view name, size_t max = kMaxPodName);

}  // namespace mkn::net
