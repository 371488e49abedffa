#include "vnet/cluster/control.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <list>
#include <mutex>
#include <system_error>
#include <thread>

#include "lib/strings/str_cat.h"
#include "vnet/cluster/state.h"
#include "vnet/kernel/errors.h"
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

// Waits for `events` on fd until the deadline. False on timeout, on an error, or when `wake` (if
// not -1) becomes readable: the server is stopping.
bool WaitFor(int fd, short events, std::chrono::steady_clock::time_point deadline, int wake = -1) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd p[2] = {{fd, events, 0}, {wake, POLLIN, 0}};
    int r = ::poll(p, wake >= 0 ? 2 : 1, static_cast<int>(left));
    if (r > 0) return p[0].revents != 0 && (wake < 0 || p[1].revents == 0);
    if (r < 0 && errno != EINTR) return false;
  }
}

// kEof: the peer closed before a newline. A request ends there as well as at a newline; an answer
// does not (the server always ends it with one), so to a client it means the server's process
// ended while it owed the answer.
enum class ReadEnd { kLine, kEof, kTimeout, kTooLong };

// Reads up to the first newline (or EOF) into `out`.
ReadEnd ReadLine(int fd, std::chrono::steady_clock::time_point deadline, size_t max,
                 std::string& out, int wake = -1) {
  out.clear();
  char buf[65536];
  while (out.size() < max) {
    if (!WaitFor(fd, POLLIN, deadline, wake)) return ReadEnd::kTimeout;
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      // A peer that ended with our bytes unread resets the connection: it ended all the same.
      if (errno == ECONNRESET) return ReadEnd::kEof;
      return ReadEnd::kTimeout;
    }
    if (n == 0) return ReadEnd::kEof;
    out.append(buf, static_cast<size_t>(n));
    if (size_t nl = out.find('\n'); nl != std::string::npos) {
      out.resize(nl);
      return ReadEnd::kLine;
    }
  }
  return ReadEnd::kTooLong;
}

bool WriteAll(int fd, std::string_view data, std::chrono::steady_clock::time_point deadline,
              int wake = -1) {
  while (!data.empty()) {
    if (!WaitFor(fd, POLLOUT, deadline, wake)) return false;
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
  // One connection, served on its own thread; the acceptor joins it once `done`.
  struct Conn {
    std::thread thread;
    bool done = false;  // under mu
  };

  std::string path;
  Handler handler;
  Fd listen, wake;
  std::thread acceptor;
  mutable std::mutex mu;
  std::condition_variable ended;  // a connection ended, or Stop()
  std::list<std::unique_ptr<Conn>> conns;
  bool stopping = false;  // under mu
  ControlStats stats;     // under mu

  void Count(uint64_t ControlStats::*field) {
    std::lock_guard<std::mutex> l(mu);
    ++(stats.*field);
  }

  // Joins the connections that ended; returns how many still run. Acceptor thread only.
  size_t Reap() {
    std::list<std::unique_ptr<Conn>> finished;
    {
      std::lock_guard<std::mutex> l(mu);
      for (auto it = conns.begin(); it != conns.end();) {
        if ((*it)->done) {
          finished.push_back(std::move(*it));
          it = conns.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& c : finished) c->thread.join();
    std::lock_guard<std::mutex> l(mu);
    return conns.size();
  }

  void Accept() {
    for (;;) {
      if (Reap() >= static_cast<size_t>(kMaxControlConnections)) {
        // At the cap: accept nothing until a connection ends (each ends within its deadlines);
        // the listen backlog holds the newcomers meanwhile.
        std::unique_lock<std::mutex> l(mu);
        ++stats.at_cap;
        ended.wait(l, [&] {
          if (stopping) return true;
          for (const auto& c : conns)
            if (c->done) return true;
          return false;
        });
        if (stopping) return;
        continue;
      }
      pollfd p[2] = {{listen.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        Count(&ControlStats::accept_errors);
        return;
      }
      if (p[1].revents != 0) return;
      int c = ::accept4(listen.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
        // Out of fds (EMFILE, ENFILE) or memory: the socket stays readable, so retrying at once
        // would spin. Back off until a connection ends or 100 ms pass.
        Count(&ControlStats::accept_errors);
        std::unique_lock<std::mutex> l(mu);
        ended.wait_for(l, std::chrono::milliseconds(100), [&] { return stopping; });
        if (stopping) return;
        continue;
      }
      auto conn = std::make_unique<Conn>();
      Conn* raw = conn.get();
      try {
        conn->thread = std::thread([this, raw, fd = c] { Serve(Fd(fd), *raw); });
      } catch (const std::system_error&) {
        ::close(c);  // no thread to serve it: the client sees the connection close
        Count(&ControlStats::thread_errors);
        continue;
      }
      std::lock_guard<std::mutex> l(mu);
      conns.push_back(std::move(conn));
    }
  }

  void Serve(Fd conn, Conn& self) {
    std::string req;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kControlRequestDeadlineMs);
    const ReadEnd end = ReadLine(conn.get(), deadline, kMaxRequest, req, wake.get());
    uint64_t ControlStats::*outcome = &ControlStats::served;
    if (end == ReadEnd::kTimeout ||
        ((end == ReadEnd::kLine || end == ReadEnd::kEof) && req.empty())) {
      outcome = &ControlStats::dropped_idle;
    } else if (end == ReadEnd::kTooLong) {
      outcome = &ControlStats::dropped_long;
    } else {
      std::string resp = handler(req);
      resp += '\n';
      if (!WriteAll(conn.get(), resp,
                    std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(kControlAnswerDeadlineMs),
                    wake.get())) {
        outcome = &ControlStats::unanswered;
      }
    }
    conn.Reset();
    std::lock_guard<std::mutex> l(mu);
    ++(stats.*outcome);
    self.done = true;
    ended.notify_all();
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
  if (fd < 0) return KernelError(errno, "control socket");
  impl.listen.Reset(fd);
  ::unlink(
      path.c_str());  // a stale socket of a killed run; the cluster lock says we own the directory
  // The socket sits in a 0700 directory: no other user can reach it, not even between bind() and
  // chmod() (and the umask, process-wide, stays untouched).
  std::string dir = path.substr(0, path.rfind('/'));
  if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST)
    return KernelError(errno, StrCat("mkdir ", dir));
  if (::chmod(dir.c_str(), 0700) < 0) return KernelError(errno, StrCat("chmod ", dir));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) < 0) {
    return KernelError(errno, StrCat("bind ", path));
  }
  // The directory is 0700 already; the socket's own mode is a second lock on the same door.
  if (::chmod(path.c_str(), 0600) < 0) return KernelError(errno, StrCat("chmod ", path));
  if (::listen(fd, 128) < 0) return KernelError(errno, StrCat("listen ", path));
  int ev = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (ev < 0) return KernelError(errno, "eventfd");
  impl.wake.Reset(ev);
  try {
    impl.acceptor = std::thread([&impl] { impl.Accept(); });
  } catch (const std::system_error& e) {
    return absl::UnavailableError(StrCat("start the control socket's thread: ", e.what()));
  }
  return s;
}

ControlServer::~ControlServer() { Stop(); }

void ControlServer::Stop() {
  if (!impl_ || !impl_->acceptor.joinable()) return;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stopping = true;
  }
  impl_->ended.notify_all();
  // Wakes the acceptor and every connection still waiting for its client (the eventfd stays
  // readable: nobody reads it). It cannot fail: an eventfd write fails only on overflow.
  uint64_t one = 1;
  [[maybe_unused]] ssize_t woke = ::write(impl_->wake.get(), &one, sizeof(one));
  impl_->acceptor.join();
  std::list<std::unique_ptr<Impl::Conn>> conns;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    conns.swap(impl_->conns);
  }
  for (auto& c : conns) c->thread.join();  // requests in progress finish
  impl_->listen.Reset();
  ::unlink(impl_->path.c_str());
}

ControlStats ControlServer::Stats() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->stats;
}

absl::StatusOr<std::string> ControlCall(const std::string& cluster, const std::string& request,
                                        int timeout_ms) {
  return ControlCallAt(ControlSocketPath(cluster), cluster, request, timeout_ms);
}

absl::StatusOr<std::string> ControlCallAt(const std::string& path, const std::string& cluster,
                                          const std::string& request, int timeout_ms) {
  absl::StatusOr<sockaddr_un> addr = Address(path);
  if (!addr.ok()) return addr.status();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return KernelError(errno, "socket");
  Fd conn(fd);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&*addr), sizeof(*addr)) < 0) {
    return absl::UnavailableError(StrCat("cluster ", cluster, " does not answer on ", path, " (",
                                         std::strerror(errno),
                                         "): is its process running? see: minikube-net status"));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  if (!WriteAll(fd, request + "\n", deadline))
    return absl::UnavailableError(StrCat("send to ", path, " failed"));
  std::string resp;
  switch (ReadLine(fd, deadline, kMaxResponse, resp)) {
    case ReadEnd::kLine:
      return resp;
    case ReadEnd::kEof:
      // Not "a malformed answer": the cluster's process died (or was killed) mid-request; what
      // the user needs is that it ended, and where to look.
      return absl::UnavailableError(StrCat(
          "cluster ", cluster, "'s process ended before it ",
          resp.empty() ? "answered" : StrCat("finished its answer (", resp.size(), " bytes came)"),
          ": the request may or may not have taken effect; see: minikube-net status"));
    case ReadEnd::kTooLong:
      return absl::ResourceExhaustedError(
          StrCat("cluster ", cluster, ": the answer is over ", kMaxResponse >> 20, " MiB"));
    case ReadEnd::kTimeout:
      break;
  }
  if (std::chrono::steady_clock::now() < deadline)
    return absl::UnavailableError(StrCat("cluster ", cluster, ": the connection failed"));
  return absl::DeadlineExceededError(
      StrCat("cluster ", cluster, ": no answer within ", timeout_ms, " ms"));
}

}  // namespace mkn::vnet
