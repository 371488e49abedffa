#include "lib/nat/conntrack.h"

#include <algorithm>

#include "lib/strings/str_cat.h"

namespace mkn::nat {
namespace {

constexpr uint8_t kTcp = 6;
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;

int Dir(Direction d) { return d == Direction::kOriginal ? 0 : 1; }

}  // namespace

std::string ToString(const Tuple& t) {
  return StrCat(
      t.protocol == kTcp ? "tcp "
      : t.protocol == 17 ? "udp "
                         : "proto ",
      t.protocol == kTcp || t.protocol == 17 ? std::string() : StrCat(int{t.protocol}, " "),
      t.src.ToString(), ":", int{t.src_port}, " -> ", t.dst.ToString(), ":", int{t.dst_port});
}

std::string_view ToString(FlowState s) {
  switch (s) {
    case FlowState::kUdpUnreplied:
      return "UNREPLIED";
    case FlowState::kUdpReplied:
      return "REPLIED";
    case FlowState::kSynSent:
      return "SYN_SENT";
    case FlowState::kSynRecv:
      return "SYN_RECV";
    case FlowState::kEstablished:
      return "ESTABLISHED";
    case FlowState::kFinWait:
      return "FIN_WAIT";
    case FlowState::kLastAck:
      return "LAST_ACK";
    case FlowState::kTimeWait:
      return "TIME_WAIT";
    case FlowState::kClose:
      return "CLOSE";
  }
  return "?";
}

int64_t TimeoutMs(FlowState s) {
  switch (s) {
    case FlowState::kUdpUnreplied:
      return kUdpUnrepliedTimeoutMs;
    case FlowState::kUdpReplied:
      return kUdpRepliedTimeoutMs;
    case FlowState::kSynSent:
      return kTcpSynSentTimeoutMs;
    case FlowState::kSynRecv:
      return kTcpSynRecvTimeoutMs;
    case FlowState::kEstablished:
      return kTcpEstablishedTimeoutMs;
    case FlowState::kFinWait:
      return kTcpFinWaitTimeoutMs;
    case FlowState::kLastAck:
      return kTcpLastAckTimeoutMs;
    case FlowState::kTimeWait:
      return kTcpTimeWaitTimeoutMs;
    case FlowState::kClose:
      return kTcpCloseTimeoutMs;
  }
  return kTcpCloseTimeoutMs;
}

FlowClass Flow::Class() const {
  if (original.protocol != kTcp || state == FlowState::kEstablished) return FlowClass::kActive;
  return FlowClass::kInactive;
}

bool Flow::Assured() const {
  switch (state) {
    case FlowState::kUdpReplied:
    case FlowState::kEstablished:
    case FlowState::kFinWait:
    case FlowState::kLastAck:
      return true;
    default:
      return false;
  }
}

Conntrack::Conntrack(size_t max_flows) : max_flows_(max_flows == 0 ? 1 : max_flows) {
  index_.reserve(2 * std::min<size_t>(max_flows_, 4096));
}

void Conntrack::ListUnlink(List& l, uint32_t i, ListField prev, ListField next) {
  Slot& s = slots_[i];
  if (s.*prev != kNil) {
    slots_[s.*prev].*next = s.*next;
  } else {
    l.head = s.*next;
  }
  if (s.*next != kNil) {
    slots_[s.*next].*prev = s.*prev;
  } else {
    l.tail = s.*prev;
  }
  s.*prev = s.*next = kNil;
  --l.size;
}

void Conntrack::ListPushFront(List& l, uint32_t i, ListField prev, ListField next) {
  Slot& s = slots_[i];
  s.*prev = kNil;
  s.*next = l.head;
  if (l.head != kNil) slots_[l.head].*prev = i;
  l.head = i;
  if (l.tail == kNil) l.tail = i;
  ++l.size;
}

void Conntrack::Unlink(uint32_t i) {
  Slot& s = slots_[i];
  ListUnlink(lru_[s.assured], i, &Slot::prev, &Slot::next);
  if (s.assured) return;
  auto it = by_source_.find(s.flow.original.src.value);
  ListUnlink(it->second, i, &Slot::sprev, &Slot::snext);
  if (it->second.size == 0) by_source_.erase(it);
}

void Conntrack::Link(uint32_t i) {
  Slot& s = slots_[i];
  s.assured = s.flow.Assured();
  ListPushFront(lru_[s.assured], i, &Slot::prev, &Slot::next);
  if (!s.assured) {
    ListPushFront(by_source_[s.flow.original.src.value], i, &Slot::sprev, &Slot::snext);
  }
}

size_t Conntrack::unassured_of(net::Ipv4 src) const {
  auto it = by_source_.find(src.value);
  return it == by_source_.end() ? 0 : it->second.size;
}

void Conntrack::Notify(const Flow& f, FlowClass before, FlowClass after) {
  if (before != after && observer_) observer_(f, before, after);
}

void Conntrack::Erase(uint32_t i) {
  Slot& s = slots_[i];
  Notify(s.flow, s.flow.Class(), FlowClass::kNone);
  index_.erase(s.flow.original);
  index_.erase(s.flow.reply);
  --counters_.by_state[static_cast<int>(s.flow.state)];
  --counters_.entries;
  Unlink(i);
  s.used = false;
  free_.push_back(i);
}

void Conntrack::SetState(Flow& f, FlowState s) {
  if (f.state == s) return;
  FlowClass before = f.Class();
  --counters_.by_state[static_cast<int>(f.state)];
  ++counters_.by_state[static_cast<int>(s)];
  f.state = s;
  Notify(f, before, f.Class());
}

std::optional<Conntrack::Match> Conntrack::Find(const Tuple& t, int64_t now) {
  auto it = index_.find(t);
  if (it == index_.end()) return std::nullopt;
  uint32_t i = it->second >> 1;
  Direction dir = (it->second & 1) ? Direction::kReply : Direction::kOriginal;
  if (slots_[i].flow.expires_ms <= now) {
    Erase(i);
    ++counters_.expirations;
    return std::nullopt;
  }
  return Match{&slots_[i].flow, dir};
}

bool Conntrack::MakeRoom(net::Ipv4 src, int64_t now) {
  // A flow that is already dead goes first, of either kind.
  for (const List& l : lru_) {
    uint32_t i = l.tail;
    for (size_t n = 0; n < kEvictionScan && i != kNil; ++n, i = slots_[i].prev) {
      if (slots_[i].flow.expires_ms <= now) {
        Erase(i);
        ++counters_.expirations;
        return true;
      }
    }
  }
  // Then an unassured flow: the client's own oldest once it holds its fair share, else the oldest.
  const size_t share = std::max<size_t>(max_flows_ / kSourceShareDivisor, 1);
  uint32_t victim = lru_[0].tail;
  if (auto it = by_source_.find(src.value); it != by_source_.end() && it->second.size >= share) {
    victim = it->second.tail;
  }
  if (victim == kNil) return false;  // every live flow is assured
  Erase(victim);
  ++counters_.evictions;
  return true;
}

Flow* Conntrack::Insert(const Tuple& original, const Tuple& reply, int service_port_id,
                        size_t bytes, int64_t now) {
  if (counters_.entries >= max_flows_ && !MakeRoom(original.src, now)) {
    ++counters_.refused;
    return nullptr;
  }
  uint32_t i;
  if (!free_.empty()) {
    i = free_.back();
    free_.pop_back();
  } else {
    i = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[i];
  s.used = true;
  Flow& f = s.flow;
  f = Flow{};
  f.original = original;
  f.reply = reply;
  f.service_port_id = service_port_id;
  f.slot = i;
  f.state = original.protocol == kTcp ? FlowState::kSynSent : FlowState::kUdpUnreplied;
  f.created_ms = f.last_seen_ms = now;
  f.expires_ms = now + TimeoutMs(f.state);
  f.packets[0] = 1;
  f.bytes[0] = bytes;
  index_[original] = i << 1;
  index_[reply] = (i << 1) | 1;
  Link(i);
  ++counters_.entries;
  ++counters_.inserts;
  ++counters_.by_state[static_cast<int>(f.state)];
  Notify(f, FlowClass::kNone, f.Class());
  return &f;
}

void Conntrack::Track(Flow* flow, Direction dir, uint8_t flags, size_t bytes, int64_t now) {
  Flow& f = *flow;
  ++f.packets[Dir(dir)];
  f.bytes[Dir(dir)] += bytes;
  f.last_seen_ms = now;
  const uint32_t i = flow->slot;
  Unlink(i);

  if (f.original.protocol != kTcp) {
    if (dir == Direction::kReply) SetState(f, FlowState::kUdpReplied);
  } else if (flags & kRst) {
    SetState(f, FlowState::kClose);
  } else {
    switch (f.state) {
      case FlowState::kSynSent:
        if (dir == Direction::kReply && (flags & kSyn) && (flags & kAck)) {
          SetState(f, FlowState::kSynRecv);
        }
        break;
      case FlowState::kSynRecv:
        if (dir == Direction::kOriginal && (flags & kAck) && !(flags & kSyn)) {
          SetState(f, FlowState::kEstablished);
        }
        break;
      default:
        break;
    }
    // A FIN counts from SYN_RECV on (data and FIN may ride on the handshake's last ACK).
    if ((flags & kFin) && f.state >= FlowState::kEstablished && f.state <= FlowState::kLastAck) {
      if (!f.fin_seen[Dir(dir)]) {
        f.fin_seen[Dir(dir)] = true;
        f.last_fin = dir;
      }
      SetState(f, f.fin_seen[0] && f.fin_seen[1] ? FlowState::kLastAck : FlowState::kFinWait);
    } else if (f.state == FlowState::kLastAck && (flags & kAck) && dir != f.last_fin) {
      SetState(f, FlowState::kTimeWait);  // the last FIN is acknowledged
    }
  }
  f.expires_ms = now + TimeoutMs(f.state);
  Link(i);  // on the list of its kind now (a handshake that completed becomes assured)
}

void Conntrack::Remove(Flow* flow) {
  Erase(flow->slot);
  ++counters_.flushed;
}

size_t Conntrack::FlushEndpoint(net::Ipv4 ip, uint16_t port, int service_port_id) {
  size_t n = 0;
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    const Flow& f = slots_[i].flow;
    if (slots_[i].used && f.endpoint_ip() == ip && (port == 0 || f.endpoint_port() == port) &&
        (service_port_id < 0 || f.service_port_id == service_port_id)) {
      Erase(i);
      ++n;
    }
  }
  counters_.flushed += n;
  return n;
}

size_t Conntrack::Expire(int64_t now) {
  size_t n = 0;
  for (uint32_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].used && slots_[i].flow.expires_ms <= now) {
      Erase(i);
      ++n;
    }
  }
  counters_.expirations += n;
  return n;
}

void Conntrack::ForEach(const std::function<void(const Flow&)>& fn) const {
  for (const List& l : lru_) {
    for (uint32_t i = l.head; i != kNil; i = slots_[i].next) fn(slots_[i].flow);
  }
}

}  // namespace mkn::nat
