#include "vnet/kernel/errors.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "lib/strings/str_cat.h"

namespace mkn::vnet {

absl::StatusCode KernelErrnoCode(int err) {
  switch (err) {
    case 0:
      return absl::StatusCode::kOk;
    case EEXIST:
    case EADDRINUSE:
      return absl::StatusCode::kAlreadyExists;
    case ENODEV:
    case ENOENT:
    case ESRCH:
    case ENXIO:
    case EADDRNOTAVAIL:
      return absl::StatusCode::kNotFound;
    case EPERM:
    case EACCES:
    case EROFS:
      return absl::StatusCode::kPermissionDenied;
    case EINVAL:
    case EBADF:
    case ERANGE:
    case E2BIG:
    case EMSGSIZE:
    case ENAMETOOLONG:
    case ENETUNREACH:
      return absl::StatusCode::kInvalidArgument;
    case EOPNOTSUPP:
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
    case ENOSYS:
      return absl::StatusCode::kUnimplemented;
    case EAGAIN:
    case EBUSY:
    case EINTR:
    case ENOBUFS:
    case ENOMEM:
    case ENOSPC:
    case EMFILE:
    case ENFILE:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

absl::Status KernelError(int err, std::string_view what, std::string_view hint_if_denied) {
  absl::StatusCode code = KernelErrnoCode(err);
  if (code == absl::StatusCode::kOk) return absl::OkStatus();
  char buf[128];
  // GNU strerror_r: thread-safe, returns the text (in buf or a static table).
  std::string text = StrCat(what, ": ", strerror_r(err, buf, sizeof(buf)));
  if (code == absl::StatusCode::kPermissionDenied && !hint_if_denied.empty())
    StrAppend(&text, "; ", hint_if_denied);
  return absl::Status(code, text);
}

}  // namespace mkn::vnet
