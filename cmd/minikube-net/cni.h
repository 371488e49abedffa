// cmd/minikube-net/cni — the CNI plugin developer's verbs: `cni` (one verb of a network = "cni"
// lab's chain, run as libcni runs it, or its conflists rendered) and `verify` (the conformance
// suite, vnet/cni/verify). Their own file so that main.cc keeps the lifecycle verbs.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>

namespace mkn {

struct CniVerbs;  // their flags and subcommands
using CniVerbsPtr = std::unique_ptr<CniVerbs, void (*)(CniVerbs*)>;

// Adds `cni` and `verify` to `app`.
CniVerbsPtr AddCniVerbs(CLI::App& app);

// Runs the one the command line chose and returns its exit code; nullopt when it chose neither.
std::optional<int> RunCniVerbs(const CniVerbs& v);

}  // namespace mkn
