#include "vnet/ebpf/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_join.h"
#include "lib/net/naming.h"
#include "lib/proxy/sock_lb.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"

namespace mkn::vnet {
namespace {

constexpr char kDeniedHint[] =
    "need root (CAP_SYS_ADMIN) to make a cgroup: run as root or with sudo";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The marker xattr of `path`: "" if it has none.
std::string MarkerOf(const std::string& path) {
  char buf[256];
  const ssize_t n =
      ::getxattr(path.c_str(), std::string(net::kCgroupMarkerXattr).c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

uint64_t NetnsInode() {
  struct stat sb {};
  return ::stat("/proc/self/ns/net", &sb) == 0 ? static_cast<uint64_t>(sb.st_ino) : 0;
}

}  // namespace

absl::StatusOr<std::string> FindCgroup2Mount() {
  std::optional<std::string> m = proxy::Cgroup2Mount(ReadAll("/proc/self/mountinfo"));
  if (!m) {
    return absl::FailedPreconditionError(
        "proxy_mode = \"ebpf\": no cgroup v2 filesystem is mounted (see /proc/self/mountinfo); "
        "its programs attach to a cgroup v2 of the lab's own: mount one (mount -t cgroup2 none "
        "/sys/fs/cgroup/unified) or use proxy_mode = \"nftables\"");
  }
  return *m;
}

std::string CgroupProcsFile(const std::string& path) { return path + "/cgroup.procs"; }

absl::StatusOr<LabCgroup> LabCgroup::Create(const std::string& cluster, const std::string& marker) {
  MKN_ASSIGN_OR_RETURN(const std::string mount, FindCgroup2Mount());
  LabCgroup cg;
  cg.path_ = proxy::ClusterCgroupPath(mount, cluster, NetnsInode());
  if (::mkdir(cg.path_.c_str(), 0755) < 0) {
    if (errno != EEXIST) return KernelError(errno, StrCat("make cgroup ", cg.path_), kDeniedHint);
    if (MarkerOf(cg.path_) != marker) {
      return absl::AlreadyExistsError(StrCat("make cgroup ", cg.path_,
                                             ": it exists and is not this cluster's (no xattr ",
                                             net::kCgroupMarkerXattr, " = ", marker, ")"));
    }
  } else if (::setxattr(cg.path_.c_str(), std::string(net::kCgroupMarkerXattr).c_str(),
                        marker.data(), marker.size(), 0) < 0) {
    const int err = errno;
    ::rmdir(cg.path_.c_str());  // ours, just made, empty
    return KernelError(err, StrCat("mark cgroup ", cg.path_), kDeniedHint);
  }
  cg.fd_ = Fd(::open(cg.path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cg.fd_.valid()) return KernelError(errno, StrCat("open cgroup ", cg.path_));
  return cg;
}

std::vector<pid_t> CgroupProcs(const std::string& path) {
  std::vector<pid_t> out;
  std::ifstream in(CgroupProcsFile(path));
  pid_t pid;
  while (in >> pid) out.push_back(pid);
  return out;
}

absl::Status RemoveLabCgroup(const std::string& path, const std::string& marker,
                             std::vector<pid_t>* moved) {
  struct stat sb {};
  if (::lstat(path.c_str(), &sb) < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return KernelError(errno, StrCat("stat cgroup ", path));
  }
  // A direct child of a cgroup2 mount, never the mount (the root cgroup) itself.
  MKN_ASSIGN_OR_RETURN(const std::string mount, FindCgroup2Mount());
  const size_t slash = path.rfind('/');
  if (!S_ISDIR(sb.st_mode) || slash == std::string::npos || path.substr(0, slash) != mount ||
      path.size() == slash + 1) {
    return absl::FailedPreconditionError(StrCat("remove cgroup ", path,
                                                ": not a cgroup directly under the cgroup2 mount ",
                                                mount, ": not touched"));
  }
  if (MarkerOf(path) != marker) {
    return absl::FailedPreconditionError(StrCat("remove cgroup ", path, ": it does not carry ",
                                                net::kCgroupMarkerXattr, " = ", marker,
                                                ": not this cluster's, not touched"));
  }
  // Processes still inside (an open `minikube-net exec`, a command started in a pod that outlived
  // it) go to the parent, the mount's root, where they would be without the lab: they keep running,
  // as they do in the other modes (down names those left in the lab's namespaces). Each pass moves
  // what is listed now; one on its way out (ESRCH) or a fork racing the move is taken by the next
  // pass, for up to 2 s.
  const std::string parent_procs = CgroupProcsFile(mount);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  int err = 0;
  while (::rmdir(path.c_str()) < 0) {
    err = errno;
    if (err == ENOENT) return absl::OkStatus();
    if (err != EBUSY || std::chrono::steady_clock::now() >= deadline) break;
    for (pid_t pid : CgroupProcs(path)) {
      if (moved != nullptr && std::find(moved->begin(), moved->end(), pid) == moved->end())
        moved->push_back(pid);
      std::ofstream out(parent_procs);
      out << pid << std::flush;  // ESRCH (it exited meanwhile) is as good
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    err = 0;
  }
  if (err == EBUSY) {
    std::vector<pid_t> pids = CgroupProcs(path);
    return absl::FailedPreconditionError(StrCat(
        "remove cgroup ", path, ": processes are still in it after moving them to ", mount,
        " for 2 s (pid ", absl::StrJoin(pids, ", pid "), "): stop them, then run down again"));
  }
  if (err != 0) return KernelError(err, StrCat("remove cgroup ", path));
  return absl::OkStatus();
}

}  // namespace mkn::vnet
