// vnet/kernel/nft — nftables through libnftables, in the calling thread's network namespace.
//
// libnftables opens its netlink socket in the netns of the thread that creates the context, so call
// these from a thread that has entered the node's namespace (RunInNetns, or an applier worker).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mkn::vnet {

// Runs `text` as one nft transaction (`nft -f`): all of it applies, or none. InvalidArgument
// whenever nft refuses it, with nft's own message (the offending line and a caret): libnftables
// reports text, not an errno, so a refusal by the kernel is InvalidArgument too (without
// CAP_NET_ADMIN the text says "Operation not permitted"). Internal if libnftables cannot make a
// context.
absl::Status RunNft(std::string_view text);

// Runs an nft command and returns its output; `json` = `nft -j`. Codes as RunNft.
absl::StatusOr<std::string> NftOutput(std::string_view command, bool json = false);

}  // namespace mkn::vnet
