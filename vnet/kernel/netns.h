// vnet/kernel/netns — named network namespaces, as `ip netns` keeps them (/run/netns/<name> bind
// mounts), and NamedNetns, the handle that owns one this process made.
//
// STYLE.md §4: a thread's netns is changed only on a disposable thread. UnshareNetns, EnterNetns
// and NamedNetns::CreateOnThisThread move the *calling thread*; call them only on a thread that is
// joined and discarded (RunInNetns and NamedNetns::Create make one). Everything here that mounts,
// unmounts or changes a thread's netns needs CAP_SYS_ADMIN (PermissionDenied without it) and works
// in the caller's mount namespace.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/netlink.h"

namespace mkn::vnet {

// Creates /run/netns and makes it a shared mount point, as iproute2 does, so that named namespaces
// are visible to `ip netns` from other mount namespaces. PermissionDenied without CAP_SYS_ADMIN
// (or write access to /run); NotFound if there is no /run.
absl::Status PrepareNetnsDir();

// Moves the calling thread into a fresh network namespace. PermissionDenied without
// CAP_SYS_ADMIN; Unavailable when the kernel is out of memory or namespaces (ENOMEM, ENOSPC).
absl::Status UnshareNetns();
// Pins the calling thread's netns at /run/netns/<name>. AlreadyExists if the name is taken;
// NotFound if /run/netns is missing (PrepareNetnsDir); PermissionDenied without CAP_SYS_ADMIN.
absl::Status MountCurrentNetns(std::string_view name);
// Opens /run/netns/<name>. NotFound if absent; PermissionDenied if it may not be read.
absl::StatusOr<Fd> OpenNetns(std::string_view name);
// Opens the calling thread's current netns. Unavailable when out of fds.
absl::StatusOr<Fd> OpenCurrentNetns();
// Moves the calling thread into the netns `fd` refers to. InvalidArgument if `fd` is no netns;
// PermissionDenied without CAP_SYS_ADMIN.
absl::Status EnterNetns(int fd);
// Unmounts and removes /run/netns/<name>. NotFound if absent; PermissionDenied without
// CAP_SYS_ADMIN. The kernel frees the namespace once no process, socket or fd holds it.
absl::Status RemoveNetns(std::string_view name);

// What is at /run/netns/<name>. A SIGKILL between creating the file and bind-mounting the netns on
// it (bring-up), or between unmounting and unlinking it (teardown), leaves a *stale* entry: an
// empty file with no namespace behind it, which `ip netns` lists, `setns` refuses and a new
// namespace of that name cannot be mounted over. kOther: something that is neither (another
// filesystem mounted there, a directory): not ours to touch.
enum class NetnsPath { kAbsent, kMounted, kStale, kOther };
NetnsPath StatNetnsPath(std::string_view name);
// Removes /run/netns/<name> if it is stale, as `ip netns del` and containerd do: true if it did.
// Call it only for a name the caller's state says is its own (or is being made by it). The codes
// of unlink: PermissionDenied without CAP_SYS_ADMIN.
absl::StatusOr<bool> RemoveStaleNetns(std::string_view name);

// Runs fn on a fresh thread that first enters the netns `fd`, then joins and discards the thread.
// EnterNetns's codes, or whatever fn returns.
absl::Status RunInNetns(int fd, const std::function<absl::Status()>& fn);

// True if the calling process has CAP_NET_ADMIN and CAP_SYS_ADMIN in its user namespace.
bool HaveNetAdmin();

// A named netns this process made: /run/netns/<name>, pinned by a bind mount, and an open fd of
// it. Until Release(), the handle owns the name: its destructor (or assigning over it) closes the
// fd and removes the mount and the file, as RemoveNetns does, ignoring errors (a destructor has no
// one to tell). That makes an undo stack a vector of handles: an error on the way out lets them
// die newest first and leaves nothing. Move-only; a moved-from or released handle is empty and
// removes nothing.
//
// With a marker, lo is set up with the ifalias `marker` *before* the namespace is mounted, so
// whatever appears under /run/netns is provably ours (vnet/kernel/owned reads it back). Without
// one, lo stays down, as a container runtime hands a fresh netns to CNI.
class NamedNetns {
 public:
  // Makes the netns on a fresh thread that is joined and discarded: safe from any thread.
  // AlreadyExists if /run/netns/<name> is taken (someone else's: it is left alone); NotFound if
  // /run/netns is missing (PrepareNetnsDir); PermissionDenied without CAP_SYS_ADMIN, or without
  // CAP_NET_ADMIN for the marker; Unavailable when the kernel is out of memory or fds. The message
  // names the netns.
  static absl::StatusOr<NamedNetns> Create(std::string_view name,
                                           std::optional<std::string_view> marker = std::nullopt);
  // The same on the calling thread, which is left inside the new netns (on an error, possibly in an
  // unnamed new netns that dies with the thread). Only for a thread that is itself disposable, such
  // as the applier's workers, which go on to work in the netns they made. With a marker and
  // `socket`, the NETLINK_ROUTE socket opened inside the new netns to set the marker is handed over
  // in *socket instead of closed, for the caller's requests there.
  static absl::StatusOr<NamedNetns> CreateOnThisThread(
      std::string_view name, std::optional<std::string_view> marker = std::nullopt,
      std::optional<NlSocket>* socket = nullptr);

  NamedNetns() = default;  // empty
  NamedNetns(NamedNetns&& o) noexcept : name_(std::exchange(o.name_, {})), fd_(std::move(o.fd_)) {}
  NamedNetns& operator=(NamedNetns&& o) noexcept;
  NamedNetns(const NamedNetns&) = delete;
  NamedNetns& operator=(const NamedNetns&) = delete;
  ~NamedNetns() { Remove(); }

  // The open fd of the netns (-1 if empty): for setns, RunInNetns, a veth's peer netns.
  int fd() const { return fd_.get(); }
  // "" if empty.
  const std::string& name() const { return name_; }
  explicit operator bool() const { return !name_.empty(); }

  // Gives up ownership: /run/netns/<name> stays (someone else, `down`, removes it) and the caller
  // gets the open fd. The handle is empty afterwards.
  Fd Release();
  // Removes the namespace now, as the destructor would, but says how that went (an undo stack
  // that must report what it could not undo): RemoveNetns's codes; OK if empty. The handle is
  // empty afterwards either way.
  absl::Status RemoveNow();

 private:
  NamedNetns(std::string name, Fd fd) : name_(std::move(name)), fd_(std::move(fd)) {}
  void Remove();

  std::string name_;  // empty = owns nothing
  Fd fd_;
};

}  // namespace mkn::vnet
