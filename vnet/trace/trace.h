// vnet/trace — `minikube-net trace`'s side effects: a real, marked probe sent from a pod, sniffed
// at every hop lib/trace predicted at once, each copy matched to its hop, and the kernel's reason
// for the next step read where it was seen.
//
// Order, so that nothing is missed and nothing is waited for by sleeping: the probe's socket is
// opened first inside the source pod (its source port, or a fresh ICMP echo identifier, is the
// probe's mark), then lib/trace predicts the path with that mark, then one packet socket per
// predicted interface is opened (vnet/capture's PacketSockets, the union of the hops' filters
// compiled by libpcap and attached before bind), and only then is the probe sent: an ICMP echo
// request crafted with libtins on a raw socket, a UDP datagram, or a real TCP connect() (its SYN
// and SYN-ACK are the request and the reply). The loop ends as soon as every hop of a path saw the
// probe, or at the deadline. The reasons (a route lookup over netlink in that netns, the conntrack
// entry of a DNAT) are read after the loop, so that reading them does not slow the probe.
//
// Needs CAP_SYS_ADMIN (setns), CAP_NET_RAW (packet and raw sockets) and, for the reasons,
// CAP_NET_ADMIN: PermissionDenied without them.
#pragma once

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
};

struct TraceResult {
  trace::Path path;
  std::vector<trace::Observation> seen;  // per path.hops
  trace::Verdict verdict;
  absl::Duration elapsed;  // sockets opened, probe sent, every hop seen (reasons excluded)
};

// Traces `o.src` -> `o.dst` in running cluster `s` whose lab is `spec`. lib/trace's
// ParseRequest and PredictPath codes; PacketSockets::Open's; the codes of vnet/kernel/errors.h
// for the probe's socket and the pcap file. A probe that got lost is no error: the verdict says
// where it died.
absl::StatusOr<TraceResult> RunTrace(const ClusterState& s, const config::ClusterSpec& spec,
                                     const TraceOptions& o);

}  // namespace mkn::vnet
