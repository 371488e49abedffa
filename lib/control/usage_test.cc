#include "lib/control/usage.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mkn::control {
namespace {

const std::vector<std::string> kCommands = {"up",     "plan",   "validate", "down", "cni",
                                            "verify", "status", "get",      "exec", "conntrack",
                                            "kill",   "scale",  "logs",     "cert"};

TEST(Usage, UnknownCommandNamesTheWordAndTheNearestCommand) {
  struct Row {
    std::string word, want;
  };
  const std::vector<Row> rows = {
      {"ls",
       "unknown command \"ls\": did you mean \"status\"? (minikube-net --help lists every "
       "command)"},
      {"version",
       "unknown command \"version\": did you mean \"--version\"? (minikube-net --help "
       "lists every command)"},
      {"stauts",
       "unknown command \"stauts\": did you mean \"status\"? (minikube-net --help lists "
       "every command)"},
      {"vrify",
       "unknown command \"vrify\": did you mean \"verify\"? (minikube-net --help lists "
       "every command)"},
      {"delete",
       "unknown command \"delete\": did you mean \"down\"? (minikube-net --help lists "
       "every command)"},
      {"start",
       "unknown command \"start\": did you mean \"up\"? (minikube-net --help lists every "
       "command)"},
      {"frobnicate", "unknown command \"frobnicate\" (minikube-net --help lists every command)"},
      // Two letters, two edits from "up": not a suggestion.
      {"zz", "unknown command \"zz\" (minikube-net --help lists every command)"},
  };
  for (const Row& r : rows) EXPECT_EQ(UnknownCommand(r.word, kCommands), r.want) << r.word;
}

TEST(Usage, NearestNeedsFewerEditsThanTheWordHasLetters) {
  EXPECT_EQ(Nearest("node9", {"node1", "node2"}), "node1");  // the first of equals
  EXPECT_EQ(Nearest("web-0x", {"client", "web-0", "web-1"}), "web-0");
  EXPECT_EQ(Nearest("ls", {"up", "logs"}), "");  // 2 edits of 2 letters
  EXPECT_EQ(Nearest("x", {"y"}), "");
  EXPECT_EQ(Nearest("abcdef", {"uvwxyz"}), "");
  EXPECT_EQ(Nearest("anything", {}), "");
}

TEST(Usage, NotOneOfListsTheChoices) {
  EXPECT_EQ(NotOneOf("pdos", {"pods", "nodes", "svc"}),
            "\"pdos\" is not one of pods, nodes, svc (did you mean \"pods\"?)");
  EXPECT_EQ(NotOneOf("yaml", {"table", "json"}), "\"yaml\" is not one of table, json");
}

TEST(Usage, NoSuchSuggestsOrListsAndIsNotFound) {
  absl::Status s = NoSuch("node", "node9", "svc", {"node1", "node2"});
  EXPECT_TRUE(absl::IsNotFound(s));
  EXPECT_EQ(s.message(), "no node \"node9\" in cluster svc (did you mean \"node1\"?)");
  EXPECT_EQ(NoSuch("node", "zzz", "svc", {"node1", "node2"}).message(),
            "no node \"zzz\" in cluster svc (it has node1, node2)");
  std::vector<std::string> many;
  for (int i = 0; i < 9; ++i) many.push_back("web-" + std::to_string(i * 100));
  EXPECT_EQ(NoSuch("pod", "zzz", "big", many).message(), "no pod \"zzz\" in cluster big");
  EXPECT_EQ(NoSuch("deployment", "x", "c", {}).message(), "no deployment \"x\" in cluster c");
}

TEST(Usage, ParseIntInTakesOnlyAWholeNumberInRange) {
  EXPECT_EQ(*ParseIntIn("0", 0, 20000), 0);
  EXPECT_EQ(*ParseIntIn("20000", 0, 20000), 20000);
  EXPECT_EQ(*ParseIntIn("-3", -5, 5), -3);
  for (const char* bad : {"-1", "20001", "99999999999", "99999999999999999999999", "abc", "", "3.5",
                          "1e3", " 4", "4 ", "0x10", "--1"}) {
    absl::StatusOr<int64_t> v = ParseIntIn(bad, 0, 20000);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(v.status())) << bad;
    EXPECT_EQ(v.status().message(), std::string("want an integer 0..20000, got ") + bad);
  }
}

}  // namespace
}  // namespace mkn::control
