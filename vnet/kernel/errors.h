// vnet/kernel/errors — the one table from an errno to a Status code, for everything in vnet/kernel.
//
// Each fallible declaration in vnet/kernel says which codes it returns; they hold because every
// errno, the kernel's answer to a netlink request or a failed syscall, goes through this table
// (netlink_msg.h's NetlinkError adds the kernel's extack text to it). Pure; tested in
// netlink_msg_test.cc.
//
//   AlreadyExists     EEXIST EADDRINUSE
//   NotFound          ENODEV ENOENT ESRCH ENXIO EADDRNOTAVAIL
//   PermissionDenied  EPERM EACCES EROFS (a capability missing: the message says which)
//   InvalidArgument   EINVAL EBADF ERANGE E2BIG EMSGSIZE ENAMETOOLONG ENETUNREACH (the kernel
//                     refused the request as asked: a bad attribute, fd or name, an unreachable
//                     gateway)
//   Unimplemented     EOPNOTSUPP EAFNOSUPPORT EPROTONOSUPPORT ENOSYS (a feature or module is
//                     missing)
//   Unavailable       EAGAIN EBUSY EINTR ENOBUFS ENOMEM ENOSPC EMFILE ENFILE (a shortage:
//                     trying later may work)
//   Internal          any other errno
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace mkn::vnet {

absl::StatusCode KernelErrnoCode(int err);

// "WHAT: strerror(err)" with the code from KernelErrnoCode; OK if err is 0. On PermissionDenied,
// `hint_if_denied` is appended after "; " (e.g. "need CAP_SYS_ADMIN: run as root or with sudo").
absl::Status KernelError(int err, std::string_view what, std::string_view hint_if_denied = {});

}  // namespace mkn::vnet
