// vnet/cluster/session, its pure part: which clusters `down` takes (no cluster, no root).
#include "vnet/cluster/session.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mkn::vnet {
namespace {

// `down`'s choice, as a table: {TARGET, --all, what is up, the state directories, $MKN_CLUSTER,
// whether TARGET names a lab file} -> what goes (or the error). $MKN_CLUSTER counts as it does for
// get, exec and logs: as if named.
TEST(ChooseDownTargets, Table) {
  using V = std::vector<std::string>;
  struct Row {
    const char* what;
    std::string target;
    bool all;
    DownScene scene;
    DownTargets want;
    absl::StatusCode code = absl::StatusCode::kOk;
  };
  auto scene = [](V up, std::string env = "", bool lab = false, V dirs = {}) {
    DownScene s;
    s.up = std::move(up);
    s.env_cluster = std::move(env);
    s.target_is_lab = lab;
    s.state_dirs = std::move(dirs);
    return s;
  };
  auto names = [](V v) {
    DownTargets t;
    t.clusters = std::move(v);
    return t;
  };
  auto lab = [](std::string path) {
    DownTargets t;
    t.lab = std::move(path);
    return t;
  };
  DownTargets none_up;
  none_up.none_up = true;
  const DownTargets error;
  constexpr absl::StatusCode kBad = absl::StatusCode::kInvalidArgument;
  const Row rows[] = {
      {"nothing up", "", false, scene({}), none_up},
      {"the only one up", "", false, scene({"a"}), names({"a"})},
      {"several up, none named", "", false, scene({"a", "b"}), error, kBad},
      {"named", "b", false, scene({"a", "b"}), names({"b"})},
      {"named, not up: down is idempotent", "c", false, scene({"a"}), names({"c"})},
      {"a lab file", "labs/x.toml", false, scene({"a", "b"}, "", true), lab("labs/x.toml")},
      {"a lab file beats $MKN_CLUSTER", "x.toml", false, scene({"a"}, "a", true), lab("x.toml")},
      {"$MKN_CLUSTER among several", "", false, scene({"a", "b"}, "b"), names({"b"})},
      {"$MKN_CLUSTER with nothing up", "", false, scene({}, "b"), names({"b"})},
      {"a name beats $MKN_CLUSTER", "a", false, scene({"a", "b"}, "b"), names({"a"})},
      {"--all: every state directory", "", true, scene({"a"}, "a", false, {"a", "b"}),
       names({"a", "b"})},
      {"--all, nothing up", "", true, scene({}), names({})},
      {"--all with a name", "a", true, scene({"a", "b"}, "", false, {"a", "b"}), error, kBad},
  };
  for (const Row& r : rows) {
    absl::StatusOr<DownTargets> got = ChooseDownTargets(r.target, r.all, r.scene);
    EXPECT_EQ(got.status().code(), r.code) << r.what << ": " << got.status();
    if (got.ok() && r.code == absl::StatusCode::kOk) {
      EXPECT_EQ(*got, r.want) << r.what;
    }
  }
}

// Several up, none named: the error lists them (the first 8, then how many more), so that the user
// can name one.
TEST(ChooseDownTargets, SeveralUpAreListed) {
  DownScene s;
  s.up = {"hostgw", "quickstart"};
  absl::StatusOr<DownTargets> got = ChooseDownTargets("", false, s);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(got.status().message(),
            "down: several clusters are up (2: hostgw, quickstart); say which with down CLUSTER or "
            "MKN_CLUSTER=CLUSTER, or take all with --all");
  s.up = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"};
  got = ChooseDownTargets("", false, s);
  EXPECT_NE(got.status().message().find("(10: c0, c1, c2, c3, c4, c5, c6, c7 and 2 more)"),
            absl::string_view::npos)
      << got.status();
}

}  // namespace
}  // namespace mkn::vnet
