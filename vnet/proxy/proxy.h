// vnet/proxy/proxy — the userspace proxy's pump: frames from each node's TUN through lib/nat and
// back.
//
// The applier made, in every node, a TUN (`mkn-proxy`, IFF_VNET_HDR with checksum and TSO offload)
// into which the node routes the service CIDR, its proxy address and NodePort traffic for its
// underlay address. The pump owns those fds: one thread waits on all of them with epoll, reads each
// frame with its virtio-net header, hands it to that node's nat::Nat (one per node: conntrack and
// balancing are per node, as kube-proxy's are), and writes the result back into the same TUN, where
// the node's routing sends it on. Offloaded segments (up to 64 KiB, partial checksum) pass through
// whole; only their headers are touched (see lib/nat/nat.h).
//
// NetworkPolicy: the NATs judge each new flow after translation (lib/nat/nat.h); SetPolicy hands
// them the policies compiled once (lib/netpol/flow_policy), shared by every node.
//
// Control plane calls (endpoints, policies, listings) come from other threads: each node's Nat sits
// behind its own mutex, taken by the pump per batch of frames. Closing the fds (Stop, destructor)
// removes the TUN devices. No setns anywhere: the fds already belong to their namespaces.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/config/spec.h"
#include "lib/nat/nat.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {

// One flow as `minikube-net conntrack` lists it.
struct ProxyFlow {
  std::string node;
  std::string protocol;  // "TCP" / "UDP"
  std::string state;     // conntrack state
  std::string service;   // service port label
  std::string original;  // client:port -> vip:port
  std::string reply;     // endpoint:port -> proxy:port
  std::string endpoint;  // pod name
  int64_t expires_in_ms = 0;
  uint64_t packets = 0, bytes = 0;
};

// Per service port, summed over nodes.
struct ProxyServiceStats {
  std::string service, port;  // port label, e.g. "80/TCP"
  nat::ServiceCounters counters;
  size_t flows = 0;
};

// One node's NAT as a whole, with what no service port owns: a frame to no service, a fragment
// before its datagram is whole, a flow the table had no room for.
struct ProxyNodeStats {
  std::string node;
  nat::NatCounters counters;
  size_t conntrack_entries = 0, conntrack_max = 0;
  uint64_t conntrack_evictions = 0;            // unassured flows pushed out of a full table
  uint64_t conntrack_refused = 0;              // new flows refused by a table full of assured ones
  uint64_t read_errors = 0, write_errors = 0;  // the pump's, on this node's TUN
  // New flows NetworkPolicy dropped here, by lib/netpol's drop counter name.
  std::map<std::string, uint64_t> netpol_drops;
};

struct ProxyStats {
  std::vector<ProxyServiceStats> services;
  std::vector<ProxyNodeStats> nodes;  // in spec order
  std::string pump_error;             // why the pump stopped on its own ("" while it runs)
};

class UserspaceProxy {
 public:
  // One Nat per node of `spec`, over the TUN fds the applier returned (keyed by node netns).
  // kInvalidArgument if a node has no TUN or the NAT cannot be built.
  static absl::StatusOr<std::unique_ptr<UserspaceProxy>> Create(const config::ClusterSpec& spec,
                                                                std::map<std::string, Fd> tuns);
  ~UserspaceProxy();
  UserspaceProxy(const UserspaceProxy&) = delete;
  UserspaceProxy& operator=(const UserspaceProxy&) = delete;

  absl::Status Start();
  // Joins the pump thread and closes the TUNs. Idempotent.
  void Stop();

  // The pods behind `service` changed: every node gets the new endpoints; flows to pods that are
  // gone are flushed. kNotFound if no such service.
  absl::Status ReplaceEndpoints(std::string_view service, const std::vector<config::PodSpec>& pods);

  // The lab's policies or pods changed (apply, delete netpol, kill, scale): new flows are judged by
  // `spec`'s from now on, in every node; established flows keep passing. Compiled here, once.
  void SetPolicy(const config::ClusterSpec& spec);

  // Flows of every node (or of `node` if not empty), and counters: per service port summed over
  // nodes, and each node's own.
  std::vector<ProxyFlow> Flows(std::string_view node = "") const;
  ProxyStats Stats() const;

 private:
  UserspaceProxy();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mkn::vnet
