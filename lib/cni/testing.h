// lib/cni/testing — fixtures for lib/cni tests: testdata/cni files (real Debian 1.1.1 plugin
// outputs captured in ci/sandbox.sh).
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace mkn::cni::testing {

inline std::string Testdata(const std::string& name) {
  const char* dir = std::getenv("MKN_SOURCE_DIR");
  std::string path = std::string(dir != nullptr ? dir : ".") + "/testdata/cni/" + name;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) std::abort();  // a missing fixture is a broken checkout, not a test result
  return ss.str();
}

}  // namespace mkn::cni::testing
