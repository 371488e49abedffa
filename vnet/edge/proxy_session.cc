#include "vnet/edge/proxy_session.h"

#include <algorithm>
#include <limits>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "lib/ingress/request_head.h"
#include "lib/nat/service_table.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet::edge_internal {
namespace {

std::string Lower(const char* p, size_t n) {
  return absl::AsciiStrToLower(absl::string_view(p, n));
}
std::string Lower(const std::string& s) { return Lower(s.data(), s.size()); }

ingress::Headers ToHeaders(const std::vector<ingress::HeaderView>& v) {
  ingress::Headers h;
  h.reserve(v.size());
  for (const auto& [n, val] : v) h.emplace_back(Lower(n.data(), n.size()), std::string(val));
  return h;
}

bool Empty(const config::HeaderModifierSpec& m) {
  return m.set.empty() && m.add.empty() && m.remove.empty();
}

// Appends "name: value\r\n" for every header: the whole-request path writes a message from the
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

// A request counts as in flight (for Stop's drain) from its head to the end of its frame, also
// when Stop destroys the frame.
struct InFlight {
  ServerState& server;
  ~InFlight() { server.End(); }
};

}  // namespace

template <class Stream>
awaitable<bool> ProxySession<Stream>::Run(bool first) {
  const IngressLimits& lim = server_.options.limits;
  beast::flat_buffer& buf = b_.buf;
  beast::flat_buffer& upbuf = b_.upbuf;
  std::string& out = b_.out;
  char* const chunk = b_.chunk.get();
  Watchdog& w = watch_;
  // Beast's parser needs a chunk's size line (with its extensions) and a chunked body's trailers
  // whole in the buffer, and bounds neither: the buffer's own limit does (a chunk-size line or
  // trailers over it are buffer_overflow, a 400), leaving room for a header of header_bytes and
  // one body read. The backend's side likewise.
  buf.max_size(lim.header_bytes + kChunk);
  upbuf.max_size(lim.header_bytes + kChunk);
  ViewParser<true> req(b_.req_fields, buf);
  req.header_limit(static_cast<std::uint32_t>(lim.header_bytes));
  req.max_fields = lim.header_fields;
  req.body_limit(lim.body_bytes);
  beast::error_code ec;
  const int client_fd = LowestSocket(stream_).native_handle();

  // --- read --------------------------------------------------------------------------------------
  if (!first && buf.size() == 0) {
    // Idle between requests up to idle_timeout; once the next request begins, its header is due
    // within header_timeout, as the first one was (else one fast request buys a slow client the
    // idle timeout for every header after it). What this read brings is parsed from the buffer
    // below without another receive.
    w.Arm(Watchdog::kClient, client_fd, lim.idle_timeout);
    size_t n = 0;
    if constexpr (!kTls) {
      n = co_await stream_.async_read_some(buf.prepare(kChunk),
                                           asio::redirect_error(use_awaitable, ec));
    } else {
      n = co_await stream_.ReadSomeNow(buf.prepare(kChunk), ec);
    }
    buf.commit(n);
    w.Disarm(Watchdog::kClient);
    if (w.Expired(Watchdog::kClient)) co_return false;
  }
  if (!ec) {
    w.Arm(Watchdog::kClient, client_fd, lim.header_timeout);
    if (!ParseBuffered(stream_, buf, req, true, ec)) {
      co_await ReadAsync(stream_, buf, req, true, ec);
    }
    w.Disarm(Watchdog::kClient);
    if (w.Expired(Watchdog::kClient)) co_return false;
  }
  if (ClientGone(ec)) co_return false;
  server_.Begin();
  InFlight in_flight{server_};
  // GCC 12 destroys class temporaries made inside a co_await expression twice (a conditional
  // operator choosing a std::string was a double free here): every argument of a co_await call in
  // this file is a named local (or a member of one).
  const std::string none;
  if (ec) {
    Reply r = Malformed(ec);
    co_await Answer(11, r.status, false, std::move(r.body), none);
    server_.Count(none, static_cast<int>(r.status), 0, 0);
    // The same fields as every other line (nothing of the request could be trusted: all "-").
    server_.Log(StrCat(client_, " - \"- -\" ", static_cast<int>(r.status),
                       " route=- backend=- upstream_ms=-1 total_ms=0"));
    co_return false;
  }
  // What RFC 9112 says a server must refuse (lib/ingress/request_head: two Host fields, a
  // Transfer-Encoding not ending in chunked, CONNECT, ...): answered and closed, since what follows
  // the head cannot be framed reliably. Else what to route by: the authority and the normalized
  // path.
  ingress::RequestHead rh;
  rh.method = req.method_text;
  rh.target = req.target;
  rh.version = req.version;
  rh.host_fields = req.host_fields;
  rh.host = req.host;
  rh.transfer_encodings = req.transfer_encodings;
  const ingress::HeadCheck checked = ingress::CheckRequestHead(rh, b_.path);
  if (checked.status != 0) {
    const std::string body =
        StrCat(checked.status == 400 ? "bad request: " : "", checked.why, "\n");
    const unsigned version = req.version == 10 ? 10 : 11;
    const int status = checked.status;
    // The line names the method and target (Beast let no control character or space into them),
    // nothing else of a request that was not trusted.
    const std::string line = StrCat(client_, " - \"", req.method_text, " ", req.target, "\" ",
                                    status, " route=- backend=- upstream_ms=-1 total_ms=0");
    co_await Answer(version, static_cast<http::status>(status), false, body, none);
    server_.Count(none, status, 0, 0);
    server_.Log(line);
    co_return false;
  }
  Exchange x(req, checked);

  // --- route -------------------------------------------------------------------------------------
  const ingress::Decision d = Route(req, x);
  {
    Reply r;
    if (!PickBackend(d, x, r)) {
      co_return co_await Own(x, r.status, std::move(r.body), d.route, std::move(r.location));
    }
  }

  // --- forward -----------------------------------------------------------------------------------
  // With a body: the request as Beast's serializer writes it (a header of copies: the body is read
  // into `buf` from here on, which moves req's views).
  http::request<http::buffer_body> msg;
  ComposeRequest(req, d, x, msg);
  if (x.has_body)
    Nodelay();  // the body is relayed in pieces (and an answer may come before its end)
  if (x.expects_continue && x.has_body) {
    http::response<http::empty_body> cont{http::status::continue_, x.version};
    w.Arm(Watchdog::kClient, client_fd, lim.idle_timeout);
    co_await http::async_write(stream_, cont, asio::redirect_error(use_awaitable, ec));
    w.Disarm(Watchdog::kClient);
    if (ec) co_return false;
  }
  const Clock::time_point up_start = Clock::now();
  uint64_t bytes_in = 0, bytes_out = 0;
  std::unique_ptr<TcpStream> up;
  upbuf.clear();
  std::optional<ViewParser<false>> resp_holder;
  const bool head = req.method == http::verb::head;
  FreshResponseParser(resp_holder, head);
  const std::string& key = *x.key;  // x.snap keeps it alive
  // A pooled connection may have been closed by the backend meanwhile: one retry on a fresh one,
  // when the request has no body (nothing of it is consumed yet).
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    if (attempt == 0) up = worker_.pool.Get(key);
    if (up) {
      reused = true;
    } else {
      absl::StatusOr<Fd> fd = listener_.sockets->Take();
      if (!fd.ok()) {
        std::string body = StrCat(fd.status().message(), "\n");
        co_return co_await Own(x, http::status::bad_gateway, body, d.route, none);
      }
      absl::StatusOr<std::unique_ptr<TcpStream>> made =
          NewUpstream(worker_.io, std::move(*fd), server_.options.limits.connect_timeout);
      if (!made.ok()) {
        std::string body = StrCat("upstream ", key, ": ", made.status().message(), "\n");
        co_return co_await Own(x, http::status::bad_gateway, body, d.route, none);
      }
      up = std::move(*made);
      co_await up->async_connect(x.to, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        http::status st = TimedOut(ec) ? http::status::gateway_timeout : http::status::bad_gateway;
        std::string body = StrCat("upstream ", key, ": ", ec.message(), "\n");
        co_return co_await Own(x, st, body, d.route, none);
      }
      Connected(*up);
    }
    const int up_fd = up->socket().native_handle();
    if (x.whole_request) {
      w.Arm(Watchdog::kUpstream, up_fd, lim.idle_timeout);
      size_t sent = 0;
      if (!SendNow(up->socket(), out, sent, ec)) co_await SendRest(up->socket(), out, sent, ec);
      w.Disarm(Watchdog::kUpstream);
      if (w.Expired(Watchdog::kUpstream)) ec = beast::error::timeout;  // (a 504, not a retry)
    } else {
      bool client_failed = false;
      ec = co_await RelayMessage(stream_, buf, req, *up, msg, lim.idle_timeout, bytes_in, chunk, w,
                                 Watchdog::kClient, Watchdog::kUpstream, &client_failed);
      if (ec && client_failed && ec != http::error::body_limit) {
        // The client's side failed, not the backend: a body that breaks its framing (a chunk size
        // over 64 bits, a bad extension) is a 400; a client gone or cut by its deadline mid-body
        // gets nothing, counted as nginx's 499 (client closed request). Neither is a 502.
        if (ClientGone(ec) || ec == http::error::partial_message) {
          server_.Count(d.route, 499, bytes_in, 0);
          LogRequest(x, 499, d.route, x.pod, -1);
          co_return false;
        }
        std::string body = StrCat("bad request: ", ec.message(), "\n");
        co_return co_await Own(x, http::status::bad_request, body, d.route, none);
      }
    }
    if (ec == http::error::body_limit) {
      std::string body = "request body too large\n";
      co_return co_await Own(x, http::status::payload_too_large, body, d.route, none);
    }
    if (!ec) {
      w.Arm(Watchdog::kUpstream, up_fd, std::chrono::seconds(listener_.spec.upstream_timeout_s));
      if (!ParseBuffered(up->socket(), upbuf, *resp_holder, true, ec)) {
        co_await ReadAsync(up->socket(), upbuf, *resp_holder, true, ec);
      }
      // Interim answers (100 Continue, 103 Early Hints) are not the response: read on.
      while (!ec && resp_holder->status / 100 == 1 && resp_holder->status != 101) {
        FreshResponseParser(resp_holder, head);
        if (!ParseBuffered(up->socket(), upbuf, *resp_holder, true, ec)) {
          co_await ReadAsync(up->socket(), upbuf, *resp_holder, true, ec);
        }
      }
      w.Disarm(Watchdog::kUpstream);
      if (w.Expired(Watchdog::kUpstream)) ec = beast::error::timeout;
    }
    if (!ec) break;
    if (reused && attempt == 0 && !x.has_body && !TimedOut(ec)) {
      up.reset();
      upbuf.clear();
      FreshResponseParser(resp_holder, head);
      continue;
    }
    http::status st = TimedOut(ec) ? http::status::gateway_timeout : http::status::bad_gateway;
    std::string body = StrCat("upstream ", key, ": ", ec.message(), "\n");
    co_return co_await Own(x, st, body, d.route, none);
  }
  const int64_t up_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - up_start).count();

  // --- relay -------------------------------------------------------------------------------------
  // The response as it goes downstream. resp's views are used before its body is read (ViewParser).
  ViewParser<false>& resp = *resp_holder;
  const int status = resp.status;
  const bool up_keep = resp.keep_alive();
  if (x.pod.empty()) {
    x.pod = std::string(resp.Find("x-pod").value_or(std::string_view()));  // http-echo names itself
  }
  if (x.pod.empty()) x.pod = key;
  bool keep = x.client_keep && !server_.draining;
  const bool bodyless = resp.skip() || status / 100 == 1 || status == 204 || status == 304;
  const boost::optional<uint64_t> length = resp.content_length();
  // A response without a body or with a small known length goes out in one write: header and body
  // together from `out` (one send, one TLS record for a small body), the body read whole first.
  const bool whole_response = bodyless || (length && *length <= kChunk);
  if (whole_response) {
    // The header first, while resp's views are valid; then the body, read whole into `chunk`.
    ComposeResponseHead(resp, x, keep);
    size_t n = 0;
    if (!resp.is_done()) {
      resp.body_data = chunk;
      resp.body_size = kChunk;
      w.Arm(Watchdog::kUpstream, up->socket().native_handle(), lim.idle_timeout);
      if (!ParseBuffered(up->socket(), upbuf, resp, false, ec)) {
        co_await ReadAsync(up->socket(), upbuf, resp, false, ec);
      }
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
      if constexpr (!kTls) {
        size_t sent = 0;
        if (!SendNow(stream_, out, sent, ec)) {
          Nodelay();  // the rest goes in more writes
          co_await SendRest(stream_, out, sent, ec);
        }
      } else {
        ec = co_await stream_.WriteNow(out);
      }
      w.Disarm(Watchdog::kClient);
    }
  } else {
    http::response<http::buffer_body> rm;
    ComposeStreamedResponse(resp, x, rm, keep);
    Nodelay();  // the header, then the body in pieces
    ec = co_await RelayMessage(*up, upbuf, resp, stream_, rm, lim.idle_timeout, bytes_out, chunk, w,
                               Watchdog::kUpstream, Watchdog::kClient);
  }
  server_.Count(d.route, status, bytes_in, bytes_out);
  LogRequest(x, status, d.route, x.pod, up_ms);
  if (!ec && up_keep && resp.is_done() && upbuf.size() == 0) worker_.pool.Put(key, std::move(up));
  co_return !ec && keep;
}

// --- read ----------------------------------------------------------------------------------------

template <class Stream>
bool ProxySession<Stream>::ClientGone(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == beast::error::timeout ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted;
}

template <class Stream>
typename ProxySession<Stream>::Reply ProxySession<Stream>::Malformed(const beast::error_code& ec) {
  const bool big = ec == http::error::header_limit;
  // Beast checks a Content-Length against the body limit with the header: that is a 413 too.
  const bool too_long = ec == http::error::body_limit;
  Reply r;
  r.status = big        ? http::status::request_header_fields_too_large
             : too_long ? http::status::payload_too_large
                        : http::status::bad_request;
  r.body = big        ? std::string("request header too large\n")
           : too_long ? std::string("request body too large\n")
                      : StrCat("bad request: ", ec.message(), "\n");
  return r;
}

template <class Stream>
ProxySession<Stream>::Exchange::Exchange(const ViewParser<true>& req,
                                         const ingress::HeadCheck& head)
    : start(Clock::now()),
      version(req.version),
      client_keep(req.keep_alive()),
      has_body(req.content_length().value_or(0) > 0 || req.chunked()),
      target(req.target),
      host(head.authority),
      method(req.method_text),
      absolute_form(head.absolute_form) {
  if (std::optional<std::string_view> id = req.Find("x-mkn-trace");
      id && !id->empty() && id->size() <= 32 &&
      std::all_of(id->begin(), id->end(), [](char c) { return absl::ascii_isxdigit(c); })) {
    trace = std::string(*id);
  }
  if (!head.absolute_form && !head.path_changed) {
    // The usual case: path and query are where the head check found them, in our copy.
    upstream_target = target;
    path = std::string_view(target).substr(head.path.data() - req.target.data(), head.path.size());
    if (head.has_query) {
      query =
          std::string_view(target).substr(head.query.data() - req.target.data(), head.query.size());
    }
    return;
  }
  rewritten.reserve(head.path.size() + 1 + head.query.size());
  rewritten.append(head.path);
  if (head.has_query) {
    rewritten.push_back('?');
    rewritten.append(head.query);
  }
  upstream_target = rewritten;
  path = std::string_view(rewritten).substr(0, head.path.size());
  if (head.has_query) query = std::string_view(rewritten).substr(head.path.size() + 1);
}

// --- route ---------------------------------------------------------------------------------------

template <class Stream>
ingress::Decision ProxySession<Stream>::Route(const ViewParser<true>& req, Exchange& x) {
  x.snap = server_.Current();
  ingress::Request r;
  r.listener = listener_.spec.name;
  r.method = x.method;
  r.host = x.host;
  r.path = x.path;
  r.query = x.query;
  // The router gets the headers (lowercase copies) only when a route matches on them.
  if (x.snap->router.MatchesHeaders()) r.headers = ToHeaders(req.fields);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  ingress::Decision d = x.snap->router.Route(r, rng());
  if (!r.headers.empty()) x.headers = std::move(r.headers);  // (ComposeRequest's, if it needs them)
  return d;
}

template <class Stream>
bool ProxySession<Stream>::PickBackend(const ingress::Decision& d, Exchange& x, Reply& reply) {
  if (d.kind == ingress::Decision::Kind::kNoRoute) {
    reply.status = http::status::not_found;
    reply.body = StrCat("no route for ", x.host, x.path, "\n");
    return false;
  }
  if (d.kind == ingress::Decision::Kind::kRedirect) {
    reply.status = static_cast<http::status>(d.redirect_status);
    reply.location = d.location;
    return false;
  }
  auto t = x.snap->targets.find({d.backend.service, d.backend.port});
  if (t == x.snap->targets.end() || t->second.endpoints.empty()) {
    reply.status = http::status::service_unavailable;
    reply.body = StrCat("service ", d.backend.service, ":", d.backend.port, " has no endpoints\n");
    return false;
  }
  // Where to: the ClusterIP (the Service layer balances) or an endpoint (we do, round-robin).
  x.key = &t->second.cluster_key;
  if (listener_.spec.upstream == config::UpstreamMode::kEndpoints) {
    const auto& eps = t->second.endpoints;
    const size_t i = server_.rr.fetch_add(1, std::memory_order_relaxed) % eps.size();
    const nat::Endpoint& e = eps[i];
    x.to = tcp::endpoint(asio::ip::address_v4(e.ip.value), e.port);
    x.pod = e.pod;
    x.key = &t->second.endpoint_keys[i];
  } else {
    x.to = tcp::endpoint(asio::ip::address_v4(t->second.cluster_ip.value),
                         static_cast<unsigned short>(t->second.port));
  }
  return true;
}

// --- forward -------------------------------------------------------------------------------------

template <class Stream>
void ProxySession<Stream>::ComposeRequest(const ViewParser<true>& req, const ingress::Decision& d,
                                          Exchange& x, http::request<http::buffer_body>& msg) {
  std::string& out = b_.out;
  x.info.client_ip = client_;
  x.info.proto = listener_.tls ? "https" : "http";
  x.info.host = x.host;
  x.info.by = listener_.by;
  // Expect: 100-continue is answered here (Run), as nginx does: the backend gets the body at once.
  x.expects_continue = req.Find("expect").has_value();
  // Connection is hop-by-hop (dropped), so HTTP/1.1 means keep-alive.
  x.whole_request = !x.has_body;
  ingress::Headers h;
  if (x.whole_request) {
    out.clear();
    out.append(x.method);
    out.push_back(' ');
    out.append(x.upstream_target);
    out.append(" HTTP/1.1\r\n");
  }
  if (x.whole_request && Empty(d.modify) && !x.absolute_form) {
    // The usual case: header lines written straight from the parsed fields (no list of copies),
    // with the Forwarded element kept while client, host and listener stay the same (no
    // suspension between filling these thread_locals and using them).
    thread_local ingress::ForwardInfo last;
    if (last.forwarded.empty() || last.client_ip != x.info.client_ip || last.host != x.info.host ||
        last.proto != x.info.proto || last.by != x.info.by) {
      last = x.info;
      last.forwarded = ingress::ForwardedElement(x.info);
    }
    ingress::AppendUpstreamRequestLines(out, req.fields, last, "expect");
  } else {
    h = x.headers.empty() ? ToHeaders(req.fields) : std::move(x.headers);
    ingress::PrepareUpstreamRequest(h, x.info);
    // An absolute-form target's authority is the host (RFC 9112 §3.2.2): the backend gets it as
    // Host, in place of whatever Host said.
    std::erase_if(h, [&](const auto& kv) {
      return kv.first == "expect" || (x.absolute_form && kv.first == "host");
    });
    if (x.absolute_form) h.emplace(h.begin(), "host", x.host);
    ApplyModifier(h, d.modify);
    if (x.whole_request) AppendFields(out, h);
  }
  if (x.whole_request) {
    out.append("\r\n", 2);
  } else {
    msg.method_string(x.method);
    msg.target(beast::string_view(x.upstream_target.data(), x.upstream_target.size()));
    msg.version(11);
    for (const auto& [k, v] : h) msg.insert(k, v);
    if (req.chunked()) msg.chunked(true);
    msg.keep_alive(true);
  }
}

template <class Stream>
ViewParser<false>& ProxySession<Stream>::FreshResponseParser(
    std::optional<ViewParser<false>>& holder, bool head) {
  holder.emplace(b_.resp_fields, b_.upbuf);
  // Not boost::none: 1.74 compares len > none as true.
  holder->body_limit(std::numeric_limits<std::uint64_t>::max());
  if (head) holder->skip(true);
  return *holder;
}

template <class Stream>
void ProxySession<Stream>::Connected(TcpStream& up) {
  beast::error_code ec;
  up.expires_never();  // from here on the Watchdog keeps the deadlines
  up.socket().set_option(tcp::no_delay(true), ec);
  // Closed with a reset (SO_LINGER 0), never a FIN: an upstream socket lives in a node's netns
  // and leads into a pod's, and when the lab goes down a FIN handshake may not finish (the
  // Service path or the pod goes first). A socket left retransmitting its FIN (a pooled
  // connection at Stop, one the watchdog cut) keeps its netns alive, and `down` waited its
  // whole 15 s for namespaces the kernel could not free. We close an upstream connection only
  // when it is done with or broken, so a reset loses nothing.
  up.socket().set_option(asio::socket_base::linger(true, 0), ec);
  up.socket().non_blocking(true, ec);  // read and written synchronously until EAGAIN
}

// --- relay ---------------------------------------------------------------------------------------

template <class Stream>
void ProxySession<Stream>::ComposeResponseHead(const ViewParser<false>& resp, const Exchange& x,
                                               bool keep) {
  std::string& out = b_.out;
  std::string_view reason = resp.reason;
  if (reason.empty()) reason = View(http::obsolete_reason(static_cast<http::status>(resp.status)));
  out.clear();
  out.append(x.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  out.append(std::to_string(resp.status));
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n", 2);
  ingress::AppendDownstreamResponseLines(out, resp.fields, x.info);
  // Connection is hop-by-hop (dropped above): say only what differs from the version's default,
  // as Beast's keep_alive() does.
  if (x.version >= 11 && !keep) out.append("Connection: close\r\n");
  if (x.version < 11 && keep) out.append("Connection: keep-alive\r\n");
  out.append("\r\n", 2);
}

template <class Stream>
void ProxySession<Stream>::ComposeStreamedResponse(const ViewParser<false>& resp, const Exchange& x,
                                                   http::response<http::buffer_body>& rm,
                                                   bool& keep) {
  ingress::Headers rh = ToHeaders(resp.fields);
  ingress::PrepareDownstreamResponse(rh, x.info);
  rm.result(static_cast<unsigned>(resp.status));
  if (!resp.reason.empty()) rm.reason(beast::string_view(resp.reason.data(), resp.reason.size()));
  for (const auto& [k, v] : rh) rm.insert(k, v);
  if (const boost::optional<uint64_t> length = resp.content_length()) {
    rm.content_length(*length);
  } else if (resp.chunked() || resp.need_eof()) {
    // Chunked, or delimited by the upstream closing: chunk it for a 1.1 client; a 1.0 client gets
    // the body up to our close.
    if (x.version >= 11) {
      rm.chunked(true);
    } else {
      keep = false;
    }
  }
  rm.version(x.version);
  rm.keep_alive(keep);
}

// --- answers of our own, logs --------------------------------------------------------------------

template <class Stream>
awaitable<bool> ProxySession<Stream>::Own(const Exchange& x, http::status status, std::string body,
                                          std::string route, std::string location) {
  // A body we did not read leaves the connection unusable: close it then.
  const bool keep = x.client_keep && !x.has_body && !server_.draining;
  co_await Answer(x.version, status, keep, std::move(body), std::move(location));
  server_.Count(route, static_cast<int>(status), 0, 0);
  LogRequest(x, static_cast<int>(status), route, "", -1);
  co_return keep;
}

template <class Stream>
awaitable<void> ProxySession<Stream>::Answer(unsigned version, http::status status, bool keep,
                                             std::string body, std::string location) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::server, "minikube-net");
  res.set(http::field::content_type, "text/plain");
  if (!location.empty()) res.set(http::field::location, location);
  res.keep_alive(keep);
  res.body() = std::move(body);
  res.prepare_payload();
  beast::error_code ec;
  watch_.Arm(Watchdog::kClient, LowestSocket(stream_).native_handle(),
             server_.options.limits.idle_timeout);
  co_await http::async_write(stream_, res, asio::redirect_error(use_awaitable, ec));
  watch_.Disarm(Watchdog::kClient);
}

template <class Stream>
void ProxySession<Stream>::LogRequest(const Exchange& x, int status, const std::string& route,
                                      const std::string& pod, int64_t up_ms) {
  if (server_.log == nullptr) return;  // set before the io threads start, cleared after they end
  const int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - x.start).count();
  // Appended into a string kept by the thread (StrCat grew a new one through four allocations).
  thread_local std::string line;
  line.clear();
  StrAppend(&line, client_, " ", x.host.empty() ? "-" : x.host, " \"", x.method, " ", x.target,
            "\" ", status, " route=", route.empty() ? "-" : route,
            " backend=", pod.empty() ? "-" : pod, " upstream_ms=", up_ms, " total_ms=", ms);
  if (!x.trace.empty()) StrAppend(&line, " trace=", x.trace);
  server_.Log(line);
}

template class ProxySession<Socket>;
template class ProxySession<TlsStream>;

}  // namespace mkn::vnet::edge_internal
