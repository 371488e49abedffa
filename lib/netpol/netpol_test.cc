// lib/netpol: the model against the Kubernetes netpol suite's truth tables (examples/netpol: each
// case's [[expect]] rows are its truth table), selection and peers as the API documents them, and
// the compiled nftables table of each case against its golden (testdata/netpol/<case>.nft; run
// with MKN_UPDATE_GOLDEN=1 to rewrite them, then review the diff).

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "lib/config/mutate.h"
#include "lib/config/toml/load.h"
#include "lib/netpol/nft.h"
#include "lib/netpol/policy.h"
#include "lib/netpol/testing.h"
#include "lib/testing/testing.h"

namespace mkn::netpol {
namespace {

namespace fs = std::filesystem;
using config::ClusterSpec;
using config::ExpectEnd;
using config::PolicyProtocol;

using testdata::ReadFile;
using testdata::SourceDir;

int PodIndex(const ClusterSpec& spec, const std::string& key) {
  const config::PodSpec* p = spec.FindPod(key);
  EXPECT_NE(p, nullptr) << key;
  return p == nullptr ? -1 : static_cast<int>(p - spec.pods.data());
}

using testing_cases::kCases;
using testing_cases::LoadCase;

TEST(NetpolModel, EveryCaseMatchesItsTruthTable) {
  for (const char* name : kCases) {
    SCOPED_TRACE(name);
    ClusterSpec spec = LoadCase(name);
    ASSERT_FALSE(spec.expects.empty());
    for (const config::ExpectSpec& x : spec.expects) {
      ASSERT_EQ(x.from.kind, ExpectEnd::Kind::kPod);
      ASSERT_EQ(x.to.kind, ExpectEnd::Kind::kPod);
      const int s = PodIndex(spec, x.from.name), d = PodIndex(spec, x.to.name);
      const PolicyProtocol proto =
          x.proto == config::ExpectProto::kUdp ? PolicyProtocol::kUdp : PolicyProtocol::kTcp;
      const bool allowed =
          Allowed(spec, End{s, spec.pods[s].ip}, End{d, spec.pods[d].ip}, proto, x.port);
      EXPECT_EQ(allowed, x.result == config::ExpectResult::kAllow)
          << "line " << x.pos.line << ": " << x.from.name << " -> " << x.to.name << ":" << x.port;
    }
  }
}

TEST(NetpolModel, NoPolicyAllowsEverything) {
  ClusterSpec spec = LoadCase("");
  for (size_t s = 0; s < spec.pods.size(); ++s) {
    for (size_t d = 0; d < spec.pods.size(); ++d) {
      EXPECT_TRUE(Allowed(spec, End{int(s), spec.pods[s].ip}, End{int(d), spec.pods[d].ip},
                          PolicyProtocol::kTcp, 80));
    }
  }
  EXPECT_EQ(RenderNodeTable(spec, 0), "");
}

TEST(NetpolModel, OwnNodeReachesAnIsolatedPodOtherAddressesOnlyByIpBlock) {
  ClusterSpec spec = LoadCase("deny-all");
  const int a = PodIndex(spec, "x/a");
  const config::NodeSpec& own = spec.nodes[spec.pods[a].node];
  const config::NodeSpec& other = spec.nodes[1 - spec.pods[a].node];
  EXPECT_TRUE(
      Allowed(spec, End{-1, own.gateway}, End{a, spec.pods[a].ip}, PolicyProtocol::kTcp, 80));
  EXPECT_FALSE(
      Allowed(spec, End{-1, other.gateway}, End{a, spec.pods[a].ip}, PolicyProtocol::kTcp, 80));
}

TEST(NetpolModel, IpBlockOnPodCidrsSelectsPodsByAddress) {
  ClusterSpec spec = LoadCase("egress-ipblock");
  const config::NetworkPolicySpec& np = spec.network_policies[0];
  const config::PolicyPeerSpec& peer = np.egress_rules[0].peers[0];
  for (const config::PodSpec& p : spec.pods) {
    EXPECT_EQ(PeerSelectsPod(spec, np, peer, p), spec.nodes[p.node].name == "node1") << p.name;
  }
}

TEST(NetpolModel, SelectorOperators) {
  config::LabelSelector s;
  s.match_expressions = {{"tier", config::SelectorOp::kNotIn, {"db"}},
                         {"app", config::SelectorOp::kExists, {}},
                         {"legacy", config::SelectorOp::kDoesNotExist, {}}};
  EXPECT_TRUE(s.Matches({{"app", "web"}}));
  EXPECT_TRUE(s.Matches({{"app", "web"}, {"tier", "front"}}));
  EXPECT_FALSE(s.Matches({{"app", "web"}, {"tier", "db"}}));
  EXPECT_FALSE(s.Matches({{"tier", "front"}}));
  EXPECT_FALSE(s.Matches({{"app", "web"}, {"legacy", ""}}));
  EXPECT_EQ(s.ToString(), "tier notin (db),app,!legacy");
  EXPECT_EQ(config::LabelSelector{}.ToString(), "<all>");
}

TEST(NetpolNft, EveryCaseRendersItsGolden) {
  const bool update = std::getenv("MKN_UPDATE_GOLDEN") != nullptr;
  for (const char* name : kCases) {
    SCOPED_TRACE(name);
    ClusterSpec spec = LoadCase(name);
    std::string text;
    for (const config::NodeSpec& n : spec.nodes) text += RenderNodeTable(spec, n.index);
    const fs::path golden = SourceDir() / "testdata/netpol" / (std::string(name) + ".nft");
    if (update) {
      fs::create_directories(golden.parent_path());
      std::ofstream(golden) << text;
      continue;
    }
    ASSERT_TRUE(fs::exists(golden)) << golden << " missing; run with MKN_UPDATE_GOLDEN=1";
    EXPECT_EQ(text, ReadFile(golden));
  }
}

// `apply` on a running cluster: a file resolved against the live lab, composed with the lab's
// policies, and written as each node's delta.
ClusterSpec Applied(const ClusterSpec& live, const std::string& text, config::PolicyEdits& edits,
                    const std::vector<config::NetworkPolicySpec>& lab) {
  config::PoliciesResult r = config::LoadPolicies(text, "apply.toml", live);
  EXPECT_TRUE(r.policies.has_value()) << r.diags.FormatAll();
  for (config::NetworkPolicySpec& p : r.policies.value_or(std::vector<config::NetworkPolicySpec>{}))
    config::ApplyPolicy(edits, live.network_policies, {std::move(p), "apply.toml", text});
  ClusterSpec next = live;
  next.network_policies = config::ComposePolicies(lab, edits);
  return next;
}

// A kill elsewhere changes peer sets only: the delta deletes the address that went and adds the
// one that came, in place (the other elements stay); a node none of whose tables change gets
// nothing.
TEST(NetpolNft, AKillIsASetDelta) {
  ClusterSpec before = LoadCase("and-vs-or");
  ClusterSpec after = before;
  ASSERT_TRUE(config::RecreatePod(after, "z/a").ok());
  const std::string old_ip = before.FindPod("z/a")->ip.ToString();
  const std::string new_ip = after.FindPod("z/a")->ip.ToString();
  ASSERT_NE(old_ip, new_ip);
  const int node1 = 0, node2 = 1;  // z/a runs on node1, x/b (whose OR names z) on node2
  EXPECT_EQ(RenderChange(BuildNodeTable(before, node1), BuildNodeTable(after, node1)), "");
  EXPECT_EQ(RenderChange(BuildNodeTable(before, node2), BuildNodeTable(after, node2)),
            "delete element inet mkn-netpol x/or/in1/peer2 { " + old_ip +
                " }\nadd element inet mkn-netpol x/or/in1/peer2 { " + new_ip + " }\n");
}

// A pod that comes or goes (scale) is one element in each node's peer sets (and its own node's
// chains when it is isolated): a set of 1000 pods is not written again.
TEST(NetpolNft, APodGoneIsOneElementPerSet) {
  ClusterSpec before = LoadCase("and-vs-or");
  ClusterSpec after = before;
  const std::string ip = before.FindPod("z/a")->ip.ToString();
  after.pods[PodIndex(after, "z/a")].ip = {};  // no address: as a pod whose ADD failed, gone
  EXPECT_EQ(RenderChange(BuildNodeTable(before, 0), BuildNodeTable(after, 0)), "");
  EXPECT_EQ(RenderChange(BuildNodeTable(before, 1), BuildNodeTable(after, 1)),
            "delete element inet mkn-netpol x/or/in1/peer2 { " + ip + " }\n");
  EXPECT_EQ(RenderChange(BuildNodeTable(after, 1), BuildNodeTable(before, 1)),
            "add element inet mkn-netpol x/or/in1/peer2 { " + ip + " }\n");
}

// A policy's rules live in its own chain, which every pod it isolates jumps to: changing them
// rewrites that one chain in each node, never the pods' chains (1000 pods: one chain, not 1000).
TEST(NetpolNft, AChangedPolicyRewritesItsChainOnly) {
  const ClusterSpec lab = LoadCase("pod-selector");
  config::PolicyEdits edits;
  std::string file = ReadFile(SourceDir() / "examples/netpol/cases/pod-selector.toml");
  const size_t at = file.find("[[expect]]");
  file = file.substr(0, at) + "  ports = [{ port = 81 }]\n";
  const ClusterSpec next = Applied(lab, file, edits, lab.network_policies);
  EXPECT_EQ(RenderChange(BuildNodeTable(lab, 0), BuildNodeTable(next, 0)),
            "flush chain inet mkn-netpol policy/x/allow-from-b/ingress\n"
            "add rule inet mkn-netpol policy/x/allow-from-b/ingress ip saddr "
            "@x/allow-from-b/in1/peer1 meta l4proto tcp th dport 81 accept comment "
            "\"x/allow-from-b ingress #1\"\n");
}

TEST(NetpolLive, ApplyAndDeleteAreDeltas) {
  const ClusterSpec lab = LoadCase("deny-ingress");
  config::PolicyEdits edits;
  const std::string file = ReadFile(SourceDir() / "examples/netpol/cases/pod-selector.toml");
  const ClusterSpec next = Applied(lab, file, edits, lab.network_policies);
  ASSERT_EQ(next.network_policies.size(), 2u);
  EXPECT_EQ(next.network_policies[1].key(), "x/allow-from-b");
  // x/a runs on node1: its ingress chain gains the new policy's rule, and a set comes; nothing
  // that stays is deleted, the counters stay.
  const std::string delta = RenderChange(BuildNodeTable(lab, 0), BuildNodeTable(next, 0));
  const std::string gw = "ip saddr { 10.244.0.1, " + next.nodes[0].proxy_ip.ToString() + " }";
  EXPECT_EQ(delta,
            "flush chain inet mkn-netpol ingress/x/a\n"
            "add set inet mkn-netpol x/allow-from-b/in1/peer1 { type ipv4_addr; "
            "comment \"x/allow-from-b ingress #1 from #1: pods\"; }\n"
            "add element inet mkn-netpol x/allow-from-b/in1/peer1 { " +
                next.FindPod("x/b")->ip.ToString() +
                " }\n"
                "add chain inet mkn-netpol policy/x/allow-from-b/ingress\n"
                "add rule inet mkn-netpol ingress/x/a " +
                gw +
                " accept comment \"the pod's own node\"\n"
                "add rule inet mkn-netpol ingress/x/a jump policy/x/deny-ingress/ingress\n"
                "add rule inet mkn-netpol ingress/x/a jump policy/x/allow-from-b/ingress\n"
                "add rule inet mkn-netpol ingress/x/a counter name \"drops-ingress/x/a\" drop\n"
                "add rule inet mkn-netpol policy/x/allow-from-b/ingress ip saddr "
                "@x/allow-from-b/in1/peer1 accept comment \"x/allow-from-b ingress #1\"\n");
  // node2 has x/b only, which the new policy does not select: its table does not change.
  EXPECT_EQ(RenderChange(BuildNodeTable(lab, 1), BuildNodeTable(next, 1)), "");
  // Deleting the lab's policy leaves x/a isolated by the applied one only; x/c is isolated no
  // more: its chain and counter go, after the forward chain stops jumping to it.
  ASSERT_TRUE(config::DeletePolicy(edits, lab.network_policies, "x/deny-ingress").ok());
  ClusterSpec after = next;
  after.network_policies = config::ComposePolicies(lab.network_policies, edits);
  ASSERT_EQ(after.network_policies.size(), 1u);
  const std::string del = RenderChange(BuildNodeTable(next, 0), BuildNodeTable(after, 0));
  EXPECT_NE(del.find("flush chain inet mkn-netpol forward-ingress\n"), std::string::npos) << del;
  EXPECT_LT(del.find("flush chain inet mkn-netpol forward-ingress\n"),
            del.find("delete chain inet mkn-netpol ingress/x/c\n"))
      << del;
  EXPECT_NE(del.find("delete counter inet mkn-netpol drops-ingress/x/c\n"), std::string::npos);
  EXPECT_EQ(del.find("delete counter inet mkn-netpol drops-ingress/x/a"), std::string::npos)
      << del;  // its counter stays
  EXPECT_NE(del.find("delete chain inet mkn-netpol policy/x/deny-ingress/ingress\n"),
            std::string::npos)
      << del;
  // And the last policy gone: the table goes.
  ASSERT_TRUE(config::DeletePolicy(edits, lab.network_policies, "x/allow-from-b").ok());
  ClusterSpec none = after;
  none.network_policies = config::ComposePolicies(lab.network_policies, edits);
  EXPECT_TRUE(none.network_policies.empty());
  EXPECT_EQ(RenderChange(BuildNodeTable(after, 0), BuildNodeTable(none, 0)),
            "delete table inet mkn-netpol\n");
  EXPECT_TRUE(
      absl::IsNotFound(config::DeletePolicy(edits, lab.network_policies, "x/deny-ingress")));
  // Applied again, the lab's policy is back (its key no longer deleted).
  config::PolicyEdits again = edits;
  const ClusterSpec back =
      Applied(none, ReadFile(SourceDir() / "examples/netpol/cases/deny-ingress.toml"), again,
              lab.network_policies);
  EXPECT_EQ(back.network_policies, lab.network_policies);
  EXPECT_TRUE(again.deleted.empty());
}

TEST(NetpolLive, ApplyResultsAreKubectls) {
  const ClusterSpec lab = LoadCase("deny-ingress");
  config::PolicyEdits edits;
  const std::string text = ReadFile(SourceDir() / "examples/netpol/cases/deny-ingress.toml");
  config::PoliciesResult r = config::LoadPolicies(text, "d.toml", lab);
  ASSERT_TRUE(r.policies.has_value());
  EXPECT_EQ(config::ApplyPolicy(edits, lab.network_policies, {(*r.policies)[0], "d.toml", text}),
            "unchanged");
  config::NetworkPolicySpec changed = (*r.policies)[0];
  changed.egress = true;
  EXPECT_EQ(config::ApplyPolicy(edits, lab.network_policies, {changed, "d.toml", text}),
            "configured");
  changed.name = "other";
  EXPECT_EQ(config::ApplyPolicy(edits, lab.network_policies, {changed, "d.toml", text}), "created");
}

// What apply refuses, each at its line and column, and what it only warns about.
TEST(NetpolLive, ApplyFileErrors) {
  const ClusterSpec lab = LoadCase("");
  struct Case {
    std::string text, want;
  } cases[] = {
      {"[[service]]\nname = \"web\"\n",
       "apply.toml:1:1: apply takes [[network_policy]] tables "
       "only: [[service]] belongs in the lab file"},
      {"[cluster]\nname = \"x\"\n",
       "apply.toml:1:1: apply takes [[network_policy]] tables only: "
       "[cluster] belongs in the lab file"},
      {"# nothing\n", "apply.toml:1:1: no [[network_policy]] table to apply"},
      {"[[network_policy]]\nname = \"p\"\nnamespace = \"q\"\n",
       "apply.toml:3:13: network_policy \"p\": namespace \"q\" does not exist in cluster netpol "
       "(its namespaces: default, kube-system, x, y, z)"},
      {"[[network_policy]]\nname = \"p\"\npolicy_types = [\"Sideways\"]\n",
       "apply.toml:3:16: network_policy \"p\": policy_types: \"Sideways\" is not \"Ingress\" or "
       "\"Egress\""},
      {"[[network_policy]]\nname = \"p\"\n[[network_policy]]\nname = \"p\"\n",
       "apply.toml:4:8: network_policy \"p\": duplicate network_policy name"},
      {"[[network_policy\n", "apply.toml:1:"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    config::PoliciesResult r = config::LoadPolicies(c.text, "apply.toml", lab);
    EXPECT_FALSE(r.policies.has_value());
    EXPECT_NE(r.diags.FormatAll().find(c.want), std::string::npos) << r.diags.FormatAll();
  }
  config::PoliciesResult w = config::LoadPolicies(
      "[[network_policy]]\nname = \"p\"\nnamespace = \"x\"\n[[expect]]\nfrom = \"x/a\"\n", "a.toml",
      lab);
  ASSERT_TRUE(w.policies.has_value()) << w.diags.FormatAll();
  EXPECT_EQ(w.diags.FormatAll(),
            "a.toml:4:1: warning: [[expect]] rows are ignored by apply (check reads the lab "
            "file's rows)\n");
}

// What vnet/cluster writes: BuildNodeTables is BuildNodeTable of each node, computed once; at the
// 1000-pod benchmark's lab it takes milliseconds (printed, not asserted: bench/netpol times it).
TEST(NetpolNft, AllNodesAtOnceAreEachNode) {
  for (const char* name : {"and-vs-or", "named-egress"}) {
    const ClusterSpec spec = LoadCase(name);
    const std::vector<NodeTable> all = BuildNodeTables(spec);
    ASSERT_EQ(all.size(), spec.nodes.size());
    for (const config::NodeSpec& n : spec.nodes)
      EXPECT_EQ(all[n.index].full, BuildNodeTable(spec, n.index).full) << name << " " << n.name;
  }
  config::LoadResult r =
      config::Load(ReadFile(SourceDir() / "bench/netpol/labs/scale-10x100.toml"), "scale.toml");
  ASSERT_TRUE(r.spec.has_value()) << r.diags.FormatAll();
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<NodeTable> all = BuildNodeTables(*r.spec);
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_EQ(all[0].chains.size(), 100u + 2u);  // 100 pods, the policy's, forward-ingress
  EXPECT_EQ(all[0].sets.begin()->second.size(), 1000u);
  std::cout << "BuildNodeTables, 10 nodes x 100 pods: " << us << " us\n";
}

// trace's verdict: the counter that moved names the pod, the direction and the policies isolating
// it.
TEST(NetpolNft, DropVerdictNamesThePolicies) {
  const ClusterSpec spec = LoadCase("ports-union");
  std::map<std::string, uint64_t> before = {{"drops-ingress/x/a", 3}, {"drops-egress/x/b", 0}};
  EXPECT_EQ(DropVerdict(spec, before, before), "");
  std::map<std::string, uint64_t> after = before;
  after["drops-ingress/x/a"] = 4;
  std::string want = "dropped by NetworkPolicy ";
  for (const config::NetworkPolicySpec& np : spec.network_policies) {
    if (np.pod_selector.Matches(spec.FindPod("x/a")->labels) && np.ns == "x" && np.ingress)
      want += (want.back() == ' ' ? "" : ", ") + np.ns + "/" + np.name;
  }
  EXPECT_EQ(DropVerdict(spec, before, after), want + " (ingress of x/a)");
  const ClusterSpec deny = LoadCase("deny-ingress");
  EXPECT_EQ(DropVerdict(deny, {}, {{"drops-ingress/x/c", 1}}),
            "dropped by NetworkPolicy x/deny-ingress (ingress of x/c)");
}

TEST(NetpolNft, CountersAreReadBack) {
  const std::string listing =
      "table inet mkn-netpol {\n\tcounter drops-egress/x/a {\n\t\tcomment \"x/a egress\"\n"
      "\t\tpackets 3 bytes 180\n\t}\n\tcounter drops-ingress/x/a {\n\t\tpackets 0 bytes "
      "0\n\t}\n}\n";
  std::map<std::string, uint64_t> c = ParseCounters(listing);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(c["drops-egress/x/a"], 3u);
  EXPECT_EQ(c["drops-ingress/x/a"], 0u);
  EXPECT_EQ(DropCounter("web-0", true), "drops-ingress/default/web-0");
  EXPECT_EQ(DropCounter("x/a", false), "drops-egress/x/a");
}

}  // namespace
}  // namespace mkn::netpol
