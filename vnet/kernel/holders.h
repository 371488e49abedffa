// vnet/kernel/holders — which processes run inside given network namespaces, found as
// `ip netns pids` finds them: each process's /proc/<pid>/ns/net compared with the namespaces' own
// identity (device and inode of the nsfs file). A namespace whose /run/netns name was removed
// lives on while a process runs in it, and this is the only way left to name that process.
//
// Reads /proc only: no setns, no signal. Looking at another user's ns links needs root (or
// CAP_SYS_PTRACE); a process that cannot be looked at is skipped, as is one that exits during the
// scan. Only thread-group leaders are looked at (/proc/<pid>, as `ip netns pids` does): a process
// whose other threads entered a namespace (minikube-net's own RunInNetns threads) is not counted.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mkn::vnet {

// A network namespace's identity for as long as it exists: the device and inode of its nsfs file
// (what stat() of /run/netns/<name>, of an fd of it or of /proc/<pid>/ns/net gives).
struct NetnsId {
  uint64_t dev = 0, ino = 0;
  bool operator==(const NetnsId&) const = default;
};

// The identity of /run/netns/<name>. NotFound if absent; PermissionDenied if it may not be
// looked at; vnet/kernel/errors.h's codes for any other stat error.
absl::StatusOr<NetnsId> NetnsIdOfName(std::string_view name);
// The identity of an open netns fd. InvalidArgument if `fd` is not open.
absl::StatusOr<NetnsId> NetnsIdOfFd(int fd);

struct NetnsProcess {
  pid_t pid = 0;
  uint64_t start_time = 0;  // /proc/<pid>/stat field 22: with the pid, one process for good
  pid_t session = 0;        // field 6: the session it runs in (its leader's pid)
  std::string comm;         // /proc/<pid>/comm, without its newline
  NetnsId netns;            // which of the namespaces asked about it runs in
  // It has a SIGKILL pending or is already a zombie: on its way out, holding the namespace only
  // for the moment it takes to exit (a node daemon whose owner was SIGKILLed gets PDEATHSIG).
  bool dying = false;
};

// Every process whose network namespace is one of `ids`, in pid order, except the calling
// process itself. Unavailable when /proc cannot be listed (no procfs mounted).
absl::StatusOr<std::vector<NetnsProcess>> ProcessesInNetns(const std::vector<NetnsId>& ids);

// The parent of `pid` (/proc/<pid>/stat field 4); 0 when there is no such process.
pid_t ParentPid(pid_t pid);

}  // namespace mkn::vnet
