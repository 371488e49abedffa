#include "vnet/cluster/state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "lib/bgp/bird_config.h"
#include "lib/net/naming.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/file.h"

namespace mkn::vnet {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::string_view kRootOnly =
    "a cluster's state is root's alone: run as root or with sudo";

// mkdir `path` with `mode`, or make an existing directory `mode` again. Not through a symlink.
absl::Status MakeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST)
    return KernelError(errno, StrCat("create ", path), kRootOnly);
  struct stat st {};
  if (::lstat(path.c_str(), &st) < 0) return KernelError(errno, StrCat("create ", path));
  if (!S_ISDIR(st.st_mode))
    return absl::FailedPreconditionError(
        StrCat(path, " is not a directory: move it away (minikube-net keeps its state there)"));
  // mkdir's mode went through the umask; an existing directory may be an older version's 0755.
  if ((st.st_mode & 07777) != mode && ::chmod(path.c_str(), mode) < 0)
    return KernelError(errno, StrCat("chmod ", path), kRootOnly);
  return absl::OkStatus();
}

// Writes all of `data` to `fd` at `offset`; KernelError naming `path` (ENOSPC: Unavailable).
absl::Status WriteAllAt(int fd, std::string_view data, off_t offset, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return KernelError(errno, StrCat("write ", path));
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += n;
  }
  return absl::OkStatus();
}

// Removes `path` (a directory's entries first). The first path that could not be removed is named.
absl::Status RemoveTree(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return KernelError(errno, StrCat("remove ", path.string()));
  }
  if (S_ISDIR(st.st_mode)) {
    std::error_code ec;
    std::vector<fs::path> entries;
    for (auto it = fs::directory_iterator(path, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      entries.push_back(it->path());
    }
    if (ec) return KernelError(ec.value(), StrCat("list ", path.string()));
    for (const fs::path& e : entries) MKN_RETURN_IF_ERROR(RemoveTree(e));
    if (::rmdir(path.c_str()) < 0 && errno != ENOENT)
      return KernelError(errno, StrCat("remove ", path.string()));
    return absl::OkStatus();
  }
  if (::unlink(path.c_str()) < 0 && errno != ENOENT)
    return KernelError(errno, StrCat("remove ", path.string()));
  return absl::OkStatus();
}

}  // namespace

ClusterNetns NetnsOf(const ClusterState& s) {
  ClusterNetns ns{s.underlay, {}, {}, {}, s.world ? s.world->netns : std::string()};
  for (const RouterState& r : s.routers) ns.routers.push_back(r.netns);
  for (const NodeState& n : s.nodes) ns.nodes.push_back(n.netns);
  for (const PodState& p : s.pods) ns.pods.push_back(p.netns);
  // `verify`'s test pods, as the suite recorded them (RecordVerifyPod): after a killed run they are
  // removed with the rest (Teardown still removes only those carrying the marker). A name that is
  // not one of this cluster's test pods is ignored: the file is ours, but it is only a list.
  const std::string vfy = net::NetnsName(s.cluster, net::kVerifyPodPrefix);
  std::set<std::string> seen(ns.pods.begin(), ns.pods.end());
  absl::StatusOr<std::string> list =
      ReadUserFile(StrCat(StateDirOf(s.cluster), "/", kVerifyPodsFile), kMaxStateFileBytes,
                   "the verify test pod list");
  if (list.ok()) {
    for (absl::string_view line : absl::StrSplit(*list, '\n', absl::SkipEmpty())) {
      std::string name(line);
      if (name.rfind(vfy, 0) == 0 && seen.insert(name).second) ns.pods.push_back(name);
    }
  }
  return ns;
}

std::vector<ChildProcess> ProcessesOf(const ClusterState& s) {
  std::vector<ChildProcess> out;
  for (const SpeakerState& sp : s.speakers) {
    if (sp.process.pid > 0) out.push_back(ChildOf(sp.process));
  }
  for (const PodState& p : s.pods) {
    for (const ContainerState& c : p.containers) {
      if (c.process.pid > 0) out.push_back(ChildOf(c.process));
    }
  }
  return out;
}

ClusterState StateFromSpec(const config::ClusterSpec& spec, const std::string& lab_path) {
  ClusterState s;
  s.cluster = spec.name;
  s.lab = lab_path;
  s.phase = "starting";
  s.network = std::string(config::ToString(spec.network));
  // A CNI lab: "cni" and who routes between nodes ("cni/host-gw", "cni/vxlan", "cni/plugin").
  if (spec.cni_mode) s.network = StrCat("cni/", config::ToString(spec.cni.node_routes));
  s.marker = spec.marker;
  s.underlay = spec.routed_underlay ? "" : net::NetnsName(spec.name, net::kUnderlayObject);
  if (spec.routed_underlay) {
    for (const config::RackSpec& r : spec.racks) s.routers.push_back({r.tor, r.netns});
    if (!spec.spine_netns.empty())
      s.routers.push_back({std::string(net::kSpineObject), spec.spine_netns});
  }
  if (spec.world.enabled) {
    control::WorldState w;
    w.netns = spec.world.netns;
    w.cidr = spec.world.cidr.ToString();
    w.gateway = spec.world.gateway.ToString();
    w.attach = !spec.routed_underlay       ? std::string(net::kUnderlayObject)
               : !spec.spine_netns.empty() ? std::string(net::kSpineObject)
                                           : spec.racks[0].tor;
    w.masquerade = spec.world.masquerade;
    for (const config::WorldHost& h : spec.world.hosts)
      w.hosts.push_back({h.name, h.addr.ToString()});
    s.world = std::move(w);
  }
  for (const bgp::Speaker& sp : bgp::Speakers(spec)) {
    s.speakers.push_back({sp.object,
                          std::string(bgp::ToString(sp.role)),
                          sp.netns,
                          net::BirdSocketPath(spec.name, sp.object),
                          sp.asn,
                          {}});
  }
  for (const config::NodeSpec& n : spec.nodes) {
    s.nodes.push_back({n.name, n.netns, n.underlay_ip.ToString(), n.pod_cidr.ToString(),
                       n.gateway.ToString(), spec.racks[n.rack].name});
  }
  for (const config::PodSpec& p : spec.pods) {
    // A CNI lab's pod has no address until its chain's ADD gave one.
    std::string ip = spec.cni_mode && p.ip == net::Ipv4{} ? std::string() : p.ip.ToString();
    PodState ps{p.name, spec.nodes[p.node].name, ip, p.netns, p.deployment, {}, {}};
    for (const config::ContainerSpec& c : p.containers) {
      ContainerState cs{c.name, std::string(config::ToString(c.app)), c.command, {}, {}};
      for (const config::ContainerPort& port : c.ports) {
        cs.ports.push_back(StrCat(config::ToString(port.protocol), "/", port.port));
      }
      ps.containers.push_back(std::move(cs));
    }
    s.pods.push_back(std::move(ps));
  }
  return s;
}

std::string StateDirOf(const std::string& cluster) { return net::StateDir(cluster); }

absl::Status MakeStateDir(const std::string& cluster) {
  MKN_RETURN_IF_ERROR(MakeDir(std::string(net::kRunDir), 0755));
  return MakeDir(StateDirOf(cluster), 0700);
}

absl::StatusOr<std::string> MakeStateSubdir(const std::string& cluster, const std::string& sub) {
  std::string dir = StrCat(StateDirOf(cluster), "/", sub);
  MKN_RETURN_IF_ERROR(MakeDir(dir, 0700));
  return dir;
}

absl::Status CreatePrivateFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return KernelError(errno, StrCat("create ", path), kRootOnly);
  if (::fchmod(fd.get(), 0600) < 0) return KernelError(errno, StrCat("chmod ", path));
  return absl::OkStatus();
}

absl::Status RecordVerifyPod(const std::string& cluster, const std::string& netns) {
  const std::string path = StrCat(StateDirOf(cluster), "/", kVerifyPodsFile);
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return KernelError(errno, StrCat("create ", path), kRootOnly);
  // O_APPEND: one write of a whole line lands whole at the end, whichever check's thread wrote.
  const std::string line = StrCat(netns, "\n");
  ssize_t n;
  do {
    n = ::write(fd.get(), line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return KernelError(errno, StrCat("write ", path));
  if (static_cast<size_t>(n) != line.size())
    return absl::UnavailableError(StrCat("write ", path, ": short write"));
  return absl::OkStatus();
}

absl::Status WriteState(const ClusterState& s) {
  MKN_RETURN_IF_ERROR(MakeStateDir(s.cluster));
  const std::string dir = StateDirOf(s.cluster);
  const std::string tmp = dir + "/state.json.tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return KernelError(errno, StrCat("create ", tmp), kRootOnly);
  // A file an older version made 0644 keeps its mode through O_TRUNC.
  if (::fchmod(fd.get(), 0600) < 0) return KernelError(errno, StrCat("chmod ", tmp));
  absl::Status written = WriteAllAt(fd.get(), control::StateToJson(s), 0, tmp);
  if (written.ok() && ::close(fd.Release()) < 0)
    written = KernelError(errno, StrCat("close ", tmp));
  if (!written.ok()) {
    ::unlink(tmp.c_str());  // a half-written temp file is no state: the last good state.json stays
    return written;
  }
  if (::rename(tmp.c_str(), (dir + "/state.json").c_str()) < 0) {
    absl::Status st = KernelError(errno, StrCat("rename ", tmp));
    ::unlink(tmp.c_str());
    return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<ClusterState> ReadState(const std::string& cluster) {
  const std::string path = StateDirOf(cluster) + "/state.json";
  absl::StatusOr<std::string> text = ReadUserFile(path, kMaxStateFileBytes, "a state file");
  if (absl::IsNotFound(text.status()))
    return absl::NotFoundError(StrCat("no cluster named ", cluster, " (no ", path, ")"));
  if (absl::IsPermissionDenied(text.status()))
    return absl::PermissionDeniedError(StrCat(text.status().message(), ": ", kRootOnly));
  if (!text.ok()) return text.status();
  absl::StatusOr<ClusterState> s = control::StateFromJson(*text);
  if (!s.ok()) return absl::DataLossError(StrCat(path, ": ", s.status().message()));
  return s;
}

std::vector<std::string> ListClusters() {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(std::string(net::kRunDir), ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code e2;
    if (!it->is_directory(e2)) continue;
    // Another user cannot look inside (0700): the cluster is listed, and reading its state says
    // why it cannot be shown.
    struct stat st {};
    const std::string state = (it->path() / "state.json").string();
    if (::stat(state.c_str(), &st) == 0 || errno == EACCES)
      out.push_back(it->path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> ListStateDirs() {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(std::string(net::kRunDir), ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code e2;
    std::string name = it->path().filename().string();
    if (it->is_directory(e2) && net::IsDnsLabel(name, net::kMaxClusterName)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<control::PodRow> PodRows(const ClusterState& s) {
  std::vector<control::PodRow> rows;
  for (const PodState& p : s.pods) {
    control::PodRow r{p.name, p.node, p.ip, p.netns, p.error, {}};
    for (const ContainerState& c : p.containers)
      r.containers.push_back({c.name, c.app, c.ports.empty() ? "" : c.ports[0]});
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<control::NodeRow> NodeRows(const ClusterState& s) {
  std::vector<control::NodeRow> rows;
  for (const NodeState& n : s.nodes) {
    int pods = 0;
    for (const PodState& p : s.pods) pods += p.node == n.name;
    rows.push_back({n.name, n.underlay_ip, n.pod_cidr, n.netns, pods});
  }
  return rows;
}

std::vector<control::ClusterRow> ClusterRows(const std::vector<std::string>& names) {
  std::vector<control::ClusterRow> rows;
  for (const std::string& n : names) {
    absl::StatusOr<ClusterState> s = ReadState(n);
    if (absl::IsPermissionDenied(s.status())) {
      control::ClusterRow row;
      row.name = n;
      row.unreadable = true;
      rows.push_back(std::move(row));
      continue;
    }
    if (!s.ok()) continue;
    control::ClusterRow row{n,
                            IsAlive(s->owner),
                            s->phase,
                            s->network,
                            s->lab,
                            static_cast<int>(s->nodes.size()),
                            static_cast<int>(s->pods.size()),
                            s->owner.pid};
    // A ready lab whose BGP speaker is gone (its owner reaped it and recorded pid 0, or has not
    // yet and its pid no longer runs) is not ready: that node's pods are unreachable. A stopped
    // one (kill -STOP, the README's demo) still runs and is not counted here.
    if (row.alive && s->phase == "ready") {
      std::string exited;
      int n_exited = 0;
      for (const SpeakerState& sp : s->speakers) {
        if (sp.process.pid > 0 && IsAlive(sp.process)) continue;
        StrAppend(&exited, exited.empty() ? "" : ", ", sp.name);
        ++n_exited;
      }
      if (n_exited > 0) {
        row.phase = StrCat("degraded (bgp speaker", n_exited > 1 ? "s " : " ", exited, " exited)");
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string StatesJson(const std::vector<std::string>& names) {
  json arr = json::array();
  for (const std::string& n : names) {
    absl::StatusOr<ClusterState> s = ReadState(n);
    if (s.ok()) arr.push_back(json::parse(control::StateToJson(*s)));
  }
  return arr.dump(2) + "\n";
}

namespace {

// The lock file's record of its holder: "<pid> <start time>", padded to a fixed width so that
// rewriting it never needs a new block (a full /run must not keep `down` from taking the lock).
constexpr size_t kHolderRecord = 48;

absl::Status WriteHolder(int fd, const std::string& path) {
  const pid_t self = ::getpid();
  std::string rec = StrCat(self, " ", ProcessStartTime(self));
  rec.resize(kHolderRecord - 1, ' ');
  rec += '\n';
  return WriteAllAt(fd, rec, 0, path);
}

ChildProcess ReadHolder(int fd) {
  char buf[kHolderRecord] = {};
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return {};
  std::vector<absl::string_view> f =
      absl::StrSplit(absl::string_view(buf, static_cast<size_t>(n)), ' ', absl::SkipWhitespace());
  ChildProcess p;
  uint64_t start = 0;
  if (f.size() < 2 || !absl::SimpleAtoi(f[0], &p.pid) ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(f[1]), &start))
    return {};
  p.start_time = start;
  return p;
}

absl::StatusOr<Fd> OpenLockFile(const std::string& path, int extra_flags) {
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | extra_flags, 0600));
  if (!fd.valid()) return KernelError(errno, StrCat("open ", path), kRootOnly);
  if (::fchmod(fd.get(), 0600) < 0) return KernelError(errno, StrCat("chmod ", path));
  return fd;
}

// True if `fd` is still the file at `path`: a lock taken on a file that was replaced or removed
// meanwhile (a lock broken, a state directory removed by `down`) is no lock.
bool IsFileAt(int fd, const std::string& path) {
  struct stat a {
  }, b{};
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

// A fresh lock file, locked and recorded before anyone can see it, renamed over `path`.
absl::StatusOr<Fd> ReplaceLockFile(const std::string& path) {
  const std::string tmp = StrCat(path, ".", ::getpid());
  ::unlink(tmp.c_str());
  MKN_ASSIGN_OR_RETURN(Fd fd, OpenLockFile(tmp, O_EXCL));
  absl::Status st = ::flock(fd.get(), LOCK_EX | LOCK_NB) < 0
                        ? KernelError(errno, StrCat("lock ", tmp))
                        : WriteHolder(fd.get(), tmp);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) < 0)
    st = KernelError(errno, StrCat("rename ", tmp));
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  return fd;
}

}  // namespace

absl::StatusOr<Fd> LockCluster(const std::string& cluster,
                               const std::function<void(const std::string&)>& notice) {
  MKN_RETURN_IF_ERROR(MakeStateDir(cluster));
  const std::string path = StateDirOf(cluster) + "/lock";
  const auto grace =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kForeignLockGraceMs);
  for (;;) {
    MKN_ASSIGN_OR_RETURN(Fd fd, OpenLockFile(path, 0));
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
      if (!IsFileAt(fd.get(), path)) continue;
      MKN_RETURN_IF_ERROR(WriteHolder(fd.get(), path));
      return fd;
    }
    if (errno != EWOULDBLOCK) return KernelError(errno, StrCat("lock ", path));
    const ChildProcess holder = ReadHolder(fd.get());
    if (IsAlive(holder)) {
      return absl::FailedPreconditionError(
          StrCat("cluster ", cluster, " is busy: minikube-net pid ", holder.pid,
                 " holds its lock (it runs the cluster, or brings it up or down)"));
    }
    // Not a live minikube-net: an owner that died a moment ago (its fds go with its last thread),
    // or a process that has no business holding it. Never the state's owner: that is alive.
    if (std::chrono::steady_clock::now() < grace) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    MKN_ASSIGN_OR_RETURN(Fd fresh, ReplaceLockFile(path));
    if (!IsFileAt(fresh.get(), path)) continue;  // another process replaced it at the same time
    if (notice) {
      notice(StrCat("the lock of cluster ", cluster, " (", path,
                    ") was held by a process that is not a running minikube-net; replaced it"));
    }
    return fresh;
  }
}

ChildProcess LockHolder(const std::string& cluster) {
  Fd fd(::open((StateDirOf(cluster) + "/lock").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  return fd.valid() ? ReadHolder(fd.get()) : ChildProcess{};
}

absl::Status RemoveStateDir(const std::string& cluster) {
  if (!net::IsDnsLabel(cluster, net::kMaxClusterName)) {
    return absl::InvalidArgumentError(
        StrCat("refusing to remove the state of cluster \"", cluster, "\""));
  }
  return RemoveTree(StateDirOf(cluster));
}

}  // namespace mkn::vnet
