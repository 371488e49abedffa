// vnet/edge/ingress — the edge: HTTP/1.1 and HTTPS listeners on the host loopback that route
// requests (lib/ingress/router) to Services inside the cluster, as an Ingress controller or a
// Gateway does.
//
// Listeners are sockets on 127.0.0.0/8 in the caller's (the host's or the sandbox's) netns.
// Upstream connections are sockets made inside a node's netns (in batches, on a short-lived thread:
// STYLE.md §4), then connected and used from the Asio threads: so a request enters the cluster
// from a node, exactly as external traffic does, to the Service's ClusterIP (the Service layer
// balances) or straight to an endpoint pod (the ingress balances round-robin), per listener.
//
// Proxying follows RFC 9110: keep-alive on both sides with a pool of idle upstream connections per
// backend address, bodies streamed in 64 KiB pieces in both directions (never buffered whole;
// chunked stays chunked), hop-by-hop headers removed, X-Forwarded-For/-Proto/-Host, Forwarded and
// Via added (lib/ingress/forwarding). Requests are held to RFC 9112 before they are routed
// (lib/ingress/request_head: framing, Host, the request target; the path normalized). Answers of
// its own: 400 malformed or untrustworthy request, 404 no route, 413 body over the limit, 431
// header over the limit (bytes or fields), 501 CONNECT or a transfer coding other than chunked,
// 502 upstream refused or reset before it answered, 503 no endpoints, 504 no response header
// within the listener's upstream_timeout, 308 to HTTPS where a listener says so. A request on a
// reused pooled connection that fails before any answer is retried once on a fresh connection (the
// pooled one was closed by the backend meanwhile). Every request gets one access-log line (time,
// client, host, path, status, route, backend pod, upstream time, and `trace`'s marker
// when the request carries a well-formed one); counters per route. Stop()
// drains: no new connections, in-flight requests finish (up to a deadline), then every socket
// closes.
//
// Threads: `threads` io threads, each with an io_context of its own; a connection stays on one from
// accept to close. Timeouts (IngressLimits) are checked every 100 ms: a connection is cut at most
// that long after its deadline, never before.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/config/spec.h"

namespace mkn::vnet {

struct IngressLimits {
  size_t header_bytes = 16 * 1024;
  size_t header_fields = 100;  // fields in a request header (Envoy's max_headers_count); more: 431
  uint64_t body_bytes = uint64_t{1} << 30;          // 1 GiB
  std::chrono::milliseconds header_timeout{10000};  // a client must send its header by then
  std::chrono::milliseconds idle_timeout{60000};    // keep-alive connections, both sides
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds drain_timeout{5000};
};

struct IngressOptions {
  std::string access_log;  // file path (created 0640, appended to); empty = none
  int threads = 1;         // io threads (each runs its own io_context)
  IngressLimits limits;
  // Tests: called with "accept" for each connection accepted and "connection" as each
  // connection's coroutine starts; it may throw, as a bug would, to show the exception is caught,
  // counted and logged.
  std::function<void(std::string_view where)> fault_injection;
};

// One listener's connections (`get routes`): the cap is max_connections of its ListenerSpec.
struct IngressListenerStats {
  std::string listener;  // "http 127.0.0.1:8080", as Listening() says
  int max_connections = 0;
  uint64_t connections = 0;    // open now
  uint64_t accepted = 0;       // since the start
  uint64_t refused = 0;        // over max_connections: accepted and closed at once (a reset)
  uint64_t accept_errors = 0;  // accept(2) failures (EMFILE, ENFILE, ENOBUFS, ENOMEM, ...)
};

struct IngressRouteStats {
  std::string route;
  uint64_t requests = 0;
  uint64_t status[6] = {0, 0, 0, 0, 0, 0};  // by class: [1] 1xx ... [5] 5xx
  uint64_t bytes_in = 0, bytes_out = 0;
};

class IngressServer {
 public:
  // Binds every listener of the spec (kFailedPrecondition naming the address if one is in use;
  // the errno's code (vnet/kernel/errors) naming the file if the access log cannot be opened;
  // port 0 takes a port the kernel chooses, which Listening() reports), with node netns fds (by
  // node netns name) to open upstream sockets in. The fds must outlive the server. An fd of
  // kCallerNetns opens them in the caller's netns without setns(), so without CAP_SYS_ADMIN
  // (tests whose backends listen on loopback). TLS listeners need their certificates checked
  // first (vnet/edge/tls).
  static constexpr int kCallerNetns = -1;
  static absl::StatusOr<std::unique_ptr<IngressServer>> Start(
      const config::ClusterSpec& spec, const std::map<std::string, int>& node_netns,
      IngressOptions options);
  ~IngressServer();
  IngressServer(const IngressServer&) = delete;
  IngressServer& operator=(const IngressServer&) = delete;

  // Pods came or went (kill, scale): routes and endpoints follow. Thread-safe.
  absl::Status Update(const config::ClusterSpec& spec);
  // Stops accepting, lets in-flight requests finish up to the drain timeout, closes everything.
  // Idempotent.
  void Stop();

  std::vector<IngressRouteStats> Stats() const;
  // Per listener, in spec order.
  std::vector<IngressListenerStats> ListenerStats() const;
  // Coroutines that ended by an exception (each counted and logged, never lost).
  uint64_t Exceptions() const;
  // "http 127.0.0.1:8080", one per listener, in spec order.
  std::vector<std::string> Listening() const;

 private:
  IngressServer();
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mkn::vnet
