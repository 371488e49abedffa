// vnet/kernel/file — reading a file a user named, safely: regular files only, with a size cap.
//
// A lab file, a conflist, a certificate or key is named by the user, so it may be anything: a FIFO
// (reading it would block forever), /dev/zero (endless), a directory, or a regular file of
// gigabytes. ReadUserFile opens without blocking (O_NONBLOCK, so opening a FIFO returns at once),
// refuses what is not a regular file, and reads at most `max_bytes` (a file that grows past the cap
// while being read is refused too). "-" is not special here: a caller that takes standard input
// says so itself. Errors name the path and the limit, e.g.
//   "examples/x.toml: not a regular file (a FIFO)"
//   "big.toml: 17825792 bytes, over the 16 MiB limit for a lab file"
//   "cert.pem: No such file or directory"
// Codes: NotFound (absent), PermissionDenied (unreadable), InvalidArgument (not a regular file),
// ResourceExhausted (over the cap), and other errno codes as vnet/kernel/errors maps them.
// No privileges needed; nothing of the network is touched.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mkn::vnet {

// Size caps per kind of file, generous for what each really is.
inline constexpr size_t kMaxLabFileBytes = 16u << 20;     // a 1000-pod lab is a few hundred KiB
inline constexpr size_t kMaxConflistBytes = 1u << 20;     // a conflist is a few KiB
inline constexpr size_t kMaxPemBytes = 1u << 20;          // a certificate chain or a key
inline constexpr size_t kMaxStateFileBytes = 256u << 20;  // the tool's own state and caches

// Reads `path` whole. `what` names the kind of file in the error ("a lab file", "a conflist").
absl::StatusOr<std::string> ReadUserFile(const std::string& path, size_t max_bytes,
                                         std::string_view what);

// Reads standard input to its end, at most `max_bytes` ("standard input: 16781312 bytes read so
// far, over the 16 MiB limit for a lab file"): for a caller that takes "-" for a file. Blocks until
// EOF, as `cat -` does. ResourceExhausted over the cap; read(2)'s codes otherwise.
absl::StatusOr<std::string> ReadStandardInput(size_t max_bytes, std::string_view what);

}  // namespace mkn::vnet
