/* bpf/sock_lb.h — the maps' layout, shared by the BPF programs (sock_lb.bpf.c) and their loader
 * (vnet/ebpf/sock_lb). C, fixed-width types only, so both compilers lay the structs out alike.
 *
 * Laid out as Cilium's bpf_sock.c does it: a service map keyed by {VIP, port, protocol, slot};
 * slot 0 is the service itself (backend count, id, affinity timeout), slots 1..count hold a
 * backend id each; a backend map by id; ClientIP affinity keyed by the client's netns cookie; an
 * LRU reverse-NAT map keyed by socket cookie (getpeername4, recvmsg4 give the VIP back). Addresses
 * and ports are in network byte order, as the kernel hands them to the programs. A backend id
 * belongs to one service port at a time (the same pod behind two Services has two ids), and says
 * which (svc_id): ids are reused, so an affinity entry holds only while its backend id is there
 * and still serves the entry's service.
 */
#ifndef MKN_BPF_SOCK_LB_H_
#define MKN_BPF_SOCK_LB_H_

#ifdef __bpf__
#include <linux/types.h>
typedef __u8 mkn_u8;
typedef __u16 mkn_u16;
typedef __u32 mkn_u32;
typedef __u64 mkn_u64;
#else
#include <stdint.h>
typedef uint8_t mkn_u8;
typedef uint16_t mkn_u16;
typedef uint32_t mkn_u32;
typedef uint64_t mkn_u64;
#endif

/* Sized for the scale benchmark's 100 000 Services with 4 endpoints each; the hash maps are not
 * preallocated, so a small lab pays for what it holds. Ids are indices of the counter arrays. */
#define MKN_MAX_SERVICES 131072 /* service ports: svc_id 1..MKN_MAX_SERVICES-1 */
#define MKN_MAX_SLOTS 655360    /* service map entries (slot 0 + backend slots) */
#define MKN_MAX_BACKENDS 524288 /* backend ids 1..MKN_MAX_BACKENDS-1; 0 is "none" */
#define MKN_MAX_NETNS 4096      /* the lab's pod namespaces */
#define MKN_AFFINITY_ENTRIES 65536
#define MKN_REVNAT_ENTRIES 262144

struct mkn_svc_key {
  mkn_u32 vip;  /* network order */
  mkn_u16 port; /* network order */
  mkn_u16 slot; /* 0: the service; 1..count: its backends */
  mkn_u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
  mkn_u8 pad[3];
};

struct mkn_svc_val {
  mkn_u32 backend_id;       /* slot > 0 */
  mkn_u32 count;            /* slot 0: backends; 0 = no endpoints (connect refused) */
  mkn_u32 svc_id;           /* slot 0: index of the counters, the affinity and rev-NAT id */
  mkn_u32 affinity_timeout; /* slot 0: seconds of ClientIP affinity; 0 = none */
};

struct mkn_backend {
  mkn_u32 addr; /* network order */
  mkn_u16 port; /* network order */
  mkn_u8 proto;
  mkn_u8 pad;
  mkn_u32 svc_id; /* the service port it serves */
};

struct mkn_affinity_key {
  mkn_u64 netns_cookie;
  mkn_u32 svc_id;
  mkn_u32 pad;
};

struct mkn_affinity_val {
  mkn_u64 last_used_ns; /* bpf_ktime_get_ns() */
  mkn_u32 backend_id;
  mkn_u32 pad;
};

struct mkn_revnat_key {
  mkn_u64 cookie; /* the socket's */
  mkn_u32 addr;   /* the backend's, network order */
  mkn_u16 port;
  mkn_u16 pad;
};

struct mkn_revnat_val {
  mkn_u32 vip;
  mkn_u16 port;
  mkn_u16 pad;
  mkn_u32 svc_id;
};

/* Per-CPU counters, indexed by svc_id (services) and by backend id (backends). */
struct mkn_svc_stats {
  mkn_u64 translated; /* connect/sendmsg rewritten to a backend */
  mkn_u64 refused;    /* no endpoints: the call failed */
};

struct mkn_backend_stats {
  mkn_u64 picked; /* times this backend was chosen */
};

#endif /* MKN_BPF_SOCK_LB_H_ */
