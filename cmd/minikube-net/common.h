// cmd/minikube-net/common — what every verb's file shares: the exit codes and the one mapping from
// a Status to them, the validators the flags use (a wrong word or number named as lib/control/usage
// names it), reading a lab file as every subcommand reads it, and asking a running cluster's owner.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/config/spec.h"
#include "vnet/cluster/client.h"

namespace mkn {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

// The one mapping from a Status to an exit code: the user named something wrong (kInvalidArgument,
// kNotFound) is 2, anything else 1. The message goes to stderr.
int Exit(const absl::Status& st);

// "minikube-net: LINE" on stderr.
void Notice(const std::string& line);

// Every -c of a command that acts on a running cluster (vnet/cluster/client's PickCluster).
inline constexpr const char* kClusterFlag =
    "Cluster name (default: $MKN_CLUSTER, else the only cluster up)";

// The cluster of a verb that takes it as a positional word and as -c (check, graph, ui: the
// README promises -c on every verb that acts on a running cluster). InvalidArgument when both
// are given and differ: which one was meant cannot be guessed.
absl::StatusOr<std::string> OneClusterWord(std::string_view verb, const std::string& positional,
                                           const std::string& flag);

// An integer option in [lo, hi], checked on its text before CLI11 converts it: CLI11's own range
// checks print their bounds as 300-digit doubles, and a number past int is "Could not convert".
CLI::Validator IntIn(int64_t lo, int64_t hi);

// The file a verb will write (trace --pcap, capture -w), checked before anything is sent or
// opened: a directory, or a name whose directory does not exist, is the user's mistake
// (InvalidArgument, exit 2), not one to find after the probe went out. "" and "-" pass; so does
// anything else (a FIFO, a device): the write says what is wrong with those.
absl::Status CheckOutputFile(std::string_view flag, const std::string& path);

// A word that must be one of `choices`; a wrong one is named with the nearest choice.
CLI::Validator OneOf(std::vector<std::string> choices);

// A lab file, read as every subcommand reads it: its diagnostics (warnings too) on stderr; exit 2
// (in `exit_code`) when it does not load.
std::optional<config::ClusterSpec> Lab(const std::string& path, int& exit_code);
// A running cluster's lab: Lab(s.lab) with the policies `apply` and `delete netpol` changed
// (vnet::WithLivePolicies).
std::optional<config::ClusterSpec> LiveLab(const vnet::ClusterState& s, int& exit_code);

// A request to the cluster's owner, its answer printed by `print`.
template <typename Request, typename Print>
int AskAndPrint(const std::string& cluster, const Request& request, Print print) {
  absl::StatusOr<typename Request::Answer> a = vnet::Ask(cluster, request);
  if (!a.ok()) return Exit(a.status());
  std::cout << print(*a);
  return kExitOk;
}

}  // namespace mkn
