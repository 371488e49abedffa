// vnet/ebpf/sock_lb — proxy_mode = "ebpf": the socket load balancer's programs, loaded, attached
// to the cluster's cgroup and fed the maps lib/proxy/sock_lb computes.
//
// Load() opens the skeleton bpftool generated from bpf/sock_lb.bpf.c (the object is embedded in
// the binary), loads the programs and attaches cgroup/connect4, sendmsg4, recvmsg4 and
// getpeername4 to the given cgroup as bpf_links. The links and maps live as long as this object
// and this process: nothing is pinned in bpffs, so when the process ends, even by SIGKILL, the
// kernel detaches and frees everything (the cgroup directory itself is LabCgroup's). Apply() only
// carries out map writes in the order given. Not thread-safe: the caller serialises (the
// cluster's mutex).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/proxy/sock_lb.h"

struct sock_lb;
struct bpf_link;

namespace mkn::vnet {

struct SockLbCounters {
  uint64_t translated = 0;  // connect()/sendmsg() calls rewritten to a backend
  uint64_t refused = 0;     // calls refused: no endpoints
};

// The one kernel requirement of the mode, in every message and doc that states one: the newest of
// what it uses is SO_NETNS_COOKIE (5.14); cgroup/getpeername4 (5.8), BPF links on cgroups (5.7) and
// connect4/sendmsg4/recvmsg4 (4.20) are older. A kill's socket destroy also needs
// CONFIG_INET_DIAG_DESTROY (vnet/kernel/sock_diag).
inline constexpr char kKernelRequirement[] =
    "proxy_mode = \"ebpf\" needs Linux 5.14 or later (cgroup sock_addr programs on BPF links, "
    "getpeername4, SO_NETNS_COOKIE) with cgroup v2";

class SockLb {
 public:
  // Loads and attaches to the cgroup `cgroup_fd` (an O_DIRECTORY fd of a cgroup v2 the caller
  // made). FailedPrecondition naming kKernelRequirement when the kernel refuses a program type or
  // attach type; PermissionDenied without CAP_BPF/CAP_SYS_ADMIN.
  static absl::StatusOr<std::unique_ptr<SockLb>> Load(int cgroup_fd);
  ~SockLb();
  SockLb(const SockLb&) = delete;
  SockLb& operator=(const SockLb&) = delete;

  // Lets the programs translate sockets of the netns `netns_fd` (a pod's), by its cookie
  // (SO_NETNS_COOKIE, Linux 5.14: kKernelRequirement), which it returns; Forget() takes that
  // cookie out again (the netns may be gone by then: a killed pod's). vnet/kernel/errors.h's codes;
  // Allow's ResourceExhausted when mkn_netns is full.
  absl::StatusOr<uint64_t> Allow(int netns_fd);
  absl::Status Forget(uint64_t netns_cookie);
  // The map writes, in order; stops at the first the kernel refuses (Internal, naming the op).
  absl::Status Apply(const std::vector<proxy::SockLbOp>& ops);

  // Counters of a service port (its id in SockLbMaps) and of a backend id; zero for an unknown id.
  SockLbCounters ServiceCounters(uint32_t service_id) const;
  uint64_t BackendPicks(uint32_t backend_id) const;

  // The programs' names as bpftool shows them, for messages and tests.
  static std::vector<std::string> ProgramNames();

 private:
  SockLb() = default;
  struct sock_lb* skel_ = nullptr;
  std::vector<struct bpf_link*> links_;
};

}  // namespace mkn::vnet
