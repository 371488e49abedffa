// cmd/minikube-net/see — the "See the traffic" commands' flags and runs: `capture` (packet sockets
// in the lab's namespaces into one pcapng, vnet/capture) and `graph` (the lab as a picture,
// lib/graph and vnet/graph). Kept out of main.cc so that other verbs merge without conflicts.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace mkn {

struct CaptureFlags {
  std::string cluster;
  std::vector<std::string> targets;
  std::string output;  // "" = standard output unless it is a terminal
  std::string filter;
  std::string duration;
  int64_t count = 0;
  int64_t snaplen = 262144;
  bool no_promiscuous = false;
};
CLI::App* AddCaptureCommand(CLI::App& app, CaptureFlags& f);
// Prints the capture's summary on stderr. Usage errors are InvalidArgument.
absl::Status RunCaptureCommand(const CaptureFlags& f);

struct GraphFlags {
  std::string target;   // a lab file or a cluster name; "" = the only cluster up
  std::string cluster;  // -c: a cluster name, as `target`
  std::string output = "dot";
};
CLI::App* AddGraphCommand(CLI::App& app, GraphFlags& f);
absl::Status RunGraphCommand(GraphFlags f);

}  // namespace mkn
