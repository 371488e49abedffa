// proxy_mode = "nftables": each node's table kept in step with the spec, as kube-proxy's nftables
// proxier keeps its node's. What this process last wrote in each node is remembered
// (lib/proxy/nft_table); a kill or scale is written as the delta to the next spec, one transaction
// per node. A table is written whole only at `up` (the plan's LoadNftRuleset), by `minikube-net
// resync` when a node's table differs from a full sync, and when a node refuses a delta: its table
// is not what this process wrote (someone edited it: a delta deletes elements by name, and nft
// refuses the whole transaction when one is gone).
//
// Every transaction is recorded in <state dir>/logs/nftables.log: a line per node (what, how many
// commands, how long), and a delta's text, so a student can watch a kill become five element
// commands (`tail -f`).

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <mutex>
#include <string>
#include <utility>

#include "lib/control/protocol.h"
#include "lib/net/naming.h"
#include "lib/proxy/nft_listing.h"
#include "lib/proxy/nft_ruleset.h"
#include "lib/proxy/nft_table.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/cluster.h"
#include "vnet/cluster/cluster_impl.h"
#include "vnet/cluster/state.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/nft.h"

namespace mkn::vnet {
namespace {

using Clock = std::chrono::steady_clock;

std::string Now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// "0.42 ms": how long a transaction took, for the log.
std::string Ms(Clock::time_point since) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f ms",
                std::chrono::duration<double, std::milli>(Clock::now() - since).count());
  return buf;
}

std::string ListCommand() { return StrCat("list table ip ", net::kNftTable); }

}  // namespace

void RunningCluster::LogNft(const std::string& line, const std::string& text) {
  Impl& impl = *impl_;
  if (impl.nft_log.empty()) return;
  // The log is for reading; a full /run is no reason to fail a kill.
  std::ofstream out(impl.nft_log, std::ios::app);
  out << Now() << " " << line << "\n";
  if (!text.empty()) {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      out << "    " << std::string_view(text).substr(pos, nl - pos) << "\n";
      pos = nl + 1;
    }
  }
}

void RunningCluster::StartNftTables() {
  Impl& impl = *impl_;
  impl.nft.clear();
  const config::ClusterSpec& spec = impl.spec;
  const bool service_tables = config::HasNftTables(spec.proxy_mode) && !spec.services.empty();
  // A lab's policies are nftables tables in every proxy mode (the userspace proxy only adds its
  // own check of Service flows), so the log opens for them too: `kill` and `apply` log their
  // deltas from `up` on, whatever the mode, as the README's walkthrough shows.
  if (!service_tables && spec.network_policies.empty()) return;
  // Made 0600 like every log of the state directory; if it cannot be, there is no log.
  impl.nft_log = impl.logs.empty() ? "" : impl.logs + "/nftables.log";
  if (!impl.nft_log.empty() && !CreatePrivateFile(impl.nft_log).ok()) impl.nft_log.clear();
  if (!service_tables) return;
  // What the plan's LoadNftRuleset steps wrote: the same function of the same spec.
  impl.nft.assign(spec.nodes.size(), proxy::NftTable::Build(spec));
  impl.nft_ctx.clear();
  impl.nft_ctx.resize(spec.nodes.size());
  for (const config::NodeSpec& n : spec.nodes) {
    LogNft(StrCat(n.name, " full sync at up: ", impl.nft[n.index].port_count(), " service ports"));
    // A context made inside the node stays bound to it; without one, each change makes its own.
    auto node = impl.applied.netns.find(n.netns);
    if (node == impl.applied.netns.end()) continue;
    (void)RunInNetns(node->second.get(), [&]() -> absl::Status {
      absl::StatusOr<NftContext> c = NftContext::Create();
      if (c.ok()) impl.nft_ctx[n.index].emplace(std::move(*c));
      return c.status();
    });
  }
}

absl::Status RunningCluster::RunNftIn(const config::NodeSpec& node, int fd,
                                      const std::string& text) {
  Impl& impl = *impl_;
  if (node.index >= static_cast<int>(impl.nft_ctx.size())) impl.nft_ctx.resize(node.index + 1);
  std::optional<NftContext>& ctx = impl.nft_ctx[node.index];
  if (!ctx) {
    // Made once inside the node and kept (a NetworkPolicy change in a lab whose proxy is not
    // nftables has none from up): a context costs a thread, a setns and libnftables' start-up,
    // milliseconds that each change of a few commands would pay again.
    absl::Status made = RunInNetns(fd, [&]() -> absl::Status {
      absl::StatusOr<NftContext> c = NftContext::Create();
      if (c.ok()) ctx.emplace(std::move(*c));
      return c.status();
    });
    if (!made.ok()) return RunInNetns(fd, [&] { return RunNft(text); });
  }
  return ctx->Run(text);
}

absl::Status RunningCluster::SyncNftTables(const std::vector<int>* changed) {
  Impl& impl = *impl_;
  const config::ClusterSpec& spec = impl.spec;
  if (impl.nft.size() != spec.nodes.size())
    return absl::InternalError("nftables: no table recorded for every node");
  for (const config::NodeSpec& n : spec.nodes) {
    proxy::NftTable& table = impl.nft[n.index];
    const auto t0 = Clock::now();
    proxy::NftUpdate u = table.Plan(spec, changed);
    if (!u.full_sync && u.text.empty()) continue;
    auto node = impl.applied.netns.find(n.netns);
    if (node == impl.applied.netns.end())
      return absl::InternalError(StrCat("no fd of node netns ", n.netns));
    const int fd = node->second.get();
    const std::string text =
        u.full_sync ? u.replacement->RenderFull(proxy::NftBanner(spec, n.index)) : u.text;
    absl::Status s = RunNftIn(n, fd, text);
    if (s.ok()) {
      if (u.full_sync) {
        LogNft(StrCat(n.name, " full sync (the services changed): ", Ms(t0)));
      } else {
        LogNft(StrCat(n.name, " delta: ", u.commands,
                      u.commands == 1 ? " command, " : " commands, ", Ms(t0)),
               text);
      }
      table.Commit(std::move(u));
      continue;
    }
    if (u.full_sync) {
      return absl::Status(s.code(),
                          StrCat("node ", n.name, ": write the nftables table: ", s.message()));
    }
    // The node's table is not what this process wrote: the full sync repairs it.
    proxy::NftTable next = proxy::NftTable::Build(spec);
    const std::string full = next.RenderFull(proxy::NftBanner(spec, n.index));
    absl::Status f = RunNftIn(n, fd, full);
    LogNft(StrCat(n.name, " delta refused (", s.message(), "): ",
                  f.ok() ? "wrote the table whole"
                         : StrCat("the full sync failed too: ", f.message())),
           text);
    if (!f.ok()) {
      return absl::Status(f.code(),
                          StrCat("node ", n.name, ": nftables refused the change (", s.message(),
                                 ") and the whole table (", f.message(), ")"));
    }
    table = std::move(next);
  }
  return absl::OkStatus();
}

absl::StatusOr<control::ResyncAnswer> RunningCluster::ResyncNftTables(bool check_only) {
  Impl& impl = *impl_;
  const config::ClusterSpec& spec = impl.spec;
  if (!config::HasNftTables(spec.proxy_mode)) {
    return absl::FailedPreconditionError(
        "resync: this cluster's proxy_mode is \"userspace\": no node has an nftables table (the "
        "userspace proxy's service table lives in its process)");
  }
  if (spec.services.empty() || impl.nft.size() != spec.nodes.size()) {
    return absl::FailedPreconditionError(
        "resync: the lab has no services, so no node has an nftables table");
  }
  control::ResyncAnswer a;
  const proxy::NftTable next = proxy::NftTable::Build(spec);
  for (const config::NodeSpec& n : spec.nodes) {
    const auto t0 = Clock::now();
    const std::string full = next.RenderFull(proxy::NftBanner(spec, n.index));
    // What the kernel makes of a full sync (loaded where nothing sees it) against what the node
    // holds, both as nft lists them.
    MKN_ASSIGN_OR_RETURN(const std::string want, NftOutputAfterLoad(full, ListCommand()));
    const int fd = impl.applied.netns.at(n.netns).get();
    std::string have;
    MKN_RETURN_IF_ERROR(RunInNetns(fd, [&]() -> absl::Status {
      absl::StatusOr<std::string> out = NftOutput(ListCommand());
      // A table deleted by hand lists as nothing: everything in it is missing.
      if (!out.ok() &&
          out.status().message().find("No such file or directory") == std::string_view::npos)
        return out.status();
      have = out.ok() ? *out : "";
      return absl::OkStatus();
    }));
    control::NodeResync r;
    r.node = n.name;
    r.differences =
        proxy::NftListingDiff(proxy::NormalizeNftListing(have), proxy::NormalizeNftListing(want));
    // A table in sync keeps what the data path put in it (counters, round-robin positions,
    // affinity): it is written whole only when it differs.
    if (!check_only && !r.differences.empty()) {
      absl::Status s = RunNftIn(n, fd, full);
      if (!s.ok()) {
        return absl::Status(s.code(),
                            StrCat("node ", n.name, ": write the nftables table: ", s.message()));
      }
      impl.nft[n.index] = next;
      r.rewritten = true;
    }
    LogNft(StrCat(n.name, check_only ? " resync --check: " : " resync: ", r.differences.size(),
                  " differences from a full sync", r.rewritten ? ", wrote the table whole" : "",
                  ", ", Ms(t0)));
    a.nodes.push_back(std::move(r));
  }
  return a;
}

}  // namespace mkn::vnet
