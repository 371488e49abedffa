// vnet/cluster/control — a running cluster's control socket,
// /run/minikube-net/<cluster>/control/control.sock.
//
// The CLI's runtime verbs (get svc, get endpoints, get routes, conntrack, kill, scale, cni) talk
// to the process that runs the cluster over a Unix stream socket: one request (a JSON object on
// one line, lib/control/protocol.h) per connection, one JSON object line back. Requests are served
// one at a time on a thread of their own, so a handler may take its time (kill rebuilds a pod)
// without racing another. Only the owner of the state directory (root) can connect: the socket is
// 0600, in a 0700 directory.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/control/protocol.h"
#include "lib/strings/str_cat.h"

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

// Sends one request line and returns the response line. kUnavailable if nobody listens (the
// cluster's process is gone), kDeadlineExceeded after timeout_ms, kResourceExhausted if the answer
// is too long.
absl::StatusOr<std::string> ControlCall(const std::string& cluster, const std::string& request,
                                        int timeout_ms = 30000);

// One request of lib/control/protocol.h, typed: Call(cluster, control::KillRequest{"web-1"}) is a
// StatusOr<control::KillAnswer>. Errors: ControlCall's; the Status the cluster answered with (its
// code as sent: kNotFound for an unknown pod, kInvalidArgument for a bad request,
// kFailedPrecondition, ...); kDataLoss "cluster C gave a malformed answer: ..." for an answer that
// does not read.
template <typename Request>
absl::StatusOr<typename Request::Answer> Call(const std::string& cluster, const Request& request,
                                              int timeout_ms = 30000) {
  absl::StatusOr<std::string> text =
      ControlCall(cluster, control::Encode(control::ToJson(request)), timeout_ms);
  if (!text.ok()) return text.status();
  absl::StatusOr<typename Request::Answer> a =
      control::ParseAnswer<typename Request::Answer>(*text);
  if (absl::IsDataLoss(a.status()))
    return absl::DataLossError(StrCat("cluster ", cluster, " gave a ", a.status().message()));
  return a;
}

}  // namespace mkn::vnet
