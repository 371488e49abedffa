// bench/netpol/verdict — what NetworkPolicy costs the userspace proxy's NAT, in process: ns per new
// flow (a SYN from a new client port: service lookup, balancer, the policy verdict, conntrack
// insert, rewrite) and per packet of an established flow (no verdict), through node2's lib/nat::Nat
// for examples/netpol's x/b -> Service x/web (x/a behind it), with no policy (the reference), 1
// policy and 100 policies selecting x/a (each allowing x/b on TCP 80: the union is what allows it).
// The variants are measured in turns, ROUNDS times, and each reports its median; no I/O, no
// root. Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), not the wall clock: on a
// shared machine a descheduled thread would otherwise be charged for other processes' work.
// Bounded: FLOWS new flows and FLOWS established packets per round.
//
//   verdict ROOT [ROUNDS] [FLOWS]       ROOT: the repository (examples/netpol/lab.toml is read)
//
// Prints one line per variant and the ratios (new flows per second, 100 vs none; target >= 0.95).
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "lib/config/toml/load.h"
#include "lib/nat/nat.h"
#include "lib/netpol/flow_policy.h"
#include "lib/packet/packet.h"
#include "lib/packet/packet_builder.h"

namespace {

using namespace mkn;
// This thread's CPU time in ns.
double ThreadNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// n policies selecting x/a, each allowing x/b on TCP 80; `last_only`: only the last one allows
// x/b (the others allow x/c), so the verdict walks every policy before it finds the one that does.
std::string Policies(int n, bool last_only) {
  std::string out;
  for (int i = 1; i <= n; ++i) {
    const char* peer = !last_only || i == n ? "b" : "c";
    out += "[[network_policy]]\nname = \"p" + std::to_string(i) +
           "\"\nnamespace = \"x\"\npod_selector = { match_labels = { pod = \"a\" } }\n"
           "  [[network_policy.ingress]]\n"
           "  from = [{ pod_selector = { match_labels = { pod = \"" +
           peer + "\" } } }]\n  ports = [{ port = 80 }]\n";
  }
  return out;
}

config::ClusterSpec Lab(const std::string& root, int policies, bool last_only = false) {
  std::ifstream in(root + "/examples/netpol/lab.toml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  text +=
      "\n[[service]]\nname = \"web\"\nnamespace = \"x\"\nselector = { pod = \"a\" }\n"
      "  [[service.port]]\n  port = 80\n  target_port = 80\n";
  text += Policies(policies, last_only);
  config::LoadResult r = config::Load(text, "verdict.toml");
  if (!r.spec) {
    std::fprintf(stderr, "verdict: the lab does not load:\n%s", r.diags.FormatAll().c_str());
    std::exit(1);
  }
  return *r.spec;
}

struct Result {
  double new_ns = 0, est_ns = 0;
};

// One round: a fresh NAT of node2 (x/b's), FLOWS SYNs from new ports, then FLOWS ACKs of the
// first flow.
Result Round(const config::ClusterSpec& spec, int flows) {
  const config::PodSpec& xb = *spec.FindPod("x/b");
  const config::NodeSpec& node = spec.nodes[xb.node];
  nat::NatOptions o;
  o.proxy_ip = node.proxy_ip;
  o.node_ips = {node.underlay_ip};
  o.max_flows = static_cast<size_t>(flows) + 16;
  auto made = nat::Nat::Create(*nat::ServiceTable::Build(spec), o);
  if (!made.ok()) std::exit(1);
  std::unique_ptr<nat::Nat> n = std::move(*made);
  n->SetPolicy(std::make_shared<const netpol::FlowPolicy>(netpol::FlowPolicy::Build(spec)));
  const net::Ipv4 vip = spec.FindService("x/web")->cluster_ip;
  std::vector<std::vector<uint8_t>> syns;
  syns.reserve(flows);
  for (int i = 0; i < flows; ++i) {
    syns.push_back(packet::PacketBuilder::Tcp(xb.ip, static_cast<uint16_t>(1024 + i), vip, 80)
                       .Flags(packet::kTcpSyn)
                       .Seq(1)
                       .Build());
  }
  std::vector<uint8_t> ack = packet::PacketBuilder::Tcp(xb.ip, 1024, vip, 80)
                                 .Flags(packet::kTcpAck)
                                 .Seq(2)
                                 .AckNum(2)
                                 .Payload(std::string(64, 'x'))
                                 .Build();
  Result r;
  const double t0 = ThreadNs();
  int forwarded = 0;
  for (auto& f : syns) forwarded += n->Process(f, 0).action == nat::Verdict::Action::kForward;
  const double t1 = ThreadNs();
  if (forwarded != flows) {
    std::fprintf(stderr, "verdict: %d of %d new flows forwarded\n", forwarded, flows);
    std::exit(1);
  }
  std::vector<uint8_t> frame = ack;
  for (int i = 0; i < flows; ++i) {
    frame = ack;  // the rewrite works in place: the same input every time
    n->Process(frame, 0);
  }
  const double t2 = ThreadNs();
  r.new_ns = (t1 - t0) / flows;
  r.est_ns = (t2 - t1) / flows;
  return r;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: verdict ROOT [ROUNDS] [FLOWS]\n");
    return 2;
  }
  const int rounds = argc > 2 ? std::clamp(std::atoi(argv[2]), 1, 100) : 15;
  const int flows = argc > 3 ? std::clamp(std::atoi(argv[3]), 1000, 60000) : 20000;
  constexpr int kVariants = 4;
  const int counts[kVariants] = {0, 1, 100, 100};
  const char* const names[kVariants] = {"no policy", "1 policy", "100 policies",
                                        "100, only the last allows"};
  std::vector<config::ClusterSpec> specs;
  for (int v = 0; v < kVariants; ++v) specs.push_back(Lab(argv[1], counts[v], v == 3));
  std::vector<double> new_ns[kVariants], est_ns[kVariants];
  for (int r = 0; r < rounds; ++r) {
    for (int v = 0; v < kVariants; ++v) {
      Result res = Round(specs[v], flows);
      new_ns[v].push_back(res.new_ns);
      est_ns[v].push_back(res.est_ns);
    }
  }
  double m_new[kVariants], m_est[kVariants];
  for (int v = 0; v < kVariants; ++v) {
    m_new[v] = Median(new_ns[v]);
    m_est[v] = Median(est_ns[v]);
    std::printf("%-26s %7.1f ns per new flow, %6.1f ns per established packet\n", names[v],
                m_new[v], m_est[v]);
  }
  const double ratio = m_new[0] / m_new[2];
  std::printf(
      "medians of %d rounds of %d; new flows per second vs no policy: 100 policies %.3f (target "
      ">= 0.95), 1 policy %.3f, 100 with only the last allowing %.3f; established packets, 100 "
      "vs none: %.3f\n",
      rounds, flows, ratio, m_new[0] / m_new[1], m_new[0] / m_new[3], m_est[0] / m_est[2]);
  return ratio >= 0.95 ? 0 : 3;
}
