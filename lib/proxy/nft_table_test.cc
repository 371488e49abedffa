#include "lib/proxy/nft_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "lib/config/mutate.h"
#include "lib/config/toml/load.h"
#include "lib/nat/service_table.h"
#include "lib/proxy/nft_ruleset.h"
#include "lib/strings/str_cat.h"
#include "lib/testing/testing.h"

namespace mkn::proxy {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using testdata::ReadFile;
using testdata::SourceDir;

config::ClusterSpec Lab() {
  const fs::path p = SourceDir() / "testdata/nft/sync/lab.toml";
  config::LoadResult r = config::Load(ReadFile(p), "lab.toml");
  EXPECT_TRUE(r.spec) << p << ": " << r.diags.FormatAll();
  return r.spec ? *r.spec : config::ClusterSpec{};
}

// `got` against testdata/nft/sync/<name>; MKN_UPDATE_GOLDEN=1 rewrites it (review the diff).
void Golden(const std::string& name, const std::string& got) {
  const fs::path golden = SourceDir() / "testdata/nft/sync" / name;
  if (std::getenv("MKN_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden) << got;
    return;
  }
  ASSERT_TRUE(fs::exists(golden)) << golden << " missing; run with MKN_UPDATE_GOLDEN=1";
  EXPECT_EQ(got, ReadFile(golden)) << name << " differs from " << golden;
}

const config::ServiceSpec& Svc(const config::ClusterSpec& spec, const std::string& name) {
  for (const config::ServiceSpec& s : spec.services) {
    if (s.name == name) return s;
  }
  ADD_FAILURE() << "no service " << name;
  return spec.services.front();
}

std::string Chain(const config::ClusterSpec& spec, const std::string& prefix,
                  const std::string& svc) {
  return ServicePortChain(prefix, Svc(spec, svc), Svc(spec, svc).ports[0]);
}

config::ClusterSpec Scaled(config::ClusterSpec spec, const std::string& deployment, int n) {
  absl::StatusOr<config::ScaleResult> r = config::ScaleDeployment(spec, deployment, n);
  EXPECT_TRUE(r.ok()) << r.status();
  return spec;
}

config::ClusterSpec Recreated(config::ClusterSpec spec, const std::string& pod) {
  absl::StatusOr<int> r = config::RecreatePod(spec, pod);
  EXPECT_TRUE(r.ok()) << r.status();
  return spec;
}

// The model after Commit(Plan(next)) is the model Build(next) makes: nothing drifts.
void ExpectSameTable(const NftTable& got, const config::ClusterSpec& want,
                     const std::string& what) {
  NftTable built = NftTable::Build(want);
  EXPECT_EQ(got.Chains(), built.Chains()) << what;
  EXPECT_EQ(got.Sets(), built.Sets()) << what;
  EXPECT_EQ(got.RenderFull(), built.RenderFull()) << what;
}

// --- the full sync ------------------------------------------------------------------------------

TEST(NftTable, FullSyncGolden) {
  config::ClusterSpec spec = Lab();
  ASSERT_FALSE(spec.services.empty());
  Golden("full.nft", NftTable::Build(spec).RenderFull(NftBanner(spec, 0)));
}

// The endpoints nftables uses are the userspace proxy's, named target ports included.
TEST(NftTable, EndpointsResolveAsTheUserspaceProxy) {
  config::ClusterSpec spec = Lab();
  absl::StatusOr<nat::ServiceTable> table = nat::ServiceTable::Build(spec);
  ASSERT_TRUE(table.ok()) << table.status();
  size_t n = 0;
  for (const config::ServiceSpec& s : spec.services) {
    for (const config::ServicePortSpec& p : s.ports) {
      std::vector<NftEndpoint> want;
      for (const nat::Endpoint& e : table->ports()[n++].endpoints) want.push_back({e.ip, e.port});
      EXPECT_EQ(ResolveNftEndpoints(spec, s, p), want) << s.name;
    }
  }
  // web's named port: odd serves "http" on 9090, the others on 8080.
  const config::ServiceSpec& web = Svc(spec, "web");
  std::vector<NftEndpoint> eps = ResolveNftEndpoints(spec, web, web.ports[0]);
  ASSERT_EQ(eps.size(), 4u);
  EXPECT_EQ(std::count(eps.begin(), eps.end(), NftEndpoint{spec.FindPod("odd")->ip, 9090}), 1);
  EXPECT_EQ(
      std::count_if(eps.begin(), eps.end(), [](const NftEndpoint& e) { return e.port == 8080; }),
      3);
}

// --- deltas: old spec + new spec -> the transaction ---------------------------------------------

// kill web-1 as the cluster does it (its endpoints first, then the new pod), scales up and down to
// zero and back: each golden is the delta from the spec the step before left.
TEST(NftTable, DeltaGoldens) {
  config::ClusterSpec spec = Lab();
  NftTable t = NftTable::Build(spec);
  struct Step {
    std::string name;
    config::ClusterSpec next;
  };
  std::vector<Step> steps;
  auto push = [&](std::string name, config::ClusterSpec next) {
    steps.push_back({std::move(name), next});
    spec = std::move(next);
  };
  push("1-kill-web-1-endpoints.nft", config::WithoutEndpoints(spec, {"web-1"}));
  push("2-kill-web-1-new-pod.nft", Recreated(Lab(), "web-1"));
  push("3-scale-web-4.nft", Scaled(spec, "web", 4));
  push("4-scale-dns-0.nft", Scaled(spec, "dns", 0));
  push("5-scale-dns-1.nft", Scaled(spec, "dns", 1));
  for (Step& s : steps) {
    NftUpdate u = t.Plan(s.next);
    EXPECT_FALSE(u.full_sync) << s.name;
    EXPECT_FALSE(u.text.empty()) << s.name;
    Golden(s.name, u.text);
    t.Commit(std::move(u));
    ExpectSameTable(t, s.next, s.name);
  }
}

TEST(NftTable, NothingChangedNothingToDo) {
  config::ClusterSpec spec = Lab();
  NftTable t = NftTable::Build(spec);
  NftUpdate u = t.Plan(spec);
  EXPECT_EQ(u.text, "");
  EXPECT_EQ(u.commands, 0);
  EXPECT_FALSE(u.full_sync);
  EXPECT_TRUE(u.parts.empty());
  // Other pods come and go: the services do not see them.
  config::ClusterSpec other = Recreated(spec, "client");
  EXPECT_EQ(t.Plan(other).text, "");
}

// A new address for a pod and nothing else: elements, and the one chain whose rules name an
// endpoint (web-sticky's: its affinity sets). The round-robin rule (its counter) and the affinity
// sets of the surviving endpoints stay.
TEST(NftTable, ANewAddressChangesElementsAndAffinityOnly) {
  config::ClusterSpec spec = Lab();
  NftTable t = NftTable::Build(spec);
  config::ClusterSpec next = Recreated(spec, "web-1");
  NftUpdate u = t.Plan(next);
  EXPECT_THAT(u.text, Not(HasSubstr(Chain(spec, "service", "web"))));
  EXPECT_THAT(u.text, Not(HasSubstr("numgen inc")));
  std::istringstream in(u.text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(" chain ") == std::string::npos && line.rfind("add rule", 0) != 0) continue;
    EXPECT_THAT(line, HasSubstr(Chain(spec, "service", "web-sticky"))) << line;
  }
  const std::string old_ip = spec.FindPod("web-1")->ip.ToString();
  const std::string new_ip = next.FindPod("web-1")->ip.ToString();
  // web-sticky: the dead endpoint's set goes, the new one's comes; the others are only named.
  EXPECT_THAT(u.text, HasSubstr(StrCat("delete set ip kube-proxy affinity-")));
  EXPECT_THAT(u.text, HasSubstr(StrCat("/80__", old_ip, "/8080\n")));
  EXPECT_THAT(u.text, HasSubstr(StrCat("add set ip kube-proxy affinity-")));
  EXPECT_THAT(u.text, HasSubstr(StrCat("/80__", new_ip, "/8080 { type ipv4_addr ;")));
  EXPECT_THAT(u.text, Not(HasSubstr("flush set")));
  t.Commit(std::move(u));
  ExpectSameTable(t, next, "recreate web-1");
}

// Scaling one deployment touches neither another service's chain nor its affinity sets.
TEST(NftTable, AnUnrelatedScaleLeavesRoundRobinAndAffinityAlone) {
  config::ClusterSpec spec = Lab();
  NftTable t = NftTable::Build(spec);
  config::ClusterSpec next = Scaled(spec, "dns", 3);
  NftUpdate u = t.Plan(next);
  for (const char* svc : {"web", "web-np", "web-lc", "web-sticky", "web-sh", "empty"})
    EXPECT_THAT(u.text, Not(HasSubstr(Chain(spec, "service", svc)))) << svc;
  EXPECT_THAT(u.text, Not(HasSubstr("default/web-sticky/tcp/80__")));
  // dns: random over 2 -> 3 endpoints moves between the pick sets; the shared chain (no state) is
  // rewritten with the sizes in use.
  EXPECT_THAT(u.text, HasSubstr("add set ip kube-proxy pick-random-3 "));
  EXPECT_THAT(u.text, HasSubstr("delete set ip kube-proxy pick-random-2"));
  EXPECT_THAT(u.text, HasSubstr("flush chain ip kube-proxy pick-random\n"));
  t.Commit(std::move(u));
  ExpectSameTable(t, next, "scale dns 3");
}

// What references a thing is written after it and removed before it.
TEST(NftTable, DeltaOrder) {
  config::ClusterSpec spec = Lab();
  NftTable t = NftTable::Build(spec);
  config::ClusterSpec next = Scaled(spec, "dns", 3);
  std::string text = t.Plan(next).text;
  auto at = [&](const std::string& s) {
    size_t p = text.find(s);
    EXPECT_NE(p, std::string::npos) << s << " in\n" << text;
    return p;
  };
  EXPECT_LT(at("add set ip kube-proxy pick-random-3"), at("add rule ip kube-proxy pick-random "));
  EXPECT_LT(at("add rule ip kube-proxy pick-random "),
            at("add element ip kube-proxy pick-random-3"));
  EXPECT_LT(at("delete element ip kube-proxy pick-random-2"),
            at("delete set ip kube-proxy pick-random-2"));
  EXPECT_LT(at("flush chain ip kube-proxy pick-random\n"),
            at("delete set ip kube-proxy pick-random-2"));
  // Deletions of elements before additions (a changed value is deleted, then added).
  size_t first_add = at("add element ");
  size_t last_del = text.rfind("delete element ");
  EXPECT_LT(last_del, first_add);
}

TEST(NftTable, ServicesThemselvesChangedIsAFullSync) {
  config::ClusterSpec spec = Lab();
  NftTable t = NftTable::Build(spec);
  struct Row {
    const char* what;
    void (*change)(config::ClusterSpec&);
  };
  const Row rows[] = {
      {"a ClusterIP", [](config::ClusterSpec& s) { s.services[0].cluster_ip.value++; }},
      {"an algorithm",
       [](config::ClusterSpec& s) { s.services[0].algorithm = config::Algorithm::kRandom; }},
      {"a port", [](config::ClusterSpec& s) { s.services[1].ports[0].port = 81; }},
      {"affinity", [](config::ClusterSpec& s) { s.services[0].affinity_client_ip = true; }},
      {"a service less", [](config::ClusterSpec& s) { s.services.pop_back(); }},
      {"a port more",
       [](config::ClusterSpec& s) { s.services[0].ports.push_back(s.services[0].ports[0]); }},
      {"the pod CIDR",
       [](config::ClusterSpec& s) { s.pod_cidr = *net::Prefix::Parse("10.0.0.0/8"); }},
  };
  for (const Row& r : rows) {
    config::ClusterSpec next = spec;
    r.change(next);
    NftUpdate u = t.Plan(next);
    EXPECT_TRUE(u.full_sync) << r.what;
    EXPECT_EQ(u.text, "") << r.what;  // the caller writes replacement->RenderFull(its banner)
    ASSERT_NE(u.replacement, nullptr) << r.what;
    NftTable copy = t;
    copy.Commit(std::move(u));
    ExpectSameTable(copy, next, r.what);
  }
}

// The services a change of pods can touch, as the cluster computes them for Plan's hint.
std::vector<int> Touched(const config::ClusterSpec& before, const config::ClusterSpec& after,
                         const std::vector<std::string>& removed,
                         const std::vector<std::string>& added) {
  std::vector<int> out;
  for (const std::string& n : removed) {
    const config::PodSpec* p = before.FindPod(n);
    for (int s : config::ServicesOfPod(before, static_cast<int>(p - before.pods.data())))
      out.push_back(s);
  }
  for (const std::string& n : added) {
    const config::PodSpec* p = after.FindPod(n);
    for (int s : config::ServicesOfPod(after, static_cast<int>(p - after.pods.data())))
      out.push_back(s);
  }
  return out;
}

// Many kills and scales in a row, in a fixed pseudo-random order: after each, the table the deltas
// made is the one a full sync would make, and the delta found from the services the change touched
// (the hint) is the one a scan of every service finds.
TEST(NftTable, ManyUpdatesNoDrift) {
  config::ClusterSpec spec = Lab();
  NftTable t = NftTable::Build(spec);
  std::mt19937 rng(20261206);
  const std::vector<std::string> deployments = {"web", "dns"};
  for (int step = 0; step < 120; ++step) {
    config::ClusterSpec next = spec;
    std::string what;
    std::vector<int> touched;
    if (rng() % 2 == 0) {
      const std::string& d = deployments[rng() % deployments.size()];
      int n = static_cast<int>(rng() % 6);
      what = StrCat("scale ", d, " ", n);
      absl::StatusOr<config::ScaleResult> r = config::ScaleDeployment(next, d, n);
      ASSERT_TRUE(r.ok()) << what;
      touched = Touched(spec, next, r->removed, r->added);
    } else {
      std::vector<std::string> pods;
      for (const config::PodSpec& p : spec.pods) {
        if (p.name != "client") pods.push_back(p.name);
      }
      const std::string pod = pods[rng() % pods.size()];
      what = StrCat("kill ", pod);
      next = config::WithoutEndpoints(next, {pod});
      ASSERT_TRUE(config::RecreatePod(next, pod).ok()) << what;
      config::RecomputeEndpoints(next);
      touched = Touched(spec, next, {pod}, {pod});
    }
    NftUpdate u = t.Plan(next, &touched);
    ASSERT_FALSE(u.full_sync) << what;
    EXPECT_EQ(u.text, t.Plan(next).text) << what;
    t.Commit(std::move(u));
    ExpectSameTable(t, next, StrCat("step ", step, ": ", what));
    spec = std::move(next);
  }
}

// A hint naming a service that is not there, or one whose ports differ, is a full sync.
TEST(NftTable, ABadHintIsAFullSync) {
  config::ClusterSpec spec = Lab();
  NftTable t = NftTable::Build(spec);
  std::vector<int> out_of_range = {static_cast<int>(spec.services.size())};
  EXPECT_TRUE(t.Plan(spec, &out_of_range).full_sync);
  std::vector<int> none;
  EXPECT_EQ(t.Plan(Scaled(spec, "web", 5), &none).text, "");  // the caller said nothing changed
}

TEST(NftTable, PortCount) { EXPECT_EQ(NftTable::Build(Lab()).port_count(), 9u); }

}  // namespace
}  // namespace mkn::proxy
