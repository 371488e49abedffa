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

TEST(Usage, ParseErrorTextSaysWhatWasWrongAndSuggestsTheFlag) {
  const std::vector<std::string> up_flags = {"-h",       "--help",  "--dry-run", "-o",
                                             "--output", "-d",      "--detach",  "--keep-going",
                                             "--strict", "--shell", "--workers"};
  struct Row {
    std::string command, kind, message, want;
  };
  const std::vector<Row> rows = {
      {"up", "ExtrasError", "The following argument was not expected: --detatch",
       "up: unknown flag --detatch: did you mean --detach? (minikube-net up --help lists its "
       "flags)"},
      {"up", "ExtrasError", "The following argument was not expected: --detatch=1",
       "up: unknown flag --detatch: did you mean --detach? (minikube-net up --help lists its "
       "flags)"},
      {"up", "ExtrasError", "The following argument was not expected: -detach",
       "up: unknown flag -detach: did you mean --detach? (minikube-net up --help lists its "
       "flags)"},
      // One letter is too little to guess from.
      {"up", "ExtrasError", "The following argument was not expected: -x",
       "up: unknown flag -x (minikube-net up --help lists its flags)"},
      {"up", "ExtrasError", "The following argument was not expected: --frobnicate",
       "up: unknown flag --frobnicate (minikube-net up --help lists its flags)"},
      // Several: CLI11 lists them last first; the first flag among them is the one named.
      {"up", "ExtrasError", "The following arguments were not expected: --shel extra",
       "up: unknown flag --shel: did you mean --shell? (minikube-net up --help lists its flags)"},
      {"down", "ExtrasError", "The following argument was not expected: b",
       "down: unexpected argument \"b\" (minikube-net down --help)"},
      {"down", "ExtrasError", "The following arguments were not expected: c b",
       "down: unexpected arguments \"b\" \"c\" (minikube-net down --help)"},
      {"up", "RequiredError", "lab is required", "up: lab is required (minikube-net up --help)"},
      {"", "RequiredError", "A subcommand is required",
       "a command is required (minikube-net --help lists every command)"},
      {"status", "ArgumentMismatch", "--output: 1 required TEXT:{table,json} missing",
       "status: --output needs a value (TEXT:{table,json})"},
      {"status", "ArgumentMismatch", "--output: At Most 1 required but received 2",
       "status: --output: At Most 1 required but received 2"},
      {"status", "ValidationError", "--output: \"yaml\" is not one of table, json",
       "status: --output: \"yaml\" is not one of table, json"},
  };
  for (const Row& r : rows)
    EXPECT_EQ(ParseErrorText(r.command, r.kind, r.message, up_flags), r.want) << r.message;
}

TEST(Usage, ListSomeNamesAllOrSaysHowManyMore) {
  EXPECT_EQ(ListSome({}), "");
  EXPECT_EQ(ListSome({"hostgw", "quickstart"}), "hostgw, quickstart");
  EXPECT_EQ(ListSome({"a", "b", "c"}, 3), "a, b, c");
  EXPECT_EQ(ListSome({"a", "b", "c", "d", "e"}, 3), "a, b, c and 2 more");
  EXPECT_EQ(SeveralClustersUp({"hostgw", "quickstart"}),
            "several clusters are up (2: hostgw, quickstart); say which with -c CLUSTER or "
            "MKN_CLUSTER=CLUSTER");
  std::vector<std::string> ten;
  for (int i = 0; i < 10; ++i) ten.push_back("c" + std::to_string(i));
  EXPECT_EQ(SeveralClustersUp(ten),
            "several clusters are up (10: c0, c1, c2, c3, c4, c5, c6, c7 and 2 more); say which "
            "with -c CLUSTER or MKN_CLUSTER=CLUSTER");
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
