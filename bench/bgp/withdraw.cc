// bench/bgp/withdraw — how long a stopped BGP speaker's pod CIDR stays routed elsewhere.
//
//   withdraw PID PREFIX NETNS...
//
// Opens a netlink socket in each named netns (/run/netns/NETNS) and checks that PREFIX is in its
// main table; then sends SIGSTOP to PID (a speaker: BIRD, frozen as a hung node would be) and
// reads every table every 200 us until PREFIX is gone from all of them, prints the milliseconds
// that took, sends SIGCONT, and prints how long until PREFIX is back everywhere. Deadline 10 s
// each way (exit 1). The timing loop is here, not in the bench script: a shell loop of `ip` runs
// would measure process creation (8-11 ms a run on the bench machine), not BGP.
#include <linux/rtnetlink.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "lib/net/ip.h"
#include "vnet/kernel/netlink.h"
#include "vnet/kernel/netns.h"

namespace {

using Clock = std::chrono::steady_clock;
using mkn::vnet::NlSocket;

bool Has(NlSocket& s, const mkn::net::Prefix& p) {
  absl::StatusOr<std::vector<mkn::vnet::RouteInfo>> routes = s.ListRoutes();
  if (!routes.ok()) {
    std::fprintf(stderr, "withdraw: %s\n", std::string(routes.status().message()).c_str());
    std::exit(1);
  }
  for (const mkn::vnet::RouteInfo& r : *routes) {
    if (r.table == RT_TABLE_MAIN && r.dst == p) return true;
  }
  return false;
}

// Milliseconds until every socket's table has (want = true) or lacks PREFIX; -1 past 10 s.
double Until(std::vector<NlSocket>& socks, const mkn::net::Prefix& p, bool want,
             Clock::time_point t0) {
  for (;;) {
    bool all = true;
    for (NlSocket& s : socks) all = all && Has(s, p) == want;
    const auto now = Clock::now();
    if (all) return std::chrono::duration<double, std::milli>(now - t0).count();
    if (now - t0 > std::chrono::seconds(10)) return -1;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: withdraw PID PREFIX NETNS...\n");
    return 2;
  }
  const pid_t pid = static_cast<pid_t>(std::atoi(argv[1]));
  std::optional<mkn::net::Prefix> prefix = mkn::net::Prefix::Parse(argv[2]);
  if (pid <= 0 || !prefix) {
    std::fprintf(stderr, "withdraw: bad PID or PREFIX\n");
    return 2;
  }
  std::vector<NlSocket> socks;
  for (int i = 3; i < argc; ++i) {
    absl::StatusOr<mkn::vnet::Fd> fd = mkn::vnet::OpenNetns(argv[i]);
    std::optional<NlSocket> sock;
    absl::Status st = fd.ok()
                          ? mkn::vnet::RunInNetns(fd->get(),
                                                  [&]() -> absl::Status {
                                                    absl::StatusOr<NlSocket> s = NlSocket::Open();
                                                    if (!s.ok()) return s.status();
                                                    sock.emplace(std::move(*s));
                                                    return absl::OkStatus();
                                                  })
                          : fd.status();
    if (!st.ok()) {
      std::fprintf(stderr, "withdraw: %s: %s\n", argv[i], std::string(st.message()).c_str());
      return 1;
    }
    socks.push_back(std::move(*sock));
  }
  for (NlSocket& s : socks) {
    if (!Has(s, *prefix)) {
      std::fprintf(stderr, "withdraw: %s is not routed everywhere to begin with\n", argv[2]);
      return 1;
    }
  }
  Clock::time_point t0 = Clock::now();
  if (::kill(pid, SIGSTOP) < 0) {
    std::perror("withdraw: SIGSTOP");
    return 1;
  }
  const double gone = Until(socks, *prefix, false, t0);
  t0 = Clock::now();
  ::kill(pid, SIGCONT);
  const double back = Until(socks, *prefix, true, t0);
  std::printf("withdrawn_ms %.1f back_ms %.1f\n", gone, back);
  return gone < 0 || back < 0 ? 1 : 0;
}
