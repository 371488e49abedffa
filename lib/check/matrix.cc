// lib/check/matrix — see matrix.h.
#include "lib/check/matrix.h"

#include <algorithm>
#include <set>
#include <utility>

#include "lib/strings/str_cat.h"

namespace mkn::check {
namespace {

using config::ExpectEnd;
using config::ExpectProto;

bool Selects(const std::map<std::string, std::string>& sel,
             const std::map<std::string, std::string>& labels) {
  return std::all_of(sel.begin(), sel.end(), [&](const auto& kv) {
    auto it = labels.find(kv.first);
    return it != labels.end() && it->second == kv.second;
  });
}

// kube-system's pods (the cluster DNS) are the cluster's, not the lab's: a selector's rows leave
// them out, as a lab's [[expect]] rows were written before they existed.
bool System(const LivePod& p) { return config::IsSystemNamespace(config::NamespaceOfKey(p.name)); }

std::string SelectorText(const std::map<std::string, std::string>& sel) {
  std::string out;
  for (const auto& [k, v] : sel) StrAppend(&out, out.empty() ? "" : ",", k, "=", v);
  return StrCat("{", out, "}");
}

bool Has(std::string_view text, std::string_view what) {
  return text.find(what) != std::string_view::npos;
}

// A source or destination of a row: its label, namespace (sources) and address (destinations).
struct End {
  std::string label, netns;
  config::IpAddress address;
};

void AddLabel(std::vector<std::string>& labels, std::set<std::string>& seen,
              const std::string& label) {
  if (seen.insert(label).second) labels.push_back(label);
}

}  // namespace

World WorldOf(const config::ClusterSpec& spec, const control::ClusterState& state) {
  World w;
  for (const control::NodeState& n : state.nodes) {
    w.nodes.push_back({n.name, n.netns, {config::AddressFamily::kIpv4, n.underlay_ip}});
  }
  for (const control::PodState& p : state.pods) {
    LivePod lp{p.name, p.node, p.netns, {config::AddressFamily::kIpv4, p.ip}, {}};
    if (const config::PodSpec* ps = spec.FindPod(p.name)) {
      lp.labels = ps->labels;
    } else if (const config::DeploymentSpec* d = spec.FindDeployment(p.deployment)) {
      lp.labels = d->labels;  // a replica `scale` added after `up`
    }
    w.pods.push_back(std::move(lp));
  }
  return w;
}

Matrix Expand(const config::ClusterSpec& spec, const World& world) {
  Matrix m;
  std::set<std::string> seen_from, seen_to;
  auto pod = [&](std::string_view name) -> const LivePod* {
    for (const LivePod& p : world.pods)
      if (p.name == name) return &p;
    return nullptr;
  };
  for (size_t i = 0; i < spec.expects.size(); ++i) {
    const config::ExpectSpec& x = spec.expects[i];
    const std::string row = StrCat("line ", x.pos.line, ": ");
    // Sources: a namespace each.
    std::vector<End> froms;
    switch (x.from.kind) {
      case ExpectEnd::Kind::kHost:
        froms.push_back({"host", "", {}});
        break;
      case ExpectEnd::Kind::kNode:
        for (const LiveNode& n : world.nodes)
          if (n.name == x.from.name) froms.push_back({n.name, n.netns, n.underlay_ip});
        if (froms.empty())
          m.problems.push_back(StrCat(row, "from node \"", x.from.name, "\" is not up"));
        break;
      case ExpectEnd::Kind::kPod:
        if (const LivePod* p = pod(x.from.name)) {
          froms.push_back({p->name, p->netns, p->ip});
        } else {
          m.problems.push_back(StrCat(row, "from pod \"", x.from.name, "\" is not running"));
        }
        break;
      case ExpectEnd::Kind::kSelector:
        for (const LivePod& p : world.pods)
          if (!System(p) && Selects(x.from.selector, p.labels))
            froms.push_back({p.name, p.netns, p.ip});
        if (froms.empty()) {
          m.problems.push_back(
              StrCat(row, "from ", SelectorText(x.from.selector), " matches no running pod"));
        }
        break;
      default:
        break;  // Resolve() allows no other source
    }
    // Destinations: an address each.
    std::vector<End> tos;
    const auto pod_to = [&](const LivePod& p) {
      if (p.ip.text.empty()) {
        m.problems.push_back(StrCat(row, "to pod \"", p.name, "\" has no address"));
      } else {
        tos.push_back({p.name, "", p.ip});
      }
    };
    switch (x.to.kind) {
      case ExpectEnd::Kind::kPod:
        if (const LivePod* p = pod(x.to.name)) {
          pod_to(*p);
        } else {
          m.problems.push_back(StrCat(row, "to pod \"", x.to.name, "\" is not running"));
        }
        break;
      case ExpectEnd::Kind::kSelector: {
        bool any = false;
        for (const LivePod& p : world.pods) {
          if (System(p) || !Selects(x.to.selector, p.labels)) continue;
          any = true;
          pod_to(p);
        }
        if (!any) {
          m.problems.push_back(
              StrCat(row, "to ", SelectorText(x.to.selector), " matches no running pod"));
        }
        break;
      }
      case ExpectEnd::Kind::kNode:
        for (const LiveNode& n : world.nodes)
          if (n.name == x.to.name) tos.push_back({n.name, "", n.underlay_ip});
        if (tos.empty()) m.problems.push_back(StrCat(row, "to node \"", x.to.name, "\" is not up"));
        break;
      case ExpectEnd::Kind::kService:
        for (const config::ServiceSpec& s : spec.services) {
          if (s.name == x.to.name && s.headless) {
            m.problems.push_back(StrCat(row, "to Service \"", s.name,
                                        "\" is headless: it has no ClusterIP to probe"));
          } else if (s.name == x.to.name) {
            tos.push_back({StrCat("svc/", s.name),
                           "",
                           {config::AddressFamily::kIpv4, s.cluster_ip.ToString()}});
          }
        }
        break;
      case ExpectEnd::Kind::kAddress:
        tos.push_back({x.to.address.text, "", x.to.address});
        break;
      case ExpectEnd::Kind::kHostEdge:
        tos.push_back({StrCat(config::ToString(x.proto), "://",
                              x.host.empty() ? x.edge_address.text : x.host, ":", x.port, x.path),
                       "", x.edge_address});
        break;
      default:
        break;
    }
    for (End& t : tos) {
      if (x.to.kind == ExpectEnd::Kind::kHostEdge) continue;
      t.label = x.proto == ExpectProto::kIcmp
                    ? StrCat(t.label, "/icmp")
                    : StrCat(t.label, ":", x.port, "/", config::ToString(x.proto));
    }
    for (const End& f : froms) {
      if (f.netns.empty() && x.from.kind != ExpectEnd::Kind::kHost) continue;
      for (const End& t : tos) {
        if (m.cells.size() >= static_cast<size_t>(kMaxCells)) {
          m.problems.push_back(StrCat(row, "the expectations make more than ", kMaxCells,
                                      " cells: the rest is not probed"));
          return m;
        }
        Cell c;
        c.row = static_cast<int>(i);
        c.line = x.pos.line;
        c.from = f.label;
        c.to = t.label;
        c.from_netns = f.netns;
        c.address = t.address;
        c.port = x.port;
        c.proto = x.proto;
        c.host = x.host;
        c.path = x.path;
        c.want = x.result;
        AddLabel(m.froms, seen_from, c.from);
        AddLabel(m.tos, seen_to, c.to);
        m.cells.push_back(std::move(c));
      }
    }
  }
  return m;
}

Budget BudgetFor(size_t cells) {
  Budget b;
  const size_t waves = (cells + b.parallel - 1) / b.parallel;
  // A probe's wait plus its tool's start and exit (socat, ping: a few ms each; 500 ms spare).
  const auto per_wave = b.wait + std::chrono::milliseconds(500);
  b.total = std::max(std::chrono::milliseconds(10000),
                     std::chrono::milliseconds(per_wave.count() * static_cast<int64_t>(waves)));
  return b;
}

std::string_view ToString(Outcome o) {
  switch (o) {
    case Outcome::kAnswered:
      return "answered";
    case Outcome::kRefused:
      return "refused";
    case Outcome::kUnreachable:
      return "unreachable";
    case Outcome::kSilent:
      return "no answer";
    case Outcome::kError:
      return "error";
  }
  return "error";
}

Outcome Classify(ExpectProto proto, const ToolRun& run) {
  if (!run.started) return Outcome::kError;
  const std::string text = StrCat(run.out, "\n", run.err);
  const bool unreachable = Has(text, "No route to host") || Has(text, "Network is unreachable") ||
                           Has(text, "Host is unreachable") || Has(text, "Unreachable");
  switch (proto) {
    case ExpectProto::kTcp:
      if (run.code == 0 && !run.timed_out) return Outcome::kAnswered;
      // The handshake completed and the peer closed hard after it: it connected.
      if (Has(text, "reset by peer")) return Outcome::kAnswered;
      if (Has(text, "Connection refused")) return Outcome::kRefused;
      if (unreachable) return Outcome::kUnreachable;
      return Outcome::kSilent;
    case ExpectProto::kUdp:
      if (run.code == 0 && !run.timed_out && !run.out.empty()) return Outcome::kAnswered;
      if (Has(text, "Connection refused")) return Outcome::kRefused;
      if (unreachable) return Outcome::kUnreachable;
      return Outcome::kSilent;
    case ExpectProto::kIcmp:
      if (run.code == 0 && !run.timed_out) return Outcome::kAnswered;
      // ping's words for an ICMP administratively prohibited ("Packet filtered") and the rest.
      if (Has(text, "Packet filtered") || Has(text, "Prohibited")) return Outcome::kRefused;
      if (unreachable) return Outcome::kUnreachable;
      return Outcome::kSilent;
    case ExpectProto::kHttp:
    case ExpectProto::kHttps: {
      if (run.timed_out || run.code == 28) return Outcome::kSilent;  // curl: operation timed out
      if (run.code == 0) {
        int status = 0;
        for (char c : run.out) {
          if (c < '0' || c > '9') break;
          status = status * 10 + (c - '0');
        }
        return status >= 100 && status < 400 ? Outcome::kAnswered : Outcome::kRefused;
      }
      if (unreachable) return Outcome::kUnreachable;
      return Outcome::kRefused;  // 7 could not connect, 52 empty reply, 56 reset, 35 TLS
    }
  }
  return Outcome::kError;
}

int Report::Mismatches() const {
  return static_cast<int>(std::count_if(results.begin(), results.end(), [](const CellResult& r) {
    return r.outcome != Outcome::kError && !r.ok();
  }));
}

int Report::Errors() const {
  return static_cast<int>(std::count_if(results.begin(), results.end(), [](const CellResult& r) {
    return r.outcome == Outcome::kError;
  }));
}

}  // namespace mkn::check
