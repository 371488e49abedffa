// vnet/edge/tls_stream — a server-side TLS connection over a non-blocking socket, driven by hand
// over OpenSSL instead of through asio::ssl::stream (internal to vnet/edge; vnet/edge/tls keeps the
// CA, certificate and SNI context code).
//
// Why (measured with callgrind and strace in the benchmark's https keep-alive case, 64.8 k → 50.6 k
// instructions per request: docs/BENCHMARKS.md, "ingress", round 3): OpenSSL reads ciphertext from
// `in` (filled by one receive of up to 16 KiB + a record's overhead, as nginx reads) and writes
// into `out` through a BIO of our own, so a record goes socket -> in -> OpenSSL and OpenSSL -> out
// -> socket. asio's stream copies it once more through a BIO pair and runs each SSL call as a
// composed operation (a zero-size read to post a completion that came at once, timers used as locks
// around every transport operation).
//
// Contract. The state lives on the heap (the BIO points to it), so a TlsStream can be moved. It
// models Beast's AsyncReadStream/AsyncWriteStream (for the rare paths: our own answers, streamed
// bodies, 100-continue) and SyncReadStream (read_some stops with would_block, for ParseBuffered's
// synchronous parse); the hot path uses ReadSomeNow and WriteNow. The socket must be in
// non-blocking mode. Deadlines are the connection's Watchdog's, except the handshake's and
// close_notify's (the tcp_stream's, set by the caller). Errors are asio's for the same events (no
// Status: these are Beast's stream concepts): the peer's close_notify is error::eof, an end of the
// TCP stream without it ssl::error::stream_truncated, an OpenSSL failure an error in asio's ssl
// category. Used by one worker's thread; needs no privileges.
//
// The hot members (ReadSomeNow, WriteNow and what they call) are defined here so that they inline
// into the request path as they did in one file; what runs once per connection or on an error is
// in tls_stream.cc.
#pragma once

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "vnet/edge/asio_types.h"

namespace mkn::vnet::edge_internal {

class TlsStream {
 public:
  using executor_type = TcpStream::executor_type;
  using next_layer_type = TcpStream;

  // Server side, over `s` (non-blocking). A failure to make the SSL object is reported by
  // Handshake().
  TlsStream(TcpStream s, SSL_CTX* ctx);
  TlsStream(TlsStream&&) = default;
  TlsStream& operator=(TlsStream&&) = delete;
  ~TlsStream();

  executor_type get_executor() { return s_.get_executor(); }
  TcpStream& next_layer() { return s_; }
  SSL* native_handle() { return core_->ssl; }

  // The handshake, within the tcp_stream's deadline (the caller sets it).
  awaitable<beast::error_code> Handshake();
  // close_notify, then the peer's (or the end of its stream), within the tcp_stream's deadline.
  awaitable<beast::error_code> Shutdown();

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

  // The BIO between OpenSSL and Core (tls_stream.cc).
  static int BioWrite(BIO* bio, const char* data, int n);
  static int BioRead(BIO* bio, char* data, int n);
  static long BioCtrl(BIO*, int cmd, long, void*);
  static BIO_METHOD* Method();

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

  static beast::error_code MakeSslError();
  // The error of a failed SSL call, in asio's terms; leaves OpenSSL's error queue empty.
  beast::error_code MapError(int err, int r);

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
  beast::error_code Eof() const;
  // A synchronous receive: false with ec (would_block included) when nothing came.
  bool ReceiveNow(beast::error_code& ec);
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

// The socket under the stream (Watchdog deadlines, TCP_NODELAY).
inline Socket& LowestSocket(TlsStream& s) { return s.next_layer().socket(); }

}  // namespace mkn::vnet::edge_internal
