// vnet/trace — `minikube-net trace`'s side effects: a real, marked probe sent from SRC (a pod, a
// node's own stack, the underlay or a racks lab's ToR), sniffed at every hop lib/trace predicted at
// once, each copy matched to its hop, and the kernel's reason for the next step read where it was
// seen. RunTrace takes the words and returns the result; printing is the caller's (the CLI, or a
// dashboard rendering it with lib/trace's RenderTable/RenderJson).
//
// Order, so that nothing is missed and nothing is waited for by sleeping: the probe's socket is
// opened first in SRC's namespace and bound to the address the prediction uses (its source port,
// or a fresh ICMP echo identifier, is the probe's mark; in proxy_mode = "ebpf" a pod's socket is
// made by a child placed in the cluster's cgroup, so that connect4 sees it, and passed back), then
// lib/trace predicts the path with that mark, then one packet socket per predicted interface is
// opened (vnet/capture's PacketSockets, the union of the hops' filters compiled by libpcap and
// attached before bind; a CNI lab's namespaces whole), and only then is the probe sent: an ICMP
// echo request crafted with libtins on a raw socket, a UDP datagram, or a real TCP connect() (its
// SYN and SYN-ACK are the request and the reply). The loop ends as soon as every hop of a path saw
// the probe, or at the deadline. The reasons (a route lookup, the bridge FDB and neighbour entries
// over netlink in that netns, the conntrack entry of a DNAT, what connect4 rewrote) are read after
// the loop, so that reading them does not slow the probe.
//
// Needs CAP_SYS_ADMIN (setns; in ebpf mode, writing the cluster's cgroup.procs), CAP_NET_RAW
// (packet and raw sockets) and, for the reasons, CAP_NET_ADMIN: PermissionDenied without them.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/config/spec.h"
#include "lib/trace/trace.h"
#include "vnet/cluster/state.h"

namespace mkn::vnet {

struct TraceOptions {
  std::string src, dst, proto;  // the CLI's words; proto "" = the default for DST
  // How long to wait for hops that have not seen the probe yet: a lost probe costs this much.
  absl::Duration timeout = absl::Seconds(2);
  std::string pcap;  // a pcapng file for every copy seen, with the hop as a comment; "" = none
  // Readable when the user wants the wait over (cmd's signalfd: Ctrl-C): the hops seen so far are
  // judged as at the timeout. -1: none. `end_of_wait`, if set, runs once the wait is over, ended
  // either way (cmd drains the signal and lets the next one end the process as usual).
  int stop_fd = -1;
  std::function<void()> end_of_wait;
};

struct TraceResult {
  trace::Path path;
  std::vector<trace::Observation> seen;  // per path.hops
  trace::Verdict verdict;
  absl::Duration elapsed;    // sockets opened, probe sent, every hop seen (reasons excluded)
  bool interrupted = false;  // the wait was ended by o.stop_fd before every hop saw the probe
};

// Traces `o.src` -> `o.dst` in running cluster `s` whose lab is `spec`. lib/trace's
// ParseRequest and PredictPath codes; PacketSockets::Open's; the codes of vnet/kernel/errors.h
// for the probe's socket (its bind, and in ebpf mode the cgroup join, the fork and the handover)
// and the pcap file; NotFound for a source pod that is not running; Unavailable when the cluster
// went away during the trace (`down`); Aborted when a pod of the path was killed, restarted or
// scaled away meanwhile (the path changed: a lost probe then says nothing); DeadlineExceeded for a
// --pcap FIFO that no reader opened (or read) within o.timeout after the trace. A probe that got
// lost is no error: the verdict says where it died.
absl::StatusOr<TraceResult> RunTrace(const ClusterState& s, const config::ClusterSpec& spec,
                                     const TraceOptions& o);

}  // namespace mkn::vnet
