#include "vnet/edge/upstream_pool.h"

#include <sys/socket.h>

#include <cerrno>

#include "lib/status/status.h"
#include "vnet/edge/ingress.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/netns.h"

namespace mkn::vnet::edge_internal {

absl::StatusOr<Fd> SocketFactory::Take() {
  std::lock_guard<std::mutex> l(mu_);
  if (spare_.empty()) {
    auto make = [&]() -> absl::Status {
      for (size_t i = 0; i < kSocketBatch; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return KernelError(errno, "upstream socket");
        spare_.emplace_back(fd);
      }
      return absl::OkStatus();
    };
    MKN_RETURN_IF_ERROR(netns_fd_ == IngressServer::kCallerNetns ? make()
                                                                 : RunInNetns(netns_fd_, make));
  }
  Fd fd = std::move(spare_.back());
  spare_.pop_back();
  return fd;
}

absl::StatusOr<std::unique_ptr<TcpStream>> NewUpstream(
    asio::io_context& io, Fd fd, std::chrono::steady_clock::duration connect_timeout) {
  Socket s(io);
  beast::error_code ec;
  s.assign(tcp::v4(), fd.get(), ec);
  if (ec) return KernelError(ec.value(), "register an upstream socket");  // `fd` closes it
  fd.Release();                                                           // the socket owns it now
  auto up = std::make_unique<TcpStream>(std::move(s));
  up->expires_after(connect_timeout);
  return up;
}

}  // namespace mkn::vnet::edge_internal
