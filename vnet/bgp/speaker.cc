#include "vnet/bgp/speaker.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {
namespace {

using Clock = std::chrono::steady_clock;

std::string DirOf(const std::string& path) { return path.substr(0, path.rfind('/')); }

// Makes `dir` 0700 if it is not there (its parent, the cluster's state directory, exists).
absl::Status MakePrivateDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST)
    return KernelError(errno, StrCat("mkdir ", dir));
  return absl::OkStatus();
}

absl::Status WritePrivateFile(const std::string& path, const std::string& text) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return KernelError(errno, StrCat("create ", path));
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return KernelError(errno, StrCat("write ", path));
    off += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Reads from `fd` until a whole reply is in, or the deadline.
absl::StatusOr<std::string> ReadReply(int fd, Clock::time_point deadline, const std::string& what) {
  std::string text;
  char buf[4096];
  while (!bgp::ReplyComplete(text)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return absl::DeadlineExceededError(StrCat(what, ": no answer in time"));
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return KernelError(errno, StrCat("poll ", what));
    if (r == 0) continue;
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return KernelError(errno, StrCat("read ", what));
    if (n == 0) return absl::UnavailableError(StrCat(what, ": the daemon closed the connection"));
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

// bird's absolute path: Debian installs it in /usr/sbin, which a user's PATH may lack (sudo keeps
// its own secure_path, a plain shell of a non-root user has none).
std::string BirdBinary() {
  std::vector<std::string> dirs = {"/usr/local/sbin", "/usr/sbin", "/sbin"};
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    for (std::string d; std::getline(ss, d, ':');) {
      if (!d.empty()) dirs.push_back(d);
    }
  }
  for (const std::string& d : dirs) {
    std::string bin = StrCat(d, "/bird");
    if (::access(bin.c_str(), X_OK) == 0) return bin;
  }
  return "bird";  // Spawn then says it is not found
}

}  // namespace

absl::StatusOr<ChildProcess> StartSpeaker(const plan::StartBgpSpeaker& s, int netns_fd) {
  const std::string what = StrCat("bgp speaker ", s.object);
  for (const std::string& dir : {DirOf(s.config_path), DirOf(s.log_path)}) {
    if (absl::Status st = MakePrivateDir(dir); !st.ok())
      return absl::Status(st.code(), StrCat(what, ": ", st.message()));
  }
  if (absl::Status st = WritePrivateFile(s.config_path, s.config); !st.ok())
    return absl::Status(st.code(), StrCat(what, ": ", st.message()));
  // A socket file a killed run left would make BIRD's bind() fail.
  if (::unlink(s.socket_path.c_str()) < 0 && errno != ENOENT)
    return KernelError(errno, StrCat(what, ": remove ", s.socket_path));
  absl::StatusOr<ChildProcess> p = Spawn(
      netns_fd, {BirdBinary(), "-f", "-c", s.config_path, "-s", s.socket_path}, {}, s.log_path);
  if (absl::IsNotFound(p.status())) {
    return absl::NotFoundError(StrCat(what, ": ", p.status().message(),
                                      " (network = \"bgp\" runs BIRD 2: apt-get install bird2)"));
  }
  if (!p.ok()) return absl::Status(p.status().code(), StrCat(what, ": ", p.status().message()));
  return p;
}

absl::StatusOr<bgp::Reply> AskBird(const std::string& socket, std::string_view command,
                                   std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::string what = StrCat("ask bird at ", socket);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (socket.size() >= sizeof(sa.sun_path))
    return absl::InvalidArgumentError(StrCat(what, ": the path is too long for a socket"));
  std::memcpy(sa.sun_path, socket.c_str(), socket.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return KernelError(errno, StrCat(what, ": socket"));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) {
    // No file, or nobody listening on it: the daemon is not (or no longer) there.
    if (errno == ENOENT || errno == ECONNREFUSED)
      return absl::UnavailableError(StrCat(what, ": ", std::strerror(errno), " (not running)"));
    return KernelError(errno, StrCat(what, ": connect"));
  }
  MKN_ASSIGN_OR_RETURN(std::string greeting, ReadReply(fd.get(), deadline, what));
  (void)greeting;  // "0001 BIRD 2.0.12 ready."
  std::string line = StrCat(command, "\n");
  if (::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    return KernelError(errno, StrCat(what, ": send"));
  MKN_ASSIGN_OR_RETURN(std::string text, ReadReply(fd.get(), deadline, what));
  absl::StatusOr<bgp::Reply> r = bgp::ParseReply(text);
  if (absl::IsInvalidArgument(r.status()))
    return absl::InternalError(StrCat(what, ": ", r.status().message()));
  return r;
}

void PokeBird(const std::string& socket, std::chrono::milliseconds timeout) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (socket.size() >= sizeof(sa.sun_path)) return;
  std::memcpy(sa.sun_path, socket.c_str(), socket.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid() || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) return;
  // The greeting: the daemon has run its loop (and what was queued in it) by the time it writes.
  (void)ReadReply(fd.get(), Clock::now() + timeout, socket);
}

std::string LogTail(const std::string& path, int lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string l; std::getline(in, l);) all.push_back(l);
  std::string out;
  for (size_t i = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0; i < all.size();
       ++i) {
    StrAppend(&out, out.empty() ? "" : "\n", all[i]);
  }
  return out;
}

absl::Status WaitAnswering(const plan::StartBgpSpeaker& s, const ChildProcess& p,
                           std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    absl::StatusOr<bgp::Reply> r = AskBird(s.socket_path, "show status", timeout);
    if (r.ok()) return absl::OkStatus();
    if (!IsAlive(p)) {
      return absl::FailedPreconditionError(
          StrCat("bgp speaker ", s.object, " exited (", s.log_path, "): ", LogTail(s.log_path, 5)));
    }
    if (Clock::now() >= deadline) {
      return absl::DeadlineExceededError(StrCat("bgp speaker ", s.object, " did not answer on ",
                                                s.socket_path, " within ", timeout.count(),
                                                " ms: ", r.status().message()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bgp::SpeakerStatus QuerySpeaker(const SpeakerRef& ref, bool with_routes) {
  bgp::SpeakerStatus out;
  out.speaker = ref.object;
  out.role = ref.role;
  out.netns = ref.netns;
  out.asn = ref.asn;
  out.socket = ref.socket;
  out.with_routes = with_routes;
  absl::StatusOr<bgp::Reply> protocols = AskBird(ref.socket, "show protocols all");
  if (!protocols.ok()) {
    out.error = std::string(protocols.status().message());
    return out;
  }
  const std::time_t now = std::time(nullptr);
  for (bgp::Session& s : bgp::ParseProtocols(*protocols)) {
    bgp::SessionStatus ss{std::move(s), -1};
    if (std::optional<bgp::CivilTime> t = bgp::ParseSince(ss.session.since)) {
      std::tm tm{};
      tm.tm_year = t->year - 1900;
      tm.tm_mon = t->month - 1;
      tm.tm_mday = t->day;
      tm.tm_hour = t->hour;
      tm.tm_min = t->minute;
      tm.tm_sec = t->second;
      tm.tm_isdst = -1;  // BIRD printed local time: let mktime decide about summer time
      const std::time_t since = std::mktime(&tm);
      if (since != -1 && now >= since) ss.uptime_s = now - since;
    }
    out.sessions.push_back(std::move(ss));
  }
  if (with_routes) {
    absl::StatusOr<bgp::Reply> routes = AskBird(ref.socket, "show route all");
    if (routes.ok()) {
      out.routes = bgp::ParseRoutes(*routes);
    } else {
      out.error = std::string(routes.status().message());
    }
  }
  return out;
}

}  // namespace mkn::vnet
