// vnet/cni/teardown — CniTeardown and HeldAsPluginLeaks (runtime.h): what `down` does for a CNI
// lab, from the state directory alone (so it works after minikube-net was SIGKILLed): DEL for every
// cached attachment, then a look at what the plugins left behind in each node.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"
#include "vnet/cni/nodefs.h"
#include "vnet/cni/runtime.h"
#include "vnet/kernel/owned.h"

namespace mkn::vnet {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string FindIp() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "/sbin/ip";
}

// What is left in a node once every DEL ran: links a pod attachment would have made, and IPAM
// allocations. The node's own links (lo, the uplink, vxlan0) and bridges a plugin keeps for all its
// pods (bridge's cni0) are not leaks.
void FindLeaks(CniNode& node, std::vector<std::string>& leaks) {
  const std::string& name = node.config().node;
  ExecRequest req;
  req.binary = FindIp();
  req.argv = {req.binary, "-j", "-d", "link", "show"};
  req.env = {StrCat("PATH=", cni::kPluginPath)};
  req.netns_fd = node.netns_fd();
  req.timeout = std::chrono::milliseconds(5000);
  req.max_stdout = kToolMaxStdout;
  absl::StatusOr<ExecResult> r = RunPlugin(req);
  if (r.ok() && r->exit_code == 0) {
    json links = json::parse(r->stdout_data, nullptr, false);
    if (links.is_array()) {
      for (const json& l : links) {
        // The node's own links (its uplink, vxlan0) carry the cluster's ownership marker.
        if (l.value("ifalias", "").rfind("minikube-net:", 0) == 0) continue;
        std::string kind = l.contains("linkinfo") ? l["linkinfo"].value("info_kind", "") : "";
        if (kind == "veth" || kind == "macvlan" || kind == "ipvlan" || kind == "vlan") {
          leaks.push_back(StrCat(name, ": link ", l.value("ifname", "?"), " (", kind,
                                 ") left after every DEL"));
        }
      }
    }
  }
  std::error_code ec;
  std::string nets = StrCat(NodeUpperDir(node.config().state_dir, "/var/lib"), "/cni/networks");
  for (const auto& net : fs::directory_iterator(nets, ec)) {
    std::error_code ec2;
    for (const auto& f : fs::directory_iterator(net.path(), ec2)) {
      std::string file = f.path().filename().string();
      if (file.rfind("last_reserved_ip", 0) == 0 || file == "lock") continue;
      bool ip_like = file.find_first_not_of("0123456789.:abcdef") == std::string::npos &&
                     (file.find('.') != std::string::npos || file.find(':') != std::string::npos);
      if (!ip_like) continue;
      leaks.push_back(StrCat(name, ": IP ", file, " still allocated (/var/lib/cni/networks/",
                             net.path().filename().string(), "/", file, ") after every DEL"));
    }
  }
}

}  // namespace

CniTeardownReport CniTeardown(const std::string& cluster,
                              std::vector<std::unique_ptr<CniNode>>* open) {
  CniTeardownReport report;
  std::vector<std::string> dirs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(StrCat(net::StateDir(cluster), "/nodes"), ec)) {
    if (fs::exists(e.path() / "cni.json")) dirs.push_back(e.path().string());
  }
  std::sort(dirs.begin(), dirs.end());
  const std::string marker = net::OwnerMarker(cluster);
  std::vector<CniTeardownReport> per(dirs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < dirs.size(); ++i) {
    threads.emplace_back([&, i] {
      CniTeardownReport& r = per[i];
      // The owner's own node (its filesystem view already mounted) when it has one: a second
      // overlay on the same upper dir would be undefined behaviour.
      CniNode* node = nullptr;
      std::unique_ptr<CniNode> reopened;
      if (open != nullptr) {
        for (auto& n : *open) {
          if (n && n->config().state_dir == dirs[i]) node = n.get();
        }
      }
      if (node == nullptr) {
        absl::StatusOr<std::unique_ptr<CniNode>> n = CniNode::Reopen(dirs[i]);
        if (!n.ok()) {
          r.errors.push_back(
              StrCat(fs::path(dirs[i]).filename().string(), ": ", n.status().message()));
          return;
        }
        reopened = std::move(*n);
        node = reopened.get();
      }
      // Plugins run only in namespaces proven this cluster's (the marker on their lo), as Teardown
      // removes only those: a stale state must not make a plugin act on someone else's namespace.
      absl::StatusOr<std::string> nm = ReadMarker(node->config().node_netns);
      if (!nm.ok() || *nm != marker) {
        r.errors.push_back(StrCat(node->config().node, ": netns ", node->config().node_netns,
                                  " is not this cluster's: no DEL run there"));
        return;
      }
      for (const cni::RuntimeConf& rt : node->Attachments()) {
        std::string pod_ns = fs::path(rt.netns).filename().string();
        if (absl::StatusOr<std::string> pm = ReadMarker(pod_ns); pm.ok() && *pm != marker) {
          r.errors.push_back(StrCat(node->config().node, ": ", rt.container_id, ": netns ", pod_ns,
                                    " is not this cluster's: no DEL run for it"));
          continue;
        }
        ChainOutcome del = node->Del(rt);  // a pod netns already gone is DEL's case to handle
        if (del.status.ok()) {
          ++r.deleted;
        } else {
          r.errors.push_back(
              StrCat(node->config().node, ": ", rt.container_id, ": DEL: ", del.status.message()));
        }
      }
      FindLeaks(*node, r.leaks);
    });
  }
  for (std::thread& t : threads) t.join();
  for (CniTeardownReport& r : per) {
    report.deleted += r.deleted;
    for (auto& e : r.errors) report.errors.push_back(std::move(e));
    for (auto& l : r.leaks) report.leaks.push_back(std::move(l));
  }
  return report;
}

void HeldAsPluginLeaks(TeardownReport& report) {
  for (const HeldNetns& h : report.held) {
    report.cni_leaks.push_back(StrCat(
        "namespace ", h.netns, " still has ", DescribeProcesses(h.processes),
        " running inside after every DEL, which keeps it alive (a daemon a plugin left, or a "
        "shell someone opened there); left running: ",
        KillCommand(h.processes), " stops ", h.processes.size() == 1 ? "it" : "them"));
  }
  report.held.clear();
}

}  // namespace mkn::vnet
