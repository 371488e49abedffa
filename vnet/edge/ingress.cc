// The server itself: listeners, workers, accept, one coroutine per connection (Serve), and the
// public API's Start/Update/Stop. What happens to one request is vnet/edge/proxy_session's.
#include "vnet/edge/ingress.h"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ssl/context.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/edge/asio_types.h"
#include "vnet/edge/conn_buffers.h"
#include "vnet/edge/deadlines.h"
#include "vnet/edge/proxy_session.h"
#include "vnet/edge/server_state.h"
#include "vnet/edge/snapshot.h"
#include "vnet/edge/tls.h"
#include "vnet/edge/tls_stream.h"
#include "vnet/edge/upstream_pool.h"
#include "vnet/kernel/errors.h"

namespace mkn::vnet {

using edge_internal::Acceptor;
using edge_internal::BufferLease;
using edge_internal::ConnSlot;
using edge_internal::Listener;
using edge_internal::ProxySession;
using edge_internal::Snapshot;
using edge_internal::Socket;
using edge_internal::SocketFactory;
using edge_internal::TcpStream;
using edge_internal::Timer;
using edge_internal::TlsStream;
using edge_internal::use_awaitable;
using edge_internal::Watchdog;
using edge_internal::Worker;
template <class T = void>
using awaitable = edge_internal::awaitable<T>;

// The server's shared state (edge_internal::ServerState: what every connection reads or counts
// into) and what only the server itself touches.
struct IngressServer::Impl : edge_internal::ServerState {
  // Destroying them (Stop) destroys every coroutine frame still waiting, and with them their
  // sockets.
  std::vector<std::unique_ptr<Worker>> workers;
  size_t next_worker = 0;  // the accept loops' (all on the first worker)
  std::vector<std::unique_ptr<Listener>> listeners;
  std::map<std::string, std::unique_ptr<SocketFactory>> factories;  // by node netns
  bool stopped = false;

  // The accept loop of `l` on the first worker, with a completion handler that counts and logs an
  // exception and starts the loop again a second later (a listener must not go deaf).
  void SpawnAccept(Listener* l);
  awaitable<void> Accept(Listener* l);
  // The access-log flusher, likewise (restarted at once: it waits 100 ms before anything can
  // throw, so a repeated failure cannot spin).
  void SpawnFlushLog();
  // One client connection, from its handshake (TLS) to its close: its requests, one at a time.
  template <class Stream>
  awaitable<void> Serve(Stream stream, Listener* l, Worker* worker, std::string client,
                        ConnSlot slot);
};

void IngressServer::Impl::SpawnAccept(Listener* l) {
  asio::io_context& io = workers[0]->io;
  asio::co_spawn(io, Accept(l), [this, l, &io](std::exception_ptr e) {
    if (!e) return;
    OnException(StrCat("the accept loop of ", l->by), e, l->accept_log);
    if (draining) return;
    auto again = std::make_shared<Timer>(io);
    again->expires_after(std::chrono::seconds(1));
    again->async_wait([this, l, again](const beast::error_code& ec) {
      if (!ec && !draining) SpawnAccept(l);
    });
  });
}

void IngressServer::Impl::SpawnFlushLog() {
  asio::co_spawn(workers[0]->io, FlushLog(), [this](std::exception_ptr e) {
    if (!e) return;
    OnException("the access-log flusher", e, exception_log);
    if (!draining) SpawnFlushLog();
  });
}

awaitable<void> IngressServer::Impl::Accept(Listener* l) {
  tcp::endpoint peer;  // from accept(2) itself: no getpeername(2)
  Timer pause(co_await asio::this_coro::executor);
  std::chrono::milliseconds backoff{0};
  for (;;) {
    beast::error_code ec;
    Worker* worker = workers[next_worker++ % workers.size()].get();
    Socket s = co_await l->acceptor->async_accept(worker->io, peer,
                                                  asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted || draining) co_return;
    if (ec) {
      l->accept_errors.fetch_add(1, std::memory_order_relaxed);
      // That client reset before it was taken: the next one is unaffected.
      if (ec == asio::error::connection_aborted) continue;
      // Out of fds (EMFILE, ENFILE), of socket buffers or memory (ENOBUFS, ENOMEM), or anything
      // else the next accept would hit again at once: the connection stays in the backlog, the
      // listener stays readable, and retrying at once spun a core while nothing was served. So
      // pause accepting, 10 ms doubling up to 1 s, as nginx disables accept for a while; the
      // first success resets it. Connections in the backlog wait; the ones open go on.
      backoff = backoff.count() == 0 ? std::chrono::milliseconds(10)
                                     : std::min(backoff * 2, std::chrono::milliseconds(1000));
      l->accept_log.Note(*this, StrCat("edge: accept on ", l->by, ": ", ec.message(),
                                       "; accepting again in ", backoff.count(), " ms"));
      pause.expires_after(backoff);
      co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      if (draining) co_return;
      continue;
    }
    backoff = std::chrono::milliseconds(0);
    if (options.fault_injection) options.fault_injection("accept");
    // Over the listener's cap: accepted and closed at once with a reset, counted, as Envoy does
    // at a listener's connection limit. Not a 503: that means reading the request (for HTTPS a
    // whole handshake) with the very resources the cap protects; and not left in the backlog,
    // where a client waits out its own timeout with no answer.
    if (l->active.load(std::memory_order_relaxed) >= l->spec.max_connections) {
      l->refused.fetch_add(1, std::memory_order_relaxed);
      s.set_option(asio::socket_base::linger(true, 0), ec);
      s.close(ec);
      continue;
    }
    l->accepted.fetch_add(1, std::memory_order_relaxed);
    ConnSlot slot(l);
    // Listeners are IPv4 (127.0.0.0/8); our formatter, not inet_ntop's sprintf.
    std::string client = peer.address().is_v4()
                             ? net::Ipv4{peer.address().to_v4().to_uint()}.ToString()
                             : peer.address().to_string();
    // An exception out of a connection's coroutine (a bug, or out of memory) ends that connection
    // only; it is counted and logged, never lost (asio::detached dropped it).
    auto on_end = [this](std::exception_ptr e) {
      if (e) OnException("a connection", e, exception_log);
    };
    if (l->tls) {
      s.set_option(tcp::no_delay(true), ec);
      s.non_blocking(true, ec);  // TlsStream receives and sends synchronously until EAGAIN
      TlsStream stream(TcpStream(std::move(s)), l->tls->native_handle());
      asio::co_spawn(worker->io, Serve(std::move(stream), l, worker, client, std::move(slot)),
                     on_end);
    } else {
      s.non_blocking(true, ec);  // ProxySession reads and writes synchronously until EAGAIN
      asio::co_spawn(worker->io, Serve(std::move(s), l, worker, client, std::move(slot)), on_end);
    }
  }
}

template <class Stream>
awaitable<void> IngressServer::Impl::Serve(Stream stream, Listener* l, Worker* worker,
                                           std::string client, ConnSlot slot) {
  constexpr bool kTls = !std::is_same_v<Stream, Socket>;
  if (options.fault_injection) options.fault_injection("connection");
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
  ProxySession<Stream> session(*this, *l, *worker, stream, std::move(client), watch, *lease.b);
  for (bool first = true;; first = false) {
    bool keep = co_await session.Run(first);
    if (!keep || draining) break;
    session.Nodelay();  // kept for another request (ProxySession says why only now)
  }
  watch.Stop();
  if constexpr (kTls) {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
    ec = co_await stream.Shutdown();
  }
  // Plain TCP: the close when `stream` goes sends the FIN (a shutdown(2) before it was one more
  // syscall per connection and changed nothing: unread data makes close(2) reset either way).
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
  MKN_ASSIGN_OR_RETURN(impl.snap, edge_internal::MakeSnapshot(spec));
  for (const std::string& r : impl.snap->router.Routes()) impl.stats[r].route = r;
  if (!options.access_log.empty()) {
    // A log that cannot be opened is an error of Start, not a server that silently logs nothing.
    // 0640 at most: its lines carry query strings.
    const int fd =
        ::open(options.access_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return KernelError(errno, StrCat("open access log ", options.access_log));
    impl.log = fdopen(fd, "a");
    if (impl.log == nullptr) {
      const int err = errno;
      ::close(fd);
      return KernelError(err, StrCat("open access log ", options.access_log));
    }
    setvbuf(impl.log, nullptr, _IOFBF, 1 << 16);
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
      l->tls = std::make_shared<asio::ssl::context>(ctx.get());
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
  for (auto& l : impl.listeners) impl.SpawnAccept(l.get());
  impl.SpawnFlushLog();
  for (auto& w : impl.workers) {
    w->guard.emplace(w->io.get_executor());
    w->thread = std::thread([io = &w->io] { io->run(); });
  }
  return s;
}

absl::Status IngressServer::Update(const config::ClusterSpec& spec) {
  MKN_ASSIGN_OR_RETURN(std::shared_ptr<const Snapshot> snap, edge_internal::MakeSnapshot(spec));
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
  for (auto& l : impl.listeners) l->acceptor.reset();  // the first worker's: before its io_context
  impl.workers.clear();  // the coroutines still waiting (idle keep-alive clients) and their sockets
  impl.listeners.clear();  // after the coroutines: a connection's ConnSlot counts into its listener
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

std::vector<IngressListenerStats> IngressServer::ListenerStats() const {
  std::vector<IngressListenerStats> out;
  for (const auto& l : impl_->listeners) {
    IngressListenerStats s;
    s.listener =
        StrCat(l->spec.protocol == config::ListenerProtocol::kHttps ? "https " : "http ", l->by);
    s.max_connections = l->spec.max_connections;
    s.connections = static_cast<uint64_t>(std::max(0, l->active.load()));
    s.accepted = l->accepted.load();
    s.refused = l->refused.load();
    s.accept_errors = l->accept_errors.load();
    out.push_back(std::move(s));
  }
  return out;
}

uint64_t IngressServer::Exceptions() const { return impl_->exceptions.load(); }

std::vector<std::string> IngressServer::Listening() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->listeners) {
    out.push_back(
        StrCat(l->spec.protocol == config::ListenerProtocol::kHttps ? "https " : "http ", l->by));
  }
  return out;
}

}  // namespace mkn::vnet
