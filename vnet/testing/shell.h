// vnet/testing/shell — run a real tool (ip, ping, curl, tshark) and capture what it prints.
#pragma once

#include <string>

namespace mkn::vnet::testing {

struct CmdResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `sh -c cmd`, capturing both streams. Blocks until it exits.
CmdResult Sh(const std::string& cmd);

}  // namespace mkn::vnet::testing
