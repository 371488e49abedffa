// bench/cni/direct — the reference runtime of bench/cni: a CNI plugin run the cheapest way a
// program can run it, to measure the plugin's own time and, by difference, what minikube-net's
// runtime (vnet/cni) adds to each call.
//
//   direct PLUGIN JOBS STATEDIR [--sequential] [--overlay]
//
// JOBS has one line per pod, "<node netns> <container id> <pod netns> <conf file>", a node's pods
// in the order they run. Like minikube-net, the nodes run in parallel (one process per node; with
// --sequential one after another) and a node's pods one after another. Each node's process enters
// the node's netns (setns: a single-threaded child of ours, the plugin's parent) and a private
// mount namespace with a tmpfs on /var/lib, so host-local's allocations are per node as in
// minikube-net's node view and never reach the host. Every pod gets ADD, then, once every node has
// finished its ADDs, DEL: the conf file on stdin, CNI_* in the environment (the CNI_ARGS a runtime
// passes), nothing else; each call is posix_spawn + read stdout + waitpid, timed from before the
// spawn to the reap (the same span as vnet/cni/exec's ExecResult.elapsed).
//
// Prints "phase ADD|DEL <wall µs>" (first spawn of the phase to the last node done) and, per call,
// "call <node> <container> ADD|DEL <µs>" on stdout. Each plugin gets its own session (setsid), as
// minikube-net's do: the same CPU scheduling (sched_autogroup) as theirs. A failed call (spawn
// error, non-zero exit) is printed with the plugin's output on stderr, and the exit status is 1.
// Needs root; run it only in ci/sandbox.sh (bench/cni/cni.sh does).
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Job {
  std::string container, pod_netns, conf;
};

int64_t NowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

[[noreturn]] void Die(const std::string& what) {
  fprintf(stderr, "direct: %s: %s\n", what.c_str(), strerror(errno));
  _exit(1);
}

// One call: stdin from the conf file, stdout to a pipe (read to EOF), stderr to the same pipe.
// Returns the exit status and the µs from before posix_spawn to after waitpid.
int RunOnce(const std::string& plugin, const std::string& command, const Job& j, int64_t* us,
            std::string* output) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) Die("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, j.conf.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  std::vector<std::string> env = {
      "CNI_COMMAND=" + command,
      "CNI_CONTAINERID=" + j.container,
      "CNI_NETNS=/run/netns/" + j.pod_netns,
      "CNI_IFNAME=eth0",
      "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=" + j.container +
          ";K8S_POD_INFRA_CONTAINER_ID=" + j.container,
      "CNI_PATH=" + plugin.substr(0, plugin.rfind('/')),
      "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
  };
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string arg0 = plugin;
  char* argv[] = {arg0.data(), nullptr};
  // Its own session, as vnet/cni/exec gives every plugin: with sched_autogroup (on in Debian's
  // kernels) each session is a scheduling group of its own, so without this the plugins of all
  // nodes would share one group's CPU time against the rest of the machine, minikube-net's not.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  const int64_t t0 = NowUs();
  pid_t pid;
  int rc = posix_spawn(&pid, plugin.c_str(), &fa, &attr, argv, envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    errno = rc;
    Die("spawn " + plugin);
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) output->append(buf, n);
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  *us = NowUs() - t0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A node's process: enter its namespaces, run `command` for each of its pods, print the calls.
bool RunNode(const std::string& plugin, const std::string& command, const std::string& node,
             const std::vector<Job>& jobs, std::string* lines) {
  bool ok = true;
  for (const Job& j : jobs) {
    int64_t us = 0;
    std::string output;
    int code = RunOnce(plugin, command, j, &us, &output);
    if (code != 0) {
      fprintf(stderr, "direct: %s %s on %s: exit %d: %s\n", command.c_str(), j.container.c_str(),
              node.c_str(), code, output.c_str());
      ok = false;
    }
    *lines += "call " + node + " " + j.container + " " + command + " " + std::to_string(us) + "\n";
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: direct PLUGIN JOBS STATEDIR [--sequential] [--overlay]\n");
    return 2;
  }
  const std::string plugin = argv[1];
  bool sequential = false, overlay = false;
  for (int a = 4; a < argc; ++a) {
    std::string f = argv[a];
    if (f == "--sequential") {
      sequential = true;
    } else if (f == "--overlay") {
      overlay = true;
    } else {
      fprintf(stderr, "direct: unknown flag %s\n", f.c_str());
      return 2;
    }
  }
  const std::string state_dir = argv[3];
  std::map<std::string, std::vector<Job>> nodes;
  std::vector<std::string> order;
  {
    std::ifstream in(argv[2]);
    if (!in) Die(std::string("read ") + argv[2]);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string node;
      Job j;
      if (!(ls >> node >> j.container >> j.pod_netns >> j.conf)) continue;
      if (!nodes.count(node)) order.push_back(node);
      nodes[node].push_back(j);
    }
  }
  // One process per node, for both phases; the parent is the barrier between ADD and DEL.
  struct Child {
    pid_t pid;
    int done_r, go_w;  // child -> parent: "ADD done" (and its lines); parent -> child: "start DEL"
  };
  std::vector<Child> children;
  std::vector<std::string> add_lines(order.size());
  int64_t add_start = NowUs(), add_end = 0;
  bool ok = true;
  auto read_all = [](int fd) {
    std::string s;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) s.append(buf, n);
    }
    return s;
  };
  // Each child writes its ADD lines, closes `done`, waits on `go`, writes its DEL lines to `out`.
  std::vector<int> del_out(order.size(), -1);
  for (size_t i = 0; i < order.size(); ++i) {
    int done[2], go[2], out[2];
    if (pipe2(done, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
      Die("pipe");
    pid_t pid = fork();
    if (pid < 0) Die("fork");
    if (pid == 0) {
      close(done[0]);
      close(go[1]);
      close(out[0]);
      const std::string& node = order[i];
      int ns = open(("/run/netns/" + node).c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) Die("enter netns " + node);
      if (unshare(CLONE_NEWNS) != 0 ||
          mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
        Die("private mount namespace for " + node);
      }
      if (!overlay) {
        if (mount("direct-varlib", "/var/lib", "tmpfs", 0, "mode=755") != 0)
          Die("tmpfs /var/lib for " + node);
      } else {
        // As vnet/cni/nodefs makes a node's /var/lib: overlayfs, lower the real one, upper on a
        // tmpfs.
        std::string base = state_dir + "/ov-" + node;
        mkdir(base.c_str(), 0755);
        if (mount("direct-ov", base.c_str(), "tmpfs", 0, "mode=755") != 0) Die("tmpfs " + base);
        mkdir((base + "/upper").c_str(), 0755);
        mkdir((base + "/work").c_str(), 0755);
        std::string opts =
            "lowerdir=/var/lib,upperdir=" + base + "/upper,workdir=" + base + "/work";
        if (mount("direct-ov", "/var/lib", "overlay", 0, opts.c_str()) != 0)
          Die("overlay /var/lib for " + node);
      }
      std::string lines;
      bool good = RunNode(plugin, "ADD", node, nodes[node], &lines);
      if (write(done[1], lines.data(), lines.size()) < 0) Die("write");
      close(done[1]);
      char c;
      if (read(go[0], &c, 1) != 1) _exit(1);
      lines.clear();
      good = RunNode(plugin, "DEL", node, nodes[node], &lines) && good;
      if (write(out[1], lines.data(), lines.size()) < 0) Die("write");
      _exit(good ? 0 : 1);
    }
    close(done[1]);
    close(go[0]);
    close(out[1]);
    children.push_back({pid, done[0], go[1]});
    del_out[i] = out[0];
    if (sequential) add_lines[i] = read_all(done[0]);  // wait for this node before the next
  }
  for (size_t i = 0; i < children.size(); ++i) {
    if (!sequential) add_lines[i] = read_all(children[i].done_r);
  }
  add_end = NowUs();
  // DEL: all nodes at once, or (--sequential) one after another.
  std::vector<std::string> del_lines(order.size());
  const int64_t del_start = NowUs();
  for (size_t i = 0; i < children.size(); ++i) {
    if (write(children[i].go_w, "g", 1) != 1) Die("write");
    if (sequential) del_lines[i] = read_all(del_out[i]);
  }
  for (size_t i = 0; i < children.size(); ++i) {
    if (!sequential) del_lines[i] = read_all(del_out[i]);
    int status = 0;
    while (waitpid(children[i].pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ok = false;
  }
  const int64_t del_end = NowUs();
  printf("phase ADD %lld\nphase DEL %lld\n", static_cast<long long>(add_end - add_start),
         static_cast<long long>(del_end - del_start));
  for (const std::string& s : add_lines) fputs(s.c_str(), stdout);
  for (const std::string& s : del_lines) fputs(s.c_str(), stdout);
  return ok ? 0 : 1;
}
