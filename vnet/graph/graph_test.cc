// RenderSvg's child: dot gets its three standard streams and none of the caller's other open
// files (a dashboard's sockets). A stand-in `dot` on PATH prints the descriptors it holds.
#include "vnet/graph/graph.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace mkn::vnet {
namespace {

namespace fs = std::filesystem;

TEST(RenderSvg, DotInheritsNoneOfTheCallersDescriptors) {
  std::string dir = (fs::temp_directory_path() / "mkn-graph-test-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const fs::path dot = fs::path(dir) / "dot";
  std::ofstream(dot) << "#!/bin/sh\nls /proc/self/fd\n";
  ::chmod(dot.c_str(), 0755);
  const char* old_path = std::getenv("PATH");
  const std::string saved = old_path != nullptr ? old_path : "/usr/bin:/bin";
  ::setenv("PATH", (dir + ":" + saved).c_str(), 1);
  // A descriptor without CLOEXEC, as an Asio socket is, at a number nothing else takes.
  const int leaked = ::fcntl(::open("/dev/null", O_RDONLY), F_DUPFD, 77);
  ASSERT_GE(leaked, 77);
  absl::StatusOr<std::string> out = RenderSvg("digraph { a -> b }");
  ::setenv("PATH", saved.c_str(), 1);
  ::close(leaked);
  fs::remove_all(dir);
  ASSERT_TRUE(out.ok()) << out.status();
  // ls lists 0, 1, 2 and the one it opened /proc/self/fd with (3): never 77, nor the DOT file's.
  std::string fds = *out;
  for (char& c : fds)
    if (c == '\n') c = ' ';
  EXPECT_EQ(fds, "0 1 2 3 ") << "dot held: " << fds;
}

}  // namespace
}  // namespace mkn::vnet
