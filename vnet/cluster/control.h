// vnet/cluster/control — a running cluster's control socket,
// /run/minikube-net/<cluster>/control/control.sock.
//
// The CLI's runtime verbs (get svc, get endpoints, conntrack, kill, scale) talk to the process that
// runs the cluster over a Unix stream socket: one request (a JSON object on one line) per
// connection, one JSON object line back. Requests are served one at a time on a thread of their
// own, so a handler may take its time (kill rebuilds a pod) without racing another. Only the owner
// of the state directory (root) can connect: the socket is 0600, in a 0700 directory.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mkn::vnet {

class ControlServer {
 public:
  // Takes a request's text, returns the response's text.
  using Handler = std::function<std::string(const std::string&)>;

  // Binds `path` (replacing a stale socket file) and starts serving.
  static absl::StatusOr<std::unique_ptr<ControlServer>> Start(const std::string& path,
                                                              Handler handler);
  ~ControlServer();
  // Stops accepting, waits for the request in progress, removes the socket file. Idempotent.
  void Stop();

 private:
  ControlServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The control socket of cluster `cluster`.
std::string ControlSocketPath(const std::string& cluster);

// Sends one request and returns the response line. kUnavailable if nobody listens (the cluster's
// process is gone), kDeadlineExceeded after timeout_ms.
absl::StatusOr<std::string> ControlCall(const std::string& cluster, const std::string& request,
                                        int timeout_ms = 30000);

}  // namespace mkn::vnet
