#include "vnet/kernel/nft.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"

namespace mkn::vnet {
namespace {

// libnftables waits for the kernel's answer to a commit with select(), whose fd_set holds only
// descriptors below FD_SETSIZE (1024): a context whose netlink socket is 1024 or more aborts the
// process at its first commit (glibc's fortify check, "bit out of range 0 - FD_SETSIZE"). A lab of
// 1000 pods holds more descriptors than that (a namespace fd per pod, each pod's app sockets), so
// some low ones are reserved while the process starts (/dev/null, close-on-exec) and one is freed
// just before each context is made: its socket takes the lowest free descriptor, that one or a
// lower one. A thread opening a file in that instant can take it first: then the context is made
// again on the next reserved one. A freed context's descriptor is reserved again.
constexpr size_t kReservedFds = 64;
std::mutex reserve_mu;
std::vector<int>& Reserve() {
  static std::vector<int>* fds = [] {
    auto* v = new std::vector<int>;
    for (size_t i = 0; i < kReservedFds; ++i) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      if (fd >= FD_SETSIZE) {
        ::close(fd);
        break;
      }
      v->push_back(fd);
    }
    return v;
  }();
  return *fds;
}
// Made while the process starts, when its descriptors are few.
[[maybe_unused]] const bool kReservedAtStart = !Reserve().empty();

bool IsNftSocket(int fd) {
  int domain = 0, protocol = 0;
  socklen_t len = sizeof(domain);
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return false;
  len = sizeof(protocol);
  if (::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0) return false;
  return domain == AF_NETLINK && protocol == NETLINK_NETFILTER;
}

void FreeCtx(nft_ctx* c) {
  std::lock_guard<std::mutex> l(reserve_mu);
  nft_ctx_free(c);
  // Its descriptor (or the lowest free one) back in the reserve.
  if (Reserve().size() >= kReservedFds) return;
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd >= 0 && fd < FD_SETSIZE) {
    Reserve().push_back(fd);
  } else if (fd >= 0) {
    ::close(fd);
  }
}

struct CtxDeleter {
  void operator()(nft_ctx* c) const { FreeCtx(c); }
};
using Ctx = std::unique_ptr<nft_ctx, CtxDeleter>;

// nft_ctx_new with its socket below FD_SETSIZE when a reserved descriptor is left (else wherever
// it lands, as before: below 1024 unless the process holds that many).
nft_ctx* NewLowCtx() {
  std::lock_guard<std::mutex> l(reserve_mu);
  std::vector<int>& reserve = Reserve();
  std::vector<nft_ctx*> missed;
  nft_ctx* ctx = nullptr;
  while (!reserve.empty()) {
    const int fd = reserve.back();
    reserve.pop_back();
    ::close(fd);
    ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    if (ctx == nullptr || IsNftSocket(fd)) break;
    missed.push_back(ctx);  // another thread took the descriptor: try the next one
    ctx = nullptr;
  }
  if (ctx == nullptr && reserve.empty()) ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  for (nft_ctx* m : missed) nft_ctx_free(m);
  return ctx;
}

absl::StatusOr<Ctx> NewCtx(bool json) {
  Ctx ctx(NewLowCtx());
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

void NftContext::Deleter::operator()(nft_ctx* c) const { FreeCtx(c); }

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
