#include "vnet/ebpf/sock_lb.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "bpf/sock_lb.h"
#include "bpf/sock_lb.skel.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/netns.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

// lib/proxy checks a lab against the maps' sizes before anything is written: the same numbers.
static_assert(mkn::proxy::kSockLbLimits.max_service_id == MKN_MAX_SERVICES - 1);
static_assert(mkn::proxy::kSockLbLimits.max_backend_id == MKN_MAX_BACKENDS - 1);
static_assert(mkn::proxy::kSockLbLimits.slots == MKN_MAX_SLOTS);
static_assert(mkn::proxy::kSockLbLimits.pods == MKN_MAX_NETNS);

namespace mkn::vnet {
namespace {

// libbpf's own messages: kept (the last few lines) to explain a failed load, never printed.
std::mutex log_mu;
std::string last_log;

int KeepLog(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[512];
  const int n = std::vsnprintf(buf, sizeof(buf), fmt, args);
  std::lock_guard<std::mutex> l(log_mu);
  last_log += std::string(buf, n > 0 ? std::min<size_t>(n, sizeof(buf) - 1) : 0);
  if (last_log.size() > 2048) last_log.erase(0, last_log.size() - 2048);
  return 0;
}

std::string TakeLog() {
  std::lock_guard<std::mutex> l(log_mu);
  std::string s;
  s.swap(last_log);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.empty() ? "" : StrCat(" (libbpf: ", s, ")");
}

uint8_t Proto(config::Protocol p) {
  return p == config::Protocol::kTcp ? IPPROTO_TCP : IPPROTO_UDP;
}

mkn_svc_key SvcKey(const proxy::SockLbKey& k, int slot) {
  mkn_svc_key key{};
  key.vip = htonl(k.vip.value);
  key.port = htons(static_cast<uint16_t>(k.port));
  key.slot = static_cast<uint16_t>(slot);
  key.proto = Proto(k.protocol);
  return key;
}

absl::StatusOr<uint64_t> NetnsCookie(int netns_fd) {
  uint64_t cookie = 0;
  MKN_RETURN_IF_ERROR(RunInNetns(netns_fd, [&]() -> absl::Status {
    Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s.valid()) return KernelError(errno, "open a socket in a pod's netns");
    socklen_t len = sizeof(cookie);
    if (::getsockopt(s.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) < 0) {
      return KernelError(
          errno, StrCat("read a pod's netns cookie (SO_NETNS_COOKIE): ", kKernelRequirement));
    }
    return absl::OkStatus();
  }));
  return cookie;
}

}  // namespace

std::vector<std::string> SockLb::ProgramNames() {
  return {"mkn_connect4", "mkn_sendmsg4", "mkn_recvmsg4", "mkn_getpeername4"};
}

absl::StatusOr<std::unique_ptr<SockLb>> SockLb::Load(int cgroup_fd) {
  libbpf_set_print(KeepLog);
  std::unique_ptr<SockLb> lb(new SockLb());
  lb->skel_ = sock_lb__open();
  if (lb->skel_ == nullptr) return KernelError(errno, StrCat("open the ebpf programs", TakeLog()));
  if (int err = sock_lb__load(lb->skel_); err != 0) {
    const int e = -err;
    if (e == EPERM || e == EACCES)
      return KernelError(e, StrCat("load the ebpf programs", TakeLog()),
                         "need CAP_BPF and CAP_SYS_ADMIN: run as root or with sudo");
    return absl::FailedPreconditionError(
        StrCat("load the ebpf programs: ", std::strerror(e), TakeLog(), ": ", kKernelRequirement));
  }
  struct bpf_program* progs[] = {lb->skel_->progs.mkn_connect4, lb->skel_->progs.mkn_sendmsg4,
                                 lb->skel_->progs.mkn_recvmsg4, lb->skel_->progs.mkn_getpeername4};
  for (struct bpf_program* p : progs) {
    struct bpf_link* link = bpf_program__attach_cgroup(p, cgroup_fd);
    if (link == nullptr) {
      const int e = errno;
      return absl::FailedPreconditionError(StrCat("attach ", bpf_program__name(p),
                                                  " to the cluster's cgroup: ", std::strerror(e),
                                                  TakeLog(), ": ", kKernelRequirement));
    }
    lb->links_.push_back(link);
  }
  return lb;
}

SockLb::~SockLb() {
  for (struct bpf_link* l : links_) bpf_link__destroy(l);
  if (skel_ != nullptr) sock_lb__destroy(skel_);
}

absl::StatusOr<uint64_t> SockLb::Allow(int netns_fd) {
  MKN_ASSIGN_OR_RETURN(const uint64_t cookie, NetnsCookie(netns_fd));
  const uint32_t one = 1;
  if (bpf_map__update_elem(skel_->maps.mkn_netns, &cookie, sizeof(cookie), &one, sizeof(one),
                           BPF_ANY) != 0) {
    return KernelError(errno, "add a pod's netns to mkn_netns");
  }
  return cookie;
}

absl::Status SockLb::Forget(uint64_t cookie) {
  if (bpf_map__delete_elem(skel_->maps.mkn_netns, &cookie, sizeof(cookie), 0) != 0 &&
      errno != ENOENT) {
    return KernelError(errno, "remove a pod's netns from mkn_netns");
  }
  return absl::OkStatus();
}

absl::Status SockLb::Apply(const std::vector<proxy::SockLbOp>& ops) {
  struct bpf_map* services = skel_->maps.mkn_services;
  struct bpf_map* backends = skel_->maps.mkn_backends;
  for (const proxy::SockLbOp& op : ops) {
    int rc = 0;
    switch (op.kind) {
      case proxy::SockLbOp::kPutBackend: {
        mkn_backend b{};
        b.addr = htonl(op.ip.value);
        b.port = htons(static_cast<uint16_t>(op.port));
        b.proto = Proto(op.key.protocol);
        b.svc_id = op.service_id;
        rc = bpf_map__update_elem(backends, &op.id, sizeof(op.id), &b, sizeof(b), BPF_ANY);
        if (rc == 0) {
          // A new endpoint under this id (Diff writes a backend only then): picked from zero.
          const mkn_backend_stats zero{};
          (void)bpf_map__update_elem(skel_->maps.mkn_be_stats, &op.id, sizeof(op.id), &zero,
                                     sizeof(zero), BPF_EXIST);
        }
        break;
      }
      case proxy::SockLbOp::kPutSlot: {
        const mkn_svc_key key = SvcKey(op.key, op.slot);
        mkn_svc_val v{};
        v.backend_id = op.id;
        rc = bpf_map__update_elem(services, &key, sizeof(key), &v, sizeof(v), BPF_ANY);
        break;
      }
      case proxy::SockLbOp::kPutService: {
        const mkn_svc_key key = SvcKey(op.key, 0);
        mkn_svc_val v{};
        v.count = op.count;
        v.svc_id = op.id;
        v.affinity_timeout = op.affinity_s;
        rc = bpf_map__update_elem(services, &key, sizeof(key), &v, sizeof(v), BPF_ANY);
        if (rc == 0 && op.fresh) {
          // A service port that is new (or comes back) starts from zero; one whose endpoints
          // changed keeps counting.
          const mkn_svc_stats zero{};
          (void)bpf_map__update_elem(skel_->maps.mkn_svc_stats, &op.id, sizeof(op.id), &zero,
                                     sizeof(zero), BPF_EXIST);
        }
        break;
      }
      case proxy::SockLbOp::kDeleteSlot:
      case proxy::SockLbOp::kDeleteService: {
        const mkn_svc_key key =
            SvcKey(op.key, op.kind == proxy::SockLbOp::kDeleteService ? 0 : op.slot);
        rc = bpf_map__delete_elem(services, &key, sizeof(key), 0);
        if (rc != 0 && errno == ENOENT) rc = 0;
        break;
      }
      case proxy::SockLbOp::kDeleteBackend: {
        rc = bpf_map__delete_elem(backends, &op.id, sizeof(op.id), 0);
        if (rc != 0 && errno == ENOENT) rc = 0;
        const mkn_backend_stats zero{};
        (void)bpf_map__update_elem(skel_->maps.mkn_be_stats, &op.id, sizeof(op.id), &zero,
                                   sizeof(zero), BPF_EXIST);
        break;
      }
    }
    if (rc != 0) return KernelError(errno, StrCat("ebpf maps: ", proxy::ToString(op)));
  }
  return absl::OkStatus();
}

SockLbCounters SockLb::ServiceCounters(uint32_t service_id) const {
  mkn_svc_stats s{};
  if (bpf_map__lookup_elem(skel_->maps.mkn_svc_stats, &service_id, sizeof(service_id), &s,
                           sizeof(s), 0) != 0)
    return {};
  return {s.translated, s.refused};
}

uint64_t SockLb::BackendPicks(uint32_t backend_id) const {
  mkn_backend_stats s{};
  if (bpf_map__lookup_elem(skel_->maps.mkn_be_stats, &backend_id, sizeof(backend_id), &s, sizeof(s),
                           0) != 0)
    return 0;
  return s.picked;
}

}  // namespace mkn::vnet
