// vnet/trace — RunTrace: the probe's socket, the prediction, the sniffers, the probe, each copy
// matched to its hop, the kernel's reasons (reasons.cc) and the --pcap file.
// Long file: RunTrace is one ordered sequence whose steps share its locals (the hops seen, the
// copies, the pcap blocks); what stands alone is in copy.cc, edge.cc, ends.cc and reasons.cc.
#include "vnet/trace/trace.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <tins/ethernetII.h>
#include <tins/icmp.h>
#include <tins/ip.h>
#include <tins/rawpdu.h>
#include <tins/tcp.h>
#include <tins/udp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "lib/capture/pcapng.h"
#include "lib/dns/message.h"
#include "lib/net/naming.h"
#include "lib/netpol/nft.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"
#include "vnet/capture/sockets.h"
#include "vnet/cluster/client.h"
#include "vnet/cluster/state.h"
#include "vnet/ebpf/cgroup.h"
#include "vnet/kernel/conntrack.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/netlink.h"
#include "vnet/kernel/netns.h"
#include "vnet/trace/copy.h"
#include "vnet/trace/edge.h"
#include "vnet/trace/ends.h"
#include "vnet/trace/reasons.h"

namespace mkn::vnet {
namespace {

using trace::Direction;
using trace::Flow;
using trace::Hop;
using trace::Leg;
using trace::Proto;

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

bool Matches(const Hop& h, const Parsed& p, Direction dir) {
  if (h.dir != dir || !h.Carries(p.flow) || h.outer != p.outer) return false;
  return !p.leg || *p.leg == h.leg;
}

// The probe's socket, opened inside the source pod before anything is sniffed: its source port
// (or the echo identifier) is the mark the prediction and the filters carry.
struct Probe {
  Fd fd;
  uint16_t id = 0;
};

// proxy_mode = "ebpf": the probe's socket must belong to the cluster's cgroup, as a pod's
// container's sockets do, or the connect4 hook never sees it. A socket belongs to the cgroup of
// the process that created it, so a forked child joins the cgroup, enters the pod's netns, opens
// the socket and hands it back over a Unix socket; the tracing process itself (which may be a
// long-lived `up`, whose cgroup must not change) stays where it is. The child runs only
// async-signal-safe calls between fork and _exit.
absl::StatusOr<Fd> SocketInCgroup(int netns_fd, const std::string& cgroup, int type, int proto) {
  Fd procs(::open(CgroupProcsFile(cgroup).c_str(), O_WRONLY | O_CLOEXEC));
  if (!procs.valid()) return KernelError(errno, StrCat("open ", CgroupProcsFile(cgroup)));
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) < 0)
    return KernelError(errno, "make the probe's socketpair");
  Fd parent_end(pair[0]), child_end(pair[1]);
  const pid_t pid = ::fork();
  if (pid < 0) return KernelError(errno, "fork the probe's child");
  if (pid == 0) {
    // [0]: the stage that failed (0 none), [1]: its errno.
    int report[2] = {0, 0};
    int fd = -1;
    if (::write(procs.get(), "0", 1) != 1) {
      report[0] = 1;
    } else if (::setns(netns_fd, CLONE_NEWNET) < 0) {
      report[0] = 2;
    } else if ((fd = ::socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, proto)) < 0) {
      report[0] = 3;
    }
    if (report[0] != 0) report[1] = errno;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    iovec iov{report, sizeof report};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fd >= 0) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      __builtin_memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    ::_exit(::sendmsg(child_end.get(), &msg, 0) < 0 ? 1 : 0);
  }
  child_end = Fd();
  int report[2] = {0, 0};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{report, sizeof report};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(parent_end.get(), &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  const int recv_errno = errno;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n < static_cast<ssize_t>(sizeof report))
    return KernelError(n < 0 ? recv_errno : EPROTO, "receive the probe's socket from its child");
  if (report[0] != 0) {
    static constexpr const char* kStage[] = {"", "join cgroup ", "enter the pod's netns from ",
                                             "open the probe's socket in "};
    return KernelError(report[1], StrCat(kStage[report[0]], cgroup));
  }
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c == nullptr || c->cmsg_type != SCM_RIGHTS)
    return absl::InternalError("the probe's child sent no socket");
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return Fd(fd);
}

// The probe's socket, opened in SRC's namespace (a pod's, a node's, the underlay's or a ToR's)
// and bound to the source address the prediction uses; in ebpf mode a pod's is the cluster
// cgroup's (SocketInCgroup).
absl::StatusOr<Probe> OpenProbe(const trace::Request& r, const std::string& cgroup) {
  const std::string& netns = r.src.netns;
  const Proto proto = r.proto;
  Probe probe;
  const int type = proto == Proto::kTcp   ? SOCK_STREAM
                   : proto == Proto::kUdp ? SOCK_DGRAM
                                          : SOCK_RAW;
  const int ipproto = proto == Proto::kIcmp ? IPPROTO_ICMP : 0;
  if (netns.empty()) {
    // `host`: the caller's own namespace, where the edge listens.
    probe.fd = Fd(::socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, ipproto));
    if (probe.fd.get() < 0) return KernelError(errno, "open the probe's socket");
  } else if (!cgroup.empty() && r.src.kind == "pod") {
    MKN_ASSIGN_OR_RETURN(Fd ns, OpenNetns(netns));
    MKN_ASSIGN_OR_RETURN(probe.fd, SocketInCgroup(ns.get(), cgroup, type, ipproto));
  } else {
    MKN_ASSIGN_OR_RETURN(Fd ns, OpenNetns(netns));
    MKN_RETURN_IF_ERROR(RunInNetns(ns.get(), [&]() -> absl::Status {
      probe.fd = Fd(::socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, ipproto));
      if (probe.fd.get() < 0)
        return KernelError(errno, StrCat("open the probe's socket in ", netns));
      return absl::OkStatus();
    }));
  }
  // Bound to the address the prediction says it leaves with (a socket stays in its netns, so
  // this works from any thread); for a raw ICMP socket that sets the source address only.
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(r.src.ip.value);
  if (::bind(probe.fd.get(), reinterpret_cast<sockaddr*>(&at), sizeof at) < 0) {
    const int err = errno;
    if (err == EADDRNOTAVAIL && r.src.kind == "pod") {
      // The pod's address is no longer the one the lab recorded: in a CNI lab, a `cni del` and
      // `cni add` by hand gave it another (they change the pod's network only). Refused, as a
      // trace that cannot start is (exit 2): nothing was lost on the way.
      return absl::InvalidArgumentError(StrCat(
          "trace: ", r.src.pod, " no longer has ", r.src.ip.ToString(),
          ", the address the lab recorded for it (a `cni del` + `cni add` by hand changes the "
          "pod's network only): `minikube-net kill ",
          r.src.pod, "` re-creates it through the chain and records its new address"));
    }
    return KernelError(err,
                       StrCat("bind the probe's socket to ", r.src.ip.ToString(), " in ", netns));
  }
  if (proto == Proto::kIcmp) {
    // A fresh identifier per trace: the pid's low bits and the clock's, never 0.
    probe.id = static_cast<uint16_t>((static_cast<uint32_t>(::getpid()) * 2654435761u) ^ NowNs());
    if (probe.id == 0) probe.id = 1;
    return probe;
  }
  socklen_t len = sizeof at;
  if (::getsockname(probe.fd.get(), reinterpret_cast<sockaddr*>(&at), &len) < 0)
    return KernelError(errno, "read the probe's port");
  probe.id = ntohs(at.sin_port);
  return probe;
}

// The errors a send (sendto, a non-blocking connect) gets at once when the packet cannot leave
// the source: no route (ENETUNREACH; EHOSTUNREACH from an unreachable or prohibit route) or a
// rule of the source's output path refusing it (EACCES from a reject, EPERM from a drop). The
// packet died there: a verdict, not a failure of trace.
bool DiesAtSource(int err) {
  return err == ENETUNREACH || err == EHOSTUNREACH || err == EACCES || err == EPERM;
}

// `unsent`: the errno of a send that failed because the packet cannot leave SRC (DiesAtSource),
// which is then no error; 0 when it was sent.
absl::Status SendProbe(const Probe& probe, const trace::Request& r, int& unsent) {
  unsent = 0;
  auto failed = [&](std::string text) {
    if (DiesAtSource(errno)) {
      unsent = errno;
      return absl::OkStatus();
    }
    return KernelError(errno, text);
  };
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(r.dst.ip.value);
  to.sin_port = htons(r.proto == Proto::kIcmp ? 0 : r.dst.port);
  const std::string mark = StrCat("minikube-net trace ", r.id);
  switch (r.proto) {
    case Proto::kIcmp: {
      // Crafted with libtins (the design card's packet library): the kernel adds the IP header.
      Tins::ICMP icmp(Tins::ICMP::ECHO_REQUEST);
      icmp.id(r.id);
      icmp.sequence(1);
      icmp /= Tins::RawPDU(mark);
      const Tins::PDU::serialization_type bytes = icmp.serialize();
      if (::sendto(probe.fd.get(), bytes.data(), bytes.size(), 0,
                   reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
        return failed(StrCat("send the ICMP probe to ", r.dst.ip.ToString()));
      return absl::OkStatus();
    }
    case Proto::kUdp: {
      // Port 53 is DNS's: a resolver drops text it cannot parse as a query (and counts it as
      // malformed), so the trace would blame the DNS pod. There the probe is a real query for a
      // name under .invalid (RFC 6761: never a real name), which a resolver answers (REFUSED,
      // NXDOMAIN): that answer is the reply. The source port stays the mark.
      std::vector<uint8_t> bytes(mark.begin(), mark.end());
      if (r.dst.port == 53) {
        dns::Query q;
        q.id = static_cast<uint16_t>(r.id);
        q.rd = true;
        q.qname = dns::FromText(StrCat("trace-", r.id, ".minikube-net.invalid"));
        q.qtype = 1;   // A
        q.qclass = 1;  // IN
        MKN_ASSIGN_OR_RETURN(bytes, dns::EncodeQuery(q));
      }
      if (::sendto(probe.fd.get(), bytes.data(), bytes.size(), 0,
                   reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
        return failed(StrCat("send the UDP probe to ", r.dst.word));
      return absl::OkStatus();
    }
    case Proto::kTcp:
      // A real connection: its SYN is the request, the SYN-ACK the reply.
      if (::connect(probe.fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0 &&
          errno != EINPROGRESS)
        return failed(StrCat("connect to ", r.dst.word));
      // The edge: a real HTTP request carrying the marker, once connected.
      if (r.edge) return SendEdgeRequest(probe.fd.get(), r, absl::Seconds(2));
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

// A translation undone on local input (a node's own connection through the nat output hook) ends
// the reply leg, and no interface shows it: the probe's own socket proves it, as its peer is the
// address it was sent to (the SYN-ACK, or the answering datagram, came back translated). Waits up
// to `wait` for the kernel to hand the answer to the socket, which it does just after the last
// interface saw it. "" when the socket has no such answer.
std::string SocketProof(const Probe& probe, const trace::Request& r, absl::Duration wait) {
  if (r.proto == Proto::kIcmp) return "";
  pollfd pfd{probe.fd.get(), static_cast<short>(r.proto == Proto::kTcp ? POLLOUT : POLLIN), 0};
  int n;
  do {
    n = ::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(wait)));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return "";
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  if (r.proto == Proto::kTcp) {
    int err = 0;
    socklen_t elen = sizeof err;
    if (::getsockopt(probe.fd.get(), SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0) return "";
    if (::getpeername(probe.fd.get(), reinterpret_cast<sockaddr*>(&peer), &len) < 0) return "";
  } else {
    char byte;
    if (::recvfrom(probe.fd.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT,
                   reinterpret_cast<sockaddr*>(&peer), &len) < 0)
      return "";
  }
  if (ntohl(peer.sin_addr.s_addr) != r.dst.ip.value || ntohs(peer.sin_port) != r.dst.port)
    return "";
  return StrCat("the probe's socket ",
                r.proto == Proto::kTcp ? "is connected to " : "received the answer from ",
                r.dst.ip.ToString(), ":", r.dst.port);
}

// Whether hop `i` is one SocketProof proves: no interface, and the last of its reply leg.
bool EndsReplyInTheSocket(const trace::Path& p, size_t i) {
  // The edge's upstream leg ends in the edge's socket, not the probe's (the edge hop proves it).
  if (p.request.edge) return false;
  const Hop& h = p.hops[i];
  if (h.Sniffed() || h.leg != Leg::kReply || i == 0) return false;
  return i + 1 == p.hops.size() || p.hops[i + 1].branch != h.branch;
}

// Whether the probe was seen wherever an interface can show it: the loop's end. The edge leg's
// edge hops are proved after it (its access log), the rest as Judge says.
bool Whole(const trace::Path& p, const std::vector<trace::Observation>& seen) {
  if (!p.request.edge) return trace::Judge(p, seen).ok;
  std::vector<trace::Observation> all = seen;
  for (size_t i = 0; i < p.hops.size(); ++i)
    if (!p.hops[i].Sniffed()) all[i].seen = true;
  return trace::Judge(p, all).ok;
}

// The targets to sniff: each predicted interface once, grouped by namespace.
capture::ObjectKind KindOf(std::string_view kind) {
  // The world is a namespace with one interface, as `capture world` sees it: a router's kind.
  return kind == "underlay"                    ? capture::ObjectKind::kUnderlay
         : kind == "router" || kind == "world" ? capture::ObjectKind::kRouter
         : kind == "pod"                       ? capture::ObjectKind::kPod
                                               : capture::ObjectKind::kNode;
}

std::vector<capture::Target> TargetsOf(const trace::Path& p) {
  std::vector<capture::Target> out;
  // A CNI lab: its namespaces whole (every interface but lo), the plugins' names and all.
  for (const trace::Place& place : p.sniff_all) {
    capture::LabObject o;
    o.name = place.object;
    o.netns = place.netns;
    o.kind = KindOf(place.kind);
    out.push_back({o, {}});
  }
  if (!out.empty()) return out;
  std::map<std::string, size_t> by_netns;
  for (const Hop& h : p.hops) {
    if (!h.Sniffed()) continue;
    auto [it, fresh] = by_netns.emplace(h.netns, out.size());
    if (fresh) {
      capture::LabObject o;
      o.name = h.object;
      o.netns = h.netns;
      o.kind = KindOf(h.kind);
      out.push_back({o, {}});
    }
    std::vector<std::string>& ifs = out[it->second].interfaces;
    if (std::find(ifs.begin(), ifs.end(), h.ifname) == ifs.end()) ifs.push_back(h.ifname);
  }
  return out;
}

std::string UnionFilter(const trace::Path& p) {
  std::vector<std::string> filters;
  for (const Hop& h : p.hops)
    if (h.Sniffed()) filters.push_back(h.filter);
  return trace::UnionFilter(filters);
}

}  // namespace

absl::StatusOr<TraceResult> RunTrace(const ClusterState& s, const config::ClusterSpec& spec,
                                     const TraceOptions& o) {
  const absl::Time start = absl::Now();
  // A CNI lab's pod addresses are the chain's (its ADD results), known from the running cluster.
  config::ClusterSpec cni_spec;
  const config::ClusterSpec* lab = &spec;
  if (spec.cni_mode) {
    cni_spec = spec;
    for (config::PodSpec& pod : cni_spec.pods) {
      if (const PodState* ps = s.FindPod(pod.name))
        pod.ip = net::Ipv4::Parse(ps->ip).value_or(net::Ipv4{});
    }
    lab = &cni_spec;
  }
  MKN_ASSIGN_OR_RETURN(trace::Request req, trace::ParseRequest(*lab, o.src, o.dst, o.proto));
  if (req.edge) req.edge->marker = NewEdgeMarker();
  if (lab->cni_mode) {
    // The plugins made the routes: the kernel says where a node's or the underlay's probe leaves
    // from, and where a masquerade sends a translated one.
    std::vector<trace::RouteAnswer> answers;
    for (const trace::RouteQuery& q : trace::CniRouteQueries(*lab, req))
      answers.push_back(AskRoute(q));
    MKN_RETURN_IF_ERROR(trace::ApplyCniRoutes(*lab, req, std::move(answers)));
  }
  if (req.src.kind == "pod") {
    const PodState* src = s.FindPod(req.src.pod);
    if (src == nullptr)
      return absl::NotFoundError(StrCat("trace: pod ", req.src.pod, " is not running"));
    req.src.netns = src->netns;
  }
  MKN_ASSIGN_OR_RETURN(Probe probe, OpenProbe(req, s.cgroup));
  req.id = probe.id;
  TraceResult res;
  MKN_ASSIGN_OR_RETURN(res.path, trace::PredictPath(*lab, req));
  const trace::Path& path = res.path;

  PacketSocketOptions po;
  po.filter = path.cni ? trace::CniFilter(path) : UnionFilter(path);
  // Headers and the mark: enough to match and to read in the pcap; the edge's marker is in the
  // HTTP header, after the forwarding headers the edge adds upstream.
  po.snaplen = req.edge ? 16384 : 512;
  po.rcvbuf_bytes = 1 << 20;
  absl::StatusOr<PacketSockets> opened = PacketSockets::Open(TargetsOf(path), po);
  if (!opened.ok()) {
    // An interface or namespace of the prediction gone: the cluster went away, or a pod of the
    // path is being killed or scaled. Neither is a usage error.
    MKN_RETURN_IF_ERROR(StillUp(s));
    if (absl::IsInvalidArgument(opened.status()) || absl::IsNotFound(opened.status())) {
      return absl::AbortedError(StrCat("trace: the path changed under the trace (",
                                       opened.status().message(),
                                       "): a pod was killed, restarted or scaled meanwhile; trace "
                                       "again"));
    }
    return opened.status();
  }
  PacketSockets& sockets = *opened;
  const std::vector<OpenInterface>& ifs = sockets.interfaces();

  // Each packet is matched to a hop of its interface (netns, ifname); several hops may share one
  // interface (cbr0 in and out, request and reply).
  std::vector<std::vector<size_t>> hops_of(ifs.size());
  for (size_t i = 0; i < path.hops.size(); ++i) {
    for (size_t k = 0; k < ifs.size(); ++k)
      if (ifs[k].netns == path.hops[i].netns && ifs[k].ifname == path.hops[i].ifname)
        hops_of[k].push_back(i);
  }
  res.seen.assign(path.hops.size(), {});
  std::vector<std::optional<net::Mac>> macs(path.hops.size());
  std::string pcap;
  if (!o.pcap.empty()) {
    capture::AppendSectionHeader(pcap, "minikube-net trace");
    for (const OpenInterface& i : ifs) capture::AppendInterfaceDescription(pcap, i.idb);
  }

  // NetworkPolicy: each node's drop counters before the probe, to name the policy that dropped a
  // lost one (not read without policies: nothing could drop it there).
  std::map<std::string, uint64_t> drops_before;
  if (!spec.network_policies.empty()) {
    MKN_ASSIGN_OR_RETURN(drops_before, NetpolCounters(s));
  }
  const uint64_t sent_ns = NowNs();
  // Matches copy `c` (seen at interface `k` going `dir` at `ts`) to the hops there, each listed in
  // `matched_hops` if given (the pcap names the one on the path shown); true if any. The edge leg's
  // response copies read before the copy that tells the upstream's client port wait in `deferred`
  // for it.
  const std::string marker = req.edge ? req.edge->marker : "";
  std::optional<uint16_t> learnt;
  struct Deferred {
    size_t k;
    Direction dir;
    Parsed c;
    uint64_t ts;
  };
  std::vector<Deferred> deferred;
  std::function<bool(size_t, Direction, const Parsed&, uint64_t, std::vector<size_t>*)> match_copy =
      [&](size_t k, Direction dir, const Parsed& c, uint64_t ts,
          std::vector<size_t>* matched_hops) {
        bool matched = false;
        const bool knew = learnt.has_value();
        for (size_t i : hops_of[k]) {
          trace::Observation& ob = res.seen[i];
          const Hop& h = path.hops[i];
          if (ob.seen) continue;
          if (h.http ? !MatchesHttp(h, c, dir, marker, learnt) : !Matches(h, c, dir)) continue;
          matched = true;
          if (h.http && h.random_port && h.leg == Leg::kRequest && !learnt) learnt = c.flow.sport;
          ob.seen = true;
          ob.offset_ns = static_cast<int64_t>(ts) - static_cast<int64_t>(sent_ns);
          ob.flow = c.flow;
          ob.outer = c.outer;
          ob.refused = c.refused;
          ob.icmp_code = c.icmp_code;
          macs[i] = c.dst_mac;
          if (i + 1 < path.hops.size() && EndsReplyInTheSocket(path, i + 1) &&
              !res.seen[i + 1].seen) {
            if (std::string proof = SocketProof(probe, req, absl::Milliseconds(200));
                !proof.empty()) {
              trace::Observation& end = res.seen[i + 1];
              end.seen = true;
              end.offset_ns = static_cast<int64_t>(NowNs()) - static_cast<int64_t>(sent_ns);
              end.flow = path.hops[i + 1].flow;
              end.why = std::move(proof);
            }
          }
          // Every branch's copy of this hop matches (the hops back to the client are the same
          // whichever endpoint answered): mark them all.
          if (matched_hops != nullptr) matched_hops->push_back(i);
        }
        if (!matched && req.edge && !learnt && !c.payload.empty())
          deferred.push_back({k, dir, c, ts});
        if (!knew && learnt) {
          for (const Deferred& d : std::exchange(deferred, {}))
            match_copy(d.k, d.dir, d.c, d.ts, nullptr);
        }
        return matched;
      };
  int unsent = 0;
  MKN_RETURN_IF_ERROR(SendProbe(probe, req, unsent));
  if (unsent != 0) {
    // Nothing left SRC, so nothing is waited for: the packet died in its routing decision.
    res.elapsed = absl::Now() - start;
    if (o.end_of_wait) o.end_of_wait();
    const std::string route = SourceRoute(req);
    trace::DiedAtSource(
        res.path, res.seen,
        StrCat(route, route.empty() ? "" : " ", "(the probe's ",
               req.proto == Proto::kTcp ? "connect" : "send", ": ", std::strerror(unsent), ")"));
    res.verdict = trace::Judge(res.path, res.seen);
    if (!o.pcap.empty()) MKN_RETURN_IF_ERROR(WritePcap(o.pcap, pcap, absl::Now() + o.timeout));
    return res;
  }
  std::vector<trace::SeenCopy> copies;  // a CNI lab's, in the order read
  // ... and the destination MAC each interface saw first (a bridge port's FDB reason).
  std::vector<std::pair<std::tuple<Leg, std::string, std::string, Direction>, net::Mac>> cni_macs;
  // The copies for the pcap file, with the hops each matched: the sockets are read one after
  // another, so the file is sorted at the end, and each copy's comment names its row of the
  // table (known once the verdict has chosen the path).
  struct Block {
    capture::EnhancedPacket pkt;  // its data and comment point into `bytes` and `comment`
    std::vector<uint8_t> bytes;   // the copy's own (the socket's buffer is reused)
    std::string comment;
    std::vector<size_t> hops;         // the predicted hops it matched
    std::optional<trace::Hop> where;  // a CNI lab's: its leg, netns, interface and direction
  };
  std::vector<Block> blocks;
  auto sink = [&](const capture::EnhancedPacket& pkt) {
    Block block;
    const size_t k = pkt.interface_id;
    const Direction dir =
        pkt.direction == capture::Direction::kOutbound ? Direction::kOut : Direction::kIn;
    std::optional<Parsed> parsed = ParseCopy(pkt, ifs[k].idb.link_type);
    if (parsed && path.cni) {
      // Every copy of the probe, wherever it was seen: the path is composed from these.
      // Through a Service, before or after the translation (CniCopyOf says which).
      const std::optional<std::pair<Leg, int>> of = trace::CniCopyOf(path, parsed->flow);
      const std::optional<Leg> leg = of ? std::optional(of->first) : std::nullopt;
      if (leg && (!parsed->leg || parsed->leg == leg)) {
        trace::SeenCopy c;
        for (const trace::Place& place : path.sniff_all)
          if (place.netns == ifs[k].netns) c.place = place;
        c.ifname = ifs[k].ifname;
        c.dir = dir;
        c.leg = *leg;
        c.branch = of->second;
        c.ob.seen = true;
        c.ob.offset_ns = static_cast<int64_t>(pkt.timestamp_ns) - static_cast<int64_t>(sent_ns);
        c.ob.flow = parsed->flow;
        c.ob.outer = parsed->outer;
        c.ob.refused = parsed->refused;
        c.ob.icmp_code = parsed->icmp_code;
        if (parsed->dst_mac)
          cni_macs.push_back({{c.leg, c.place.netns, c.ifname, dir}, *parsed->dst_mac});
        block.where.emplace();
        block.where->leg = c.leg;
        block.where->netns = c.place.netns;
        block.where->ifname = c.ifname;
        block.where->dir = dir;
        copies.push_back(std::move(c));
      }
    }
    if (parsed) match_copy(k, dir, *parsed, pkt.timestamp_ns, &block.hops);
    if (!o.pcap.empty()) {
      block.pkt = pkt;
      block.bytes.assign(pkt.data.begin(), pkt.data.end());
      blocks.push_back(std::move(block));
    }
    return !Whole(path, res.seen);
  };
  // Read in slices: the sockets hold every namespace of the path, so a `down` meanwhile (or a
  // kill of a pod on the path) would wait for the timeout, up to a minute, and blame the nodes.
  // A namespace whose name went away ends the trace at once, its sockets closed.
  std::set<std::string> watched;
  for (const OpenInterface& i : ifs)
    if (!i.netns.empty()) watched.insert(i.netns);
  for (const absl::Time until = absl::Now() + o.timeout;;) {
    const absl::Time slice = std::min(until, absl::Now() + absl::Milliseconds(100));
    MKN_ASSIGN_OR_RETURN(const PollEnd end, sockets.Poll(slice, o.stop_fd, sink));
    if (end == PollEnd::kStopFd) res.interrupted = true;
    if (end != PollEnd::kDeadline || slice >= until) break;
    for (const std::string& name : watched) {
      if (StatNetnsPath(name) == NetnsPath::kMounted) continue;
      MKN_RETURN_IF_ERROR(PathUnchanged(s, path));  // names the pod, or the cluster going
      return absl::AbortedError(StrCat("trace: the path changed under the trace (", name,
                                       " was removed): a pod was killed, restarted or scaled "
                                       "meanwhile, or the cluster is going down; trace again"));
    }
  }
  // A CNI lab's path is whole once its predicted ends saw the probe, which can be before the
  // sockets of the nodes between them were read (one socket after another): their copies are
  // already queued (the kernel hands a packet socket its copy as the packet passes), so they are
  // read now, briefly, and the path is composed from every copy (a backend that picked itself
  // through a NodePort showed only its own eth0, not its node's veth in and out).
  if (path.cni && !res.interrupted) {
    (void)sockets.Poll(absl::Now() + absl::Milliseconds(2), -1,
                       [&](const capture::EnhancedPacket& pkt) {
                         sink(pkt);
                         return true;
                       });
  }
  res.elapsed = absl::Now() - start;
  if (o.end_of_wait) o.end_of_wait();
  if (req.edge) {
    // What the edge did: its answer on the probe's socket, its access-log line for the marker.
    const std::string response = ReadEdgeResponse(probe.fd.get(), absl::Milliseconds(500));
    const std::optional<trace::EdgeLogEntry> log =
        WaitEdgeLogLine(StrCat(StateDirOf(s.cluster), "/logs/ingress/access.log"), marker,
                        absl::Now() + absl::Milliseconds(1500));
    // The upstream's client port, now known: the translation points and the reasons use it.
    for (Hop& h : res.path.hops) {
      if (!learnt || !h.http || !h.random_port) continue;
      (h.leg == Leg::kRequest ? h.flow.sport : h.flow.dport) = *learnt;
      h.random_port = false;
    }
    trace::ExplainEdge(res.path, log, ResponseBody(response), res.seen);
  }
  probe.fd = Fd();  // a TCP probe's connection is reset or closed here, after the trace
  if (path.cni) {
    // Read one socket after another: put the copies in the order the packet went.
    std::stable_sort(copies.begin(), copies.end(),
                     [](const auto& a, const auto& b) { return a.ob.offset_ns < b.ob.offset_ns; });
    trace::ComposeSeen(res.path, copies, res.seen);
    macs.assign(res.path.hops.size(), std::nullopt);
    for (size_t i = 0; i < res.path.hops.size(); ++i) {
      const Hop& h = res.path.hops[i];
      for (const auto& [key, mac] : cni_macs)
        if (!macs[i] && key == std::make_tuple(h.leg, h.netns, h.ifname, h.dir)) macs[i] = mac;
    }
  }
  ReadReasons(path, res.seen, macs);
  res.verdict = trace::Judge(path, res.seen);
  // ebpf: what the connect4 hook did is what the next hop on the chosen branch shows.
  for (size_t k = 0; k + 1 < res.verdict.hops.size(); ++k) {
    const size_t i = res.verdict.hops[k], next = res.verdict.hops[k + 1];
    if (path.hops[i].why != "connect4" || !res.seen[next].seen) continue;
    const Flow& a = path.hops[i].flow;
    const Flow& b = res.seen[next].flow;
    // An unconnected UDP socket's datagrams are rewritten by sendmsg4, a connect() by connect4.
    res.seen[i].why =
        StrCat(a.proto == Proto::kUdp ? "sendmsg4" : "connect4", " rewrote ", a.dst.ToString(), ":",
               a.dport, " -> ", b.dst.ToString(), ":", b.dport, " (cgroup ", s.cgroup, ")");
  }
  res.verdict = trace::Judge(path, res.seen);
  // A probe lost while the cluster went away, or while a pod of its path was replaced, says
  // nothing about the network: say what happened instead.
  if (!res.verdict.ok) MKN_RETURN_IF_ERROR(PathUnchanged(s, path));
  if (!res.verdict.ok && !spec.network_policies.empty()) {
    MKN_ASSIGN_OR_RETURN(const auto drops_after, NetpolCounters(s));
    if (std::string by = netpol::DropVerdict(spec, drops_before, drops_after); !by.empty())
      trace::BlamePolicy(res.path, res.seen, res.verdict, by);
  }

  if (res.interrupted && !res.verdict.ok)
    res.verdict.summary =
        StrCat("interrupted (a stop signal) while waiting: ", res.verdict.summary);
  // Sent, but seen nowhere on the path: SRC's own routing decision is the one reason left to
  // give (a node whose route to the pods is gone sends them its default way, which no predicted
  // hop watches).
  if (!res.verdict.ok && res.verdict.last_seen < 0 && !path.cni && !req.edge) {
    if (std::string route = SourceRoute(req); !route.empty())
      StrAppend(&res.verdict.summary, "; ", req.src.object, " routes it: ", route);
  }

  if (!o.pcap.empty()) {
    // Each copy's row in the table (its "#"), named in its comment: the first hop it matched on
    // the path the verdict chose, or in a CNI lab the composed hop of its interface.
    const trace::Path& shown = res.path;
    std::vector<int> row_of(shown.hops.size(), -1);
    for (size_t k = 0; k < res.verdict.hops.size(); ++k)
      row_of[res.verdict.hops[k]] = static_cast<int>(k) + 1;
    std::vector<std::pair<int, const Hop*>> rows(blocks.size(), {-1, nullptr});
    for (size_t b = 0; b < blocks.size(); ++b) {
      for (size_t i = 0; i < shown.hops.size() && blocks[b].where; ++i) {
        const Hop& h = shown.hops[i];
        if (row_of[i] > 0 && h.leg == blocks[b].where->leg && h.netns == blocks[b].where->netns &&
            h.ifname == blocks[b].where->ifname && h.dir == blocks[b].where->dir) {
          rows[b] = {row_of[i], &h};
          break;
        }
      }
      for (size_t i : blocks[b].hops) {
        if (!path.cni && row_of[i] > 0 && (rows[b].first < 0 || row_of[i] < rows[b].first))
          rows[b] = {row_of[i], &shown.hops[i]};
      }
    }
    std::vector<size_t> order(blocks.size());
    for (size_t b = 0; b < order.size(); ++b) order[b] = b;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return blocks[a].pkt.timestamp_ns < blocks[b].pkt.timestamp_ns;
    });
    // The copies that name a row take their places in row order: the kernel stamps a copy when
    // its interface sees it, and a decapsulated copy (vxlan0's, gnv0's) is stamped a few µs
    // before the outer one on eth0 it came out of, which would read "hop 15, hop 14".
    std::vector<size_t> slots, named;
    for (size_t k = 0; k < order.size(); ++k) {
      if (rows[order[k]].first < 0) continue;
      slots.push_back(k);
      named.push_back(order[k]);
    }
    std::stable_sort(named.begin(), named.end(),
                     [&](size_t a, size_t b) { return rows[a].first < rows[b].first; });
    for (size_t k = 0; k < slots.size(); ++k) order[slots[k]] = named[k];
    for (size_t b : order) {
      capture::EnhancedPacket& copy = blocks[b].pkt;
      copy.data = blocks[b].bytes;
      if (const auto& [row, h] = rows[b]; h != nullptr) {
        blocks[b].comment = StrCat("trace hop ", row, ": ", ToString(h->leg), " ", h->object, ":",
                                   h->ifname, " ", ToString(h->dir), " (", h->role, ")");
        copy.comment = blocks[b].comment;
      }
      capture::AppendEnhancedPacket(pcap, copy);
    }
    const std::vector<InterfaceCounters> counters = sockets.Counters();
    for (size_t k = 0; k < counters.size(); ++k) {
      capture::InterfaceStatistics st;
      st.interface_id = static_cast<uint32_t>(k);
      st.timestamp_ns = NowNs();
      st.received = counters[k].received;
      st.dropped = counters[k].dropped;
      capture::AppendInterfaceStatistics(pcap, st);
    }
    // A FIFO's reader gets as long again as the probe had.
    MKN_RETURN_IF_ERROR(WritePcap(o.pcap, pcap, absl::Now() + o.timeout));
  }
  return res;
}

}  // namespace mkn::vnet
