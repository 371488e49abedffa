#include "vnet/kernel/nft.h"

#include <nftables/libnftables.h>
#include <sched.h>

#include <cerrno>
#include <memory>
#include <thread>

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"

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

absl::StatusOr<std::string> RunIn(nft_ctx* ctx, std::string_view text) {
  std::string buf(text);
  if (nft_run_cmd_from_buffer(ctx, buf.c_str()) != 0) {
    std::string err = nft_ctx_get_error_buffer(ctx);
    while (!err.empty() && err.back() == '\n') err.pop_back();
    return absl::InvalidArgumentError(StrCat("nft: ", err.empty() ? "failed" : err));
  }
  return std::string(nft_ctx_get_output_buffer(ctx));
}

absl::StatusOr<std::string> Run(std::string_view text, bool json) {
  auto ctx = NewCtx(json);
  if (!ctx.ok()) return ctx.status();
  return RunIn(ctx->get(), text);
}

}  // namespace

void NftContext::Deleter::operator()(nft_ctx* c) const { nft_ctx_free(c); }

absl::StatusOr<NftContext> NftContext::Create() {
  NftContext c;
  MKN_ASSIGN_OR_RETURN(Ctx ctx, NewCtx(false));
  c.ctx_.reset(ctx.release());
  return c;
}

NftContext::NftContext(NftContext&&) noexcept = default;
NftContext& NftContext::operator=(NftContext&&) noexcept = default;
NftContext::~NftContext() = default;

absl::Status NftContext::Run(std::string_view text) {
  if (!ctx_) return absl::FailedPreconditionError("nft: a moved-from context");
  return RunIn(ctx_.get(), text).status();
}

absl::StatusOr<std::string> NftContext::Output(std::string_view command, bool json) {
  if (!ctx_) return absl::FailedPreconditionError("nft: a moved-from context");
  const unsigned int flags = nft_ctx_output_get_flags(ctx_.get());
  if (json) nft_ctx_output_set_flags(ctx_.get(), flags | NFT_CTX_OUTPUT_JSON);
  absl::StatusOr<std::string> out = RunIn(ctx_.get(), command);
  nft_ctx_output_set_flags(ctx_.get(), flags);
  return out;
}

absl::Status RunNft(std::string_view text) { return Run(text, false).status(); }

absl::StatusOr<std::string> NftOutput(std::string_view command, bool json) {
  return Run(command, json);
}

absl::StatusOr<std::string> NftOutputAfterLoad(std::string_view ruleset, std::string_view command) {
  absl::StatusOr<std::string> out = absl::InternalError("nft: scratch namespace not run");
  // unshare() moves only the calling thread: this one, which ends with the namespace's last user.
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      out = KernelError(errno, "unshare a scratch network namespace",
                        "need CAP_SYS_ADMIN: run as root or with sudo");
      return;
    }
    absl::Status loaded = RunNft(ruleset);
    if (!loaded.ok()) {
      out = loaded;
      return;
    }
    out = NftOutput(command);
  });
  t.join();
  return out;
}

}  // namespace mkn::vnet
