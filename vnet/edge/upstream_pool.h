// vnet/edge/upstream_pool — where the edge's upstream connections come from: sockets made inside a
// node's netns (SocketFactory), and idle keep-alive connections to backends (UpstreamPool)
// (internal to vnet/edge).
//
// A request enters the cluster from a node, exactly as external traffic does, so its upstream
// socket must live in that node's netns. STYLE.md §4: the netns is entered only on a short-lived
// thread (RunInNetns), once per batch of kSocketBatch sockets, never on an io thread; a socket
// stays in the netns it was made in and is then connected and used from the io threads.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vnet/edge/asio_types.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet::edge_internal {

// Non-blocking TCP sockets made inside one node's netns, handed out one by one. Thread-safe (the
// workers share a node's factory).
class SocketFactory {
 public:
  static constexpr size_t kSocketBatch = 32;  // upstream sockets made per trip into the netns
  // `netns_fd` must outlive the factory; IngressServer::kCallerNetns makes the sockets in the
  // caller's netns, without setns() (so without CAP_SYS_ADMIN).
  explicit SocketFactory(int netns_fd) : netns_fd_(netns_fd) {}
  // A socket, from the spare ones or a new batch (made in the netns: CAP_SYS_ADMIN unless
  // kCallerNetns). Errors, as vnet/kernel/errors.h maps them: socket(2)'s ("upstream socket":
  // kUnavailable for EMFILE/ENFILE), setns(2)'s ("enter netns": kPermissionDenied without
  // CAP_SYS_ADMIN, kInvalidArgument for an fd that is not a netns).
  absl::StatusOr<Fd> Take();

 private:
  int netns_fd_;
  std::mutex mu_;
  std::vector<Fd> spare_;
};

// A new upstream connection (not yet connected) over `fd`, on `io`, with `connect_timeout` as its
// deadline. If `io` cannot take the socket (its epoll_ctl refused it) the error is returned and
// `fd` is closed: it is never leaked. Codes: vnet/kernel/errors.h's for the errno.
absl::StatusOr<std::unique_ptr<TcpStream>> NewUpstream(
    asio::io_context& io, Fd fd, std::chrono::steady_clock::duration connect_timeout);

// Idle keep-alive connections to backends, by "ip:port", last in first out. One per worker, used by
// its thread alone (and by Stop() after the threads end): no lock.
class UpstreamPool {
 public:
  static constexpr size_t kPerBackend = 64;  // idle upstream connections kept per backend address
  // An idle connection to `key`, or null.
  std::unique_ptr<TcpStream> Get(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    auto s = std::move(it->second.back());
    it->second.pop_back();
    return s;
  }
  // Keeps `s` for the next request to `key`; over kPerBackend it is closed instead.
  void Put(const std::string& key, std::unique_ptr<TcpStream> s) {
    auto& v = idle_[key];
    if (v.size() < kPerBackend) v.push_back(std::move(s));
  }
  // Closes every idle connection (with a reset: upstream sockets have SO_LINGER 0, see
  // ProxySession).
  void Clear() { idle_.clear(); }

 private:
  std::map<std::string, std::vector<std::unique_ptr<TcpStream>>> idle_;
};

}  // namespace mkn::vnet::edge_internal
