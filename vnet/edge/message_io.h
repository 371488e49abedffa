// vnet/edge/message_io — reading and writing HTTP messages on the edge's sockets, the usual case
// without a coroutine frame, and relaying a body piece by piece (internal to vnet/edge).
//
// Why two parts: Asio 1.74 recycles one coroutine frame per thread, and every other frame is a
// malloc and a free, so a helper coroutine per read or write cost more than the read or write.
// ParseBuffered and SendNow do the synchronous part and say whether that settled it; only when it
// did not does the caller await ReadAsync or SendRest (docs/BENCHMARKS.md, "ingress", round 4).
// (A wait for readability before a synchronous receive, as nginx does, was measured: Asio 1.74
// issues an epoll_ctl(MOD) for every such wait, so it only traded the EAGAIN of Asio's speculative
// recv for another syscall.)
//
// Contract: sockets are in non-blocking mode (a synchronous step stops at EAGAIN). Errors are
// Beast's and Asio's error codes as the operations report them (no Status: these are steps inside
// one request, which turns them into an answer). Deadlines are the caller's Watchdog's;
// RelayMessage arms and disarms them itself. Used on one worker's thread; no privileges.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "vnet/edge/asio_types.h"
#include "vnet/edge/deadlines.h"
#include "vnet/edge/view_parser.h"

namespace mkn::vnet::edge_internal {

// The socket under a stream: a plain client connection is a bare Socket (a beast::basic_stream
// made three timers and a shared state per connection: 2.5 k instructions to make and destroy,
// for deadlines the Watchdog keeps anyway); upstream connections and TLS are over a TcpStream
// (LowestSocket(TlsStream&) is in tls_stream.h).
inline Socket& LowestSocket(Socket& s) { return s; }
inline Socket& LowestSocket(TcpStream& s) { return s.socket(); }

// A deadline of TcpStream ran out. Beast 1.74 reports it as error::timeout or, inside
// composed reads, as operation_aborted (nothing else cancels an upstream operation here).
inline bool TimedOut(const beast::error_code& ec) {
  return ec == beast::error::timeout || ec == asio::error::operation_aborted;
}

// Reads a header (or a whole message) into `p` from what `b` already holds, synchronously (no trip
// through the scheduler when the upstream's body came with its header): true when that settled it
// (parsed, or failed: `ec`), false when more must come (then await ReadAsync).
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

// Writes `data` with one send when the socket takes it all (it nearly always does): true when that
// settled it (sent, or failed: `ec`), false when the rest must wait (then await SendRest with the
// `n` bytes sent).
inline bool SendNow(Socket& s, std::string_view data, size_t& n, beast::error_code& ec) {
  ec = {};
  n = asio::write(s, asio::buffer(data.data(), data.size()), ec);
  if (ec != asio::error::would_block) return true;
  ec = {};
  return false;
}
inline awaitable<size_t> SendRest(Socket& s, std::string_view data, size_t n,
                                  beast::error_code& ec) {
  return asio::async_write(s, asio::buffer(data.data() + n, data.size() - n),
                           asio::redirect_error(use_awaitable, ec));
}

// Writes the header of `m` to `out`, then relays the body of the message parser `p` reads from `in`
// (its header already parsed), 64 KiB at a time (Beast's relay pattern, with buffer_body), each
// read and write within `timeout` (the Watchdog's sides `in_side` and `out_side`: error::timeout
// when one passes). `data` is the connection's kChunk-byte buffer (one per connection, not one per
// message); `bytes` counts the body bytes written. A streamed message (chunked, close-delimited,
// over 64 KiB, every request body) goes this way; the usual small one is written whole. An error
// from the `in` side (its parse, its peer, its deadline) sets `*in_failed`: a request body that
// breaks its framing is the client's fault (400), not the backend's (502).
template <bool isRequest, class In, class Out>
awaitable<beast::error_code> RelayMessage(In& in, beast::flat_buffer& inbuf,
                                          ViewParser<isRequest>& p, Out& out,
                                          http::message<isRequest, http::buffer_body>& m,
                                          std::chrono::milliseconds timeout, uint64_t& bytes,
                                          char* data, Watchdog& w, Watchdog::Side in_side,
                                          Watchdog::Side out_side, bool* in_failed = nullptr) {
  const int in_fd = LowestSocket(in).native_handle(), out_fd = LowestSocket(out).native_handle();
  http::serializer<isRequest, http::buffer_body> sr{m};
  beast::error_code ec;
  w.Arm(out_side, out_fd, timeout);
  co_await http::async_write_header(out, sr, asio::redirect_error(use_awaitable, ec));
  w.Disarm(out_side);
  if (w.Expired(out_side)) ec = beast::error::timeout;
  if (ec) co_return ec;
  do {
    if (!p.is_done()) {
      p.body_data = data;
      p.body_size = kChunk;
      w.Arm(in_side, in_fd, timeout);
      // read_some, not read: what has come goes on at once (a stream of events, a slow upload, the
      // part before an upstream reset) instead of waiting until 64 KiB have gathered.
      co_await http::async_read_some(in, inbuf, p, asio::redirect_error(use_awaitable, ec));
      w.Disarm(in_side);
      if (ec == http::error::need_buffer) ec = {};
      if (w.Expired(in_side)) ec = beast::error::timeout;
      if (ec && in_failed != nullptr) *in_failed = true;
      if (ec) co_return ec;
      const size_t n = kChunk - p.body_size;
      // Only a chunk header came: nothing to write (a zero-size piece would end a chunked body).
      if (n == 0 && !p.is_done()) continue;
      m.body().size = n;
      m.body().data = n == 0 ? nullptr : data;
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

}  // namespace mkn::vnet::edge_internal
