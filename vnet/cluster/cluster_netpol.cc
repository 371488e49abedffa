// NetworkPolicy on a running cluster: each node's `table inet mkn-netpol` kept in step with the
// spec (lib/netpol/nft), when pods come and go (kill, scale: SyncNetpol) and when policies are
// applied or deleted (`minikube-net apply`, `delete netpol`: ChangePolicies), as kube-proxy's
// nftables proxier keeps its table: what this process last wrote in each node is remembered, and a
// change is the delta to the next spec, one nft transaction per node whose table changes.
//
// A policy change is all or nothing: when a node refuses its transaction, the nodes already
// changed get the reverse delta, and nothing of the change stays (spec, state, tables). It is
// recorded in the state (policies_applied / policies_deleted) before the answer leaves, so `get
// netpol` of another process sees the live policies; `down` needs nothing
// more (the tables live in the nodes' namespaces).

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "lib/config/mutate.h"
#include "lib/config/toml/load.h"
#include "lib/control/protocol.h"
#include "lib/control/usage.h"
#include "lib/netpol/nft.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/applier.h"
#include "vnet/cluster/cluster.h"
#include "vnet/cluster/cluster_impl.h"
#include "vnet/cluster/state.h"
#include "vnet/kernel/netns.h"

namespace mkn::vnet {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t Us(Clock::time_point since) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - since).count());
}

uint64_t Lines(const std::string& text) {
  uint64_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

}  // namespace

absl::Status RunningCluster::WriteNetpolTables(const config::ClusterSpec& next,
                                               std::vector<control::NodeTransaction>* report) {
  Impl& impl = *impl_;
  impl.netpol.resize(next.nodes.size());
  std::vector<netpol::NodeTable> tables(next.nodes.size());
  std::vector<int> written;
  absl::Status failed;
  for (const config::NodeSpec& n : next.nodes) {
    const auto t0 = Clock::now();
    tables[n.index] = netpol::BuildNodeTable(next, n.index);
    const std::string text = netpol::RenderChange(impl.netpol[n.index], tables[n.index]);
    if (text.empty()) continue;
    auto node = impl.applied.netns.find(n.netns);
    if (node == impl.applied.netns.end()) {
      failed = absl::InternalError(StrCat("no fd of node netns ", n.netns));
      break;
    }
    const int fd = node->second.get();
    // A lab that came up without a policy has br_netfilter off: frames bridged between two pods
    // of one node would not cross the forward hook.
    if (impl.netpol[n.index].full.empty()) {
      failed =
          RunInNetns(fd, [] { return WriteSysctl("net.bridge.bridge-nf-call-iptables", "1"); });
      if (!failed.ok()) break;
    }
    failed = RunNftIn(n, fd, text);
    if (!failed.ok()) {
      failed = absl::Status(
          failed.code(),
          StrCat("node ", n.name, ": write the NetworkPolicy table: ", failed.message()));
      break;
    }
    const bool whole = impl.netpol[n.index].full.empty();
    const uint64_t us = Us(t0);
    LogNft(StrCat(n.name, " NetworkPolicy ", whole ? "table written: " : "delta: ", Lines(text),
                  " commands, ", us / 1000.0, " ms"),
           whole ? "" : text);
    if (report != nullptr) report->push_back({n.name, Lines(text), us});
    written.push_back(n.index);
  }
  if (failed.ok()) {
    for (const config::NodeSpec& n : next.nodes) impl.netpol[n.index] = std::move(tables[n.index]);
    return absl::OkStatus();
  }
  // The nodes already changed go back to what they had: the reverse delta.
  for (int i : written) {
    const config::NodeSpec& n = next.nodes[i];
    const std::string back = netpol::RenderChange(tables[i], impl.netpol[i]);
    absl::Status s = RunNftIn(n, impl.applied.netns.at(n.netns).get(), back);
    LogNft(StrCat(n.name, " NetworkPolicy change undone",
                  s.ok() ? "" : StrCat(" (failed: ", s.message(), ")")));
    if (!s.ok()) impl.netpol[i] = std::move(tables[i]);  // what it holds now
  }
  return failed;
}

absl::Status RunningCluster::SyncNetpol() {
  Impl& impl = *impl_;
  if (impl.spec.network_policies.empty() && impl.netpol.empty()) return absl::OkStatus();
  return WriteNetpolTables(impl.spec, nullptr);
}

absl::StatusOr<control::NetpolAnswer> RunningCluster::ChangePolicies(
    const control::NetpolRequest& r) {
  const auto t0 = Clock::now();
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> l(impl.mu);
  if (impl.down) return absl::FailedPreconditionError("the cluster is stopping");
  const config::ClusterSpec& spec = impl.spec;
  if (spec.cni_mode) {
    return absl::FailedPreconditionError(
        "network policies are not enforced in a network = \"cni\" lab (the plugin chain wires its "
        "pods; enforcing is its job)");
  }
  control::NetpolAnswer a;
  a.dry_run = r.dry_run;
  config::PolicyEdits edits = impl.policy_edits;
  if (r.op == "apply") {
    config::PoliciesResult loaded = config::LoadPolicies(r.text, r.file, spec);
    if (!loaded.policies) return loaded.diags.ToStatus();
    for (const config::Diagnostic& d : loaded.diags.all())
      a.warnings += loaded.diags.Format(d) + "\n";
    for (config::NetworkPolicySpec& p : *loaded.policies) {
      const std::string key = p.key();
      a.changes.push_back(
          {key, config::ApplyPolicy(edits, spec.network_policies, {std::move(p), r.file, r.text})});
    }
  } else {
    const std::string key =
        config::QualifiedName(config::NamespaceOfKey(r.key), config::NameOfKey(r.key));
    if (absl::Status s = config::DeletePolicy(edits, impl.lab_policies, key); !s.ok()) {
      std::vector<std::string> keys;
      for (const config::NetworkPolicySpec& p : spec.network_policies) keys.push_back(p.key());
      return control::NoSuch("network_policy", key, spec.name, keys);
    }
    a.changes.push_back({key, "deleted"});
  }
  config::ClusterSpec next = spec;
  next.network_policies = config::ComposePolicies(impl.lab_policies, edits);
  if (r.dry_run) {
    for (const config::NodeSpec& n : next.nodes) {
      const std::string text =
          netpol::RenderChange(n.index < static_cast<int>(impl.netpol.size()) ? impl.netpol[n.index]
                                                                              : netpol::NodeTable{},
                               netpol::BuildNodeTable(next, n.index));
      if (!text.empty()) a.nodes.push_back({n.name, Lines(text), 0});
    }
    a.us = Us(t0);
    return a;
  }
  if (impl.nft_log.empty() && !impl.logs.empty()) {
    impl.nft_log = impl.logs + "/nftables.log";
    if (!CreatePrivateFile(impl.nft_log).ok()) impl.nft_log.clear();
  }
  MKN_RETURN_IF_ERROR(WriteNetpolTables(next, &a.nodes));
  impl.spec.network_policies = std::move(next.network_policies);
  impl.policy_edits = std::move(edits);
  state_.policies_applied.clear();
  for (const config::AppliedPolicy& p : impl.policy_edits.applied)
    state_.policies_applied.push_back({p.spec.key(), p.file, p.text});
  state_.policies_deleted = impl.policy_edits.deleted;
  a.us = Us(t0);
  // The kernel holds the change; a state that cannot be written is said, not undone.
  if (absl::Status s = WriteState(state_); !s.ok()) {
    a.warnings += StrCat("the change is in force, but the state was not written (", s.message(),
                         "): get netpol from another process does not see it\n");
  }
  return a;
}

}  // namespace mkn::vnet
