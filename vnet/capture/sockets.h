// vnet/capture/sockets — packet sockets opened inside a lab's namespaces, read in one epoll loop.
//
// PacketSockets::Open enters each target namespace once (RunInNetns: a fresh thread, joined; the
// sockets stay bound to the namespace they were made in, STYLE.md §4), lists its interfaces,
// and opens one AF_PACKET socket per interface with the capture filter compiled by libpcap for
// that interface's link type and attached (SO_ATTACH_FILTER) *before* the socket is bound, so no
// packet the filter would refuse is ever queued; with `promiscuous` (capture's default) the
// interface is put in promiscuous mode for as long as the socket is open, as tcpdump does (but a
// bridge whose ports are all captured, lib/capture/promisc.h). Poll()
// then reads every socket from the calling thread and hands each packet, with its kernel timestamp,
// direction and original length, to a sink: `capture` writes them to a pcapng file, `trace` will
// match its probe. The kernel's counters (PACKET_STATISTICS: passed the filter, dropped for want of
// buffer) are read at the end.
//
// Needs CAP_SYS_ADMIN (setns) and CAP_NET_RAW (packet sockets): PermissionDenied without them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/capture/pcapng.h"
#include "lib/capture/promisc.h"
#include "lib/capture/targets.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {

struct PacketSocketOptions {
  std::string filter;  // libpcap syntax (pcap-filter(7)); empty = every packet
  uint32_t snaplen = capture::kDefaultSnaplen;
  // Each socket's receive buffer (SO_RCVBUFFORCE): a burst the loop has not read yet waits here;
  // what does not fit is a kernel drop.
  int rcvbuf_bytes = 8 << 20;
  // A namespace that is gone (a pod being killed or scaled away as the capture starts) is skipped
  // with a note instead of failing the capture: for "everything of the lab", not for a TARGET
  // the user named.
  bool skip_missing_netns = false;
  // Each interface in promiscuous mode while its socket is open (PACKET_ADD_MEMBERSHIP with
  // PACKET_MR_PROMISC, as tcpdump does unless -p): a bridge then hands its own device every frame
  // it forwards, not only those for its own address, so `underlay:br0` sees the nodes' traffic.
  // Except a bridge whose every port is captured too (lib/capture/promisc.h): its ports show
  // what it forwards, and a promiscuous bridge where br_netfilter translates delivers the
  // translated frames twice. Deciding it lists each namespace's links (RTM_GETLINK).
  // The kernel counts the membership per socket and drops it when the socket closes, so a
  // capture that ends any way (even killed) leaves no interface promiscuous. `capture` turns it
  // on (CaptureOptions); off by default so that `trace`, which predicts each hop a probe takes,
  // keeps seeing only what a bridge delivers to itself.
  bool promiscuous = false;
};

// One interface listened on; `idb` is what a pcapng file says of it.
struct OpenInterface {
  capture::InterfaceDescription idb;
  std::string netns, ifname;
  capture::Promiscuity promiscuity = capture::Promiscuity::kOff;  // what Open made of it
};

struct InterfaceCounters {
  uint64_t captured = 0;  // handed to the sink
  uint64_t received = 0;  // passed the filter (the kernel's count, drops included)
  uint64_t dropped = 0;   // the kernel dropped: the socket's buffer was full
};

// Why Poll returned.
enum class PollEnd { kDeadline, kStopFd, kSinkStopped };

class PacketSockets {
 public:
  // Opens a socket on every interface of `targets` (each namespace's interfaces but lo, or the
  // ones named; a target without a netns name is the caller's own namespace), in the targets'
  // order, interfaces by index. InvalidArgument for a filter libpcap cannot compile (with its
  // message) or for a named interface the namespace does not have (with the ones it has); NotFound
  // for a namespace that is gone; PermissionDenied without CAP_SYS_ADMIN and CAP_NET_RAW;
  // Unavailable when out of fds or memory. An interface whose link type a pcapng file cannot name
  // is skipped with a note in `skipped`.
  static absl::StatusOr<PacketSockets> Open(const std::vector<capture::Target>& targets,
                                            const PacketSocketOptions& options);

  PacketSockets(PacketSockets&&) noexcept;
  PacketSockets& operator=(PacketSockets&&) noexcept;
  ~PacketSockets();

  const std::vector<OpenInterface>& interfaces() const;
  const std::vector<std::string>& skipped() const;

  // The packet sink: return false to stop. The packet's data is valid during the call only.
  using Sink = std::function<bool(const capture::EnhancedPacket&)>;

  // Reads every socket until `deadline`, until `stop_fd` (a signalfd, an eventfd; -1 = none)
  // becomes readable, or until `sink` returns false; `after_batch` (if set) runs after each
  // wake-up's packets, where a writer flushes. Internal on an epoll failure; the sink's own
  // errors are its to keep.
  absl::StatusOr<PollEnd> Poll(absl::Time deadline, int stop_fd, const Sink& sink,
                               const std::function<void()>& after_batch = nullptr);

  // Closes the sockets of namespace `netns` (its name removed: a pod killed, the cluster going
  // down), whose packet sockets would otherwise keep it, and the devices in it, alive. Their
  // counters are read first and kept; the interfaces keep their places. Returns how many closed.
  size_t CloseNetns(const std::string& netns);

  // Per interface (in interfaces()' order): what the sink got and the kernel's counters, read now
  // (PACKET_STATISTICS counts since the previous read; these are totals).
  std::vector<InterfaceCounters> Counters();

 private:
  struct Impl;
  explicit PacketSockets(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Blocks the stop signals (vnet/kernel/process.h's BlockStopSignals: SIGINT, SIGTERM, SIGHUP) in
// the calling thread, and so in every thread it starts afterwards, and returns a signalfd that
// becomes readable when one arrives: Ctrl-C ends a capture through its loop, which then closes the
// file cleanly. Call it before any other thread is made. Unavailable when out of fds.
absl::StatusOr<Fd> StopSignalFd();

}  // namespace mkn::vnet
