// vnet/ebpf/cgroup — the cluster's own cgroup v2, the only place the "ebpf" proxy mode attaches
// programs.
//
// Safety first: a cgroup program runs for every socket of every process in that cgroup and its
// descendants, so attaching to the root cgroup (or any cgroup the tool did not make) would reach
// every process on the machine. The cluster's cgroup is made beneath the cgroup2 mount named in
// /proc/self/mountinfo, as mkn-<cluster>-<netns inode> (lib/net/naming), and marked with the xattr
// trusted.minikube-net = minikube-net:<cluster> before anything uses it. Removal checks the path
// (a direct child of a cgroup2 mount, never the mount itself) and the marker, then rmdir()s: the
// kernel refuses while a process is inside. The links the loader attaches are owned by the
// process (never pinned): when it dies the kernel detaches them, so only the directory can outlive
// a SIGKILL, and the state records its path for `down`. A process still in the cgroup at `down`
// (an open `minikube-net exec`) is moved to the mount's root, where it would be without the lab.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {

// The cgroup2 mount point of this machine, from /proc/self/mountinfo. FailedPrecondition (with
// what to do) when there is none: a cgroup v1-only machine cannot run proxy_mode = "ebpf".
absl::StatusOr<std::string> FindCgroup2Mount();

class LabCgroup {
 public:
  // Makes <mount>/mkn-<cluster>-<inode of the caller's netns>, marks it with `marker` and opens it.
  // An existing directory is reused only when it carries this marker (a previous `up` of this lab
  // killed before its `down`); otherwise AlreadyExists. vnet/kernel/errors.h's codes for mkdir and
  // setxattr (PermissionDenied without root). Needs CAP_SYS_ADMIN over the cgroup tree.
  static absl::StatusOr<LabCgroup> Create(const std::string& cluster, const std::string& marker);

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }  // O_DIRECTORY: what BPF_LINK_CREATE attaches to

 private:
  std::string path_;
  Fd fd_;
};

// The pids in the cgroup at `path` (its cgroup.procs); empty if it is gone.
std::vector<pid_t> CgroupProcs(const std::string& path);

// Removes the cluster's cgroup at `path` (as the state recorded it): OK if it is already gone.
// FailedPrecondition, touching nothing, if `path` is not a direct child of a cgroup2 mount or does
// not carry `marker`. Processes still inside are moved to the mount's root cgroup first (they keep
// running, outside the lab's cgroup; their pids are added to `moved` if given); FailedPrecondition
// naming the pids if some are still inside after 2 s of that. Needs CAP_SYS_ADMIN over the cgroup
// tree.
absl::Status RemoveLabCgroup(const std::string& path, const std::string& marker,
                             std::vector<pid_t>* moved = nullptr);

// The path to write a pid to, to move it into the cgroup: <path>/cgroup.procs.
std::string CgroupProcsFile(const std::string& path);

}  // namespace mkn::vnet
