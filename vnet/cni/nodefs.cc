#include "vnet/cni/nodefs.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"

namespace mkn::vnet {
namespace {

struct MountEntry {
  std::string point;
  bool shared = false;
};

std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && std::isdigit(s[i + 1]) && std::isdigit(s[i + 2]) &&
        std::isdigit(s[i + 3])) {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

absl::StatusOr<std::vector<MountEntry>> ReadMounts() {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return KernelError(errno, "read /proc/self/mountinfo");
  std::vector<MountEntry> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point, opts, field;
    f >> id >> parent >> dev >> root >> point >> opts;
    MountEntry e{Unescape(point), false};
    while (f >> field && field != "-") e.shared = e.shared || field.rfind("shared:", 0) == 0;
    out.push_back(std::move(e));
  }
  return out;
}

bool Under(std::string_view path, std::string_view dir) {
  return path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/';
}
bool AtOrUnder(std::string_view path, std::string_view dir) {
  return path == dir || Under(path, dir);
}

// Mount points to bind back over the overlays: /run/netns and /run/minikube-net, then every
// top-most mount under an overlaid directory, except the node-private ones. Later entries are
// mounted later, so a nested one (only the explicit two can be) would land on top: they are all
// top-most here.
std::vector<std::string> RebindPoints(const std::vector<MountEntry>& mounts) {
  std::vector<std::string> cand = {"/run/netns", "/run/minikube-net"};
  for (const MountEntry& m : mounts) {
    for (std::string_view d : kNodeOverlayDirs) {
      if (Under(m.point, d)) cand.push_back(m.point);
    }
  }
  std::sort(cand.begin(), cand.end());
  cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
  std::vector<std::string> out;
  for (const std::string& c : cand) {
    bool priv = std::any_of(std::begin(kNodePrivateDirs), std::end(kNodePrivateDirs),
                            [&](std::string_view p) { return AtOrUnder(c, p); });
    // Sorted: a parent comes before its children, so "covered" only needs the chosen ones.
    bool covered =
        std::any_of(out.begin(), out.end(), [&](const std::string& o) { return Under(c, o); });
    if (!priv && !covered) out.push_back(c);
  }
  return out;
}

enum Step : int { kOk = 0, kUnshare, kSlave, kOpenPoint, kOverlay, kBind, kOpenNs, kSend };

struct Report {
  int step = kOk;
  int err = 0;
  int index = 0;  // which overlay dir or bind point
};

// "/proc/self/fd/<fd>" into buf without allocating (async-signal-safe).
void FdPath(int fd, char (&buf)[32]) {
  static constexpr char kPrefix[] = "/proc/self/fd/";
  std::memcpy(buf, kPrefix, sizeof(kPrefix) - 1);
  char digits[12];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + fd % 10);
    fd /= 10;
  } while (fd > 0);
  size_t at = sizeof(kPrefix) - 1;
  while (n > 0) buf[at++] = digits[--n];
  buf[at] = '\0';
}

// In the forked child: only system calls, on strings the parent built.
[[noreturn]] void ChildMakeNs(int sock, const std::vector<const char*>& overlay_opts,
                              const std::vector<const char*>& points, std::vector<int>& point_fds) {
  Report r;
  auto fail = [&](int step, int index) {
    r.step = step;
    r.err = errno;
    r.index = index;
    (void)!::send(sock, &r, sizeof(r), MSG_NOSIGNAL);
    ::_exit(1);
  };
  if (::unshare(CLONE_NEWNS) < 0) fail(kUnshare, 0);
  // Slave, not private: see the header (pod netns mounted later must appear in the view).
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) < 0) fail(kSlave, 0);
  for (size_t i = 0; i < points.size(); ++i) {
    point_fds[i] = ::open(points[i], O_PATH | O_CLOEXEC);
    if (point_fds[i] < 0 && errno != ENOENT) fail(kOpenPoint, static_cast<int>(i));
  }
  for (size_t i = 0; i < overlay_opts.size(); ++i) {
    const char* dir = kNodeOverlayDirs[i].data();  // string literals: NUL-terminated
    if (::mount("overlay", dir, "overlay", 0, overlay_opts[i]) < 0)
      fail(kOverlay, static_cast<int>(i));
  }
  for (size_t i = 0; i < points.size(); ++i) {
    if (point_fds[i] < 0) continue;
    // The fd names the mount as it was before the overlays: /proc/self/fd/N reaches it though
    // hidden.
    char path[32];
    FdPath(point_fds[i], path);
    if (::mount(path, points[i], nullptr, MS_BIND | MS_REC, nullptr) < 0)
      fail(kBind, static_cast<int>(i));
  }
  int ns = ::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (ns < 0) fail(kOpenNs, 0);
  char cbuf[CMSG_SPACE(sizeof(int))];
  std::memset(cbuf, 0, sizeof(cbuf));
  iovec iov{&r, sizeof(r)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof(cbuf);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &ns, sizeof(int));
  if (::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) fail(kSend, 0);
  ::_exit(0);
}

std::string StepText(const Report& r, const std::vector<std::string>& opts,
                     const std::vector<std::string>& points) {
  switch (r.step) {
    case kUnshare:
      return "make node filesystem view: unshare mount namespace (need CAP_SYS_ADMIN: run as root "
             "or with sudo)";
    case kSlave:
      return "make node filesystem view: make / a slave mount";
    case kOpenPoint:
      return StrCat("make node filesystem view: open ", points.at(r.index));
    case kOverlay:
      return StrCat("make node filesystem view: mount overlay on ", kNodeOverlayDirs[r.index], " (",
                    opts.at(r.index), ")");
    case kBind:
      return StrCat("make node filesystem view: bind ", points.at(r.index),
                    " back over the overlay");
    case kOpenNs:
      return "make node filesystem view: open /proc/self/ns/mnt";
    default:
      return "make node filesystem view: send the namespace back";
  }
}

}  // namespace

std::string NodeUpperDir(std::string_view state_dir, std::string_view dir) {
  return StrCat(state_dir, "/fs", dir, "/upper");
}

absl::StatusOr<Fd> MakeNodeMountNs(const std::string& state_dir) {
  if (state_dir.empty() || state_dir[0] != '/') {
    return absl::InvalidArgumentError(StrCat("make node filesystem view: state dir \"", state_dir,
                                             "\" must be an absolute path"));
  }
  if (state_dir.find_first_of(",:\\") != std::string::npos) {
    return absl::InvalidArgumentError(
        StrCat("make node filesystem view: state dir \"", state_dir,
               "\" must not contain ',' ':' or '\\' (overlayfs options)"));
  }
  for (std::string_view d : {std::string_view("/etc"), std::string_view("/var/lib")}) {
    if (AtOrUnder(state_dir, d)) {
      return absl::InvalidArgumentError(StrCat("make node filesystem view: state dir ", state_dir,
                                               " is under ", d, ", which the node view overlays"));
    }
  }
  absl::StatusOr<std::vector<MountEntry>> mounts = ReadMounts();
  if (!mounts.ok()) return mounts.status();
  // The last entry for a mount point is the one on top.
  const MountEntry* netns = nullptr;
  for (const MountEntry& m : *mounts) {
    if (m.point == "/run/netns") netns = &m;
  }
  if (netns == nullptr || !netns->shared) {
    return absl::FailedPreconditionError(
        "make node filesystem view: /run/netns is not a shared mount, so pod namespaces made later "
        "would not "
        "appear in the node's view (call PrepareNetnsDir first)");
  }

  // Everything the child uses is built before fork.
  std::vector<std::string> opts_s;
  for (std::string_view d : kNodeOverlayDirs) {
    std::string base = StrCat(state_dir, "/fs", d);
    for (const char* sub : {"/upper", "/work"}) {
      std::error_code ec;
      std::filesystem::create_directories(base + sub, ec);
      if (ec)
        return KernelError(ec.value(), StrCat("make node filesystem view: create ", base, sub));
    }
    opts_s.push_back(StrCat("lowerdir=", d, ",upperdir=", base, "/upper,workdir=", base, "/work"));
  }
  std::vector<std::string> points_s = RebindPoints(*mounts);
  std::vector<const char*> opts, points;
  for (const std::string& s : opts_s) opts.push_back(s.c_str());
  for (const std::string& s : points_s) points.push_back(s.c_str());
  std::vector<int> point_fds(points.size(), -1);

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    return KernelError(errno, "make node filesystem view: socketpair");
  }
  Fd mine(sv[0]), theirs(sv[1]);
  pid_t pid = ::fork();
  if (pid < 0) return KernelError(errno, "make node filesystem view: fork");
  if (pid == 0) ChildMakeNs(theirs.get(), opts, points, point_fds);
  theirs.Reset();

  Report r;
  char cbuf[CMSG_SPACE(sizeof(int))];
  iovec iov{&r, sizeof(r)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof(cbuf);
  ssize_t n;
  do {
    n = ::recvmsg(mine.get(), &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  int recv_errno = errno;
  Fd ns;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n > 0 && c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
      ns.Reset(fd);
    }
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (n < 0) return KernelError(recv_errno, "make node filesystem view: receive the namespace");
  if (n != static_cast<ssize_t>(sizeof(r))) {
    return absl::InternalError(StrCat(
        "make node filesystem view: the child ended without an answer (status ", wstatus, ")"));
  }
  if (r.step != kOk) return KernelError(r.err, StepText(r, opts_s, points_s));
  if (!ns.valid())
    return absl::InternalError("make node filesystem view: no namespace fd received");
  return ns;
}

}  // namespace mkn::vnet
