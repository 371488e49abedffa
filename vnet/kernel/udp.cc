#include "vnet/kernel/udp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <cerrno>

#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"

namespace mkn::vnet {
namespace {

constexpr int kBufferBytes = 4 << 20;

void SetBuffer(int fd, int force, int plain) {
  // Forced (CAP_NET_ADMIN) past net.core.[rw]mem_max; else as much as the sysctl allows.
  if (::setsockopt(fd, SOL_SOCKET, force, &kBufferBytes, sizeof(kBufferBytes)) < 0)
    (void)::setsockopt(fd, SOL_SOCKET, plain, &kBufferBytes, sizeof(kBufferBytes));
}

}  // namespace

absl::StatusOr<Fd> OpenUdpTunnelSocket(net::Ipv4 local, uint16_t port) {
  const std::string where = StrCat("udp ", local.ToString(), ":", port);
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return KernelError(errno, StrCat("socket for ", where));
  Fd owned(fd);
  const int one = 1, pmtu = IP_PMTUDISC_DO;
  if (::setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one)) < 0)
    return KernelError(errno, StrCat(where, ": UDP_GRO"));
  if (::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu)) < 0)
    return KernelError(errno, StrCat(where, ": IP_MTU_DISCOVER"));
  SetBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
  SetBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(local.value);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) < 0)
    return KernelError(errno, StrCat("bind ", where));
  return owned;
}

}  // namespace mkn::vnet
