#include "vnet/ui/sources.h"

#include <memory>
#include <mutex>

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "lib/trace/trace.h"
#include "vnet/cluster/client.h"
#include "vnet/cluster/control.h"
#include "vnet/cluster/lab.h"
#include "vnet/cluster/state.h"
#include "vnet/graph/graph.h"
#include "vnet/trace/trace.h"

namespace mkn::vnet {
namespace {

// A short deadline per answer: a snapshot is taken every half second, and a stuck owner must not
// stall the page for the CLI's 30 s.
constexpr int kAskMs = 3000;

struct Shared {
  std::string cluster;
  config::ClusterSpec spec;
  std::mutex mu;  // the SVG cache (gather runs on one thread, but a copy may be shared)
  std::string last_dot, last_svg, last_svg_error;
};

ui::Inputs Gather(Shared& sh) {
  ui::Inputs in;
  in.cluster = sh.cluster;
  absl::StatusOr<ClusterState> st = ReadState(sh.cluster);
  absl::StatusOr<control::ServicesAnswer> svc =
      Call(sh.cluster, control::ServicesRequest{}, kAskMs);
  if (svc.ok()) {
    in.services = *svc;
  } else {
    in.errors.push_back(StrCat("services: ", svc.status().message()));
  }
  if (!sh.spec.listeners.empty()) {
    absl::StatusOr<control::RoutesAnswer> routes =
        Call(sh.cluster, control::RoutesRequest{}, kAskMs);
    if (routes.ok()) {
      in.routes = *routes;
    } else {
      in.errors.push_back(StrCat("routes: ", routes.status().message()));
    }
  }
  absl::StatusOr<control::ConntrackAnswer> ct =
      Call(sh.cluster, control::ConntrackRequest{}, kAskMs);
  if (ct.ok()) {
    in.conntrack = *ct;
  } else {
    in.errors.push_back(StrCat("conntrack: ", ct.status().message()));
  }
  // The live graph: the pods as they are now, each Service's endpoints as the proxy serves them.
  graph::LiveState live;
  if (st.ok()) {
    for (const PodState& p : st->pods) live.pods.push_back({p.name, p.node, p.ip});
  } else {
    in.errors.push_back(StrCat("state: ", st.status().message()));
    for (const config::PodSpec& p : sh.spec.pods)
      live.pods.push_back({p.name, sh.spec.nodes[p.node].name, p.ip.ToString()});
  }
  if (svc.ok()) {
    for (const control::ServiceInfo& s : svc->services) {
      std::vector<std::string>& eps = live.endpoints[s.name];
      for (const control::EndpointInfo& e : s.endpoints) eps.push_back(e.pod);
    }
  }
  in.graph = graph::BuildGraph(sh.spec, &live);
  const std::string dot = graph::RenderDot(in.graph);
  std::lock_guard<std::mutex> l(sh.mu);
  if (dot != sh.last_dot) {
    absl::StatusOr<std::string> svg = RenderSvg(dot);
    sh.last_dot = dot;
    sh.last_svg = svg.ok() ? *svg : "";
    sh.last_svg_error = svg.ok() ? "" : StrCat("graph: ", svg.status().message());
  }
  in.svg = sh.last_svg;
  if (!sh.last_svg_error.empty()) in.errors.push_back(sh.last_svg_error);
  return in;
}

absl::StatusOr<nlohmann::json> RunOne(Shared& sh, const ui::TraceForm& f) {
  absl::StatusOr<ClusterState> st = ReadState(sh.cluster);
  if (!st.ok()) {
    return absl::FailedPreconditionError(StrCat("trace: the state of cluster ", sh.cluster,
                                                " does not read: ", st.status().message()));
  }
  TraceOptions o;
  o.src = f.src;
  o.dst = f.dst;
  o.proto = f.proto;
  // The pods where kill and scale left them, not where the lab file put them.
  config::ClusterSpec spec = sh.spec;
  MKN_RETURN_IF_ERROR(WithLivePods(*st, spec));
  absl::StatusOr<TraceResult> r = RunTrace(*st, spec, o);
  if (!r.ok()) return r.status();
  return nlohmann::json::parse(trace::RenderJson(r->path, r->seen, r->verdict));
}

}  // namespace

absl::StatusOr<UiSources> ClusterSources(const std::string& cluster) {
  absl::StatusOr<ClusterState> st = ReadState(cluster);
  if (!st.ok()) {
    return absl::FailedPreconditionError(
        StrCat("ui: the state of cluster ", cluster, " does not read: ", st.status().message()));
  }
  absl::StatusOr<LabFile> lab = LoadLab(st->lab);
  if (!lab.ok() || !lab->spec) {
    return absl::FailedPreconditionError(
        StrCat("ui ", cluster, ": its lab file ", st->lab, " no longer loads"));
  }
  auto sh = std::make_shared<Shared>();
  sh->cluster = cluster;
  sh->spec = *lab->spec;
  UiSources s;
  s.gather = [sh] { return Gather(*sh); };
  s.trace = [sh](const ui::TraceForm& f) { return RunOne(*sh, f); };
  return s;
}

}  // namespace mkn::vnet
