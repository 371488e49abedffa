// lib/testing/testing — what lib/'s tests share to read their testdata: the source tree (where
// ctest runs them, or $MKN_SOURCE_DIR) and a whole file's text. Header-only, for *_test.cc only
// (ci/lint.sh lets a testing.h do this I/O; lib/'s code never does).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace mkn::testdata {

// The source tree's root: $MKN_SOURCE_DIR, else the working directory (ctest's, the tree's root).
inline std::filesystem::path SourceDir() {
  const char* dir = std::getenv("MKN_SOURCE_DIR");
  return dir != nullptr ? std::filesystem::path(dir) : std::filesystem::current_path();
}

// The whole text of `p` ("" when it cannot be read: the test's golden comparison then says so).
inline std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace mkn::testdata
