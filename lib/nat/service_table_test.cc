#include "lib/nat/service_table.h"

#include <gtest/gtest.h>

#include "lib/nat/testing.h"

namespace mkn::nat {
namespace {

using config::Protocol;
using testing::Ip;

TEST(ServiceTable, LooksUpClusterIpAndNodePort) {
  auto t = ServiceTable::Build(testing::TestCluster());
  ASSERT_TRUE(t.ok()) << t.status();
  const ServicePort* web = t->Lookup(Ip("10.96.0.10"), 80, Protocol::kTcp);
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->service, "web");
  EXPECT_EQ(web->Label(), "web:http");
  EXPECT_EQ(t->LookupNodePort(30080, Protocol::kTcp), web);
  EXPECT_EQ(t->Lookup(Ip("10.96.0.10"), 80, Protocol::kUdp), nullptr);
  EXPECT_EQ(t->Lookup(Ip("10.96.0.10"), 81, Protocol::kTcp), nullptr);
  EXPECT_EQ(t->Lookup(Ip("10.96.0.11"), 80, Protocol::kTcp), nullptr);
  EXPECT_EQ(t->LookupNodePort(30080, Protocol::kUdp), nullptr);
  // A ClusterIP service has no node port.
  EXPECT_EQ(t->Lookup(Ip("10.96.0.53"), 53, Protocol::kUdp)->node_port, 0);
  EXPECT_EQ(t->LookupNodePort(0, Protocol::kUdp), nullptr);
}

TEST(ServiceTable, ResolvesNamedTargetPortPerPod) {
  auto t = *ServiceTable::Build(testing::TestCluster());
  const ServicePort* web = t.Lookup(Ip("10.96.0.10"), 80, Protocol::kTcp);
  ASSERT_EQ(web->endpoints.size(), 3u);
  EXPECT_EQ(web->endpoints[0].ip, Ip("10.244.1.10"));
  EXPECT_EQ(web->endpoints[0].port, 8080);
  EXPECT_EQ(web->endpoints[2].ip, Ip("10.244.2.12"));
  EXPECT_EQ(web->endpoints[2].port, 8081);  // web-2 names 8081 "http"
  EXPECT_EQ(t.Lookup(Ip("10.96.0.53"), 53, Protocol::kUdp)->endpoints[0].port, 5353);
  EXPECT_TRUE(t.Lookup(Ip("10.96.0.99"), 80, Protocol::kTcp)->endpoints.empty());
}

TEST(ServiceTable, PodWithoutTheNamedPortIsNoEndpoint) {
  ServicePort p;
  p.port = 80;
  p.target_port_name = "http";
  p.protocol = Protocol::kTcp;
  std::vector<config::PodSpec> pods = {
      testing::Pod("a", "10.244.1.2", "http", 8080, Protocol::kTcp),
      testing::Pod("b", "10.244.1.3", "metrics", 9090, Protocol::kTcp),
      testing::Pod("c", "10.244.1.4", "http", 8080, Protocol::kUdp),  // wrong protocol
  };
  auto eps = ResolveEndpoints(p, pods);
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].pod, "a");
  // No target port at all: the service port itself, as Kubernetes defaults it.
  p.target_port_name.clear();
  EXPECT_EQ(ResolveEndpoints(p, pods)[1].port, 80);
}

TEST(ServiceTable, ReplacesEndpointsOfEveryPortOfAService) {
  auto t = *ServiceTable::Build(testing::TestCluster());
  const ServicePort* web = t.Lookup(Ip("10.96.0.10"), 80, Protocol::kTcp);
  uint64_t generation = web->generation;
  // web-1 killed and recreated with a new address.
  auto spec = testing::TestCluster();
  spec.pods[1].ip = Ip("10.244.1.42");
  ASSERT_TRUE(t.ReplaceEndpoints("web", {spec.pods[0], spec.pods[1]}).ok());
  ASSERT_EQ(web->endpoints.size(), 2u);  // pointer still valid
  EXPECT_EQ(web->endpoints[1].ip, Ip("10.244.1.42"));
  EXPECT_GT(web->generation, generation);
  EXPECT_EQ(t.ReplaceEndpoints("nope", {}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(t.SetEndpoints(99, {}).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(t.PortsOf("empty").size(), 2u);
}

TEST(ServiceTable, RejectsDuplicates) {
  auto spec = testing::TestCluster();
  spec.services[1].cluster_ip = spec.services[0].cluster_ip;
  spec.services[1].ports[0].port = 80;
  spec.services[1].ports[0].protocol = Protocol::kTcp;
  EXPECT_EQ(ServiceTable::Build(spec).status().code(), absl::StatusCode::kInvalidArgument);
  spec = testing::TestCluster();
  spec.services[0].endpoints.push_back(17);
  EXPECT_EQ(ServiceTable::Build(spec).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ServiceTable, LookupCostDoesNotGrowWithServices) {
  // 100 000 service ports: every one is found by one hash probe (a functional check here; the
  // per-packet cost ratio is for the benchmark).
  config::ClusterSpec spec;
  for (int i = 0; i < 100000; ++i) {
    config::ServiceSpec s;
    s.name = "s" + std::to_string(i);
    s.cluster_ip = net::Ipv4{0x0a600000u + static_cast<uint32_t>(i)};
    s.ports.push_back(config::ServicePortSpec{"", 80, 80, "", Protocol::kTcp, 0});
    spec.services.push_back(std::move(s));
  }
  auto t = *ServiceTable::Build(spec);
  for (int i = 0; i < 100000; i += 997) {
    const ServicePort* p =
        t.Lookup(net::Ipv4{0x0a600000u + static_cast<uint32_t>(i)}, 80, Protocol::kTcp);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->id, i);
  }
}

}  // namespace
}  // namespace mkn::nat
