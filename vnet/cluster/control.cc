#include "vnet/cluster/control.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "lib/strings/str_cat.h"
#include "vnet/cluster/state.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {
namespace {

constexpr size_t kMaxRequest = 64 << 10;    // a request is one small JSON object
constexpr size_t kMaxResponse = 256 << 20;  // a listing of every flow of a busy node

absl::StatusOr<sockaddr_un> Address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof(a.sun_path))
    return absl::InvalidArgumentError(StrCat("socket path too long: ", path));
  std::memcpy(a.sun_path, path.data(), path.size());
  return a;
}

// Waits for `events` on fd until the deadline. False on timeout.
bool WaitFor(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

// Reads up to the first newline (or EOF). Empty optional on timeout or error.
std::optional<std::string> ReadLine(int fd, std::chrono::steady_clock::time_point deadline,
                                    size_t max) {
  std::string out;
  char buf[65536];
  while (out.size() < max) {
    if (!WaitFor(fd, POLLIN, deadline)) return std::nullopt;
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return std::nullopt;
    }
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    if (size_t nl = out.find('\n'); nl != std::string::npos) {
      out.resize(nl);
      return out;
    }
  }
  return std::nullopt;
}

bool WriteAll(int fd, std::string_view data, std::chrono::steady_clock::time_point deadline) {
  while (!data.empty()) {
    if (!WaitFor(fd, POLLOUT, deadline)) return false;
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

struct ControlServer::Impl {
  std::string path;
  Handler handler;
  Fd listen, wake;
  std::thread thread;

  void Run() {
    for (;;) {
      pollfd p[2] = {{listen.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (p[1].revents != 0) return;
      int c = ::accept4(listen.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c < 0) continue;
      Fd conn(c);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      std::optional<std::string> req = ReadLine(conn.get(), deadline, kMaxRequest);
      if (!req) continue;  // a client that says nothing in time is dropped
      std::string resp = handler(*req);
      resp += '\n';
      (void)WriteAll(conn.get(), resp, std::chrono::steady_clock::now() + std::chrono::seconds(5));
    }
  }
};

std::string ControlSocketPath(const std::string& cluster) {
  return StateDirOf(cluster) + "/control/control.sock";
}

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Start(const std::string& path,
                                                                    Handler handler) {
  std::unique_ptr<ControlServer> s(new ControlServer());
  s->impl_ = std::make_unique<Impl>();
  Impl& impl = *s->impl_;
  impl.path = path;
  impl.handler = std::move(handler);
  absl::StatusOr<sockaddr_un> addr = Address(path);
  if (!addr.ok()) return addr.status();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "control socket");
  impl.listen.Reset(fd);
  ::unlink(
      path.c_str());  // a stale socket of a killed run; the cluster lock says we own the directory
  // The socket sits in a 0700 directory: no other user can reach it, not even between bind() and
  // chmod() (and the umask, process-wide, stays untouched).
  std::string dir = path.substr(0, path.rfind('/'));
  if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST)
    return absl::ErrnoToStatus(errno, StrCat("mkdir ", dir));
  if (::chmod(dir.c_str(), 0700) < 0) return absl::ErrnoToStatus(errno, StrCat("chmod ", dir));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) < 0) {
    return absl::ErrnoToStatus(errno, StrCat("bind ", path));
  }
  ::chmod(path.c_str(), 0600);
  if (::listen(fd, 16) < 0) return absl::ErrnoToStatus(errno, StrCat("listen ", path));
  int ev = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (ev < 0) return absl::ErrnoToStatus(errno, "eventfd");
  impl.wake.Reset(ev);
  impl.thread = std::thread([&impl] { impl.Run(); });
  return s;
}

ControlServer::~ControlServer() { Stop(); }

void ControlServer::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  uint64_t one = 1;
  (void)!::write(impl_->wake.get(), &one, sizeof(one));
  impl_->thread.join();
  impl_->listen.Reset();
  ::unlink(impl_->path.c_str());
}

absl::StatusOr<std::string> ControlCall(const std::string& cluster, const std::string& request,
                                        int timeout_ms) {
  const std::string path = ControlSocketPath(cluster);
  absl::StatusOr<sockaddr_un> addr = Address(path);
  if (!addr.ok()) return addr.status();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  Fd conn(fd);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) < 0) {
    return absl::UnavailableError(StrCat("cluster ", cluster, " does not answer on ", path, " (",
                                         std::strerror(errno),
                                         "): is its process running? see: minikube-net status"));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  if (!WriteAll(fd, request + "\n", deadline))
    return absl::UnavailableError(StrCat("send to ", path, " failed"));
  std::optional<std::string> resp = ReadLine(fd, deadline, kMaxResponse);
  if (!resp) {
    return std::chrono::steady_clock::now() < deadline
               ? absl::ResourceExhaustedError(StrCat("cluster ", cluster, ": the answer is over ",
                                                     kMaxResponse >> 20, " MiB"))
               : absl::DeadlineExceededError(
                     StrCat("cluster ", cluster, ": no answer within ", timeout_ms, " ms"));
  }
  return *resp;
}

}  // namespace mkn::vnet
