#include "vnet/bgp/converge.h"

#include <linux/rtnetlink.h>

#include <optional>
#include <set>
#include <thread>

#include "absl/strings/str_join.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/netlink.h"
#include "vnet/kernel/netns.h"

namespace mkn::vnet {

absl::Status WaitForRoutes(const std::vector<RoutesWanted>& nodes,
                           std::chrono::milliseconds timeout,
                           const std::function<absl::Status()>& check) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::optional<NlSocket>> socks(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    MKN_RETURN_IF_ERROR(RunInNetns(nodes[i].netns_fd, [&]() -> absl::Status {
      MKN_ASSIGN_OR_RETURN(NlSocket s, NlSocket::Open());
      socks[i].emplace(std::move(s));
      return absl::OkStatus();
    }));
  }
  std::vector<bool> done(nodes.size(), false);
  std::vector<std::string> missing;
  for (;;) {
    missing.clear();
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (done[i]) continue;
      MKN_ASSIGN_OR_RETURN(std::vector<RouteInfo> routes, socks[i]->ListRoutes());
      std::set<net::Prefix> have;
      for (const RouteInfo& r : routes) {
        if (r.table == RT_TABLE_MAIN) have.insert(r.dst);
      }
      std::vector<std::string> lack;
      for (const net::Prefix& p : nodes[i].prefixes) {
        if (!have.count(p)) lack.push_back(p.ToString());
      }
      if (lack.empty()) {
        done[i] = true;
      } else {
        missing.push_back(StrCat(nodes[i].node, " has no route to ", absl::StrJoin(lack, ", ")));
      }
    }
    if (missing.empty()) return absl::OkStatus();
    MKN_RETURN_IF_ERROR(check());
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(StrCat("the BGP speakers did not converge within ",
                                                timeout.count(),
                                                " ms: ", absl::StrJoin(missing, "; ")));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace mkn::vnet
