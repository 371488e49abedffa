#include "vnet/ui/server.h"

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "lib/ingress/request_head.h"
#include "lib/strings/str_cat.h"
#include "vnet/edge/asio_types.h"
#include "vnet/edge/deadlines.h"
#include "vnet/kernel/errors.h"
#include "vnet/ui/assets.h"

// GCC 12 reports Asio's own coroutine frame deallocation (awaitable_frame_base's operator delete,
// which pairs with its operator new through the recycling allocator) as mismatched when it
// inlines the frame's destruction of a long coroutine (Serve): a known false positive
// (GCC bug 104075's family). Asio, not this file, allocates and frees the frames.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace mkn::vnet {

using edge_internal::Acceptor;
using edge_internal::awaitable;
using edge_internal::Deadlines;
using edge_internal::Executor;
using edge_internal::Socket;
using edge_internal::Timer;
using edge_internal::use_awaitable;
using edge_internal::Watchdog;

namespace {

// What an event stream may hold in the kernel for a client that does not read: with the newest
// snapshot alone in our hands, a slow client costs at most this and one snapshot.
constexpr int kEventSendBuffer = 256 * 1024;
// /api/state counts as someone looking for this long: the gatherer keeps the snapshot fresh.
constexpr std::chrono::seconds kDemandWindow{10};

using Response = http::response<http::string_body>;

Response Answer(http::status status, std::string_view content_type, std::string body) {
  Response r{status, 11};
  r.set(http::field::server, "minikube-net-ui");
  r.set(http::field::content_type, beast::string_view(content_type.data(), content_type.size()));
  r.set(http::field::cache_control, "no-store");
  r.set("X-Content-Type-Options", "nosniff");
  r.body() = std::move(body);
  return r;
}

// JSON text of anything the page is sent. Error messages from the sources (a trace's, a control
// socket's) may quote bytes that are not UTF-8; nlohmann's plain dump() throws on them, on the io
// thread, ending the process (under `up --ui`, the cluster's owner). Such bytes become U+FFFD.
std::string JsonText(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Response Text(http::status status, std::string_view text) {
  return Answer(status, "text/plain; charset=utf-8", StrCat(text, "\n"));
}

http::status StatusOf(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
      return http::status::bad_request;
    case absl::StatusCode::kUnimplemented:
      return http::status::not_implemented;
    case absl::StatusCode::kFailedPrecondition:
      return http::status::conflict;
    default:
      return http::status::internal_server_error;
  }
}

}  // namespace

struct UiServer::Impl {
  UiOptions o;
  int port = 0;
  // Order matters on destruction (reverse): the io_context goes first, destroying the coroutine
  // frames, whose Watchdogs and waiter registrations leave `deadlines` and `waiters` then.
  Deadlines deadlines;
  std::set<Timer*> waiters;  // event streams and /api/state calls waiting for a new snapshot
  int connections = 0;
  std::atomic<int> event_clients{0};
  std::optional<asio::io_context> io{std::in_place, 1};
  std::optional<Acceptor> acceptor;
  std::thread io_thread, gather_thread, trace_thread;
  std::atomic<bool> stopped{false};

  // The gatherer's side (under mu): it waits for the interval or a nudge.
  std::mutex mu;
  std::condition_variable cv;
  bool stop_gathering = false;
  bool nudged = false;
  std::atomic<int64_t> demand_until_ms{0};  // steady clock: /api/state's window

  // The io thread's (no lock): the newest inputs and traces, and the snapshot made from them.
  std::optional<ui::Inputs> inputs;
  std::chrono::steady_clock::time_point inputs_at;  // when the gather began
  std::deque<ui::TraceEntry> traces;
  int64_t next_trace_id = 1;
  bool trace_running = false;
  // One POST's trace: its result and the timer its request waits on, shared with the completion
  // that the trace thread posts. Per request, so that the next POST (which may start as soon as
  // this trace ends, before this request wakes) cannot take or clear this one's.
  struct PendingTrace {
    std::optional<ui::TraceEntry> done;
    Timer* waiter = nullptr;
  };
  std::shared_ptr<const std::string> snapshot;  // JSON text
  uint64_t version = 0;

  mutable std::mutex stats_mu;
  UiStats stats;

  template <class F>
  void Count(F f) {
    std::lock_guard<std::mutex> l(stats_mu);
    f(stats);
  }

  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  void Nudge() {
    {
      std::lock_guard<std::mutex> l(mu);
      nudged = true;
    }
    cv.notify_one();
  }

  // On the io thread: a new snapshot from the newest inputs and traces; waiters wake when its text
  // differs from the last one.
  void Rebuild() {
    if (!inputs) return;
    auto text = std::make_shared<const std::string>(JsonText(ui::Snapshot(*inputs, traces)));
    if (snapshot && *snapshot == *text) return;
    snapshot = std::move(text);
    ++version;
    Count([](UiStats& s) { ++s.snapshots; });
    WakeWaiters();
  }
  void WakeWaiters() {
    for (Timer* t : waiters) t->cancel();
  }

  void GatherLoop() {
    std::unique_lock<std::mutex> l(mu);
    bool first = true;
    while (!stop_gathering) {
      if (!first) {
        cv.wait_for(l, o.limits.interval, [&] { return stop_gathering || nudged; });
        if (stop_gathering) break;
      }
      const bool nudge = nudged;
      nudged = false;
      const bool looking = event_clients.load() > 0 || NowMs() < demand_until_ms.load();
      if (!first && !nudge && !looking) continue;
      first = false;
      l.unlock();
      const auto started = std::chrono::steady_clock::now();
      ui::Inputs in = o.sources.gather();
      asio::post(*io, [this, started, in = std::move(in)]() mutable {
        inputs = std::move(in);
        inputs_at = started;  // as new as its oldest part
        Rebuild();
        WakeWaiters();  // /api/state waits for fresh inputs, changed or not
      });
      l.lock();
      // At most one gather per interval, even when nudged in between.
      cv.wait_for(l, o.limits.interval, [&] { return stop_gathering; });
    }
  }

  // Waits until a waiter wakes (a new snapshot or inputs) or `timeout` passes.
  awaitable<void> WaitForNews(std::chrono::milliseconds timeout) {
    Timer t(co_await asio::this_coro::executor);
    t.expires_after(timeout);
    waiters.insert(&t);
    struct Leave {
      std::set<Timer*>& w;
      Timer* t;
      ~Leave() { w.erase(t); }
    } leave{waiters, &t};
    beast::error_code ec;
    co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
  }

  // Writes `m` within write_timeout; false when the client failed or was too slow.
  template <class Message>
  awaitable<bool> Write(Socket& s, Watchdog& w, Message& m) {
    beast::error_code ec;
    w.Arm(Watchdog::kClient, s.native_handle(), o.limits.write_timeout);
    co_await http::async_write(s, m, asio::redirect_error(use_awaitable, ec));
    w.Disarm(Watchdog::kClient);
    if (w.Expired(Watchdog::kClient)) Count([](UiStats& st) { ++st.timeouts; });
    co_return !ec && !w.Expired(Watchdog::kClient);
  }
  awaitable<bool> WriteRaw(Socket& s, Watchdog& w, const std::string& data) {
    beast::error_code ec;
    w.Arm(Watchdog::kClient, s.native_handle(), o.limits.write_timeout);
    co_await asio::async_write(s, asio::buffer(data), asio::redirect_error(use_awaitable, ec));
    w.Disarm(Watchdog::kClient);
    co_return !ec && !w.Expired(Watchdog::kClient);
  }

  awaitable<void> Events(Socket& s, Watchdog& w) {
    if (event_clients.load() >= o.limits.max_event_clients) {
      Count([](UiStats& st) { ++st.events_refused; });
      Response r = Text(http::status::service_unavailable,
                        "too many event streams: close another dashboard tab and reload");
      r.set(http::field::retry_after, "5");
      r.keep_alive(false);
      r.prepare_payload();
      co_await Write(s, w, r);
      co_return;
    }
    ++event_clients;
    struct Leave {
      std::atomic<int>& n;
      ~Leave() { --n; }
    } leave{event_clients};
    Count([](UiStats& st) { ++st.event_clients; });
    Nudge();  // the first one in a while: gather now rather than at the next interval
    const int size = kEventSendBuffer;
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (!co_await WriteRaw(s, w,
                           "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: "
                           "no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: "
                           "close\r\n\r\nretry: 2000\n\n")) {
      co_return;
    }
    uint64_t sent = 0;
    for (;;) {
      if (snapshot && version != sent) {
        sent = version;
        // The newest snapshot only: whatever came in between is not queued for this client.
        std::shared_ptr<const std::string> snap = snapshot;
        if (!co_await WriteRaw(s, w, ui::SseEvent("state", *snap))) {
          if (w.Expired(Watchdog::kClient)) Count([](UiStats& st) { ++st.events_dropped; });
          co_return;
        }
        Count([](UiStats& st) { ++st.events_sent; });
        continue;
      }
      // Until a new snapshot, or a heartbeat's time: a closed tab is found at the next write.
      const auto beat = std::chrono::steady_clock::now() + o.limits.heartbeat;
      while (version == sent && !stopped.load() && std::chrono::steady_clock::now() < beat) {
        co_await WaitForNews(std::chrono::duration_cast<std::chrono::milliseconds>(
            beat - std::chrono::steady_clock::now()));
      }
      if (stopped.load()) co_return;
      if (version == sent && !co_await WriteRaw(s, w, ": heartbeat\n\n")) co_return;
    }
  }

  awaitable<Response> State() {
    // While someone looks, the gatherer keeps the snapshot within an interval or two of now;
    // otherwise it may be from long ago (taken before the curl the caller just ran), so one is
    // gathered after this request came: what it shows is then at least as new as the caller's
    // last `get svc`.
    const auto asked = std::chrono::steady_clock::now();
    const bool looking = event_clients.load() > 0 || NowMs() < demand_until_ms.load();
    demand_until_ms = NowMs() + std::chrono::milliseconds(kDemandWindow).count();
    const auto stale = looking ? asked - 2 * o.limits.interval : asked;
    if (!inputs || inputs_at < stale) {
      // Nobody was looking: gather now, and wait for it (bounded).
      Nudge();
      const auto deadline = std::chrono::steady_clock::now() + o.limits.request_timeout;
      while ((!inputs || inputs_at < stale) && std::chrono::steady_clock::now() < deadline &&
             !stopped.load()) {
        co_await WaitForNews(o.limits.interval);
      }
    }
    if (!snapshot) co_return Text(http::status::service_unavailable, "no snapshot yet");
    co_return Answer(http::status::ok, "application/json", *snapshot);
  }

  awaitable<Response> Trace(const std::string& body) {
    // Every answer without a result is JSON of one shape (ui::TraceErrorJson).
    const auto error = [](http::status st, std::optional<int64_t> id, const ui::TraceForm& f,
                          std::string_view why) {
      return Answer(st, "application/json", JsonText(ui::TraceErrorJson(id, f, why)));
    };
    absl::StatusOr<ui::TraceForm> form = ui::ParseTraceForm(body);
    if (!form.ok())
      co_return error(http::status::bad_request, std::nullopt, {},
                      std::string(form.status().message()));
    if (trace_running) {
      Count([](UiStats& st) { ++st.traces_busy; });
      Response r = error(http::status::too_many_requests, std::nullopt, *form,
                         "a trace is running: one at a time, try again when it is done");
      r.set(http::field::retry_after, "1");
      co_return r;
    }
    trace_running = true;
    Count([](UiStats& st) { ++st.traces; });
    if (trace_thread.joinable()) trace_thread.join();  // the last one, long finished
    const int64_t id = next_trace_id++;
    auto pending = std::make_shared<PendingTrace>();
    Timer t(co_await asio::this_coro::executor);
    t.expires_after(o.limits.trace_timeout);
    pending->waiter = &t;
    trace_thread = std::thread([this, id, pending, f = *form] {
      absl::StatusOr<nlohmann::json> r = o.sources.trace(f);
      asio::post(*io, [this, id, pending, f, r = std::move(r)] {
        ui::TraceEntry e{id, f.src, f.dst, f.proto, nullptr, "", nullptr};
        if (r.ok()) {
          e.result = *r;
          e.highlight = ui::Highlight(*r, inputs ? inputs->graph : graph::Graph{});
        } else {
          e.error = std::string(r.status().message());
          e.result = nlohmann::json{{"code", absl::StatusCodeToString(r.status().code())}};
        }
        traces.push_front(e);
        while (traces.size() > ui::kRecentTraces) traces.pop_back();
        pending->done = std::move(e);
        trace_running = false;
        if (pending->waiter != nullptr) pending->waiter->cancel();
        Rebuild();
      });
    });
    beast::error_code ec;
    co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
    pending->waiter = nullptr;
    if (!pending->done) {
      co_return error(http::status::gateway_timeout, id, *form,
                      "the trace is still running: its result will show in recent traces");
    }
    const ui::TraceEntry& done = *pending->done;
    if (!done.error.empty()) {
      absl::StatusCode code = absl::StatusCode::kUnknown;
      const std::string name = done.result.value("code", "");
      for (int c = 0; c <= 16; ++c) {
        if (absl::StatusCodeToString(static_cast<absl::StatusCode>(c)) == name)
          code = static_cast<absl::StatusCode>(c);
      }
      co_return error(StatusOf(absl::Status(code, "")), id,
                      ui::TraceForm{done.src, done.dst, done.proto}, done.error);
    }
    nlohmann::json j{{"id", id},
                     {"src", done.src},
                     {"dst", done.dst},
                     {"proto", done.proto},
                     {"highlight", done.highlight},
                     {"result", done.result}};
    co_return Answer(http::status::ok, "application/json", JsonText(j));
  }

  // The head's RFC 9112 refusals, as the edge makes them (lib/ingress/request_head).
  static ingress::HeadCheck CheckHead(const http::request<http::string_body>& req,
                                      std::string& path_buffer) {
    std::vector<std::string_view> te;
    ingress::RequestHead h;
    h.method = std::string_view(req.method_string().data(), req.method_string().size());
    h.target = std::string_view(req.target().data(), req.target().size());
    h.version = req.version();
    for (const auto& f : req) {
      if (f.name() == http::field::host) {
        if (h.host_fields++ == 0) h.host = std::string_view(f.value().data(), f.value().size());
      } else if (f.name() == http::field::transfer_encoding) {
        te.emplace_back(f.value().data(), f.value().size());
      }
    }
    h.transfer_encodings = te;
    return ingress::CheckRequestHead(h, path_buffer);
  }

  awaitable<void> Serve(Socket s) {
    Watchdog w(&deadlines);
    struct Leave {
      int& n;
      ~Leave() { --n; }
    } leave{connections};
    beast::flat_buffer buf(o.limits.header_limit + o.limits.body_limit);
    for (;;) {
      http::request_parser<http::string_body> p;
      p.header_limit(static_cast<uint32_t>(o.limits.header_limit));
      p.body_limit(o.limits.body_limit);
      beast::error_code ec;
      w.Arm(Watchdog::kClient, s.native_handle(), o.limits.request_timeout);
      // The head first: a client that sent `Expect: 100-continue` waits for the interim 100
      // before it sends the body (RFC 9110 10.1.1; curl does so for a body over 1 MiB), and
      // would stall until the request timeout without it. A head refused outright (a body over
      // the limit) gets its final answer instead, and the body is never asked for.
      co_await http::async_read_header(s, buf, p, asio::redirect_error(use_awaitable, ec));
      if (!ec && !p.is_done()) {
        const auto expect = p.get().find(http::field::expect);
        if (expect != p.get().end() && beast::iequals(expect->value(), "100-continue")) {
          http::response<http::empty_body> cont{http::status::continue_, p.get().version()};
          co_await http::async_write(s, cont, asio::redirect_error(use_awaitable, ec));
          if (ec) {
            w.Disarm(Watchdog::kClient);
            co_return;
          }
        }
        co_await http::async_read(s, buf, p, asio::redirect_error(use_awaitable, ec));
      }
      w.Disarm(Watchdog::kClient);
      if (w.Expired(Watchdog::kClient)) {
        Count([](UiStats& st) { ++st.timeouts; });
        co_return;  // slow or idle: no answer is owed to a request that never came whole
      }
      if (ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::connection_reset || stopped.load()) {
        co_return;
      }
      Count([](UiStats& st) { ++st.requests; });
      if (ec) {
        Count([](UiStats& st) { ++st.bad_requests; });
        Response r = ec == http::error::header_limit
                         ? Text(http::status::request_header_fields_too_large,
                                StrCat("request head over ", o.limits.header_limit, " bytes"))
                     : ec == http::error::body_limit
                         ? Text(http::status::payload_too_large,
                                StrCat("request body over ", o.limits.body_limit, " bytes"))
                         : Text(http::status::bad_request, StrCat("bad request: ", ec.message()));
        r.keep_alive(false);
        r.prepare_payload();
        co_await Write(s, w, r);
        co_return;
      }
      http::request<http::string_body> req = p.release();
      std::string path_buffer;
      const ingress::HeadCheck head = CheckHead(req, path_buffer);
      Response r;
      bool close = !req.keep_alive();
      bool events = false;
      std::string_view origin;
      if (auto it = req.find(http::field::origin); it != req.end())
        origin = std::string_view(it->value().data(), it->value().size());
      if (head.status != 0) {
        Count([](UiStats& st) { ++st.bad_requests; });
        r = Text(static_cast<http::status>(head.status), head.why);
        close = true;
      } else if (!ui::Loopback(head.authority, port)) {
        Count([](UiStats& st) { ++st.bad_requests; });
        r = Text(http::status::misdirected_request,
                 StrCat("this dashboard answers only as 127.0.0.1:", port, " or localhost:", port));
      } else if (!origin.empty() && !ui::SameOrigin(origin, port)) {
        Count([](UiStats& st) { ++st.bad_requests; });
        r = Text(http::status::forbidden, "requests from another site are refused");
      } else {
        const std::string_view method(req.method_string().data(), req.method_string().size());
        const ui::Routed route = ui::Route(method, head.path);
        switch (route.target) {
          case ui::Target::kPage:
          case ui::Target::kAsset: {
            const UiAsset* a = FindUiAsset(route.asset);
            r = a == nullptr ? Text(http::status::not_found, "not found")
                             : Answer(http::status::ok, a->content_type, std::string(a->body));
            r.set(http::field::cache_control, "no-cache");
            if (route.target == ui::Target::kPage) {
              // Everything comes from here: a page that tried to load from elsewhere would fail.
              r.set("Content-Security-Policy",
                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                    "frame-ancestors 'none'");
            }
            break;
          }
          case ui::Target::kState:
            r = co_await State();
            break;
          case ui::Target::kEvents:
            // HEAD is the stream's head alone: no events follow it (RFC 9110 9.3.2).
            if (req.method() == http::verb::head) {
              r = Answer(http::status::ok, "text/event-stream", "");
            } else {
              events = true;
            }
            break;
          case ui::Target::kTrace:
            r = co_await Trace(req.body());
            break;
          case ui::Target::kMethodNotAllowed:
            r = Text(http::status::method_not_allowed, "method not allowed");
            r.set(http::field::allow, beast::string_view(route.allow.data(), route.allow.size()));
            break;
          case ui::Target::kNotFound:
            r = Text(http::status::not_found, "not found");
            break;
        }
      }
      if (events) {
        co_await Events(s, w);
        co_return;
      }
      r.keep_alive(!close);
      r.prepare_payload();
      if (req.method() == http::verb::head) r.body().clear();  // Content-Length stays the GET's
      if (!co_await Write(s, w, r) || close || stopped.load()) co_return;
    }
  }

  awaitable<void> Accept() {
    for (;;) {
      beast::error_code ec;
      Socket s = co_await acceptor->async_accept(asio::redirect_error(use_awaitable, ec));
      if (stopped.load()) co_return;
      if (ec) {
        // Out of fds and the like: pause rather than spin, as the edge does.
        Timer t(co_await asio::this_coro::executor);
        t.expires_after(std::chrono::milliseconds(100));
        co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      if (connections >= o.limits.max_connections) {
        Count([](UiStats& st) { ++st.refused; });
        s.close(ec);
        continue;
      }
      Count([](UiStats& st) { ++st.accepted; });
      ++connections;
      s.non_blocking(true, ec);
      asio::co_spawn(*io, Serve(std::move(s)), asio::detached);
    }
  }
};

absl::StatusOr<std::unique_ptr<UiServer>> UiServer::Start(UiOptions o) {
  if (!o.sources.gather || !o.sources.trace)
    return absl::InvalidArgumentError("ui: the server needs its sources");
  if (o.port < 0 || o.port > 65535)
    return absl::InvalidArgumentError(StrCat("ui: port ", o.port, " is not 0..65535"));
  beast::error_code ec;
  const asio::ip::address addr = asio::ip::make_address(o.address, ec);
  if (ec || !addr.is_loopback()) {
    return absl::InvalidArgumentError(
        StrCat("ui: will not listen on ", o.address,
               ": the dashboard runs traces in the lab, so it listens on a loopback address only "
               "(127.0.0.1, ::1)"));
  }
  std::unique_ptr<UiServer> server(new UiServer());
  server->impl_ = std::make_unique<Impl>();
  Impl& m = *server->impl_;
  m.o = std::move(o);
  m.acceptor.emplace(*m.io);
  const tcp::endpoint ep(addr, static_cast<uint16_t>(m.o.port));
  const std::string where =
      StrCat(addr.is_v6() ? "[" : "", m.o.address, addr.is_v6() ? "]" : "", ":", m.o.port);
  m.acceptor->open(ep.protocol(), ec);
  if (!ec) m.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) m.acceptor->bind(ep, ec);
  if (ec) {
    return KernelError(ec.value(), StrCat("ui: listen on ", where), "a port below 1024 needs root");
  }
  m.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return KernelError(ec.value(), StrCat("ui: listen on ", where));
  m.port = m.acceptor->local_endpoint().port();
  m.deadlines.Start(m.io->get_executor());
  asio::co_spawn(*m.io, m.Accept(), asio::detached);
  m.io_thread = std::thread([&m] { m.io->run(); });
  m.gather_thread = std::thread([&m] { m.GatherLoop(); });
  return server;
}

UiServer::~UiServer() { Stop(); }

void UiServer::Stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> l(m.mu);
    m.stop_gathering = true;
  }
  m.cv.notify_all();
  if (m.gather_thread.joinable()) m.gather_thread.join();
  // The trace in progress ends on its own (its timeout); its result then goes nowhere.
  if (m.trace_thread.joinable()) m.trace_thread.join();
  m.io->stop();
  if (m.io_thread.joinable()) m.io_thread.join();
  // Timer and acceptor before their io_context; its destruction then destroys every connection's
  // coroutine frame, closing the sockets (an open event stream ends here, not at ~UiServer).
  m.deadlines.Shutdown();
  m.acceptor.reset();
  m.io.reset();
}

int UiServer::port() const { return impl_->port; }

std::string UiServer::Url() const {
  const bool v6 = impl_->o.address.find(':') != std::string::npos;
  return StrCat("http://", v6 ? "[" : "", impl_->o.address, v6 ? "]" : "", ":", impl_->port, "/");
}

UiStats UiServer::Stats() const {
  std::lock_guard<std::mutex> l(impl_->stats_mu);
  return impl_->stats;
}

}  // namespace mkn::vnet
