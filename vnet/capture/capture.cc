#include "vnet/capture/capture.h"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "lib/capture/pcapng.h"
#include "lib/net/naming.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/process.h"

namespace mkn::vnet {
namespace {

constexpr size_t kFileChunk = 1 << 20;

uint64_t NowNs() { return static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())); }

std::string OsName() {
  utsname u{};
  if (uname(&u) != 0) return "Linux";
  return StrCat(u.sysname, " ", u.release);
}

// Writes the buffer whole, then empties it. EPIPE: the reader is gone (false, OK status).
absl::StatusOr<bool> Flush(int fd, std::string& buf, uint64_t& bytes) {
  size_t off = 0;
  while (off < buf.size()) {
    const ssize_t n = ::write(fd, buf.data() + off, buf.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) return false;
      return KernelError(errno, "write the capture");
    }
    off += static_cast<size_t>(n);
  }
  bytes += buf.size();
  buf.clear();
  return true;
}

}  // namespace

std::vector<capture::LabObject> LabObjectsOf(const ClusterState& s) {
  std::vector<capture::LabObject> out;
  if (!s.underlay.empty())
    out.push_back(
        {std::string(net::kUnderlayObject), capture::ObjectKind::kUnderlay, s.underlay, "", ""});
  // A routed underlay's ToRs, then its spine: a ToR is the one its rack's nodes name.
  for (const RouterState& r : s.routers) {
    capture::LabObject o{r.name, capture::ObjectKind::kRouter, r.netns, "", ""};
    for (const NodeState& n : s.nodes)
      if (!n.rack.empty() && net::TorObject(n.rack) == r.name) o.rack = n.rack;
    out.push_back(std::move(o));
  }
  // The world outside: a namespace with one interface, as a router is (`capture world`).
  if (s.world) {
    out.push_back(
        {std::string(net::kWorldObject), capture::ObjectKind::kRouter, s.world->netns, "", ""});
  }
  // A node's rack matters only where racks are routed (it picks `underlay:<node>`'s ToR).
  for (const NodeState& n : s.nodes) {
    out.push_back({n.name, capture::ObjectKind::kNode, n.netns, "",
                   s.routers.empty() ? std::string() : n.rack});
  }
  for (const PodState& p : s.pods)
    out.push_back({p.name, capture::ObjectKind::kPod, p.netns, p.node, ""});
  return out;
}

// The output file. A FIFO's open() waits for a reader, and the stop signals are blocked here (they
// end the capture loop in order), so a plain open() of a FIFO nobody reads could not be stopped by
// Ctrl-C: open it non-blocking (ENXIO while no reader is there), and wait for the reader, or a stop
// signal, in steps of 50 ms.
static absl::StatusOr<Fd> OpenOutput(const std::string& path) {
  for (;;) {
    Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0644));
    if (f.valid()) {
      const int flags = ::fcntl(f.get(), F_GETFL);
      if (flags < 0 || ::fcntl(f.get(), F_SETFL, flags & ~O_NONBLOCK) < 0)
        return KernelError(errno, StrCat("set ", path, " blocking"));
      return f;
    }
    if (errno != ENXIO) return KernelError(errno, StrCat("create ", path));
    if (StopSignalPending()) {
      return absl::CancelledError(
          StrCat("capture: stopped while waiting for a reader of the FIFO ", path));
    }
    ::usleep(50 * 1000);
  }
}

absl::StatusOr<CaptureSummary> RunCapture(const ClusterState& s, const CaptureOptions& o) {
  MKN_ASSIGN_OR_RETURN(std::vector<capture::Target> targets,
                       capture::SelectTargets(LabObjectsOf(s), o.targets));
  PacketSocketOptions po;
  po.filter = o.filter;
  po.snaplen = o.snaplen;
  po.promiscuous = o.promiscuous;
  po.skip_missing_netns = o.targets.empty();
  MKN_ASSIGN_OR_RETURN(PacketSockets sockets, PacketSockets::Open(targets, po));
  if (sockets.interfaces().empty())
    return absl::FailedPreconditionError("capture: no interface to capture on");

  Fd file;
  int fd = STDOUT_FILENO;
  bool stream = true;
  if (o.output != "-") {
    MKN_ASSIGN_OR_RETURN(file, OpenOutput(o.output));
    fd = file.get();
    stream = false;
  }
  if (o.on_open) o.on_open(sockets.interfaces(), sockets.skipped());

  CaptureSummary sum;
  std::string buf;
  buf.reserve(kFileChunk + capture::kDefaultSnaplen);
  capture::AppendSectionHeader(buf, "minikube-net capture", OsName());
  for (const OpenInterface& i : sockets.interfaces())
    capture::AppendInterfaceDescription(buf, i.idb);
  const uint64_t start_ns = NowNs();
  bool reader_gone = false;
  absl::Status write_error;
  auto flush = [&] {
    if (reader_gone || !write_error.ok()) return;
    absl::StatusOr<bool> ok = Flush(fd, buf, sum.bytes);
    if (!ok.ok()) {
      write_error = ok.status();
    } else if (!*ok) {
      reader_gone = true;
    }
  };
  flush();
  // One wake-up reads the sockets one after another; its packets are put in timestamp order
  // before they are written, so that one packet's hops read in the order it took them (a file
  // is in time order except across wake-ups, which are apart in time anyway).
  struct Pending {
    uint64_t ts;
    size_t offset, length;
  };
  std::string batch;
  std::vector<Pending> pending;
  auto commit = [&] {
    std::stable_sort(pending.begin(), pending.end(),
                     [](const Pending& a, const Pending& b) { return a.ts < b.ts; });
    for (const Pending& p : pending) buf.append(batch, p.offset, p.length);
    pending.clear();
    batch.clear();
    if (stream || buf.size() >= kFileChunk) flush();
  };
  const absl::Time deadline = o.duration ? absl::Now() + *o.duration : absl::InfiniteFuture();
  const PacketSockets::Sink sink = [&](const capture::EnhancedPacket& p) {
    const size_t at = batch.size();
    capture::AppendEnhancedPacket(batch, p);
    pending.push_back({p.timestamp_ns, at, batch.size() - at});
    ++sum.packets;
    if (batch.size() >= kFileChunk) commit();  // bounds the memory of one wake-up
    return !reader_gone && write_error.ok() && (o.count == 0 || sum.packets < o.count);
  };
  // The sockets hold every namespace captured: a `down` meanwhile would wait out its deadline
  // for them and blame the nodes, while the capture ran on. The sockets of a namespace whose name
  // went (the cluster going down, a pod killed or scaled away) are closed; when none is left, the
  // capture ends there, its file whole.
  std::set<std::string> open_ns;
  for (const OpenInterface& i : sockets.interfaces())
    if (!i.netns.empty()) open_ns.insert(i.netns);
  // One captured in this process's own namespace (no name) never goes.
  const bool any_own = std::any_of(sockets.interfaces().begin(), sockets.interfaces().end(),
                                   [](const OpenInterface& i) { return i.netns.empty(); });
  auto all_gone = [&] {
    for (auto it = open_ns.begin(); it != open_ns.end();) {
      if (StatNetnsPath(*it) == NetnsPath::kMounted) {
        ++it;
        continue;
      }
      sockets.CloseNetns(*it);
      it = open_ns.erase(it);
    }
    return open_ns.empty() && !any_own;
  };
  absl::StatusOr<PollEnd> end = PollEnd::kDeadline;
  bool cluster_down = false;
  while (!reader_gone && write_error.ok() && (o.count == 0 || sum.packets < o.count)) {
    const absl::Time slice = std::min(deadline, absl::Now() + absl::Milliseconds(200));
    end = sockets.Poll(slice, o.stop_fd, sink, commit);
    if (!end.ok() || *end != PollEnd::kDeadline || slice >= deadline) break;
    if (all_gone()) {
      cluster_down = true;
      break;
    }
  }
  commit();
  if (!end.ok()) return end.status();
  MKN_RETURN_IF_ERROR(write_error);
  if (cluster_down) {
    sum.ended_by = "every namespace captured removed";
  } else if (reader_gone) {
    sum.ended_by = "output closed";
  } else if (*end == PollEnd::kStopFd) {
    sum.ended_by = "signal";
  } else if (*end == PollEnd::kSinkStopped) {
    sum.ended_by = "count";
  } else {
    sum.ended_by = "duration";
  }
  const std::vector<InterfaceCounters> counters = sockets.Counters();
  const uint64_t end_ns = NowNs();
  for (size_t i = 0; i < counters.size(); ++i) {
    sum.interfaces.push_back({sockets.interfaces()[i].idb.name, counters[i]});
    capture::InterfaceStatistics isb;
    isb.interface_id = static_cast<uint32_t>(i);
    isb.timestamp_ns = end_ns;
    isb.start_ns = start_ns;
    isb.end_ns = end_ns;
    isb.received = counters[i].received;
    isb.dropped = counters[i].dropped;
    capture::AppendInterfaceStatistics(buf, isb);
  }
  flush();
  MKN_RETURN_IF_ERROR(write_error);
  if (file.get() >= 0 && ::close(file.Release()) != 0)
    return KernelError(errno, StrCat("close ", o.output));
  return sum;
}

std::string SummaryText(const CaptureSummary& s) {
  size_t w = 9;
  for (const InterfaceSummary& i : s.interfaces) w = std::max(w, i.name.size());
  std::string out = absl::StrFormat("%-*s  %10s  %10s\n", static_cast<int>(w), "INTERFACE",
                                    "CAPTURED", "DROPPED");
  uint64_t dropped = 0;
  for (const InterfaceSummary& i : s.interfaces) {
    absl::StrAppendFormat(&out, "%-*s  %10d  %10d\n", static_cast<int>(w), i.name,
                          i.counters.captured, i.counters.dropped);
    dropped += i.counters.dropped;
  }
  absl::StrAppendFormat(&out, "%d %s on %d %s (ended by %s); the kernel dropped %d\n", s.packets,
                        s.packets == 1 ? "packet" : "packets", s.interfaces.size(),
                        s.interfaces.size() == 1 ? "interface" : "interfaces", s.ended_by, dropped);
  return out;
}

}  // namespace mkn::vnet
