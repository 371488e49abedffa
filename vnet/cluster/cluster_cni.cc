// RunningCluster::CniUp: a network = "cni" lab's part of `up`, between its namespaces and its
// Services: each node's chain opened (its filesystem view, VERSION), the node daemons started, and
// the chain's ADD run for every pod (nodes in parallel), whose results give the pods their
// addresses. See cluster.h; cluster_impl.h is what it shares with cluster.cc.

#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"
#include "lib/config/spec.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/cluster.h"
#include "vnet/cluster/cluster_impl.h"
#include "vnet/cni/exec.h"
#include "vnet/cni/runtime.h"

namespace mkn::vnet {

absl::Status RunningCluster::CniUp(std::vector<CniNodeConfig> configs, config::ClusterSpec& live,
                                   const UpOptions& options) {
  Impl& impl = *impl_;
  const size_t n = configs.size();
  impl.cni_nodes.resize(n);
  // Each node's view and VERSION negotiation, nodes in parallel.
  {
    std::vector<absl::Status> st(n);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        auto it = impl.applied.netns.find(configs[i].node_netns);
        if (it == impl.applied.netns.end()) {
          st[i] = absl::InternalError(StrCat("node ", configs[i].node, ": netns not made"));
          return;
        }
        absl::StatusOr<std::unique_ptr<CniNode>> node = CniNode::Open(configs[i], it->second.get());
        if (node.ok()) {
          impl.cni_nodes[i] = std::move(*node);
        } else {
          st[i] = absl::Status(node.status().code(),
                               StrCat("node ", configs[i].node, ": ", node.status().message()));
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (const absl::Status& s : st) MKN_RETURN_IF_ERROR(s);
  }
  // Node daemons (a plugin's node agent) before any pod, from this thread: their PDEATHSIG follows
  // the thread that started them.
  std::string lab_dir = std::filesystem::path(options.lab_path).parent_path().string();
  for (size_t i = 0; i < n; ++i) {
    const config::NodeSpec& node = live.nodes[i];
    if (node.daemon.empty()) continue;
    ExecRequest req;
    req.argv = node.daemon;
    std::string bin = node.daemon[0];
    if (bin.find('/') == std::string::npos) {
      for (const char* dir :
           {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
        if (::access(StrCat(dir, "/", bin).c_str(), X_OK) == 0) {
          bin = StrCat(dir, "/", bin);
          break;
        }
      }
    } else if (bin[0] != '/') {
      bin = StrCat(lab_dir, "/", bin);
    }
    req.binary = bin;
    req.env = {StrCat("PATH=", cni::kPluginPath), StrCat("NODE_NAME=", node.name),
               StrCat("NODE_IP=", node.underlay_ip.ToString()),
               StrCat("POD_CIDR=", node.pod_cidr.ToString()),
               StrCat("CNI_PATH=", absl::StrJoin(node.cni.bin_dirs, ":"))};
    req.netns_fd = impl.cni_nodes[i]->netns_fd();
    req.mntns_fd = impl.cni_nodes[i]->mntns_fd();
    absl::StatusOr<pid_t> pid = StartDaemon(req, StrCat(impl.logs, "/daemon-", node.name, ".log"));
    if (!pid.ok())
      return absl::Status(pid.status().code(),
                          StrCat("node ", node.name, ": daemon: ", pid.status().message()));
    impl.daemons.push_back(*pid);
  }
  // ADD: nodes in parallel, a node's pods one after another (in address order, as the plan lists
  // them).
  std::vector<std::string> errors(live.pods.size());
  std::vector<std::optional<PodAddress>> addrs(live.pods.size());
  {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        for (int p : live.nodes[i].pods) {
          if (options.stop_requested && options.stop_requested()) return;  // said after the join
          const config::PodSpec& pod = live.pods[p];
          ChainOutcome add = impl.cni_nodes[i]->Add(PodRuntimeConf(live, pod));
          if (!add.status.ok()) {
            errors[p] = std::string(add.status.message());
            continue;
          }
          absl::StatusOr<PodAddress> a = PodAddressFromResult(add.result, live.nodes[i].cni.ifname);
          if (a.ok()) {
            addrs[p] = *a;
          } else {
            errors[p] = StrCat("ADD: ", a.status().message());
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
  }
  // Told to stop: some pods never had their ADD; Up rolls back what was made (DEL from the cache).
  if (options.stop_requested && options.stop_requested())
    return absl::CancelledError("interrupted");
  std::vector<std::string> failed;
  for (size_t p = 0; p < live.pods.size(); ++p) {
    config::PodSpec& pod = live.pods[p];
    if (addrs[p]) {
      if (std::optional<net::Ipv4> ip = net::Ipv4::Parse(addrs[p]->ip)) pod.ip = *ip;
      if (std::optional<net::Mac> mac = net::Mac::Parse(addrs[p]->mac)) pod.mac = *mac;
    }
    if (!errors[p].empty()) {
      failed.push_back(
          StrCat("pod ", pod.name, " (node ", live.nodes[pod.node].name, "): ", errors[p]));
      impl.pod_errors[pod.name] = errors[p];
    }
  }
  if (!failed.empty() && options.strict) {
    return absl::FailedPreconditionError(
        StrCat("CNI ADD failed for ", failed.size(), " of ", live.pods.size(),
               " pods (everything rolled back; up --keep-going brings up the rest):\n  ",
               absl::StrJoin(failed, "\n  "), "\n "));
  }
  for (const std::string& f : failed) {
    if (options.notice) options.notice(StrCat("CNI ADD failed: ", f));
  }
  // Services reach only pods that got an address.
  for (config::ServiceSpec& svc : live.services) {
    std::erase_if(svc.endpoints, [&](int p) { return live.pods[p].ip == net::Ipv4{}; });
  }
  return absl::OkStatus();
}

}  // namespace mkn::vnet
