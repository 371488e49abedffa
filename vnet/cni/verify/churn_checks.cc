// vnet/cni/verify/churn_checks — the churn check (id churn): N test pods ADDed then
// DELeted on one node, R rounds, and after every round the node must be as before the first (links,
// addresses, routes, neighbours, nft/iptables rules, state files: lib/cni/snapshot) with as many
// cache entries. What one careful DEL (spec.del.clean) does not show: a slow leak, a lock or an
// IP allocation lost under load, a plugin whose state grows with every pod.
//
// N is sized to the lab unless --churn says otherwise (lib/cni/suite's DefaultChurnPods: twice the
// lab's pods, 4 to 200); a round stops ADDing at its first failed ADD (the next ones would most
// likely fail the same way, each waiting out the plugin's timeout) and DELs every pod of the round.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "lib/cni/snapshot.h"
#include "lib/cni/suite.h"
#include "lib/strings/str_cat.h"
#include "vnet/cni/verify/checks.h"

namespace mkn::vnet::verify_internal {

void CheckChurn(Ctx& c, cni::CheckReport& r) {
  using Clock = std::chrono::steady_clock;
  if (std::string why = NeedsAddReason(c); !why.empty()) return Skip(r, why);
  const int lab_pods = static_cast<int>(c.spec.pods.size());
  const int n_pods = c.opt.churn_pods > 0 ? c.opt.churn_pods : cni::DefaultChurnPods(lab_pods);
  const int rounds = std::max(1, c.opt.churn_rounds);
  CniNode& n = *c.nodes[0].cni;
  std::vector<std::unique_ptr<TestPod>> pods;
  for (int i = 0; i < n_pods; ++i) {
    absl::StatusOr<std::unique_ptr<TestPod>> tp = MakeTestPod(c, 0, "churn");
    if (!tp.ok()) return Error(r, tp.status());
    pods.push_back(std::move(*tp));
  }
  absl::StatusOr<std::unique_ptr<TestPod>> warm =
      MakeTestPod(c, 0, "warmup");  // as in spec.del.clean
  if (!warm.ok()) return Error(r, warm.status());
  if (absl::Status s = AddPod(c, n, (*warm)->rt(), "warm-up pod"); !s.ok()) return Fail(r, s);
  if (absl::Status s = DelPod(c, n, (*warm)->rt(), "warm-up pod"); !s.ok()) return Fail(r, s);
  absl::StatusOr<cni::Snapshot> base = SnapshotNode(n, -1);
  if (!base.ok()) return Error(r, base.status());
  const size_t base_cache = n.Attachments().size();
  std::string times;
  for (int round = 1; round <= rounds; ++round) {
    if (c.Stopping()) {
      // A signal, the deadline or --fail-fast: not the plugin's doing.
      Error(r, StrCat("stopped before round ", round, " of ", rounds));
      break;
    }
    auto t0 = Clock::now();
    int failed = 0, added = 0;
    for (auto& p : pods) {
      if (absl::Status s =
              AddPod(c, n, p->rt(), StrCat("round ", round, " ", p->rt().container_id));
          !s.ok()) {
        ++failed;
        Fail(r, s);
        break;
      }
      ++added;
    }
    for (auto& p : pods) {  // every pod, also those whose ADD was not tried: DEL must cope
      if (absl::Status s =
              DelPod(c, n, p->rt(), StrCat("round ", round, " ", p->rt().container_id));
          !s.ok()) {
        if (failed++ == 0) Fail(r, s);
      }
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    char buf[64];
    snprintf(buf, sizeof buf, "%.2fs", s);
    StrAppend(&times, times.empty() ? "" : ", ", "round ", round, " ", buf);
    if (failed > 0) {
      Fail(r, StrCat("round ", round, ": ", failed, " calls failed (", added, " of ", n_pods,
                     " ADDs succeeded before the first failure, then ", n_pods, " DELs)"));
      break;
    }
    absl::StatusOr<cni::Snapshot> now = SnapshotNode(n, -1);
    if (!now.ok()) return Error(r, now.status());
    cni::SnapshotDiff d = cni::Diff(*base, *now);
    size_t cache = n.Attachments().size();
    if (!d.empty() || cache != base_cache) {
      Fail(r, StrCat("after round ", round, " (", n_pods, " pods ADDed then DELeted on ",
                     c.nodes[0].name, ") expected the node as before; left (+) or gone (-):\n",
                     cni::TrimLines(d.ToString(), 30),
                     cache != base_cache
                         ? StrCat("cache entries: ", base_cache, " before, ", cache, " after\n")
                         : ""));
      break;
    }
  }
  StrAppend(
      &r.evidence, n_pods, " pods x ", rounds, " rounds",
      c.opt.churn_pods > 0 ? "" : StrCat(" (sized to the lab's ", lab_pods, " pods; --churn N)"),
      ": ", times);
}

}  // namespace mkn::vnet::verify_internal
