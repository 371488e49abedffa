#include "lib/proxy/sock_lb.h"

#include <algorithm>
#include <memory>
#include <set>
#include <tuple>
#include <utility>

#include "lib/net/naming.h"
#include "lib/proxy/nft_table.h"
#include "lib/strings/str_cat.h"

namespace mkn::proxy {
namespace {

// A headless Service (cluster_ip = "None") has no address to balance: no map entries.
size_t LbPorts(const config::ServiceSpec& s) { return s.headless ? 0 : s.ports.size(); }

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
                    config::ToString(op.key.protocol), " svc ", op.service_id);
    case SockLbOp::kPutSlot:
      return StrCat("put slot ", KeyText(op.key), " #", op.slot, " = ", op.id);
    case SockLbOp::kPutService:
      return StrCat("put service ", KeyText(op.key), " id ", op.id, " count ", op.count,
                    " affinity ", op.affinity_s, op.fresh ? ", new" : "");
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

namespace {

// A service port as `spec` wants it: its key, affinity and endpoints (ids not chosen yet).
struct Want {
  SockLbService svc;
  std::vector<NftEndpoint> eps;
  std::vector<std::string> pods;
};

Want MakeWant(const ClusterSpec& spec, size_t si, size_t pi) {
  const ServiceSpec& s = spec.services[si];
  const ServicePortSpec& p = s.ports[pi];
  Want w;
  w.svc.key = {s.cluster_ip, p.port, p.protocol};
  w.svc.affinity_timeout_s = s.affinity_client_ip ? static_cast<uint32_t>(s.affinity_timeout) : 0;
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
  return w;
}

using OldBackends = std::map<std::tuple<uint32_t, uint32_t, int>, uint32_t>;  // {svc, ip, port}

// The ids a service port's endpoints keep (0: a new one), each kept id taken at most once.
std::vector<uint32_t> KeptIds(const Want& w, const OldBackends& old, std::set<uint32_t>& used) {
  std::vector<uint32_t> ids;
  for (const NftEndpoint& ep : w.eps) {
    auto it = old.find({w.svc.id, ep.ip.value, ep.port});
    uint32_t id = 0;
    if (it != old.end() && !used.count(it->second)) {
      id = it->second;
      used.insert(id);
    }
    ids.push_back(id);
  }
  return ids;
}

}  // namespace

SockLbMaps SockLbMaps::Build(const ClusterSpec& spec, const SockLbMaps* previous) {
  SockLbMaps m;
  // What the previous maps called each service port and each {service port, endpoint}.
  std::map<SockLbKey, uint32_t> old_svc;
  OldBackends old_backend;
  std::set<uint32_t> svc_used, backend_used;
  if (previous != nullptr) {
    for (const SockLbService& s : previous->services) old_svc[s.key] = s.id;
    for (const auto& [id, b] : previous->backends)
      old_backend[{b.service_id, b.ip.value, b.port}] = id;
  }
  // First pass: the ids kept, so that a new service never takes one a later service keeps.
  std::vector<Want> wants;
  for (size_t si = 0; si < spec.services.size(); ++si) {
    for (size_t pi = 0; pi < LbPorts(spec.services[si]); ++pi) {
      Want w = MakeWant(spec, si, pi);
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
  for (size_t i = 0; i < wants.size(); ++i) ids[i] = KeptIds(wants[i], old_backend, backend_used);
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

SockLbChange SockLbMaps::Plan(const ClusterSpec& spec, const std::vector<int>& changed) const {
  SockLbChange c;
  // Where each of spec's service ports sits in `services` (spec order): the same ports in the same
  // order, or this is not an endpoints-only change and takes the full way.
  std::vector<size_t> first(spec.services.size() + 1, 0);
  for (size_t si = 0; si < spec.services.size(); ++si)
    first[si + 1] = first[si] + LbPorts(spec.services[si]);
  bool same = first.back() == services.size();
  std::set<int> todo;
  for (int si : changed) {
    if (si < 0 || static_cast<size_t>(si) >= spec.services.size()) continue;
    todo.insert(si);
    for (size_t pi = 0; same && pi < LbPorts(spec.services[si]); ++pi) {
      const ServiceSpec& s = spec.services[si];
      const SockLbKey key{s.cluster_ip, s.ports[pi].port, s.ports[pi].protocol};
      same = services[first[si] + pi].key == key;
    }
  }
  if (!same) {
    c.full = std::make_shared<SockLbMaps>(Build(spec, this));
    c.ops = Diff(*this, *c.full);
    return c;
  }
  // The changed service ports as they are (from) and as spec wants them (to), ids chosen as
  // Build() chooses them: kept by {service id, ip, port}, new ones the lowest id no other port
  // holds. Diff() of the two is Diff() of the whole maps, since nothing else changed.
  SockLbMaps from, to;
  OldBackends old;
  std::set<uint32_t> released;  // the changed ports' ids: free unless kept again
  for (int si : todo) {
    for (size_t k = first[si]; k < first[si + 1]; ++k) {
      const SockLbService& s = services[k];
      from.services.push_back(s);
      for (uint32_t id : s.backends) {
        const SockLbBackend& b = backends.at(id);
        from.backends[id] = b;
        old[{b.service_id, b.ip.value, b.port}] = id;
        released.insert(id);
      }
    }
  }
  std::set<uint32_t> taken;
  std::vector<Want> wants;
  std::vector<std::vector<uint32_t>> ids;
  for (int si : todo) {
    for (size_t pi = 0; pi < LbPorts(spec.services[si]); ++pi) {
      Want w = MakeWant(spec, si, pi);
      w.svc.id = services[first[si] + pi].id;
      ids.push_back(KeptIds(w, old, taken));
      wants.push_back(std::move(w));
    }
  }
  // The lowest free ids, walking the held ones in order once: a change costs its own ports plus
  // one pass over the ids, not a rebuild of every service.
  uint32_t hint = 1;
  auto held = backends.begin();
  auto next_free = [&]() {
    for (;; ++hint) {
      while (held != backends.end() && held->first < hint) ++held;
      const bool by_other = held != backends.end() && held->first == hint && !released.count(hint);
      if (!by_other && !taken.count(hint)) {
        taken.insert(hint);
        return hint;
      }
    }
  };
  for (size_t i = 0; i < wants.size(); ++i) {
    for (size_t k = 0; k < wants[i].eps.size(); ++k) {
      if (ids[i][k] == 0) ids[i][k] = next_free();
      const NftEndpoint& ep = wants[i].eps[k];
      to.backends[ids[i][k]] = {ep.ip, ep.port, wants[i].svc.key.protocol, wants[i].svc.id,
                                wants[i].pods[k]};
    }
    wants[i].svc.backends = ids[i];
    to.services.push_back(std::move(wants[i].svc));
  }
  c.ops = Diff(from, to);
  for (const auto& [id, b] : from.backends) c.removed.push_back(id);
  c.added = std::move(to.backends);
  for (int si : todo) {
    for (size_t k = first[si]; k < first[si + 1]; ++k) c.positions.push_back(k);
  }
  c.services = std::move(to.services);
  return c;
}

void SockLbMaps::Commit(SockLbChange c) {
  if (c.full) {
    *this = std::move(*c.full);
    return;
  }
  for (uint32_t id : c.removed) backends.erase(id);
  for (auto& [id, b] : c.added) backends[id] = std::move(b);
  for (size_t i = 0; i < c.positions.size(); ++i)
    services[c.positions[i]] = std::move(c.services[i]);
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
        it->second.protocol == b.protocol && it->second.service_id == b.service_id)
      continue;
    SockLbOp op;
    op.kind = SockLbOp::kPutBackend;
    op.id = id;
    op.ip = b.ip;
    op.port = b.port;
    op.key.protocol = b.protocol;
    op.service_id = b.service_id;
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
      op.fresh = old == nullptr || old->id != s.id;
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

namespace {

absl::Status Fits(uint32_t max_service_id, uint32_t max_backend_id, size_t service_ports,
                  size_t slots, size_t pods, const SockLbLimits& limits) {
  std::vector<std::string> over;
  if (max_service_id > limits.max_service_id)
    over.push_back(
        StrCat("service port id ", max_service_id, " (ids up to ", limits.max_service_id, ")"));
  if (max_backend_id > limits.max_backend_id)
    over.push_back(
        StrCat("backend id ", max_backend_id, " (ids up to ", limits.max_backend_id, ")"));
  if (slots > limits.slots)
    over.push_back(StrCat(slots, " service map entries (", service_ports,
                          " service ports and their endpoints; it holds ", limits.slots, ")"));
  if (pods > limits.pods)
    over.push_back(StrCat(pods, " pod namespaces (mkn_netns holds ", limits.pods, ")"));
  if (over.empty()) return absl::OkStatus();
  std::string what;
  for (const std::string& o : over) what += (what.empty() ? "" : ", ") + o;
  return absl::ResourceExhaustedError(
      StrCat("proxy_mode = \"ebpf\": the lab does not fit the programs' maps: ", what,
             ": fewer Services, endpoints or pods, or proxy_mode = \"nftables\""));
}

}  // namespace

absl::Status CheckFits(const SockLbMaps& maps, size_t pods, const SockLbLimits& limits) {
  uint32_t max_service_id = 0;
  for (const SockLbService& s : maps.services) max_service_id = std::max(max_service_id, s.id);
  const uint32_t max_backend_id = maps.backends.empty() ? 0 : maps.backends.rbegin()->first;
  return Fits(max_service_id, max_backend_id, maps.services.size(),
              maps.services.size() + maps.backends.size(), pods, limits);
}

absl::Status CheckFits(const SockLbMaps& current, const SockLbChange& change, size_t pods,
                       const SockLbLimits& limits) {
  if (change.full) return CheckFits(*change.full, pods, limits);
  // Service ids stay; the backends are those held, less the changed ports' (removed), plus their
  // new ones (added: the kept ids return here). The highest id held is an upper bound of those
  // that stay.
  uint32_t max_service_id = 0;
  for (const SockLbService& s : change.services) max_service_id = std::max(max_service_id, s.id);
  uint32_t max_backend_id = current.backends.empty() ? 0 : current.backends.rbegin()->first;
  if (!change.added.empty())
    max_backend_id = std::max(max_backend_id, change.added.rbegin()->first);
  const size_t backends = current.backends.size() - change.removed.size() + change.added.size();
  return Fits(max_service_id, max_backend_id, current.services.size(),
              current.services.size() + backends, pods, limits);
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
