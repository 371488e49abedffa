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
#include "lib/strings/str_cat.h"

namespace mkn::proxy {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

// examples/services plus a source-hash service, a pod that serves "http" on another port, and a
// NodePort without endpoints.
constexpr char kLab[] = R"([cluster]
name = "svcnft"
proxy_mode = "nftables"
nodes = 2
[[pod]]
name = "client"
node = "node1"
  [[pod.container]]
  command = ["sleep", "infinity"]
[[deployment]]
name = "web"
replicas = 3
  [deployment.template]
  labels = { app = "web" }
  [[deployment.template.container]]
  name = "echo"
  app = "http-echo"
  ports = [{ name = "http", port = 8080 }]
[[pod]]
name = "odd"
node = "node2"
labels = { app = "web" }
  [[pod.container]]
  app = "http-echo"
  port = 9090
  ports = [{ name = "http", port = 9090 }]
[[deployment]]
name = "dns"
replicas = 2
  [deployment.template]
  labels = { app = "dns" }
  [[deployment.template.container]]
  app = "udp-echo"
  port = 5353
  ports = [{ name = "dns", port = 5353, protocol = "UDP" }]
[[service]]
name = "web"
cluster_ip = "10.96.0.10"
selector = { app = "web" }
algorithm = "round-robin"
  [[service.port]]
  port = 80
  target_port = "http"
[[service]]
name = "web-np"
type = "NodePort"
cluster_ip = "10.96.0.11"
selector = { app = "web" }
  [[service.port]]
  port = 80
  target_port = 8080
  node_port = 30080
[[service]]
name = "web-lc"
cluster_ip = "10.96.0.12"
selector = { app = "web" }
algorithm = "least-conn"
  [[service.port]]
  port = 80
  target_port = 8080
[[service]]
name = "web-sticky"
cluster_ip = "10.96.0.13"
selector = { app = "web" }
session_affinity = "ClientIP"
affinity_timeout = 600
  [[service.port]]
  port = 80
  target_port = 8080
[[service]]
name = "web-sh"
cluster_ip = "10.96.0.14"
selector = { app = "web" }
algorithm = "source-hash"
  [[service.port]]
  port = 80
  target_port = 8080
[[service]]
name = "dns"
cluster_ip = "10.96.0.53"
selector = { app = "dns" }
  [[service.port]]
  port = 53
  target_port = "dns"
  protocol = "UDP"
[[service]]
name = "empty"
cluster_ip = "10.96.0.99"
selector = { app = "nothing" }
  [[service.port]]
  port = 80
[[service]]
name = "empty-np"
type = "NodePort"
cluster_ip = "10.96.0.98"
selector = { app = "nothing" }
  [[service.port]]
  name = "u"
  port = 53
  protocol = "UDP"
  node_port = 30053
)";

class NftRuleset : public ::testing::Test {
 protected:
  void SetUp() override {
    config::LoadResult r = config::Load(kLab, "lab.toml");
    ASSERT_TRUE(r.spec) << r.diags.FormatAll();
    spec_ = *r.spec;
    text_ = RenderNftRuleset(spec_, 0);
    std::istringstream in(text_);
    for (std::string line; std::getline(in, line);) lines_.push_back(line);
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
  // Lines starting with `prefix`.
  std::vector<std::string> Lines(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const std::string& l : lines_) {
      if (l.rfind(prefix, 0) == 0) out.push_back(l);
    }
    return out;
  }
  std::string Ip(const std::string& pod) const { return spec_.FindPod(pod)->ip.ToString(); }

  config::ClusterSpec spec_;
  std::string text_;
  std::vector<std::string> lines_;
};

TEST_F(NftRuleset, OneTransactionThatReplacesTheTable) {
  ASSERT_GE(lines_.size(), 3u);
  // Comments first, then: create if missing (so delete cannot fail), delete, rebuild.
  size_t i = 0;
  while (lines_[i].rfind("#", 0) == 0) ++i;
  EXPECT_EQ(lines_[i], "table ip kube-proxy {}");
  EXPECT_EQ(lines_[i + 1], "delete table ip kube-proxy");
  EXPECT_EQ(lines_[i + 2].rfind("add table ip kube-proxy", 0), 0u);
  // Nothing but this table is touched.
  for (const std::string& l : lines_) {
    if (l.empty() || l[0] == '#') continue;
    EXPECT_THAT(l, HasSubstr(" ip kube-proxy")) << l;
  }
}

TEST_F(NftRuleset, BaseChainsAsKubeProxy) {
  EXPECT_THAT(
      text_,
      HasSubstr(
          "add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }"));
  EXPECT_THAT(
      text_,
      HasSubstr("add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }"));
  EXPECT_THAT(
      text_,
      HasSubstr(
          "add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; }"));
  EXPECT_THAT(text_, HasSubstr("add rule ip kube-proxy nat-prerouting jump services\n"));
  EXPECT_THAT(text_, HasSubstr("add rule ip kube-proxy nat-output jump services\n"));
  EXPECT_THAT(text_, HasSubstr("add rule ip kube-proxy services ip daddr . meta l4proto . th dport "
                               "vmap @service-ips\n"));
  EXPECT_THAT(
      text_,
      HasSubstr("add rule ip kube-proxy services fib daddr type local ip daddr != 127.0.0.0/8 "
                "meta l4proto . th dport vmap @service-nodeports\n"));
  EXPECT_THAT(text_,
              HasSubstr("add rule ip kube-proxy masquerading mark and 0x4000 == 0 return\n"));
  EXPECT_THAT(text_, HasSubstr("add rule ip kube-proxy masquerading masquerade fully-random\n"));
  EXPECT_THAT(text_, HasSubstr("cluster-ips-check ip daddr { 10.96.0.0/12 } drop"));
}

TEST_F(NftRuleset, OneServiceIpsElementPerServicePortWithEndpoints) {
  std::vector<std::string> elems = Lines("add element ip kube-proxy service-ips {");
  // web, web-np, web-lc, web-sticky, web-sh, dns; not empty / empty-np.
  ASSERT_EQ(elems.size(), 6u);
  EXPECT_EQ(elems[0], "add element ip kube-proxy service-ips { 10.96.0.10 . tcp . 80 : goto " +
                          Chain("service", "web") + " }");
  EXPECT_EQ(elems[5], "add element ip kube-proxy service-ips { 10.96.0.53 . udp . 53 : goto " +
                          Chain("service", "dns") + " }");
  // Every service's ClusterIP is in cluster-ips, endpoints or not.
  EXPECT_EQ(Lines("add element ip kube-proxy cluster-ips {").size(), spec_.services.size());
}

TEST_F(NftRuleset, NumgenModCountsTheEndpoints) {
  const std::string web = Chain("service", "web");
  // web: 3 deployment pods + odd (serves "http" on 9090): 4 endpoints, round-robin.
  std::vector<std::string> pick =
      Lines("add rule ip kube-proxy " + web + " numgen inc mod 4 vmap { ");
  ASSERT_EQ(pick.size(), 1u) << text_;
  for (int i = 0; i < 4; ++i)
    EXPECT_THAT(pick[0], HasSubstr(std::to_string(i) + " : goto endpoint-"));
  EXPECT_THAT(pick[0], Not(HasSubstr("4 : goto")));
  EXPECT_EQ(Lines("add rule ip kube-proxy " + Chain("service", "dns") +
                  " numgen random mod 2 vmap { 0 : goto ")
                .size(),
            1u);
  EXPECT_EQ(
      Lines("add rule ip kube-proxy " + Chain("service", "web-np") + " numgen random mod 4 vmap")
          .size(),
      1u);
}

TEST_F(NftRuleset, NamedTargetPortResolvedPerPod) {
  const auto& web = Svc("web");
  EXPECT_THAT(text_, HasSubstr("add rule ip kube-proxy " +
                               EndpointChain("endpoint", web, web.ports[0], Ip("web-0"), 8080) +
                               " meta l4proto tcp dnat to " + Ip("web-0") + ":8080\n"));
  EXPECT_THAT(text_, HasSubstr("add rule ip kube-proxy " +
                               EndpointChain("endpoint", web, web.ports[0], Ip("odd"), 9090) +
                               " meta l4proto tcp dnat to " + Ip("odd") + ":9090\n"));
  // A numeric target port is the same for every pod, odd included.
  const auto& np = Svc("web-np");
  EXPECT_THAT(text_, HasSubstr(" meta l4proto tcp dnat to " + Ip("odd") + ":8080\n"));
  EXPECT_THAT(text_, HasSubstr(EndpointChain("endpoint", np, np.ports[0], Ip("odd"), 8080)));
  const auto& dns = Svc("dns");
  EXPECT_THAT(text_, HasSubstr("add rule ip kube-proxy " +
                               EndpointChain("endpoint", dns, dns.ports[0], Ip("dns-1"), 5353) +
                               " meta l4proto udp dnat to " + Ip("dns-1") + ":5353\n"));
}

TEST_F(NftRuleset, EveryEndpointMasqueradesHairpinBeforeDnat) {
  int dnats = 0;
  for (size_t i = 0; i < lines_.size(); ++i) {
    static const std::regex kDnat(
        R"(^add rule ip kube-proxy (endpoint-\S+) meta l4proto (tcp|udp) dnat to ([0-9.]+):[0-9]+$)");
    std::smatch m;
    if (!std::regex_match(lines_[i], m, kDnat)) continue;
    ++dnats;
    const std::string hairpin = "add rule ip kube-proxy " + m[1].str() + " ip saddr " + m[3].str() +
                                " jump mark-for-masquerade";
    EXPECT_NE(std::find(lines_.begin(), lines_.begin() + i, hairpin), lines_.begin() + i)
        << lines_[i];
  }
  // 4 web endpoints x 5 web services + 2 dns.
  EXPECT_EQ(dnats, 4 * 5 + 2);
}

TEST_F(NftRuleset, PodSourcesKeepTheirAddressOthersAreMasqueraded) {
  EXPECT_THAT(
      text_,
      HasSubstr("add rule ip kube-proxy " + Chain("service", "web") +
                " ip daddr 10.96.0.10 ip saddr != 10.244.0.0/16 jump mark-for-masquerade\n"));
  // No masquerade for a pod source anywhere else: the only unconditional marks are NodePort's.
  for (const std::string& l : Lines("add rule ip kube-proxy ")) {
    if (l.find(" jump mark-for-masquerade") == std::string::npos) continue;
    bool conditional = l.find(" ip saddr ") != std::string::npos;
    bool external = l.rfind("add rule ip kube-proxy external-", 0) == 0;
    EXPECT_TRUE(conditional || external) << l;
  }
}

TEST_F(NftRuleset, ClientIpAffinity) {
  const auto& s = Svc("web-sticky");
  const std::string service = Chain("service", "web-sticky");
  std::vector<std::string> sets = Lines("add set ip kube-proxy affinity-");
  ASSERT_EQ(sets.size(), 4u);
  for (const std::string& l : sets)
    EXPECT_THAT(l, HasSubstr("{ type ipv4_addr ; flags dynamic,timeout ; timeout 600s ; }"));
  for (const char* pod : {"web-0", "web-1", "web-2", "odd"}) {
    const std::string affinity = EndpointChain("affinity", s, s.ports[0], Ip(pod), 8080);
    const std::string endpoint = EndpointChain("endpoint", s, s.ports[0], Ip(pod), 8080);
    // Same hash in both names: the set belongs to that endpoint.
    EXPECT_EQ(affinity.substr(std::string("affinity").size()),
              endpoint.substr(std::string("endpoint").size()));
    EXPECT_THAT(text_, HasSubstr("add rule ip kube-proxy " + service + " ip saddr @" + affinity +
                                 " goto " + endpoint + "\n"));
    EXPECT_THAT(text_, HasSubstr("add rule ip kube-proxy " + endpoint + " update @" + affinity +
                                 " { ip saddr }\n"));
  }
  // The lookups come before the random pick.
  size_t lookup = text_.find("add rule ip kube-proxy " + service + " ip saddr @affinity-");
  size_t pick = text_.find("add rule ip kube-proxy " + service + " numgen random mod 4");
  ASSERT_NE(pick, std::string::npos);
  EXPECT_LT(lookup, pick);
  // Only web-sticky's endpoints update an affinity set.
  int updates = 0;
  for (const std::string& l : lines_) updates += l.find(" update @affinity-") != std::string::npos;
  EXPECT_EQ(updates, 4);
}

TEST_F(NftRuleset, NoEndpointsRejectsTcpWithResetUdpWithIcmp) {
  EXPECT_THAT(
      text_,
      HasSubstr("add element ip kube-proxy no-endpoint-services { 10.96.0.99 . tcp . 80 comment "
                "\"default/empty:80\" : goto reject-chain }\n"));
  EXPECT_THAT(
      text_,
      HasSubstr("add element ip kube-proxy no-endpoint-services { 10.96.0.98 . udp . 53 comment "
                "\"default/empty-np:u\" : goto reject-chain }\n"));
  EXPECT_THAT(text_,
              HasSubstr("add element ip kube-proxy no-endpoint-nodeports { udp . 30053 comment "
                        "\"default/empty-np:u\" : goto reject-chain }\n"));
  EXPECT_THAT(
      text_,
      HasSubstr("add rule ip kube-proxy reject-chain meta l4proto tcp reject with tcp reset\n"
                "add rule ip kube-proxy reject-chain reject with icmp type port-unreachable\n"));
  // Checked where packets that were not DNATed go: forwarded, to the node, from the node.
  EXPECT_THAT(
      text_,
      HasSubstr(
          "add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check\n"));
  EXPECT_THAT(
      text_,
      HasSubstr(
          "add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check\n"));
  EXPECT_THAT(
      text_,
      HasSubstr(
          "add rule ip kube-proxy filter-output ct state new jump service-endpoints-check\n"));
  // No service chain for a service without endpoints.
  EXPECT_THAT(text_, Not(HasSubstr(Chain("service", "empty"))));
}

TEST_F(NftRuleset, NodePortMasqueradesThenJoinsTheServiceChain) {
  const std::string external = Chain("external", "web-np");
  EXPECT_THAT(text_, HasSubstr("add element ip kube-proxy service-nodeports { tcp . 30080 : goto " +
                               external + " }\n"));
  EXPECT_THAT(text_, HasSubstr("add rule ip kube-proxy " + external +
                               " jump mark-for-masquerade\n"
                               "add rule ip kube-proxy " +
                               external + " goto " + Chain("service", "web-np") + "\n"));
  EXPECT_EQ(Lines("add element ip kube-proxy service-nodeports").size(), 1u);
  EXPECT_EQ(Lines("add chain ip kube-proxy external-").size(), 1u);
}

TEST_F(NftRuleset, AlgorithmsThatNftablesCanAndCannotDo) {
  EXPECT_THAT(text_, HasSubstr("add rule ip kube-proxy " + Chain("service", "web-sh") +
                               " jhash ip saddr mod 4 seed 0x6d6b6e31 vmap { 0 : goto "));
  const std::string lc = Chain("service", "web-lc");
  EXPECT_THAT(text_,
              ContainsRegex("add rule ip kube-proxy " + lc +
                            " numgen random mod 4 vmap \\{[^}]*\\} "
                            "comment \"least-conn is not expressible in nftables: random\""));
  EXPECT_THAT(text_, HasSubstr("# least-conn cannot be expressed in nftables"));
}

TEST_F(NftRuleset, ChainNamesAsKubeProxy) {
  const auto& web = Svc("web");
  EXPECT_THAT(ServicePortChain("service", web, web.ports[0]),
              ::testing::MatchesRegex("service-[A-Z2-7]{8}-default/web/tcp/80"));
  EXPECT_THAT(EndpointChain("endpoint", web, web.ports[0], "10.244.0.3", 8080),
              ::testing::MatchesRegex("endpoint-[A-Z2-7]{8}-default/web/tcp/80__10.244.0.3/8080"));
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
  EXPECT_THAT(t, HasSubstr("add chain ip kube-proxy services\n"));
  EXPECT_THAT(t, Not(HasSubstr("add element")));
}

// --- reading the counters back -----------------------------------------------------------------

// A file of the source tree: under $MKN_SOURCE_DIR (ctest sets it), else the working directory.
std::string ReadFile(const std::string& path) {
  const char* dir = std::getenv("MKN_SOURCE_DIR");
  std::ifstream in(dir != nullptr ? StrCat(dir, "/", path) : path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

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

// Trimmed rows, against the fixture's lab: which rules count, and what is refused.
TEST_F(NftRuleset, CountersRows) {
  const std::string web = Chain("service", "web"), dns = Chain("service", "dns");
  auto rule = [](const std::string& chain, const std::string& expr) {
    return StrCat(R"({"rule": {"family": "ip", "table": "kube-proxy", "chain": ")", chain,
                  R"(", "handle": 7, "expr": )", expr, "}}");
  };
  auto doc = [](const std::vector<std::string>& items) {
    std::string out = R"({"nftables": [{"metainfo": {"json_schema_version": 1}})";
    for (const std::string& i : items) out += ", " + i;
    return out + "]}";
  };
  const std::string counter3 = R"([{"counter": {"packets": 3, "bytes": 180}}])";
  const std::string masq =
      R"([{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},)"
      R"( "right": "10.96.0.10"}}, {"jump": {"target": "mark-for-masquerade"}}])";
  struct Row {
    const char* what;
    std::string text;
    uint64_t web, dns;  // expected new flows
    const char* error;  // or the refusal
  };
  const Row rows[] = {
      {"a counter rule", doc({rule(web, counter3)}), 3, 0, nullptr},
      {"two counter rules add up", doc({rule(web, counter3), rule(web, counter3)}), 6, 0, nullptr},
      {"other rules of the chain count nothing", doc({rule(web, masq), rule(dns, counter3)}), 0, 3,
       nullptr},
      {"no rules at all", doc({}), 0, 0, nullptr},
      {"base chains that start like a service chain are not one",
       doc({rule("service-endpoints-check", counter3), rule("services", counter3)}), 0, 0, nullptr},
      {"a chain no port of the lab is named by (an older ruleset)",
       doc({rule("service-AAAAAAAA-default/gone/tcp/80", counter3),
            rule("service-BBBBBBBB-default/web/tcp/81", counter3)}),
       0, 0, nullptr},
      {"an endpoint chain", doc({rule(Chain("endpoint", "web"), counter3)}), 0, 0, nullptr},
      {"sets, maps and chains are no rules",
       doc({R"({"chain": {"family": "ip", "table": "kube-proxy", "name": ")" + web + R"("}})",
            R"({"map": {"name": "service-ips", "elem": [1, 2]}})"}),
       0, 0, nullptr},
      {"a rule without expr", doc({R"({"rule": {"chain": ")" + web + R"("}})"}), 0, 0, nullptr},
      {"an unknown chain's odd counter is not looked at",
       doc({rule("service-AAAAAAAA-default/gone/tcp/80", R"([{"counter": "x"}])")}), 0, 0, nullptr},
      {"not JSON", "{\"nftables\": [", 0, 0, "not JSON"},
      {"not nft's shape", "[]", 0, 0, "want {\"nftables\": [...]}"},
      {"nftables not an array", R"({"nftables": {}})", 0, 0, "want {\"nftables\": [...]}"},
      {"a counter without packets", doc({rule(web, R"([{"counter": {"bytes": 1}}])")}), 0, 0,
       "a counter without packets"},
      {"packets not a count", doc({rule(web, R"([{"counter": {"packets": -1, "bytes": 1}}])")}), 0,
       0, "a counter without packets"},
  };
  const int web_i = static_cast<int>(&Svc("web") - spec_.services.data());
  const int dns_i = static_cast<int>(&Svc("dns") - spec_.services.data());
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
      if (static_cast<int>(i) != web_i && static_cast<int>(i) != dns_i)
        for (uint64_t n : (*c)[i]) others += n;
    }
    EXPECT_EQ((*c)[web_i][0], r.web) << r.what;
    EXPECT_EQ((*c)[dns_i][0], r.dns) << r.what;
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
  // web-lc's chain picks as web-np's (random) does.
  EXPECT_THAT(text_, HasSubstr(Chain("service", "web-lc") + " numgen random mod 4 vmap"));
  EXPECT_THAT(text_, HasSubstr(Chain("service", "web-np") + " numgen random mod 4 vmap"));
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
