#include "lib/proxy/nft_listing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace mkn::proxy {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;

// As nftables 1.0.6 lists a table (trimmed from a node of examples/services in nftables mode).
constexpr char kListing[] = R"(table ip kube-proxy {
	comment "rules for kube-proxy"
	set cluster-ips {
		type ipv4_addr
		comment "Active ClusterIPs"
		elements = { 10.96.0.10, 10.96.0.11 }
	}

	map service-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
		counter
		comment "ClusterIP traffic"
		elements = { 10.96.0.10 . tcp . 80 counter packets 12 bytes 720 comment "default/web:80" : goto service-AAAA-default/web/tcp/80,
			     10.96.0.11 . tcp . 80 counter packets 0 bytes 0 comment "default/a, b:80" : goto pick-random }
	}

	set affinity-X {
		type ipv4_addr
		size 65535
		flags dynamic,timeout
		timeout 10m
		elements = { 10.244.0.2 expires 9m58s }
	}

	chain pick-random {
		ip daddr . meta l4proto . th dport @pick-random-2 ct mark set numgen random mod 2 offset 1
	}

	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump services
		counter packets 3 bytes 180 jump endpoints
	}
}
)";

// The same table another history left: elements in another order, other counts, an affinity set
// the data path filled differently.
constexpr char kSameTable[] = R"(table ip kube-proxy {
	comment "rules for kube-proxy"
	set cluster-ips {
		type ipv4_addr
		comment "Active ClusterIPs"
		elements = { 10.96.0.11,
			     10.96.0.10 }
	}

	map service-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
		counter
		comment "ClusterIP traffic"
		elements = { 10.96.0.11 . tcp . 80 counter packets 5 bytes 300 comment "default/a, b:80" : goto pick-random,
			     10.96.0.10 . tcp . 80 counter packets 0 bytes 0 comment "default/web:80" : goto service-AAAA-default/web/tcp/80 }
	}

	set affinity-X {
		type ipv4_addr
		size 65535
		flags dynamic,timeout
		timeout 10m
	}

	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump services
		counter packets 0 bytes 0 jump endpoints
	}

	chain pick-random {
		ip daddr . meta l4proto . th dport @pick-random-2 ct mark set numgen random mod 2 offset 1
	}
}
)";

TEST(NftListing, OneLinePerThingCountersDynamicEntriesAndOrderDropped) {
  std::vector<std::string> lines = NormalizeNftListing(kListing);
  EXPECT_THAT(lines, Contains("table ip kube-proxy"));
  EXPECT_THAT(lines, Contains("table: comment \"rules for kube-proxy\""));
  EXPECT_THAT(lines, Contains("set cluster-ips: element 10.96.0.10"));
  EXPECT_THAT(lines, Contains("set cluster-ips: element 10.96.0.11"));
  EXPECT_THAT(lines, Contains("map service-ips: counter"));
  // A comma inside a comment does not split an element.
  EXPECT_THAT(lines, Contains("map service-ips: element 10.96.0.11 . tcp . 80 counter comment "
                              "\"default/a, b:80\" : goto pick-random"));
  EXPECT_THAT(lines, Contains("set affinity-X: flags dynamic,timeout"));
  EXPECT_THAT(lines, Not(Contains(::testing::HasSubstr("expires"))));
  EXPECT_THAT(lines, Contains("chain nat-prerouting: #2 counter jump endpoints"));
  EXPECT_THAT(lines,
              Contains("chain nat-prerouting: type nat hook prerouting priority dstnat; policy "
                       "accept;"));
  EXPECT_TRUE(std::is_sorted(lines.begin(), lines.end()));
  EXPECT_EQ(lines, NormalizeNftListing(kSameTable));
  EXPECT_THAT(NftListingDiff(lines, NormalizeNftListing(kSameTable)), IsEmpty());
}

TEST(NftListing, DiffSaysWhatIsMissingAndWhatIsTooMuch) {
  std::string have = kListing;
  // A hand-deleted element and a rule in the wrong order.
  have.replace(have.find("10.96.0.10, "), 12, "");
  std::string swapped = "\t\tjump services\n\t\tcounter packets 3 bytes 180 jump endpoints\n";
  have.replace(have.find(swapped), swapped.size(),
               "\t\tcounter packets 3 bytes 180 jump endpoints\n\t\tjump services\n");
  EXPECT_THAT(NftListingDiff(NormalizeNftListing(have), NormalizeNftListing(kListing)),
              ElementsAre("- chain nat-prerouting: #1 counter jump endpoints",
                          "+ chain nat-prerouting: #1 jump services",
                          "+ chain nat-prerouting: #2 counter jump endpoints",
                          "- chain nat-prerouting: #2 jump services",
                          "+ set cluster-ips: element 10.96.0.10"));
}

TEST(NftListing, EmptyAndOddInput) {
  EXPECT_THAT(NormalizeNftListing(""), IsEmpty());
  // Unbalanced text does not crash and keeps what it read.
  EXPECT_THAT(NormalizeNftListing("table ip t {\n\tset s {\n\t\telements = { 1,"),
              ElementsAre("set s", "table ip t"));
}

}  // namespace
}  // namespace mkn::proxy
