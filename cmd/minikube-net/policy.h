// cmd/minikube-net/policy — `minikube-net apply FILE` and `delete netpol NAME`: NetworkPolicies
// changed on a running cluster, as kubectl apply / delete change them, over the control socket
// (the owner resolves the file against the live lab and writes each node's delta:
// vnet/cluster/cluster_netpol.cc). Its own file so that other verbs merge without conflicts.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace mkn {

struct PolicyFlags {
  std::string file;            // apply
  std::string kind, name, ns;  // delete KIND NAME [-n NS]
  std::string cluster, output = "text";
  bool dry_run = false;
  CLI::App* apply = nullptr;
  CLI::App* del = nullptr;
};
void AddPolicyCommands(CLI::App& app, PolicyFlags& f);
// The exit code of apply or delete when one of them was given; nullopt otherwise.
std::optional<int> RunPolicyCommands(const PolicyFlags& f);

}  // namespace mkn
