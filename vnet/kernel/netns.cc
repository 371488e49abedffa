#include "vnet/kernel/netns.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::vnet {
namespace {

std::string PathOf(std::string_view name) { return StrCat(net::kNetnsDir, "/", name); }

}  // namespace

absl::Status PrepareNetnsDir() {
  std::string dir(net::kNetnsDir);
  if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, StrCat("create ", dir));
  }
  // As iproute2's netns_add: make the directory a shared mount point, bind-mounting it onto itself
  // first if it is not a mount point yet.
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) == 0) return absl::OkStatus();
  if (errno != EINVAL) return absl::ErrnoToStatus(errno, StrCat("make ", dir, " a shared mount"));
  if (::mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) < 0) {
    return absl::ErrnoToStatus(errno, StrCat("bind-mount ", dir));
  }
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) < 0) {
    return absl::ErrnoToStatus(errno, StrCat("make ", dir, " a shared mount"));
  }
  return absl::OkStatus();
}

absl::Status UnshareNetns() {
  if (::unshare(CLONE_NEWNET) < 0) {
    return absl::ErrnoToStatus(
        errno, "create network namespace (need CAP_SYS_ADMIN: run as root or with sudo)");
  }
  return absl::OkStatus();
}

absl::Status MountCurrentNetns(std::string_view name) {
  std::string path = PathOf(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EEXIST) return absl::AlreadyExistsError(StrCat("netns ", name, " already exists"));
    return absl::ErrnoToStatus(errno, StrCat("create ", path));
  }
  ::close(fd);
  std::string self =
      StrCat("/proc/self/task/", static_cast<long>(::syscall(SYS_gettid)), "/ns/net");
  if (::mount(self.c_str(), path.c_str(), "none", MS_BIND, nullptr) < 0) {
    int e = errno;
    ::unlink(path.c_str());
    return absl::ErrnoToStatus(e, StrCat("bind-mount netns at ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<Fd> OpenNetns(std::string_view name) {
  std::string path = PathOf(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(StrCat("no netns ", name));
    return absl::ErrnoToStatus(errno, StrCat("open ", path));
  }
  return Fd(fd);
}

absl::StatusOr<Fd> OpenCurrentNetns() {
  std::string self =
      StrCat("/proc/self/task/", static_cast<long>(::syscall(SYS_gettid)), "/ns/net");
  int fd = ::open(self.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, "open current netns");
  return Fd(fd);
}

absl::Status EnterNetns(int fd) {
  if (::setns(fd, CLONE_NEWNET) < 0) return absl::ErrnoToStatus(errno, "enter netns");
  return absl::OkStatus();
}

absl::Status RemoveNetns(std::string_view name) {
  std::string path = PathOf(name);
  if (::umount2(path.c_str(), MNT_DETACH) < 0 && errno != EINVAL) {
    if (errno == ENOENT) return absl::NotFoundError(StrCat("no netns ", name));
    return absl::ErrnoToStatus(errno, StrCat("unmount ", path));
  }
  if (::unlink(path.c_str()) < 0) {
    if (errno == ENOENT) return absl::NotFoundError(StrCat("no netns ", name));
    return absl::ErrnoToStatus(errno, StrCat("remove ", path));
  }
  return absl::OkStatus();
}

absl::Status RunInNetns(int fd, const std::function<absl::Status()>& fn) {
  absl::Status result;
  std::thread t([&] {
    result = EnterNetns(fd);
    if (result.ok()) result = fn();
  });
  t.join();
  return result;
}

bool HaveNetAdmin() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &hdr, data) < 0) return false;
  auto has = [&](int cap) { return (data[cap / 32].effective & (1u << (cap % 32))) != 0; };
  return has(CAP_NET_ADMIN) && has(CAP_SYS_ADMIN);
}

}  // namespace mkn::vnet
