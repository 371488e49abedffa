// vnet/cni/verify/model_checks — the checks of the Kubernetes network model, ids model.*: every pod
// reaches every pod without NAT (on one node and across nodes, ICMP, TCP and UDP, the server
// seeing the client's own IP), a node reaches its pods, a pod's own IP is the one others see, a
// packet of the pod's MTU crosses nodes, ClusterIP Services reach the plugin's pods, and the
// CONVENTIONS.md capabilities (hostPort through portmap, bandwidth) do what the lab asks.
//
// Probed with real traffic between the lab's own pods (probe.h: ping, socat, bash /dev/udp, curl,
// iperf3 as child processes in the namespaces), the probes of one check in parallel (ParallelFor),
// each waiting Ctx::limits.wait for its answer; what the replies mean is lib/cni/judge's. A probe
// that gets no answer is the check's failure; one that cannot run at all (a tool missing, a server
// that would not start) is its harness error.
#include <set>

#include "absl/strings/str_join.h"
#include "lib/cni/judge.h"
#include "lib/strings/str_cat.h"
#include "vnet/cni/verify/checks.h"

namespace mkn::vnet::verify_internal {
namespace {

using namespace std::chrono_literals;

// Pods for the model checks: a client, a server on its node, a server on another node (-1: none).
struct Pair {
  int client = -1, same = -1, cross = -1;
};
Pair PickPods(const Ctx& c) {
  Pair p;
  std::vector<int> ok = OkPods(c);
  for (int a : ok) {
    for (int b : ok) {
      if (a == b) continue;
      if (c.pods[a].node == c.pods[b].node && p.same < 0 && (p.client < 0 || p.client == a)) {
        p.client = a;
        p.same = b;
      }
    }
  }
  if (p.client < 0 && !ok.empty()) p.client = ok[0];
  if (p.client >= 0) {
    for (int b : ok) {
      if (c.pods[b].node != c.pods[p.client].node) {
        p.cross = b;
        break;
      }
    }
  }
  return p;
}

// The suite's echo servers in the lab's pod `pod`, or the harness error of starting them.
bool EnsureServers(Ctx& c, cni::CheckReport& r, int pod) {
  absl::Status s = c.servers.Ensure(pod, c.pods[pod].fd.get());
  if (!s.ok())
    Error(r, StrCat("could not start the suite's servers in pod ", c.pods[pod].name, ": ",
                    s.message()));
  return s.ok();
}

void PodToPod(Ctx& c, cni::CheckReport& r, int client, int server, const std::string& where) {
  if (client < 0 || server < 0) return Skip(r, StrCat("the lab has no two wired pods ", where));
  if (!EnsureServers(c, r, server)) return;
  const PodCtx& a = c.pods[client];
  const PodCtx& b = c.pods[server];
  static constexpr const char* kProtos[] = {"icmp", "tcp", "udp"};
  Findings f(3);
  ParallelFor(3, [&](size_t i) {
    if (absl::StatusOr<std::string> seen = Probe(a.fd.get(), kProtos[i], b.ip, c.limits);
        !seen.ok()) {
      f.FailOrError(
          i, seen.status(),
          StrCat(kProtos[i], " from pod ", a.name, " (", a.ip, ", ", c.nodes[a.node].name,
                 ") to pod ", b.name, " (", b.ip, ", ", c.nodes[b.node].name, "): no answer: "));
    }
  });
  f.MergeInto(r);
}

// Whether one of the pod's containers is the lab's udp-echo app on UDP `port` (what a UDP hostPort
// probe needs to get an answer from).
bool ServesUdpEcho(const config::PodSpec& ps, int port) {
  for (const config::ContainerSpec& ct : ps.containers) {
    if (ct.app != config::AppKind::kUdpEcho) continue;
    for (const config::ContainerPort& cp : ct.ports) {
      if (cp.port == port && cp.protocol == config::Protocol::kUdp) return true;
    }
  }
  return false;
}

}  // namespace

// --- reachability ------------------------------------------------------------------------------

void CheckPodPodNode(Ctx& c, cni::CheckReport& r) {
  Pair p = PickPods(c);
  PodToPod(c, r, p.client, p.same, "on one node");
}
void CheckPodPodCross(Ctx& c, cni::CheckReport& r) {
  Pair p = PickPods(c);
  PodToPod(c, r, p.client, p.cross, "on two nodes");
}

void CheckSourceIp(Ctx& c, cni::CheckReport& r) {
  Pair p = PickPods(c);
  if (p.client < 0 || (p.same < 0 && p.cross < 0)) return Skip(r, "the lab has no two wired pods");
  const PodCtx& a = c.pods[p.client];
  struct Task {
    int server;
    const char* proto;
  };
  std::vector<Task> tasks;
  for (int s : {p.same, p.cross}) {
    if (s < 0) continue;
    if (!EnsureServers(c, r, s)) return;
    for (const char* proto : {"tcp", "udp"}) tasks.push_back({s, proto});
  }
  Findings f(tasks.size());
  ParallelFor(tasks.size(), [&](size_t i) {
    const PodCtx& server = c.pods[tasks[i].server];
    const char* proto = tasks[i].proto;
    absl::StatusOr<std::string> seen = Probe(a.fd.get(), proto, server.ip, c.limits);
    if (!seen.ok()) {
      f.FailOrError(i, seen.status(), StrCat(proto, " to pod ", server.name, ": no answer: "));
    } else if (*seen != a.ip) {
      f.Fail(i,
             StrCat(proto, " from pod ", a.name, " to pod ", server.name, " (",
                    c.nodes[server.node].name, "): expected the server to see the client's own IP ",
                    a.ip, ", it saw ", *seen, " (NAT between pods)"));
    }
  });
  f.MergeInto(r);
}

void CheckNodePod(Ctx& c, cni::CheckReport& r) {
  std::vector<int> ok = OkPods(c);
  if (ok.empty()) return Skip(r, "no pod's ADD succeeded (see spec.add)");
  // ICMP from each pod's node to it, and TCP to the servers of the pods the other checks use.
  struct Task {
    int pod;
    const char* proto;
  };
  std::vector<Task> tasks;
  for (int i : ok) tasks.push_back({i, "icmp"});
  Pair pp = PickPods(c);
  for (int s : {pp.same, pp.cross}) {
    if (s < 0) continue;
    if (!EnsureServers(c, r, s)) return;
    tasks.push_back({s, "tcp"});
  }
  Findings f(tasks.size());
  ParallelFor(tasks.size(), [&](size_t i) {
    const PodCtx& p = c.pods[tasks[i].pod];
    absl::StatusOr<std::string> seen =
        Probe(c.nodes[p.node].cni->netns_fd(), tasks[i].proto, p.ip, c.limits);
    if (!seen.ok()) {
      f.FailOrError(i, seen.status(),
                    StrCat(tasks[i].proto, " from node ", c.nodes[p.node].name, " to its pod ",
                           p.name, " (", p.ip, "): no answer: "));
    }
  });
  f.MergeInto(r);
}

void CheckOwnIp(Ctx& c, cni::CheckReport& r) {
  std::vector<int> ok = OkPods(c);
  if (ok.empty()) return Skip(r, "no pod's ADD succeeded (see spec.add)");
  Findings f(ok.size());
  ParallelFor(ok.size(), [&](size_t k) {
    const PodCtx& p = c.pods[ok[k]];
    absl::StatusOr<cni::ObservedInterface> s = ObserveInterface(p.fd.get(), c.nodes[p.node].ifname);
    if (!s.ok()) return f.FailOrError(k, s.status(), StrCat("pod ", p.name, ": "));
    if (!cni::HasIp(*s, p.ip)) {
      f.Fail(k, StrCat("pod ", p.name, ": the result gives ", p.ip, ", its ",
                       c.nodes[p.node].ifname, " has [", absl::StrJoin(s->addrs, ", "), "]"));
    }
  });
  f.MergeInto(r);
  Pair pp = PickPods(c);
  int server = pp.cross >= 0 ? pp.cross : pp.same;
  if (server < 0) return;
  if (!EnsureServers(c, r, server)) return;
  const PodCtx& a = c.pods[pp.client];
  absl::StatusOr<std::string> seen = Probe(a.fd.get(), "tcp", c.pods[server].ip, c.limits);
  if (!seen.ok()) {
    FailOrError(r, seen.status(), StrCat("tcp to pod ", c.pods[server].name, ": no answer: "));
  } else if (*seen != a.ip) {
    Fail(r, StrCat("pod ", a.name, " has ", a.ip, " on its interface, pod ", c.pods[server].name,
                   " sees it as ", *seen));
  }
}

// --- the path ----------------------------------------------------------------------------------

void CheckMtu(Ctx& c, cni::CheckReport& r) {
  Pair p = PickPods(c);
  if (p.cross < 0) return Skip(r, "the lab has no two wired pods on two nodes");
  const PodCtx& a = c.pods[p.client];
  const PodCtx& b = c.pods[p.cross];
  absl::StatusOr<cni::ObservedInterface> s = ObserveInterface(a.fd.get(), c.nodes[a.node].ifname);
  if (!s.ok())
    return FailOrError(r, s.status(), StrCat("pod ", a.name, ": cannot read its interface MTU: "));
  if (s->mtu <= 28) return Fail(r, StrCat("pod ", a.name, ": its interface has MTU ", s->mtu));
  // ICMP payload = MTU - 20 (IPv4 header) - 8 (ICMP header): the largest packet that fits; one
  // byte more must not leave the pod. Both at once: they do not share anything. The second ends
  // in a local EMSGSIZE, after which ping lingers min(-W, 1 s): a short -W (a reply, if the
  // packet did leave, would come in milliseconds).
  ToolResult fit, over;
  ParallelFor(2, [&](size_t i) {
    const int size = s->mtu - 28 + static_cast<int>(i);
    const std::string w = ToolSeconds(i == 0 ? c.limits.wait : std::max(250ms, c.limits.wait / 8));
    (i == 0 ? fit : over) = RunTool(
        a.fd.get(), {"ping", "-n", "-c1", "-W", w, "-M", "do", "-s", std::to_string(size), b.ip},
        c.limits.ToolTimeout());
  });
  for (const ToolResult* t : {&fit, &over}) {
    if (!t->started) return Error(r, StrCat("could not probe: ", t->err));
  }
  if (!fit.ok) {
    Fail(r, StrCat("pod ", a.name, "'s ", c.nodes[a.node].ifname, " has MTU ", s->mtu, ", but a ",
                   s->mtu, "-byte packet with DF set did not reach pod ", b.name, " on ",
                   c.nodes[b.node].name,
                   " (the path across nodes is narrower: the plugin should set a smaller MTU): ",
                   fit.Say()));
  }
  if (over.ok) {
    Fail(r, StrCat("a ", s->mtu + 1, "-byte packet with DF set crossed an interface of MTU ",
                   s->mtu, ": ", over.Say()));
  }
}

// --- Services and the capabilities -------------------------------------------------------------

void CheckService(Ctx& c, cni::CheckReport& r) {
  Pair pp = PickPods(c);
  if (pp.client < 0) return Skip(r, "no pod's ADD succeeded (see spec.add)");
  const PodCtx& a = c.pods[pp.client];
  // One probe per port of every ClusterIP Service with endpoints, all at once.
  struct Task {
    const config::ServiceSpec* svc;
    const config::ServicePortSpec* port;
    std::set<std::string> eps;
    bool http;
  };
  std::vector<Task> tasks;
  for (const config::ServiceSpec& svc : c.spec.services) {
    if (svc.cluster_ip.ToString() == "0.0.0.0" || svc.endpoints.empty()) continue;
    std::set<std::string> eps;
    bool http = true, udp_echo = true;
    for (int e : svc.endpoints) {
      eps.insert(c.spec.pods[e].name);
      bool has_http = false, has_udp = false;
      for (const config::ContainerSpec& ct : c.spec.pods[e].containers) {
        has_http = has_http || ct.app == config::AppKind::kHttpEcho;
        has_udp = has_udp || ct.app == config::AppKind::kUdpEcho;
      }
      http = http && has_http;
      udp_echo = udp_echo && has_udp;
    }
    for (const config::ServicePortSpec& port : svc.ports) {
      // Only udp-echo says whether a datagram arrived.
      if (port.protocol == config::Protocol::kUdp && !udp_echo) continue;
      tasks.push_back({&svc, &port, eps, http});
    }
  }
  if (tasks.empty())
    return Skip(r, "the lab has no ClusterIP Service with endpoints (TCP, or UDP to udp-echo)");
  Findings f(tasks.size());
  ParallelFor(tasks.size(), [&](size_t i) {
    const config::ServiceSpec& svc = *tasks[i].svc;
    const std::string ip = svc.cluster_ip.ToString();
    const int port = tasks[i].port->port;
    const std::string addr = StrCat(ip, ":", port);
    if (tasks[i].port->protocol == config::Protocol::kUdp) {
      const std::string msg = "mkn-verify\n";
      ToolResult o = UdpExchange(a.fd.get(), ip, port, msg, c.limits);
      if (!o.started) return f.Error(i, StrCat("could not probe: ", o.err));
      if (!o.ok || o.out != msg) {
        f.Fail(i, StrCat("service ", svc.name, " (udp ", addr, ") from pod ", a.name,
                         ": expected udp-echo's echo \"mkn-verify\"; ", o.Say(),
                         o.ok ? StrCat(" (got \"", o.out, "\")") : ""));
      }
      return;
    }
    if (!tasks[i].http) {
      ToolResult o = TcpConnect(a.fd.get(), ip, port, c.limits);
      if (!o.started) return f.Error(i, StrCat("could not probe: ", o.err));
      if (!o.ok) {
        f.Fail(i, StrCat("service ", svc.name, " (", addr, ") from pod ", a.name,
                         ": no connection: ", o.Say()));
      }
      return;
    }
    ToolResult o = RunTool(a.fd.get(),
                           {"curl", "-sS", "--connect-timeout", ToolSeconds(c.limits.wait), "-m",
                            ToolSeconds(2 * c.limits.wait), StrCat("http://", addr, "/")},
                           c.limits.ToolTimeout(c.limits.wait + 1s));
    if (!o.started) return f.Error(i, StrCat("could not probe: ", o.err));
    // http-echo names the pod that answered in a "pod: NAME" line.
    std::string pod;
    if (size_t at = o.out.find("pod: "); at != std::string::npos)
      pod = o.out.substr(at + 5, o.out.find('\n', at) - at - 5);
    if (!o.ok) {
      f.Fail(i, StrCat("service ", svc.name, " (", addr, ") from pod ", a.name,
                       ": no answer: ", o.Say()));
    } else if (!tasks[i].eps.count(pod)) {
      f.Fail(i, StrCat("service ", svc.name, " (", addr,
                       "): expected an answer from one of its endpoints [",
                       absl::StrJoin(tasks[i].eps, ", "), "], got from \"", pod, "\""));
    }
  });
  f.MergeInto(r);
}

void CheckHostPort(Ctx& c, cni::CheckReport& r) {
  // portmap, or a plugin of its own that takes the portMappings capability as portmap does.
  if (!ChainHas(c, "portmap") && !ChainHasCapability(c, "portMappings"))
    return Skip(r, "no plugin of the chain is portmap or takes the portMappings capability");
  struct Task {
    const PodCtx* pod;
    const config::PortMappingSpec* m;
    bool udp;
    int from;  // the node the probe comes from: another than the pod's, when there is one
  };
  std::vector<Task> tasks;
  for (int i : OkPods(c)) {
    const PodCtx& p = c.pods[i];
    const config::PodSpec& ps = c.spec.pods[p.spec_index];
    for (const config::PortMappingSpec& m : ps.cni.port_mappings) {
      // TCP: a connection through the mapping (the pod's app accepts it). UDP: a datagram through
      // it and its echo back, where the pod runs udp-echo on the container port (nothing else is
      // known to answer).
      const bool udp = m.protocol == "udp";
      if (!udp && m.protocol != "tcp") continue;
      if (udp && !ServesUdpEcho(ps, m.container_port)) continue;
      int from = p.node;
      for (size_t n = 0; n < c.nodes.size(); ++n) {
        if (static_cast<int>(n) != p.node) from = static_cast<int>(n);
      }
      tasks.push_back({&p, &m, udp, from});
    }
  }
  if (tasks.empty())
    return Skip(r, "no pod has a TCP port_mappings entry, or a UDP one to udp-echo");
  Findings f(tasks.size());
  ParallelFor(tasks.size(), [&](size_t i) {
    const PodCtx& p = *tasks[i].pod;
    const config::PortMappingSpec& m = *tasks[i].m;
    const NodeCtx& from = c.nodes[tasks[i].from];
    const std::string& ip = c.nodes[p.node].underlay_ip;
    const std::string addr = StrCat(ip, ":", m.host_port);
    if (tasks[i].udp) {
      const std::string probe = StrCat("mkn-hostport ", p.name, "\n");
      ToolResult o = UdpExchange(from.cni->netns_fd(), ip, m.host_port, probe, c.limits);
      if (!o.started) return f.Error(i, StrCat("could not probe: ", o.err));
      if (!o.ok || o.out.find(probe) == std::string::npos) {
        f.Fail(i,
               StrCat("UDP hostPort ", addr, " -> pod ", p.name, ":", m.container_port,
                      " from node ", from.name, ": expected the datagram echoed back; ", o.Say()));
      }
      return;
    }
    ToolResult o = TcpConnect(from.cni->netns_fd(), ip, m.host_port, c.limits);
    if (!o.started) return f.Error(i, StrCat("could not probe: ", o.err));
    if (!o.ok) {
      f.Fail(i, StrCat("hostPort ", addr, " -> pod ", p.name, ":", m.container_port, " from node ",
                       from.name, ": no connection: ", o.Say()));
    }
  });
  f.MergeInto(r);
  if (r.outcome == cni::Outcome::kPass) {
    int udp = 0;
    for (const Task& t : tasks) udp += t.udp;
    r.evidence = StrCat(tasks.size(), " mapping(s) probed from another node (", udp, " UDP)");
  }
}

void CheckBandwidth(Ctx& c, cni::CheckReport& r) {
  if (!ChainHas(c, "bandwidth")) return Skip(r, "the chain has no bandwidth plugin");
  if (FindTool("iperf3").empty()) return Skip(r, "iperf3 is not installed");
  int probed = 0;
  // One measurement at a time, and the check runs alone: a rate measured while other probes
  // compete for the two CPUs says nothing about the limit.
  for (int i : OkPods(c)) {
    const config::PodSpec& ps = c.spec.pods[c.pods[i].spec_index];
    if (!ps.cni.bandwidth) continue;
    int client = -1;
    for (int j : OkPods(c)) {
      if (j != i) client = j;
    }
    if (client < 0) continue;
    const PodCtx& p = c.pods[i];
    for (int dir = 0; dir < 2; ++dir) {  // 0: into the pod (ingress), 1: out of it (egress)
      int64_t rate = dir == 0 ? ps.cni.bandwidth->ingress_rate : ps.cni.bandwidth->egress_rate;
      if (rate <= 0) continue;
      ++probed;
      // A port per direction: the first direction's one-off server may still be exiting.
      absl::StatusOr<RateProbe> m = MeasureRate(p.fd.get(), c.pods[client].fd.get(), p.ip,
                                                kIperfPort + dir, dir == 1, c.limits);
      if (!m.ok())
        return Error(r, StrCat("could not start iperf3's server: ", m.status().message()));
      const double bps = m->bits_per_second;
      const char* what = dir == 0 ? "ingress" : "egress";
      if (!m->last.started) {
        Error(r, StrCat("could not run iperf3: ", m->last.err));
      } else if (!m->last.ok || bps <= 0) {
        Fail(r, StrCat("pod ", p.name, " ", what, ": iperf3 gave no rate: ", m->last.Say()));
      } else if (!cni::RateWithinLimit(bps, rate)) {
        Fail(r, StrCat("pod ", p.name, " ", what, " limit ", rate, " bit/s: measured ",
                       static_cast<int64_t>(bps), " bit/s over 3 s (outside +-30%)"));
      } else {
        StrAppend(&r.evidence, "pod ", p.name, " ", what, ": limit ", rate, " bit/s, measured ",
                  static_cast<int64_t>(bps), " bit/s\n");
      }
    }
  }
  if (probed == 0) Skip(r, "no pod has a bandwidth limit");
}

}  // namespace mkn::vnet::verify_internal
