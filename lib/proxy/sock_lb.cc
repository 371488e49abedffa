#include "lib/proxy/sock_lb.h"

#include <algorithm>
#include <set>
#include <utility>

#include "lib/net/naming.h"
#include "lib/proxy/nft_table.h"
#include "lib/strings/str_cat.h"

namespace mkn::proxy {
namespace {

using config::ClusterSpec;
using config::ServicePortSpec;
using config::ServiceSpec;

std::string KeyText(const SockLbKey& k) {
  return StrCat(k.vip.ToString(), ":", k.port, "/", config::ToString(k.protocol));
}

// The lowest id not in `used` (from 1), which it then holds.
uint32_t NextFree(std::set<uint32_t>& used, uint32_t& hint) {
  while (used.count(hint)) ++hint;
  used.insert(hint);
  return hint;
}

}  // namespace

std::string ToString(const SockLbOp& op) {
  switch (op.kind) {
    case SockLbOp::kPutBackend:
      return StrCat("put backend ", op.id, " ", op.ip.ToString(), ":", op.port, "/",
                    config::ToString(op.key.protocol));
    case SockLbOp::kPutSlot:
      return StrCat("put slot ", KeyText(op.key), " #", op.slot, " = ", op.id);
    case SockLbOp::kPutService:
      return StrCat("put service ", KeyText(op.key), " id ", op.id, " count ", op.count,
                    " affinity ", op.affinity_s);
    case SockLbOp::kDeleteSlot:
      return StrCat("delete slot ", KeyText(op.key), " #", op.slot);
    case SockLbOp::kDeleteService:
      return StrCat("delete service ", KeyText(op.key));
    case SockLbOp::kDeleteBackend:
      return StrCat("delete backend ", op.id);
  }
  return "?";
}

const SockLbService* SockLbMaps::Find(const SockLbKey& key) const {
  for (const SockLbService& s : services) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

SockLbMaps SockLbMaps::Build(const ClusterSpec& spec, const SockLbMaps* previous) {
  SockLbMaps m;
  // What the previous maps called each service port and each {service port, endpoint}.
  std::map<SockLbKey, uint32_t> old_svc;
  std::map<std::tuple<uint32_t, uint32_t, int>, uint32_t> old_backend;  // {svc id, ip, port}
  std::set<uint32_t> svc_used, backend_used;
  if (previous != nullptr) {
    for (const SockLbService& s : previous->services) old_svc[s.key] = s.id;
    for (const auto& [id, b] : previous->backends)
      old_backend[{b.service_id, b.ip.value, b.port}] = id;
  }
  // First pass: the ids kept, so that a new service never takes one a later service keeps.
  struct Want {
    SockLbService svc;
    std::vector<NftEndpoint> eps;
    std::vector<std::string> pods;
  };
  std::vector<Want> wants;
  for (size_t si = 0; si < spec.services.size(); ++si) {
    const ServiceSpec& s = spec.services[si];
    for (size_t pi = 0; pi < s.ports.size(); ++pi) {
      const ServicePortSpec& p = s.ports[pi];
      Want w;
      w.svc.key = {s.cluster_ip, p.port, p.protocol};
      w.svc.affinity_timeout_s =
          s.affinity_client_ip ? static_cast<uint32_t>(s.affinity_timeout) : 0;
      w.svc.service = static_cast<int>(si);
      w.svc.port_index = static_cast<int>(pi);
      w.eps = ResolveNftEndpoints(spec, s, p);
      for (const NftEndpoint& ep : w.eps) {
        std::string pod;
        for (int e : s.endpoints) {
          if (e >= 0 && static_cast<size_t>(e) < spec.pods.size() && spec.pods[e].ip == ep.ip)
            pod = spec.pods[e].name;
        }
        w.pods.push_back(pod);
      }
      if (auto it = old_svc.find(w.svc.key); it != old_svc.end()) {
        w.svc.id = it->second;
        svc_used.insert(it->second);
      }
      wants.push_back(std::move(w));
    }
  }
  uint32_t svc_hint = 1;
  for (Want& w : wants) {
    if (w.svc.id == 0) w.svc.id = NextFree(svc_used, svc_hint);
  }
  // Backends: those kept first (by {service id, ip, port}), then the new ones.
  std::vector<std::vector<uint32_t>> ids(wants.size());
  for (size_t i = 0; i < wants.size(); ++i) {
    for (const NftEndpoint& ep : wants[i].eps) {
      auto it = old_backend.find({wants[i].svc.id, ep.ip.value, ep.port});
      uint32_t id = 0;
      if (it != old_backend.end() && !backend_used.count(it->second)) {
        id = it->second;
        backend_used.insert(id);
      }
      ids[i].push_back(id);
    }
  }
  uint32_t backend_hint = 1;
  for (size_t i = 0; i < wants.size(); ++i) {
    for (size_t k = 0; k < wants[i].eps.size(); ++k) {
      if (ids[i][k] == 0) ids[i][k] = NextFree(backend_used, backend_hint);
      const NftEndpoint& ep = wants[i].eps[k];
      m.backends[ids[i][k]] = {ep.ip, ep.port, wants[i].svc.key.protocol, wants[i].svc.id,
                               wants[i].pods[k]};
    }
    wants[i].svc.backends = ids[i];
    m.services.push_back(std::move(wants[i].svc));
  }
  return m;
}

std::vector<SockLbOp> Diff(const SockLbMaps& from, const SockLbMaps& to) {
  std::vector<SockLbOp> ops;
  // Each side's service ports by key: a change compares N ports in N log N, not N^2.
  std::map<SockLbKey, const SockLbService*> from_by_key, to_by_key;
  for (const SockLbService& s : from.services) from_by_key[s.key] = &s;
  for (const SockLbService& s : to.services) to_by_key[s.key] = &s;
  // 1. New or changed backends: a slot written next may name them.
  for (const auto& [id, b] : to.backends) {
    auto it = from.backends.find(id);
    if (it != from.backends.end() && it->second.ip == b.ip && it->second.port == b.port &&
        it->second.protocol == b.protocol)
      continue;
    SockLbOp op;
    op.kind = SockLbOp::kPutBackend;
    op.id = id;
    op.ip = b.ip;
    op.port = b.port;
    op.key.protocol = b.protocol;
    ops.push_back(op);
  }
  // 2. Per service: the slots, then slot 0 (the count the program trusts); then the slots beyond
  // the new count, which the new count no longer reaches.
  for (const SockLbService& s : to.services) {
    auto found = from_by_key.find(s.key);
    const SockLbService* old = found == from_by_key.end() ? nullptr : found->second;
    for (size_t i = 0; i < s.backends.size(); ++i) {
      if (old != nullptr && i < old->backends.size() && old->backends[i] == s.backends[i]) continue;
      SockLbOp op;
      op.kind = SockLbOp::kPutSlot;
      op.key = s.key;
      op.slot = static_cast<int>(i + 1);
      op.id = s.backends[i];
      ops.push_back(op);
    }
    if (old == nullptr || old->id != s.id || old->backends.size() != s.backends.size() ||
        old->affinity_timeout_s != s.affinity_timeout_s) {
      SockLbOp op;
      op.kind = SockLbOp::kPutService;
      op.key = s.key;
      op.id = s.id;
      op.count = static_cast<uint32_t>(s.backends.size());
      op.affinity_s = s.affinity_timeout_s;
      ops.push_back(op);
    }
    if (old != nullptr) {
      for (size_t i = s.backends.size(); i < old->backends.size(); ++i) {
        SockLbOp op;
        op.kind = SockLbOp::kDeleteSlot;
        op.key = s.key;
        op.slot = static_cast<int>(i + 1);
        ops.push_back(op);
      }
    }
  }
  // 3. Services gone: the count first, so no program picks a slot about to vanish.
  for (const SockLbService& s : from.services) {
    if (to_by_key.count(s.key)) continue;
    SockLbOp op;
    op.kind = SockLbOp::kDeleteService;
    op.key = s.key;
    op.id = s.id;
    ops.push_back(op);
    for (size_t i = 0; i < s.backends.size(); ++i) {
      SockLbOp slot;
      slot.kind = SockLbOp::kDeleteSlot;
      slot.key = s.key;
      slot.slot = static_cast<int>(i + 1);
      ops.push_back(slot);
    }
  }
  // 4. Backends no slot names any more.
  for (const auto& [id, b] : from.backends) {
    if (to.backends.count(id)) continue;
    SockLbOp op;
    op.kind = SockLbOp::kDeleteBackend;
    op.id = id;
    ops.push_back(op);
  }
  return ops;
}

std::optional<std::string> Cgroup2Mount(std::string_view mountinfo) {
  // "36 25 0:30 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw": the mount
  // point is field 5, the filesystem type the first field after " - ".
  auto fields = [](std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
      const size_t j = std::min(s.find(' ', i), s.size());
      if (j > i) out.push_back(s.substr(i, j - i));
      i = j + 1;
    }
    return out;
  };
  while (!mountinfo.empty()) {
    const size_t nl = std::min(mountinfo.find('\n'), mountinfo.size());
    const std::string_view line = mountinfo.substr(0, nl);
    mountinfo.remove_prefix(std::min(nl + 1, mountinfo.size()));
    const size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    const std::vector<std::string_view> after = fields(line.substr(dash + 3));
    if (after.empty() || after[0] != "cgroup2") continue;
    const std::vector<std::string_view> before = fields(line.substr(0, dash));
    if (before.size() < 5 || before[3] != "/") continue;  // a bind of a subtree: not the root
    return std::string(before[4]);
  }
  return std::nullopt;
}

std::string ClusterCgroupPath(std::string_view mount, std::string_view cluster,
                              uint64_t netns_inode) {
  return StrCat(mount, "/", net::ClusterCgroupName(cluster, netns_inode));
}

}  // namespace mkn::proxy
