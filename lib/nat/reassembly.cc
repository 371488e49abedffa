#include "lib/nat/reassembly.h"

#include <algorithm>
#include <iterator>

#include "lib/packet/checksum.h"

namespace mkn::nat {
namespace {

constexpr uint16_t kMoreFragments = 0x2000;
constexpr uint16_t kOffsetMask = 0x1fff;
constexpr uint32_t kMaxDatagram = 65535;

}  // namespace

size_t Reassembler::Discard(absl::flat_hash_map<Key, Datagram>::iterator it) {
  const size_t n = it->second.pieces.size();
  fragments_held_ -= n;
  bytes_held_ -= it->second.bytes;
  datagrams_.erase(it);
  return n;
}

void Reassembler::MakeRoom(size_t need, const Key& keep, Result& r) {
  while (!datagrams_.empty() &&
         (bytes_held_ + need > options_.max_bytes || datagrams_.size() > options_.max_datagrams)) {
    auto oldest = datagrams_.end();
    for (auto it = datagrams_.begin(); it != datagrams_.end(); ++it) {
      if (it->first == keep) continue;
      if (oldest == datagrams_.end() || it->second.created_ms < oldest->second.created_ms) {
        oldest = it;
      }
    }
    if (oldest == datagrams_.end()) return;  // only the datagram being added is left
    r.dropped.push_back({DropReason::kFragOverload, Discard(oldest)});
  }
}

Reassembler::Result Reassembler::Add(const packet::Ipv4View& ip, int64_t now) {
  Result r;
  const std::span<const uint8_t> bytes = ip.bytes();
  const uint16_t frag = packet::Load16(&bytes[6]);
  const bool more = (frag & kMoreFragments) != 0;
  const uint32_t offset = static_cast<uint32_t>(frag & kOffsetMask) * 8;
  const std::span<const uint8_t> payload = ip.payload();
  const uint32_t end = offset + static_cast<uint32_t>(payload.size());

  auto drop = [&r](DropReason why) {
    r.fate = Fate::kDropped;
    r.reason = why;
    return r;
  };
  if (more && payload.size() % 8 != 0) return drop(DropReason::kMalformed);
  if (end + ip.header_length() > kMaxDatagram) return drop(DropReason::kFragOversize);
  const Key key{ip.src().value, ip.dst().value, ip.id(), ip.protocol()};
  auto [it, fresh] = datagrams_.try_emplace(key);
  Datagram& d = it->second;
  if (fresh) d.created_ms = now;

  // Where it goes: the neighbours by offset, to find overlaps.
  auto next = d.pieces.lower_bound(offset);
  if (next != d.pieces.end() && next->first == offset && next->second.size() == payload.size() &&
      std::equal(payload.begin(), payload.end(), next->second.begin())) {
    return drop(DropReason::kFragOverlap);  // an exact duplicate: this one only
  }
  bool overlap = next != d.pieces.end() && next->first < end;
  if (next != d.pieces.begin()) {
    auto prev = std::prev(next);
    overlap = overlap || prev->first + prev->second.size() > offset;
  }
  // A last fragment fixes the length: nothing may lie beyond it, and no second last may disagree.
  const bool bad_end =
      (!more &&
       ((d.end != 0 && d.end != end) ||
        (!d.pieces.empty() &&
         std::prev(d.pieces.end())->first + std::prev(d.pieces.end())->second.size() > end))) ||
      (more && d.end != 0 && end > d.end);
  if (overlap || bad_end) {
    const DropReason why = overlap ? DropReason::kFragOverlap : DropReason::kFragOversize;
    r.dropped.push_back({why, Discard(it)});
    return drop(why);
  }

  MakeRoom(payload.size(), key, r);
  if (bytes_held_ + payload.size() > options_.max_bytes) {
    // Too big to hold even alone: this datagram cannot be reassembled within the bounds.
    if (size_t n = Discard(datagrams_.find(key)); n > 0) {
      r.dropped.push_back({DropReason::kFragOverload, n});
    }
    return drop(DropReason::kFragOverload);
  }
  d.pieces.emplace(offset, std::vector<uint8_t>(payload.begin(), payload.end()));
  d.bytes += payload.size();
  bytes_held_ += payload.size();
  ++fragments_held_;
  if (offset == 0) d.header.assign(bytes.begin(), bytes.begin() + ip.header_length());
  if (!more) d.end = end;

  // Whole when the last fragment came, the first is here, and the pieces leave no hole.
  if (d.end == 0 || d.header.empty()) return r;
  uint32_t covered = 0;
  for (const auto& [off, data] : d.pieces) {
    if (off != covered) return r;
    covered += static_cast<uint32_t>(data.size());
  }
  if (covered != d.end) return r;

  r.fate = Fate::kComplete;
  r.fragments = d.pieces.size();
  r.datagram.reserve(d.header.size() + d.end);
  r.datagram = d.header;
  for (const auto& [off, data] : d.pieces)
    r.datagram.insert(r.datagram.end(), data.begin(), data.end());
  uint8_t* h = r.datagram.data();
  packet::Store16(&h[2], static_cast<uint16_t>(r.datagram.size()));
  packet::Store16(&h[6],
                  static_cast<uint16_t>(packet::Load16(&h[6]) & ~(kMoreFragments | kOffsetMask)));
  packet::Store16(&h[10], 0);
  packet::Store16(&h[10], packet::InternetChecksum(std::span<const uint8_t>(h, d.header.size())));
  Discard(it);
  return r;
}

std::vector<Reassembler::Dropped> Reassembler::Expire(int64_t now) {
  std::vector<Dropped> out;
  for (auto it = datagrams_.begin(); it != datagrams_.end();) {
    auto cur = it++;
    if (now - cur->second.created_ms >= options_.timeout_ms) {
      out.push_back({DropReason::kFragTimeout, Discard(cur)});
    }
  }
  return out;
}

}  // namespace mkn::nat
