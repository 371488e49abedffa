// vnet/kernel/netns — named network namespaces, as `ip netns` keeps them (/run/netns/<name> bind
// mounts).
//
// STYLE.md §4: a thread's netns is changed only on a disposable thread. UnshareNetns/EnterNetns
// move the *calling thread*; call them only on a thread that is joined and discarded (RunInNetns
// makes one). Every function needs CAP_SYS_ADMIN (mounts, setns) and works in the caller's mount
// namespace.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {

// Creates /run/netns and makes it a shared mount point, as iproute2 does, so that named namespaces
// are visible to `ip netns` from other mount namespaces.
absl::Status PrepareNetnsDir();

// Moves the calling thread into a fresh network namespace.
absl::Status UnshareNetns();
// Pins the calling thread's netns at /run/netns/<name>. AlreadyExists if the name is taken.
absl::Status MountCurrentNetns(std::string_view name);
// Opens /run/netns/<name>. NotFound if absent.
absl::StatusOr<Fd> OpenNetns(std::string_view name);
// Opens the calling thread's current netns.
absl::StatusOr<Fd> OpenCurrentNetns();
// Moves the calling thread into the netns `fd` refers to.
absl::Status EnterNetns(int fd);
// Unmounts and removes /run/netns/<name>. NotFound if absent. The kernel frees the namespace once
// no process, socket or fd holds it.
absl::Status RemoveNetns(std::string_view name);

// Runs fn on a fresh thread that first enters the netns `fd`, then joins and discards the thread.
absl::Status RunInNetns(int fd, const std::function<absl::Status()>& fn);

// True if the calling process has CAP_NET_ADMIN and CAP_SYS_ADMIN in its user namespace.
bool HaveNetAdmin();

}  // namespace mkn::vnet
