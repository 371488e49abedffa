// The edge server (vnet/edge/ingress) over real sockets on loopback, no privileges: a listener on
// 127.0.0.1:0, upstream sockets made in the test's own netns (IngressServer::kCallerNetns), and
// scripted backends on 127.0.0.1:0 that answer, stall, reset or refuse on purpose. Every case
// asserts the bytes a client sees and, where it matters, what the backend received.
//
// The lab is a real lab file (config::Load) with the pod addresses and target ports then pointed at
// the test's backends: the pod CIDR is not reachable without namespaces, loopback is.
#include "vnet/edge/ingress.h"

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
#include "vnet/kernel/fd.h"

namespace mkn::vnet {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kDeadline{3000};  // no single wait in a test may take longer

// --- sockets
// --------------------------------------------------------------------------------------

sockaddr_in LoopbackAddr(int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

// A TCP socket bound to 127.0.0.1:0; listening if `listen`. Returns it and its port. Bound but not
// listening, it answers every SYN with a RST: a backend that refuses, deterministically.
std::pair<Fd, int> BindLoopback(bool listen) {
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
void Reset(Fd& fd) {
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

// --- HTTP/1.1 messages, as bytes on the wire
// ------------------------------------------------------

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
bool ReadChunked(Conn& c, std::string& out, const std::function<void()>& on_data = nullptr) {
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
std::optional<Message> ReadMessage(Conn& c, bool response, bool head_only = false) {
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

// --- scripted backends
// ----------------------------------------------------------------------------

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
Backend::Handler Answering(std::string body, std::string extra_headers = "") {
  return [=](Backend& b, Conn& c) {
    while (std::optional<Message> m = ReadMessage(c, false)) {
      b.Record(*m);
      c.Send(absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(), "\r\n", extra_headers,
                          "\r\n", body));
    }
  };
}

// --- the server under test
// ------------------------------------------------------------------------

// app.test -> service app (the backend), empty.test -> a service without endpoints, refused.test ->
// a pod whose port refuses. Anything else has no route (no default backend).
constexpr std::string_view kLab = R"(
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

IngressLimits TestLimits() {
  IngressLimits lim;
  lim.header_timeout = milliseconds(2000);
  lim.idle_timeout = milliseconds(2000);
  lim.connect_timeout = milliseconds(1000);
  lim.drain_timeout = milliseconds(2000);
  return lim;
}

class IngressServerTest : public ::testing::Test {
 protected:
  // Starts a backend running `handler` and the server in front of it.
  void Start(Backend::Handler handler, IngressLimits limits = TestLimits()) {
    backend_ = std::make_unique<Backend>(std::move(handler));
    std::tie(refuser_, refuser_port_) = BindLoopback(false);
    config::LoadResult r = config::Load(kLab, "itest.toml");
    ASSERT_TRUE(r.spec) << r.diags.FormatAll();
    config::ClusterSpec spec = *r.spec;
    for (config::PodSpec& p : spec.pods) p.ip = net::Ipv4(INADDR_LOOPBACK);
    for (config::ServiceSpec& s : spec.services) {
      for (config::ServicePortSpec& p : s.ports) {
        p.target_port = s.name == "app" ? backend_->port() : refuser_port_;
        p.target_port_name.clear();
      }
    }
    ASSERT_EQ(spec.listeners.size(), 1u);
    spec.listeners[0].port = 0;
    IngressOptions o;
    o.limits = limits;
    o.threads = 2;  // requests on different connections really run at once
    absl::StatusOr<std::unique_ptr<IngressServer>> s =
        IngressServer::Start(spec, {{spec.nodes[0].netns, IngressServer::kCallerNetns}}, o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    std::vector<std::string> ls = server_->Listening();
    ASSERT_EQ(ls.size(), 1u);
    ASSERT_TRUE(absl::StartsWith(ls[0], "http 127.0.0.1:")) << ls[0];
    ASSERT_TRUE(absl::SimpleAtoi(ls[0].substr(strlen("http 127.0.0.1:")), &port_)) << ls[0];
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

// --- cases
// ----------------------------------------------------------------------------------------

TEST_F(IngressServerTest, ProxiesGetWithForwardingHeadersAndWithoutHopByHop) {
  Start(Answering(
      "hello",
      "Connection: X-Resp-Hop\r\nX-Resp-Hop: 1\r\nKeep-Alive: timeout=9\r\nX-App: yes\r\n"));
  Conn c = Client();
  Message res = Roundtrip(c,
                          "GET /items?id=7 HTTP/1.1\r\n"
                          "Host: app.test\r\n"
                          "Connection: keep-alive, X-Hop\r\n"
                          "X-Hop: secret\r\n"
                          "Keep-Alive: timeout=5\r\n"
                          "Proxy-Connection: keep-alive\r\n"
                          "TE: trailers\r\n"
                          "X-End: kept\r\n"
                          "X-Forwarded-For: 203.0.113.9\r\n"
                          "\r\n");
  EXPECT_EQ(res.start, "HTTP/1.1 200 OK");
  EXPECT_EQ(res.body, "hello");
  EXPECT_TRUE(res.complete);
  EXPECT_EQ(res.Get("x-app"), "yes");
  EXPECT_EQ(res.Count("x-resp-hop"), 0) << "a header the backend's Connection names is hop-by-hop\n"
                                        << res.Dump();
  EXPECT_EQ(res.Count("keep-alive"), 0) << res.Dump();
  EXPECT_EQ(res.Get("via"), "1.1 minikube-net");
  EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(res.Get("connection")), "close"))
      << res.Dump();

  std::vector<Message> got = backend_->WaitRequests(1);
  ASSERT_EQ(got.size(), 1u);
  const Message& up = got[0];
  EXPECT_EQ(up.start, "GET /items?id=7 HTTP/1.1");
  EXPECT_EQ(up.Get("host"), "app.test");
  EXPECT_EQ(up.Get("x-end"), "kept");
  for (const char* hop : {"x-hop", "keep-alive", "proxy-connection", "te"}) {
    EXPECT_EQ(up.Count(hop), 0) << hop << " is hop-by-hop\n" << up.Dump();
  }
  EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(up.Get("connection")), "x-hop"))
      << up.Dump();
  EXPECT_EQ(up.Get("x-forwarded-for"), "203.0.113.9, 127.0.0.1");
  EXPECT_EQ(up.Get("x-forwarded-proto"), "http");
  EXPECT_EQ(up.Get("x-forwarded-host"), "app.test");
  EXPECT_EQ(up.Get("forwarded"),
            absl::StrCat("for=127.0.0.1;proto=http;host=app.test;by=\"127.0.0.1:", port_, "\""));
  EXPECT_EQ(up.Get("via"), "1.1 minikube-net");
}

// The edge parses headers into views of its read buffer; a field the sender folded over two lines
// (obs-fold) is handed over unfolded in a copy of Beast's, a reason phrase as sent. Each arrives on
// one line with the fields around it intact, both ways; a HEAD answer (a length, no body) leaves
// the connection in step for the next request.
TEST_F(IngressServerTest, FoldedFieldsReasonPhrasesAndHeadPassThrough) {
  Start([](Backend& b, Conn& c) {
    while (std::optional<Message> m = ReadMessage(c, false)) {
      b.Record(*m);
      if (absl::StartsWith(m->start, "HEAD ")) {
        c.Send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Head: yes\r\n\r\n");
      } else {
        c.Send(
            "HTTP/1.1 203 Fine By Me\r\nContent-Length: 2\r\nX-Resp-Fold: alpha\r\n "
            "beta\r\nX-Tail: t\r\n\r\nok");
      }
    }
  });
  Conn c = Client();
  Message res = Roundtrip(c,
                          "GET /fold HTTP/1.1\r\n"
                          "Host: app.test\r\n"
                          "X-Fold: one\r\n"
                          "  two\r\n"
                          "X-After: yes\r\n"
                          "\r\n");
  EXPECT_EQ(res.start, "HTTP/1.1 203 Fine By Me");
  EXPECT_EQ(res.body, "ok");
  const std::string fold = res.Get("x-resp-fold");
  EXPECT_TRUE(absl::StrContains(fold, "alpha") && absl::StrContains(fold, "beta")) << res.Dump();
  EXPECT_EQ(res.Get("x-tail"), "t") << res.Dump();
  std::vector<Message> got = backend_->WaitRequests(1);
  ASSERT_EQ(got.size(), 1u);
  const std::string up = got[0].Get("x-fold");
  EXPECT_TRUE(absl::StartsWith(up, "one") && absl::EndsWith(up, "two")) << got[0].Dump();
  EXPECT_EQ(got[0].Get("x-after"), "yes") << got[0].Dump();
  EXPECT_EQ(got[0].Get("host"), "app.test") << got[0].Dump();

  ASSERT_TRUE(c.Send("HEAD /head HTTP/1.1\r\nHost: app.test\r\n\r\n"));
  std::optional<Message> head = ReadMessage(c, true, /*head_only=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->start, "HTTP/1.1 200 OK");
  EXPECT_EQ(head->Get("content-length"), "5");
  EXPECT_EQ(head->Get("x-head"), "yes");
  res = Roundtrip(c, "GET /after-head HTTP/1.1\r\nHost: app.test\r\n\r\n");
  EXPECT_EQ(res.start, "HTTP/1.1 203 Fine By Me") << "the connection is out of step after HEAD";
  EXPECT_EQ(res.body, "ok");
}

// A header that comes in pieces: Beast parses the start line and the complete fields of the first
// piece and counts them as used, and the next receive into the same buffer overwrites them. The
// edge's views of them must not see that (the request line and fields a client sent first, the
// status line a backend flushed on its own). The pause between the pieces waits for an answer that
// must not come yet: the pieces arrive as separate reads.
TEST_F(IngressServerTest, HeadersThatComeInPiecesArriveIntact) {
  Start([](Backend& b, Conn& c) {
    while (std::optional<Message> m = ReadMessage(c, false)) {
      b.Record(*m);
      c.Send("HTTP/1.1 200 Split Status Line\r\nX-First: f\r\n");
      EXPECT_FALSE(c.ReadSome(milliseconds(100))) << "the edge sent more before the response";
      c.Send("Content-Length: 2\r\nX-Second: s\r\n\r\nok");
    }
  });
  Conn c = Client();
  ASSERT_TRUE(c.Send("GET /split/path?q=1 HTTP/1.1\r\nHost: app.test\r\nX-Early: e\r\n"));
  EXPECT_FALSE(c.ReadSome(milliseconds(100))) << "an answer before the header was complete";
  ASSERT_TRUE(c.Send("X-Late: l\r\n\r\n"));
  std::optional<Message> res = ReadMessage(c, true);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->start, "HTTP/1.1 200 Split Status Line") << res->Dump();
  EXPECT_EQ(res->Get("x-first"), "f") << res->Dump();
  EXPECT_EQ(res->Get("x-second"), "s") << res->Dump();
  EXPECT_EQ(res->body, "ok");
  std::vector<Message> got = backend_->WaitRequests(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].start, "GET /split/path?q=1 HTTP/1.1") << got[0].Dump();
  EXPECT_EQ(got[0].Get("host"), "app.test") << got[0].Dump();
  EXPECT_EQ(got[0].Get("x-early"), "e") << got[0].Dump();
  EXPECT_EQ(got[0].Get("x-late"), "l") << got[0].Dump();
  EXPECT_EQ(got[0].Get("x-forwarded-host"), "app.test") << got[0].Dump();
}

TEST_F(IngressServerTest, KeepAliveReusesOneUpstreamConnection) {
  Start(Answering("pong"));
  Conn c = Client();
  for (const char* path : {"/one", "/two"}) {
    Message res = Roundtrip(c, absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: app.test\r\n\r\n"));
    EXPECT_EQ(res.status(), 200) << path;
    EXPECT_EQ(res.body, "pong") << path;
    EXPECT_FALSE(c.closed()) << "the client connection must stay open after " << path;
  }
  std::vector<Message> got = backend_->WaitRequests(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].start, "GET /one HTTP/1.1");
  EXPECT_EQ(got[1].start, "GET /two HTTP/1.1");
  EXPECT_EQ(backend_->connections(), 1)
      << "the second request must reuse the pooled upstream connection";
}

TEST_F(IngressServerTest, MalformedRequestsAre400AndClose) {
  Start(Answering("never"));
  struct Case {
    const char* what;
    const char* bytes;
  } cases[] = {
      {"not HTTP at all", "HELLO\r\n\r\n"},
      {"request line without a version", "GET /\r\nHost: app.test\r\n\r\n"},
      {"a space in the method", "G T / HTTP/1.1\r\nHost: app.test\r\n\r\n"},
      {"a header line without a colon", "GET / HTTP/1.1\r\nHost app.test\r\n\r\n"},
      {"a Content-Length that is not a number",
       "POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: ten\r\n\r\n"},
      {"two different Content-Lengths",
       "POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    Conn c = Client();
    Message res = Roundtrip(c, k.bytes);
    EXPECT_EQ(res.start, "HTTP/1.1 400 Bad Request");
    EXPECT_TRUE(absl::StartsWith(res.body, "bad request: ")) << res.body;
    EXPECT_EQ(absl::AsciiStrToLower(res.Get("connection")), "close");
    EXPECT_TRUE(c.DrainToClose()) << "the server must close after a 400";
    EXPECT_EQ(c.buf(), "") << "nothing may follow the 400";
  }
  EXPECT_EQ(backend_->connections(), 0) << "a malformed request must not reach the backend";
}

TEST_F(IngressServerTest, HeaderOverTheLimitIs431) {
  IngressLimits lim = TestLimits();
  lim.header_bytes = 1024;
  Start(Answering("ok"), lim);
  {
    Conn c = Client();  // within the limit: served, so the limit (not the header) causes the 431
    Message res = Roundtrip(c, absl::StrCat("GET / HTTP/1.1\r\nHost: app.test\r\nX-Big: ",
                                            std::string(600, 'a'), "\r\n\r\n"));
    EXPECT_EQ(res.status(), 200);
  }
  Conn c = Client();
  Message res = Roundtrip(c, absl::StrCat("GET / HTTP/1.1\r\nHost: app.test\r\nX-Big: ",
                                          std::string(2000, 'a'), "\r\n\r\n"));
  EXPECT_EQ(res.start, "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_EQ(absl::AsciiStrToLower(res.Get("connection")), "close");
  EXPECT_TRUE(c.DrainToClose());
  EXPECT_EQ(backend_->WaitRequests(1).size(), 1u)
      << "only the request within the limit reaches the backend";
}

TEST_F(IngressServerTest, BodyOverTheLimitIs413WithContentLength) {
  IngressLimits lim = TestLimits();
  lim.body_bytes = 1024;
  Start(Answering("ok"), lim);
  {
    Conn c = Client();  // exactly the limit passes
    Message res = Roundtrip(
        c, absl::StrCat("POST /up HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1024\r\n\r\n",
                        std::string(1024, 'b')));
    EXPECT_EQ(res.status(), 200);
    std::vector<Message> got = backend_->WaitRequests(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body, std::string(1024, 'b'));
  }
  Conn c = Client();
  Message res = Roundtrip(
      c, absl::StrCat("POST /up HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4096\r\n\r\n",
                      std::string(4096, 'b')));
  EXPECT_EQ(res.start, "HTTP/1.1 413 Payload Too Large") << res.body;
  EXPECT_EQ(absl::AsciiStrToLower(res.Get("connection")), "close");
  EXPECT_TRUE(c.DrainToClose());
  EXPECT_EQ(backend_->connections(), 1)
      << "a body announced over the limit must not reach the backend";
}

TEST_F(IngressServerTest, BodyOverTheLimitIs413Chunked) {
  IngressLimits lim = TestLimits();
  lim.body_bytes = 1024;
  Start(Answering("ok"), lim);
  std::string body;
  for (int i = 0; i < 8; ++i)
    absl::StrAppend(&body, "200\r\n", std::string(512, 'c'), "\r\n");  // 4 KiB
  body += "0\r\n\r\n";
  Conn c = Client();
  Message res = Roundtrip(
      c, absl::StrCat("POST /up HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n",
                      body));
  EXPECT_EQ(res.start, "HTTP/1.1 413 Payload Too Large") << res.body;
  EXPECT_EQ(absl::AsciiStrToLower(res.Get("connection")), "close");
  EXPECT_TRUE(c.DrainToClose());
}

TEST_F(IngressServerTest, SlowClientIsCutAtTheHeaderTimeoutWhileOthersAreServed) {
  IngressLimits lim = TestLimits();
  lim.header_timeout = milliseconds(300);
  Start(Answering("fast"), lim);
  const auto t0 = Clock::now();
  Conn slow = Client();
  ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\nHost: app.test\r\n"));
  // A byte every 50 ms: each one is progress, none completes the header. The header timeout is
  // for the whole header, so the dribble must not extend it.
  const std::string dribble = "X-Slow: " + std::string(200, 'z');
  bool fast_served = false;
  for (size_t i = 0; !slow.closed() && !slow.timed_out(); ++i) {
    if (!slow.ReadSome(milliseconds(50)) && !slow.closed()) {
      ASSERT_LT(i, dribble.size())
          << "the server kept a slowloris client for "
          << std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count() << " ms";
      slow.Send(std::string_view(&dribble[i], 1));
    }
    if (!fast_served && i == 2) {  // meanwhile, another client is served at once
      Conn fast = Client();
      Message res = Roundtrip(fast, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n");
      EXPECT_EQ(res.status(), 200);
      EXPECT_EQ(res.body, "fast");
      fast_served = true;
      EXPECT_FALSE(slow.closed());
    }
  }
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  EXPECT_TRUE(fast_served);
  EXPECT_TRUE(slow.closed()) << "the slow client was not cut within " << kDeadline.count() << " ms";
  EXPECT_GE(took.count(), 250) << "cut before the header timeout";
  EXPECT_LT(took.count(), 1500) << "cut long after the 300 ms header timeout";
  EXPECT_EQ(slow.buf(), "")
      << "the server closes a client that never finished its header without an answer";
  EXPECT_EQ(backend_->connections(), 1) << "only the fast client reaches the backend";
}

// One fast request first must not buy a slow client the idle timeout for its next header: once the
// next request has begun, its header is due within header_timeout too.
TEST_F(IngressServerTest, SlowSecondRequestIsCutAtTheHeaderTimeout) {
  IngressLimits lim = TestLimits();
  lim.header_timeout = milliseconds(300);
  lim.idle_timeout = milliseconds(2500);
  Start(Answering("fast"), lim);
  Conn slow = Client();
  Message res = Roundtrip(slow, "GET /first HTTP/1.1\r\nHost: app.test\r\n\r\n");
  ASSERT_EQ(res.status(), 200);
  const auto t0 = Clock::now();
  ASSERT_TRUE(slow.Send("GET /second HTTP/1.1\r\nHost: app.test\r\n"));
  const std::string dribble = "X-Slow: " + std::string(200, 'z');
  for (size_t i = 0; !slow.closed() && !slow.timed_out() && i < dribble.size(); ++i) {
    if (!slow.ReadSome(milliseconds(50)) && !slow.closed())
      slow.Send(std::string_view(&dribble[i], 1));
  }
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  EXPECT_TRUE(slow.closed()) << "the slow second header was not cut within " << kDeadline.count()
                             << " ms";
  EXPECT_GE(took.count(), 250) << "cut before the header timeout";
  EXPECT_LT(took.count(), 1500)
      << "cut at " << took.count()
      << " ms: the idle timeout (2500 ms), not the header timeout (300 ms), ran";
  EXPECT_EQ(slow.buf(), "");
}

// A pooled upstream connection the backend closed meanwhile: the request (no body) is retried once
// on a fresh connection, and the client never sees the stale one.
TEST_F(IngressServerTest, StalePooledConnectionIsRetriedOnAFreshOne) {
  Start([](Backend& b, Conn& c) {
    std::optional<Message> m = ReadMessage(c, false);
    if (!m) return;
    b.Record(*m);
    // Says keep-alive, then closes anyway (a backend's own idle timeout, a restart).
    c.Send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  Conn c = Client();
  for (const char* path : {"/one", "/two"}) {
    Message res = Roundtrip(c, absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: app.test\r\n\r\n"));
    EXPECT_EQ(res.status(), 200) << path << ": " << res.body;
    EXPECT_EQ(res.body, "ok") << path;
  }
  std::vector<Message> got = backend_->WaitRequests(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].start, "GET /two HTTP/1.1");
  EXPECT_EQ(backend_->connections(), 2);
}

// The table of answers the server gives itself, all on one keep-alive client connection: each is
// followed by a request that is proxied, so the connection is still usable after it.
TEST_F(IngressServerTest, AnswersOfItsOwnKeepTheConnection) {
  Start(Answering("ok"));
  struct Case {
    const char* host;
    int status;
    std::string body_has;
  } cases[] = {
      {"nowhere.test", 404, "no route for nowhere.test/x"},
      {"empty.test", 503, "service empty:80 has no endpoints"},
      {"refused.test", 502,
       absl::StrCat("upstream 127.0.0.1:", refuser_port_, ": Connection refused")},
  };
  Conn c = Client();
  for (const Case& k : cases) {
    SCOPED_TRACE(k.host);
    Message res = Roundtrip(c, absl::StrCat("GET /x HTTP/1.1\r\nHost: ", k.host, "\r\n\r\n"));
    EXPECT_EQ(res.status(), k.status) << res.start;
    EXPECT_TRUE(absl::StrContains(res.body, k.body_has)) << res.body;
    Message next = Roundtrip(c, "GET /after HTTP/1.1\r\nHost: app.test\r\n\r\n");
    EXPECT_EQ(next.status(), 200) << "the connection must stay usable after a " << k.status;
  }
}

TEST_F(IngressServerTest, UpstreamResetBeforeAnsweringIs502) {
  Start([](Backend& b, Conn& c) {
    if (std::optional<Message> m = ReadMessage(c, false)) b.Record(*m);
    Reset(c.raw());
  });
  Conn c = Client();
  Message res = Roundtrip(c, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n");
  EXPECT_EQ(res.status(), 502) << res.start;
  EXPECT_TRUE(
      absl::StrContains(res.body, absl::StrCat("upstream 127.0.0.1:", backend_->port(), ": ")))
      << res.body;
  EXPECT_EQ(backend_->WaitRequests(1).size(), 1u);
}

TEST_F(IngressServerTest, UpstreamResetMidBodyCutsTheClient) {
  struct Case {
    const char* what;
    std::string head;
    std::string partial;
  } cases[] = {
      {"Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",
       std::string(1000, 'd')},
      {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
       absl::StrCat("3e8\r\n", std::string(1000, 'd'), "\r\n")},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    Start([&k](Backend& b, Conn& c) {
      std::optional<Message> m = ReadMessage(c, false);
      if (!m) return;
      c.Send(k.head + k.partial);
      // Reset only once the client holds the part: the test is about a cut, not a lost answer.
      if (b.WaitSignal("client has the part")) Reset(c.raw());
    });
    Conn c = Client();
    ASSERT_TRUE(c.Send("GET /big HTTP/1.1\r\nHost: app.test\r\n\r\n"));
    std::optional<Message> head = ReadMessage(c, true, /*head_only=*/true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status(), 200);
    if (std::string(k.what) == "chunked") {
      // The server may cut the piece into chunks of its own: decode, signal once all of it came.
      std::string body;
      bool complete = ReadChunked(c, body, [&] {
        if (body.size() == 1000) backend_->Signal("client has the part");
      });
      EXPECT_EQ(body, std::string(1000, 'd')) << "the part before the cut must arrive";
      EXPECT_FALSE(complete) << "a cut chunked body must not end with the last chunk";
      EXPECT_TRUE(c.closed()) << "the client must see the cut, not hang";
    } else {
      EXPECT_EQ(head->Get("content-length"), "100000");
      ASSERT_TRUE(c.Fill(1000)) << "the part before the cut must arrive; got " << c.buf().size()
                                << " bytes";
      EXPECT_EQ(c.buf(), std::string(1000, 'd'));
      backend_->Signal("client has the part");
      EXPECT_TRUE(c.DrainToClose()) << "the client must see the cut, not hang";
      EXPECT_EQ(c.buf().size(), 1000u) << "nothing but the part may reach the client";
    }
    TearDown();
  }
}

TEST_F(IngressServerTest, SilentUpstreamIs504AfterTheUpstreamTimeout) {
  Start([](Backend& b, Conn& c) {
    if (std::optional<Message> m = ReadMessage(c, false)) b.Record(*m);
    c.DrainToClose();  // never answers; returns when the server gives up (or at the deadline)
    b.Signal(c.eof() ? "closed by the server" : "not closed");
  });
  Conn c = Client();
  const auto t0 = Clock::now();
  Message res = Roundtrip(c, "GET /slow HTTP/1.1\r\nHost: app.test\r\n\r\n");
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  EXPECT_EQ(res.status(), 504) << res.start << "\n" << res.body;
  EXPECT_GE(took.count(), 950) << "504 before the 1 s upstream_timeout";
  EXPECT_LT(took.count(), 1800);
  EXPECT_TRUE(backend_->WaitSignal("closed by the server"))
      << "the stalled upstream connection must be closed, not pooled";
}

TEST_F(IngressServerTest, ChunkedRequestBodyIsStreamedIntact) {
  // The backend reports the first chunk before the client has sent the rest: the body is streamed,
  // not buffered whole.
  Start([](Backend& b, Conn& c) {
    std::optional<Message> m = ReadMessage(c, false, /*head_only=*/true);
    if (!m) return;
    bool first = true;
    m->complete = ReadChunked(c, m->body, [&] {
      if (first) b.Signal("first chunk");
      first = false;
    });
    std::string body = absl::StrCat(m->body.size());
    b.Record(*m);
    c.Send(absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(), "\r\n\r\n", body));
  });
  std::string want;
  for (int i = 0; i < 100000; ++i) want.push_back(static_cast<char>('a' + (i * 7) % 26));
  Conn c = Client();
  ASSERT_TRUE(
      c.Send("POST /upload HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(c.Send(absl::StrCat("a\r\n", want.substr(0, 10), "\r\n")));
  ASSERT_TRUE(backend_->WaitSignal("first chunk"))
      << "the first chunk must reach the backend before the body ends";
  // The rest in uneven pieces, one larger than the server's 64 KiB relay buffer.
  const size_t sizes[] = {1, 70000, 29989};
  size_t at = 10;
  for (size_t n : sizes) {
    char hex[32];
    snprintf(hex, sizeof(hex), "%zx\r\n", n);
    ASSERT_TRUE(c.Send(absl::StrCat(hex, want.substr(at, n), "\r\n")));
    at += n;
  }
  ASSERT_EQ(at, want.size());
  ASSERT_TRUE(c.Send("0\r\n\r\n"));
  std::optional<Message> res = ReadMessage(c, true);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status(), 200);
  EXPECT_EQ(res->body, "100000");
  std::vector<Message> got = backend_->WaitRequests(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].complete);
  EXPECT_EQ(absl::AsciiStrToLower(got[0].Get("transfer-encoding")), "chunked") << got[0].Dump();
  EXPECT_EQ(got[0].Count("content-length"), 0) << got[0].Dump();
  EXPECT_TRUE(got[0].body == want) << "body differs: got " << got[0].body.size() << " bytes";
}

TEST_F(IngressServerTest, ChunkedResponseIsStreamedAsItComes) {
  // A backend that streams (server-sent events, a long download): the client gets the first
  // chunk while the backend is still waiting to send the next.
  Start([](Backend& b, Conn& c) {
    if (!ReadMessage(c, false)) return;
    c.Send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n");
    if (!b.WaitSignal("client has the first chunk")) return;
    c.Send("5\r\nlast\n\r\n0\r\n\r\n");
    ReadMessage(c, false);  // until the server closes the pooled connection
  });
  Conn c = Client();
  ASSERT_TRUE(c.Send("GET /events HTTP/1.1\r\nHost: app.test\r\n\r\n"));
  std::optional<Message> head = ReadMessage(c, true, /*head_only=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status(), 200);
  EXPECT_EQ(absl::AsciiStrToLower(head->Get("transfer-encoding")), "chunked");
  std::string body;
  bool first = true;
  bool complete = ReadChunked(c, body, [&] {
    if (first) {
      EXPECT_EQ(body, "first\n");
      backend_->Signal("client has the first chunk");
    }
    first = false;
  });
  EXPECT_TRUE(complete)
      << "the first chunk must reach the client before the backend sends the rest; got \"" << body
      << "\"";
  EXPECT_EQ(body, "first\nlast\n");
}

TEST_F(IngressServerTest, StopDrainsAnInFlightRequestThenCloses) {
  Start([](Backend& b, Conn& c) {
    std::optional<Message> m = ReadMessage(c, false);
    if (!m) return;
    b.Record(*m);
    if (!b.WaitSignal("answer")) return;
    c.Send("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\ndrained");
    c.DrainToClose();
  });
  Conn c = Client();
  ASSERT_TRUE(c.Send("GET /long HTTP/1.1\r\nHost: app.test\r\n\r\n"));
  ASSERT_EQ(backend_->WaitRequests(1).size(), 1u);

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server_->Stop();
    stopped = true;
  });
  // The listener closes at once: a new connection is refused (polled, with a deadline).
  bool refused = false;
  for (auto until = Clock::now() + kDeadline; !refused && Clock::now() < until;) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa = LoopbackAddr(port_);
    refused = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 &&
              errno == ECONNREFUSED;
    if (!refused) ::poll(nullptr, 0, 5);
  }
  EXPECT_TRUE(refused) << "Stop() must close the listener";
  EXPECT_FALSE(stopped) << "Stop() returned with a request in flight";

  backend_->Signal("answer");
  std::optional<Message> res = ReadMessage(c, true);
  ASSERT_TRUE(res) << "the in-flight request must be answered";
  EXPECT_EQ(res->status(), 200);
  EXPECT_EQ(res->body, "drained");
  EXPECT_EQ(absl::AsciiStrToLower(res->Get("connection")), "close")
      << "a draining server closes after the answer";
  EXPECT_TRUE(c.DrainToClose());
  stopper.join();
  EXPECT_TRUE(stopped);
}

}  // namespace
}  // namespace mkn::vnet
