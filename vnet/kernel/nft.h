// vnet/kernel/nft — nftables through libnftables.
//
// libnftables opens its netlink socket when a context is made, in the network namespace of the
// thread that makes it, and keeps it. RunNft and NftOutput make a context per call, so call them
// from a thread that has entered the node's namespace (RunInNetns, or an applier worker);
// NftOutputAfterLoad makes its own namespace. An NftContext made once inside a node's namespace
// stays bound to it and can be used from any thread (one at a time): making a context costs
// milliseconds (libnftables reads its symbol tables), which a change of a few elements must not
// pay.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

struct nft_ctx;

namespace mkn::vnet {

// A libnftables context bound to the network namespace it was made in. Move-only; not for two
// threads at once.
class NftContext {
 public:
  // A context in the calling thread's namespace. Internal if libnftables cannot make one.
  static absl::StatusOr<NftContext> Create();
  NftContext(NftContext&&) noexcept;
  NftContext& operator=(NftContext&&) noexcept;
  ~NftContext();

  // As RunNft / NftOutput, in the context's namespace, whatever the calling thread's.
  absl::Status Run(std::string_view text);
  absl::StatusOr<std::string> Output(std::string_view command, bool json = false);

 private:
  NftContext() = default;
  struct Deleter {
    void operator()(nft_ctx* c) const;
  };
  std::unique_ptr<nft_ctx, Deleter> ctx_;
};

// Runs `text` as one nft transaction (`nft -f`): all of it applies, or none. InvalidArgument
// whenever nft refuses it, with nft's own message (the offending line and a caret): libnftables
// reports text, not an errno, so a refusal by the kernel is InvalidArgument too (without
// CAP_NET_ADMIN the text says "Operation not permitted"). Internal if libnftables cannot make a
// context.
absl::Status RunNft(std::string_view text);

// Runs an nft command and returns its output; `json` = `nft -j`. Codes as RunNft.
absl::StatusOr<std::string> NftOutput(std::string_view command, bool json = false);

// What the kernel makes of `ruleset`: loads it in a network namespace of its own, made for this
// call on a short-lived thread (unshare) and gone when the thread ends, and returns what `command`
// prints there. Nothing else sees it, so it answers "what would a full sync write?" without
// touching a node. Needs CAP_SYS_ADMIN (PermissionDenied without it, from the errno table); else
// the codes of RunNft.
absl::StatusOr<std::string> NftOutputAfterLoad(std::string_view ruleset, std::string_view command);

}  // namespace mkn::vnet
