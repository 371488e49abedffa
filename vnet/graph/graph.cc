#include "vnet/graph/graph.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "lib/control/protocol.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/control.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/fd.h"

extern char** environ;

namespace mkn::vnet {
namespace {

// Reads fd to its end.
std::string ReadAll(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

graph::LiveState LiveStateOf(const ClusterState& s) {
  graph::LiveState live;
  for (const PodState& p : s.pods) live.pods.push_back({p.name, p.node, p.ip});
  absl::StatusOr<control::ServicesAnswer> a = Call(s.cluster, control::EndpointsRequest{});
  if (a.ok()) {
    for (const control::ServiceInfo& svc : a->services) {
      std::vector<std::string>& eps = live.endpoints[svc.name];
      for (const control::EndpointInfo& e : svc.endpoints) eps.push_back(e.pod);
    }
  }
  return live;
}

absl::StatusOr<std::string> RenderSvg(const std::string& dot_text) {
  // The DOT goes through a file, dot's answer through a pipe: no pipe both ways to deadlock on.
  std::string in_path = (std::filesystem::temp_directory_path() / "mkn-graph-XXXXXX").string();
  Fd in(::mkostemp(in_path.data(), O_CLOEXEC));
  if (in.get() < 0) return KernelError(errno, "create a temporary file for dot");
  struct Unlink {
    std::string path;
    ~Unlink() { ::unlink(path.c_str()); }
  } unlink_in{in_path};
  for (size_t off = 0; off < dot_text.size();) {
    const ssize_t n = ::write(in.get(), dot_text.data() + off, dot_text.size() - off);
    if (n < 0) return KernelError(errno, StrCat("write ", in_path));
    off += static_cast<size_t>(n);
  }
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) < 0) return KernelError(errno, "make a pipe for dot");
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) < 0) return KernelError(errno, "make a pipe for dot");
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), STDERR_FILENO);
  // dot gets its three standard streams and nothing else: the process calling this may be a
  // cluster's owner serving the dashboard, whose sockets (Asio's, opened without CLOEXEC), control
  // socket and pumps must not live on in a child it does not control.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  std::string arg0 = "dot", arg1 = "-Tsvg";
  char* argv[] = {arg0.data(), arg1.data(), in_path.data(), nullptr};
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, "dot", &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc == ENOENT) {
    return absl::NotFoundError(
        "graph -o svg: the dot program is not installed (Debian: apt-get install graphviz), or "
        "use -o dot and render it elsewhere");
  }
  if (rc != 0) return KernelError(rc, "run dot");
  out_w = Fd();
  err_w = Fd();
  // dot's stderr is small (a message); read stdout first, then stderr.
  std::string svg = ReadAll(out_r.get());
  std::string err = ReadAll(err_r.get());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!err.empty() && err.back() == '\n') err.pop_back();
    return absl::InternalError(StrCat("dot -Tsvg refused the graph: ", err));
  }
  return svg;
}

}  // namespace mkn::vnet
