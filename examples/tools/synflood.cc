// mkn-synflood — a bounded spoofed-SYN flood, for the e2e tests of the userspace NAT's full-table
// defence (examples/services/e2e_test.sh, check_syn_flood). Run it inside a pod's network
// namespace:
//
//   ip netns exec mkn-LAB-client mkn-synflood DST_IP DST_PORT COUNT [SECONDS [SPOOF_CIDR [RATE]]]
//
// Sends COUNT TCP SYNs to DST_IP:DST_PORT, each from the next source port (1024..65535, round and
// round) with a random sequence number, crafted with libtins (the design card's packet library) and
// sent on a raw IP socket, as a SYN-flood tool would. The source address is the namespace's own
// address on eth0, or with SPOOF_CIDR (e.g. 198.18.0.0/15, RFC 2544's benchmarking range, which no
// lab uses) a random address in that prefix for each packet: more distinct flows than one address
// has ports, and answers that go nowhere. RATE (packets per second, default unlimited) paces the
// sending, so the flood reaches the NAT instead of overflowing the TUN's queue on the way. Stops
// after COUNT packets or SECONDS (default 30), whichever comes first, and prints how many it sent.
// Exit status: 0 all sent, 1 stopped early or a send failed, 2 usage.
#include <tins/endianness.h>
#include <tins/ip.h>
#include <tins/network_interface.h>
#include <tins/packet_sender.h>
#include <tins/tcp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  if (argc < 4 || argc > 7) {
    std::fprintf(stderr,
                 "usage: mkn-synflood DST_IP DST_PORT COUNT [SECONDS [SPOOF_CIDR [RATE]]]\n");
    return 2;
  }
  const std::string dst = argv[1];
  const int port = std::atoi(argv[2]);
  const long count = std::atol(argv[3]);
  const int seconds = argc >= 5 ? std::atoi(argv[4]) : 30;
  const long rate = argc == 7 ? std::atol(argv[6]) : 0;
  if (rate < 0) {
    std::fprintf(stderr, "mkn-synflood: bad RATE\n");
    return 2;
  }
  uint32_t spoof_base = 0, spoof_size = 0;  // host order; size 0: no spoofing
  if (argc >= 6 && std::string(argv[5]) != "-") {
    const std::string cidr = argv[5];
    const size_t slash = cidr.find('/');
    const int len = slash == std::string::npos ? -1 : std::atoi(cidr.c_str() + slash + 1);
    if (len < 8 || len > 32) {
      std::fprintf(stderr, "mkn-synflood: SPOOF_CIDR must be ADDR/LEN with LEN 8..32\n");
      return 2;
    }
    spoof_size = len == 32 ? 1 : (1u << (32 - len));
    spoof_base =
        Tins::Endian::be_to_host(static_cast<uint32_t>(Tins::IPv4Address(cidr.substr(0, slash)))) &
        ~(spoof_size - 1);
  }
  if (port <= 0 || port > 65535 || count <= 0 || count > 10'000'000 || seconds <= 0) {
    std::fprintf(stderr, "mkn-synflood: bad DST_PORT, COUNT (1..10000000) or SECONDS\n");
    return 2;
  }
  try {
    Tins::NetworkInterface eth0("eth0");
    const Tins::IPv4Address src = eth0.ipv4_address();
    Tins::PacketSender sender;
    std::mt19937 rng(std::random_device{}());
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::seconds(seconds);
    long sent = 0;
    for (; sent < count; ++sent) {
      if ((sent & 255) == 0) {
        if (std::chrono::steady_clock::now() > deadline) break;
        if (rate > 0) {  // pace: packet `sent` is due at start + sent / rate
          std::this_thread::sleep_until(start + std::chrono::microseconds(sent * 1'000'000 / rate));
        }
      }
      Tins::TCP tcp(static_cast<uint16_t>(port), static_cast<uint16_t>(1024 + sent % 64512));
      tcp.set_flag(Tins::TCP::SYN, 1);
      tcp.seq(static_cast<uint32_t>(rng()));
      tcp.window(64240);
      const Tins::IPv4Address from =
          spoof_size == 0 ? src
                          : Tins::IPv4Address(Tins::Endian::host_to_be(
                                static_cast<uint32_t>(spoof_base + rng() % spoof_size)));
      Tins::IP ip = Tins::IP(Tins::IPv4Address(dst), from) / tcp;
      sender.send(ip);
    }
    std::printf("sent %ld SYNs to %s:%d from %s\n", sent, dst.c_str(), port,
                spoof_size == 0 ? src.to_string().c_str() : argv[5]);
    return sent == count ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mkn-synflood: %s\n", e.what());
    return 1;
  }
}
