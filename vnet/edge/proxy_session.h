// vnet/edge/proxy_session — one client connection's requests, one at a time, each in four phases
// (internal to vnet/edge):
//
//   read     the request head, within header_timeout (idle_timeout before its first byte on a kept
//            connection); a malformed or oversize one is answered 400, 413 or 431 and closes, and
//            so is one lib/ingress/request_head refuses (400, 501: framing or a Host that cannot be
//            trusted, CONNECT); the path is normalized and an absolute-form target's authority
//            taken as the host
//   route    lib/ingress/router picks the rule and backend; no route 404, a redirect, no endpoints
//            503; the upstream address is the ClusterIP or, round-robin, an endpoint
//   forward  an idle pooled connection to that address or a new one (made in the listener's node
//            netns, SocketFactory), the request line and headers as lib/ingress/forwarding writes
//            them, the body streamed; a request without a body on a pooled connection that fails
//            before any answer (not by a timeout) is retried once on a fresh one; refused or reset
//            502, no response header within upstream_timeout 504; a request body that breaks its
//            framing 400 (the client's fault), a client gone mid-body counted as 499
//   relay    the response: written whole when small (header and body in one send), else its header
//            and then its body streamed; the access-log line and the route's counters
//
// Why the phases are methods of one coroutine (Run) and not coroutines of their own: Asio 1.74
// recycles one coroutine frame per thread, so each extra frame on the request path is a malloc and
// a free (docs/BENCHMARKS.md, "ingress", round 4). Run is the request's one frame: it does the two
// waits every request has (for the request and for the response) and the rare ones, and calls the
// phases' synchronous steps (Route, PickBackend, ComposeRequest, ComposeResponseHead, ...) in
// between, plain calls within this translation unit (bench/ingress/profile.sh counted no more
// instructions per request than when they were one function). What one request carries from phase
// to phase is an Exchange, a local of Run: it comes and goes with the request's frame, as the
// locals of that function did.
//
// Contract: Run() never throws and reports nothing but whether the connection stays open (every
// failure is an HTTP answer, or a closed connection when the client is gone or too slow); it runs
// on the connection's worker and touches only that worker's pools. The session must outlive every
// Run() (it lives in the connection's coroutine, vnet/edge/ingress.cc's Serve). Upstream sockets
// are made in the listener's node netns by SocketFactory; nothing here needs privileges itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "lib/ingress/forwarding.h"
#include "lib/ingress/request_head.h"
#include "lib/ingress/router.h"
#include "vnet/edge/asio_types.h"
#include "vnet/edge/conn_buffers.h"
#include "vnet/edge/deadlines.h"
#include "vnet/edge/message_io.h"
#include "vnet/edge/server_state.h"
#include "vnet/edge/snapshot.h"
#include "vnet/edge/tls_stream.h"
#include "vnet/edge/view_parser.h"

namespace mkn::vnet::edge_internal {

// `Stream` is Socket (plain HTTP) or TlsStream (HTTPS); both are instantiated in proxy_session.cc.
template <class Stream>
class ProxySession {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, Socket>;

  // `stream`, `watch` and `buffers` are the connection's, kept by the caller for the session's
  // life.
  ProxySession(ServerState& server, const Listener& listener, Worker& worker, Stream& stream,
               std::string client, Watchdog& watch, ConnBuffers& buffers)
      : server_(server),
        listener_(listener),
        worker_(worker),
        stream_(stream),
        client_(std::move(client)),
        watch_(watch),
        b_(buffers),
        nodelay_(kTls) {}
  ProxySession(const ProxySession&) = delete;
  ProxySession& operator=(const ProxySession&) = delete;

  // One request: read, route, forward, relay. Returns whether the connection stays open.
  awaitable<bool> Run(bool first);

  // TCP_NODELAY now if not yet (see nodelay_): the connection is kept for another request, or a
  // message goes out in more than one write.
  void Nodelay() {
    if (nodelay_) return;
    beast::error_code ec;
    LowestSocket(stream_).set_option(tcp::no_delay(true), ec);
    nodelay_ = true;
  }

 private:
  using Clock = std::chrono::steady_clock;

  // What one request carries from phase to phase, made when its head has been read. The strings
  // are copies: the request's views die with the next read from the client (ViewParser).
  struct Exchange {
    // `head` is the request's checked head (lib/ingress/request_head), its views into `req`.
    Exchange(const ViewParser<true>& req, const ingress::HeadCheck& head);
    Exchange(const Exchange&) = delete;  // path, query and upstream_target are views of members
    Exchange& operator=(const Exchange&) = delete;

    const Clock::time_point start;
    // read
    const unsigned version;
    const bool client_keep;
    const bool has_body;
    // `target` as received (the access log's); `host` what the request is routed by: Host, or an
    // absolute-form target's authority (which also goes upstream as Host).
    const std::string target, host, method;
    const bool absolute_form;
    // The origin-form target the backend gets, rebuilt from the normalized path and the query
    // when it differs from `target` (a path normalized, an absolute-form target); else empty.
    std::string rewritten;
    std::string_view upstream_target;  // `target` or `rewritten`
    std::string_view path, query;      // normalized path, query without its '?': of either
    // route
    std::shared_ptr<const Snapshot> snap;  // keeps `key` alive
    ingress::Headers headers;              // lowercase copies, only when a route matches on headers
    std::string pod;  // the endpoint's pod (endpoints mode), else what the backend says
    // `minikube-net trace`'s marker (an X-Mkn-Trace header of 1 to 32 hex digits; anything else
    // is ignored, so a client cannot write into the log): the access log line says it, so trace
    // finds the route and upstream of its own request, as Envoy logs x-request-id.
    std::string trace;
    tcp::endpoint to;
    const std::string* key = nullptr;  // the upstream pool's "ip:port"
    // forward
    ingress::ForwardInfo info;
    bool expects_continue = false;
    // Without a body the whole request goes upstream in one write from ConnBuffers::out; with
    // one, Beast's serializer streams it.
    bool whole_request = true;
  };
  // An answer of our own instead of the backend's.
  struct Reply {
    http::status status = http::status::ok;
    std::string body;
    std::string location;
  };

  // --- read ---
  // Whether the client went away (or was cut by a deadline) before a whole request head came:
  // then the connection closes without an answer.
  static bool ClientGone(const beast::error_code& ec);
  // The answer to a request head that could not be read: 431 over header_bytes, 413 with a
  // Content-Length over body_bytes, else 400.
  static Reply Malformed(const beast::error_code& ec);

  // --- route ---
  // The rule the request matches (lib/ingress/router), with the snapshot it was taken from.
  // Returned, not kept in `x`: initialized in place in Run's frame, where the other phases read it.
  ingress::Decision Route(const ViewParser<true>& req, Exchange& x);
  // For a decision to forward, the upstream address into `x`; false with the answer to give
  // instead (no route, a redirect, no endpoints).
  bool PickBackend(const ingress::Decision& d, Exchange& x, Reply& reply);

  // --- forward ---
  // The request as it goes upstream: whole into ConnBuffers::out, or as `msg`'s header (streamed).
  void ComposeRequest(const ViewParser<true>& req, const ingress::Decision& d, Exchange& x,
                      http::request<http::buffer_body>& msg);
  // A parser for the upstream's response (again after an interim answer or for a retry).
  ViewParser<false>& FreshResponseParser(std::optional<ViewParser<false>>& holder, bool head);
  // After the connect: the socket options an upstream connection lives with.
  static void Connected(TcpStream& up);

  // --- relay ---
  // A whole response's status line and header lines into ConnBuffers::out.
  void ComposeResponseHead(const ViewParser<false>& resp, const Exchange& x, bool keep);
  // A streamed response's header as `rm`; `keep` turns false when the body ends with our close.
  void ComposeStreamedResponse(const ViewParser<false>& resp, const Exchange& x,
                               http::response<http::buffer_body>& rm, bool& keep);

  // --- answers of our own, logs ---
  // Answers the request of `x` ourselves (`route` for the counters and the log; `location` for a
  // redirect), counts it and logs it. Returns whether the connection stays open: not when the
  // request has a body we did not read.
  awaitable<bool> Own(const Exchange& x, http::status status, std::string body, std::string route,
                      std::string location);
  // Writes an answer of ours (text/plain) within idle_timeout. A failed write is not reported: the
  // connection's next read fails and closes it.
  awaitable<void> Answer(unsigned version, http::status status, bool keep, std::string body,
                         std::string location);
  // The request's access-log line.
  void LogRequest(const Exchange& x, int status, const std::string& route, const std::string& pod,
                  int64_t up_ms);

  ServerState& server_;
  const Listener& listener_;
  Worker& worker_;
  Stream& stream_;
  const std::string client_;
  Watchdog& watch_;
  ConnBuffers& b_;
  // Plain HTTP sets TCP_NODELAY when it first needs it, as nginx does: when the connection is kept
  // for a next request, or before a message goes out in several writes. A message sent in one
  // write with nothing else unacknowledged is not delayed by Nagle's algorithm, and one connection
  // per request then saves the setsockopt(2). TLS connections set it at once (their handshake
  // writes more than once).
  bool nodelay_;
};

extern template class ProxySession<Socket>;
extern template class ProxySession<TlsStream>;

}  // namespace mkn::vnet::edge_internal
