// cmd/minikube-net/trace — `minikube-net trace SRC DST[:PORT]`'s flags and run (lib/trace predicts,
// vnet/trace proves). Its own file so that other verbs merge without conflicts.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace mkn {

struct TraceFlags {
  std::string src, dst;
  std::string proto;
  std::string output = "table";
  std::string pcap;
  std::string cluster;
  double timeout_s = 2;
  bool dry_run = false;
};
CLI::App* AddTraceCommand(CLI::App& app, TraceFlags& f);
// Prints the trace on stdout. True when every predicted hop saw the probe (exit 0), false when it
// got lost (exit 1: the output names the last hop that saw it). Usage errors are InvalidArgument.
absl::StatusOr<bool> RunTraceCommand(const TraceFlags& f);

}  // namespace mkn
