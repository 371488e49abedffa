#include "lib/proxy/nft_ruleset.h"

#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::proxy {

// Placeholder until the kube-proxy-shaped rules land: an empty table.
std::string RenderNftRuleset(const config::ClusterSpec& spec, int node_index) {
  return StrCat("table ip ", net::kNftTable, " {}\ndelete table ip ", net::kNftTable, "\ntable ip ",
                net::kNftTable, " {\n}\n");
}

}  // namespace mkn::proxy
