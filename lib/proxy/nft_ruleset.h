// lib/proxy/nft_ruleset — the nftables proxy mode: a node's Services as a kube-proxy-shaped ruleset.
//
// RenderNftRuleset() is pure: the spec's services, with their current endpoints (ServiceSpec::endpoints,
// indices into spec.pods), become the text of one atomic nft transaction that (re)creates table
// `ip kube-proxy` in the node's namespace. Loading it again with other endpoints replaces the table
// in one transaction, so no packet ever sees half a ruleset.
#pragma once

#include <string>

#include "lib/config/spec.h"

namespace mkn::proxy {

std::string RenderNftRuleset(const config::ClusterSpec& spec, int node_index);

}  // namespace mkn::proxy
