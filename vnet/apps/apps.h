// vnet/apps/apps — the built-in container apps, served by the minikube-net process itself.
//
// Each app owns a socket the applier opened inside its pod's netns; the sockets stay in that netns,
// so one Asio io_context on ordinary threads serves every pod (STYLE.md §4: no setns here).
//   http-echo  HTTP/1.1 (Beast, keep-alive): answers with pod, node, pod IP, the client address
//              it saw, the server address and the request line, then "header: name: value" per
//              request header in the order received and "body_bytes"/"body_sha256" of the
//              request body (streamed, never held whole, up to 16 GiB), as text/plain
//              "key: value" lines; the same facts as X-Pod, X-Node, ... response headers.
//              Test routes for the ingress: GET|HEAD /bytes/N (N <= 16 GiB) streams N bytes,
//              byte i = i % 251; /delay/MS (<= 600000) answers after MS ms (a timer, the io
//              thread stays free); /status/CODE (100-599) answers with that status (1xx as an
//              interim before a final 200).
//   tcp-echo   echoes bytes back.          udp-echo   echoes each datagram back to its sender.
//   cluster-dns  the cluster DNS (kube-system/coredns): lib/dns's answers over UDP and TCP port 53
//              (RFC 7766 framing; at most 128 TCP connections, 16 per client address: a new one
//              over a bound closes the oldest idle one, or itself if none is idle; each closed
//              after 10 s without a query) from the zone SetDnsZone() last gave; malformed queries
//              dropped, counted and logged at most once a second. Names a Forwarder serves (the
//              world's example.test) are relayed to it from the pod's own socket: the answer comes
//              back with the client's id; at most 256 outstanding, SERVFAIL after 2 s or over the
//              bound.
//   DNS        (the world's) queries over UDP and TCP answered by a function of the query's bytes.
// Every request is logged to <log_dir>/<pod>/<container>.log (`minikube-net logs POD`).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "lib/dns/answer.h"
#include "lib/dns/zone.h"
#include "lib/plan/plan.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {

// A built-in app and the socket the applier opened for it inside its pod's netns.
struct AppSocket {
  plan::StartApp app;
  Fd fd;  // bound and listening (TCP) or bound (UDP), non-blocking
  // cluster-dns over UDP: an unconnected UDP socket opened in the same netns, from which queries
  // for a Forwarder's names are relayed (none: they get SERVFAIL).
  Fd relay;
};

class AppServer {
 public:
  explicit AppServer(std::string log_dir);
  ~AppServer();
  AppServer(const AppServer&) = delete;
  AppServer& operator=(const AppServer&) = delete;

  // Takes over the socket and serves it (before or after Start; thread-safe once started).
  absl::Status Serve(AppSocket socket, const std::string& node);
  // The cluster DNS's zone from now on (the lab changed: kill, scale). Thread-safe.
  void SetDnsZone(std::shared_ptr<const dns::Zone> zone);
  // What the cluster DNS has counted so far. Thread-safe.
  dns::Counters DnsCounters() const;
  // A DNS server on bound UDP sockets and a listening TCP socket (the world's, opened inside its
  // namespace): each query (a datagram, or a TCP message without its length prefix) goes through
  // `answer`, whose bytes are sent back; nullopt sends nothing (a dropped query; over TCP the
  // connection closes). `answer` runs on the io thread and must not block. Closed with the
  // listeners of `owner` (StopPod) or at Stop. InternalError if Asio cannot take the sockets.
  using DnsAnswer = std::function<std::optional<std::string>(std::string_view query, bool tcp)>;
  absl::Status ServeDns(const std::string& owner, std::vector<Fd> udp, Fd tcp, DnsAnswer answer);
  // Closes the listeners and connections of one pod (it was killed). Thread-safe.
  absl::Status StopPod(const std::string& pod);
  void Start(int threads = 1);
  // Closes every socket and joins the threads. Idempotent.
  void Stop();

 private:
  // Runs fn on the io thread once started (waiting for it), else here.
  absl::Status OnIo(const std::function<absl::Status()>& fn);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mkn::vnet
