// vnet/trace/ends — StillUp, PathUnchanged and WritePcap (see ends.h).
#include "vnet/trace/ends.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {

// Whether the cluster is still the one the trace started in: `down` (its state gone or stopping),
// or a new `up` of the same name, makes it another. Unavailable saying so, else OK.
absl::Status StillUp(const ClusterState& before) {
  absl::StatusOr<ClusterState> now = ReadState(before.cluster);
  if (!now.ok() || now->phase == "stopping" || now->marker != before.marker ||
      now->started_at != before.started_at) {
    return absl::UnavailableError(
        StrCat("trace: cluster ", before.cluster,
               " went away during the trace (`down`, or its owner ended): nothing is left to "
               "trace in"));
  }
  return absl::OkStatus();
}

// Whether a pod of the path was killed, restarted or scaled away while the probe was out (its
// containers are other processes now, or it is gone): Aborted naming it, else OK. A probe lost
// then says nothing about the network.
absl::Status PathUnchanged(const ClusterState& before, const trace::Path& p) {
  MKN_RETURN_IF_ERROR(StillUp(before));
  absl::StatusOr<ClusterState> now = ReadState(before.cluster);
  if (!now.ok()) return absl::OkStatus();
  std::set<std::string> pods;
  for (const trace::Hop& h : p.hops)
    if (h.kind == "pod") pods.insert(h.object);
  for (const std::string& name : pods) {
    const PodState* a = before.FindPod(name);
    const PodState* b = now->FindPod(name);
    if (a == nullptr || (b != nullptr && *a == *b)) continue;
    return absl::AbortedError(StrCat("trace: the path changed during the trace: pod ", name,
                                     b == nullptr ? " is gone" : " was restarted",
                                     " (kill or scale) while the probe was out; trace again"));
  }
  return absl::OkStatus();
}

// Writes `bytes` to `path` by `deadline`. A FIFO waits for its reader (open() would block for
// ever without one, and so would a write to a full pipe nobody reads): opened and written
// non-blocking, its reader waited for in steps of 20 ms, DeadlineExceeded saying why when none
// comes (or stops reading) in time. vnet/kernel/errors.h's codes for the rest.
absl::Status WritePcap(const std::string& path, std::string_view bytes, absl::Time deadline) {
  Fd f;
  for (;;) {
    f = Fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0644));
    if (f.valid()) break;
    if (errno != ENXIO) return KernelError(errno, StrCat("create ", path));
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          StrCat("trace: --pcap ", path,
                 " is a FIFO and nothing opened it for reading within the trace's --timeout: "
                 "start its reader first (tshark -r ",
                 path, ", wireshark -k -i ", path, ")"));
    }
    ::usleep(20 * 1000);
  }
  for (size_t off = 0; off < bytes.size();) {
    const ssize_t n = ::write(f.get(), bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
      pollfd pfd{f.get(), POLLOUT, 0};
      if (left <= 0 || ::poll(&pfd, 1, static_cast<int>(left)) == 0) {
        return absl::DeadlineExceededError(
            StrCat("trace: --pcap ", path, ": its reader stopped reading; ", off, " of ",
                   bytes.size(), " bytes written within the trace's --timeout"));
      }
      continue;
    }
    if (n < 0) return KernelError(errno, StrCat("write ", path));
    off += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace mkn::vnet
