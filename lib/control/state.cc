#include "lib/control/state.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <utility>

namespace mkn::control {
namespace {

using json = nlohmann::json;

json StateObject(const ClusterState& s) {
  json nodes = json::array(), pods = json::array(), routers = json::array(),
       speakers = json::array();
  for (const NodeState& n : s.nodes) {
    nodes.push_back({{"name", n.name},
                     {"netns", n.netns},
                     {"underlay_ip", n.underlay_ip},
                     {"pod_cidr", n.pod_cidr},
                     {"gateway", n.gateway},
                     {"rack", n.rack}});
  }
  for (const RouterState& r : s.routers) routers.push_back({{"name", r.name}, {"netns", r.netns}});
  for (const SpeakerState& sp : s.speakers) {
    json j = {{"name", sp.name},
              {"role", sp.role},
              {"netns", sp.netns},
              {"socket", sp.socket},
              {"asn", sp.asn}};
    if (sp.process.pid > 0) {
      j["pid"] = sp.process.pid;
      j["pid_start"] = sp.process.start_time;
    }
    speakers.push_back(std::move(j));
  }
  for (const PodState& p : s.pods) {
    json cs = json::array();
    for (const ContainerState& c : p.containers) {
      json j = {{"name", c.name}, {"app", c.app}, {"ports", c.ports}};
      if (!c.command.empty()) j["command"] = c.command;
      if (c.process.pid > 0) {
        j["pid"] = c.process.pid;
        j["pid_start"] = c.process.start_time;
      }
      cs.push_back(std::move(j));
    }
    pods.push_back({{"name", p.name},
                    {"node", p.node},
                    {"ip", p.ip},
                    {"netns", p.netns},
                    {"deployment", p.deployment},
                    {"containers", cs}});
    if (!p.error.empty()) pods.back()["error"] = p.error;
  }
  json root{{"cluster", s.cluster},
            {"lab", s.lab},
            {"phase", s.phase},
            {"network", s.network},
            {"marker", s.marker},
            {"pid", s.owner.pid},
            {"pid_start", s.owner.start_time},
            {"started_at", s.started_at},
            {"ready_ms", s.ready_ms},
            {"underlay", s.underlay},
            {"routers", routers},
            {"speakers", speakers},
            {"nodes", nodes},
            {"pods", pods}};
  if (!s.cgroup.empty()) root["cgroup"] = s.cgroup;
  if (!s.ui.empty()) root["ui"] = s.ui;
  if (!s.policies_applied.empty()) {
    json applied = json::array();
    for (const ClusterState::AppliedPolicy& p : s.policies_applied)
      applied.push_back({{"key", p.key}, {"file", p.file}, {"text", p.text}});
    root["policies_applied"] = applied;
  }
  if (!s.policies_deleted.empty()) root["policies_deleted"] = s.policies_deleted;
  if (s.world) {
    json hosts = json::array();
    for (const WorldHostState& h : s.world->hosts)
      hosts.push_back({{"name", h.name}, {"ip", h.ip}});
    root["world"] = {{"netns", s.world->netns},           {"cidr", s.world->cidr},
                     {"gateway", s.world->gateway},       {"attach", s.world->attach},
                     {"masquerade", s.world->masquerade}, {"hosts", hosts}};
  }
  return root;
}

}  // namespace

const PodState* ClusterState::FindPod(const std::string& name) const {
  for (const PodState& p : pods) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::string StateToJson(const ClusterState& s) { return StateObject(s).dump(2) + "\n"; }

absl::StatusOr<ClusterState> StateFromJson(std::string_view text) {
  // nlohmann's checked accessors throw on a missing or mistyped field; they are caught here, so
  // that nothing crosses this function but a Status.
  try {
    const json j = json::parse(text);
    ClusterState s;
    s.cluster = j.at("cluster");
    s.lab = j.value("lab", "");
    s.phase = j.value("phase", "");
    s.network = j.value("network", "");
    s.marker = j.at("marker");
    s.owner = {j.value("pid", 0), j.value("pid_start", uint64_t{0})};
    s.started_at = j.value("started_at", int64_t{0});
    s.ready_ms = j.value("ready_ms", int64_t{0});
    s.underlay = j.at("underlay");
    s.cgroup = j.value("cgroup", "");
    s.ui = j.value("ui", "");
    if (j.contains("world")) {
      const json& w = j.at("world");
      WorldState ws;
      ws.netns = w.at("netns");
      ws.cidr = w.value("cidr", "");
      ws.gateway = w.value("gateway", "");
      ws.attach = w.value("attach", "");
      ws.masquerade = w.value("masquerade", true);
      for (const json& h : w.value("hosts", json::array()))
        ws.hosts.push_back({h.at("name"), h.at("ip")});
      s.world = std::move(ws);
    }
    for (const json& r : j.value("routers", json::array()))
      s.routers.push_back({r.at("name"), r.at("netns")});
    for (const json& sp : j.value("speakers", json::array())) {
      s.speakers.push_back({sp.at("name"),
                            sp.value("role", ""),
                            sp.at("netns"),
                            sp.value("socket", ""),
                            sp.value("asn", int64_t{0}),
                            {sp.value("pid", 0), sp.value("pid_start", uint64_t{0})}});
    }
    for (const json& p : j.value("policies_applied", json::array()))
      s.policies_applied.push_back({p.at("key"), p.value("file", ""), p.at("text")});
    s.policies_deleted = j.value("policies_deleted", std::vector<std::string>{});
    for (const json& n : j.at("nodes")) {
      s.nodes.push_back({n.at("name"), n.at("netns"), n.value("underlay_ip", ""),
                         n.value("pod_cidr", ""), n.value("gateway", ""), n.value("rack", "")});
    }
    for (const json& p : j.at("pods")) {
      PodState ps{p.at("name"),        p.value("node", ""),       p.value("ip", ""),
                  p.at("netns"),       p.value("deployment", ""), {},
                  p.value("error", "")};
      for (const json& c : p.value("containers", json::array())) {
        ContainerState cs;
        cs.name = c.value("name", "");
        cs.app = c.value("app", "");
        cs.command = c.value("command", std::vector<std::string>{});
        cs.ports = c.value("ports", std::vector<std::string>{});
        cs.process = {c.value("pid", 0), c.value("pid_start", uint64_t{0})};
        ps.containers.push_back(std::move(cs));
      }
      s.pods.push_back(std::move(ps));
    }
    return s;
  } catch (const json::exception& e) {
    return absl::DataLossError(e.what());
  }
}

std::string PodsJson(const ClusterState& s) { return StateObject(s)["pods"].dump(2) + "\n"; }

std::string NodesJson(const ClusterState& s) { return StateObject(s)["nodes"].dump(2) + "\n"; }

std::string WorldText(const ClusterState& s) {
  if (!s.world) return "";
  const WorldState& w = *s.world;
  size_t width = 4;
  for (const WorldHostState& h : w.hosts) width = std::max(width, h.name.size());
  std::string out = "NAME" + std::string(width - 4 + 2, ' ') + "ADDRESS\n";
  for (const WorldHostState& h : w.hosts)
    out += h.name + std::string(width - h.name.size() + 2, ' ') + h.ip + "\n";
  out += "\nnetns " + w.netns + ", linked to " + w.attach + " (" + w.gateway +
         " on its port \"world\", " + w.cidr + ")\n";
  out +=
      "every address serves: http-echo tcp/80 (echoes the client address it saw), tcp-echo "
      "tcp/7, udp-echo udp/7, DNS udp+tcp/53 (example.test)\n";
  out += w.masquerade
             ? "egress: each node masquerades its pods' traffic to the world to the node's "
               "own address (nft table ip mkn-egress)\n"
             : "egress: the CNI chain's (no masquerade by minikube-net)\n";
  return out;
}

std::string WorldJson(const ClusterState& s) {
  if (!s.world) return "null\n";
  return StateObject(s).at("world").dump(2) + "\n";
}

}  // namespace mkn::control
