#include "lib/nat/balancer.h"

#include <algorithm>

namespace mkn::nat {

uint32_t SourceHashBucket(net::Ipv4 client) {
  // ip_vs_sh_hashkey: (ntohl(addr) * 2654435761) >> (32 - IP_VS_SH_TAB_BITS), TAB_BITS = 8.
  return static_cast<uint32_t>(client.value * 2654435761u) >> 24;
}

size_t Balancer::PickRandom(size_t n) {
  // The iptables chain, rule by rule. statistic compares a random u32 against probability * 2^32
  // (xt_statistic: get_random_u32() < info->u.random.probability).
  for (size_t i = 0; i + 1 < n; ++i) {
    uint32_t threshold = static_cast<uint32_t>((uint64_t{1} << 32) / (n - i));
    if (static_cast<uint32_t>(rng_()) < threshold) return i;
  }
  return n - 1;
}

size_t Balancer::PickLeastConn(const ServicePort& port) const {
  size_t best = 0;
  uint64_t best_overhead = UINT64_MAX;
  for (size_t i = 0; i < port.endpoints.size(); ++i) {
    Load l = LoadOf(port.id, port.endpoints[i].ip, port.endpoints[i].port);
    uint64_t overhead = uint64_t{l.active} * 256 + l.inactive;  // ip_vs_dest_conn_overhead
    if (overhead < best_overhead) {
      best_overhead = overhead;
      best = i;
    }
  }
  return best;
}

std::optional<size_t> Balancer::Pick(const ServicePort& port, net::Ipv4 client, int64_t now) {
  const size_t n = port.endpoints.size();
  if (n == 0) return std::nullopt;

  if (port.affinity_client_ip) {
    auto it = affinity_.find(ClientKey{port.id, client.value});
    if (it != affinity_.end()) {
      Affinity& a = it->second;
      if (now - a.last_used_ms <= a.timeout_ms) {
        for (size_t i = 0; i < n; ++i) {
          if (port.endpoints[i].ip == a.ip && port.endpoints[i].port == a.port) {
            a.last_used_ms = now;
            return i;
          }
        }
      }
      affinity_.erase(it);  // expired, or its endpoint is gone: choose afresh
    }
  }

  size_t i = 0;
  switch (port.algorithm) {
    case config::Algorithm::kRandom:
      i = PickRandom(n);
      break;
    case config::Algorithm::kRoundRobin: {
      size_t& cursor = rr_cursor_[port.id];
      i = cursor % n;
      cursor = i + 1;
      break;
    }
    case config::Algorithm::kLeastConn:
      i = PickLeastConn(port);
      break;
    case config::Algorithm::kSourceHash:
      i = SourceHashBucket(client) % n;
      break;
  }
  if (port.affinity_client_ip) {
    affinity_[ClientKey{port.id, client.value}] =
        Affinity{port.endpoints[i].ip, port.endpoints[i].port, now, port.affinity_timeout_ms};
  }
  return i;
}

void Balancer::OnFlowClassChange(const Flow& flow, FlowClass before, FlowClass after) {
  EndpointKey key{flow.service_port_id, flow.endpoint_ip().value, flow.endpoint_port()};
  Load& l = load_[key];
  if (before == FlowClass::kActive && l.active > 0) --l.active;
  if (before == FlowClass::kInactive && l.inactive > 0) --l.inactive;
  if (after == FlowClass::kActive) ++l.active;
  if (after == FlowClass::kInactive) ++l.inactive;
  if (l.active == 0 && l.inactive == 0) load_.erase(key);
}

Balancer::Load Balancer::LoadOf(int port_id, net::Ipv4 ip, uint16_t port) const {
  auto it = load_.find(EndpointKey{port_id, ip.value, port});
  return it == load_.end() ? Load{} : it->second;
}

void Balancer::EndpointsChanged(const ServicePort& port) {
  absl::erase_if(affinity_, [&](const auto& kv) {
    if (kv.first.port_id != port.id) return false;
    return std::none_of(port.endpoints.begin(), port.endpoints.end(), [&](const Endpoint& e) {
      return e.ip == kv.second.ip && e.port == kv.second.port;
    });
  });
}

size_t Balancer::ExpireAffinity(int64_t now) {
  return absl::erase_if(affinity_, [&](const auto& kv) {
    return now - kv.second.last_used_ms > kv.second.timeout_ms;
  });
}

}  // namespace mkn::nat
