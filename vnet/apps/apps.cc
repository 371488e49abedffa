// vnet/apps/apps — the AppServer and the TCP apps (http-echo, tcp-echo); the cluster DNS's servers
// are cluster_dns.cc's, the UDP and world DNS servers query_servers.cc's (apps.h says what each
// is).
#include "vnet/apps/apps.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "lib/dns/answer.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"
#include "vnet/apps/app_types.h"
#include "vnet/apps/cluster_dns.h"
#include "vnet/apps/query_servers.h"
#include "vnet/kernel/asio.h"  // asio, beast, http, tcp, udp

namespace mkn::vnet {

namespace {

using apps_internal::AppInfo;
using apps_internal::AppLog;
using apps_internal::Closable;

std::string Endpoint(const tcp::endpoint& e) {
  return StrCat(e.address().to_string(), ":", e.port());
}

// Statuses whose responses carry no body (RFC 9110 §15): /status/1xx, 204, 304.
bool BodylessStatus(unsigned code) { return code < 200 || code == 204 || code == 304; }

// Parses the decimal number after `prefix` in `path` ("/bytes/123"); nullopt if the path has
// another shape. An overlong or non-numeric tail is `kBadNumber`, so the caller can answer 400
// rather than echo.
constexpr uint64_t kBadNumber = UINT64_MAX;
std::optional<uint64_t> PathNumber(std::string_view path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return std::nullopt;
  std::string_view digits = path.substr(prefix.size());
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size())
    return kBadNumber;
  return v;
}

// Incremental SHA-256 of a request body (OpenSSL EVP), so a body is hashed as it streams past.
class Sha256 {
 public:
  Sha256() {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) std::abort();
  }
  void Update(const void* data, size_t n) {
    if (n > 0 && EVP_DigestUpdate(ctx_.get(), data, n) != 1) std::abort();
  }
  std::string Hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1) std::abort();
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      out += kHex[md[i] >> 4];
      out += kHex[md[i] & 0xf];
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
};

// Limits of the test routes: a body of up to 16 GiB each way, a delay of up to ten minutes.
constexpr uint64_t kMaxBodyBytes = uint64_t{16} << 30;
constexpr uint64_t kMaxDelayMs = 600000;
// Bodies move in pieces of this size: neither a request nor a /bytes response is ever held whole.
constexpr size_t kPiece = 64 * 1024;
// /bytes/N sends byte i = i % 251 (a prime, so the pattern never lines up with a power-of-two piece
// and a dropped or repeated piece shows). The piece starting at offset o is Pattern()[o % 251, o %
// 251 + kPiece).
constexpr size_t kPatternPeriod = 251;
const std::array<unsigned char, kPiece + kPatternPeriod>& Pattern() {
  static const auto p = [] {
    std::array<unsigned char, kPiece + kPatternPeriod> a;
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<unsigned char>(i % kPatternPeriod);
    return a;
  }();
  return p;
}

// An await that reports failure in ec rather than by throwing.
auto Use(beast::error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

std::string_view Sv(beast::string_view s) { return {s.data(), s.size()}; }

// One HTTP/1.1 connection, as a coroutine: read a request (streaming its body through SHA-256),
// answer, repeat while keep-alive. Close() (StopPod) closes the socket and cancels the timer, which
// ends every wait with an error and so the coroutine; AppServer::Stop() destroys the io_context and
// with it the coroutine frame and this object, wherever it was suspended.
class HttpSession : public Closable, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket s, std::shared_ptr<AppInfo> info)
      : sock_(std::move(s)), timer_(sock_.get_executor()), info_(std::move(info)) {}
  void Close() override {
    beast::error_code ec;
    sock_.close(ec);
    timer_.cancel();
  }
  void Start() { asio::co_spawn(sock_.get_executor(), Run(shared_from_this()), asio::detached); }

 private:
  // g++ 12 miscompiles some coroutine shapes: a block-scope local or a temporary with a destructor,
  // or a co_await inside a condition, can be destroyed although never constructed when the
  // coroutine ends elsewhere (seen as crashes in Stop()). So the coroutines below are kept flat:
  // every local with a destructor is declared at function scope before the first co_await, a
  // co_await's result goes to a variable, and everything that builds strings happens in ordinary
  // functions.
  asio::awaitable<void> Run(std::shared_ptr<HttpSession> self) {
    bool more = true;
    while (more) more = co_await Exchange();
  }

  // What one answer needs to know about its request.
  struct Request {
    unsigned version = 11;
    bool keep_alive = true;
    bool head = false;
    std::string method, target;
    tcp::endpoint peer, local;
  };
  // What the target asks for.
  struct Route {
    unsigned status = 200;
    bool bytes = false;  // GET|HEAD /bytes/N
    uint64_t bytes_count = 0;
    uint64_t delay_ms = 0;
  };

  // Reads one request and answers it; false when the connection is done (closed, malformed, not
  // keep-alive).
  asio::awaitable<bool> Exchange() {
    beast::error_code ec;
    http::request_parser<http::buffer_body> parser;
    Sha256 sha;
    Request r;
    Route route;
    std::string echo;
    uint64_t body_bytes = 0;
    bool ok = false;
    // Not boost::none: Boost 1.74's parser then calls every body too large.
    parser.body_limit(kMaxBodyBytes);
    co_await http::async_read_header(sock_, buf_, parser, Use(ec));
    if (ec) co_return false;  // closed, or not HTTP: drop the connection without an answer
    if (WantsContinue(parser)) {
      // curl waits a second for this before it sends a large body.
      ok = co_await WriteInterim(100, parser.get().version());
      if (!ok) co_return false;
    }
    while (!parser.is_done()) {
      parser.get().body().data = chunk_.data();
      parser.get().body().size = chunk_.size();
      co_await http::async_read(sock_, buf_, parser, Use(ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return false;
      body_bytes += Digest(parser.get().body(), sha);
    }
    route = Parse(parser.get(), r);
    if (route.delay_ms > 0) {
      timer_.expires_after(std::chrono::milliseconds(route.delay_ms));
      co_await timer_.async_wait(Use(ec));
      if (ec || !sock_.is_open()) co_return false;  // cancelled: the pod was killed
    }
    Log(r, route.status);
    if (route.status < 200) {  // an interim response, then the final one
      ok = co_await WriteInterim(route.status, r.version);
      if (!ok) co_return false;
      route.status = 200;
    }
    if (route.bytes) {
      ok = co_await WriteBytes(r, route.bytes_count);
    } else {
      echo = EchoBody(r, parser.get(), body_bytes, sha);
      ok = co_await WriteEcho(r, route.status, echo);
    }
    if (!ok) co_return false;
    if (!r.keep_alive) {
      sock_.shutdown(tcp::socket::shutdown_send, ec);
      co_return false;
    }
    co_return true;
  }

  static bool WantsContinue(const http::request_parser<http::buffer_body>& parser) {
    return parser.get().version() >= 11 && !parser.is_done() &&
           beast::iequals(parser.get()[http::field::expect], "100-continue");
  }

  // Feeds the piece the parser just wrote into chunk_ to the hash; returns its size.
  size_t Digest(const http::buffer_body::value_type& body, Sha256& sha) {
    size_t n = chunk_.size() - body.size;
    sha.Update(chunk_.data(), n);
    return n;
  }

  // Fills r from the request and routes its target; a number out of range is 400, /bytes by POST
  // 405.
  Route Parse(const http::request<http::buffer_body>& req, Request& r) {
    r.version = req.version();
    r.keep_alive = req.keep_alive();
    r.head = req.method() == http::verb::head;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    beast::error_code ec;
    r.peer = sock_.remote_endpoint(ec);
    r.local = sock_.local_endpoint(ec);
    Route route;
    const std::string_view path = std::string_view(r.target).substr(0, r.target.find('?'));
    if (auto n = PathNumber(path, "/bytes/")) {
      if (*n > kMaxBodyBytes) {
        route.status = 400;
      } else if (req.method() != http::verb::get && !r.head) {
        route.status = 405;
      } else {
        route.bytes = true;
        route.bytes_count = *n;
      }
    } else if (auto ms = PathNumber(path, "/delay/")) {
      if (*ms > kMaxDelayMs)
        route.status = 400;
      else
        route.delay_ms = *ms;
    } else if (auto code = PathNumber(path, "/status/")) {
      if (*code < 100 || *code > 599)
        route.status = 400;
      else
        route.status = static_cast<unsigned>(*code);
    }
    return route;
  }

  void Log(const Request& r, unsigned status) {
    info_->log->Line(StrCat(r.method, " ", r.target, " from ", Endpoint(r.peer), " ", status));
  }

  // The usual text lines, then one per request header, then the body's size and hash.
  std::string EchoBody(const Request& r, const http::request<http::buffer_body>& req,
                       uint64_t body_bytes, Sha256& sha) const {
    const plan::StartApp& a = info_->app;
    std::string body =
        StrCat("pod: ", a.pod, "\nnode: ", info_->node, "\npod_ip: ", a.ip.ToString(),
               "\nclient: ", Endpoint(r.peer), "\nserver: ", Endpoint(r.local),
               "\nrequest: ", r.method, " ", r.target, "\n");
    for (const auto& f : req)
      StrAppend(&body, "header: ", absl::AsciiStrToLower(AsAbsl(Sv(f.name_string()))), ": ",
                Sv(f.value()), "\n");
    StrAppend(&body, "body_bytes: ", body_bytes, "\nbody_sha256: ", sha.Hex(), "\n");
    return body;
  }

  // The same facts as headers, so an answer without the text body (/bytes, HEAD, 204) still carries
  // them.
  template <class Res>
  void SetHeaders(Res& res, const Request& r, unsigned status) const {
    res.version(r.version);
    res.result(status);
    if (http::int_to_status(status) == http::status::unknown) res.reason("Unknown");
    res.set(http::field::server, "minikube-net http-echo");
    res.set("X-Pod", info_->app.pod);
    res.set("X-Node", info_->node);
    res.set("X-Pod-IP", info_->app.ip.ToString());
    res.set("X-Client", Endpoint(r.peer));
    res.set("X-Server", Endpoint(r.local));
    res.set("X-Request", StrCat(r.method, " ", r.target));
    res.keep_alive(r.keep_alive);
  }

  asio::awaitable<bool> WriteInterim(unsigned status, unsigned version) {
    beast::error_code ec;
    http::response<http::empty_body> res;
    res.version(version);
    res.result(status);
    if (http::int_to_status(status) == http::status::unknown) res.reason("Unknown");
    res.set("X-Pod", info_->app.pod);
    co_await http::async_write(sock_, res, Use(ec));
    co_return !ec;
  }

  // 1xx, 204 and 304 carry no body (RFC 9110 §15); HEAD gets the headers GET would.
  asio::awaitable<bool> WriteEcho(const Request& r, unsigned status, const std::string& body) {
    beast::error_code ec;
    http::response<http::string_body> res;
    SetHeaders(res, r, status);
    res.set(http::field::content_type, "text/plain");
    if (!BodylessStatus(status)) res.body() = body;
    res.prepare_payload();
    http::response_serializer<http::string_body> sr(res);
    if (r.head) {
      co_await http::async_write_header(sock_, sr, Use(ec));
    } else {
      co_await http::async_write(sock_, sr, Use(ec));
    }
    co_return !ec;
  }

  // N pattern bytes in kPiece pieces straight from Pattern(): nothing the size of the body is
  // built.
  asio::awaitable<bool> WriteBytes(const Request& r, uint64_t n) {
    beast::error_code ec;
    http::response<http::empty_body> res;
    SetHeaders(res, r, 200);
    res.set(http::field::content_type, "application/octet-stream");
    res.content_length(n);
    http::response_serializer<http::empty_body> sr(res);
    co_await http::async_write_header(sock_, sr, Use(ec));
    if (ec) co_return false;
    for (uint64_t off = 0; !r.head && off < n;) {
      size_t piece = static_cast<size_t>(std::min<uint64_t>(kPiece, n - off));
      co_await asio::async_write(
          sock_, asio::buffer(Pattern().data() + off % kPatternPeriod, piece), Use(ec));
      if (ec) co_return false;
      off += piece;
    }
    co_return true;
  }

  tcp::socket sock_;
  asio::steady_timer timer_;  // /delay; cancelled by Close()
  std::shared_ptr<AppInfo> info_;
  beast::flat_buffer
      buf_;  // kept across requests: it may hold the start of the next (pipelined) one
  std::array<char, kPiece> chunk_;  // a piece of the request body on its way to SHA-256
};

class TcpEchoSession : public Closable, public std::enable_shared_from_this<TcpEchoSession> {
 public:
  explicit TcpEchoSession(tcp::socket s) : sock_(std::move(s)) {}
  void Close() override {
    beast::error_code ec;
    sock_.close(ec);
  }
  void Read() {
    sock_.async_read_some(asio::buffer(data_),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            if (ec) return;
                            asio::async_write(self->sock_, asio::buffer(self->data_, n),
                                              [self](beast::error_code ec, size_t) {
                                                if (!ec) self->Read();
                                              });
                          });
  }

 private:
  tcp::socket sock_;
  std::array<char, 16384> data_;
};

class Acceptor : public Closable, public std::enable_shared_from_this<Acceptor> {
 public:
  Acceptor(asio::io_context& io, int fd, std::shared_ptr<AppInfo> info)
      : acc_(io, tcp::v4(), fd), info_(std::move(info)) {}
  void Accept() {
    acc_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        s.set_option(tcp::no_delay(true), ec);
        if (self->info_->app.app == config::AppKind::kHttpEcho) {
          auto session = std::make_shared<HttpSession>(std::move(s), self->info_);
          self->info_->Track(session);
          session->Start();
        } else {
          beast::error_code e2;
          self->info_->log->Line(
              StrCat("tcp-echo connection from ", Endpoint(s.remote_endpoint(e2))));
          auto session = std::make_shared<TcpEchoSession>(std::move(s));
          self->info_->Track(session);
          session->Read();
        }
      }
      if (self->acc_.is_open()) self->Accept();  // closed: the pod was killed or the server stops
    });
  }
  void Close() override {
    beast::error_code ec;
    acc_.close(ec);
    for (auto& w : info_->sessions) {
      if (auto c = w.lock()) c->Close();
    }
  }

 private:
  tcp::acceptor acc_;
  std::shared_ptr<AppInfo> info_;
};

}  // namespace

struct AppServer::Impl {
  std::shared_ptr<apps_internal::DnsShared> dns = std::make_shared<apps_internal::DnsShared>();
  std::string log_dir;
  std::unique_ptr<asio::io_context> io = std::make_unique<asio::io_context>();
  // Listeners by pod: an Acceptor (and through it the connections) or a UdpServer.
  std::multimap<std::string, std::shared_ptr<Closable>> listeners;
  std::vector<std::thread> threads;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  bool stopped = false;
};

AppServer::AppServer(std::string log_dir) : impl_(std::make_unique<Impl>()) {
  impl_->log_dir = std::move(log_dir);
}

AppServer::~AppServer() { Stop(); }

absl::Status AppServer::Serve(AppSocket s, const std::string& node) {
  auto info = std::make_shared<AppInfo>();
  info->app = s.app;
  info->node = node;
  info->log = std::make_shared<AppLog>(StrCat(impl_->log_dir, "/", s.app.pod),
                                       StrCat(s.app.container, ".log"));
  int fd = s.fd.Release();
  int relay_fd = s.relay.valid() ? s.relay.Release() : -1;
  return OnIo([&]() -> absl::Status {
    try {
      std::shared_ptr<Closable> l;
      if (relay_fd >= 0) {
        // The pod's relay replaces a previous one (the pod restarted); StopPod closes it.
        impl_->listeners.emplace(
            info->app.pod,
            apps_internal::StartDnsRelay(*impl_->io, std::exchange(relay_fd, -1), *impl_->dns));
      }
      if (info->app.app == config::AppKind::kDns && info->app.protocol == config::Protocol::kUdp) {
        l = apps_internal::StartClusterDnsUdp(*impl_->io, fd, info, impl_->dns);
      } else if (info->app.app == config::AppKind::kDns) {
        l = apps_internal::StartClusterDnsTcp(*impl_->io, fd, info, impl_->dns);
      } else if (info->app.app == config::AppKind::kUdpEcho) {
        l = apps_internal::StartUdpServer(
            *impl_->io, fd,
            [](std::string_view in, bool) { return std::optional<std::string>(in); }, info);
      } else {
        auto a = std::make_shared<Acceptor>(*impl_->io, fd, info);
        a->Accept();
        l = std::move(a);
      }
      impl_->listeners.emplace(info->app.pod, std::move(l));
    } catch (const boost::system::system_error& e) {
      ::close(fd);
      if (relay_fd >= 0) ::close(relay_fd);
      return absl::InternalError(StrCat("serve ", config::ToString(info->app.app), " in pod ",
                                        info->app.pod, ": ", e.what()));
    }
    return absl::OkStatus();
  });
}

void AppServer::SetDnsZone(std::shared_ptr<const dns::Zone> zone) {
  std::lock_guard<std::mutex> l(impl_->dns->mu);
  impl_->dns->zone = std::move(zone);
}

dns::Counters AppServer::DnsCounters() const {
  std::lock_guard<std::mutex> l(impl_->dns->mu);
  return impl_->dns->counters;
}

absl::Status AppServer::ServeDns(const std::string& owner, std::vector<Fd> udp, Fd tcp,
                                 DnsAnswer answer) {
  return OnIo([&]() -> absl::Status {
    try {
      for (Fd& u : udp) {
        impl_->listeners.emplace(owner, apps_internal::StartUdpServer(*impl_->io, u.get(), answer));
        u.Release();  // the socket object owns it now
      }
      impl_->listeners.emplace(owner, apps_internal::StartTcpDns(*impl_->io, tcp.get(), answer));
      tcp.Release();
    } catch (const boost::system::system_error& e) {
      return absl::InternalError(StrCat("serve DNS in ", owner, ": ", e.what()));
    }
    return absl::OkStatus();
  });
}

absl::Status AppServer::StopPod(const std::string& pod) {
  return OnIo([&]() -> absl::Status {
    auto [from, to] = impl_->listeners.equal_range(pod);
    for (auto it = from; it != to; ++it) it->second->Close();
    impl_->listeners.erase(from, to);
    return absl::OkStatus();
  });
}

absl::Status AppServer::OnIo(const std::function<absl::Status()>& fn) {
  if (impl_->threads.empty()) return fn();  // not started: nothing else touches the io objects
  if (impl_->stopped) return absl::FailedPreconditionError("app server stopped");
  std::promise<absl::Status> done;
  asio::post(*impl_->io, [&] { done.set_value(fn()); });
  return done.get_future().get();
}

void AppServer::Start(int threads) {
  impl_->guard.emplace(impl_->io->get_executor());
  for (int i = 0; i < threads; ++i) impl_->threads.emplace_back([this] { impl_->io->run(); });
}

void AppServer::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  asio::post(*impl_->io, [this] {
    for (auto& [pod, l] : impl_->listeners) l->Close();
  });
  impl_->guard.reset();
  impl_->io->stop();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
  impl_->listeners.clear();
  // Destroying the io_context destroys every pending handler and with it every open connection: no
  // socket may outlive Stop(), since a socket pins its pod's netns.
  impl_->io.reset();
}

}  // namespace mkn::vnet
