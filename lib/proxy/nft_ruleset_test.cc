#include "lib/proxy/nft_ruleset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "lib/config/toml/load.h"
#include "lib/nat/service_table.h"
#include "lib/proxy/nft_table.h"
#include "lib/strings/str_cat.h"

namespace mkn::proxy {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

// A file of the source tree: under $MKN_SOURCE_DIR (ctest sets it), else the working directory.
std::string ReadFile(const std::string& path) {
  const char* dir = std::getenv("MKN_SOURCE_DIR");
  std::ifstream in(dir != nullptr ? StrCat(dir, "/", path) : path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// testdata/nft/sync/lab.toml: examples/services plus a source-hash service, a pod that serves
// "http" on another port, a sticky round-robin UDP NodePort and a NodePort without endpoints.
class NftRuleset : public ::testing::Test {
 protected:
  void SetUp() override {
    config::LoadResult r = config::Load(ReadFile("testdata/nft/sync/lab.toml"), "lab.toml");
    ASSERT_TRUE(r.spec) << "run from the source tree (ctest does): " << r.diags.FormatAll();
    spec_ = *r.spec;
    text_ = RenderNftRuleset(spec_, 0);
    NftTable t = NftTable::Build(spec_);
    sets_ = t.Sets();
    chains_ = t.Chains();
  }
  const config::ServiceSpec& Svc(const std::string& name) const {
    for (const auto& s : spec_.services) {
      if (s.name == name) return s;
    }
    ADD_FAILURE() << "no service " << name;
    return spec_.services.front();
  }
  std::string Chain(const std::string& prefix, const std::string& svc) const {
    return ServicePortChain(prefix, Svc(svc), Svc(svc).ports[0]);
  }
  // The elements of a set or map (empty if there is no such set).
  std::map<std::string, NftElement> Elements(const std::string& set) const {
    auto it = sets_.find(set);
    return it == sets_.end() ? std::map<std::string, NftElement>{} : it->second.second;
  }
  std::string Value(const std::string& set, const std::string& key) const {
    auto e = Elements(set);
    auto it = e.find(key);
    return it == e.end() ? "<none>" : it->second.value;
  }
  std::vector<std::string> Rules(const std::string& chain) const {
    auto it = chains_.find(chain);
    return it == chains_.end() ? std::vector<std::string>{} : it->second.rules;
  }
  std::string Ip(const std::string& pod) const { return spec_.FindPod(pod)->ip.ToString(); }

  config::ClusterSpec spec_;
  std::string text_;
  std::map<std::string, std::pair<NftSetDecl, std::map<std::string, NftElement>>> sets_;
  std::map<std::string, NftChain> chains_;
};

TEST_F(NftRuleset, OneTransactionThatReplacesTheTable) {
  std::istringstream in(text_);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_GE(lines.size(), 3u);
  // Comments first, then: create if missing (so delete cannot fail), delete, rebuild.
  size_t i = 0;
  while (lines[i].rfind("#", 0) == 0) ++i;
  EXPECT_EQ(lines[i], "table ip kube-proxy {}");
  EXPECT_EQ(lines[i + 1], "delete table ip kube-proxy");
  EXPECT_EQ(lines[i + 2], "table ip kube-proxy {");
  EXPECT_EQ(lines.back(), "}");
  // Nothing but this table is touched: one table block, no other command.
  for (size_t k = i + 3; k + 1 < lines.size(); ++k) EXPECT_NE(lines[k].rfind("table", 0), 0u);
}

TEST_F(NftRuleset, BaseChainsAsKubeProxy) {
  EXPECT_EQ(chains_["nat-prerouting"].decl,
            std::vector<std::string>{"type nat hook prerouting priority -100; policy accept;"});
  EXPECT_EQ(chains_["nat-output"].decl,
            std::vector<std::string>{"type nat hook output priority -100; policy accept;"});
  EXPECT_EQ(chains_["nat-postrouting"].decl,
            std::vector<std::string>{"type nat hook postrouting priority 100; policy accept;"});
  // Pick first (services), then DNAT to what was picked (endpoints).
  EXPECT_EQ(Rules("nat-prerouting"), (std::vector<std::string>{"jump services", "jump endpoints"}));
  EXPECT_EQ(Rules("nat-output"), (std::vector<std::string>{"jump services", "jump endpoints"}));
  EXPECT_THAT(Rules("services"),
              ::testing::Contains("ip daddr . meta l4proto . th dport vmap @service-ips"));
  EXPECT_THAT(Rules("services"),
              ::testing::Contains("fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th "
                                  "dport vmap @service-nodeports"));
  EXPECT_THAT(Rules("endpoints"),
              ::testing::ElementsAre(
                  "meta l4proto { tcp, udp } dnat ip to ip daddr . meta l4proto . th dport . ct "
                  "mark map @service-endpoints",
                  "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto { tcp, udp } dnat ip "
                  "to meta l4proto . th dport . ct mark map @nodeport-endpoints"));
  EXPECT_THAT(Rules("masquerading"),
              ::testing::ElementsAre("ip saddr . ip daddr @hairpin jump mark-for-masquerade",
                                     "mark and 0x4000 == 0 return", "mark set mark xor 0x4000",
                                     "masquerade fully-random"));
  EXPECT_THAT(Rules("cluster-ips-check"),
              ::testing::Contains(HasSubstr("ip daddr { 10.96.0.0/12 } drop")));
}

// Every service port has its service-ips element, endpoints or not (its counter never restarts);
// a port's element names its own chain when the pick keeps state or has two ways in.
TEST_F(NftRuleset, EveryServicePortInServiceIps) {
  auto e = Elements("service-ips");
  EXPECT_EQ(e.size(), 9u);
  EXPECT_EQ(Value("service-ips", "10.96.0.10 . tcp . 80"), "goto " + Chain("service", "web"));
  EXPECT_EQ(e["10.96.0.10 . tcp . 80"].comment, "default/web:80");
  EXPECT_EQ(Value("service-ips", "10.96.0.11 . tcp . 80"), "goto " + Chain("service", "web-np"));
  EXPECT_EQ(Value("service-ips", "10.96.0.12 . tcp . 80"), "goto pick-random");  // least-conn
  EXPECT_EQ(Value("service-ips", "10.96.0.13 . tcp . 80"),
            "goto " + Chain("service", "web-sticky"));
  EXPECT_EQ(Value("service-ips", "10.96.0.14 . tcp . 80"), "goto pick-source-hash");
  EXPECT_EQ(Value("service-ips", "10.96.0.53 . udp . 53"), "goto pick-random");
  EXPECT_EQ(Value("service-ips", "10.96.0.99 . tcp . 80"), "goto pick-random");  // no endpoints
  EXPECT_EQ(sets_["service-ips"].first.decl[1], "counter");
  EXPECT_EQ(sets_["service-nodeports"].first.decl[1], "counter");
  // Every service's ClusterIP is in cluster-ips, endpoints or not.
  EXPECT_EQ(Elements("cluster-ips").size(), spec_.services.size());
}

// A shared pick chain finds the port in the set of its endpoint count, and sets the slot.
TEST_F(NftRuleset, SharedPicksBySetOfEndpointCount) {
  EXPECT_THAT(Rules("pick-random"),
              ::testing::ElementsAre("ip daddr . meta l4proto . th dport @pick-random-2 ct mark "
                                     "set numgen random mod 2 offset 1",
                                     "ip daddr . meta l4proto . th dport @pick-random-4 ct mark "
                                     "set numgen random mod 4 offset 1"));
  EXPECT_THAT(Rules("pick-source-hash"),
              ::testing::ElementsAre("ip daddr . meta l4proto . th dport @pick-source-hash-4 ct "
                                     "mark set jhash ip saddr mod 4 seed 0x6d6b6e31 offset 1"));
  EXPECT_EQ(Elements("pick-random-2").count("10.96.0.53 . udp . 53"), 1u);
  EXPECT_EQ(Elements("pick-random-4").count("10.96.0.12 . tcp . 80"), 1u);
  EXPECT_EQ(Elements("pick-source-hash-4").count("10.96.0.14 . tcp . 80"), 1u);
  // No set for an empty service, none for ports with their own chain.
  EXPECT_EQ(Elements("pick-random-4").size(), 1u);
  EXPECT_EQ(sets_.count("pick-random-0"), 0u);
}

// The slots: ClusterIP . protocol . port . 1..N -> address . target port, a named target port
// resolved per pod (odd serves "http" on 9090).
TEST_F(NftRuleset, EndpointSlotsResolveNamedPortsPerPod) {
  // Slots in the order of the service's endpoints (the pods' order in the spec).
  const auto& web = Svc("web");
  int slot = 0;
  for (int i : web.endpoints) {
    const config::PodSpec& pod = spec_.pods[i];
    ++slot;
    const std::string port = pod.name == "odd" ? "9090" : "8080";
    EXPECT_EQ(Value("service-endpoints", StrCat("10.96.0.10 . tcp . 80 . ", slot)),
              StrCat(pod.ip.ToString(), " . ", port))
        << pod.name;
    // A numeric target port is the same for every pod, odd included.
    EXPECT_EQ(Value("service-endpoints", StrCat("10.96.0.11 . tcp . 80 . ", slot)),
              StrCat(pod.ip.ToString(), " . 8080"));
    // NodePort's twin, keyed by protocol . node port . slot.
    EXPECT_EQ(Value("nodeport-endpoints", StrCat("tcp . 30080 . ", slot)),
              StrCat(pod.ip.ToString(), " . 8080"));
  }
  EXPECT_EQ(slot, 4);
  EXPECT_EQ(Value("service-endpoints", "10.96.0.10 . tcp . 80 . 5"), "<none>");
  EXPECT_EQ(Value("service-endpoints", "10.96.0.53 . udp . 53 . 2"), Ip("dns-1") + " . 5353");
  // 4 web endpoints x 5 web services + 2 dns + 2 sticky-np.
  EXPECT_EQ(Elements("service-endpoints").size(), 4u * 5 + 2 + 2);
  // Every endpoint once in @hairpin, twice over: ip . ip.
  EXPECT_EQ(Elements("hairpin").size(), 6u);
  EXPECT_EQ(Elements("hairpin").count(Ip("odd") + " . " + Ip("odd")), 1u);
}

TEST_F(NftRuleset, PodSourcesKeepTheirAddressOthersAreMasqueraded) {
  EXPECT_EQ(Rules("services")[0],
            "ip daddr @cluster-ips ip saddr != 10.244.0.0/16 jump mark-for-masquerade");
  // Unconditional marks: NodePort's external chains only.
  for (const auto& [name, c] : chains_) {
    for (const std::string& r : c.rules) {
      if (r != "jump mark-for-masquerade") continue;
      EXPECT_EQ(name.rfind("external-", 0), 0u) << name;
    }
  }
}

TEST_F(NftRuleset, RoundRobinHasItsOwnCounter) {
  EXPECT_THAT(Rules(Chain("service", "web")),
              ::testing::ElementsAre("ct mark set numgen inc mod 4 offset 1 comment \"round-robin: "
                                     "one counter for every new flow\""));
}

TEST_F(NftRuleset, ClientIpAffinity) {
  const auto& s = Svc("web-sticky");
  std::vector<std::string> rules = Rules(Chain("service", "web-sticky"));
  ASSERT_EQ(rules.size(), 4u * 2 + 1);
  int k = 0;
  for (int i : s.endpoints) {
    const config::PodSpec& pod = spec_.pods[i];
    const std::string affinity = EndpointChain("affinity", s, s.ports[0], pod.ip.ToString(), 8080);
    ++k;
    // The first set that knows the client wins; then the pick; then the chosen set learns.
    EXPECT_EQ(rules[k - 1], StrCat("ct mark 0 ip saddr @", affinity, " ct mark set ", k));
    EXPECT_EQ(rules[4 + k], StrCat("ct mark ", k, " update @", affinity, " { ip saddr }"));
    ASSERT_EQ(sets_.count(affinity), 1u);
    EXPECT_EQ(
        sets_[affinity].first.decl,
        (std::vector<std::string>{"type ipv4_addr", "flags dynamic,timeout", "timeout 600s"}));
    EXPECT_TRUE(sets_[affinity].first.dynamic);
  }
  EXPECT_EQ(rules[4], "ct mark 0 ct mark set numgen random mod 4 offset 1");
  // Only web-sticky's and sticky-np's endpoints have sets.
  int sets = 0;
  for (const auto& [name, set] : sets_) sets += name.rfind("affinity-", 0) == 0;
  EXPECT_EQ(sets, 4 + 2);
}

TEST_F(NftRuleset, NoEndpointsRejectsTcpWithResetUdpWithIcmp) {
  EXPECT_EQ(Value("no-endpoint-services", "10.96.0.99 . tcp . 80"), "goto reject-chain");
  EXPECT_EQ(Elements("no-endpoint-services")["10.96.0.99 . tcp . 80"].comment, "default/empty:80");
  EXPECT_EQ(Value("no-endpoint-services", "10.96.0.98 . udp . 53"), "goto reject-chain");
  EXPECT_EQ(Value("no-endpoint-nodeports", "udp . 30053"), "goto reject-chain");
  EXPECT_EQ(Elements("no-endpoint-services").size(), 2u);
  EXPECT_THAT(Rules("reject-chain"),
              ::testing::ElementsAre("meta l4proto tcp reject with tcp reset",
                                     "reject with icmp type port-unreachable"));
  // Checked where packets that were not DNATed go: forwarded, to the node, from the node.
  EXPECT_THAT(Rules("filter-forward"),
              ::testing::Contains("ct state new jump service-endpoints-check"));
  EXPECT_THAT(Rules("filter-input"),
              ::testing::Contains("ct state new jump nodeport-endpoints-check"));
  EXPECT_THAT(Rules("filter-output"),
              ::testing::Contains("ct state new jump service-endpoints-check"));
  // No slot of a service without endpoints.
  for (const auto& [key, e] : Elements("service-endpoints"))
    EXPECT_EQ(key.rfind("10.96.0.99 ", 0), std::string::npos) << key;
}

TEST_F(NftRuleset, NodePortMasqueradesThenJoinsTheServiceChain) {
  const std::string external = Chain("external", "web-np");
  EXPECT_EQ(Value("service-nodeports", "tcp . 30080"), "goto " + external);
  EXPECT_EQ(Rules(external), (std::vector<std::string>{"jump mark-for-masquerade",
                                                       "goto " + Chain("service", "web-np")}));
  EXPECT_EQ(Rules(Chain("service", "web-np")),
            std::vector<std::string>{"ct mark set numgen random mod 4 offset 1"});
  // web-np, sticky-np and empty-np.
  EXPECT_EQ(Elements("service-nodeports").size(), 3u);
}

TEST_F(NftRuleset, AlgorithmsThatNftablesCanAndCannotDo) {
  // least-conn is served as random, and the text says why.
  EXPECT_EQ(Value("service-ips", "10.96.0.12 . tcp . 80"), "goto pick-random");
  EXPECT_THAT(text_, HasSubstr("# least-conn cannot be expressed in nftables"));
}

TEST_F(NftRuleset, ChainNamesAsKubeProxy) {
  const auto& web = Svc("web");
  EXPECT_THAT(ServicePortChain("service", web, web.ports[0]),
              ::testing::MatchesRegex("service-[A-Z2-7]{8}-default/web/tcp/80"));
  EXPECT_THAT(EndpointChain("affinity", web, web.ports[0], "10.244.0.3", 8080),
              ::testing::MatchesRegex("affinity-[A-Z2-7]{8}-default/web/tcp/80__10.244.0.3/8080"));
  // Different services, different hashes.
  EXPECT_NE(Chain("service", "web").substr(8, 8), Chain("service", "web-np").substr(8, 8));
}

TEST_F(NftRuleset, DeterministicAndTheSameOnEveryNodeButTheBanner) {
  EXPECT_EQ(RenderNftRuleset(spec_, 0), text_);
  std::string other = RenderNftRuleset(spec_, 1);
  auto body = [](const std::string& t) { return t.substr(t.find("\ntable ip kube-proxy {}")); };
  EXPECT_EQ(body(other), body(text_));
  EXPECT_THAT(other, HasSubstr("# minikube-net svcnft/node2:"));
}

TEST_F(NftRuleset, NoServicesStillAValidEmptyTable) {
  spec_.services.clear();
  std::string t = RenderNftRuleset(spec_, 0);
  EXPECT_THAT(t, HasSubstr("\tchain services {\n"));
  EXPECT_THAT(t, Not(HasSubstr("elements")));
}

// --- reading the counters back -----------------------------------------------------------------

// Real `nft -j list table ip kube-proxy` output of examples/services in nftables mode, after two
// new flows to web and one to web-np from node1 (how it was made: testdata/nft/services.toml).
TEST(NftCounters, RealOutputOfANode) {
  config::LoadResult lab = config::Load(ReadFile("testdata/nft/services.toml"), "services.toml");
  ASSERT_TRUE(lab.spec) << lab.diags.FormatAll();
  const std::string out = ReadFile("testdata/nft/services-node1.json");
  ASSERT_FALSE(out.empty()) << "run from the source tree (ctest does)";
  absl::StatusOr<std::vector<std::vector<uint64_t>>> c = ParseNftCounters(*lab.spec, out);
  ASSERT_TRUE(c.ok()) << c.status();
  std::map<std::string, uint64_t> by_name;
  for (size_t i = 0; i < lab.spec->services.size(); ++i) {
    ASSERT_EQ((*c)[i].size(), 1u);
    by_name[lab.spec->services[i].name] = (*c)[i][0];
  }
  EXPECT_EQ(by_name, (std::map<std::string, uint64_t>{{"web", 2},
                                                      {"web-np", 1},
                                                      {"web-lc", 0},
                                                      {"web-sticky", 0},
                                                      {"dns", 0},
                                                      {"empty", 0}}));  // no endpoints, no chain
}

// Trimmed rows, against the fixture's lab: which elements count, and what is refused.
TEST_F(NftRuleset, CountersRows) {
  auto elem = [](const std::string& key, const std::string& counter) {
    return StrCat(R"([{"elem": {"val": {"concat": )", key, "}", counter.empty() ? "" : ", ",
                  counter, R"(}}, {"goto": {"target": "x"}}])");
  };
  auto map = [](const std::string& name, const std::vector<std::string>& elems) {
    std::string list;
    for (const std::string& e : elems) list += (list.empty() ? "" : ", ") + e;
    return StrCat(R"({"map": {"family": "ip", "name": ")", name,
                  R"(", "table": "kube-proxy", "map": "verdict", "elem": [)", list, "]}}");
  };
  auto doc = [](const std::vector<std::string>& items) {
    std::string out = R"({"nftables": [{"metainfo": {"json_schema_version": 1}})";
    for (const std::string& i : items) out += ", " + i;
    return out + "]}";
  };
  const std::string web = R"(["10.96.0.10", "tcp", 80])", dns = R"(["10.96.0.53", "udp", 53])";
  const std::string np = R"(["tcp", 30080])";
  const std::string c3 = R"("counter": {"packets": 3, "bytes": 180})";
  struct Row {
    const char* what;
    std::string text;
    uint64_t web, dns, web_np;  // expected new flows
    const char* error;          // or the refusal
  };
  const Row rows[] = {
      {"a counted element", doc({map("service-ips", {elem(web, c3)})}), 3, 0, 0, nullptr},
      {"ClusterIP and NodePort add up",
       doc({map("service-ips", {elem(web, c3), elem(R"(["10.96.0.11", "tcp", 80])", c3)}),
            map("service-nodeports", {elem(np, c3)})}),
       3, 0, 6, nullptr},
      {"an element without a counter", doc({map("service-ips", {elem(dns, "")})}), 0, 0, 0,
       nullptr},
      {"no maps at all", doc({}), 0, 0, 0, nullptr},
      {"another map with the same keys counts nothing",
       doc({map("no-endpoint-services", {elem(web, c3)})}), 0, 0, 0, nullptr},
      {"a key no port of the lab has (an older ruleset)",
       doc({map("service-ips", {elem(R"(["10.96.0.10", "tcp", 81])", c3),
                                elem(R"(["10.96.7.7", "tcp", 80])", c3)})}),
       0, 0, 0, nullptr},
      {"the same port, the wrong protocol",
       doc({map("service-ips", {elem(R"(["10.96.0.53", "tcp", 53])", c3)})}), 0, 0, 0, nullptr},
      {"a set, chains and rules are no counted maps",
       doc({R"({"set": {"name": "service-ips", "elem": ["10.96.0.10"]}})",
            R"({"rule": {"chain": "services", "expr": [{"counter": {"packets": 9}}]}})"}),
       0, 0, 0, nullptr},
      {"odd elements are skipped",
       doc({map("service-ips", {"1", "[]", R"([{"elem": {"val": 7}}])"})}), 0, 0, 0, nullptr},
      {"not JSON", "{\"nftables\": [", 0, 0, 0, "not JSON"},
      {"not nft's shape", "[]", 0, 0, 0, "want {\"nftables\": [...]}"},
      {"nftables not an array", R"({"nftables": {}})", 0, 0, 0, "want {\"nftables\": [...]}"},
      {"a counter without packets",
       doc({map("service-ips", {elem(web, R"("counter": {"bytes": 1})")})}), 0, 0, 0,
       "a counter without packets"},
      {"packets not a count",
       doc({map("service-ips", {elem(web, R"("counter": {"packets": -1, "bytes": 1})")})}), 0, 0, 0,
       "a counter without packets"},
  };
  const int web_i = static_cast<int>(&Svc("web") - spec_.services.data());
  const int dns_i = static_cast<int>(&Svc("dns") - spec_.services.data());
  const int np_i = static_cast<int>(&Svc("web-np") - spec_.services.data());
  for (const Row& r : rows) {
    absl::StatusOr<std::vector<std::vector<uint64_t>>> c = ParseNftCounters(spec_, r.text);
    if (r.error != nullptr) {
      ASSERT_FALSE(c.ok()) << r.what;
      EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << r.what;
      EXPECT_THAT(std::string(c.status().message()), HasSubstr(r.error)) << r.what;
      continue;
    }
    ASSERT_TRUE(c.ok()) << r.what << ": " << c.status();
    ASSERT_EQ(c->size(), spec_.services.size()) << r.what;
    uint64_t others = 0;
    for (size_t i = 0; i < c->size(); ++i) {
      ASSERT_EQ((*c)[i].size(), spec_.services[i].ports.size()) << r.what;
      const int k = static_cast<int>(i);
      if (k != web_i && k != dns_i && k != np_i)
        for (uint64_t n : (*c)[i]) others += n;
    }
    EXPECT_EQ((*c)[web_i][0], r.web) << r.what;
    EXPECT_EQ((*c)[dns_i][0], r.dns) << r.what;
    EXPECT_EQ((*c)[np_i][0], r.web_np) << r.what;
    EXPECT_EQ(others, 0u) << r.what;
  }
}

TEST_F(NftRuleset, ServicePortOfFlow) {
  const int web = static_cast<int>(&Svc("web") - spec_.services.data());
  const int web_np = static_cast<int>(&Svc("web-np") - spec_.services.data());
  const int dns = static_cast<int>(&Svc("dns") - spec_.services.data());
  const int empty_np = static_cast<int>(&Svc("empty-np") - spec_.services.data());
  const net::Ipv4 node2 = spec_.nodes[1].underlay_ip;
  auto ip = [](const char* s) { return *net::Ipv4::Parse(s); };
  struct Row {
    const char* what;
    net::Ipv4 dst;
    int dport;
    const char* proto;
    std::optional<std::pair<int, int>> want;
  };
  const Row rows[] = {
      {"a ClusterIP", ip("10.96.0.10"), 80, "tcp", std::make_pair(web, 0)},
      {"a UDP ClusterIP", ip("10.96.0.53"), 53, "udp", std::make_pair(dns, 0)},
      {"the right address, the wrong protocol", ip("10.96.0.53"), 53, "tcp", std::nullopt},
      {"the right address, another port", ip("10.96.0.10"), 81, "tcp", std::nullopt},
      {"a NodePort on any node's address", node2, 30080, "tcp", std::make_pair(web_np, 0)},
      {"a NodePort without endpoints", node2, 30053, "udp", std::make_pair(empty_np, 0)},
      {"a NodePort's number on a pod's address", ip(Ip("web-0").c_str()), 30080, "tcp",
       std::nullopt},
      {"a pod's own port", ip(Ip("web-0").c_str()), 8080, "tcp", std::nullopt},
  };
  for (const Row& r : rows)
    EXPECT_EQ(ServicePortOfFlow(spec_, r.dst, r.dport, r.proto), r.want) << r.what;
}

// What `get svc` says is served, and what the rules do: least-conn alone changes.
TEST_F(NftRuleset, NftAlgorithmIsWhatTheRulesServe) {
  using config::Algorithm;
  EXPECT_EQ(NftAlgorithm(Algorithm::kRandom), Algorithm::kRandom);
  EXPECT_EQ(NftAlgorithm(Algorithm::kRoundRobin), Algorithm::kRoundRobin);
  EXPECT_EQ(NftAlgorithm(Algorithm::kSourceHash), Algorithm::kSourceHash);
  EXPECT_EQ(NftAlgorithm(Algorithm::kLeastConn), Algorithm::kRandom);
  // web-lc picks as dns (random) does.
  EXPECT_EQ(Value("service-ips", "10.96.0.12 . tcp . 80"),
            Value("service-ips", "10.96.0.53 . udp . 53"));
}

// The conntrack SERVICE column names a port as the userspace proxy's flows do.
TEST_F(NftRuleset, ServicePortLabelIsTheUserspaceProxysLabel) {
  EXPECT_EQ(ServicePortLabel(Svc("web"), Svc("web").ports[0]), "web:80/TCP");
  EXPECT_EQ(ServicePortLabel(Svc("dns"), Svc("dns").ports[0]), "dns:53/UDP");
  EXPECT_EQ(ServicePortLabel(Svc("empty-np"), Svc("empty-np").ports[0]), "empty-np:u");
  absl::StatusOr<nat::ServiceTable> table = nat::ServiceTable::Build(spec_);
  ASSERT_TRUE(table.ok()) << table.status();
  size_t n = 0;
  for (const config::ServiceSpec& s : spec_.services) {
    for (const config::ServicePortSpec& p : s.ports) {
      ASSERT_LT(n, table->ports().size());
      EXPECT_EQ(ServicePortLabel(s, p), table->ports()[n++].Label()) << s.name;
    }
  }
  EXPECT_EQ(n, table->ports().size());
}

}  // namespace
}  // namespace mkn::proxy
