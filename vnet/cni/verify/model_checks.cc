// vnet/cni/verify/model_checks — the checks of the Kubernetes network model, ids model.*: every pod
// reaches every pod without NAT (on one node and across nodes, ICMP, TCP and UDP, the server
// seeing the client's own IP), a node reaches its pods, a pod's own IP is the one others see, a
// packet of the pod's MTU crosses nodes, ClusterIP Services reach the plugin's pods, and the
// CONVENTIONS.md capabilities (hostPort through portmap, bandwidth) do what the lab asks.
//
// Probed with real traffic between the lab's own pods (probe.h: ping, socat, curl, iperf3 as
// child processes in the namespaces); what the replies mean is lib/cni/judge's.
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

void PodToPod(Ctx& c, cni::CheckReport& r, int client, int server, const std::string& where) {
  if (client < 0 || server < 0) return Skip(r, StrCat("the lab has no two wired pods ", where));
  if (absl::Status s = c.servers.Ensure(server, c.pods[server].fd.get()); !s.ok())
    return Fail(r, s);
  const PodCtx& a = c.pods[client];
  const PodCtx& b = c.pods[server];
  for (const char* proto : {"icmp", "tcp", "udp"}) {
    if (absl::StatusOr<std::string> seen = Probe(a.fd.get(), proto, b.ip); !seen.ok()) {
      Fail(r, StrCat(proto, " from pod ", a.name, " (", a.ip, ", ", c.nodes[a.node].name,
                     ") to pod ", b.name, " (", b.ip, ", ", c.nodes[b.node].name,
                     "): no answer: ", seen.status().message()));
    }
  }
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
  for (int s : {p.same, p.cross}) {
    if (s < 0) continue;
    if (absl::Status st = c.servers.Ensure(s, c.pods[s].fd.get()); !st.ok()) return Fail(r, st);
    for (const char* proto : {"tcp", "udp"}) {
      absl::StatusOr<std::string> seen = Probe(a.fd.get(), proto, c.pods[s].ip);
      if (!seen.ok()) {
        Fail(r,
             StrCat(proto, " to pod ", c.pods[s].name, ": no answer: ", seen.status().message()));
      } else if (*seen != a.ip) {
        Fail(r, StrCat(proto, " from pod ", a.name, " to pod ", c.pods[s].name, " (",
                       c.nodes[c.pods[s].node].name,
                       "): expected the server to see the client's own IP ", a.ip, ", it saw ",
                       *seen, " (NAT between pods)"));
      }
    }
  }
}

void CheckNodePod(Ctx& c, cni::CheckReport& r) {
  std::vector<int> ok = OkPods(c);
  if (ok.empty()) return Skip(r, "no pod's ADD succeeded (see spec.add)");
  for (int i : ok) {
    const PodCtx& p = c.pods[i];
    if (absl::StatusOr<std::string> seen = Probe(c.nodes[p.node].cni->netns_fd(), "icmp", p.ip);
        !seen.ok()) {
      Fail(r, StrCat("icmp from node ", c.nodes[p.node].name, " to its pod ", p.name, " (", p.ip,
                     "): no answer: ", seen.status().message()));
    }
  }
  Pair pp = PickPods(c);
  for (int s : {pp.same, pp.cross}) {
    if (s < 0) continue;
    if (absl::Status st = c.servers.Ensure(s, c.pods[s].fd.get()); !st.ok()) return Fail(r, st);
    const PodCtx& p = c.pods[s];
    if (absl::StatusOr<std::string> seen = Probe(c.nodes[p.node].cni->netns_fd(), "tcp", p.ip);
        !seen.ok()) {
      Fail(r, StrCat("tcp from node ", c.nodes[p.node].name, " to its pod ", p.name, " (", p.ip,
                     "): no answer: ", seen.status().message()));
    }
  }
}

void CheckOwnIp(Ctx& c, cni::CheckReport& r) {
  std::vector<int> ok = OkPods(c);
  if (ok.empty()) return Skip(r, "no pod's ADD succeeded (see spec.add)");
  for (int i : ok) {
    const PodCtx& p = c.pods[i];
    absl::StatusOr<cni::ObservedInterface> s = ObserveInterface(p.fd.get(), c.nodes[p.node].ifname);
    if (!s.ok()) {
      Fail(r, StrCat("pod ", p.name, ": ", s.status().message()));
      continue;
    }
    if (!cni::HasIp(*s, p.ip)) {
      Fail(r, StrCat("pod ", p.name, ": the result gives ", p.ip, ", its ", c.nodes[p.node].ifname,
                     " has [", absl::StrJoin(s->addrs, ", "), "]"));
    }
  }
  Pair pp = PickPods(c);
  int server = pp.cross >= 0 ? pp.cross : pp.same;
  if (server < 0) return;
  if (absl::Status st = c.servers.Ensure(server, c.pods[server].fd.get()); !st.ok())
    return Fail(r, st);
  const PodCtx& a = c.pods[pp.client];
  absl::StatusOr<std::string> seen = Probe(a.fd.get(), "tcp", c.pods[server].ip);
  if (!seen.ok()) {
    Fail(r, StrCat("tcp to pod ", c.pods[server].name, ": no answer: ", seen.status().message()));
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
  if (!s.ok() || s->mtu <= 28)
    return Fail(r, StrCat("pod ", a.name, ": cannot read its interface MTU"));
  // ICMP payload = MTU - 20 (IPv4 header) - 8 (ICMP header): the largest packet that fits.
  ToolResult fit = RunTool(
      a.fd.get(), {"ping", "-n", "-c1", "-w3", "-M", "do", "-s", std::to_string(s->mtu - 28), b.ip},
      5s);
  if (!fit.ok) {
    Fail(r, StrCat("pod ", a.name, "'s ", c.nodes[a.node].ifname, " has MTU ", s->mtu, ", but a ",
                   s->mtu, "-byte packet with DF set did not reach pod ", b.name, " on ",
                   c.nodes[b.node].name,
                   " (the path across nodes is narrower: the plugin should set a smaller MTU): ",
                   fit.Say()));
  }
  ToolResult over = RunTool(
      a.fd.get(), {"ping", "-n", "-c1", "-w2", "-M", "do", "-s", std::to_string(s->mtu - 27), b.ip},
      4s);
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
  int probed = 0;
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
      std::string addr = StrCat(svc.cluster_ip.ToString(), ":", port.port);
      if (port.protocol == config::Protocol::kUdp) {
        if (!udp_echo) continue;  // only udp-echo says whether a datagram arrived
        ++probed;
        const std::string msg = "mkn-verify\n";
        ToolResult o;
        for (int attempt = 0; attempt < 3 && !(o.ok && o.out == msg); ++attempt) {
          o = RunTool(a.fd.get(), {"socat", "-T2", "-t1", "STDIO", StrCat("UDP:", addr)}, 4s, msg);
        }
        if (!o.ok || o.out != msg) {
          Fail(r, StrCat("service ", svc.name, " (udp ", addr, ") from pod ", a.name,
                         ": expected udp-echo's echo \"mkn-verify\"; ", o.Say(),
                         o.ok ? StrCat(" (got \"", o.out, "\")") : ""));
        }
        continue;
      }
      ++probed;
      if (!http) {
        ToolResult o =
            RunTool(a.fd.get(),
                    {"socat", "-T2", "/dev/null", StrCat("TCP:", addr, ",connect-timeout=2")}, 4s);
        if (!o.ok)
          Fail(r, StrCat("service ", svc.name, " (", addr, ") from pod ", a.name,
                         ": no connection: ", o.Say()));
        continue;
      }
      ToolResult o = RunTool(a.fd.get(), {"curl", "-sS", "-m3", StrCat("http://", addr, "/")}, 5s);
      // http-echo names the pod that answered in a "pod: NAME" line.
      std::string pod;
      if (size_t at = o.out.find("pod: "); at != std::string::npos)
        pod = o.out.substr(at + 5, o.out.find('\n', at) - at - 5);
      if (!o.ok) {
        Fail(r, StrCat("service ", svc.name, " (", addr, ") from pod ", a.name,
                       ": no answer: ", o.Say()));
      } else if (!eps.count(pod)) {
        Fail(r, StrCat("service ", svc.name, " (", addr,
                       "): expected an answer from one of its endpoints [",
                       absl::StrJoin(eps, ", "), "], got from \"", pod, "\""));
      }
    }
  }
  if (probed == 0)
    Skip(r, "the lab has no ClusterIP Service with endpoints (TCP, or UDP to udp-echo)");
}

void CheckHostPort(Ctx& c, cni::CheckReport& r) {
  // portmap, or a plugin of its own that takes the portMappings capability as portmap does.
  if (!ChainHas(c, "portmap") && !ChainHasCapability(c, "portMappings"))
    return Skip(r, "no plugin of the chain is portmap or takes the portMappings capability");
  int probed = 0, probed_udp = 0;
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
      std::string addr = StrCat(c.nodes[p.node].underlay_ip, ":", m.host_port);
      ++probed;
      if (udp) {
        ++probed_udp;
        const std::string probe = StrCat("mkn-hostport ", p.name, "\n");
        ToolResult o = RunTool(c.nodes[from].cni->netns_fd(),
                               {"socat", "-T2", "-t1", "STDIO", StrCat("UDP:", addr)}, 4s, probe);
        if (!o.ok || o.out.find(probe) == std::string::npos) {
          Fail(r, StrCat("UDP hostPort ", addr, " -> pod ", p.name, ":", m.container_port,
                         " from node ", c.nodes[from].name, ": expected the datagram echoed back; ",
                         o.Say()));
        }
        continue;
      }
      ToolResult o =
          RunTool(c.nodes[from].cni->netns_fd(),
                  {"socat", "-T2", "/dev/null", StrCat("TCP:", addr, ",connect-timeout=2")}, 4s);
      if (!o.ok) {
        Fail(r, StrCat("hostPort ", addr, " -> pod ", p.name, ":", m.container_port, " from node ",
                       c.nodes[from].name, ": no connection: ", o.Say()));
      }
    }
  }
  if (probed == 0) {
    Skip(r, "no pod has a TCP port_mappings entry, or a UDP one to udp-echo");
  } else if (r.outcome != cni::Outcome::kFail) {
    r.evidence = StrCat(probed, " mapping(s) probed from another node (", probed_udp, " UDP)");
  }
}

void CheckBandwidth(Ctx& c, cni::CheckReport& r) {
  if (!ChainHas(c, "bandwidth")) return Skip(r, "the chain has no bandwidth plugin");
  if (FindTool("iperf3").empty()) return Skip(r, "iperf3 is not installed");
  int probed = 0;
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
      absl::StatusOr<RateProbe> m =
          MeasureRate(p.fd.get(), c.pods[client].fd.get(), p.ip, kIperfPort + dir, dir == 1);
      if (!m.ok()) return Fail(r, m.status());
      const double bps = m->bits_per_second;
      const char* what = dir == 0 ? "ingress" : "egress";
      if (!m->last.ok || bps <= 0) {
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
