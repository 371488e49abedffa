// lib/proxy/sock_lb — proxy_mode = "ebpf": the socket load balancer's maps as data, and where the
// cluster's cgroup lives.
//
// The BPF programs (bpf/sock_lb.bpf.c) read five maps laid out as Cilium's bpf_sock.c lays them
// out: a service map keyed by {VIP, port, protocol, slot} (slot 0 holds the backend count, the
// service's id and its affinity timeout; slots 1..count hold a backend id each), a backend map by
// id, and the data path's own affinity and reverse-NAT maps, which are never written from here.
// SockLbMaps::Build() computes the first two from a spec; Diff() turns one state into the next as
// an ordered list of map writes that never shows a program a slot without its backend or a count
// larger than the slots written (backends first, then slots, then the count; removals after).
// The loader (vnet/ebpf) only carries the ops out. Same input, same ops.
//
// Ids are stable across changes when Build() gets the previous maps: a service port keeps its id
// (its counters and affinity entries stay), an endpoint that stays keeps its backend id (affinity
// to it holds). A backend id belongs to one service port: an affinity entry whose id is gone has
// lost its endpoint, which the program can see with one lookup.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "lib/config/spec.h"
#include "lib/net/ip.h"

namespace mkn::proxy {

// A service port as the socket LB sees it: {VIP, port, protocol}.
struct SockLbKey {
  net::Ipv4 vip;
  int port = 0;
  config::Protocol protocol = config::Protocol::kTcp;
  auto operator<=>(const SockLbKey&) const = default;
};

struct SockLbService {
  SockLbKey key;
  uint32_t id = 0;                    // 1..; the counters' index
  std::vector<uint32_t> backends;     // slot i+1 holds backends[i]
  uint32_t affinity_timeout_s = 0;    // ClientIP affinity; 0 = none
  int service = -1, port_index = -1;  // indices into the spec, for `get svc`
  bool operator==(const SockLbService&) const = default;
};

struct SockLbBackend {
  net::Ipv4 ip;
  int port = 0;
  config::Protocol protocol = config::Protocol::kTcp;
  uint32_t service_id = 0;  // the one service port it serves
  std::string pod;
  bool operator==(const SockLbBackend&) const = default;
};

// One map write. kPutBackend: backends[id] = {ip, port, service id}; kPutSlot: services[key,
// slot] = backend_id; kPutService: services[key, 0] = {count, id, affinity}; kDeleteSlot /
// kDeleteService / kDeleteBackend remove the entry.
//
// A backend's service id is what lets the program trust an affinity entry: ids are reused (the
// lowest free one), so an id an affinity entry names may since have gone to another Service's
// endpoint; the entry holds only while the backend still serves the service it was made for.
// A kPutBackend is a new endpoint for its id: its pick counter starts at zero.
struct SockLbOp {
  enum Kind { kPutBackend, kPutSlot, kPutService, kDeleteSlot, kDeleteService, kDeleteBackend };
  Kind kind = kPutBackend;
  SockLbKey key;
  int slot = 0;
  uint32_t id = 0;          // backend id (backend and slot ops) or service id (service ops)
  net::Ipv4 ip;             // kPutBackend
  int port = 0;             // kPutBackend
  uint32_t count = 0;       // kPutService
  uint32_t affinity_s = 0;  // kPutService
  uint32_t service_id = 0;  // kPutBackend: the service port it serves
  // kPutService of a service port the maps did not have under this id (new, or back): its
  // counters start from zero. A kill or scale rewrites the count of a port that stays: its
  // counters (`get svc`) go on.
  bool fresh = false;
  bool operator==(const SockLbOp&) const = default;
};

// "put backend 3 10.244.1.2:8080/TCP svc 1", "put slot 10.96.0.10:80/TCP #1 = 3", "put service
// 10.96.0.10:80/TCP id 1 count 3 affinity 0" (", new" when fresh), "delete slot ...", "delete
// backend 3": what the tables in the test and `MKN_TRACE` show.
std::string ToString(const SockLbOp& op);

struct SockLbMaps;

// A planned change of the maps (SockLbMaps::Plan): the writes, and what Commit() puts in place.
struct SockLbChange {
  std::vector<SockLbOp> ops;
  std::vector<size_t> positions;            // in SockLbMaps::services, the changed ports
  std::vector<SockLbService> services;      // their new entries, in that order
  std::map<uint32_t, SockLbBackend> added;  // backends of the changed ports, as they will be
  std::vector<uint32_t> removed;            // their backend ids before (some return in `added`)
  std::shared_ptr<SockLbMaps> full;         // set: the full way, the whole next maps
};

struct SockLbMaps {
  std::vector<SockLbService> services;         // in spec order
  std::map<uint32_t, SockLbBackend> backends;  // by id

  // The maps `spec` wants (every ClusterIP service port; a NodePort's node port is served by the
  // node's nftables table, docs/services-ebpf.md). With `previous`, ids that still name the same
  // thing are kept and new ones take the lowest free id.
  static SockLbMaps Build(const config::ClusterSpec& spec, const SockLbMaps* previous = nullptr);
  // A kill or scale: only the endpoints of the services `changed` (indices into spec.services) can
  // differ from these maps. The writes Diff(*this, Build(spec, this)) would return, at the cost of
  // those services plus one walk of the backend ids instead of a rebuild of every service; Commit()
  // then makes these maps what Build(spec, this) makes (once the writes were carried out, as the
  // nftables mode's Plan/Commit). When the service ports themselves differ (added, removed,
  // reordered) the change is the full one. Same input, same ops as the full way.
  SockLbChange Plan(const config::ClusterSpec& spec, const std::vector<int>& changed) const;
  void Commit(SockLbChange change);
  const SockLbService* Find(const SockLbKey& key) const;
};

// The writes that turn `from` into `to` (from = {} for the first, full load).
std::vector<SockLbOp> Diff(const SockLbMaps& from, const SockLbMaps& to);

// What the programs' maps hold (bpf/sock_lb.h's MKN_MAX_*; vnet/ebpf static_asserts the two
// agree): the highest service id and backend id (the counter arrays' last index), the service
// map's entries (slot 0 and the backend slots of every service port) and the pod namespaces.
struct SockLbLimits {
  uint32_t max_service_id = 0, max_backend_id = 0;
  size_t slots = 0, pods = 0;
};
inline constexpr SockLbLimits kSockLbLimits = {131071, 524287, 655360, 4096};

// OK when `maps` and `pods` pod namespaces fit `limits`; else ResourceExhausted naming each map
// that would overflow, before anything is written: a full hash map refuses a write halfway through
// a change (E2BIG), and an id past a counter array is never counted. Every backend id sits in one
// slot, so the service map holds services.size() + backends.size() entries.
absl::Status CheckFits(const SockLbMaps& maps, size_t pods,
                       const SockLbLimits& limits = kSockLbLimits);
// The same for the maps `change` (Plan() of `current`) would make, from the change alone (its full
// way: the whole next maps): O(what changed), as Plan().
absl::Status CheckFits(const SockLbMaps& current, const SockLbChange& change, size_t pods,
                       const SockLbLimits& limits = kSockLbLimits);

// The cgroup v2 mount point in a /proc/self/mountinfo text (the first "cgroup2" filesystem), or
// nullopt when there is none (a cgroup v1-only machine: the mode cannot run).
std::optional<std::string> Cgroup2Mount(std::string_view mountinfo);

// The cluster's cgroup under that mount: <mount>/mkn-<cluster>-<netns>, where <netns> is the
// inode of the network namespace `up` runs in (hex). The cgroup tree is the machine's, not the
// sandbox's: two sandboxes may each run a lab of the same name, and this keeps their cgroups
// apart; the state records the path, so `down` never recomputes it.
std::string ClusterCgroupPath(std::string_view mount, std::string_view cluster,
                              uint64_t netns_inode);

}  // namespace mkn::proxy
