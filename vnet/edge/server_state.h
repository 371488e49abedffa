// vnet/edge/server_state — what the parts of one IngressServer share (internal to vnet/edge): its
// listeners, its workers (one io thread each), and the state every connection reads or counts
// into (limits, the routing snapshot, counters per route, the access log, the drain).
//
// Threads: a Worker's members are used by its thread alone while it runs (and by Stop() after it
// ends); a Listener is read-only once the server runs (its acceptor is the first worker's).
// ServerState's members are safe from any thread: each is atomic or under its own mutex, as noted.
// Nothing here fails (no Status): the server's Start() does what can fail.
#pragma once

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "lib/config/spec.h"
#include "vnet/edge/asio_types.h"
#include "vnet/edge/conn_buffers.h"
#include "vnet/edge/deadlines.h"
#include "vnet/edge/ingress.h"
#include "vnet/edge/snapshot.h"
#include "vnet/edge/upstream_pool.h"

namespace mkn::vnet::edge_internal {

struct Listener {
  config::ListenerSpec spec;
  std::string by;                           // "127.0.0.1:8080"
  std::unique_ptr<Acceptor> acceptor;       // on the first worker
  std::shared_ptr<asio::ssl::context> tls;  // HTTPS only
  SocketFactory* sockets = nullptr;         // the listener's node
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
