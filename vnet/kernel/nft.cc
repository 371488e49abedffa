#include "vnet/kernel/nft.h"

#include <nftables/libnftables.h>

#include <memory>

#include "lib/strings/str_cat.h"

namespace mkn::vnet {
namespace {

struct CtxDeleter {
  void operator()(nft_ctx* c) const { nft_ctx_free(c); }
};
using Ctx = std::unique_ptr<nft_ctx, CtxDeleter>;

absl::StatusOr<Ctx> NewCtx(bool json) {
  Ctx ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return absl::InternalError("nft: cannot create a libnftables context");
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return absl::InternalError("nft: cannot buffer output");
  }
  if (json)
    nft_ctx_output_set_flags(ctx.get(), nft_ctx_output_get_flags(ctx.get()) | NFT_CTX_OUTPUT_JSON);
  return ctx;
}

absl::StatusOr<std::string> Run(std::string_view text, bool json) {
  auto ctx = NewCtx(json);
  if (!ctx.ok()) return ctx.status();
  std::string buf(text);
  if (nft_run_cmd_from_buffer(ctx->get(), buf.c_str()) != 0) {
    std::string err = nft_ctx_get_error_buffer(ctx->get());
    while (!err.empty() && err.back() == '\n') err.pop_back();
    return absl::InvalidArgumentError(StrCat("nft: ", err.empty() ? "failed" : err));
  }
  return std::string(nft_ctx_get_output_buffer(ctx->get()));
}

}  // namespace

absl::Status RunNft(std::string_view text) { return Run(text, false).status(); }

absl::StatusOr<std::string> NftOutput(std::string_view command, bool json) {
  return Run(command, json);
}

}  // namespace mkn::vnet
