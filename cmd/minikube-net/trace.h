// cmd/minikube-net/trace — `minikube-net trace SRC DST[:PORT]`'s flags and run (lib/trace predicts,
// vnet/trace proves). Its own file so that other verbs merge without conflicts.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

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
// trace's exit codes beyond common.h's (0 every hop saw the probe and its answer, 1 it got lost,
// 2 a usage error or a kind not traced yet): what a CI job tells apart without parsing text.
inline constexpr int kExitTraceRefused = 3;      // it got there; the destination refused it
inline constexpr int kExitTraceNoEndpoints = 4;  // a Service without endpoints: nothing to reach
// Runs the trace and prints it on stdout (a table, or `-o json`; with -o json an error is a JSON
// object too, {"verdict": "error", "error": ...}, and its text also goes to stderr). Returns the
// exit code: the above, or 1 when trace could not run (no privileges, the cluster not up).
int RunTraceCommand(const TraceFlags& f);

}  // namespace mkn
