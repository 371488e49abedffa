#include "vnet/kernel/tun.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"

namespace mkn::vnet {

namespace {

constexpr std::string_view kNeedNetAdmin = "need CAP_NET_ADMIN: run as root or with sudo";

// A TUN or TAP (`flags`: IFF_TUN or IFF_TAP) with a virtio-net header, the offloads and the MTU;
// `mac`, for a TAP.
absl::StatusOr<Fd> OpenTunTap(std::string_view kind, std::string_view name, short flags,
                              unsigned offloads, int mtu, const net::Mac* mac) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return absl::InvalidArgumentError(StrCat(kind, " name \"", name, "\""));
  int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return KernelError(errno, "open /dev/net/tun");
  Fd owned(fd);
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = static_cast<short>(flags | IFF_NO_PI | IFF_VNET_HDR);
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0)
    return KernelError(errno, StrCat("create ", kind, " ", name), kNeedNetAdmin);
  if (::ioctl(fd, TUNSETOFFLOAD, offloads) < 0) {
    return KernelError(errno, StrCat(kind, " ", name, ": set offloads"));
  }
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return KernelError(errno, "socket");
  Fd sock(s);
  ifreq mr{};
  std::memcpy(mr.ifr_name, name.data(), name.size());
  mr.ifr_mtu = mtu;
  if (::ioctl(s, SIOCSIFMTU, &mr) < 0)
    return KernelError(errno, StrCat(kind, " ", name, ": set mtu ", mtu), kNeedNetAdmin);
  if (mac != nullptr) {
    ifreq hw{};
    std::memcpy(hw.ifr_name, name.data(), name.size());
    hw.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    std::memcpy(hw.ifr_hwaddr.sa_data, mac->bytes.data(), mac->bytes.size());
    if (::ioctl(s, SIOCSIFHWADDR, &hw) < 0)
      return KernelError(errno, StrCat(kind, " ", name, ": set address ", mac->ToString()),
                         kNeedNetAdmin);
  }
  return owned;
}

}  // namespace

absl::StatusOr<Fd> OpenTun(std::string_view name, int mtu) {
  return OpenTunTap("tun", name, IFF_TUN, TUN_F_CSUM | TUN_F_TSO4, mtu, nullptr);
}

absl::StatusOr<Fd> OpenTap(std::string_view name, int mtu, const net::Mac& mac) {
  return OpenTunTap("tap", name, IFF_TAP, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN, mtu, &mac);
}

}  // namespace mkn::vnet
