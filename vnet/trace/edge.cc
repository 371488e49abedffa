#include "vnet/trace/edge.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {
namespace {

// Waits for `events` on `fd` until `deadline`; false on timeout or error.
bool WaitFor(int fd, short events, absl::Time deadline) {
  for (;;) {
    const int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(ms));
    if (n > 0) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

}  // namespace

std::string NewEdgeMarker() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  const uint64_t x = (static_cast<uint64_t>(ts.tv_sec) * 1000000000u + ts.tv_nsec) ^
                     (static_cast<uint64_t>(::getpid()) * 0x9e3779b97f4a7c15ull);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
  return buf;
}

absl::Status SendEdgeRequest(int fd, const trace::Request& r, absl::Duration timeout) {
  const std::string listener = StrCat(r.dst.ip.ToString(), ":", r.dst.port);
  if (!WaitFor(fd, POLLOUT, absl::Now() + timeout))
    return absl::DeadlineExceededError(StrCat("trace: connect to the edge at ", listener));
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err != 0) return KernelError(err, StrCat("connect to the edge at ", listener));
  const trace::EdgeRequest& e = *r.edge;
  const std::string req = StrCat("GET ", e.target, " HTTP/1.1\r\nHost: ", e.host,
                                 "\r\nUser-Agent: minikube-net-trace\r\n", trace::kEdgeMarkerHeader,
                                 ": ", e.marker, "\r\nConnection: close\r\n\r\n");
  const absl::Time deadline = absl::Now() + timeout;
  for (size_t off = 0; off < req.size();) {
    const ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && WaitFor(fd, POLLOUT, deadline)) continue;
    if (n < 0) return KernelError(errno, StrCat("send the request to the edge at ", listener));
    off += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

std::string ReadEdgeResponse(int fd, absl::Duration wait) {
  std::string out;
  const absl::Time deadline = absl::Now() + wait;
  char buf[4096];
  while (out.size() < (64u << 10) && WaitFor(fd, POLLIN, deadline)) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // closed (Connection: close) or reset
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string_view ResponseBody(std::string_view response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string_view::npos ? std::string_view() : response.substr(end + 4);
}

std::optional<trace::EdgeLogEntry> WaitEdgeLogLine(const std::string& path, std::string_view marker,
                                                   absl::Time deadline) {
  for (;;) {
    Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (f.valid()) {
      // The tail is enough: the line was written a moment ago.
      const off_t size = ::lseek(f.get(), 0, SEEK_END);
      const off_t from = size > (256 << 10) ? size - (256 << 10) : 0;
      std::string text(static_cast<size_t>(size - from), '\0');
      const ssize_t n = ::pread(f.get(), text.data(), text.size(), from);
      if (n > 0) {
        text.resize(static_cast<size_t>(n));
        for (size_t at = 0; at < text.size();) {
          size_t end = text.find('\n', at);
          if (end == std::string::npos) end = text.size();
          if (std::optional<trace::EdgeLogEntry> e =
                  trace::ParseEdgeLogLine(std::string_view(text).substr(at, end - at), marker))
            return e;
          at = end + 1;
        }
      }
    }
    if (absl::Now() >= deadline) return std::nullopt;
    // A file has nothing to poll on: look again shortly (the edge flushes every 100 ms).
    absl::SleepFor(absl::Milliseconds(20));
  }
}

bool MatchesHttp(const trace::Hop& h, const Parsed& copy, trace::Direction dir,
                 std::string_view marker, const std::optional<uint16_t>& learnt) {
  if (h.dir != dir || h.outer != copy.outer || copy.payload.empty() || !h.Carries(copy.flow))
    return false;
  if (h.leg == trace::Leg::kRequest) return copy.payload.find(marker) != std::string::npos;
  if (!h.random_port) return true;  // lo: the client's own port is in the flow
  return learnt && copy.flow.dport == *learnt;
}

}  // namespace mkn::vnet
