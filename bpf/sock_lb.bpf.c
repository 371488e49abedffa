// bpf/sock_lb.bpf.c — proxy_mode = "ebpf": Services as socket-level load balancing.
//
// cgroup/connect4 (TCP, connected UDP) and cgroup/sendmsg4 (unconnected UDP) rewrite a
// ClusterIP:port to a backend pod's IP:port before the socket does anything, so no packet ever
// carries the ClusterIP; cgroup/getpeername4 and cgroup/recvmsg4 give the application the
// ClusterIP back from the reverse-NAT map, keyed by socket cookie. As Cilium's bpf_sock.c, with
// its maps cut down to what a lab needs (sock_lb.h).
//
// Scope: attached only to the cluster's own cgroup v2, and every program first checks that the
// socket's network namespace is one of the lab's pod namespaces (mkn_netns): a process that
// strays into the cgroup, or a socket opened outside a pod, is left alone. Return 1 = carry on
// (rewritten or not), 0 = refuse the call (EPERM): a Service without endpoints.
//
// Built with clang -target bpf against the uapi headers only (<linux/bpf.h>): the programs read
// nothing but their context, so they need no vmlinux.h and no BTF on the build machine.
#include "sock_lb.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <linux/bpf.h>

#define MKN_IPPROTO_TCP 6
#define MKN_IPPROTO_UDP 17
#define MKN_NS_PER_SEC 1000000000ULL

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, MKN_MAX_SLOTS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct mkn_svc_key);
  __type(value, struct mkn_svc_val);
} mkn_services SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, MKN_MAX_BACKENDS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, __u32);
  __type(value, struct mkn_backend);
} mkn_backends SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, MKN_AFFINITY_ENTRIES);
  __type(key, struct mkn_affinity_key);
  __type(value, struct mkn_affinity_val);
} mkn_affinity SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, MKN_REVNAT_ENTRIES);
  __type(key, struct mkn_revnat_key);
  __type(value, struct mkn_revnat_val);
} mkn_revnat SEC(".maps");

// The lab's pod namespaces, by netns cookie (SO_NETNS_COOKIE): the value is unused.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, MKN_MAX_NETNS);
  __type(key, __u64);
  __type(value, __u32);
} mkn_netns SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, MKN_MAX_SERVICES);
  __type(key, __u32);
  __type(value, struct mkn_svc_stats);
} mkn_svc_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, MKN_MAX_BACKENDS);
  __type(key, __u32);
  __type(value, struct mkn_backend_stats);
} mkn_be_stats SEC(".maps");

static __always_inline int in_lab(struct bpf_sock_addr *ctx) {
  __u64 cookie = bpf_get_netns_cookie(ctx);
  return bpf_map_lookup_elem(&mkn_netns, &cookie) != 0;
}

static __always_inline int sock_proto(struct bpf_sock_addr *ctx) {
  __u32 p = ctx->protocol;
  return p == MKN_IPPROTO_TCP || p == MKN_IPPROTO_UDP ? (int)p : 0;
}

// The backend for this socket's client: the affinity entry while it is fresh and its backend
// still there and still this service's (a freed id goes to the next new endpoint, of any
// service), else one of the service's slots at random.
static __always_inline __u32 pick_backend(struct bpf_sock_addr *ctx, struct mkn_svc_key *key,
                                          const struct mkn_svc_val *svc) {
  struct mkn_affinity_key akey = {};
  __u64 now = 0;
  if (svc->affinity_timeout) {
    akey.netns_cookie = bpf_get_netns_cookie(ctx);
    akey.svc_id = svc->svc_id;
    now = bpf_ktime_get_ns();
    struct mkn_affinity_val *a = bpf_map_lookup_elem(&mkn_affinity, &akey);
    if (a && now - a->last_used_ns < (__u64)svc->affinity_timeout * MKN_NS_PER_SEC) {
      struct mkn_backend *be = bpf_map_lookup_elem(&mkn_backends, &a->backend_id);
      if (be && be->svc_id == svc->svc_id) {
        a->last_used_ns = now;
        return a->backend_id;
      }
    }
  }
  key->slot = (__u16)(bpf_get_prandom_u32() % svc->count + 1);
  struct mkn_svc_val *slot = bpf_map_lookup_elem(&mkn_services, key);
  if (!slot) return 0;
  if (svc->affinity_timeout) {
    struct mkn_affinity_val aval = {.last_used_ns = now, .backend_id = slot->backend_id};
    bpf_map_update_elem(&mkn_affinity, &akey, &aval, BPF_ANY);
  }
  return slot->backend_id;
}

// connect4 and sendmsg4: ClusterIP:port → a backend's IP:port, remembered for the reverse.
static __always_inline int translate(struct bpf_sock_addr *ctx) {
  int proto = sock_proto(ctx);
  if (!proto || !in_lab(ctx)) return 1;
  struct mkn_svc_key key = {
      .vip = ctx->user_ip4, .port = (__u16)ctx->user_port, .slot = 0, .proto = (__u8)proto};
  struct mkn_svc_val *svc = bpf_map_lookup_elem(&mkn_services, &key);
  if (!svc) return 1;  // not a Service: the address is used as given
  __u32 svc_id = svc->svc_id;
  struct mkn_svc_stats *st = bpf_map_lookup_elem(&mkn_svc_stats, &svc_id);
  __u32 backend_id = svc->count ? pick_backend(ctx, &key, svc) : 0;
  struct mkn_backend *be = backend_id ? bpf_map_lookup_elem(&mkn_backends, &backend_id) : 0;
  if (!be) {
    // No endpoints: refuse the call, as kube-proxy's reject does (the caller sees EPERM).
    if (st) __sync_fetch_and_add(&st->refused, 1);
    return 0;
  }
  struct mkn_revnat_key rkey = {
      .cookie = bpf_get_socket_cookie(ctx), .addr = be->addr, .port = be->port};
  struct mkn_revnat_val rval = {
      .vip = ctx->user_ip4, .port = (__u16)ctx->user_port, .svc_id = svc_id};
  bpf_map_update_elem(&mkn_revnat, &rkey, &rval, BPF_ANY);
  ctx->user_ip4 = be->addr;
  ctx->user_port = be->port;
  if (st) __sync_fetch_and_add(&st->translated, 1);
  struct mkn_backend_stats *bs = bpf_map_lookup_elem(&mkn_be_stats, &backend_id);
  if (bs) __sync_fetch_and_add(&bs->picked, 1);
  return 1;
}

// getpeername4 and recvmsg4: a backend's IP:port → the ClusterIP:port this socket asked for.
static __always_inline int reverse(struct bpf_sock_addr *ctx) {
  if (!sock_proto(ctx) || !in_lab(ctx)) return 1;
  struct mkn_revnat_key rkey = {
      .cookie = bpf_get_socket_cookie(ctx), .addr = ctx->user_ip4, .port = (__u16)ctx->user_port};
  struct mkn_revnat_val *r = bpf_map_lookup_elem(&mkn_revnat, &rkey);
  if (r) {
    ctx->user_ip4 = r->vip;
    ctx->user_port = r->port;
  }
  return 1;
}

SEC("cgroup/connect4")
int mkn_connect4(struct bpf_sock_addr *ctx) { return translate(ctx); }

SEC("cgroup/sendmsg4")
int mkn_sendmsg4(struct bpf_sock_addr *ctx) { return translate(ctx); }

SEC("cgroup/recvmsg4")
int mkn_recvmsg4(struct bpf_sock_addr *ctx) { return reverse(ctx); }

SEC("cgroup/getpeername4")
int mkn_getpeername4(struct bpf_sock_addr *ctx) { return reverse(ctx); }
