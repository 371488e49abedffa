// vnet/cluster/control — a running cluster's control socket,
// /run/minikube-net/<cluster>/control/control.sock.
//
// The CLI's runtime verbs (get svc, get endpoints, get routes, conntrack, kill, scale, cni) talk
// to the process that runs the cluster over a Unix stream socket: one request (a JSON object on
// one line, lib/control/protocol.h) per connection, one JSON object line back. Connections are
// served concurrently, each on a short-lived thread of its own, at most kMaxControlConnections at
// once (more wait in the listen backlog until one ends); a client has kControlRequestDeadlineMs to
// send its request and is dropped after that, so clients that connect and say nothing cannot hold
// up the others. The handler is therefore called from several threads at once, and serializes
// what must be (RunningCluster's mutex: kill, scale and cni one at a time, reads against a spec
// no change is halfway through). Only the owner of the state directory (root) can connect: the
// socket is 0600, in a 0700 directory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/control/protocol.h"
#include "lib/strings/str_cat.h"

namespace mkn::vnet {

inline constexpr int kMaxControlConnections = 32;
inline constexpr int kControlRequestDeadlineMs = 1000;  // a request is one short line
inline constexpr int kControlAnswerDeadlineMs = 5000;   // a client that does not read is dropped

// What the server has done, for tests and diagnostics.
struct ControlStats {
  uint64_t served = 0;         // requests answered
  uint64_t dropped_idle = 0;   // clients that sent no full request line in time (or closed early)
  uint64_t dropped_long = 0;   // requests over the size limit
  uint64_t unanswered = 0;     // answers the client did not take in time
  uint64_t accept_errors = 0;  // accept(2) failed (out of fds: backed off, not spun on)
  uint64_t thread_errors = 0;  // no thread could be started for a connection: it was closed
  uint64_t at_cap = 0;  // times the cap was reached and accepting paused until a connection ended
};

class ControlServer {
 public:
  // Takes a request's text, returns the response's text. Called from several threads at once.
  using Handler = std::function<std::string(const std::string&)>;

  // Binds `path` (replacing a stale socket file; its directory is made 0700) and starts serving.
  // vnet/kernel/errors.h's codes for the socket and the directory; InvalidArgument for a path
  // too long for a Unix socket.
  static absl::StatusOr<std::unique_ptr<ControlServer>> Start(const std::string& path,
                                                              Handler handler);
  ~ControlServer();
  // Stops accepting, drops clients still sending, waits for the requests in progress, removes the
  // socket file. Idempotent.
  void Stop();
  ControlStats Stats() const;

 private:
  ControlServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The control socket of cluster `cluster`.
std::string ControlSocketPath(const std::string& cluster);

// Sends one request line and returns the response line. kUnavailable if nobody listens (the
// cluster's process is gone) or if it closes the connection before the answer's newline ("cluster
// C's process ended before it answered"), kDeadlineExceeded after timeout_ms, kResourceExhausted if
// the answer is too long.
absl::StatusOr<std::string> ControlCall(const std::string& cluster, const std::string& request,
                                        int timeout_ms = 30000);
// ControlCall to the socket at `path` (tests: a server in a temporary directory); `cluster` names
// the peer in messages.
absl::StatusOr<std::string> ControlCallAt(const std::string& path, const std::string& cluster,
                                          const std::string& request, int timeout_ms = 30000);

// One request of lib/control/protocol.h, typed, to the socket at `path`: CallAt(path, cluster,
// control::KillRequest{"web-1"}) is a StatusOr<control::KillAnswer>. Errors: ControlCall's; the
// Status the cluster answered with, code and message as sent (kNotFound for an unknown pod,
// kInvalidArgument for a bad request, kFailedPrecondition, a kDataLoss of its own, ...); kDataLoss
// "cluster C gave a malformed answer: ..." for an answer that does not read.
template <typename Request>
absl::StatusOr<typename Request::Answer> CallAt(const std::string& path, const std::string& cluster,
                                                const Request& request, int timeout_ms = 30000) {
  absl::StatusOr<std::string> text =
      ControlCallAt(path, cluster, control::Encode(control::ToJson(request)), timeout_ms);
  if (!text.ok()) return text.status();
  return control::ParseAnswer<typename Request::Answer>(*text, StrCat("cluster ", cluster));
}

// CallAt the control socket of cluster `cluster`.
template <typename Request>
absl::StatusOr<typename Request::Answer> Call(const std::string& cluster, const Request& request,
                                              int timeout_ms = 30000) {
  return CallAt(ControlSocketPath(cluster), cluster, request, timeout_ms);
}

}  // namespace mkn::vnet
