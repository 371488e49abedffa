// lib/nat/fuzz_driver — frames for the randomized NAT test and the libFuzzer target.
//
// Keeps a Nat over the test cluster (lib/nat/testing.h) with a small conntrack (so eviction
// happens) and remembers recently forwarded frames, so that it can produce not only new flows but
// also replies and ICMP errors that hit existing flows — the paths plain random bytes would almost
// never reach — and then mutates them: bit flips, truncation, extension, random length fields, pure
// garbage. Header-only; test and fuzz code only.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <vector>

#include "lib/nat/nat.h"
#include "lib/nat/testing.h"
#include "lib/packet/checksum.h"
#include "lib/packet/packet.h"
#include "lib/packet/packet_builder.h"
#include "lib/packet/testing.h"

namespace mkn::nat {

class FuzzDriver {
 public:
  static constexpr uint32_t kProxy = 0x0a60fffe;  // 10.96.255.254
  static constexpr uint32_t kNode = 0xac120002;   // 172.18.0.2

  explicit FuzzDriver(uint64_t seed) {
    NatOptions o;
    o.proxy_ip = net::Ipv4{kProxy};
    o.node_ips = {net::Ipv4{kNode}};
    o.max_flows = 256;
    o.seed = seed;
    auto algorithm = static_cast<config::Algorithm>(seed % 4);
    nat_ =
        std::move(*Nat::Create(*ServiceTable::Build(testing::TestCluster(algorithm, seed % 2)), o));
  }

  struct Outcome {
    Verdict verdict;
    bool input_checksums_ok = false;
  };

  // Processes one frame (rewritten in place) at a slowly advancing clock.
  Outcome Feed(std::vector<uint8_t>& frame) {
    Outcome out;
    out.input_checksums_ok = packet::testing::ChecksumErrors(frame).empty();
    now_ += 1 + (frame.empty() ? 0 : frame[0] % 4);
    if (frame.size() % 97 == 0) nat_->Expire(now_);
    out.verdict = nat_->Process(frame, now_);
    if (out.verdict.action == Verdict::Action::kForward && frame.size() >= 28) {
      recent_.push_back(frame);
      if (recent_.size() > 64) recent_.pop_front();
    }
    return out;
  }

  std::vector<uint8_t> NextFrame(std::mt19937_64& rng) {
    std::vector<uint8_t> f;
    switch (rng() % 8) {
      case 0:
      case 1:
        f = NewFlow(rng);
        break;
      case 2:
      case 3:
        f = Reply(rng);
        break;
      case 4:
        f = IcmpError(rng);
        break;
      case 5: {
        f.resize(rng() % 80);
        for (auto& b : f) b = static_cast<uint8_t>(rng());
        if (!f.empty() && rng() % 2) f[0] = 0x45;
        break;
      }
      default:
        f = Mutate(rng() % 2 ? NewFlow(rng) : Reply(rng), rng);
        break;
    }
    return f;
  }

  Nat& nat() { return *nat_; }

 private:
  std::vector<uint8_t> NewFlow(std::mt19937_64& rng) {
    static const uint32_t kVips[] = {0x0a60000a, 0x0a600035, 0x0a600063, kNode, 0x0a60000b};
    static const uint16_t kPorts[] = {80, 53, 81, 30080, 443};
    net::Ipv4 client{0x0af40100u + static_cast<uint32_t>(rng() % 8)};
    uint16_t sport = static_cast<uint16_t>(rng() % 2 ? 40000 + rng() % 64 : rng());
    net::Ipv4 vip{kVips[rng() % 5]};
    uint16_t port = kPorts[rng() % 5];
    if (rng() % 2) {
      uint8_t flags = rng() % 4 ? packet::kTcpSyn : static_cast<uint8_t>(rng());
      return packet::PacketBuilder::Tcp(client, sport, vip, port)
          .Flags(flags)
          .Seq(rng())
          .Payload(std::string(rng() % 40, 'p'))
          .Build();
    }
    auto b =
        packet::PacketBuilder::Udp(client, sport, vip, port).Payload(std::string(rng() % 40, 'u'));
    if (rng() % 8 == 0) b.NoUdpChecksum();
    return b.Build();
  }

  // A packet coming back for a recently forwarded one: addresses and ports swapped.
  std::vector<uint8_t> Reply(std::mt19937_64& rng) {
    if (recent_.empty()) return NewFlow(rng);
    const std::vector<uint8_t>& r = recent_[rng() % recent_.size()];
    auto ip = packet::Ipv4View::Parse(std::span<uint8_t>(const_cast<uint8_t*>(r.data()), r.size()));
    if (!ip.ok() || ip->payload().size() < 8) return NewFlow(rng);
    uint16_t sport = packet::Load16(&ip->payload()[0]), dport = packet::Load16(&ip->payload()[2]);
    if (ip->protocol() == packet::kProtoTcp) {
      static const uint8_t kFlags[] = {packet::kTcpSyn | packet::kTcpAck, packet::kTcpAck,
                                       packet::kTcpFin | packet::kTcpAck, packet::kTcpRst};
      // Sometimes the same direction again (retransmission, next segment of the client).
      if (rng() % 3 == 0) {
        return packet::PacketBuilder::Tcp(ip->src(), sport, ip->dst(), dport)
            .Flags(kFlags[rng() % 4])
            .Build();
      }
      return packet::PacketBuilder::Tcp(ip->dst(), dport, ip->src(), sport)
          .Flags(kFlags[rng() % 4])
          .Payload(std::string(rng() % 20, 'r'))
          .Build();
    }
    if (ip->protocol() == packet::kProtoUdp) {
      return packet::PacketBuilder::Udp(ip->dst(), dport, ip->src(), sport)
          .Payload(std::string(rng() % 20, 'r'))
          .Build();
    }
    return NewFlow(rng);
  }

  std::vector<uint8_t> IcmpError(std::mt19937_64& rng) {
    if (recent_.empty()) return NewFlow(rng);
    const std::vector<uint8_t>& r = recent_[rng() % recent_.size()];
    auto ip = packet::Ipv4View::Parse(std::span<uint8_t>(const_cast<uint8_t*>(r.data()), r.size()));
    if (!ip.ok()) return NewFlow(rng);
    static const uint8_t kTypes[][2] = {{3, 3}, {3, 4}, {11, 0}, {12, 0}, {3, 1}};
    const auto& t = kTypes[rng() % 5];
    net::Ipv4 from = rng() % 2 ? ip->dst() : net::Ipv4{0x0af40101};
    return packet::PacketBuilder::IcmpError(from, ip->src(), t[0], t[1], r)
        .QuoteLength(28 + rng() % 60)
        .RestOfHeader(1400)
        .Build();
  }

  static std::vector<uint8_t> Mutate(std::vector<uint8_t> f, std::mt19937_64& rng) {
    switch (rng() % 5) {
      case 0:  // flip bits
        for (int n = 1 + rng() % 3; n > 0 && !f.empty(); --n)
          f[rng() % f.size()] ^= 1 << (rng() % 8);
        break;
      case 1:  // truncate
        f.resize(f.empty() ? 0 : rng() % f.size());
        break;
      case 2:  // extend with junk (link padding)
        for (int n = rng() % 30; n > 0; --n) f.push_back(static_cast<uint8_t>(rng()));
        break;
      case 3:  // a random IHL / data offset / length, header checksum made valid again
        if (f.size() >= 34) {
          size_t at = std::array<size_t, 4>{0, 2, 32, 24}[rng() % 4];
          f[at] = static_cast<uint8_t>(rng());
          packet::Store16(&f[10], 0);
          packet::Store16(&f[10], packet::InternetChecksum(std::span<const uint8_t>(f).first(20)));
        }
        break;
      default:  // a random byte of the IP header, checksum made valid again
        if (f.size() >= 20) {
          f[rng() % 20] = static_cast<uint8_t>(rng());
          packet::Store16(&f[10], 0);
          packet::Store16(&f[10], packet::InternetChecksum(std::span<const uint8_t>(f).first(20)));
        }
        break;
    }
    return f;
  }

  std::unique_ptr<Nat> nat_;
  std::deque<std::vector<uint8_t>> recent_;
  int64_t now_ = 0;
};

}  // namespace mkn::nat
