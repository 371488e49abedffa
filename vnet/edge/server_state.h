// vnet/edge/server_state — what the parts of one IngressServer share (internal to vnet/edge): its
// listeners, its workers (one io thread each), and the state every connection reads or counts
// into (limits, the routing snapshot, counters per route, the access log, the drain).
//
// Threads: a Worker's members are used by its thread alone while it runs (and by Stop() after it
// ends); a Listener is read-only once the server runs (its acceptor is the first worker's) but for
// its counters, which are atomic. ServerState's members are safe from any thread: each is atomic or
// under its own mutex, as noted. Nothing here fails (no Status): the server's Start() does what can
// fail.
#pragma once

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "lib/config/spec.h"
#include "vnet/edge/asio_types.h"
#include "vnet/edge/conn_buffers.h"
#include "vnet/edge/deadlines.h"
#include "vnet/edge/ingress.h"
#include "vnet/edge/snapshot.h"
#include "vnet/edge/upstream_pool.h"

namespace mkn::vnet::edge_internal {

struct ServerState;

// Event lines for the access log at most once a second per kind of event, each saying how many
// were left out before it: a failure that repeats thousands of times a second (accept(2) out of
// fds) must not fill the disk. Thread-safe.
class RateLimitedLog {
 public:
  void Note(ServerState& server, const std::string& line);

 private:
  std::mutex mu_;
  std::chrono::steady_clock::time_point last_{};  // of the last line written
  uint64_t left_out_ = 0;                         // since then
  bool any_ = false;
};

struct Listener {
  config::ListenerSpec spec;
  std::string by;                           // "127.0.0.1:8080"
  std::unique_ptr<Acceptor> acceptor;       // on the first worker
  std::shared_ptr<asio::ssl::context> tls;  // HTTPS only
  SocketFactory* sockets = nullptr;         // the listener's node
  // Counters: the accept loop counts on the first worker, connections end on any.
  std::atomic<int> active{0};  // client connections open now (against spec.max_connections)
  std::atomic<uint64_t> accepted{0}, refused{0}, accept_errors{0};
  RateLimitedLog accept_log;  // its accept loop's events: accept(2) failures, an exception
};

// One open client connection of a listener, counted from its accept to the end of its coroutine
// (also when Stop destroys the coroutine): moved into the connection's coroutine frame.
class ConnSlot {
 public:
  explicit ConnSlot(Listener* l) : l_(l) { l_->active.fetch_add(1, std::memory_order_relaxed); }
  ConnSlot(ConnSlot&& o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
  ConnSlot(const ConnSlot&) = delete;
  ConnSlot& operator=(const ConnSlot&) = delete;
  ConnSlot& operator=(ConnSlot&&) = delete;
  ~ConnSlot() {
    if (l_ != nullptr) l_->active.fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  Listener* l_;
};

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

// The state of one server that its connections share.
struct ServerState {
  IngressOptions options;

  mutable std::mutex snap_mu;
  std::shared_ptr<const Snapshot> snap;  // under snap_mu

  mutable std::mutex stats_mu;
  std::map<std::string, IngressRouteStats> stats;  // under stats_mu

  std::mutex log_mu;
  // Set before the io threads start, cleared after they end: read without the lock to skip
  // formatting a line when there is no log.
  FILE* log = nullptr;
  bool log_dirty = false;  // under log_mu

  std::atomic<uint64_t> rr{0};  // round-robin over endpoints
  // Coroutines (accept loops, connections, the log flusher) that ended by an exception: counted and
  // logged by their completion handlers (OnException) instead of lost by asio::detached.
  std::atomic<uint64_t> exceptions{0};
  RateLimitedLog exception_log;
  std::atomic<bool> draining{false};
  std::mutex active_mu;
  std::condition_variable active_cv;
  std::atomic<int> active{0};  // requests in flight

  std::shared_ptr<const Snapshot> Current() const {
    std::lock_guard<std::mutex> l(snap_mu);
    return snap;
  }

  // One finished request of `route` (empty: none matched) with `status`, in counters.
  void Count(const std::string& route, int status, uint64_t in, uint64_t out);

  // One access-log line, with the time in front. Flushed by FlushLog, at most 100 ms later: no
  // write() per request.
  void Log(const std::string& line);
  // Flushes the access log every 100 ms, on the io_context it is spawned on, until that stops.
  awaitable<void> FlushLog();
  // A coroutine's completion handler saw `e` (null: it ended normally): counts it and logs
  // "edge: <what> ended by an exception: <e.what()>", rate-limited by `log` (exception_log, or a
  // listener's accept_log for its accept loop). Never throws.
  void OnException(std::string_view what, std::exception_ptr e, RateLimitedLog& log);

  // Requests in flight, counted without a lock; Stop() waits under active_mu for none, and the
  // request that ends the last one while draining wakes it (draining is set before Stop waits).
  void Begin() { active.fetch_add(1); }
  void End() {
    if (active.fetch_sub(1) == 1 && draining) {
      std::lock_guard<std::mutex> l(active_mu);
      active_cv.notify_all();
    }
  }
};

}  // namespace mkn::vnet::edge_internal
