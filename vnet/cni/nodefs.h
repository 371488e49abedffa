// vnet/cni/nodefs — each fake node's private filesystem view, for the CNI plugins and daemons run
// on it.
//
// A real node has its own /var/lib/cni (host-local's allocations), /run/cni, /etc/cni/net.d and
// /run/<plugin> (flannel's subnet.env). Fake nodes share one host, so each gets a mount namespace
// in which /etc, /var/lib and /run are overlayfs mounts: lowerdir = the real directory (the plugin
// sees the host's files: /etc/resolv.conf, /etc/ssl, ...), upperdir/workdir =
// <state_dir>/fs/<dir>/{upper,work}, so every write lands in the node's state directory and none
// reaches the host. The state directory lives under /run/minikube-net/<cluster>/ and goes with the
// cluster; recreating the namespace from the same state_dir (after a SIGKILL, for `down`) shows the
// same files.
//
// Mounts under the three directories are not part of an overlay (overlayfs stacks one filesystem),
// so they are bound back on top, from O_PATH fds opened before the overlays hide them:
//   - /run/netns (the pods' namespaces: CNI_NETNS) and /run/minikube-net, always;
//   - every other top-most mount under /etc, /var/lib or /run of the caller (a host's /run/lock,
//     /run/user/<uid>, a container's /etc/resolv.conf bind): those are the host's, shared, writes
//     go through to it;
//   - except a mount at or under /etc/cni, /var/lib/cni or /run/cni, which would undo the isolation
//     of exactly what must be private: it stays hidden, the node sees the overlay's directory
//     there.
// If /etc or /var/lib is itself a mount point, the overlay's lowerdir is simply that filesystem.
//
// Propagation: the namespace's mounts are made MS_REC|MS_SLAVE, not private: nothing propagates
// back to the host, but a pod netns mounted on /run/netns after the node view was made appears in
// it (the plugin opens CNI_NETNS), and unmounting it on the host (`down`) unmounts it here, so a
// node view never pins a pod's netns. This needs /run/netns to be a shared mount (PrepareNetnsDir);
// FailedPrecondition if not.
//
// Overlay upper dirs: tmpfs is fine (trusted.* xattrs; /run/minikube-net is a tmpfs in
// ci/sandbox.sh and /run is one on a host); an overlayfs, NFS or a filesystem without xattrs is
// not. On a host the upper dir /run/minikube-net/... lies inside the lower /run on the same tmpfs:
// the kernel accepts the mount and only refuses lookups *through the overlay* into the upper dir
// ("overlapping layers", ELOOP); /run/minikube-net is bound back, so no path in the node view goes
// that way.
//
// Cost (2-core VM, kernel 6.18, vnet/nodefs_netns_test NodeFs.CostOfMakeNodeMountNs): about 1-2 ms
// per node (fork + unshare + three overlay mounts + binds), once per node per `up`/`down`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {

// The directories each node sees as its own overlay, in mount order (/run last: the upper dirs of
// the others are resolved through it before it is covered).
inline constexpr std::string_view kNodeOverlayDirs[] = {"/etc", "/var/lib", "/run"};
// Never bound back from the host, whatever is mounted there.
inline constexpr std::string_view kNodePrivateDirs[] = {"/etc/cni", "/var/lib/cni", "/run/cni"};

// <state_dir>/fs/<dir>/upper: where the node's writes to `dir` (one of kNodeOverlayDirs) land, as
// seen from the caller's mount namespace.
std::string NodeUpperDir(std::string_view state_dir, std::string_view dir);

// Creates <state_dir>/fs/... if needed and a new mount namespace holding the node's view, made by a
// forked child (a multithreaded process cannot unshare(CLONE_NEWNS)) that passes its
// /proc/self/ns/mnt back over a socketpair (SCM_RIGHTS) and exits. The returned fd keeps the
// namespace alive with no process in it; it is ExecRequest::mntns_fd. Close it (and end every
// process inside) before removing state_dir. Needs CAP_SYS_ADMIN. InvalidArgument: state_dir not
// absolute, holds ',' ':' '\' (overlay option syntax), or lies under /etc or /var/lib.
// FailedPrecondition: /run/netns is not a shared mount. Errno codes from the mounts, naming the
// directory ("mount overlay on /run: ...").
absl::StatusOr<Fd> MakeNodeMountNs(const std::string& state_dir);

}  // namespace mkn::vnet
