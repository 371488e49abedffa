// vnet/edge/ingress_test_util — what the edge server's tests share (tests only): sockets on
// loopback with deadlines (Conn), HTTP/1.1 messages as bytes on the wire (ReadMessage), scripted
// backends on 127.0.0.1:0 (Backend), and the server under test in front of them
// (IngressServerTest).
//
// The edge server (vnet/edge/ingress) runs over real sockets on loopback, no privileges: a listener
// on 127.0.0.1:0, upstream sockets made in the test's own netns (IngressServer::kCallerNetns), and
// backends that answer, stall, reset or refuse on purpose. Every case asserts the bytes a client
// sees and, where it matters, what the backend received. The lab is a real lab file (config::Load)
// with the pod addresses and target ports then pointed at the test's backends: the pod CIDR is not
// reachable without namespaces, loopback is. No read waits past kDeadline, so a missing answer
// fails a test instead of hanging it.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lib/config/spec.h"
#include "lib/config/toml/load.h"
#include "vnet/edge/ingress.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet::ingress_test {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline constexpr milliseconds kDeadline{3000};  // no single wait in a test may take longer

// --- sockets -------------------------------------------------------------------------------------

inline sockaddr_in LoopbackAddr(int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

// A TCP socket bound to 127.0.0.1:0; listening if `listen`. Returns it and its port. Bound but not
// listening, it answers every SYN with a RST: a backend that refuses, deterministically.
inline std::pair<Fd, int> BindLoopback(bool listen) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa = LoopbackAddr(0);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0) << strerror(errno);
  if (listen) {
    EXPECT_EQ(::listen(fd.get(), 64), 0) << strerror(errno);
  }
  socklen_t len = sizeof(sa);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  return {std::move(fd), ntohs(sa.sin_port)};
}

// Closes with a RST instead of a FIN (SO_LINGER 0): a backend that crashes.
inline void Reset(Fd& fd) {
  linger lg{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  fd.Reset();
}

// One end of a TCP connection with a buffer of received, unconsumed bytes. Every read waits at most
// until the connection's deadline, so a missing answer fails a test instead of hanging it.
class Conn {
 public:
  explicit Conn(Fd fd, milliseconds budget = kDeadline)
      : fd_(std::move(fd)), deadline_(Clock::now() + budget) {}

  static Conn Connect(int port) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa = LoopbackAddr(port);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0)
        << strerror(errno);
    return Conn(std::move(fd));
  }

  int fd() const { return fd_.get(); }
  Fd& raw() { return fd_; }
  std::string& buf() { return buf_; }
  bool eof() const { return eof_; }      // the peer closed (FIN)
  bool reset() const { return reset_; }  // the peer reset (RST)
  bool closed() const { return eof_ || reset_; }
  bool timed_out() const { return timed_out_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads once, waiting at most `wait` (and never past the deadline). False when nothing came.
  bool ReadSome(milliseconds wait = milliseconds::max()) {
    if (closed()) return false;
    auto left = std::chrono::duration_cast<milliseconds>(deadline_ - Clock::now());
    if (left.count() <= 0) {
      timed_out_ = true;
      return false;
    }
    milliseconds w = std::min(wait, left);
    pollfd p{fd_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(w.count()));
    if (r == 0) {
      if (w == left) timed_out_ = true;
      return false;
    }
    char tmp[16384];
    ssize_t n = ::recv(fd_.get(), tmp, sizeof(tmp), 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) eof_ = true;
    if (n < 0 && errno == ECONNRESET) reset_ = true;
    if (n < 0 && errno != ECONNRESET && errno != EINTR) timed_out_ = true;
    return false;
  }
  bool Fill(size_t n) {
    while (buf_.size() < n) {
      if (!ReadSome() && (closed() || timed_out_)) return false;
    }
    return true;
  }
  // Until `marker` is in the buffer; returns the offset just past it, or npos.
  size_t FillUntil(std::string_view marker) {
    for (;;) {
      if (size_t at = buf_.find(marker); at != std::string::npos) return at + marker.size();
      if (!ReadSome() && (closed() || timed_out_)) return std::string::npos;
    }
  }
  // Until the peer closes or resets; true if it did before the deadline.
  bool DrainToClose() {
    while (!closed()) {
      if (!ReadSome() && timed_out_) return false;
    }
    return true;
  }
  std::string Take(size_t n) {
    std::string out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
  }

 private:
  Fd fd_;
  Clock::time_point deadline_;
  std::string buf_;
  bool eof_ = false, reset_ = false, timed_out_ = false;
};

// --- HTTP/1.1 messages, as bytes on the wire -----------------------------------------------------

struct Message {
  std::string start;  // "GET / HTTP/1.1" or "HTTP/1.1 200 OK"
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercase, in order
  std::string body;
  bool complete = false;  // the body ended as its framing says (length reached, last chunk seen)

  int status() const {
    int s = 0;
    if (start.size() >= 12) (void)absl::SimpleAtoi(start.substr(9, 3), &s);
    return s;
  }
  int Count(std::string_view name) const {
    int n = 0;
    for (const auto& [k, v] : headers) n += k == name;
    return n;
  }
  // The values of `name`, joined with ", " as a list header's fields are.
  std::string Get(std::string_view name) const {
    std::string out;
    for (const auto& [k, v] : headers) {
      if (k == name) absl::StrAppend(&out, out.empty() ? "" : ", ", v);
    }
    return out;
  }
  std::string Dump() const {
    std::string out = start + "\n";
    for (const auto& [k, v] : headers) absl::StrAppend(&out, k, ": ", v, "\n");
    return out;
  }
};

// Decodes a chunked body from `c` into `out`, calling `on_data` after each chunk's data arrived.
inline bool ReadChunked(Conn& c, std::string& out, const std::function<void()>& on_data = nullptr) {
  for (;;) {
    size_t eol = c.FillUntil("\r\n");
    if (eol == std::string::npos) return false;
    std::string line = c.Take(eol);
    std::string hex = line.substr(0, line.find_first_of(";\r"));
    char* end = nullptr;
    const uint64_t size = std::strtoull(hex.c_str(), &end, 16);
    if (hex.empty() || *end != '\0') return false;
    if (size == 0) {  // trailers up to an empty line
      for (;;) {
        size_t e = c.FillUntil("\r\n");
        if (e == std::string::npos) return false;
        if (c.Take(e) == "\r\n") return true;
      }
    }
    if (!c.Fill(size + 2)) {
      out += c.Take(c.buf().size());  // what came before the cut, for the caller to look at
      return false;
    }
    out += c.Take(size);
    if (c.Take(2) != "\r\n") return false;
    if (on_data) on_data();
  }
}

// Reads one message from `c`. The body follows the framing: Content-Length, chunked, or (a response
// with neither) up to the close. nullopt when no complete header arrived.
inline std::optional<Message> ReadMessage(Conn& c, bool response, bool head_only = false) {
  size_t end = c.FillUntil("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  std::string head = c.Take(end);
  Message m;
  size_t eol = head.find("\r\n");
  m.start = head.substr(0, eol);
  for (size_t at = eol + 2; at + 2 < head.size();) {
    size_t next = head.find("\r\n", at);
    std::string line = head.substr(at, next - at);
    size_t colon = line.find(':');
    std::string name = absl::AsciiStrToLower(line.substr(0, colon));
    std::string value(
        absl::StripAsciiWhitespace(colon == std::string::npos ? "" : line.substr(colon + 1)));
    m.headers.emplace_back(std::move(name), std::move(value));
    at = next + 2;
  }
  if (head_only) return m;
  if (absl::AsciiStrToLower(m.Get("transfer-encoding")) == "chunked") {
    m.complete = ReadChunked(c, m.body);
  } else if (std::string cl = m.Get("content-length"); !cl.empty()) {
    uint64_t n = 0;
    EXPECT_TRUE(absl::SimpleAtoi(cl, &n)) << cl;
    m.complete = c.Fill(n);
    m.body = c.Take(std::min<size_t>(n, c.buf().size()));
  } else if (response) {
    m.complete = c.DrainToClose();
    m.body = c.Take(c.buf().size());
  } else {
    m.complete = true;
  }
  return m;
}

// --- scripted backends ---------------------------------------------------------------------------

// A backend on 127.0.0.1:0: every accepted connection runs `handler` on a thread of its own; it
// records what the handler hands to Record() so the test can wait for it.
class Backend {
 public:
  using Handler = std::function<void(Backend&, Conn&)>;
  explicit Backend(Handler handler) : handler_(std::move(handler)) {
    std::tie(listen_, port_) = BindLoopback(true);
    acceptor_ = std::thread([this] {
      for (;;) {
        int fd = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EINTR || errno == ECONNABORTED) continue;
          return;  // shut down by the destructor
        }
        std::lock_guard<std::mutex> l(mu_);
        ++connections_;
        conns_.emplace_back([this, fd] {
          Conn c{Fd(fd)};
          handler_(*this, c);
        });
      }
    });
  }
  ~Backend() {
    ::shutdown(listen_.get(), SHUT_RDWR);  // wakes accept()
    acceptor_.join();
    for (std::thread& t : conns_) t.join();
  }

  int port() const { return port_; }
  int connections() {
    std::lock_guard<std::mutex> l(mu_);
    return connections_;
  }
  void Record(Message m) {
    std::lock_guard<std::mutex> l(mu_);
    requests_.push_back(std::move(m));
    cv_.notify_all();
  }
  void Signal(const std::string& what) {
    std::lock_guard<std::mutex> l(mu_);
    signals_.push_back(what);
    cv_.notify_all();
  }
  // Waits (up to the deadline) for `n` recorded requests; returns them.
  std::vector<Message> WaitRequests(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, kDeadline, [&] { return requests_.size() >= n; });
    return requests_;
  }
  bool WaitSignal(const std::string& what) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, kDeadline, [&] {
      return std::find(signals_.begin(), signals_.end(), what) != signals_.end();
    });
  }

 private:
  Handler handler_;
  Fd listen_;
  int port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> conns_;
  int connections_ = 0;
  std::vector<Message> requests_;
  std::vector<std::string> signals_;
};

// Answers every request on the connection with 200 and `body` (keep-alive), recording each.
inline Backend::Handler Answering(std::string body, std::string extra_headers = "") {
  return [=](Backend& b, Conn& c) {
    while (std::optional<Message> m = ReadMessage(c, false)) {
      b.Record(*m);
      c.Send(absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(), "\r\n", extra_headers,
                          "\r\n", body));
    }
  };
}

// --- the server under test -----------------------------------------------------------------------

// app.test -> service app (the backend), empty.test -> a service without endpoints, refused.test ->
// a pod whose port refuses. Anything else has no route (no default backend).
inline constexpr std::string_view kLab = R"(
[cluster]
name = "itest"

[[pod]]
name = "app-0"
labels = { app = "app" }
  [[pod.container]]
  app = "http-echo"
  port = 8080

[[pod]]
name = "refuser-0"
labels = { app = "refuser" }
  [[pod.container]]
  app = "http-echo"
  port = 8080

[[service]]
name = "app"
selector = { app = "app" }
  [[service.port]]
  port = 80
  target_port = 8080

[[service]]
name = "refused"
selector = { app = "refuser" }
  [[service.port]]
  port = 80
  target_port = 8080

[[service]]
name = "empty"
selector = { app = "nobody" }
  [[service.port]]
  port = 80

[[http_route]]
name = "app"
hostnames = ["app.test"]
  [[http_route.rule]]
  backend_refs = [{ service = "app", port = 80 }]

[[http_route]]
name = "refused"
hostnames = ["refused.test"]
  [[http_route.rule]]
  backend_refs = [{ service = "refused", port = 80 }]

[[http_route]]
name = "empty"
hostnames = ["empty.test"]
  [[http_route.rule]]
  backend_refs = [{ service = "empty", port = 80 }]

[[listener]]
name = "web"
upstream = "endpoints"
upstream_timeout = 1
)";

inline IngressLimits TestLimits() {
  IngressLimits lim;
  lim.header_timeout = milliseconds(2000);
  lim.idle_timeout = milliseconds(2000);
  lim.connect_timeout = milliseconds(1000);
  lim.drain_timeout = milliseconds(2000);
  return lim;
}

// kLab with the pods on loopback: app.test's service to `backend_port`, refused.test's to
// `refuser_port`; its one listener on 127.0.0.1:0. Empty when the lab does not load (a test bug).
inline std::optional<config::ClusterSpec> TestSpec(int backend_port, int refuser_port) {
  config::LoadResult r = config::Load(kLab, "itest.toml");
  if (!r.spec) {
    ADD_FAILURE() << r.diags.FormatAll();
    return std::nullopt;
  }
  config::ClusterSpec spec = *r.spec;
  for (config::PodSpec& p : spec.pods) p.ip = net::Ipv4(INADDR_LOOPBACK);
  for (config::ServiceSpec& s : spec.services) {
    for (config::ServicePortSpec& p : s.ports) {
      p.target_port = s.name == "app" ? backend_port : refuser_port;
      p.target_port_name.clear();
    }
  }
  spec.listeners.at(0).port = 0;
  return spec;
}

// The port a started server's one listener took ("http 127.0.0.1:PORT"), or 0.
inline int ListeningPort(const IngressServer& server) {
  std::vector<std::string> ls = server.Listening();
  int port = 0;
  if (ls.size() != 1 || !absl::StartsWith(ls[0], "http 127.0.0.1:") ||
      !absl::SimpleAtoi(ls[0].substr(strlen("http 127.0.0.1:")), &port))
    return 0;
  return port;
}

class IngressServerTest : public ::testing::Test {
 protected:
  // What a test changes in the lab or the server's options before the start.
  using Adjust = std::function<void(config::ClusterSpec&, IngressOptions&)>;

  // Starts a backend running `handler` and the server in front of it.
  void Start(Backend::Handler handler, IngressLimits limits = TestLimits(),
             const Adjust& adjust = nullptr) {
    backend_ = std::make_unique<Backend>(std::move(handler));
    std::tie(refuser_, refuser_port_) = BindLoopback(false);
    std::optional<config::ClusterSpec> spec = TestSpec(backend_->port(), refuser_port_);
    ASSERT_TRUE(spec);
    IngressOptions o;
    o.limits = limits;
    o.threads = 2;  // requests on different connections really run at once
    if (adjust) adjust(*spec, o);
    absl::StatusOr<std::unique_ptr<IngressServer>> s =
        IngressServer::Start(*spec, {{spec->nodes[0].netns, IngressServer::kCallerNetns}}, o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    port_ = ListeningPort(*server_);
    ASSERT_NE(port_, 0) << "Listening() must say which port the kernel chose";
  }
  void TearDown() override {
    server_.reset();  // closes the pooled upstream connections: the backend's handlers see EOF
    backend_.reset();
  }

  Conn Client() { return Conn::Connect(port_); }

  // One request on `c`, its response read.
  Message Roundtrip(Conn& c, std::string_view request) {
    EXPECT_TRUE(c.Send(request));
    std::optional<Message> m = ReadMessage(c, true);
    EXPECT_TRUE(m) << "no response to " << request.substr(0, request.find("\r\n"));
    return m.value_or(Message{});
  }

  std::unique_ptr<Backend> backend_;
  Fd refuser_;
  int refuser_port_ = 0;
  std::unique_ptr<IngressServer> server_;
  int port_ = 0;
};

}  // namespace mkn::vnet::ingress_test
