#include "vnet/testing/shell.h"

#include <sys/wait.h>

#include <cstdio>

namespace mkn::vnet::testing {

CmdResult Sh(const std::string& cmd) {
  CmdResult r;
  std::string full = "(" + cmd + ") 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace mkn::vnet::testing
