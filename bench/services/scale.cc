// bench/services/scale — what one packet costs as the number of Services grows, three ways, and
// what programming many Services costs.
//
//   scale own N...              minikube-net's hash table (lib/nat): ns per new-flow packet
//   scale nft linear|vmap N...  the kernel walking nftables rules: ns per packet (run inside a
//                               throw-away netns: it creates a dummy device and a table)
//   scale ebpf N...             proxy_mode = "ebpf"'s maps: ns per connect() to the last of N
//                               UDP services through the socket-LB programs (run inside a
//                               throw-away netns: it makes a cgroup, joins it, loads the programs)
//   scale program userspace|nftables|ebpf N
//                               ms to program N services of 4 endpoints each, then p50/p99 of one
//                               endpoint change (nftables: render + load in this netns; a change
//                               is NftTable's delta, one transaction; userspace: the NAT's table;
//                               ebpf: SockLbMaps' writes, the delta's for a change)
//
// Every packet goes to the *last* service defined, the worst case of a linear chain (iptables'
// KUBE-SERVICES walks the chain rule by rule until one matches). Own table: each packet is a new
// flow (a SYN from a new client port), so it pays the service lookup, the balancer and a conntrack
// insert; the NAT is rebuilt between runs. nft: every packet of a UDP socket passes a filter chain
// on the output hook (and leaves by a veth whose peer drops it); in kube-proxy the nat chains see
// only a flow's first packet, so this is the cost a new connection pays there. ebpf: the cost is
// paid once per connect() (the programs rewrite the socket's destination; no packet is looked at),
// measured as socket + connect + close of a UDP socket, no packet sent. Loops are bounded by
// count and time. Prints one line per N:
//   <mode> <N> <ns per packet> <packets measured>
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/config/spec.h"
#include "lib/nat/nat.h"
#include "lib/nat/service_table.h"
#include "lib/net/naming.h"
#include "lib/packet/packet.h"
#include "lib/packet/packet_builder.h"
#include "lib/proxy/nft_ruleset.h"
#include "lib/proxy/nft_table.h"
#include "lib/proxy/sock_lb.h"
#include "lib/strings/str_cat.h"
#include "vnet/ebpf/cgroup.h"
#include "vnet/ebpf/sock_lb.h"
#include "vnet/kernel/nft.h"

namespace mkn {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

net::Ipv4 Vip(int i) { return net::Ipv4{(10u << 24) | (96u << 16) | static_cast<uint32_t>(i + 1)}; }

// N ClusterIP services of one TCP port each over 10 backend pods (`eps` endpoints a service), as a
// lab file would resolve them.
config::ClusterSpec Spec(int n, int eps = 3) {
  config::ClusterSpec spec;
  spec.name = "bench";
  spec.service_cidr = *net::Prefix::Parse("10.96.0.0/12");
  spec.pod_cidr = *net::Prefix::Parse("10.244.0.0/16");
  config::NodeSpec node;
  node.name = "node1";
  node.pod_cidr = *net::Prefix::Parse("10.244.0.0/24");
  node.gateway = node.pod_cidr.Host(1);
  node.proxy_ip = node.pod_cidr.Host(254);
  node.underlay_ip = *net::Ipv4::Parse("172.18.0.2");
  node.netns = "mkn-bench-node1";
  spec.nodes.push_back(node);
  for (int p = 0; p < 10; ++p) {
    config::PodSpec pod;
    pod.name = StrCat("web-", p);
    pod.ip = node.pod_cidr.Host(2 + p);
    pod.labels = {{"app", StrCat("web", p)}};
    config::ContainerSpec c;
    c.name = "app";
    c.app = config::AppKind::kHttpEcho;
    c.ports.push_back({"http", 8080, config::Protocol::kTcp});
    pod.containers.push_back(c);
    spec.pods.push_back(pod);
    spec.nodes[0].pods.push_back(p);
  }
  for (int i = 0; i < n; ++i) {
    config::ServiceSpec s;
    s.name = StrCat("svc-", i);
    s.cluster_ip = Vip(i);
    s.selector = {{"app", StrCat("web", i % 10)}};
    s.ports.push_back({"", 80, 8080, "", config::Protocol::kTcp, 0});
    for (int e = 0; e < eps; ++e) s.endpoints.push_back((i + e) % 10);
    spec.services.push_back(std::move(s));
  }
  return spec;
}

int Own(const std::vector<int>& ns) {
  constexpr int kFlows = 120000;  // new flows per run: under the SNAT ports of 3 endpoints
  for (int n : ns) {
    config::ClusterSpec spec = Spec(n);
    // Frames prepared first: a SYN from client port p to the last service.
    std::vector<std::vector<uint8_t>> frames;
    frames.reserve(kFlows);
    net::Ipv4 client = *net::Ipv4::Parse("10.244.0.200");
    for (int f = 0; f < kFlows; ++f) {
      net::Ipv4 src{client.value + static_cast<uint32_t>(f / 60000)};
      frames.push_back(
          packet::PacketBuilder::Tcp(src, static_cast<uint16_t>(1024 + f % 60000), Vip(n - 1), 80)
              .Flags(packet::kTcpSyn)
              .Seq(1)
              .Build());
    }
    double best = 1e18;
    for (int round = 0; round < 5; ++round) {
      absl::StatusOr<nat::ServiceTable> table = nat::ServiceTable::Build(spec);
      if (!table.ok())
        return fprintf(stderr, "%s\n", std::string(table.status().message()).c_str()), 1;
      nat::NatOptions o;
      o.proxy_ip = spec.nodes[0].proxy_ip;
      o.node_ips = {spec.nodes[0].underlay_ip};
      o.max_flows = kFlows * 2;
      auto nat = nat::Nat::Create(std::move(*table), o);
      if (!nat.ok()) return fprintf(stderr, "%s\n", std::string(nat.status().message()).c_str()), 1;
      std::vector<std::vector<uint8_t>> work = frames;
      auto t0 = Clock::now();
      size_t forwarded = 0;
      for (auto& f : work)
        forwarded += (*nat)->Process(f, 0).action == nat::Verdict::Action::kForward;
      double s = Seconds(t0, Clock::now());
      if (forwarded != work.size())
        return fprintf(stderr, "only %zu of %zu forwarded\n", forwarded, work.size()), 1;
      best = std::min(best, s);
    }
    printf("own %d %.1f %d\n", n, best * 1e9 / kFlows, kFlows);
    fflush(stdout);
  }
  return 0;
}

// The nft tables: rules (linear) or one verdict map (vmap) matching ip daddr . dport of every
// service; the UDP packets go to the last one and then out of a dummy device, into nothing.
std::string NftText(const std::string& kind, int n) {
  std::string t = "table ip mknbench {}\ndelete table ip mknbench\ntable ip mknbench {\n";
  if (kind == "vmap") {
    t += "  map services {\n    type ipv4_addr . inet_service : verdict\n";
    if (n > 0) {
      t += "    elements = {\n";
      for (int i = 0; i < n; ++i)
        StrAppend(&t, "      ", Vip(i).ToString(), " . 80 : accept", i + 1 < n ? ",\n" : "\n");
      t += "    }\n";
    }
    t += "  }\n  chain out {\n    type filter hook output priority 0; policy accept;\n";
    t += "    ip daddr . udp dport vmap @services\n  }\n";
  } else {
    t += "  chain out {\n    type filter hook output priority 0; policy accept;\n";
    for (int i = 0; i < n; ++i)
      StrAppend(&t, "    ip daddr ", Vip(i).ToString(), " udp dport 80 accept\n");
    t += "  }\n";
  }
  t += "}\n";
  return t;
}

// Sends UDP datagrams to `dst`:80 in batches for about `seconds`; returns ns per packet.
double Blast(net::Ipv4 dst, double seconds, long& sent) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(80);
  to.sin_addr.s_addr = htonl(dst.value);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) < 0) {
    perror("connect");
    std::exit(1);
  }
  constexpr int kBatch = 64;
  char payload[16] = "mkn-bench";
  iovec iov{payload, sizeof(payload)};
  mmsghdr msgs[kBatch] = {};
  for (auto& m : msgs) {
    m.msg_hdr.msg_iov = &iov;
    m.msg_hdr.msg_iovlen = 1;
  }
  sent = 0;
  auto t0 = Clock::now();
  auto end = t0 + std::chrono::duration<double>(seconds);
  constexpr long kMaxPackets = 20'000'000;
  while (Clock::now() < end && sent < kMaxPackets) {
    int r = ::sendmmsg(fd, msgs, kBatch, 0);
    if (r < 0) {
      if (errno == ENOBUFS || errno == EAGAIN) continue;
      perror("sendmmsg");
      std::exit(1);
    }
    sent += r;
  }
  double s = Seconds(t0, Clock::now());
  ::close(fd);
  return s * 1e9 / static_cast<double>(sent);
}

int Nft(const std::string& kind, const std::vector<int>& ns) {
  // Packets to the service CIDR leave by one end of a veth pair whose other end drops them (no
  // forwarding): the route and the neighbour exist, nothing answers.
  if (std::system(
          "ip link set lo up && ip link add mknb0 type veth peer name mknb1 && ip link set mknb0 "
          "up && "
          "ip link set mknb1 up && ip neigh add 10.200.0.2 lladdr 02:00:00:00:00:02 dev mknb0 && "
          "ip route add 10.96.0.0/12 via 10.200.0.2 dev mknb0 onlink") != 0) {
    fprintf(stderr, "cannot set up the veth pair (run inside a throw-away netns as root)\n");
    return 1;
  }
  for (int n : ns) {
    auto t0 = Clock::now();
    if (absl::Status s = vnet::RunNft(NftText(kind, n)); !s.ok()) {
      fprintf(stderr, "nft: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    double load = Seconds(t0, Clock::now());
    long sent = 0;
    double best = 1e18;
    for (int round = 0; round < 3; ++round)
      best = std::min(best, Blast(Vip(n > 0 ? n - 1 : 0), 0.7, sent));
    printf("nft-%s %d %.1f %ld (loaded in %.2f s)\n", kind.c_str(), n, best, sent, load);
    fflush(stdout);
  }
  (void)vnet::RunNft("table ip mknbench {}\ndelete table ip mknbench\n");
  return 0;
}

// proxy_mode = "ebpf" for this process: the bench's own cgroup (made, joined, removed at the end)
// with the programs on it and this netns allowed. Every service port made UDP: a connect() then
// sends nothing.
struct EbpfBench {
  std::optional<vnet::LabCgroup> cg;
  std::unique_ptr<vnet::SockLb> lb;
  proxy::SockLbMaps maps;
  std::string mount;

  bool Start() {
    absl::StatusOr<std::string> m = vnet::FindCgroup2Mount();
    absl::StatusOr<vnet::LabCgroup> c =
        vnet::LabCgroup::Create("mknbench", net::OwnerMarker("mknbench"));
    if (!m.ok() || !c.ok())
      return fprintf(stderr, "cgroup: %s\n", c.status().ToString().c_str()), false;
    mount = *m;
    absl::StatusOr<std::unique_ptr<vnet::SockLb>> l = vnet::SockLb::Load(c->fd());
    if (!l.ok()) return fprintf(stderr, "%s\n", l.status().ToString().c_str()), false;
    lb = std::move(*l);
    cg = std::move(*c);
    int self = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    absl::Status a = lb->Allow(self).status();
    ::close(self);
    if (!a.ok() || !Join(cg->path())) return fprintf(stderr, "%s\n", a.ToString().c_str()), false;
    return true;
  }
  static bool Join(const std::string& path) {
    int fd = ::open(vnet::CgroupProcsFile(path).c_str(), O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && ::write(fd, "0", 1) == 1;
    if (fd >= 0) ::close(fd);
    return ok;
  }
  bool Write(const config::ClusterSpec& spec, const std::vector<int>* changed = nullptr) {
    if (changed != nullptr) {
      proxy::SockLbChange c = maps.Plan(spec, *changed);
      if (absl::Status s = lb->Apply(c.ops); !s.ok())
        return fprintf(stderr, "%s\n", s.ToString().c_str()), false;
      maps.Commit(std::move(c));
      return true;
    }
    proxy::SockLbMaps next = proxy::SockLbMaps::Build(spec, &maps);
    if (absl::Status s = lb->Apply(proxy::Diff(maps, next)); !s.ok())
      return fprintf(stderr, "%s\n", s.ToString().c_str()), false;
    maps = std::move(next);
    return true;
  }
  ~EbpfBench() {
    lb.reset();
    if (!cg) return;
    Join(mount);  // back to where the sandbox's processes are
    const std::string path = cg->path();
    cg.reset();
    (void)vnet::RemoveLabCgroup(path, net::OwnerMarker("mknbench"));
  }
};

config::ClusterSpec UdpSpec(int n) {
  config::ClusterSpec spec = Spec(n, 4);
  for (config::ServiceSpec& s : spec.services) {
    for (config::ServicePortSpec& p : s.ports) p.protocol = config::Protocol::kUdp;
  }
  return spec;
}

// socket + connect + close of a UDP socket to `dst`:80 for about `seconds`: ns per connect.
double Connects(net::Ipv4 dst, double seconds, long& done) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(80);
  to.sin_addr.s_addr = htonl(dst.value);
  done = 0;
  auto t0 = Clock::now();
  auto end = t0 + std::chrono::duration<double>(seconds);
  constexpr long kMax = 5'000'000;
  while (done < kMax && (done % 256 != 0 || Clock::now() < end)) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) < 0) {
      perror("connect");
      std::exit(1);
    }
    ::close(fd);
    ++done;
  }
  return Seconds(t0, Clock::now()) * 1e9 / static_cast<double>(done);
}

int Ebpf(const std::vector<int>& ns) {
  if (std::system(
          "ip link set lo up && ip link add mknb0 type veth peer name mknb1 && ip link set mknb0 "
          "up && ip link set mknb1 up && "
          "ip route add 10.96.0.0/12 via 10.200.0.2 dev mknb0 onlink && "
          "ip route add 10.244.0.0/16 via 10.200.0.2 dev mknb0 onlink") != 0) {
    fprintf(stderr, "cannot set up the veth pair (run inside a throw-away netns as root)\n");
    return 1;
  }
  EbpfBench b;
  if (!b.Start()) return 1;
  for (int n : ns) {
    auto t0 = Clock::now();
    if (!b.Write(UdpSpec(n))) return 1;
    double load = Seconds(t0, Clock::now());
    long done = 0;
    double best = 1e18;
    for (int round = 0; round < 3; ++round)
      best = std::min(best, Connects(Vip(n > 0 ? n - 1 : 0), 0.5, done));
    printf("ebpf %d %.1f %ld (programmed in %.2f s)\n", n, best, done, load);
    fflush(stdout);
  }
  return 0;
}

// One endpoint change of one service (returned: its index): change i swaps its last endpoint for
// the pod after it, or (every third change) adds one and then removes it again, so the endpoint
// count moves too. Only that service's endpoints differ from `spec`.
int ChangeOne(config::ClusterSpec& spec, int i) {
  const size_t k = (static_cast<size_t>(i) * 7919) % spec.services.size();
  config::ServiceSpec& s = spec.services[k];
  if (i % 3 == 1) {
    s.endpoints.push_back((s.endpoints.back() + 1) % 10);
  } else if (i % 3 == 2 && s.endpoints.size() > 4) {
    s.endpoints.pop_back();
  } else {
    s.endpoints.back() = (s.endpoints.back() + 1) % 10;
  }
  return static_cast<int>(k);
}

struct Percentiles {
  double p50 = 0, p99 = 0;
};
Percentiles Of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

// This thread's CPU time, the kernel's work in its system calls included (an nft transaction is
// committed in the sender's context): what a change costs whatever else the machine runs.
double ThreadCpuMs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Prints "program-<mode> N <ms> ms" (and nftables' render and CPU share), then
// "update-<mode> N p50 <ms> p99 <ms> ms (<k> changes; CPU p50 <ms> p99 <ms> ms)": wall and CPU
// time of programming N services of 4 endpoints
// and of one endpoint change at a time after it, each applied before the next is made. Changes are
// bounded in count (300) and time (20 s).
int Program(const std::string& mode, int n) {
  constexpr int kChanges = 300;
  constexpr double kBudgetSeconds = 20;
  config::ClusterSpec spec = Spec(n, 4);
  spec.proxy_mode = config::ProxyMode::kNftables;
  std::vector<double> ms, cpu_ms;
  auto t0 = Clock::now();
  if (mode == "userspace") {
    absl::StatusOr<nat::ServiceTable> table = nat::ServiceTable::Build(spec);
    if (!table.ok()) return 1;
    nat::NatOptions o;
    o.proxy_ip = spec.nodes[0].proxy_ip;
    o.node_ips = {spec.nodes[0].underlay_ip};
    auto nat = nat::Nat::Create(std::move(*table), o);
    if (!nat.ok()) return 1;
    printf("program-userspace %d %.1f ms\n", n, Seconds(t0, Clock::now()) * 1e3);
    auto start = Clock::now();
    for (int i = 0; i < kChanges && Seconds(start, Clock::now()) < kBudgetSeconds; ++i) {
      const config::ServiceSpec& s = spec.services[ChangeOne(spec, i)];
      auto c0 = Clock::now();
      const double cpu0 = ThreadCpuMs();
      std::vector<config::PodSpec> pods;
      for (int e : s.endpoints) pods.push_back(spec.pods[e]);
      if (absl::Status st = (*nat)->ReplaceEndpoints(s.name, pods); !st.ok()) {
        fprintf(stderr, "%s\n", std::string(st.message()).c_str());
        return 1;
      }
      ms.push_back(Seconds(c0, Clock::now()) * 1e3);
      cpu_ms.push_back(ThreadCpuMs() - cpu0);
    }
  } else if (mode == "ebpf") {
    EbpfBench b;
    if (!b.Start()) return 1;
    t0 = Clock::now();
    if (!b.Write(spec)) return 1;
    printf("program-ebpf %d %.1f ms\n", n, Seconds(t0, Clock::now()) * 1e3);
    auto start = Clock::now();
    for (int i = 0; i < kChanges && Seconds(start, Clock::now()) < kBudgetSeconds; ++i) {
      // As the cluster does: the changed service is named (SockLbMaps::Plan).
      const std::vector<int> changed = {ChangeOne(spec, i)};
      auto c0 = Clock::now();
      const double cpu0 = ThreadCpuMs();
      if (!b.Write(spec, &changed)) return 1;
      ms.push_back(Seconds(c0, Clock::now()) * 1e3);
      cpu_ms.push_back(ThreadCpuMs() - cpu0);
    }
  } else {
    const double cpu0 = CpuSeconds();
    proxy::NftTable table = proxy::NftTable::Build(spec);
    std::string rules = table.RenderFull();
    auto t1 = Clock::now();
    // One context for the run, as the cluster keeps one per node: making one costs milliseconds.
    absl::StatusOr<vnet::NftContext> nft = vnet::NftContext::Create();
    if (!nft.ok()) return fprintf(stderr, "%s\n", std::string(nft.status().message()).c_str()), 1;
    if (absl::Status s = nft->Run(rules); !s.ok()) {
      fprintf(stderr, "nft: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    printf("program-nftables-render %d %.1f ms\n", n, Seconds(t0, t1) * 1e3);
    printf("program-nftables %d %.1f ms (%.1f ms of CPU: this process and the kernel for it)\n", n,
           Seconds(t0, Clock::now()) * 1e3, (CpuSeconds() - cpu0) * 1e3);
    auto start = Clock::now();
    int commands = 0;
    for (int i = 0; i < kChanges && Seconds(start, Clock::now()) < kBudgetSeconds; ++i) {
      // As the cluster does: the changed service is named (kill and scale know their pods').
      const std::vector<int> changed = {ChangeOne(spec, i)};
      auto c0 = Clock::now();
      const double cpu0 = ThreadCpuMs();
      proxy::NftUpdate u = table.Plan(spec, &changed);
      if (u.full_sync || u.text.empty()) {
        fprintf(stderr, "change %d: not a delta\n", i);
        return 1;
      }
      if (absl::Status s = nft->Run(u.text); !s.ok()) {
        fprintf(stderr, "nft: %s\n%s", std::string(s.message()).c_str(), u.text.c_str());
        return 1;
      }
      commands += u.commands;
      table.Commit(std::move(u));
      ms.push_back(Seconds(c0, Clock::now()) * 1e3);
      cpu_ms.push_back(ThreadCpuMs() - cpu0);
    }
    printf("update-nftables-commands %d %.1f per change\n", n,
           static_cast<double>(commands) / static_cast<double>(ms.size()));
  }
  Percentiles p = Of(ms), c = Of(cpu_ms);
  printf("update-%s %d p50 %.3f p99 %.3f ms (%zu changes; CPU p50 %.3f p99 %.3f ms)\n",
         mode.c_str(), n, p.p50, p.p99, ms.size(), c.p50, c.p99);
  return 0;
}

}  // namespace
}  // namespace mkn

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr,
            "usage: scale own N... | scale nft linear|vmap N... | scale ebpf N... | scale program "
            "userspace|nftables|ebpf N\n");
    return 2;
  }
  std::string mode = argv[1];
  int first = mode == "own" ? 2 : 3;
  std::vector<int> ns;
  for (int i = first; i < argc; ++i) ns.push_back(std::atoi(argv[i]));
  if (mode == "own") return mkn::Own(ns);
  if (mode == "nft") return mkn::Nft(argv[2], ns);
  if (mode == "ebpf") {
    std::vector<int> all;
    for (int i = 2; i < argc; ++i) all.push_back(std::atoi(argv[i]));
    return mkn::Ebpf(all);
  }
  if (mode == "program" && !ns.empty()) return mkn::Program(argv[2], ns[0]);
  fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
