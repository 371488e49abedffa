#include "vnet/kernel/tun.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"

namespace mkn::vnet {

absl::StatusOr<Fd> OpenTun(std::string_view name, int mtu) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return absl::InvalidArgumentError(StrCat("tun name \"", name, "\""));
  int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return KernelError(errno, "open /dev/net/tun");
  Fd owned(fd);
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0)
    return KernelError(errno, StrCat("create tun ", name),
                       "need CAP_NET_ADMIN: run as root or with sudo");
  if (::ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) < 0) {
    return KernelError(errno, StrCat("tun ", name, ": set offloads"));
  }
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return KernelError(errno, "socket");
  Fd sock(s);
  ifreq mr{};
  std::memcpy(mr.ifr_name, name.data(), name.size());
  mr.ifr_mtu = mtu;
  if (::ioctl(s, SIOCSIFMTU, &mr) < 0)
    return KernelError(errno, StrCat("tun ", name, ": set mtu ", mtu),
                       "need CAP_NET_ADMIN: run as root or with sudo");
  return owned;
}

}  // namespace mkn::vnet
