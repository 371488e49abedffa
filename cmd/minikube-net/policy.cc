#include "cmd/minikube-net/policy.h"

#include <iostream>
#include <optional>

#include "cmd/minikube-net/common.h"
#include "lib/config/netpol.h"
#include "lib/control/protocol.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/client.h"
#include "vnet/kernel/file.h"

namespace mkn {
namespace {

// The control socket takes a request of at most 64 KiB; the file travels in it as a JSON string.
constexpr size_t kMaxPolicyFileBytes = 48u << 10;
constexpr size_t kMaxRequestBytes = (64u << 10) - 1;  // vnet/cluster/control's, its newline kept

std::string Outcome(const control::NetpolAnswer& a) {
  std::string out;
  for (const control::PolicyChange& c : a.changes)
    StrAppend(&out, "network_policy ", c.key, " ", c.result, a.dry_run ? " (dry run)" : "", "\n");
  std::string nodes;
  for (const control::NodeTransaction& n : a.nodes) {
    StrAppend(&nodes, nodes.empty() ? "" : ", ", n.node, ": ", n.commands,
              n.commands == 1 ? " command" : " commands");
  }
  if (a.dry_run) {
    StrAppend(&out,
              a.nodes.empty() ? "no node's table would change" : StrCat("would change ", nodes),
              "\n");
  } else {
    char ms[32];
    std::snprintf(ms, sizeof(ms), "%.1f ms", static_cast<double>(a.us) / 1000.0);
    StrAppend(&out,
              a.nodes.empty() ? StrCat("no node's table changed (", ms, ")")
                              : StrCat("in force on every node after ", ms, " (", nodes, ")"),
              "\n");
  }
  return out;
}

int Print(const absl::StatusOr<control::NetpolAnswer>& a, const std::string& output) {
  if (!a.ok()) return Exit(a.status());
  std::cerr << a->warnings;
  std::cout << (output == "json" ? control::Encode(control::ToJson(*a)) + "\n" : Outcome(*a));
  return kExitOk;
}

}  // namespace

void AddPolicyCommands(CLI::App& app, PolicyFlags& f) {
  f.apply = app.add_subcommand(
      "apply",
      "Add or replace NetworkPolicies on a running cluster ([[network_policy]] tables of a TOML "
      "file), as kubectl apply does");
  // One FILE, given either way (kubectl's -f, or as the other verbs take a file): two options on
  // one variable, each excluding the other, and the check that one came in RunPolicy.
  CLI::Option* positional = f.apply->add_option(
      "file", f.file,
      "FILE: a TOML file of [[network_policy]] tables (the lab file's syntax); [[expect]] rows "
      "are ignored, any other table is an error. Required: here or as -f");
  f.apply->add_option("-f,--filename", f.file, "FILE as a flag, as kubectl apply -f (not both)")
      ->excludes(positional);
  f.apply->add_option("-c,--cluster", f.cluster, kClusterFlag);
  f.apply->add_flag("--dry-run", f.dry_run,
                    "Check the file against the running lab and say what would change; change "
                    "nothing");
  f.apply->add_option("-o,--output", f.output, "text or json")->check(OneOf({"text", "json"}));
  f.apply->footer(
      "A policy whose namespace and name are the same as a live one's replaces it; others are "
      "added. The file is\nresolved against the running lab (its namespaces, pods and named "
      "ports) and checked as `validate`\nchecks a lab: any problem is printed as file:line:col "
      "and nothing changes. Each node whose table changes\ngets one nftables transaction (the "
      "delta: logs/nftables.log shows it); when apply returns, every node\nenforces the change. "
      "Connections already established stay (conntrack: as Calico, Cilium and\nkube-router "
      "behave); new ones follow the policies. The state records the change (get netpol\n"
      "shows it); `down` and a later `up` start again from the lab file.\n"
      "  minikube-net apply examples/netpol/cases/deny-ingress.toml\n"
      "  minikube-net apply -f examples/netpol/cases/deny-ingress.toml   # the same\n"
      "Exit codes: 0 applied, 1 a node refused the change (nothing changed), 2 the file is "
      "wrong.");
  f.del = app.add_subcommand(
      "delete", "Remove a NetworkPolicy from a running cluster, as kubectl delete does");
  f.del->add_option("kind", f.kind, "netpol (networkpolicy, networkpolicies)")
      ->required()
      ->check(OneOf({"netpol", "networkpolicy", "networkpolicies"}));
  f.del->add_option("name", f.name, "The policy's name (or NS/NAME)")->required();
  f.del->add_option("-n,--namespace", f.ns, "The policy's namespace (default: default)");
  f.del->add_option("-c,--cluster", f.cluster, kClusterFlag);
  f.del->add_flag("--dry-run", f.dry_run, "Say what would change; change nothing");
  f.del->add_option("-o,--output", f.output, "text or json")->check(OneOf({"text", "json"}));
  f.del->footer(
      "The policy leaves every node's table in one transaction per node; the pods it isolated "
      "accept again\nwhat no other policy isolates. Exit codes: 0 deleted, 1 a node refused the "
      "change, 2 no such policy.");
}

std::optional<int> RunPolicyCommands(const PolicyFlags& f) {
  if (f.apply != nullptr && *f.apply) {
    if (f.file.empty()) {
      return Exit(absl::InvalidArgumentError(
          "apply: name the policy FILE: minikube-net apply FILE (or -f FILE)"));
    }
    absl::StatusOr<std::string> text =
        vnet::ReadUserFile(f.file, kMaxPolicyFileBytes, "a policy file");
    if (!text.ok()) return Exit(absl::InvalidArgumentError(text.status().message()));
    control::NetpolRequest r;
    r.op = "apply";
    r.file = f.file;
    r.text = std::move(*text);
    r.dry_run = f.dry_run;
    // The file travels JSON-escaped (a quote doubles, a control byte is six): bytes under the
    // limit can still pass the control socket's 64 KiB, which then closes the connection.
    if (const size_t n = control::Encode(control::ToJson(r)).size(); n > kMaxRequestBytes) {
      return Exit(absl::InvalidArgumentError(
          StrCat(f.file, ": ", n, " bytes once escaped for the control socket, over the 64 KiB ",
                 "a request may hold (fewer quotes, backslashes or control bytes)")));
    }
    return Print(vnet::Ask(f.cluster, r), f.output);
  }
  if (f.del != nullptr && *f.del) {
    std::string key = f.name;
    if (key.find('/') != std::string::npos && !f.ns.empty() &&
        config::NamespaceOfKey(key) != f.ns) {
      return Exit(absl::InvalidArgumentError(StrCat(
          "delete: ", key, " names namespace ", config::NamespaceOfKey(key), ", -n says ", f.ns)));
    }
    if (key.find('/') == std::string::npos && !f.ns.empty()) key = config::QualifiedName(f.ns, key);
    control::NetpolRequest r;
    r.op = "delete";
    r.key = key;
    r.dry_run = f.dry_run;
    return Print(vnet::Ask(f.cluster, r), f.output);
  }
  return std::nullopt;
}

}  // namespace mkn
