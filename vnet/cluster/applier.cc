#include "vnet/cluster/applier.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "absl/strings/str_join.h"
#include "lib/net/naming.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/netlink.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/nft.h"
#include "vnet/kernel/tun.h"
#include "vnet/kernel/udp.h"

namespace mkn::vnet {

absl::Status WriteSysctl(const std::string& key, const std::string& value) {
  std::string path = "/proc/sys/" + key;
  std::replace(path.begin() + 10, path.end(), '.', '/');
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return KernelError(errno, StrCat("open ", path));
  Fd owned(fd);
  if (::write(fd, value.data(), value.size()) < 0)
    return KernelError(errno, StrCat("write ", path));
  return absl::OkStatus();
}

namespace {

using namespace plan;

// State shared by the workers of one Apply: the namespaces made so far and a cache of ifindexes.
class Registry {
 public:
  // A namespace made earlier (a running cluster's node): usable by steps, never unwound.
  void AddExisting(const std::string& name, int fd) {
    std::lock_guard<std::mutex> l(mu_);
    fds_[name] = fd;
  }
  // A namespace this Apply made: pushed on the undo stack, which owns it until ReleaseNetns().
  void AddNetns(NamedNetns ns) {
    std::lock_guard<std::mutex> l(mu_);
    fds_[ns.name()] = ns.fd();
    made_.push_back(std::move(ns));
  }
  absl::StatusOr<int> NetnsFd(const std::string& name) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = fds_.find(name);
    if (it == fds_.end())
      return absl::FailedPreconditionError(StrCat("netns ", name, " not created yet"));
    return it->second;
  }
  std::optional<int> CachedIndex(const std::string& key) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = ifindex_.find(key);
    if (it == ifindex_.end()) return std::nullopt;
    return it->second;
  }
  void CacheIndex(const std::string& key, int index) {
    std::lock_guard<std::mutex> l(mu_);
    ifindex_[key] = index;
  }
  void AddApp(AppSocket s) {
    std::lock_guard<std::mutex> l(mu_);
    apps_.push_back(std::move(s));
  }
  void AddTun(const std::string& ns, Fd fd) {
    std::lock_guard<std::mutex> l(mu_);
    tuns_.emplace(ns, std::move(fd));
  }
  std::map<std::string, Fd> TakeTuns() { return std::move(tuns_); }
  void AddTap(const std::string& ns, Fd fd) {
    std::lock_guard<std::mutex> l(mu_);
    taps_.emplace(ns, std::move(fd));
  }
  void AddGeneveSocket(const std::string& ns, Fd fd) {
    std::lock_guard<std::mutex> l(mu_);
    geneve_sockets_.emplace(ns, std::move(fd));
  }
  std::map<std::string, Fd> TakeTaps() { return std::move(taps_); }
  std::map<std::string, Fd> TakeGeneveSockets() { return std::move(geneve_sockets_); }
  void AddWorldDns(std::vector<Fd> udp, Fd tcp) {
    std::lock_guard<std::mutex> l(mu_);
    world_dns_udp_ = std::move(udp);
    world_dns_tcp_ = std::move(tcp);
  }
  std::pair<std::vector<Fd>, Fd> TakeWorldDns() {
    return {std::move(world_dns_udp_), std::move(world_dns_tcp_)};
  }

  // Undo (the workers are joined): the apps' sockets go first, then every namespace made, newest
  // first. Returns what could not be removed ("NAME: why"): the caller must say it was left.
  std::vector<std::string> Unwind() {
    apps_.clear();
    world_dns_udp_.clear();
    world_dns_tcp_ = Fd();
    tuns_.clear();
    taps_.clear();
    geneve_sockets_.clear();
    std::vector<std::string> left;
    while (!made_.empty()) {
      const std::string name = made_.back().name();
      if (absl::Status st = made_.back().RemoveNow(); !st.ok())
        left.push_back(StrCat(name, ": ", st.message()));
      made_.pop_back();
    }
    fds_.clear();
    return left;
  }

  // Success: the namespaces stay (down removes them, by their marker) and the caller gets their
  // fds, by name.
  std::map<std::string, Fd> ReleaseNetns() {
    std::map<std::string, Fd> out;
    for (NamedNetns& ns : made_) {
      std::string name = ns.name();
      out.emplace(std::move(name), ns.Release());
    }
    made_.clear();
    return out;
  }
  std::vector<AppSocket> TakeApps() { return std::move(apps_); }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, int> fds_;
  std::vector<NamedNetns> made_;  // the undo stack, oldest first
  std::unordered_map<std::string, int> ifindex_;
  std::vector<AppSocket> apps_;
  std::vector<Fd> world_dns_udp_;
  Fd world_dns_tcp_;
  std::map<std::string, Fd> tuns_;
  std::map<std::string, Fd> taps_, geneve_sockets_;
};

// A server socket on `port` of `addr` (INADDR_ANY: every address of the namespace).
absl::StatusOr<Fd> OpenServerSocket(bool udp, uint32_t addr, int port, const std::string& who) {
  int fd = ::socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return KernelError(errno, "open app socket");
  Fd owned(fd);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // Any address, so the pod's other containers reach the app on localhost as well as on the pod IP.
  // The world's servers answer on every address of the world the same way.
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) {
    return KernelError(errno, StrCat(who, ": bind ", udp ? "UDP" : "TCP", " port ", port));
  }
  if (!udp && ::listen(fd, 1024) < 0) return KernelError(errno, StrCat(who, ": listen"));
  return owned;
}

absl::StatusOr<Fd> OpenAppSocket(const StartApp& a) {
  const bool udp = a.protocol == config::Protocol::kUdp;
  // The world's udp-echo: one socket per address (plan.h's StartApp says why).
  return OpenServerSocket(udp, a.world && udp ? a.ip.value : INADDR_ANY, a.port,
                          a.world ? std::string("the world") : StrCat("pod ", a.pod));
}

// One worker thread: it moves between namespaces freely (it is discarded after its phase).
class Worker {
 public:
  Worker(Registry& reg, const std::string& marker) : reg_(reg), marker_(marker) {}

  absl::Status Run(const Step& step) {
    return std::visit([this](const auto& op) { return Do(op); }, step.op);
  }

  // Sockets of namespaces only one group uses are dropped when the group ends.
  void EndGroup(const std::string& ns) { sockets_.erase(ns); }

 private:
  absl::Status Enter(const std::string& ns) {
    if (current_ == ns) return absl::OkStatus();
    MKN_ASSIGN_OR_RETURN(int fd, reg_.NetnsFd(ns));
    MKN_RETURN_IF_ERROR(EnterNetns(fd));
    current_ = ns;
    return absl::OkStatus();
  }

  absl::StatusOr<NlSocket*> In(const std::string& ns) {
    auto it = sockets_.find(ns);
    if (it != sockets_.end()) return &it->second;
    MKN_RETURN_IF_ERROR(Enter(ns));
    MKN_ASSIGN_OR_RETURN(NlSocket s, NlSocket::Open());
    return &sockets_.emplace(ns, std::move(s)).first->second;
  }

  absl::StatusOr<int> Index(const std::string& ns, const std::string& dev) {
    std::string key = StrCat(ns, "/", dev);
    if (auto cached = reg_.CachedIndex(key)) return *cached;
    MKN_ASSIGN_OR_RETURN(NlSocket * s, In(ns));
    absl::StatusOr<LinkInfo> li = s->GetLink(dev);
    if (!li.ok())
      return absl::Status(li.status().code(),
                          StrCat("look up ", dev, " in ", ns, ": ", li.status().message()));
    reg_.CacheIndex(key, li->index);
    return li->index;
  }

  // Prefixes an error with the namespace it happened in.
  static absl::Status Where(absl::Status st, const std::string& ns) {
    if (st.ok()) return st;
    return absl::Status(st.code(), StrCat(ns, ": ", st.message()));
  }

  absl::Status Do(const CreateNetns& s) {
    // This worker is disposable (STYLE.md §4): it moves into the new netns and works on there.
    current_ = "";
    // The socket that set the marker stays open for the steps in this netns: no second one.
    std::optional<NlSocket> sock;
    absl::StatusOr<NamedNetns> ns = NamedNetns::CreateOnThisThread(s.name, marker_, &sock);
    if (absl::IsAlreadyExists(ns.status())) {
      return absl::AlreadyExistsError(
          StrCat("netns ", s.name,
                 " already exists: made meanwhile by another process, or another cluster's (two "
                 "labs can map to one mkn-<cluster>-<object> name; see minikube-net status)"));
    }
    MKN_RETURN_IF_ERROR(ns.status());
    reg_.AddNetns(std::move(*ns));
    current_ = s.name;
    if (sock) sockets_.insert_or_assign(s.name, std::move(*sock));
    return absl::OkStatus();
  }
  absl::Status Do(const SetSysctl& s) {
    MKN_RETURN_IF_ERROR(Enter(s.ns));
    return Where(WriteSysctl(s.key, s.value), s.ns);
  }
  absl::Status Do(const CreateBridge& s) {
    MKN_ASSIGN_OR_RETURN(NlSocket * sock, In(s.ns));
    return Where(sock->CreateBridge(s.name, s.mtu, s.mac), s.ns);
  }
  absl::Status Do(const CreateVeth& s) {
    VethSpec v{s.name, s.mtu, 0, s.peer_name, -1, s.peer_mac};
    if (!s.master.empty()) {
      MKN_ASSIGN_OR_RETURN(v.master, Index(s.ns, s.master));
    }
    MKN_ASSIGN_OR_RETURN(v.peer_netns_fd, reg_.NetnsFd(s.peer_ns));
    MKN_ASSIGN_OR_RETURN(NlSocket * sock, In(s.ns));
    return Where(sock->CreateVeth(v), s.ns);
  }
  absl::Status Do(const CreateVxlan& s) {
    VxlanSpec v{s.name, static_cast<uint32_t>(s.vni),  s.local,
                0,      static_cast<uint16_t>(s.port), s.mtu,
                s.mac};
    MKN_ASSIGN_OR_RETURN(v.link, Index(s.ns, s.dev));
    MKN_ASSIGN_OR_RETURN(NlSocket * sock, In(s.ns));
    return Where(sock->CreateVxlan(v), s.ns);
  }
  absl::Status Do(const AddAddress& s) {
    MKN_ASSIGN_OR_RETURN(int idx, Index(s.ns, s.dev));
    MKN_ASSIGN_OR_RETURN(NlSocket * sock, In(s.ns));
    return Where(sock->AddAddress(idx, s.addr), s.ns);
  }
  absl::Status Do(const SetLinkUp& s) {
    MKN_ASSIGN_OR_RETURN(NlSocket * sock, In(s.ns));
    return Where(sock->SetUpWithAlias(s.dev, marker_), s.ns);
  }
  absl::Status Do(const AddRoute& s) {
    MKN_ASSIGN_OR_RETURN(int idx, Index(s.ns, s.dev));
    MKN_ASSIGN_OR_RETURN(NlSocket * sock, In(s.ns));
    return Where(sock->AddRoute(s.dst, s.via, idx, s.onlink, s.table), s.ns);
  }
  absl::Status Do(const SetHairpin& s) {
    MKN_ASSIGN_OR_RETURN(int idx, Index(s.ns, s.dev));
    MKN_ASSIGN_OR_RETURN(NlSocket * sock, In(s.ns));
    return Where(sock->SetHairpin(idx), s.ns);
  }
  absl::Status Do(const AddProxyNeighbor& s) {
    MKN_ASSIGN_OR_RETURN(int idx, Index(s.ns, s.dev));
    MKN_ASSIGN_OR_RETURN(NlSocket * sock, In(s.ns));
    return Where(sock->AddProxyNeighbor(idx, s.ip), s.ns);
  }
  absl::Status Do(const AddRule& s) {
    MKN_ASSIGN_OR_RETURN(NlSocket * sock, In(s.ns));
    return Where(sock->AddRule(s.pref, s.dst, s.ipproto, s.dport_min, s.dport_max, s.table), s.ns);
  }
  absl::Status Do(const DeleteRule& s) {
    MKN_ASSIGN_OR_RETURN(NlSocket * sock, In(s.ns));
    return Where(sock->DeleteRule(s.pref, s.table), s.ns);
  }
  absl::Status Do(const CreateTun& s) {
    MKN_RETURN_IF_ERROR(Enter(s.ns));
    absl::StatusOr<Fd> fd = OpenTun(s.name, s.mtu);
    if (!fd.ok()) return Where(fd.status(), s.ns);
    reg_.AddTun(s.ns, std::move(*fd));
    return absl::OkStatus();
  }
  absl::Status Do(const CreateTap& s) {
    MKN_RETURN_IF_ERROR(Enter(s.ns));
    absl::StatusOr<Fd> fd = OpenTap(s.name, s.mtu, s.mac);
    if (!fd.ok()) return Where(fd.status(), s.ns);
    reg_.AddTap(s.ns, std::move(*fd));
    return absl::OkStatus();
  }
  absl::Status Do(const ServeGeneve& s) {
    MKN_RETURN_IF_ERROR(Enter(s.ns));
    absl::StatusOr<Fd> fd = OpenUdpTunnelSocket(s.local, static_cast<uint16_t>(s.port));
    if (!fd.ok()) return Where(fd.status(), s.ns);
    reg_.AddGeneveSocket(s.ns, std::move(*fd));
    return absl::OkStatus();
  }
  // The pump's table is built from the spec (lib/geneve/peers); the step is what the plan shows.
  absl::Status Do(const GenevePeer&) { return absl::OkStatus(); }
  absl::Status Do(const LoadNftRuleset& s) {
    MKN_RETURN_IF_ERROR(Enter(s.ns));
    return Where(RunNft(s.ruleset), s.ns);
  }
  absl::Status Do(const AddNeighbor& s) {
    MKN_ASSIGN_OR_RETURN(int idx, Index(s.ns, s.dev));
    MKN_ASSIGN_OR_RETURN(NlSocket * sock, In(s.ns));
    return Where(sock->AddNeighbor(idx, s.ip, s.mac), s.ns);
  }
  absl::Status Do(const AddFdb& s) {
    MKN_ASSIGN_OR_RETURN(int idx, Index(s.ns, s.dev));
    MKN_ASSIGN_OR_RETURN(NlSocket * sock, In(s.ns));
    return Where(sock->AddFdb(idx, s.mac, s.dst), s.ns);
  }
  absl::Status Do(const StartApp& s) {
    MKN_RETURN_IF_ERROR(Enter(s.ns));
    MKN_ASSIGN_OR_RETURN(Fd fd, OpenAppSocket(s));
    Fd relay;
    if (s.app == config::AppKind::kDns && s.protocol == config::Protocol::kUdp) {
      // The cluster DNS's relay to its forwarders: opened here so that it lives in the pod's netns.
      MKN_ASSIGN_OR_RETURN(
          relay, OpenServerSocket(true, INADDR_ANY, 0, StrCat("pod ", s.pod, ": DNS relay")));
    }
    reg_.AddApp(AppSocket{s, std::move(fd), std::move(relay)});
    return absl::OkStatus();
  }
  absl::Status Do(const ServeWorldDns& s) {
    MKN_RETURN_IF_ERROR(Enter(s.ns));
    std::vector<Fd> udp;
    for (const net::Ipv4& a : s.addrs) {
      MKN_ASSIGN_OR_RETURN(Fd u, OpenServerSocket(true, a.value, s.port, "the world's DNS"));
      udp.push_back(std::move(u));
    }
    MKN_ASSIGN_OR_RETURN(Fd tcp, OpenServerSocket(false, INADDR_ANY, s.port, "the world's DNS"));
    reg_.AddWorldDns(std::move(udp), std::move(tcp));
    return absl::OkStatus();
  }
  absl::Status Do(const StartCommand&) { return absl::OkStatus(); }  // the caller starts commands
  absl::Status Do(const CniAdd&) {
    return absl::OkStatus();
  }  // the caller runs the chain (vnet/cni)
  // The caller starts it (vnet/bgp), from the thread that owns the cluster.
  absl::Status Do(const StartBgpSpeaker&) { return absl::OkStatus(); }
  absl::Status Do(const AttachSockLb&) { return absl::OkStatus(); }  // RunningCluster::StartSockLb

  Registry& reg_;
  const std::string& marker_;
  std::string current_;
  std::unordered_map<std::string, NlSocket> sockets_;
};

const std::string* GroupNetns(const Step& s) {
  if (const auto* c = std::get_if<CreateNetns>(&s.op)) return &c->name;
  return nullptr;
}

}  // namespace

absl::StatusOr<Applied> Apply(const Plan& plan, const ApplyOptions& options) {
  MKN_RETURN_IF_ERROR(PrepareNetnsDir());
  int workers =
      options.workers > 0 ? options.workers : std::max(1u, std::thread::hardware_concurrency());
  Registry reg;
  if (options.existing_netns != nullptr) {
    for (const auto& [name, fd] : *options.existing_netns) reg.AddExisting(name, fd.get());
  }
  Applied out;
  const bool trace = std::getenv("MKN_TRACE") != nullptr;  // per-phase timings on stderr
  std::atomic<long long> op_us[std::variant_size_v<Op>] = {};
  size_t first = 0;
  while (first < plan.steps.size()) {
    // One phase: [first, last). Its groups, each a run of step indices in plan order.
    int phase = plan.steps[first].phase;
    auto phase_start = std::chrono::steady_clock::now();
    size_t last = first;
    std::map<int, std::vector<size_t>> by_group;
    for (; last < plan.steps.size() && plan.steps[last].phase == phase; ++last) {
      by_group[plan.steps[last].group].push_back(last);
    }
    std::vector<const std::vector<size_t>*> groups;
    for (auto& [g, idx] : by_group) groups.push_back(&idx);

    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex err_mu;
    absl::Status first_error;
    auto work = [&] {
      Worker w(reg, plan.marker);
      for (size_t g; !failed && (g = next.fetch_add(1)) < groups.size();) {
        if (options.stop_requested && options.stop_requested()) {
          std::lock_guard<std::mutex> l(err_mu);
          if (!failed.exchange(true)) first_error = absl::CancelledError("interrupted");
          return;
        }
        const std::string* own_ns = nullptr;
        for (size_t i : *groups[g]) {
          const Step& step = plan.steps[i];
          auto t0 = std::chrono::steady_clock::now();
          absl::Status st = static_cast<int>(i) == options.fail_at_step
                                ? absl::InternalError(StrCat("injected failure before step ", i))
                                : w.Run(step);
          if (trace)
            op_us[step.op.index()] += std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::steady_clock::now() - t0)
                                          .count();
          if (!st.ok()) {
            std::lock_guard<std::mutex> l(err_mu);
            if (!failed.exchange(true)) first_error = st;
            return;
          }
          if (const std::string* ns = GroupNetns(step)) own_ns = ns;
          if (options.progress != nullptr)
            options.progress->fetch_add(1, std::memory_order_relaxed);
        }
        if (own_ns != nullptr && phase == kPhasePods) w.EndGroup(*own_ns);
      }
    };
    int n = std::min<int>(workers, static_cast<int>(groups.size()));
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) threads.emplace_back(work);
    for (std::thread& t : threads) t.join();
    if (failed) {
      std::vector<std::string> left = reg.Unwind();
      if (left.empty()) return first_error;
      if (options.left_behind != nullptr)
        options.left_behind->insert(options.left_behind->end(), left.begin(), left.end());
      return absl::Status(first_error.code(),
                          StrCat(first_error.message(),
                                 "; the rollback could not remove: ", absl::StrJoin(left, ", ")));
    }
    if (trace) {
      fprintf(stderr, "phase %d: %zu steps in %zu groups, %lld ms\n", phase, last - first,
              groups.size(),
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - phase_start)
                                         .count()));
    }
    first = last;
  }
  for (const Step& s : plan.steps) {
    if (const auto* c = std::get_if<StartCommand>(&s.op)) out.commands.push_back(*c);
    if (const auto* c = std::get_if<CniAdd>(&s.op)) out.cni_adds.push_back(*c);
  }
  if (trace) {
    static constexpr const char* kOpNames[] = {
        "create_netns",    "set_sysctl",  "create_bridge", "create_veth",    "create_vxlan",
        "add_address",     "set_link_up", "add_route",     "add_neighbor",   "add_fdb",
        "add_proxy_neigh", "add_rule",    "delete_rule",   "create_tun",     "load_nft",
        "set_hairpin",     "start_app",   "start_command", "cni_add",        "create_tap",
        "serve_geneve",    "geneve_peer", "start_bgp",     "attach_sock_lb", "world_dns"};
    static_assert(std::size(kOpNames) == std::variant_size_v<Op>);
    for (size_t i = 0; i < std::variant_size_v<Op>; ++i) {
      fprintf(stderr, "%-14s %8lld us (summed over workers)\n", kOpNames[i], op_us[i].load());
    }
  }
  out.netns = reg.ReleaseNetns();
  out.apps = reg.TakeApps();
  out.tuns = reg.TakeTuns();
  out.taps = reg.TakeTaps();
  out.geneve_sockets = reg.TakeGeneveSockets();
  std::tie(out.world_dns_udp, out.world_dns_tcp) = reg.TakeWorldDns();
  return out;
}

}  // namespace mkn::vnet
