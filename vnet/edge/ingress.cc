#include "vnet/edge/ingress.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <forward_list>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>  // before Asio: its awaitable.hpp uses std::exchange

#include "absl/strings/ascii.h"
#include "lib/ingress/forwarding.h"
#include "lib/ingress/router.h"
#include "lib/nat/service_table.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/edge/tls.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/netns.h"

namespace mkn::vnet {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// Every io thread runs an io_context of its own (a Worker, below), so everything here is typed with
// that io_context's executor rather than asio::any_io_executor: the type-erased executor was
// copied, moved and destroyed through function pointers at every operation and coroutine step
// (about 2 k instructions per request in callgrind), and a strand per connection was needed with
// several threads.
using Executor = asio::io_context::executor_type;
template <class T = void>
using awaitable = asio::awaitable<T, Executor>;
constexpr asio::use_awaitable_t<Executor> use_awaitable;
using Socket = tcp::socket::rebind_executor<Executor>::other;
using Acceptor = tcp::acceptor::rebind_executor<Executor>::other;
using TcpStream = beast::basic_stream<tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;

namespace {

constexpr size_t kSocketBatch = 32;     // upstream sockets made per trip into a node's netns
constexpr size_t kPoolPerBackend = 64;  // idle upstream connections kept per backend address
constexpr size_t kChunk = 64 * 1024;
constexpr size_t kUpstreamRead = 16 * 1024;  // at least what one receive from a backend asks for

// What a request is sent to: a Service's ClusterIP, or its endpoints.
struct Target {
  net::Ipv4 cluster_ip;
  int port = 0;
  std::vector<nat::Endpoint> endpoints;
  // "ip:port" of the ClusterIP and of each endpoint (the upstream pool's keys), made once here
  // rather than per request.
  std::string cluster_key;
  std::vector<std::string> endpoint_keys;
};

// Everything a request needs that changes when pods come and go; replaced whole by Update().
struct Snapshot {
  ingress::Router router;
  std::map<std::pair<std::string, int>, Target> targets;  // (service, service port)
};

absl::StatusOr<std::shared_ptr<const Snapshot>> MakeSnapshot(const config::ClusterSpec& spec) {
  auto snap = std::make_shared<Snapshot>();
  MKN_ASSIGN_OR_RETURN(snap->router, ingress::Router::Build(spec));
  MKN_ASSIGN_OR_RETURN(nat::ServiceTable table, nat::ServiceTable::Build(spec));
  for (const nat::ServicePort& p : table.ports()) {
    Target t{p.cluster_ip, p.port, p.endpoints, StrCat(p.cluster_ip.ToString(), ":", p.port), {}};
    for (const nat::Endpoint& e : p.endpoints)
      t.endpoint_keys.push_back(StrCat(e.ip.ToString(), ":", e.port));
    snap->targets[{p.service, p.port}] = std::move(t);
  }
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

// Sockets made inside one node's netns, handed out one by one (STYLE.md §4: the netns is entered
// only on a short-lived thread, once per batch).
class SocketFactory {
 public:
  explicit SocketFactory(int netns_fd) : netns_fd_(netns_fd) {}
  absl::StatusOr<Fd> Take() {
    std::lock_guard<std::mutex> l(mu_);
    if (spare_.empty()) {
      auto make = [&]() -> absl::Status {
        for (size_t i = 0; i < kSocketBatch; ++i) {
          int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
          if (fd < 0) return absl::ErrnoToStatus(errno, "upstream socket");
          spare_.emplace_back(fd);
        }
        return absl::OkStatus();
      };
      MKN_RETURN_IF_ERROR(netns_fd_ == IngressServer::kCallerNetns ? make()
                                                                   : RunInNetns(netns_fd_, make));
    }
    Fd fd = std::move(spare_.back());
    spare_.pop_back();
    return fd;
  }

 private:
  int netns_fd_;
  std::mutex mu_;
  std::vector<Fd> spare_;
};

// Idle keep-alive connections to backends, by "ip:port". One per worker, used by its thread alone
// (and by Stop() after the threads end): no lock.
class UpstreamPool {
 public:
  std::unique_ptr<TcpStream> Get(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    auto s = std::move(it->second.back());
    it->second.pop_back();
    return s;
  }
  void Put(const std::string& key, std::unique_ptr<TcpStream> s) {
    auto& v = idle_[key];
    if (v.size() < kPoolPerBackend) v.push_back(std::move(s));
  }
  void Clear() { idle_.clear(); }  // (upstream sockets close with a reset: see Handle)

 private:
  std::map<std::string, std::vector<std::unique_ptr<TcpStream>>> idle_;
};

// What a client connection reads and writes through. A connection takes a set when it starts and
// gives it back when it ends: allocated and freed per connection, the 144 KiB made every new
// connection pay for malloc's large-chunk path (and a consolidation of its free lists on each
// free).
struct ConnBuffers {
  // Beast reads max(512, free capacity) bytes at a time: an empty buffer makes a response of more
  // than 512 bytes take two receives (strace showed 3 successful receives per request where 2 are
  // needed), and a body relayed through it go 512 bytes per receive.
  beast::flat_buffer buf;                           // from the client
  std::unique_ptr<char[]> chunk{new char[kChunk]};  // bodies pass through it, both ways
  std::string out;           // a whole message on its way out (Handle's fast paths)
  beast::flat_buffer upbuf;  // the upstream's response; empty between requests
  std::vector<ingress::HeaderView> req_fields, resp_fields;  // ViewParser's (their capacity stays)
  ConnBuffers() {
    buf.reserve(kChunk);
    upbuf.reserve(kUpstreamRead);
  }
};

// One per worker, used by its thread alone (and by Stop() after the threads end): no lock.
class BufferPool {
 public:
  static constexpr size_t kSpare =
      16;  // sets kept for the next connections (2.3 MiB a worker at most)
  std::unique_ptr<ConnBuffers> Take() {
    if (spare_.empty()) return std::make_unique<ConnBuffers>();
    std::unique_ptr<ConnBuffers> b = std::move(spare_.back());
    spare_.pop_back();
    return b;
  }
  void Give(std::unique_ptr<ConnBuffers> b) {
    b->buf.clear();
    b->upbuf.clear();
    b->out.clear();
    if (spare_.size() < kSpare) spare_.push_back(std::move(b));
  }

 private:
  std::vector<std::unique_ptr<ConnBuffers>> spare_;
};

// A connection's buffers, back to the pool when the connection's coroutine ends (or is destroyed
// by Stop).
struct BufferLease {
  BufferPool* pool;
  std::unique_ptr<ConnBuffers> b;
  explicit BufferLease(BufferPool* p) : pool(p), b(p->Take()) {}
  BufferLease(const BufferLease&) = delete;
  BufferLease& operator=(const BufferLease&) = delete;
  ~BufferLease() { pool->Give(std::move(b)); }
};

struct Listener {
  config::ListenerSpec spec;
  std::string by;                      // "127.0.0.1:8080"
  std::unique_ptr<Acceptor> acceptor;  // on the first worker
  std::shared_ptr<ssl::context> tls;   // HTTPS only
  SocketFactory* sockets = nullptr;    // the listener's node
};

// A deadline of TcpStream ran out. Beast 1.74 reports it as error::timeout or, inside
// composed reads, as operation_aborted (nothing else cancels an upstream operation here).
bool TimedOut(const beast::error_code& ec) {
  return ec == beast::error::timeout || ec == asio::error::operation_aborted;
}

// The deadlines of one client connection and of the upstream connection its request uses. Beast's
// tcp_stream arms and cancels a timer around every read and write (a timer queue insert, a cancel
// and an extra completion per operation); here arming is two stores, and one timer per worker
// (Deadlines, below) checks every connection's deadlines each kTick. A deadline brackets one wait:
// Arm() before, Disarm() after. When one has passed, the socket is shut down (the pending operation
// then completes with end of stream or an error) and Expired() says why: at most kTick late, never
// early. It runs on the connection's worker (one thread), as the coroutine does, and touches the
// socket only through shutdown(2).
class Deadlines;
class Watchdog {
 public:
  enum Side { kClient = 0, kUpstream = 1 };
  using Clock = std::chrono::steady_clock;
  explicit Watchdog(Deadlines* d) : deadlines_(d) {}
  ~Watchdog() { Stop(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  inline void Arm(Side side, int fd, Clock::duration timeout);
  void Disarm(Side side) { fd_[side] = -1; }
  bool Expired(Side side) const { return expired_[side]; }
  inline void Stop();

 private:
  friend class Deadlines;
  void Check(Clock::time_point now) {
    for (int s = 0; s < 2; ++s) {
      if (fd_[s] >= 0 && deadline_[s] <= now) {
        expired_[s] = true;
        ::shutdown(fd_[s], SHUT_RDWR);
        fd_[s] = -1;
      }
    }
  }

  Deadlines* deadlines_;
  int fd_[2] = {-1, -1};
  Clock::time_point deadline_[2];
  bool expired_[2] = {false, false};
  // In the worker's list from the first Arm() to Stop().
  bool linked_ = false;
  Watchdog* prev_ = nullptr;
  Watchdog* next_ = nullptr;
};

// A worker's connections' Watchdogs, checked every kTick by one timer while there are any. The
// timer is made by Start() (with the worker's io_context) and goes first (Shutdown(), before the
// io_context); the list outlives the io_context, whose destruction destroys the coroutine frames
// whose Watchdogs then leave it.
class Deadlines {
 public:
  static constexpr std::chrono::milliseconds kTick{100};
  void Start(const Executor& ex) { timer_.emplace(ex); }
  void Add(Watchdog* w) {
    w->linked_ = true;
    w->prev_ = nullptr;
    w->next_ = head_;
    if (head_ != nullptr) head_->prev_ = w;
    head_ = w;
    if (!waiting_ && timer_) Wait();
  }
  void Remove(Watchdog* w) {
    if (w->prev_ != nullptr) w->prev_->next_ = w->next_;
    if (w->next_ != nullptr) w->next_->prev_ = w->prev_;
    if (head_ == w) head_ = w->next_;
    if (next_ == w) next_ = w->next_;  // removed while Tick() walks the list
    w->linked_ = false;
    w->prev_ = w->next_ = nullptr;
  }
  void Shutdown() { timer_.reset(); }

 private:
  void Wait() {
    waiting_ = true;
    timer_->expires_after(kTick);
    timer_->async_wait([this](const beast::error_code& ec) {
      waiting_ = false;
      if (!ec) Tick();
    });
  }
  void Tick() {
    const Watchdog::Clock::time_point now = Watchdog::Clock::now();
    for (Watchdog* w = head_; w != nullptr; w = next_) {
      next_ = w->next_;
      w->Check(now);  // shutdown(2) only: the coroutine runs later, so nothing leaves the list here
    }
    next_ = nullptr;
    if (head_ != nullptr && timer_) Wait();
  }

  std::optional<Timer> timer_;
  Watchdog* head_ = nullptr;
  Watchdog* next_ = nullptr;
  bool waiting_ = false;
};

void Watchdog::Arm(Side side, int fd, Clock::duration timeout) {
  fd_[side] = fd;
  deadline_[side] = Clock::now() + timeout;
  expired_[side] = false;
  if (!linked_) deadlines_->Add(this);
}

void Watchdog::Stop() {
  fd_[0] = fd_[1] = -1;
  if (linked_) deadlines_->Remove(this);
}

// A server-side TLS connection over a non-blocking socket, driven by hand instead of through
// asio::ssl::stream (measured with callgrind and strace in the benchmark's https keep-alive case:
// see the commit). OpenSSL reads ciphertext from `in` (filled by one receive of up to 16 KiB + a
// record's overhead, as nginx reads) and writes into `out` through a BIO of our own, so a record
// goes socket -> in -> OpenSSL and OpenSSL -> out -> socket. asio's stream copies it once more
// through a BIO pair and runs each SSL call as a composed operation (a zero-size read to post a
// completion that came at once, timers used as locks around every transport operation).
//
// The state lives on the heap (the BIO points to it), so a TlsStream can be moved. It models
// Beast's AsyncReadStream/AsyncWriteStream (for the rare paths: our own answers, streamed bodies,
// 100-continue) and SyncReadStream (read_some stops with would_block, for ParseBuffered's
// synchronous parse); the hot path uses ReadSomeNow and WriteNow. Deadlines are the connection's
// Watchdog's, except the handshake's and close_notify's (the tcp_stream's, set by the caller).
// Errors are asio's for the same events: the peer's close_notify is error::eof, an end of the TCP
// stream without it ssl::error::stream_truncated, an OpenSSL failure an error in asio's ssl
// category.
class TlsStream {
 public:
  using executor_type = TcpStream::executor_type;
  using next_layer_type = TcpStream;

  TlsStream(TcpStream s, SSL_CTX* ctx) : s_(std::move(s)), core_(std::make_unique<Core>()) {
    core_->ssl = SSL_new(ctx);
    if (core_->ssl == nullptr) return;  // Handshake() reports it
    BIO* bio = BIO_new(Method());
    BIO_set_data(bio, core_.get());
    BIO_set_init(bio, 1);
    SSL_set_bio(core_->ssl, bio, bio);  // one reference for both directions
    SSL_set_accept_state(core_->ssl);
    // The BIO is memory: let OpenSSL take all that is buffered in one call, not a record header
    // and then its body.
    SSL_set_read_ahead(core_->ssl, 1);
  }
  TlsStream(TlsStream&&) = default;
  TlsStream& operator=(TlsStream&&) = delete;
  ~TlsStream() {
    if (core_ && core_->ssl != nullptr) SSL_free(core_->ssl);
  }

  executor_type get_executor() { return s_.get_executor(); }
  TcpStream& next_layer() { return s_; }
  SSL* native_handle() { return core_->ssl; }

  // The handshake, within the tcp_stream's deadline (the caller sets it).
  awaitable<beast::error_code> Handshake() {
    if (core_->ssl == nullptr) {
      const beast::error_code ec = MakeSslError();
      ERR_clear_error();
      co_return ec;
    }
    for (;;) {
      ERR_clear_error();
      const int r = SSL_do_handshake(core_->ssl);
      beast::error_code ec = co_await FlushAll(true);
      if (ec) co_return ec;
      if (r == 1) co_return ec;
      const int err = SSL_get_error(core_->ssl, r);
      if (err != SSL_ERROR_WANT_READ) co_return MapError(err, r);
      ec = co_await Receive(true);
      if (ec) co_return ec;
    }
  }

  // close_notify, then the peer's (or the end of its stream), within the tcp_stream's deadline.
  awaitable<beast::error_code> Shutdown() {
    for (;;) {
      ERR_clear_error();
      const int r = SSL_shutdown(core_->ssl);
      beast::error_code ec = co_await FlushAll(true);
      if (ec || r == 1) co_return ec;
      if (r == 0) {  // sent ours: now the peer's
        ec = co_await Receive(true);
        if (ec) co_return ec;
        continue;
      }
      const int err = SSL_get_error(core_->ssl, r);
      if (err != SSL_ERROR_WANT_READ) co_return MapError(err, r);
      ec = co_await Receive(true);
      if (ec) co_return ec;
    }
  }

  // Hot path: some plaintext into `b`, waiting on the raw socket (the Watchdog keeps the deadline).
  awaitable<size_t> ReadSomeNow(asio::mutable_buffer b, beast::error_code& ec) {
    for (;;) {
      size_t n = 0;
      if (TryRead(b, n, ec)) co_return n;
      ec = co_await Receive(false);
      if (ec) co_return 0;
    }
  }

  // Hot path: all of `data` as TLS records, with one send when the socket takes it.
  awaitable<beast::error_code> WriteNow(std::string_view data) {
    beast::error_code ec;
    Encrypt(asio::const_buffer(data.data(), data.size()), ec);
    if (!ec) ec = co_await FlushAll(false);
    co_return ec;
  }

  // SyncReadStream: stops with would_block when the socket has nothing.
  template <class Buffers>
  size_t read_some(const Buffers& buffers, beast::error_code& ec) {
    const asio::mutable_buffer b = FirstOf(buffers);
    for (;;) {
      size_t n = 0;
      if (TryRead(b, n, ec)) return n;
      if (!ReceiveNow(ec)) return 0;
    }
  }
  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    beast::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  // AsyncReadStream / AsyncWriteStream, as coroutines (rare paths; the Watchdog keeps their
  // deadlines).
  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(beast::error_code, size_t)>(
        [this](auto handler, asio::mutable_buffer b) {
          // On the handler's executor (the connection's worker), where the handler is then called.
          auto ex = asio::get_associated_executor(handler, s_.get_executor());
          asio::co_spawn(
              ex,
              [this, b, h = std::move(handler)]() mutable -> awaitable<void> {
                beast::error_code ec;
                size_t n = 0;
                for (;;) {
                  if (TryRead(b, n, ec)) break;
                  ec = co_await Receive(true);
                  if (ec) break;
                }
                std::move(h)(ec, n);
              },
              asio::detached);
        },
        token, FirstOf(buffers));
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(beast::error_code, size_t)>(
        [this](auto handler, asio::const_buffer b) {
          auto ex = asio::get_associated_executor(handler, s_.get_executor());
          asio::co_spawn(
              ex,
              [this, b, h = std::move(handler)]() mutable -> awaitable<void> {
                beast::error_code ec;
                const size_t n = Encrypt(b, ec);
                if (!ec) ec = co_await FlushAll(true);
                std::move(h)(ec, ec ? 0 : n);
              },
              asio::detached);
        },
        token, FirstOf(buffers));
  }

 private:
  struct Core {
    SSL* ssl = nullptr;
    std::unique_ptr<char[]> in{new char[kIn]};
    size_t in_pos = 0, in_end = 0;  // ciphertext received, not yet taken by OpenSSL
    std::string out;                // ciphertext made, not yet sent
    size_t out_pos = 0;
  };
  // One TLS record (16 KiB of plaintext and its overhead) and some: what one receive asks for.
  static constexpr size_t kIn = 17 * 1024 + 512;

  static int BioWrite(BIO* bio, const char* data, int n) {
    auto* c = static_cast<Core*>(BIO_get_data(bio));
    c->out.append(data, static_cast<size_t>(n));
    return n;
  }
  static int BioRead(BIO* bio, char* data, int n) {
    auto* c = static_cast<Core*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    const size_t avail = c->in_end - c->in_pos;
    if (avail == 0) {
      BIO_set_retry_read(bio);
      return -1;
    }
    const size_t k = std::min(avail, static_cast<size_t>(n));
    std::memcpy(data, c->in.get() + c->in_pos, k);
    c->in_pos += k;
    return static_cast<int>(k);
  }
  static long BioCtrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }
  static BIO_METHOD* Method() {
    static BIO_METHOD* const m = [] {
      BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mkn-ingress");
      BIO_meth_set_write(bm, BioWrite);
      BIO_meth_set_read(bm, BioRead);
      BIO_meth_set_ctrl(bm, BioCtrl);
      return bm;
    }();
    return m;
  }

  template <class Buffers>
  static auto FirstOf(const Buffers& buffers) {
    using B = std::conditional_t<asio::is_mutable_buffer_sequence<Buffers>::value,
                                 asio::mutable_buffer, asio::const_buffer>;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      B b(*it);
      if (b.size() != 0) return b;
    }
    return B();
  }

  static beast::error_code MakeSslError() {
    const unsigned long e = ERR_get_error();
    return beast::error_code(e != 0 ? static_cast<int>(e) : ERR_R_INTERNAL_ERROR,
                             asio::error::get_ssl_category());
  }
  // The error of a failed SSL call, in asio's terms; leaves OpenSSL's error queue empty.
  beast::error_code MapError(int err, int r) {
    beast::error_code ec;
    if (err == SSL_ERROR_ZERO_RETURN) {
      ec = asio::error::eof;
    } else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && r == 0) {
      ec = asio::ssl::error::stream_truncated;
    } else {
      ec = MakeSslError();
    }
    ERR_clear_error();
    return ec;
  }

  // SSL_read into `b`: true with n bytes or an error, false when OpenSSL needs ciphertext.
  bool TryRead(asio::mutable_buffer b, size_t& n, beast::error_code& ec) {
    ec = {};
    n = 0;
    if (b.size() == 0) return true;
    // No ERR_clear_error() first (1.2 k instructions per request in OpenSSL 3): MapError empties
    // the queue whenever an error put something there, so it is empty here.
    const int r =
        SSL_read(core_->ssl, b.data(), static_cast<int>(std::min<size_t>(b.size(), INT_MAX)));
    if (core_->out.size() != core_->out_pos) FlushNow();  // e.g. an answer to a key update
    if (r > 0) {
      n = static_cast<size_t>(r);
      return true;
    }
    const int err = SSL_get_error(core_->ssl, r);
    if (err == SSL_ERROR_WANT_READ) return false;
    ec = MapError(err, r);
    return true;
  }

  size_t Encrypt(asio::const_buffer b, beast::error_code& ec) {
    ec = {};
    if (b.size() == 0) return 0;
    const int r =
        SSL_write(core_->ssl, b.data(), static_cast<int>(std::min<size_t>(b.size(), INT_MAX)));
    if (r > 0) return static_cast<size_t>(r);  // our BIO takes everything: never a partial write
    ec = MapError(SSL_get_error(core_->ssl, r), r);
    return 0;
  }

  // Room for a receive: what OpenSSL has taken is dropped.
  asio::mutable_buffer InSpace() {
    Core& c = *core_;
    if (c.in_pos == c.in_end) {
      c.in_pos = c.in_end = 0;
    } else if (c.in_pos != 0 && c.in_end == kIn) {
      std::memmove(c.in.get(), c.in.get() + c.in_pos, c.in_end - c.in_pos);
      c.in_end -= c.in_pos;
      c.in_pos = 0;
    }
    return asio::mutable_buffer(c.in.get() + c.in_end, kIn - c.in_end);
  }
  // The end of the peer's TCP stream, in asio's terms.
  beast::error_code Eof() const {
    return (SSL_get_shutdown(core_->ssl) & SSL_RECEIVED_SHUTDOWN)
               ? beast::error_code(asio::error::eof)
               : beast::error_code(asio::ssl::error::stream_truncated);
  }
  // A synchronous receive: false with ec (would_block included) when nothing came.
  bool ReceiveNow(beast::error_code& ec) {
    const asio::mutable_buffer space = InSpace();
    if (space.size() == 0) {  // as in Receive
      ec = asio::error::no_buffer_space;
      return false;
    }
    const size_t n = s_.socket().read_some(space, ec);
    if (ec == asio::error::eof) ec = Eof();
    if (ec) return false;
    core_->in_end += n;
    return true;
  }
  // An asynchronous receive (one recv when data is there: Asio tries before it waits), through the
  // tcp_stream (its deadline) or the raw socket.
  awaitable<beast::error_code> Receive(bool timed) {
    beast::error_code ec;
    size_t n = 0;
    const asio::mutable_buffer space = InSpace();
    // OpenSSL (read-ahead) takes all that is buffered before it asks for more, so this never
    // happens; if it did, a zero-size receive would complete at once, forever.
    if (space.size() == 0) co_return beast::error_code(asio::error::no_buffer_space);
    if (timed) {
      n = co_await s_.async_read_some(space, asio::redirect_error(use_awaitable, ec));
    } else {
      n = co_await s_.socket().async_read_some(space, asio::redirect_error(use_awaitable, ec));
    }
    if (ec == asio::error::eof) ec = Eof();
    if (!ec) core_->in_end += n;
    co_return ec;
  }
  // Sends what the socket takes now; the rest stays for FlushAll.
  void FlushNow() {
    Core& c = *core_;
    beast::error_code ec;
    c.out_pos += s_.socket().write_some(
        asio::buffer(c.out.data() + c.out_pos, c.out.size() - c.out_pos), ec);
    if (c.out_pos == c.out.size()) {
      c.out.clear();
      c.out_pos = 0;
    }
  }
  // Sends all pending ciphertext: one send when the socket takes it, else the rest asynchronously.
  awaitable<beast::error_code> FlushAll(bool timed) {
    Core& c = *core_;
    beast::error_code ec;
    if (c.out_pos != c.out.size()) {
      c.out_pos += asio::write(
          s_.socket(), asio::buffer(c.out.data() + c.out_pos, c.out.size() - c.out_pos), ec);
      if (ec == asio::error::would_block) {
        const auto rest = asio::buffer(c.out.data() + c.out_pos, c.out.size() - c.out_pos);
        if (timed) {
          co_await asio::async_write(s_, rest, asio::redirect_error(use_awaitable, ec));
        } else {
          co_await asio::async_write(s_.socket(), rest, asio::redirect_error(use_awaitable, ec));
        }
      }
    }
    c.out.clear();
    c.out_pos = 0;
    co_return ec;
  }

  TcpStream s_;
  std::unique_ptr<Core> core_;
};

// Reading a header (or a whole message), in two parts so that the usual case costs no coroutine
// frame (Asio 1.74 recycles one frame per thread; the others were a malloc and a free each):
// ParseBuffered parses synchronously from what is already buffered (no trip through the scheduler
// when the upstream's body came with its header) and says whether that settled it; when it did
// not, the caller awaits ReadAsync. (A wait for readability before a synchronous receive, as
// nginx does, was measured: Asio 1.74 issues an epoll_ctl(MOD) for every such wait, so it only
// traded the EAGAIN of Asio's speculative recv for another syscall.) The socket is in
// non-blocking mode: the synchronous parse stops at EAGAIN.
template <class SyncStream, class Parser>
bool ParseBuffered(SyncStream& s, beast::flat_buffer& b, Parser& p, bool header_only,
                   beast::error_code& ec) {
  ec = {};
  if (b.size() == 0) return false;
  if (header_only) {
    http::read_header(s, b, p, ec);
  } else {
    http::read(s, b, p, ec);
  }
  if (ec != asio::error::would_block) return true;
  ec = {};
  return false;
}
template <class AsyncStream, class Parser>
awaitable<size_t> ReadAsync(AsyncStream& s, beast::flat_buffer& b, Parser& p, bool header_only,
                            beast::error_code& ec) {
  if (header_only) return http::async_read_header(s, b, p, asio::redirect_error(use_awaitable, ec));
  return http::async_read(s, b, p, asio::redirect_error(use_awaitable, ec));
}

// Writing `data`, in two parts as above: SendNow sends it with one send when the socket takes it
// all (it nearly always does) and says whether that settled it (sent, or failed); when it did
// not, the caller awaits SendRest. The socket is in non-blocking mode.
bool SendNow(Socket& s, std::string_view data, size_t& n, beast::error_code& ec) {
  ec = {};
  n = asio::write(s, asio::buffer(data.data(), data.size()), ec);
  if (ec != asio::error::would_block) return true;
  ec = {};
  return false;
}
awaitable<size_t> SendRest(Socket& s, std::string_view data, size_t n, beast::error_code& ec) {
  return asio::async_write(s, asio::buffer(data.data() + n, data.size() - n),
                           asio::redirect_error(use_awaitable, ec));
}

std::string Lower(const char* p, size_t n) {
  return absl::AsciiStrToLower(absl::string_view(p, n));
}
std::string Lower(const std::string& s) { return Lower(s.data(), s.size()); }

// The access log's timestamp, formatted once a second per thread (strftime was 1 % of the edge's
// instructions when run for every request).
const char* Now() {
  thread_local std::time_t last = -1;
  thread_local char ts[32];
  std::time_t now = std::time(nullptr);
  if (now != last) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    last = now;
  }
  return ts;
}

std::string_view View(beast::string_view s) { return std::string_view(s.data(), s.size()); }

// A header parser that keeps the start line and the fields as views into the buffer they were
// parsed from, and puts a body where body_data points (as buffer_body's reader does). Beast's
// parser<> copied every field into an element of its own (an allocation, a red-black tree insert,
// a free) only for the edge to read them back as views: about 3 k instructions per request.
// Beast's basic_parser still does all the parsing and every check (limits, Content-Length and
// Transfer-Encoding, chunking), and reads go through http::read* as before.
//
// The views stay valid until the buffer moves its contents: the next prepare() of `src` (a read
// into it). So the request's fields are used before anything more is read from the client, and
// the response's before its body is read. A value Beast unfolded (obs-fold: it hands over a copy
// of its own, valid only during the call) is copied into `spill_`. So is everything of a header
// that is not whole in `src` when its start line is parsed: Beast parses the start line and the
// complete fields of what has come, counts them as used, and the read for the rest overwrites
// them. (A header usually comes whole in one receive: then it is parsed in one call, all views.)
template <bool isRequest>
class ViewParser : public http::basic_parser<isRequest> {
 public:
  ViewParser(std::vector<ingress::HeaderView>& fields, const beast::flat_buffer& src)
      : fields(fields), src_(src) {
    fields.clear();
  }

  // Request line / status line.
  http::verb method = http::verb::unknown;
  std::string_view method_text, target;
  int status = 0;
  std::string_view reason;
  unsigned version = 11;
  std::vector<ingress::HeaderView>& fields;
  // Where the body goes, and room left there (as buffer_body's data and size).
  char* body_data = nullptr;
  size_t body_size = 0;

  // The first field named `name` (case-insensitively), or none.
  std::optional<std::string_view> Find(std::string_view name) const {
    for (const auto& [n, v] : fields) {
      if (beast::iequals(beast::string_view(n.data(), n.size()),
                         beast::string_view(name.data(), name.size())))
        return v;
    }
    return std::nullopt;
  }

 private:
  std::string_view Keep(beast::string_view s) {
    if (!copy_) {
      const asio::const_buffer in = src_.data();
      const char* lo = static_cast<const char*>(in.data());
      std::less_equal<const char*> le;
      if (le(lo, s.data()) && le(s.data() + s.size(), lo + in.size())) return View(s);
    }
    return spill_.emplace_front(s.data(), s.size());
  }
  // At the start line (the first callback of a message): views only if the whole header is in
  // `src` (its readable bytes begin with this message: what came before is consumed), else copies
  // for the whole message.
  void Begin() {
    const asio::const_buffer in = src_.data();
    copy_ = std::string_view(static_cast<const char*>(in.data()), in.size()).find("\r\n\r\n") ==
            std::string_view::npos;
  }
  void on_request_impl(http::verb m, beast::string_view ms, beast::string_view t, int v,
                       beast::error_code&) override {
    Begin();
    method = m;
    method_text = Keep(ms);
    target = Keep(t);
    version = static_cast<unsigned>(v);
  }
  void on_response_impl(int code, beast::string_view r, int v, beast::error_code&) override {
    Begin();
    status = code;
    reason = Keep(r);
    version = static_cast<unsigned>(v);
  }
  void on_field_impl(http::field, beast::string_view name, beast::string_view value,
                     beast::error_code&) override {
    fields.emplace_back(Keep(name), Keep(value));
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, beast::error_code&) override {}
  size_t Put(beast::string_view b, beast::error_code& ec) {
    if (body_data == nullptr) {
      ec = http::error::need_buffer;
      return 0;
    }
    const size_t n = std::min(body_size, b.size());
    std::memcpy(body_data, b.data(), n);
    body_data += n;
    body_size -= n;
    if (n != b.size()) ec = http::error::need_buffer;
    return n;
  }
  size_t on_body_impl(beast::string_view b, beast::error_code& ec) override { return Put(b, ec); }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view b, beast::error_code& ec) override {
    return Put(b, ec);
  }
  void on_finish_impl(beast::error_code&) override {}

  const beast::flat_buffer& src_;
  bool copy_ = false;                     // the header was not whole at its start line
  std::forward_list<std::string> spill_;  // nothing allocated unless a value is copied
};

ingress::Headers ToHeaders(const std::vector<ingress::HeaderView>& v) {
  ingress::Headers h;
  h.reserve(v.size());
  for (const auto& [n, val] : v) h.emplace_back(Lower(n.data(), n.size()), std::string(val));
  return h;
}

bool Empty(const config::HeaderModifierSpec& m) {
  return m.set.empty() && m.add.empty() && m.remove.empty();
}

// Appends "name: value\r\n" for every header: the fast paths below write a message from the
// forwarded header list directly instead of converting it back into Beast's fields.
void AppendFields(std::string& out, const ingress::Headers& h) {
  for (const auto& [k, v] : h) {
    out.append(k);
    out.append(": ", 2);
    out.append(v);
    out.append("\r\n", 2);
  }
}

void ApplyModifier(ingress::Headers& h, const config::HeaderModifierSpec& m) {
  auto drop = [&](const std::string& name) {
    std::string n = Lower(name);
    std::erase_if(h, [&](const auto& kv) { return kv.first == n; });
  };
  for (const std::string& r : m.remove) drop(r);
  for (const auto& [k, v] : m.set) {
    drop(k);
    h.emplace_back(Lower(k), v);
  }
  for (const auto& [k, v] : m.add) h.emplace_back(Lower(k), v);
}

// The socket under a stream: a plain client connection is a bare Socket (a beast::basic_stream
// made three timers and a shared state per connection: 2.5 k instructions to make and destroy,
// for deadlines the Watchdog keeps anyway); upstream connections and TLS are over a TcpStream.
Socket& LowestSocket(Socket& s) { return s; }
Socket& LowestSocket(TcpStream& s) { return s.socket(); }
Socket& LowestSocket(TlsStream& s) { return s.next_layer().socket(); }

// Relays the body of the message whose header `sr` has just written, from parser `p` reading `in`
// to `out`, 64 KiB at a time (Beast's relay pattern, with buffer_body), each read and write within
// `timeout` (the Watchdog's sides `in_side` and `out_side`; error::timeout when one passes).
// `data` is the session's kChunk-byte buffer (one per connection, not one per message).
template <bool isRequest, class In, class Out>
awaitable<beast::error_code> RelayBody(In& in, beast::flat_buffer& inbuf, ViewParser<isRequest>& p,
                                       Out& out, http::message<isRequest, http::buffer_body>& m,
                                       http::serializer<isRequest, http::buffer_body>& sr,
                                       std::chrono::milliseconds timeout, uint64_t& bytes,
                                       char* data_ptr, Watchdog& w, Watchdog::Side in_side,
                                       Watchdog::Side out_side) {
  const int in_fd = LowestSocket(in).native_handle(), out_fd = LowestSocket(out).native_handle();
  struct Borrowed {
    char* p;
    char* get() const { return p; }
  } data{data_ptr};
  beast::error_code ec;
  do {
    if (!p.is_done()) {
      p.body_data = data.get();
      p.body_size = kChunk;
      w.Arm(in_side, in_fd, timeout);
      // read_some, not read: what has come goes on at once (a stream of events, a slow upload, the
      // part before an upstream reset) instead of waiting until 64 KiB have gathered.
      co_await http::async_read_some(in, inbuf, p, asio::redirect_error(use_awaitable, ec));
      w.Disarm(in_side);
      if (ec == http::error::need_buffer) ec = {};
      if (w.Expired(in_side)) ec = beast::error::timeout;
      if (ec) co_return ec;
      const size_t n = kChunk - p.body_size;
      // Only a chunk header came: nothing to write (a zero-size piece would end a chunked body).
      if (n == 0 && !p.is_done()) continue;
      m.body().size = n;
      m.body().data = n == 0 ? nullptr : data.get();
      m.body().more = !p.is_done();
    } else {
      m.body().data = nullptr;
      m.body().size = 0;
      m.body().more = false;
    }
    bytes += m.body().size;
    w.Arm(out_side, out_fd, timeout);
    co_await http::async_write(out, sr, asio::redirect_error(use_awaitable, ec));
    w.Disarm(out_side);
    if (ec == http::error::need_buffer) ec = {};
    if (w.Expired(out_side)) ec = beast::error::timeout;
    if (ec) co_return ec;
  } while (!p.is_done() && !sr.is_done());
  co_return ec;
}

}  // namespace

// One io thread: its io_context, run by that thread alone (so Asio takes no lock around a socket's
// operations: BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO; posting from other threads stays safe), and
// the idle upstream connections its requests made (sockets of its own io_context). A connection
// lives on one worker from accept to close; the listeners accept on the first and hand the
// connections out in turn.
struct Worker {
  // Before io, so that they outlive it: the coroutines' frames, destroyed with io, give their
  // buffers back and take their Watchdogs off the list.
  BufferPool buffers;
  Deadlines deadlines;  // its timer goes in Stop(), before io
  asio::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  UpstreamPool pool;
  std::optional<asio::executor_work_guard<Executor>> guard;
  std::thread thread;
  Worker() { deadlines.Start(io.get_executor()); }
};

struct IngressServer::Impl {
  IngressOptions options;
  // Destroying them (Stop) destroys every coroutine frame still waiting, and with them their
  // sockets.
  std::vector<std::unique_ptr<Worker>> workers;
  size_t next_worker = 0;  // the accept loops' (all on the first worker)
  std::vector<std::unique_ptr<Listener>> listeners;
  std::map<std::string, std::unique_ptr<SocketFactory>> factories;  // by node netns

  mutable std::mutex snap_mu;
  std::shared_ptr<const Snapshot> snap;

  mutable std::mutex stats_mu;
  std::map<std::string, IngressRouteStats> stats;

  std::mutex log_mu;
  FILE* log = nullptr;
  bool log_dirty = false;
  awaitable<void> FlushLog() {
    Timer t(workers[0]->io.get_executor());
    for (;;) {
      t.expires_after(std::chrono::milliseconds(100));
      beast::error_code ec;
      co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      std::lock_guard<std::mutex> l(log_mu);
      if (log != nullptr && log_dirty) fflush(log);
      log_dirty = false;
    }
  }

  std::atomic<uint64_t> rr{0};
  std::atomic<bool> draining{false};
  std::mutex active_mu;
  std::condition_variable active_cv;
  std::atomic<int> active{0};  // requests in flight
  bool stopped = false;

  std::shared_ptr<const Snapshot> Current() const {
    std::lock_guard<std::mutex> l(snap_mu);
    return snap;
  }

  void Count(const std::string& route, int status, uint64_t in, uint64_t out) {
    std::lock_guard<std::mutex> l(stats_mu);
    IngressRouteStats& s = stats[route];
    s.route = route;
    ++s.requests;
    int cls = status / 100;
    if (cls >= 1 && cls <= 5) ++s.status[cls];
    s.bytes_in += in;
    s.bytes_out += out;
  }

  void Log(const std::string& line) {
    std::lock_guard<std::mutex> l(log_mu);
    if (log == nullptr) return;
    fputs(Now(), log);
    fputc(' ', log);
    fwrite(line.data(), 1, line.size(), log);
    fputc('\n', log);
    log_dirty = true;  // flushed by the log timer, at most 100 ms later: no write() per request
  }

  // Requests in flight, counted without a lock; Stop() waits under active_mu for none, and the
  // request that ends the last one while draining wakes it (draining is set before Stop waits).
  void Begin() { active.fetch_add(1); }
  void End() {
    if (active.fetch_sub(1) == 1 && draining) {
      std::lock_guard<std::mutex> l(active_mu);
      active_cv.notify_all();
    }
  }

  awaitable<void> Accept(Listener* l);
  template <class Stream>
  awaitable<void> Serve(Stream stream, Listener* l, Worker* worker, std::string client);
  // One client connection's state between its requests.
  struct Conn {
    std::string client;
    Worker* worker = nullptr;
    Watchdog* watch = nullptr;
    ConnBuffers* b = nullptr;
    // Plain HTTP sets TCP_NODELAY when it first needs it, as nginx does: when the connection is
    // kept for a next request, or before a message goes out in several writes. A message sent in
    // one write with nothing else unacknowledged is not delayed by Nagle's algorithm, and one
    // connection per request then saves the setsockopt(2). TLS connections set it at once (their
    // handshake writes more than once).
    bool nodelay = false;
  };
  template <class Stream>
  awaitable<bool> Handle(Stream& stream, Conn& c, Listener* l, bool first);
  template <class Stream>
  awaitable<void> Answer(Stream& stream, Conn& c, unsigned version, http::status status, bool keep,
                         std::string body, std::string location);
};

awaitable<void> IngressServer::Impl::Accept(Listener* l) {
  tcp::endpoint peer;  // from accept(2) itself: no getpeername(2)
  for (;;) {
    beast::error_code ec;
    Worker* worker = workers[next_worker++ % workers.size()].get();
    Socket s = co_await l->acceptor->async_accept(worker->io, peer,
                                                  asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted || draining) co_return;
    if (ec) continue;
    // Listeners are IPv4 (127.0.0.0/8); our formatter, not inet_ntop's sprintf.
    std::string client = peer.address().is_v4()
                             ? net::Ipv4{peer.address().to_v4().to_uint()}.ToString()
                             : peer.address().to_string();
    if (l->tls) {
      s.set_option(tcp::no_delay(true), ec);
      s.non_blocking(true, ec);  // TlsStream receives and sends synchronously until EAGAIN
      TlsStream stream(TcpStream(std::move(s)), l->tls->native_handle());
      asio::co_spawn(worker->io, Serve(std::move(stream), l, worker, client), asio::detached);
    } else {
      s.non_blocking(true, ec);  // Handle reads and writes synchronously until EAGAIN
      asio::co_spawn(worker->io, Serve(std::move(s), l, worker, client), asio::detached);
    }
  }
}

template <class Stream>
awaitable<void> IngressServer::Impl::Serve(Stream stream, Listener* l, Worker* worker,
                                           std::string client) {
  constexpr bool kTls = !std::is_same_v<Stream, Socket>;
  beast::error_code ec;
  if constexpr (kTls) {
    beast::get_lowest_layer(stream).expires_after(options.limits.header_timeout);
    ec = co_await stream.Handshake();
    if (ec) co_return;
    beast::get_lowest_layer(stream)
        .expires_never();  // from here on the Watchdog keeps the deadlines
  }
  Watchdog watch(&worker->deadlines);
  BufferLease lease(&worker->buffers);
  Conn c{std::move(client), worker, &watch, lease.b.get(), kTls};
  for (bool first = true;; first = false) {
    bool keep = co_await Handle(stream, c, l, first);
    if (!keep || draining) break;
    if (!c.nodelay) {  // kept for another request (Conn says why only now)
      LowestSocket(stream).set_option(tcp::no_delay(true), ec);
      c.nodelay = true;
    }
  }
  watch.Stop();
  if constexpr (kTls) {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
    ec = co_await stream.Shutdown();
  }
  // Plain TCP: the close when `stream` goes sends the FIN (a shutdown(2) before it was one more
  // syscall per connection and changed nothing: unread data makes close(2) reset either way).
}

template <class Stream>
awaitable<void> IngressServer::Impl::Answer(Stream& stream, Conn& c, unsigned version,
                                            http::status status, bool keep, std::string body,
                                            std::string location) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::server, "minikube-net");
  res.set(http::field::content_type, "text/plain");
  if (!location.empty()) res.set(http::field::location, location);
  res.keep_alive(keep);
  res.body() = std::move(body);
  res.prepare_payload();
  beast::error_code ec;
  c.watch->Arm(Watchdog::kClient, LowestSocket(stream).native_handle(),
               options.limits.idle_timeout);
  co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
  c.watch->Disarm(Watchdog::kClient);
}

// One request: read, route, answer or proxy. Returns whether the connection stays open.
template <class Stream>
awaitable<bool> IngressServer::Impl::Handle(Stream& stream, Conn& c, Listener* l, bool first) {
  const IngressLimits& lim = options.limits;
  beast::flat_buffer& buf = c.b->buf;
  beast::flat_buffer& upbuf = c.b->upbuf;
  std::string& out = c.b->out;
  char* const chunk = c.b->chunk.get();
  Watchdog& w = *c.watch;
  const std::string& client = c.client;
  // Before a message that goes out in more than one write (see Conn).
  auto nodelay = [&] {
    if (c.nodelay) return;
    beast::error_code e;
    LowestSocket(stream).set_option(tcp::no_delay(true), e);
    c.nodelay = true;
  };
  ViewParser<true> req(c.b->req_fields, buf);
  req.header_limit(static_cast<std::uint32_t>(lim.header_bytes));
  req.body_limit(lim.body_bytes);
  beast::error_code ec;
  const int client_fd = LowestSocket(stream).native_handle();
  if (!first && buf.size() == 0) {
    // Idle between requests up to idle_timeout; once the next request begins, its header is due
    // within header_timeout, as the first one was (else one fast request buys a slow client the
    // idle timeout for every header after it). What this read brings is parsed from the buffer
    // below without another receive.
    w.Arm(Watchdog::kClient, client_fd, lim.idle_timeout);
    size_t n = 0;
    if constexpr (std::is_same_v<Stream, Socket>) {
      n = co_await stream.async_read_some(buf.prepare(kChunk),
                                          asio::redirect_error(use_awaitable, ec));
    } else {
      n = co_await stream.ReadSomeNow(buf.prepare(kChunk), ec);
    }
    buf.commit(n);
    w.Disarm(Watchdog::kClient);
    if (w.Expired(Watchdog::kClient)) co_return false;
  }
  if (!ec) {
    w.Arm(Watchdog::kClient, client_fd, lim.header_timeout);
    if (!ParseBuffered(stream, buf, req, true, ec)) co_await ReadAsync(stream, buf, req, true, ec);
    w.Disarm(Watchdog::kClient);
    if (w.Expired(Watchdog::kClient)) co_return false;
  }
  if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
      ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
    co_return false;
  }
  Begin();
  struct Done {
    Impl* impl;
    ~Done() { impl->End(); }
  } done{this};
  auto start = std::chrono::steady_clock::now();
  // GCC 12 destroys class temporaries made inside a co_await expression twice (a conditional
  // operator choosing a std::string was a double free here): every argument of a co_await call in
  // this file is a named local.
  const std::string none;
  if (ec) {
    bool big = ec == http::error::header_limit;
    // Beast checks a Content-Length against the body limit with the header: that is a 413 too.
    bool too_long = ec == http::error::body_limit;
    http::status st = big        ? http::status::request_header_fields_too_large
                      : too_long ? http::status::payload_too_large
                                 : http::status::bad_request;
    std::string body = big        ? std::string("request header too large\n")
                       : too_long ? std::string("request body too large\n")
                                  : StrCat("bad request: ", ec.message(), "\n");
    co_await Answer(stream, c, 11, st, false, std::move(body), none);
    Count(none, static_cast<int>(st), 0, 0);
    // The same fields as every other line (nothing of the request could be trusted: all "-").
    Log(StrCat(client, " - \"- -\" ", static_cast<int>(st),
               " route=- backend=- upstream_ms=-1 total_ms=0"));
    co_return false;
  }
  // req's views are used before anything more is read from the client (ViewParser).
  const unsigned version = req.version;
  const bool client_keep = req.keep_alive();
  const bool has_body = req.content_length().value_or(0) > 0 || req.chunked();
  std::string target(req.target);
  std::string_view path = target, query;
  if (size_t q = target.find('?'); q != std::string::npos) {
    path = std::string_view(target).substr(0, q);
    query = std::string_view(target).substr(q + 1);
  }
  std::string host(req.Find("host").value_or(std::string_view()));
  std::string method(req.method_text);
  auto log_line = [&](int status, const std::string& route, const std::string& pod, int64_t up_ms) {
    if (log == nullptr) return;  // set before the io threads start, cleared after they end
    int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count();
    // Appended into a string kept by the thread (StrCat grew a new one through four allocations).
    thread_local std::string line;
    line.clear();
    StrAppend(&line, client, " ", host.empty() ? "-" : host, " \"", method, " ", target, "\" ",
              status, " route=", route.empty() ? "-" : route, " backend=", pod.empty() ? "-" : pod,
              " upstream_ms=", up_ms, " total_ms=", ms);
    Log(line);
  };
  // Our own answer. A body we did not read leaves the connection unusable: close it then.
  auto own = [&](http::status st, std::string body, std::string route,
                 std::string location) -> awaitable<bool> {
    bool keep = client_keep && !has_body && !draining;
    co_await Answer(stream, c, version, st, keep, std::move(body), std::move(location));
    Count(route, static_cast<int>(st), 0, 0);
    log_line(static_cast<int>(st), route, "", -1);
    co_return keep;
  };

  std::shared_ptr<const Snapshot> snap = Current();
  ingress::Request r;
  r.listener = l->spec.name;
  r.method = method;
  r.host = host;
  r.path = path;
  r.query = query;
  // The router gets the headers (lowercase copies) only when a route matches on them.
  if (snap->router.MatchesHeaders()) r.headers = ToHeaders(req.fields);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  ingress::Decision d = snap->router.Route(r, rng());
  if (d.kind == ingress::Decision::Kind::kNoRoute) {
    std::string body = StrCat("no route for ", host, path, "\n");
    co_return co_await own(http::status::not_found, body, d.route, none);
  }
  if (d.kind == ingress::Decision::Kind::kRedirect) {
    http::status st = static_cast<http::status>(d.redirect_status);
    co_return co_await own(st, none, d.route, d.location);
  }
  auto t = snap->targets.find({d.backend.service, d.backend.port});
  if (t == snap->targets.end() || t->second.endpoints.empty()) {
    std::string body =
        StrCat("service ", d.backend.service, ":", d.backend.port, " has no endpoints\n");
    co_return co_await own(http::status::service_unavailable, body, d.route, none);
  }
  // Where to: the ClusterIP (the Service layer balances) or an endpoint (we do, round-robin).
  std::string pod;
  tcp::endpoint to;
  const std::string* key_ptr = &t->second.cluster_key;
  if (l->spec.upstream == config::UpstreamMode::kEndpoints) {
    const auto& eps = t->second.endpoints;
    const size_t i = rr.fetch_add(1, std::memory_order_relaxed) % eps.size();
    const nat::Endpoint& e = eps[i];
    to = tcp::endpoint(asio::ip::address_v4(e.ip.value), e.port);
    pod = e.pod;
    key_ptr = &t->second.endpoint_keys[i];
  } else {
    to = tcp::endpoint(asio::ip::address_v4(t->second.cluster_ip.value),
                       static_cast<unsigned short>(t->second.port));
  }
  const std::string& key = *key_ptr;  // `snap` keeps it alive

  // The request as it goes upstream.
  ingress::ForwardInfo info;
  info.client_ip = client;
  info.proto = l->tls ? "https" : "http";
  info.host = host;
  info.by = l->by;
  // Expect: 100-continue is answered here (below), as nginx does: the backend gets the body at
  // once.
  const bool expects_continue = req.Find("expect").has_value();
  // Without a body the whole request goes upstream in one write from `out` (one send, where
  // Beast's serializer needs a header write and a body write); with a body, Beast's serializer
  // streams it. Connection is hop-by-hop (dropped), so HTTP/1.1 means keep-alive.
  const bool whole_request = !has_body;
  ingress::Headers h;
  if (whole_request) {
    out.clear();
    out.append(method);
    out.push_back(' ');
    out.append(target);
    out.append(" HTTP/1.1\r\n");
  }
  if (whole_request && Empty(d.modify)) {
    // The usual case: header lines written straight from the parsed fields (no list of copies),
    // with the Forwarded element kept while client, host and listener stay the same (no
    // suspension between filling these thread_locals and using them).
    thread_local ingress::ForwardInfo last;
    if (last.forwarded.empty() || last.client_ip != info.client_ip || last.host != info.host ||
        last.proto != info.proto || last.by != info.by) {
      last = info;
      last.forwarded = ingress::ForwardedElement(info);
    }
    ingress::AppendUpstreamRequestLines(out, req.fields, last, "expect");
  } else {
    h = r.headers.empty() ? ToHeaders(req.fields) : std::move(r.headers);
    ingress::PrepareUpstreamRequest(h, info);
    std::erase_if(h, [&](const auto& kv) { return kv.first == "expect"; });
    ApplyModifier(h, d.modify);
    if (whole_request) AppendFields(out, h);
  }
  // With a body: the request as Beast's serializer writes it (a header of copies: the body is read
  // into `buf` from here on, which moves req's views).
  http::request<http::buffer_body> msg;
  if (whole_request) {
    out.append("\r\n", 2);
  } else {
    msg.method_string(method);
    msg.target(target);
    msg.version(11);
    for (const auto& [k, v] : h) msg.insert(k, v);
    if (req.chunked()) msg.chunked(true);
    msg.keep_alive(true);
  }

  if (has_body) nodelay();  // the body is relayed in pieces (and an answer may come before its end)
  if (expects_continue && has_body) {
    http::response<http::empty_body> cont{http::status::continue_, version};
    w.Arm(Watchdog::kClient, client_fd, lim.idle_timeout);
    co_await http::async_write(stream, cont, asio::redirect_error(use_awaitable, ec));
    w.Disarm(Watchdog::kClient);
    if (ec) co_return false;
  }
  auto up_start = std::chrono::steady_clock::now();
  uint64_t bytes_in = 0, bytes_out = 0;
  std::unique_ptr<TcpStream> up;
  upbuf.clear();
  std::optional<ViewParser<false>> resp_holder;
  const bool head = req.method == http::verb::head;
  auto fresh_parser = [&]() -> ViewParser<false>& {
    resp_holder.emplace(c.b->resp_fields, upbuf);
    resp_holder->body_limit(
        std::numeric_limits<std::uint64_t>::max());  // not boost::none: 1.74 compares len > none as
                                                     // true
    if (head) resp_holder->skip(true);
    return *resp_holder;
  };
  fresh_parser();
  // A pooled connection may have been closed by the backend meanwhile: one retry on a fresh one,
  // when the request has no body (nothing of it is consumed yet).
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    if (attempt == 0) up = c.worker->pool.Get(key);
    if (up) {
      reused = true;
    } else {
      absl::StatusOr<Fd> fd = l->sockets->Take();
      if (!fd.ok()) {
        std::string body = StrCat(fd.status().message(), "\n");
        co_return co_await own(http::status::bad_gateway, body, d.route, none);
      }
      Socket s(c.worker->io);
      s.assign(tcp::v4(), fd->Release(), ec);
      up = std::make_unique<TcpStream>(std::move(s));
      up->expires_after(lim.connect_timeout);
      co_await up->async_connect(to, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        http::status st = TimedOut(ec) ? http::status::gateway_timeout : http::status::bad_gateway;
        std::string body = StrCat("upstream ", key, ": ", ec.message(), "\n");
        co_return co_await own(st, body, d.route, none);
      }
      up->expires_never();  // from here on the Watchdog keeps the deadlines
      up->socket().set_option(tcp::no_delay(true), ec);
      // Closed with a reset (SO_LINGER 0), never a FIN: an upstream socket lives in a node's netns
      // and leads into a pod's, and when the lab goes down a FIN handshake may not finish (the
      // Service path or the pod goes first). A socket left retransmitting its FIN (a pooled
      // connection at Stop, one the watchdog cut) keeps its netns alive, and `down` waited its
      // whole 15 s for namespaces the kernel could not free. We close an upstream connection only
      // when it is done with or broken, so a reset loses nothing.
      up->socket().set_option(asio::socket_base::linger(true, 0), ec);
      up->socket().non_blocking(true, ec);  // read and written synchronously until EAGAIN
    }
    const int up_fd = up->socket().native_handle();
    if (whole_request) {
      w.Arm(Watchdog::kUpstream, up_fd, lim.idle_timeout);
      size_t sent = 0;
      if (!SendNow(up->socket(), out, sent, ec)) co_await SendRest(up->socket(), out, sent, ec);
      w.Disarm(Watchdog::kUpstream);
      if (w.Expired(Watchdog::kUpstream)) ec = beast::error::timeout;  // (a 504, not a retry)
    } else {
      http::serializer<true, http::buffer_body> sr{msg};
      w.Arm(Watchdog::kUpstream, up_fd, lim.idle_timeout);
      co_await http::async_write_header(*up, sr, asio::redirect_error(use_awaitable, ec));
      w.Disarm(Watchdog::kUpstream);
      if (w.Expired(Watchdog::kUpstream)) ec = beast::error::timeout;
      if (!ec) {
        ec = co_await RelayBody(stream, buf, req, *up, msg, sr, lim.idle_timeout, bytes_in, chunk,
                                w, Watchdog::kClient, Watchdog::kUpstream);
      }
    }
    if (ec == http::error::body_limit) {
      std::string body = "request body too large\n";
      co_return co_await own(http::status::payload_too_large, body, d.route, none);
    }
    if (!ec) {
      w.Arm(Watchdog::kUpstream, up_fd, std::chrono::seconds(l->spec.upstream_timeout_s));
      if (!ParseBuffered(up->socket(), upbuf, *resp_holder, true, ec)) {
        co_await ReadAsync(up->socket(), upbuf, *resp_holder, true, ec);
      }
      // Interim answers (100 Continue, 103 Early Hints) are not the response: read on.
      while (!ec && resp_holder->status / 100 == 1 && resp_holder->status != 101) {
        fresh_parser();
        if (!ParseBuffered(up->socket(), upbuf, *resp_holder, true, ec)) {
          co_await ReadAsync(up->socket(), upbuf, *resp_holder, true, ec);
        }
      }
      w.Disarm(Watchdog::kUpstream);
      if (w.Expired(Watchdog::kUpstream)) ec = beast::error::timeout;
    }
    if (!ec) break;
    if (reused && attempt == 0 && !has_body && !TimedOut(ec)) {
      up.reset();
      upbuf.clear();
      fresh_parser();
      continue;
    }
    http::status st = TimedOut(ec) ? http::status::gateway_timeout : http::status::bad_gateway;
    std::string body = StrCat("upstream ", key, ": ", ec.message(), "\n");
    co_return co_await own(st, body, d.route, none);
  }
  const int64_t up_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - up_start)
                            .count();

  // The response as it goes downstream. resp's views are used before its body is read (ViewParser).
  ViewParser<false>& resp = *resp_holder;
  const int status = resp.status;
  const bool up_keep = resp.keep_alive();
  const bool chunked = resp.chunked();
  const boost::optional<uint64_t> length = resp.content_length();
  if (pod.empty())
    pod = std::string(resp.Find("x-pod").value_or(std::string_view()));  // http-echo names itself
  if (pod.empty()) pod = key;
  bool keep = client_keep && !draining;
  const bool bodyless = resp.skip() || status / 100 == 1 || status == 204 || status == 304;
  // A response without a body or with a small known length goes out in one write: header and body
  // together from `out` (one send, one TLS record for a small body), the body read whole first.
  const bool whole_response = bodyless || (length && *length <= kChunk);
  if (whole_response) {
    // The header first, while resp's views are valid; then the body, read whole into `chunk`.
    std::string_view reason = resp.reason;
    if (reason.empty()) reason = View(http::obsolete_reason(static_cast<http::status>(status)));
    out.clear();
    out.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    out.append(std::to_string(status));
    out.push_back(' ');
    out.append(reason);
    out.append("\r\n", 2);
    ingress::AppendDownstreamResponseLines(out, resp.fields, info);
    // Connection is hop-by-hop (dropped above): say only what differs from the version's default,
    // as Beast's keep_alive() does.
    if (version >= 11 && !keep) out.append("Connection: close\r\n");
    if (version < 11 && keep) out.append("Connection: keep-alive\r\n");
    out.append("\r\n", 2);
    size_t n = 0;
    if (!resp.is_done()) {
      resp.body_data = chunk;
      resp.body_size = kChunk;
      w.Arm(Watchdog::kUpstream, up->socket().native_handle(), lim.idle_timeout);
      if (!ParseBuffered(up->socket(), upbuf, resp, false, ec))
        co_await ReadAsync(up->socket(), upbuf, resp, false, ec);
      w.Disarm(Watchdog::kUpstream);
      if (ec == http::error::need_buffer && resp.is_done()) ec = {};
      // Expired just after the body came: the socket is shut down, so it must not go back to the
      // pool.
      if (w.Expired(Watchdog::kUpstream)) ec = beast::error::timeout;
      n = kChunk - resp.body_size;
    }
    if (!ec) {
      out.append(chunk, n);
      bytes_out = n;
      w.Arm(Watchdog::kClient, client_fd, lim.idle_timeout);
      if constexpr (std::is_same_v<Stream, Socket>) {
        size_t sent = 0;
        if (!SendNow(stream, out, sent, ec)) {
          nodelay();  // the rest goes in more writes
          co_await SendRest(stream, out, sent, ec);
        }
      } else {
        ec = co_await stream.WriteNow(out);
      }
      w.Disarm(Watchdog::kClient);
    }
  } else {
    ingress::Headers rh = ToHeaders(resp.fields);
    ingress::PrepareDownstreamResponse(rh, info);
    http::response<http::buffer_body> rm;
    rm.result(static_cast<unsigned>(status));
    if (!resp.reason.empty()) rm.reason(beast::string_view(resp.reason.data(), resp.reason.size()));
    for (const auto& [k, v] : rh) rm.insert(k, v);
    if (length) {
      rm.content_length(*length);
    } else if (chunked || resp.need_eof()) {
      // Chunked, or delimited by the upstream closing: chunk it for a 1.1 client; a 1.0 client gets
      // the body up to our close.
      if (version >= 11) {
        rm.chunked(true);
      } else {
        keep = false;
      }
    }
    rm.version(version);
    rm.keep_alive(keep);
    nodelay();  // the header, then the body in pieces
    http::serializer<false, http::buffer_body> rs{rm};
    w.Arm(Watchdog::kClient, client_fd, lim.idle_timeout);
    co_await http::async_write_header(stream, rs, asio::redirect_error(use_awaitable, ec));
    w.Disarm(Watchdog::kClient);
    if (w.Expired(Watchdog::kClient)) ec = beast::error::timeout;
    if (!ec) {
      ec = co_await RelayBody(*up, upbuf, resp, stream, rm, rs, lim.idle_timeout, bytes_out, chunk,
                              w, Watchdog::kUpstream, Watchdog::kClient);
    }
  }
  Count(d.route, status, bytes_in, bytes_out);
  log_line(status, d.route, pod, up_ms);
  if (!ec && up_keep && resp.is_done() && upbuf.size() == 0) c.worker->pool.Put(key, std::move(up));
  co_return !ec && keep;
}

IngressServer::IngressServer() : impl_(std::make_shared<Impl>()) {}

IngressServer::~IngressServer() { Stop(); }

absl::StatusOr<std::unique_ptr<IngressServer>> IngressServer::Start(
    const config::ClusterSpec& spec, const std::map<std::string, int>& node_netns,
    IngressOptions options) {
  std::unique_ptr<IngressServer> s(new IngressServer());
  Impl& impl = *s->impl_;
  impl.options = options;
  for (int i = 0; i < std::max(1, options.threads); ++i)
    impl.workers.push_back(std::make_unique<Worker>());
  MKN_ASSIGN_OR_RETURN(impl.snap, MakeSnapshot(spec));
  for (const std::string& r : impl.snap->router.Routes()) impl.stats[r].route = r;
  if (!options.access_log.empty()) {
    impl.log = fopen(options.access_log.c_str(), "ae");
    if (impl.log != nullptr) setvbuf(impl.log, nullptr, _IOFBF, 1 << 16);
  }
  for (const config::ListenerSpec& ls : spec.listeners) {
    auto l = std::make_unique<Listener>();
    l->spec = ls;
    l->by = StrCat(ls.address.ToString(), ":", ls.port);
    const std::string& node_ns = spec.nodes.at(ls.node).netns;
    auto nf = node_netns.find(node_ns);
    if (nf == node_netns.end())
      return absl::InvalidArgumentError(StrCat("listener ", ls.name, ": no netns for ", node_ns));
    auto& factory = impl.factories[node_ns];
    if (!factory) factory = std::make_unique<SocketFactory>(nf->second);
    l->sockets = factory.get();
    if (ls.protocol == config::ListenerProtocol::kHttps) {
      MKN_ASSIGN_OR_RETURN(std::shared_ptr<SSL_CTX> ctx, ServerContext(ls.tls));
      SSL_CTX_up_ref(ctx.get());  // asio's context takes one reference and frees it
      l->tls = std::make_shared<ssl::context>(ctx.get());
    }
    beast::error_code ec;
    l->acceptor = std::make_unique<Acceptor>(impl.workers[0]->io);
    tcp::endpoint ep(asio::ip::address_v4(ls.address.value), static_cast<unsigned short>(ls.port));
    l->acceptor->open(ep.protocol(), ec);
    if (!ec) l->acceptor->set_option(Acceptor::reuse_address(true), ec);
    if (!ec) l->acceptor->bind(ep, ec);
    if (!ec) l->acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::FailedPreconditionError(
          StrCat("listener ", ls.name, ": listen on ", l->by, ": ", ec.message()));
    }
    if (ls.port == 0) {  // the kernel chose: Listening() and Forwarded: by= say which
      l->spec.port = l->acceptor->local_endpoint(ec).port();
      l->by = StrCat(ls.address.ToString(), ":", l->spec.port);
    }
    impl.listeners.push_back(std::move(l));
  }
  asio::io_context& first = impl.workers[0]->io;
  for (auto& l : impl.listeners) asio::co_spawn(first, impl.Accept(l.get()), asio::detached);
  asio::co_spawn(first, impl.FlushLog(), asio::detached);
  for (auto& w : impl.workers) {
    w->guard.emplace(w->io.get_executor());
    w->thread = std::thread([io = &w->io] { io->run(); });
  }
  return s;
}

absl::Status IngressServer::Update(const config::ClusterSpec& spec) {
  MKN_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, MakeSnapshot(spec));
  std::lock_guard<std::mutex> l(impl_->snap_mu);
  impl_->snap = std::move(snap);
  return absl::OkStatus();
}

void IngressServer::Stop() {
  Impl& impl = *impl_;
  if (impl.stopped) return;
  impl.stopped = true;
  impl.draining = true;
  // No new connections; requests in flight finish (their connections then close), up to a deadline.
  asio::post(impl.workers[0]->io, [&impl] {
    beast::error_code ec;
    for (auto& l : impl.listeners) l->acceptor->close(ec);
  });
  {
    std::unique_lock<std::mutex> lk(impl.active_mu);
    impl.active_cv.wait_for(lk, impl.options.limits.drain_timeout,
                            [&] { return impl.active == 0; });
  }
  for (auto& w : impl.workers) {
    w->guard.reset();
    w->io.stop();
  }
  for (auto& w : impl.workers) {
    if (w->thread.joinable()) w->thread.join();
  }
  for (auto& w : impl.workers) {
    w->pool.Clear();
    w->deadlines.Shutdown();
  }
  impl.listeners.clear();  // their acceptors are the first worker's
  impl.workers.clear();  // the coroutines still waiting (idle keep-alive clients) and their sockets
  // Spare upstream sockets were made in node namespaces: a socket pins its netns, so they go too.
  impl.factories.clear();
  if (impl.log != nullptr) fclose(impl.log);
  impl.log = nullptr;
}

std::vector<IngressRouteStats> IngressServer::Stats() const {
  std::lock_guard<std::mutex> l(impl_->stats_mu);
  std::vector<IngressRouteStats> out;
  for (const auto& [k, v] : impl_->stats) out.push_back(v);
  return out;
}

std::vector<std::string> IngressServer::Listening() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->listeners) {
    out.push_back(
        StrCat(l->spec.protocol == config::ListenerProtocol::kHttps ? "https " : "http ", l->by));
  }
  return out;
}

}  // namespace mkn::vnet
