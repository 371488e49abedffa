// lib/proxy/nft_listing — what `nft list table` prints, made comparable: is the table in a node
// the one a full sync would write?
//
// After many deltas the kernel's table should hold exactly what a full sync of the same spec
// writes. The two listings differ in what does not matter: element order (hash sets list in hash
// order, which depends on each table's history), counter values, the data path's own entries in
// dynamic sets (affinity), rule handles. NormalizeNftListing() drops exactly those: one line per
// declaration line, rule (numbered within its chain, so order counts) and element, counters as
// "counter", sorted. Pure: the text of `nft list table ip kube-proxy`, nftables 1.0.x's format.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mkn::proxy {

// "chain services: #1 ip daddr . meta l4proto . th dport vmap @service-ips",
// "map service-ips: element 10.96.0.10 . tcp . 80 counter comment \"default/web:80\" : goto ...",
// "set pick-random-3: type ipv4_addr . inet_proto . inet_service", ... sorted.
std::vector<std::string> NormalizeNftListing(std::string_view listing);

// The lines only `have` has ("- ...") and those only `want` has ("+ ..."), in sorted order of the
// lines themselves: what a node's table lacks (+) and holds too many (-) against a full sync. Both
// inputs as NormalizeNftListing() returns them. Empty when the tables are the same.
std::vector<std::string> NftListingDiff(const std::vector<std::string>& have,
                                        const std::vector<std::string>& want);

}  // namespace mkn::proxy
