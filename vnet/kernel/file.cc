#include "vnet/kernel/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/fd.h"

namespace mkn::vnet {
namespace {

std::string_view KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string Limit(size_t bytes) {
  if (bytes % (1u << 20) == 0) return StrCat(bytes >> 20, " MiB");
  if (bytes % (1u << 10) == 0) return StrCat(bytes >> 10, " KiB");
  return StrCat(bytes, " bytes");
}

}  // namespace

namespace {

// Reads `fd` to its end, refusing more than `max_bytes`; `expect` is the size it should have (0 if
// unknown). `name` names it in errors.
absl::StatusOr<std::string> ReadAll(int fd, size_t expect, size_t max_bytes,
                                    const std::string& name, std::string_view what) {
  auto over = [&](size_t size, std::string_view so_far) {
    return absl::ResourceExhaustedError(StrCat(name, ": ", size, " bytes", so_far, ", over the ",
                                               Limit(max_bytes), " limit for ", what));
  };
  if (expect > max_bytes) return over(expect, "");
  std::string out;
  // One more than expected: a file that grew is noticed.
  out.resize(std::min(std::max<size_t>(expect + 1, 4096), max_bytes + 1));
  size_t got = 0;
  for (;;) {
    if (got == out.size()) {
      if (out.size() > max_bytes) return over(out.size(), " read so far");
      out.resize(std::min(out.size() * 2, max_bytes + 1));
    }
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return KernelError(errno, name);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > max_bytes) return over(got, "");
  out.resize(got);
  return out;
}

}  // namespace

absl::StatusOr<std::string> ReadUserFile(const std::string& path, size_t max_bytes,
                                         std::string_view what) {
  const int raw = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (raw < 0) return KernelError(errno, path);
  Fd fd(raw);
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return KernelError(errno, path);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        StrCat(path, ": not a regular file (", KindOf(st.st_mode), "): ", what, " must be one"));
  }
  return ReadAll(fd.get(), static_cast<size_t>(st.st_size), max_bytes, path, what);
}

absl::StatusOr<std::string> ReadStandardInput(size_t max_bytes, std::string_view what) {
  // A pipe, a file or a terminal alike: read until EOF (a terminal's Ctrl-D), never past the cap.
  return ReadAll(STDIN_FILENO, 0, max_bytes, "standard input", what);
}

}  // namespace mkn::vnet
