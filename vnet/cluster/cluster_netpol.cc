// NetworkPolicy on a running cluster: each node's `table inet mkn-netpol` (and, in proxy_mode =
// "userspace", the proxy's per-flow verdicts: lib/netpol/flow_policy) kept in step with the
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

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
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

// "0.42 ms", for the log.
std::string Ms(uint64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f ms", static_cast<double>(us) / 1000.0);
  return buf;
}

// Threads building the nodes' tables, then writing their transactions, for one change.
constexpr size_t kNetpolWorkers = 4;

// fn(0) ... fn(n - 1), on up to kNetpolWorkers threads (here when n is 1).
void ForEachOnThreads(size_t n, const std::function<void(size_t)>& fn) {
  const size_t workers = std::min(n, kNetpolWorkers);
  if (workers <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < n; i = next++) fn(i);
    });
  }
  for (std::thread& t : threads) t.join();
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
  const auto t0 = Clock::now();
  impl.netpol.resize(next.nodes.size());
  // Each node's table and its delta, the nodes on several threads (what they share of the lab is
  // computed once, before).
  std::vector<netpol::NodeTable> tables(next.nodes.size());
  std::vector<std::string> texts(next.nodes.size());
  if (!next.network_policies.empty() || !impl.netpol.empty()) {
    const netpol::TableBuilder builder(next);
    ForEachOnThreads(next.nodes.size(), [&](size_t i) {
      tables[i] = builder.Build(static_cast<int>(i));
      texts[i] = netpol::RenderChange(impl.netpol[i], tables[i]);
    });
  }
  const uint64_t built_us = Us(t0);
  // One transaction per node that changes, the nodes in parallel (a few threads, each node's own
  // libnftables context on one thread only): a change is in force when the last node commits, so
  // on a loaded machine the nodes wait for the CPU side by side rather than one after another.
  std::vector<int> changing;
  for (const config::NodeSpec& n : next.nodes)
    if (!texts[n.index].empty()) changing.push_back(n.index);
  if (impl.nft_ctx.size() < next.nodes.size()) impl.nft_ctx.resize(next.nodes.size());
  std::vector<absl::Status> status(next.nodes.size());
  std::vector<uint64_t> took(next.nodes.size());
  auto write = [&](int i) {
    const config::NodeSpec& n = next.nodes[i];
    const auto t1 = Clock::now();
    auto node = impl.applied.netns.find(n.netns);
    if (node == impl.applied.netns.end()) {
      status[i] = absl::InternalError(StrCat("no fd of node netns ", n.netns));
      return;
    }
    const int fd = node->second.get();
    // A lab that came up without a policy has br_netfilter off: frames bridged between two pods
    // of one node would not cross the forward hook.
    if (impl.netpol[i].full.empty()) {
      status[i] =
          RunInNetns(fd, [] { return WriteSysctl("net.bridge.bridge-nf-call-iptables", "1"); });
      if (!status[i].ok()) return;
    }
    status[i] = RunNftIn(n, fd, texts[i]);
    took[i] = Us(t1);
  };
  ForEachOnThreads(changing.size(), [&](size_t k) { write(changing[k]); });
  std::vector<int> written;
  absl::Status failed;
  for (int i : changing) {
    const config::NodeSpec& n = next.nodes[i];
    if (!status[i].ok()) {
      if (failed.ok()) {
        // The node's kernel refused the change: a failure of the cluster, not of the file (exit
        // 1, not the 2 of nft's ENOENT or EINVAL passed on as NotFound or InvalidArgument).
        const absl::StatusCode code =
            absl::IsInvalidArgument(status[i]) || absl::IsNotFound(status[i])
                ? absl::StatusCode::kAborted
                : status[i].code();
        failed = absl::Status(
            code,
            StrCat("node ", n.name, ": write the NetworkPolicy table: ", status[i].message()));
      }
      continue;
    }
    const bool whole = impl.netpol[i].full.empty();
    LogNft(StrCat(n.name, " NetworkPolicy ", whole ? "table written: " : "delta: ", Lines(texts[i]),
                  " commands, ", Ms(took[i])),
           whole ? "" : texts[i]);
    if (report != nullptr) report->push_back({n.name, Lines(texts[i]), took[i]});
    written.push_back(i);
  }
  if (failed.ok() && !written.empty()) {
    LogNft(StrCat("NetworkPolicy in force on every node after ", Ms(Us(t0)), " (",
                  next.nodes.size(), " nodes' tables built and compared in ", Ms(built_us), ", ",
                  written.size(), written.size() == 1 ? " transaction)" : " transactions)"));
  }
  if (failed.ok()) {
    for (const config::NodeSpec& n : next.nodes) impl.netpol[n.index] = std::move(tables[n.index]);
    return absl::OkStatus();
  }
  // The nodes already changed go back to what they had: the reverse delta.
  std::string undone, kept;
  for (int i : written) {
    const config::NodeSpec& n = next.nodes[i];
    const std::string back = netpol::RenderChange(tables[i], impl.netpol[i]);
    absl::Status s = RunNftIn(n, impl.applied.netns.at(n.netns).get(), back);
    LogNft(StrCat(n.name, " NetworkPolicy change undone",
                  s.ok() ? "" : StrCat(" (failed: ", s.message(), ")")));
    if (s.ok()) {
      undone += StrCat(undone.empty() ? "" : ", ", n.name);
    } else {
      kept += StrCat("; ", n.name, " keeps the change (undoing it failed: ", s.message(), ")");
      impl.netpol[i] = std::move(tables[i]);  // what it holds now
    }
  }
  // Said, so the user knows whether the cluster is as it was (the file's change is not in force).
  const std::string outcome =
      !kept.empty()
          ? kept
          : StrCat("; no node changed", undone.empty() ? "" : StrCat(" (undone on ", undone, ")"));
  return absl::Status(failed.code(), StrCat(failed.message(), outcome));
}

absl::Status RunningCluster::SyncNetpol() {
  Impl& impl = *impl_;
  if (impl.spec.network_policies.empty() && impl.netpol.empty()) return absl::OkStatus();
  MKN_RETURN_IF_ERROR(WriteNetpolTables(impl.spec, nullptr));
  // The userspace proxy's verdicts know pods by address: a kill or scale changed some.
  if (impl.proxy) impl.proxy->SetPolicy(impl.spec);
  return absl::OkStatus();
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
    const std::vector<netpol::NodeTable> tables = netpol::BuildNodeTables(next);
    for (const config::NodeSpec& n : next.nodes) {
      const std::string text =
          netpol::RenderChange(n.index < static_cast<int>(impl.netpol.size()) ? impl.netpol[n.index]
                                                                              : netpol::NodeTable{},
                               tables[n.index]);
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
  // The kernel's tables hold the change; the userspace proxy judges the next new flow by it too.
  if (impl.proxy) impl.proxy->SetPolicy(impl.spec);
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
