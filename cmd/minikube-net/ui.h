// cmd/minikube-net/ui — the live dashboard's flags and runs: `up LAB --ui [PORT]` (served by the
// process that owns the cluster) and `minikube-net ui [CLUSTER] [--port P]` (a foreground process
// for a cluster already up, asking its owner over the control socket). The server is vnet/ui's.
// Kept out of main.cc so that other verbs merge without conflicts.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "vnet/cluster/session.h"
#include "vnet/cluster/state.h"

namespace mkn {

// `up ... --ui [PORT]`: the option CLI11 parsed (nullptr before AddUpUiOption).
struct UpUiFlags {
  CLI::Option* option = nullptr;
};
void AddUpUiOption(CLI::App* up, UpUiFlags& f);
// SessionOptions::serve for `up --ui`, or an empty function when --ui was not given: starts the
// dashboard once the cluster is ready and prints its URL on the stream it is given.
std::function<absl::StatusOr<vnet::SessionOptions::Served>(const vnet::ClusterState&,
                                                           std::ostream&)>
UpServe(const UpUiFlags& f);

struct UiFlags {
  std::string cluster;
  std::string cluster_flag;  // -c: the same as `cluster`
  int port = 0;              // set from ui::kDefaultPort by AddUiCommand
};
CLI::App* AddUiCommand(CLI::App& app, UiFlags& f);
// Serves until SIGINT, SIGTERM or SIGHUP; prints the URL on stdout once listening. Call it from
// the main thread before any other thread starts (it blocks the stop signals). PickCluster's
// codes; FailedPrecondition when the cluster's lab no longer loads; the server's (a port in use:
// AlreadyExists).
absl::Status RunUiCommand(const UiFlags& f);

}  // namespace mkn
