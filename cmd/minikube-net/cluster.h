// cmd/minikube-net/cluster — the verbs that act on a running cluster: get, exec, logs, kill, scale,
// conntrack, resync, bgp and check. Each asks the cluster's owner over its control socket
// (vnet/cluster/client) or reads its state, and prints with lib/control/format's tables. Their own
// file so that main.cc keeps the lifecycle verbs and other verbs merge without conflicts.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mkn {

struct ClusterVerbs;  // their flags and subcommands
using ClusterVerbsPtr = std::unique_ptr<ClusterVerbs, void (*)(ClusterVerbs*)>;

// Adds the verbs to `app`.
ClusterVerbsPtr AddClusterVerbs(CLI::App& app);

// Runs the one the command line chose and returns its exit code; nullopt when it chose none of
// these. `after_dashes`: what followed "--" (exec's command).
std::optional<int> RunClusterVerbs(const ClusterVerbs& v,
                                   const std::vector<std::string>& after_dashes);

}  // namespace mkn
