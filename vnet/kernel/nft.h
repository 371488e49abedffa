// vnet/kernel/nft — nftables through libnftables, in the calling thread's network namespace.
//
// libnftables opens its netlink socket in the netns of the thread that creates the context, so call
// these from a thread that has entered the node's namespace (RunInNetns, or an applier worker).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mkn::vnet {

// Runs `text` as one nft transaction (`nft -f`): all of it applies, or none. The error carries
// nft's own message (the offending line and a caret).
absl::Status RunNft(std::string_view text);

// Runs an nft command and returns its output; `json` = `nft -j`.
absl::StatusOr<std::string> NftOutput(std::string_view command, bool json = false);

}  // namespace mkn::vnet
