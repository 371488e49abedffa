// Long file: every app shares the io loop's private types (AppLog, Closable, AppInfo, the listeners
// by pod) in this file's anonymous namespace; the DNS servers (cluster, relay, world) are the next
// concern to move out, behind an internal header, once the dual-stack sockets reshape them.
#include "vnet/apps/apps.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
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
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "lib/dns/answer.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"
#include "vnet/kernel/asio.h"  // asio, beast, http, tcp, udp

namespace mkn::vnet {

namespace {

// One log file per container, opened on first use.
class AppLog {
 public:
  AppLog(std::string dir, std::string file) : dir_(std::move(dir)), path_(dir_ + "/" + file) {}
  ~AppLog() {
    if (f_ != nullptr) fclose(f_);
  }
  void Line(const std::string& text) {
    std::lock_guard<std::mutex> l(mu_);
    if (f_ == nullptr) {
      // Root's alone, as the rest of the state directory: a request line holds its query string.
      std::error_code ec;
      std::filesystem::create_directories(dir_, ec);
      ::chmod(dir_.c_str(), 0700);
      const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd < 0) return;
      f_ = fdopen(fd, "a");
      if (f_ == nullptr) {
        ::close(fd);
        return;
      }
    }
    char ts[32];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(f_, "%s %s\n", ts, text.c_str());
    fflush(f_);
  }

 private:
  std::mutex mu_;
  std::string dir_, path_;
  FILE* f_ = nullptr;
};

// Anything that holds a socket in a pod: a listener or a connection. Closed on the io thread.
class Closable {
 public:
  virtual ~Closable() = default;
  virtual void Close() = 0;
};

struct AppInfo {
  plan::StartApp app;
  std::string node;
  std::shared_ptr<AppLog> log;
  // The app's open connections; touched only on the io thread. Closed when the pod is killed, as
  // a dying container's connections are.
  std::vector<std::weak_ptr<Closable>> sessions;
  void Track(const std::shared_ptr<Closable>& c) {
    std::erase_if(sessions, [](const std::weak_ptr<Closable>& w) { return w.expired(); });
    sessions.push_back(c);
  }
};

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

// --- cluster DNS -------------------------------------------------------------------------------

// The relay to a Forwarder ([cluster] world: names under example.test go to the world's DNS). One
// unconnected UDP socket opened inside the DNS pod's namespace, so the query leaves from the pod
// (through its node, which masquerades it) as CoreDNS's forward plugin's would. Each query goes
// out unchanged but for its id: a fresh random one no other outstanding forward holds (the
// client's ids may collide across clients; a random one is not guessed by an off-path sender), and
// the answer comes back with the client's id. Bounded: at most kMaxForwards outstanding (more get
// SERVFAIL at once), and one not answered within kForwardTimeout gets SERVFAIL, well inside glibc's
// 5 s retry, so a dead upstream costs the client a prompt failure rather than its whole timeout.
// An answer is taken only from the forwarder the query went to, with QR set and an id outstanding.
// Upstream is UDP even for a TCP client (the world's answers fit a datagram); IPv4 until the lab
// is dual-stack (the socket's family; an IPv6 forwarder gets SERVFAIL). Io thread only.
constexpr auto kForwardTimeout = std::chrono::seconds(2);
constexpr size_t kMaxForwards = 256;

class DnsRelay : public Closable, public std::enable_shared_from_this<DnsRelay> {
 public:
  using Done = std::function<void(std::vector<uint8_t> answer)>;

  DnsRelay(asio::io_context& io, int fd) : sock_(io, udp::v4(), fd), rng_(std::random_device{}()) {}
  void Start() { Receive(); }
  // `done` gets the forwarder's answer (the client's id back in it) or a SERVFAIL; maybe before
  // this returns (over the bound, no IPv4 server, the socket closed).
  void Forward(const dns::Forwarder& f, std::span<const uint8_t> query, Done done) {
    std::optional<net::Ipv4> server = f.server.V4();
    if (!sock_.is_open() || !server || query.size() < 12 || pending_.size() >= kMaxForwards) {
      return done(dns::Failure(query, dns::Rcode::kServFail));
    }
    uint16_t id = 0;
    do {
      id = static_cast<uint16_t>(rng_());
    } while (pending_.contains(id));
    Pending& p = pending_[id];
    p.client_id = {query[0], query[1]};
    p.query.assign(query.begin(), query.end());
    p.query[0] = static_cast<uint8_t>(id >> 8);
    p.query[1] = static_cast<uint8_t>(id);
    p.upstream = udp::endpoint(asio::ip::address_v4(server->value), static_cast<uint16_t>(f.port));
    p.done = std::move(done);
    p.timer = std::make_unique<asio::steady_timer>(sock_.get_executor(), kForwardTimeout);
    p.timer->async_wait([self = shared_from_this(), id](beast::error_code ec) {
      if (!ec) self->Finish(id, std::nullopt);
    });
    // Its own buffer: the entry (and p.query) may be gone before the send completes.
    auto buf = std::make_shared<std::vector<uint8_t>>(p.query);
    sock_.async_send_to(asio::buffer(*buf), p.upstream,
                        [self = shared_from_this(), id, buf](beast::error_code ec, size_t) {
                          if (ec && ec != asio::error::operation_aborted)
                            self->Finish(id, std::nullopt);
                        });
  }
  void Close() override {
    beast::error_code ec;
    sock_.close(ec);
    pending_.clear();  // their timers cancelled; the clients' own sockets are closing too
  }

 private:
  struct Pending {
    std::array<uint8_t, 2> client_id{};
    std::vector<uint8_t> query;  // under the relay's id
    udp::endpoint upstream;
    Done done;
    std::unique_ptr<asio::steady_timer> timer;
  };

  void Receive() {
    sock_.async_receive_from(
        asio::buffer(data_), from_, [self = shared_from_this()](beast::error_code ec, size_t n) {
          if (ec == asio::error::operation_aborted || !self->sock_.is_open()) return;
          if (!ec && n >= 12 && (self->data_[2] & 0x80) != 0) {
            uint16_t id = static_cast<uint16_t>(self->data_[0] << 8 | self->data_[1]);
            auto it = self->pending_.find(id);
            if (it != self->pending_.end() && it->second.upstream == self->from_) {
              self->Finish(id, std::vector<uint8_t>(self->data_.begin(), self->data_.begin() + n));
            }
          }
          self->Receive();
        });
  }
  // The forward of `id` ends: its answer (nullopt: SERVFAIL) goes to its client.
  void Finish(uint16_t id, std::optional<std::vector<uint8_t>> answer) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending p = std::move(it->second);
    pending_.erase(it);
    p.timer->cancel();
    std::vector<uint8_t> out;
    if (answer) {
      out = std::move(*answer);
      out[0] = p.client_id[0];
      out[1] = p.client_id[1];
    } else {
      p.query[0] = p.client_id[0];
      p.query[1] = p.client_id[1];
      out = dns::Failure(p.query, dns::Rcode::kServFail);
    }
    p.done(std::move(out));
  }

  udp::socket sock_;
  udp::endpoint from_;
  std::mt19937 rng_;
  std::map<uint16_t, Pending> pending_;
  std::array<uint8_t, 65536> data_;
};

// What the DNS listeners share with the AppServer: the zone (swapped whole when the lab changes,
// read per query) and the counters.
struct DnsShared {
  mutable std::mutex mu;
  std::shared_ptr<const dns::Zone> zone = std::make_shared<const dns::Zone>();
  // The relay to the zone's forwarders (io thread only: set by Serve, used by the listeners). Weak:
  // the listeners own it, so its socket goes before the io_context (Impl destroys `io` before
  // `dns`).
  std::weak_ptr<DnsRelay> relay;
  dns::Counters counters;
  std::chrono::steady_clock::time_point last_drop_log{};
  uint64_t drops_unlogged = 0;

  std::shared_ptr<const dns::Zone> Zone() const {
    std::lock_guard<std::mutex> l(mu);
    return zone;
  }
  // Counts the reply; a drop is logged at most once a second (untrusted input: rate-limited).
  void Count(const dns::Reply& r, AppLog& log, const std::string& peer) {
    std::string line;
    {
      std::lock_guard<std::mutex> l(mu);
      counters.Count(r);
      if (r.verdict != dns::Verdict::kDrop) return;
      ++drops_unlogged;
      auto now = std::chrono::steady_clock::now();
      if (now - last_drop_log < std::chrono::seconds(1)) return;
      last_drop_log = now;
      line = StrCat("dropped ", drops_unlogged, " query(ies), the last from ", peer, ": ",
                    dns::ToString(r.drop), " (", counters.Dropped(), " in all)");
      drops_unlogged = 0;
    }
    log.Line(line);
  }
};

// One query's outcome: the reply's bytes now; or, for a name a Forwarder serves, `forwarded` and
// `later` gets the relayed answer (or a SERVFAIL) once it is in; or neither (a drop).
struct DnsOutcome {
  std::vector<uint8_t> wire;
  bool forwarded = false;
};
DnsOutcome DnsAnswer(DnsShared& shared, AppLog& log, std::span<const uint8_t> query,
                     dns::Transport t, const std::string& peer, DnsRelay::Done later) {
  std::shared_ptr<const dns::Zone> zone = shared.Zone();
  dns::Reply r = dns::Respond(*zone, query, t);
  shared.Count(r, log, peer);
  if (r.verdict == dns::Verdict::kForward) {
    std::shared_ptr<DnsRelay> relay = shared.relay.lock();
    if (!relay) return {dns::Failure(query, dns::Rcode::kServFail)};
    relay->Forward(*r.forwarder, query, std::move(later));  // copies what it keeps
    return {{}, true};
  }
  return {std::move(r.wire)};
}

class DnsUdp : public Closable, public std::enable_shared_from_this<DnsUdp> {
 public:
  DnsUdp(asio::io_context& io, int fd, std::shared_ptr<AppInfo> info,
         std::shared_ptr<DnsShared> shared)
      : sock_(io, udp::v4(), fd), info_(std::move(info)), shared_(std::move(shared)) {}
  void Receive() {
    sock_.async_receive_from(
        asio::buffer(data_), peer_, [self = shared_from_this()](beast::error_code ec, size_t n) {
          if (ec == asio::error::operation_aborted || !self->sock_.is_open()) return;
          if (ec) return self->Receive();
          DnsOutcome o = DnsAnswer(*self->shared_, *self->info_->log,
                                   std::span<const uint8_t>(self->data_.data(), n),
                                   dns::Transport::kUdp, self->peer_.address().to_string(),
                                   [self, peer = self->peer_](std::vector<uint8_t> wire) {
                                     self->SendLater(std::move(wire), peer);
                                   });
          if (o.wire.empty()) return self->Receive();  // dropped, or relayed
          self->out_ = std::move(o.wire);
          self->sock_.async_send_to(asio::buffer(self->out_), self->peer_,
                                    [self](beast::error_code, size_t) {
                                      if (self->sock_.is_open()) self->Receive();
                                    });
        });
  }
  void Close() override {
    beast::error_code ec;
    sock_.close(ec);
  }

 private:
  // A relayed answer, sent while the socket goes on receiving (its own buffer: out_ may be busy).
  void SendLater(std::vector<uint8_t> wire, const udp::endpoint& to) {
    if (wire.empty() || !sock_.is_open()) return;
    auto buf = std::make_shared<std::vector<uint8_t>>(std::move(wire));
    sock_.async_send_to(asio::buffer(*buf), to,
                        [self = shared_from_this(), buf](beast::error_code, size_t) {});
  }

  udp::socket sock_;
  udp::endpoint peer_;
  std::shared_ptr<AppInfo> info_;
  std::shared_ptr<DnsShared> shared_;
  std::array<uint8_t, 65536> data_;
  std::vector<uint8_t> out_;
};

// DNS over TCP (RFC 7766): two-byte length, message, repeated; the connection closes after
// kDnsTcpIdle without a complete query (a slow or silent client holds no slot for long).
constexpr auto kDnsTcpIdle = std::chrono::seconds(10);
constexpr int kDnsTcpClients = 128;  // more are accepted and closed at once

class DnsTcpSession : public Closable, public std::enable_shared_from_this<DnsTcpSession> {
 public:
  DnsTcpSession(tcp::socket s, std::shared_ptr<AppInfo> info, std::shared_ptr<DnsShared> shared,
                std::shared_ptr<int> open)
      : sock_(std::move(s)),
        timer_(sock_.get_executor()),
        info_(std::move(info)),
        shared_(std::move(shared)),
        open_(std::move(open)) {
    ++*open_;
  }
  ~DnsTcpSession() override { --*open_; }
  void Start() {
    beast::error_code ec;
    peer_ = sock_.remote_endpoint(ec).address().to_string();
    ReadLength();
  }
  void Close() override {
    beast::error_code ec;
    sock_.close(ec);
    timer_.cancel();
  }

 private:
  void Arm() {
    timer_.expires_after(kDnsTcpIdle);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->Close();
    });
  }
  void ReadLength() {
    Arm();
    asio::async_read(sock_, asio::buffer(len_),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->Close();
                       size_t n = (size_t{self->len_[0]} << 8) | self->len_[1];
                       self->msg_.resize(n);
                       asio::async_read(self->sock_, asio::buffer(self->msg_),
                                        [self](beast::error_code ec, size_t) {
                                          if (ec) return self->Close();
                                          self->Answer();
                                        });
                     });
  }
  void Answer() {
    DnsOutcome o = DnsAnswer(
        *shared_, *info_->log, msg_, dns::Transport::kTcp, peer_,
        [self = shared_from_this()](std::vector<uint8_t> wire) { self->Write(std::move(wire)); });
    if (o.forwarded) return;  // Write runs when the relay has the answer; no read meanwhile
    Write(std::move(o.wire));
  }
  void Write(std::vector<uint8_t> wire) {
    if (!sock_.is_open()) return;
    if (wire.empty()) return Close();  // a malformed query: the stream's framing is not trusted
    out_.assign({static_cast<uint8_t>(wire.size() >> 8), static_cast<uint8_t>(wire.size())});
    out_.insert(out_.end(), wire.begin(), wire.end());
    asio::async_write(sock_, asio::buffer(out_),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->ReadLength();
                      });
  }

  tcp::socket sock_;
  asio::steady_timer timer_;
  std::shared_ptr<AppInfo> info_;
  std::shared_ptr<DnsShared> shared_;
  std::shared_ptr<int> open_;  // sessions open on this listener (io thread only)
  std::string peer_;
  std::array<uint8_t, 2> len_{};
  std::vector<uint8_t> msg_, out_;
};

class DnsAcceptor : public Closable, public std::enable_shared_from_this<DnsAcceptor> {
 public:
  DnsAcceptor(asio::io_context& io, int fd, std::shared_ptr<AppInfo> info,
              std::shared_ptr<DnsShared> shared)
      : acc_(io, tcp::v4(), fd), info_(std::move(info)), shared_(std::move(shared)) {}
  void Accept() {
    acc_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec && *self->open_ < kDnsTcpClients) {
        auto session =
            std::make_shared<DnsTcpSession>(std::move(s), self->info_, self->shared_, self->open_);
        self->info_->Track(session);
        session->Start();
      }  // else: over the bound, `s` closes here
      if (self->acc_.is_open()) self->Accept();
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
  std::shared_ptr<DnsShared> shared_;
  std::shared_ptr<int> open_ = std::make_shared<int>(0);
};

// A UDP server: each datagram through the answer function, its answer (if any) back to the
// sender. What the function drops gets nothing (it counts them). udp-echo's function is the
// identity; the world's DNS is lib/dns. `info` (udp-echo's) lives as long as the socket.
class UdpServer : public Closable, public std::enable_shared_from_this<UdpServer> {
 public:
  UdpServer(asio::io_context& io, int fd, AppServer::DnsAnswer answer,
            std::shared_ptr<AppInfo> info = nullptr)
      : sock_(io, udp::v4(), fd), answer_(std::move(answer)), info_(std::move(info)) {}
  void Receive() {
    // A closed socket (the pod was killed) must not be re-armed: it would fail at once, forever.
    sock_.async_receive_from(
        asio::buffer(data_), peer_, [self = shared_from_this()](beast::error_code ec, size_t n) {
          if (ec == asio::error::operation_aborted || !self->sock_.is_open()) return;
          if (ec)
            return self->Receive();  // e.g. an ICMP error of an earlier send: the socket is fine
          std::optional<std::string> a =
              self->answer_(std::string_view(self->data_.data(), n), /*tcp=*/false);
          if (!a) return self->Receive();
          self->out_ = std::move(*a);
          self->sock_.async_send_to(asio::buffer(self->out_), self->peer_,
                                    [self](beast::error_code, size_t) {
                                      if (self->sock_.is_open()) self->Receive();
                                    });
        });
  }
  void Close() override {
    beast::error_code ec;
    sock_.close(ec);
  }

 private:
  udp::socket sock_;
  udp::endpoint peer_;
  AppServer::DnsAnswer answer_;
  std::shared_ptr<AppInfo> info_;
  std::array<char, 65536> data_;
  std::string out_;
};

// DNS over TCP (RFC 7766): messages with a two-byte length, several per connection, answered in
// order; a dropped query or a read error ends the connection.
class TcpDnsSession : public Closable, public std::enable_shared_from_this<TcpDnsSession> {
 public:
  TcpDnsSession(tcp::socket s, AppServer::DnsAnswer answer)
      : sock_(std::move(s)), answer_(std::move(answer)) {}
  void Close() override {
    beast::error_code ec;
    sock_.close(ec);
  }
  void Read() {
    asio::async_read(
        sock_, asio::buffer(len_), [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return;
          self->in_.resize(static_cast<size_t>(self->len_[0]) << 8 | self->len_[1]);
          asio::async_read(
              self->sock_, asio::buffer(self->in_), [self](beast::error_code ec, size_t) {
                if (ec) return;
                std::optional<std::string> a = self->answer_(self->in_, /*tcp=*/true);
                if (!a || a->size() > 65535) return self->Close();
                self->out_.assign(
                    {static_cast<char>(a->size() >> 8), static_cast<char>(a->size() & 0xff)});
                self->out_ += *a;
                asio::async_write(self->sock_, asio::buffer(self->out_),
                                  [self](beast::error_code ec, size_t) {
                                    if (!ec) self->Read();
                                  });
              });
        });
  }

 private:
  tcp::socket sock_;
  AppServer::DnsAnswer answer_;
  std::array<uint8_t, 2> len_{};
  std::string in_, out_;
};

class TcpDns : public Closable, public std::enable_shared_from_this<TcpDns> {
 public:
  TcpDns(asio::io_context& io, int fd, AppServer::DnsAnswer answer)
      : acc_(io, tcp::v4(), fd), answer_(std::move(answer)) {}
  void Accept() {
    acc_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        auto session = std::make_shared<TcpDnsSession>(std::move(s), self->answer_);
        std::erase_if(self->sessions_, [](const auto& w) { return w.expired(); });
        self->sessions_.push_back(session);
        session->Read();
      }
      if (self->acc_.is_open()) self->Accept();
    });
  }
  void Close() override {
    beast::error_code ec;
    acc_.close(ec);
    for (auto& w : sessions_) {
      if (auto c = w.lock()) c->Close();
    }
  }

 private:
  tcp::acceptor acc_;
  AppServer::DnsAnswer answer_;
  std::vector<std::weak_ptr<Closable>> sessions_;
};

}  // namespace

struct AppServer::Impl {
  std::shared_ptr<DnsShared> dns = std::make_shared<DnsShared>();
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
        auto r = std::make_shared<DnsRelay>(*impl_->io, std::exchange(relay_fd, -1));
        r->Start();
        impl_->dns->relay = r;
        impl_->listeners.emplace(info->app.pod, std::move(r));
      }
      if (info->app.app == config::AppKind::kDns && info->app.protocol == config::Protocol::kUdp) {
        auto u = std::make_shared<DnsUdp>(*impl_->io, fd, info, impl_->dns);
        u->Receive();
        l = std::move(u);
      } else if (info->app.app == config::AppKind::kDns) {
        auto a = std::make_shared<DnsAcceptor>(*impl_->io, fd, info, impl_->dns);
        a->Accept();
        l = std::move(a);
      } else if (info->app.app == config::AppKind::kUdpEcho) {
        auto u = std::make_shared<UdpServer>(
            *impl_->io, fd,
            [](std::string_view in, bool) { return std::optional<std::string>(in); }, info);
        u->Receive();
        l = std::move(u);
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
        auto us = std::make_shared<UdpServer>(*impl_->io, u.get(), answer);
        u.Release();  // the socket object owns it now
        us->Receive();
        impl_->listeners.emplace(owner, std::move(us));
      }
      auto ts = std::make_shared<TcpDns>(*impl_->io, tcp.get(), answer);
      tcp.Release();
      ts->Accept();
      impl_->listeners.emplace(owner, std::move(ts));
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
