// vnet/cni/verify/verify_test — the conformance suite's check table: its ids are the user interface
// of --only/--skip and of CI dashboards (JUnit testcase names), so their shape is pinned here. The
// checks themselves run against real plugins in examples/cni/verify_test.sh; their verdicts are
// table-tested in lib/cni/judge_test.cc.
#include "vnet/cni/verify/verify.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

namespace mkn::vnet {
namespace {

TEST(VerifyChecks, IdsAreShortDottedUniqueAndCiteTheirRule) {
  const std::regex id_shape("[a-z]+(\\.[a-z-]+)*");
  std::set<std::string> seen;
  for (const CheckInfo& c : VerifyChecks()) {
    SCOPED_TRACE(c.id);
    EXPECT_TRUE(std::regex_match(c.id, id_shape));
    EXPECT_LE(c.id.size(), 20u) << "ids are typed on the command line";
    EXPECT_TRUE(seen.insert(c.id).second) << "duplicate id";
    EXPECT_FALSE(c.title.empty());
    if (c.id.rfind("spec.", 0) == 0) {
      EXPECT_EQ(c.source.rfind("SPEC.md §", 0), 0u) << c.source;
    }
    if (c.id.rfind("model.", 0) == 0) {
      EXPECT_TRUE(c.source.find("k8s") != std::string::npos ||
                  c.source.find("CONVENTIONS.md") != std::string::npos ||
                  c.source.find("RFC") != std::string::npos)
          << c.source;
    }
  }
  EXPECT_EQ(seen.size(), 25u);
}

TEST(VerifyChecks, GlobsSelectTheFamiliesTheHelpNames) {
  auto count = [](const std::string& glob) {
    int n = 0;
    for (const CheckInfo& c : VerifyChecks()) n += cni::MatchesSelector(c.id, {glob});
    return n;
  };
  EXPECT_EQ(count("spec.del.*"), 4);    // clean, twice, netns-gone, no-add
  EXPECT_EQ(count("spec.check.*"), 2);  // pass, tamper
  EXPECT_EQ(count("model.*"), 9);
  EXPECT_EQ(count("churn"), 1);
  EXPECT_EQ(count("spec.add"), 1);  // whole id: not spec.add.result
}

TEST(VerifyChecks, ErrorsAreJudgedAfterEveryCheckThatProvokesThem) {
  // spec.errors judges every plugin error the spec checks saw: it must come after them.
  size_t errors = 0, last_spec = 0;
  for (size_t i = 0; i < VerifyChecks().size(); ++i) {
    const std::string& id = VerifyChecks()[i].id;
    if (id == "spec.errors") errors = i;
    if (id.rfind("spec.", 0) == 0 && id != "spec.errors") last_spec = i;
  }
  EXPECT_GT(errors, last_spec);
}

TEST(VerifyChecks, ChecksThatNeedTheLabToThemselvesRunAlone) {
  // A before/after diff of node 0 (del.clean, churn), GC's list of every attachment, a race of
  // its own ADDs, a measured rate, the errors of every earlier check: run beside another check,
  // each would see the other's work as its own (lib/cni/suite's PlanWaves).
  std::set<std::string> alone;
  for (const CheckInfo& c : VerifyChecks()) {
    if (c.alone) alone.insert(c.id);
  }
  EXPECT_EQ(alone, (std::set<std::string>{"spec.del.clean", "spec.add.concurrent", "spec.gc",
                                          "spec.errors", "model.bandwidth", "churn"}));
  // The model checks other than bandwidth share one wave: they only probe between lab pods.
  std::vector<bool> flags;
  for (const CheckInfo& c : VerifyChecks()) flags.push_back(c.alone);
  size_t model_waves = 0;
  for (const std::vector<size_t>& wave : cni::PlanWaves(flags)) {
    model_waves += VerifyChecks()[wave[0]].id.rfind("model.", 0) == 0;
  }
  EXPECT_EQ(model_waves, 2u);  // the probes, then bandwidth
}

}  // namespace
}  // namespace mkn::vnet
