#include "vnet/kernel/holders.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {
namespace {

NetnsId IdOf(const struct stat& st) {
  return NetnsId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

// The whole of a small /proc file, read relative to the process's directory fd (so that a pid
// recycled mid-scan cannot mix two processes' files); "" when it cannot be read.
std::string ReadAt(int dir_fd, const char* name) {
  Fd fd(::openat(dir_fd, name, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return "";
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > 64 * 1024) break;  // /proc/<pid>/status is ~1.5 KiB: this is plenty
  }
  return out;
}

// Field `want` (numbered as proc(5) does: 3 is the state) of /proc/<pid>/stat as a number, 0 if
// absent. The comm in parentheses may hold anything, spaces and ')' included: the fields start
// after the last ')'.
uint64_t StatField(const std::string& text, int want) {
  size_t paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return 0;
  const char* s = text.c_str() + paren + 2;
  for (int field = 3; field < want && *s != '\0'; ++field) {
    s = std::strchr(s, ' ');
    if (s == nullptr) return 0;
    ++s;
  }
  return std::strtoull(s, nullptr, 10);
}

void ParseStat(const std::string& text, NetnsProcess& p) {
  size_t paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return;
  const char state = text[paren + 2];
  p.dying = p.dying || state == 'Z' || state == 'X';
  p.session = static_cast<pid_t>(StatField(text, 6));
  p.start_time = StatField(text, 22);
}

// A SIGKILL pending for the thread or for the whole process (SigPnd, ShdPnd: hex masks, bit 8 is
// signal 9).
bool KillPending(const std::string& status) {
  for (const char* key : {"\nSigPnd:", "\nShdPnd:"}) {
    size_t at = status.find(key);
    if (at == std::string::npos) continue;
    uint64_t mask = std::strtoull(status.c_str() + at + std::strlen(key), nullptr, 16);
    if ((mask & (uint64_t{1} << (SIGKILL - 1))) != 0) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<NetnsId> NetnsIdOfName(std::string_view name) {
  const std::string path = StrCat(net::kNetnsDir, "/", name);
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) return KernelError(errno, StrCat("stat ", path));
  return IdOf(st);
}

absl::StatusOr<NetnsId> NetnsIdOfFd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) return KernelError(errno, StrCat("stat netns fd ", fd));
  return IdOf(st);
}

pid_t ParentPid(pid_t pid) {
  if (pid <= 0) return 0;
  Fd dir(::open(StrCat("/proc/", pid).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return 0;
  return static_cast<pid_t>(StatField(ReadAt(dir.get(), "stat"), 4));
}

absl::StatusOr<std::vector<NetnsProcess>> ProcessesInNetns(const std::vector<NetnsId>& ids) {
  std::vector<NetnsProcess> out;
  if (ids.empty()) return out;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return absl::UnavailableError(
        StrCat("list /proc (to find processes in a namespace): ", std::strerror(errno)));
  }
  const pid_t self = ::getpid();
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0' || pid == self) continue;
    Fd dir(::openat(::dirfd(proc), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid()) continue;  // gone meanwhile
    struct stat st {};
    // stat() follows the ns/net magic link to the namespace's nsfs inode; it fails for a zombie
    // (no namespaces left) and for a process we may not look at: neither is a holder we can name.
    if (::fstatat(dir.get(), "ns/net", &st, 0) < 0) continue;
    const NetnsId id = IdOf(st);
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) continue;
    NetnsProcess p;
    p.pid = static_cast<pid_t>(pid);
    p.netns = id;
    p.comm = ReadAt(dir.get(), "comm");
    while (!p.comm.empty() && p.comm.back() == '\n') p.comm.pop_back();
    ParseStat(ReadAt(dir.get(), "stat"), p);
    p.dying = p.dying || KillPending(ReadAt(dir.get(), "status"));
    out.push_back(std::move(p));
  }
  ::closedir(proc);
  std::sort(out.begin(), out.end(),
            [](const NetnsProcess& a, const NetnsProcess& b) { return a.pid < b.pid; });
  return out;
}

}  // namespace mkn::vnet
