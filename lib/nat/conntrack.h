// lib/nat/conntrack — the NAT's connection table: one entry per flow, found from either direction.
//
// Modelled on nf_conntrack. A Flow holds two tuples: `original`, as the client sent it (C:c ->
// VIP:v), and `reply`, as the endpoint answers (E:t -> P:p, P the node's proxy address). Both are
// keys of one hash map, so Find() of either direction is one probe. TCP state follows the handshake
// and teardown (SYN, SYN-ACK, ACK; FIN each way; RST) with a timeout per state; UDP flows are
// "unreplied" until the endpoint answers and then live longer, as nf_conntrack's udp_timeout /
// udp_timeout_stream do. The timeouts are shorter than the kernel's (a lab is not a data centre: an
// idle established flow is forgotten after an hour, not five days); they are the constants below.
//
// The table is bounded, and a full table is defended as nf_conntrack's early_drop does: a flow is
// *assured* once traffic went both ways and the connection is up (a replied UDP flow; TCP from
// ESTABLISHED until its FINs are done), and an assured flow is never pushed out before its timeout.
// Inserting into a full table first looks at the kEvictionScan least recently used flows of each
// kind for one that has already expired; else it evicts an unassured (embryonic, unreplied or
// finished) flow: the oldest of the inserting client's own when that client holds its fair share or
// more (max(capacity / kSourceShareDivisor, 1) unassured flows), else the oldest of anyone's. With
// no unassured flow left the new flow is refused (Insert returns null) and counted: a spoofed-SYN
// flood from one pod churns its own half-open flows and can neither evict an established
// connection nor starve another client's handshake. Expiry is lazy (Find() removes an expired flow
// it hits) plus Expire(now), which the pump calls about once a second. Time is a caller-supplied
// `now` in milliseconds: deterministic.
//
// Not thread-safe: one NAT, one pump thread.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "lib/net/ip.h"

namespace mkn::nat {

struct Tuple {
  net::Ipv4 src, dst;
  uint16_t src_port = 0, dst_port = 0;
  uint8_t protocol = 0;  // packet::kProtoTcp / kProtoUdp

  Tuple Inverted() const { return Tuple{dst, src, dst_port, src_port, protocol}; }
  bool operator==(const Tuple&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const Tuple& t) {
    return H::combine(std::move(h), t.src.value, t.dst.value, t.src_port, t.dst_port, t.protocol);
  }
};
// "tcp 10.244.1.2:40000 -> 10.96.0.10:80"
std::string ToString(const Tuple& t);

enum class FlowState : uint8_t {
  kUdpUnreplied,
  kUdpReplied,
  kSynSent,      // client's SYN seen
  kSynRecv,      // endpoint's SYN-ACK seen
  kEstablished,  // client's ACK of the SYN-ACK seen
  kFinWait,      // one side sent FIN
  kLastAck,      // both sides sent FIN; waiting for the last ACK
  kTimeWait,     // last FIN acknowledged
  kClose,        // RST seen
};
inline constexpr int kFlowStateCount = 9;
std::string_view ToString(FlowState s);

// Per-state idle timeouts, ms. nf_conntrack's defaults in comments.
inline constexpr int64_t kTcpSynSentTimeoutMs = 30'000;         // 120 s
inline constexpr int64_t kTcpSynRecvTimeoutMs = 30'000;         // 60 s
inline constexpr int64_t kTcpEstablishedTimeoutMs = 3'600'000;  // 5 days
inline constexpr int64_t kTcpFinWaitTimeoutMs = 30'000;         // 120 s
inline constexpr int64_t kTcpLastAckTimeoutMs = 30'000;         // 30 s
inline constexpr int64_t kTcpTimeWaitTimeoutMs = 30'000;        // 120 s
inline constexpr int64_t kTcpCloseTimeoutMs = 10'000;           // 10 s
inline constexpr int64_t kUdpUnrepliedTimeoutMs = 30'000;       // 30 s
inline constexpr int64_t kUdpRepliedTimeoutMs = 120'000;        // 120 s
int64_t TimeoutMs(FlowState s);

inline constexpr size_t kDefaultMaxFlows = 65536;
inline constexpr size_t kEvictionScan = 8;
// A client holding capacity / kSourceShareDivisor unassured flows or more evicts its own first.
inline constexpr size_t kSourceShareDivisor = 8;

enum class Direction : uint8_t { kOriginal, kReply };

// For IPVS-style least-connection: an established TCP flow (or any UDP flow) is active, any other
// live TCP flow inactive (IPVS ip_vs_dest activeconns / inactconns).
enum class FlowClass : uint8_t { kNone, kActive, kInactive };

struct Flow {
  Tuple original;  // C:c -> VIP:v as received
  Tuple reply;     // E:t -> P:p as received
  int service_port_id = -1;
  FlowState state = FlowState::kUdpUnreplied;
  bool fin_seen[2] = {false, false};
  Direction last_fin = Direction::kOriginal;
  int64_t created_ms = 0;
  int64_t last_seen_ms = 0;
  int64_t expires_ms = 0;
  uint64_t packets[2] = {0, 0};
  uint64_t bytes[2] = {0, 0};
  uint32_t slot = 0;  // the table's own index; a Flow* stays valid until the flow is removed

  net::Ipv4 endpoint_ip() const { return reply.src; }
  uint16_t endpoint_port() const { return reply.src_port; }
  FlowClass Class() const;
  // Traffic went both ways and the connection is up: never evicted before its timeout.
  bool Assured() const;
};

class Conntrack {
 public:
  struct Counters {
    uint64_t entries = 0;
    uint64_t inserts = 0;
    uint64_t evictions = 0;    // live unassured flows pushed out by a full table (early drop)
    uint64_t refused = 0;      // new flows refused: the table was full of assured flows
    uint64_t expirations = 0;  // flows removed after their timeout
    uint64_t flushed = 0;      // flows removed by FlushEndpoint / Remove
    std::array<uint64_t, kFlowStateCount> by_state{};  // live flows per state
  };
  // Called when a flow's FlowClass changes (insert: kNone -> c, removal: c -> kNone).
  using Observer = std::function<void(const Flow&, FlowClass before, FlowClass after)>;

  explicit Conntrack(size_t max_flows = kDefaultMaxFlows);

  struct Match {
    Flow* flow;
    Direction direction;  // which tuple `t` equals
  };
  // The flow whose original or reply tuple equals `t`. An expired flow is removed and not returned.
  std::optional<Match> Find(const Tuple& t, int64_t now);
  // True if `t` is a key of a live or not-yet-collected flow (for choosing a free SNAT port).
  bool Contains(const Tuple& t) const { return index_.contains(t); }

  // Adds a flow in its initial state (kSynSent for TCP, kUdpUnreplied for UDP) and accounts the
  // first packet. Both tuples must be free (Contains() false). May evict an unassured flow; returns
  // null (and counts it in `refused`) if the table is full of assured flows (see the banner).
  Flow* Insert(const Tuple& original, const Tuple& reply, int service_port_id, size_t bytes,
               int64_t now);
  // Accounts a packet of an existing flow: state transition, timers, LRU position.
  void Track(Flow* flow, Direction dir, uint8_t tcp_flags, size_t bytes, int64_t now);
  void Remove(Flow* flow);

  // Removes every flow to endpoint ip (and port, unless 0; and of that service port, unless -1):
  // the pod died or left the service. Returns how many. O(flows).
  size_t FlushEndpoint(net::Ipv4 ip, uint16_t port = 0, int service_port_id = -1);
  // Removes every expired flow. O(flows). Returns how many.
  size_t Expire(int64_t now);

  // Every live flow, most recently used first within each kind (unassured, then assured).
  void ForEach(const std::function<void(const Flow&)>& fn) const;
  const Counters& counters() const { return counters_; }
  size_t size() const { return counters_.entries; }
  size_t capacity() const { return max_flows_; }
  // Unassured flows of one client (original source address): what the fair share is measured in.
  size_t unassured_of(net::Ipv4 src) const;
  void set_observer(Observer o) { observer_ = std::move(o); }

 private:
  static constexpr uint32_t kNil = UINT32_MAX;
  // An intrusive doubly linked list of slots, head = most recently used.
  struct List {
    uint32_t head = kNil, tail = kNil;
    size_t size = 0;
  };
  struct Slot {
    Flow flow;
    uint32_t prev = kNil, next = kNil;    // in lru_[assured]
    uint32_t sprev = kNil, snext = kNil;  // in its client's list, while unassured
    bool used = false;
    bool assured = false;  // which LRU list it is on
  };
  using ListField = uint32_t Slot::*;

  void ListUnlink(List& l, uint32_t i, ListField prev, ListField next);
  void ListPushFront(List& l, uint32_t i, ListField prev, ListField next);
  // Takes a slot off its lists / puts it at the front of the lists its flow now belongs on.
  void Unlink(uint32_t i);
  void Link(uint32_t i);
  void Erase(uint32_t i);
  void SetState(Flow& f, FlowState s);
  void Notify(const Flow& f, FlowClass before, FlowClass after);
  // Makes room in a full table for a flow of `src`; false if every live flow is assured.
  bool MakeRoom(net::Ipv4 src, int64_t now);

  size_t max_flows_;
  std::deque<Slot> slots_;  // a deque: growing it never moves a Flow
  std::vector<uint32_t> free_;
  List lru_[2];                                    // [0] unassured, [1] assured
  absl::flat_hash_map<uint32_t, List> by_source_;  // unassured flows per client address
  // value: slot << 1 | direction
  absl::flat_hash_map<Tuple, uint32_t> index_;
  Counters counters_;
  Observer observer_;
};

}  // namespace mkn::nat
