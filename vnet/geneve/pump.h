// vnet/geneve/pump — network = "geneve": the userspace Geneve overlay between the nodes' gnv0 TAPs.
//
// The applier made, in every node, a TAP `gnv0` (IFF_VNET_HDR, offloads csum/tso4/tso_ecn) into
// which the node routes the other nodes' pod CIDRs, and a UDP socket on the node's underlay
// address, port 6081 (vnet/kernel/udp: UDP_GRO, DF, large buffers). The pump owns those fds, as
// flannel's UDP backend (backend/udp/proxy_amd64.c) owns its TUN and socket, and moves frames
// between them:
//
//   gnv0 -> socket  read a frame and its virtio-net header; pick the node its destination MAC
//                   belongs to (lib/geneve/peers); cut a TCP super-frame into MSS-sized segments
//                   (lib/geneve/encap); send each run of same-size datagrams as one UDP GSO
//                   message (UDP_SEGMENT), several messages per sendmmsg.
//   socket -> gnv0  recvmmsg a batch (each message may be many datagrams: UDP_GRO gives the segment
//                   size); check each datagram (lib/geneve/peers: sender, header, VNI, option,
//                   destination, size, inner source); join consecutive TCP segments whose
//                   checksums verify back into super-frames (lib/geneve/coalesce) and write each
//                   with one writev and its virtio-net header.
//
// Payload bytes are never copied in userspace: datagrams are iovecs over the frame read from gnv0,
// frames written to gnv0 are iovecs over the received buffer. Buffers are allocated once per worker
// (no allocation per packet). Nodes are spread over `workers` threads, each an epoll loop over its
// nodes' fds (one per CPU by default: see Create); a node's two directions are served by the same
// thread. Nothing is shared between workers but counters (relaxed atomics read by Stats()). Every
// drop is counted by its reason (lib/geneve/header.h's DropReason): a malformed or foreign datagram
// is never a crash.
//
// Ownership: Stop() (and the destructor) joins the workers and closes the fds: each TAP goes with
// its last fd, each socket with its fd. After SIGKILL the kernel closes them; the namespaces they
// lived in are removed by `down` like any other. No setns: the fds already belong to their netns.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/config/spec.h"
#include "lib/geneve/header.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {

// One node's counters since the pump started.
struct GeneveNodeStats {
  std::string node, device, local;  // "node1", "gnv0", "172.18.0.2:6081"
  int vni = 0;
  // Out: frames read from gnv0 (a TCP super-frame counts once), the datagrams they became, the
  // sendmmsg calls that carried them, and inner bytes.
  uint64_t tx_frames = 0, tx_super_frames = 0, tx_datagrams = 0, tx_sends = 0, tx_bytes = 0;
  // In: datagrams received (a UDP GRO buffer counts each), frames written into gnv0 and how many
  // of the datagrams were joined into another's frame, inner bytes.
  uint64_t rx_datagrams = 0, rx_frames = 0, rx_joined = 0, rx_bytes = 0;
  std::array<uint64_t, geneve::kDropReasonCount> drops{};  // by DropReason
  uint64_t read_errors = 0, write_errors = 0;  // syscalls on gnv0 or the socket that failed
};

class GenevePump {
 public:
  // One endpoint per node of `spec` over the fds the applier returned (keyed by node netns), served
  // by `workers` threads (at most one per node). 0: the default, one thread per CPU (or
  // MKN_GENEVE_WORKERS of them), so that a stream's sending node (read from gnv0, TSO cut, inner
  // checksums, send) and receiving node (receive, join, write into gnv0) run on different CPUs:
  // on 2 CPUs shared with other work that kept geneve at 0.57-0.64x the kernel's VXLAN where one
  // thread for every node gave 0.44-0.53x. The price is a thread wake-up more each way (one thread
  // would read the datagram it just sent, already in the peer's socket: veth delivers it in the
  // sender's context): +15-17 us on a round trip instead of +12-14 (docs/BENCHMARKS.md).
  // InvalidArgument if a node lacks its TAP or socket.
  static absl::StatusOr<std::unique_ptr<GenevePump>> Create(const config::ClusterSpec& spec,
                                                            std::map<std::string, Fd> taps,
                                                            std::map<std::string, Fd> sockets,
                                                            int workers = 0);
  ~GenevePump();
  GenevePump(const GenevePump&) = delete;
  GenevePump& operator=(const GenevePump&) = delete;

  // Starts the workers. Unavailable when out of fds or memory for epoll or an eventfd (codes:
  // vnet/kernel/errors.h).
  absl::Status Start();
  // Joins the workers and closes every fd (the TAPs disappear). Idempotent.
  void Stop();

  std::vector<GeneveNodeStats> Stats() const;
  // Why a worker stopped on its own ("" while all run): the overlay is down for its nodes then.
  std::string Error() const;

 private:
  GenevePump();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mkn::vnet
