#include "vnet/kernel/netns.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <utility>

#include "lib/net/naming.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/netlink.h"

namespace mkn::vnet {
namespace {

constexpr std::string_view kNeedSysAdmin = "need CAP_SYS_ADMIN: run as root or with sudo";

std::string PathOf(std::string_view name) { return StrCat(net::kNetnsDir, "/", name); }

}  // namespace

absl::Status PrepareNetnsDir() {
  std::string dir(net::kNetnsDir);
  if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) {
    return KernelError(errno, StrCat("create ", dir));
  }
  // As iproute2's netns_add: make the directory a shared mount point, bind-mounting it onto itself
  // first if it is not a mount point yet.
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) == 0) return absl::OkStatus();
  if (errno != EINVAL)
    return KernelError(errno, StrCat("make ", dir, " a shared mount"), kNeedSysAdmin);
  if (::mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) < 0) {
    return KernelError(errno, StrCat("bind-mount ", dir), kNeedSysAdmin);
  }
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) < 0) {
    return KernelError(errno, StrCat("make ", dir, " a shared mount"), kNeedSysAdmin);
  }
  return absl::OkStatus();
}

absl::Status UnshareNetns() {
  if (::unshare(CLONE_NEWNET) < 0) {
    return KernelError(errno, "create network namespace", kNeedSysAdmin);
  }
  return absl::OkStatus();
}

absl::Status MountCurrentNetns(std::string_view name) {
  std::string path = PathOf(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EEXIST) return absl::AlreadyExistsError(StrCat("netns ", name, " already exists"));
    return KernelError(errno, StrCat("create ", path), kNeedSysAdmin);
  }
  ::close(fd);
  // e2e (examples/e2e_test.sh stale_netns): die here, the file made and nothing mounted on it, as
  // a SIGKILL at this moment would leave it. Reads an environment variable only when set.
  if (const char* at = ::getenv("MKN_TEST_KILL_AFTER_NETNS_FILE"); at != nullptr && name == at) {
    ::raise(SIGKILL);
  }
  std::string self =
      StrCat("/proc/self/task/", static_cast<long>(::syscall(SYS_gettid)), "/ns/net");
  if (::mount(self.c_str(), path.c_str(), "none", MS_BIND, nullptr) < 0) {
    int e = errno;
    ::unlink(path.c_str());
    return KernelError(e, StrCat("bind-mount netns at ", path), kNeedSysAdmin);
  }
  return absl::OkStatus();
}

absl::StatusOr<Fd> OpenNetns(std::string_view name) {
  std::string path = PathOf(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(StrCat("no netns ", name));
    return KernelError(errno, StrCat("open ", path));
  }
  return Fd(fd);
}

absl::StatusOr<Fd> OpenCurrentNetns() {
  std::string self =
      StrCat("/proc/self/task/", static_cast<long>(::syscall(SYS_gettid)), "/ns/net");
  int fd = ::open(self.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return KernelError(errno, "open current netns");
  return Fd(fd);
}

absl::Status EnterNetns(int fd) {
  if (::setns(fd, CLONE_NEWNET) < 0) return KernelError(errno, "enter netns", kNeedSysAdmin);
  return absl::OkStatus();
}

absl::Status RemoveNetns(std::string_view name) {
  std::string path = PathOf(name);
  if (::umount2(path.c_str(), MNT_DETACH) < 0 && errno != EINVAL) {
    if (errno == ENOENT) return absl::NotFoundError(StrCat("no netns ", name));
    return KernelError(errno, StrCat("unmount ", path), kNeedSysAdmin);
  }
  if (::unlink(path.c_str()) < 0) {
    if (errno == ENOENT) return absl::NotFoundError(StrCat("no netns ", name));
    return KernelError(errno, StrCat("remove ", path), kNeedSysAdmin);
  }
  return absl::OkStatus();
}

NetnsPath StatNetnsPath(std::string_view name) {
  const std::string path = PathOf(name);
  struct stat st {};
  if (::lstat(path.c_str(), &st) < 0) return NetnsPath::kAbsent;  // ENOENT, or unreadable alike
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) == 0 && fs.f_type == NSFS_MAGIC) return NetnsPath::kMounted;
  return S_ISREG(st.st_mode) && st.st_size == 0 ? NetnsPath::kStale : NetnsPath::kOther;
}

absl::StatusOr<bool> RemoveStaleNetns(std::string_view name) {
  if (StatNetnsPath(name) != NetnsPath::kStale) return false;
  const std::string path = PathOf(name);
  if (::unlink(path.c_str()) < 0) {
    if (errno == ENOENT) return false;  // someone removed it meanwhile
    return KernelError(errno, StrCat("remove stale ", path), kNeedSysAdmin);
  }
  return true;
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

// --- NamedNetns ---------------------------------------------------------------------------------

absl::StatusOr<NamedNetns> NamedNetns::CreateOnThisThread(std::string_view name,
                                                          std::optional<std::string_view> marker,
                                                          std::optional<NlSocket>* socket) {
  auto named = [&](const absl::Status& st) {
    return absl::Status(st.code(), StrCat("create netns ", name, ": ", st.message()));
  };
  if (absl::Status st = UnshareNetns(); !st.ok()) return named(st);
  // Marker first, mount second: whatever is visible under /run/netns is provably ours.
  if (marker) {
    absl::StatusOr<NlSocket> sock = NlSocket::Open();
    if (!sock.ok()) return named(sock.status());
    if (absl::Status st = sock->SetUpWithAlias("lo", *marker); !st.ok()) return named(st);
    if (socket != nullptr) socket->emplace(std::move(*sock));
  }
  absl::Status mounted = MountCurrentNetns(name);
  if (absl::IsAlreadyExists(mounted)) {
    // A stale file of this name (a SIGKILL halfway through making or removing it) holds no
    // namespace: the caller is making this name as its own, so it is already gone; clear it once.
    absl::StatusOr<bool> cleared = RemoveStaleNetns(name);
    if (!cleared.ok()) return named(cleared.status());
    if (*cleared) mounted = MountCurrentNetns(name);
  }
  if (!mounted.ok()) {
    // MountCurrentNetns's AlreadyExists message already says which netns.
    return absl::IsAlreadyExists(mounted) ? mounted : named(mounted);
  }
  // The name is ours from here: an error below removes it again (the handle's destructor).
  NamedNetns ns{std::string(name), Fd()};
  absl::StatusOr<Fd> fd = OpenCurrentNetns();
  if (!fd.ok()) return named(fd.status());
  ns.fd_ = std::move(*fd);
  return ns;
}

absl::StatusOr<NamedNetns> NamedNetns::Create(std::string_view name,
                                              std::optional<std::string_view> marker) {
  absl::StatusOr<NamedNetns> out = absl::InternalError("not run");
  std::thread t([&] { out = CreateOnThisThread(name, marker); });
  t.join();
  return out;
}

NamedNetns& NamedNetns::operator=(NamedNetns&& o) noexcept {
  if (this != &o) {
    Remove();
    name_ = std::exchange(o.name_, {});
    fd_ = std::move(o.fd_);
  }
  return *this;
}

Fd NamedNetns::Release() {
  name_.clear();
  return std::move(fd_);
}

void NamedNetns::Remove() {
  // A destructor has no one to tell; an undo stack that must report calls RemoveNow().
  RemoveNow().IgnoreError();
}

absl::Status NamedNetns::RemoveNow() {
  if (name_.empty()) return absl::OkStatus();
  // Our fd first, so that once the mount goes nothing of ours holds the namespace.
  fd_.Reset();
  absl::Status st = RemoveNetns(name_);
  name_.clear();
  return absl::IsNotFound(st) ? absl::OkStatus() : st;
}

}  // namespace mkn::vnet
