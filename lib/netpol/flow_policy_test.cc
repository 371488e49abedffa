// lib/netpol/flow_policy: the userspace proxy's per-flow verdict against policy.h's model (every
// case of examples/netpol, every pair of pods, both ports and protocols, the nodes' and an outside
// address), a table of which drop counter each denial charges, and that a verdict allocates
// nothing. Also the userspace mode's shape of the nftables chains that let the proxy's judged flows
// through.

#include "lib/netpol/flow_policy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "lib/config/toml/load.h"
#include "lib/netpol/nft.h"
#include "lib/netpol/policy.h"
#include "lib/netpol/testing.h"
#include "lib/testing/testing.h"

// Counts allocations while `g_counting` is set: Decide() must make none (it runs per new flow in
// the NAT's pump).
namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

// GCC sees malloc/free inside the replacements and calls them mismatched; they are the pair.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace mkn::netpol {
namespace {

namespace fs = std::filesystem;
using config::ClusterSpec;
using config::PolicyProtocol;

using testdata::ReadFile;
using testdata::SourceDir;

using testing_cases::LoadCase;

const config::PodSpec& Pod(const ClusterSpec& spec, const std::string& key) {
  const config::PodSpec* p = spec.FindPod(key);
  EXPECT_NE(p, nullptr) << key;
  return *p;
}

using testing_cases::kCases;

TEST(NetpolFlowPolicy, AgreesWithTheModelOnEveryCase) {
  const net::Ipv4 outside = *net::Ipv4::Parse("192.0.2.10");
  for (const char* name : kCases) {
    SCOPED_TRACE(name);
    const ClusterSpec spec = LoadCase(name);
    const FlowPolicy fp = FlowPolicy::Build(spec);
    ASSERT_FALSE(fp.empty());
    // Every end: each pod, each node's bridge and proxy addresses, an address outside the lab.
    std::vector<End> ends;
    for (size_t i = 0; i < spec.pods.size(); ++i)
      ends.push_back({static_cast<int>(i), spec.pods[i].ip});
    for (const config::NodeSpec& n : spec.nodes) {
      ends.push_back({-1, n.gateway});
      ends.push_back({-1, n.proxy_ip});
    }
    ends.push_back({-1, outside});
    int allowed = 0, denied = 0;
    for (const End& s : ends) {
      for (const End& d : ends) {
        for (PolicyProtocol proto : {PolicyProtocol::kTcp, PolicyProtocol::kUdp}) {
          for (int port : {80, 81, 443}) {
            const bool want = Allowed(spec, s, d, proto, port);
            const FlowVerdict got = fp.Decide(s.ip, d.ip, proto, port);
            ASSERT_EQ(got.allowed, want)
                << s.ip.ToString() << " -> " << d.ip.ToString() << ":" << port << "/"
                << (proto == PolicyProtocol::kUdp ? "udp" : "tcp");
            (want ? allowed : denied)++;
          }
        }
      }
    }
    EXPECT_GT(allowed, 0);
    EXPECT_GT(denied, 0);
  }
}

TEST(NetpolFlowPolicy, NoPolicyIsEmptyAndAllowsEverything) {
  const ClusterSpec spec = LoadCase("");
  const FlowPolicy fp = FlowPolicy::Build(spec);
  EXPECT_TRUE(fp.empty());
  EXPECT_TRUE(
      fp.Decide(Pod(spec, "x/a").ip, Pod(spec, "y/b").ip, PolicyProtocol::kTcp, 80).allowed);
  EXPECT_TRUE(FlowPolicy().Decide({}, {}, PolicyProtocol::kUdp, 53).allowed);
}

// Which counter a denial charges: the client's egress when its egress denies (checked first, as a
// node's forward chain does), else the backend's ingress; named ports are the backend's.
TEST(NetpolFlowPolicy, EachDenialChargesOneCounter) {
  struct Row {
    const char* name;
    const char* src;  // a pod key, or "node1:gateway"/"node1:underlay"/"node2:proxy"
    const char* dst;
    PolicyProtocol proto;
    int port;
    const char* counter;  // "" = allowed
  } rows[] = {
      {"pod-selector", "x/b", "x/a", PolicyProtocol::kTcp, 80, ""},
      {"pod-selector", "y/b", "x/a", PolicyProtocol::kTcp, 80, "drops-ingress/x/a"},
      {"pod-selector", "x/c", "x/a", PolicyProtocol::kUdp, 81, "drops-ingress/x/a"},
      {"deny-all", "x/a", "x/b", PolicyProtocol::kTcp, 80, "drops-egress/x/a"},
      {"deny-all", "y/a", "x/b", PolicyProtocol::kTcp, 80, "drops-ingress/x/b"},
      {"deny-all", "x/a", "y/a", PolicyProtocol::kUdp, 80, "drops-egress/x/a"},
      {"ports-union", "y/a", "x/a", PolicyProtocol::kTcp, 80, ""},
      {"ports-union", "y/a", "x/a", PolicyProtocol::kUdp, 81, ""},
      {"ports-union", "y/a", "x/a", PolicyProtocol::kTcp, 81, "drops-ingress/x/a"},
      {"ports-union", "y/a", "x/a", PolicyProtocol::kUdp, 80, "drops-ingress/x/a"},
      {"named-egress", "x/a", "z/b", PolicyProtocol::kUdp, 80, ""},
      {"named-egress", "x/a", "z/b", PolicyProtocol::kUdp, 81, "drops-egress/x/a"},
      {"named-egress", "x/a", "z/b", PolicyProtocol::kTcp, 80, "drops-egress/x/a"},
      {"named-egress", "z/a", "y/b", PolicyProtocol::kTcp, 81, ""},
      {"egress-ipblock", "x/a", "y/c", PolicyProtocol::kTcp, 81, ""},
      {"egress-ipblock", "x/a", "y/b", PolicyProtocol::kTcp, 80, "drops-egress/x/a"},
      {"egress-ipblock", "x/a", "y/c", PolicyProtocol::kUdp, 80, "drops-egress/x/a"},
      // A pod's own node reaches it by any of its addresses; another node does not.
      {"deny-all", "node1:gateway", "x/a", PolicyProtocol::kTcp, 80, ""},
      {"deny-all", "node1:underlay", "x/a", PolicyProtocol::kTcp, 80, ""},
      {"deny-all", "node1:proxy", "x/a", PolicyProtocol::kTcp, 80, ""},
      {"deny-all", "node2:proxy", "x/a", PolicyProtocol::kTcp, 80, "drops-ingress/x/a"},
      {"deny-all", "node2:underlay", "x/a", PolicyProtocol::kTcp, 80, "drops-ingress/x/a"},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(std::string(r.name) + ": " + r.src + " -> " + r.dst + ":" +
                 std::to_string(r.port));
    const ClusterSpec spec = LoadCase(r.name);
    auto addr = [&](const std::string& end) {
      const size_t colon = end.find(':');
      if (colon == std::string::npos) return Pod(spec, end).ip;
      const config::NodeSpec& n = spec.nodes[end.substr(0, colon) == "node1" ? 0 : 1];
      const std::string what = end.substr(colon + 1);
      return what == "gateway" ? n.gateway : what == "underlay" ? n.underlay_ip : n.proxy_ip;
    };
    const FlowPolicy fp = FlowPolicy::Build(spec);
    const FlowVerdict v = fp.Decide(addr(r.src), addr(r.dst), r.proto, r.port);
    EXPECT_EQ(v.allowed, std::string(r.counter).empty());
    EXPECT_EQ(v.counter, r.counter);
    if (!v.allowed) {
      EXPECT_EQ(v.ingress, std::string(r.counter).find("ingress") != std::string::npos);
    }
  }
}

TEST(NetpolFlowPolicy, ADecisionAllocatesNothing) {
  const ClusterSpec spec = LoadCase("deny-all");
  const FlowPolicy fp = FlowPolicy::Build(spec);
  const net::Ipv4 src = Pod(spec, "y/b").ip, dst = Pod(spec, "x/a").ip;
  g_allocations = 0;
  g_counting = true;
  int denied = 0;
  for (int i = 0; i < 1000; ++i) {
    denied += !fp.Decide(src, dst, PolicyProtocol::kTcp, 80 + i % 2).allowed;
    denied += !fp.Decide(dst, src, PolicyProtocol::kUdp, 81).allowed;
  }
  const long during = g_allocations.load();
  // The counter itself counts: one vector, one allocation.
  auto probe = std::make_unique<std::vector<int>>(100);
  g_counting = false;
  EXPECT_EQ(during, 0);
  EXPECT_EQ(g_allocations.load(), 2);
  EXPECT_GT(denied, 0);
}

// The kernel's side in proxy_mode = "userspace": the proxy judged its flows, so the chains let the
// ClusterIP out of a client and every node's proxy address into a backend; other modes keep the
// plain chains (their goldens in testdata/netpol are nftables').
TEST(NetpolFlowPolicy, UserspaceChainsLetTheProxysFlowsThrough) {
  const ClusterSpec us = LoadCase("deny-all", "userspace");
  ASSERT_EQ(us.proxy_mode, config::ProxyMode::kUserspace);
  const NodeTable t = BuildNodeTable(us, 0);
  const std::string svc = us.service_cidr.ToString();
  const std::vector<std::string>& eg = t.chains.at("egress/x/a");
  ASSERT_FALSE(eg.empty());
  EXPECT_EQ(eg.front(), "ip daddr " + svc +
                            " return comment \"Services: the userspace proxy judges the backend\"");
  const std::vector<std::string>& in = t.chains.at("ingress/x/a");
  ASSERT_GE(in.size(), 2u);
  EXPECT_EQ(in[1], "ip saddr { " + us.nodes[1].proxy_ip.ToString() +
                       " } accept comment \"Service flows the userspace proxy allowed\"");
  const ClusterSpec nft = LoadCase("deny-all", "nftables");
  const std::string full = RenderNodeTable(nft, 0);
  EXPECT_EQ(full.find("userspace proxy"), std::string::npos);
  EXPECT_EQ(full.find(svc), std::string::npos);
}

}  // namespace
}  // namespace mkn::netpol
