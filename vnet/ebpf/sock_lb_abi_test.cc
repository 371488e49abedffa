// The maps' layout as the loader writes it: the sizes and offsets the BPF side (clang -target bpf)
// also sees, since both compile bpf/sock_lb.h with fixed-width types and no padding surprises.
#include <gtest/gtest.h>

#include <cstddef>

#include "bpf/sock_lb.h"
#include "bpf/sock_lb.skel.h"
#include "vnet/ebpf/sock_lb.h"

namespace mkn::vnet {
namespace {

TEST(SockLbAbi, LayoutIsFixed) {
  EXPECT_EQ(sizeof(mkn_svc_key), 12u);
  EXPECT_EQ(offsetof(mkn_svc_key, port), 4u);
  EXPECT_EQ(offsetof(mkn_svc_key, slot), 6u);
  EXPECT_EQ(offsetof(mkn_svc_key, proto), 8u);
  EXPECT_EQ(sizeof(mkn_svc_val), 16u);
  EXPECT_EQ(sizeof(mkn_backend), 12u);
  EXPECT_EQ(offsetof(mkn_backend, svc_id), 8u);
  EXPECT_EQ(sizeof(mkn_affinity_key), 16u);
  EXPECT_EQ(sizeof(mkn_revnat_key), 16u);
  EXPECT_EQ(sizeof(mkn_revnat_val), 12u);
}

// The skeleton (bpftool gen skeleton at build time) names the four programs and the maps the
// README's bpftool commands show.
TEST(SockLbAbi, SkeletonHasTheProgramsAndMaps) {
  struct sock_lb* s = sock_lb__open();
  ASSERT_NE(s, nullptr);
  EXPECT_NE(s->progs.mkn_connect4, nullptr);
  EXPECT_NE(s->progs.mkn_sendmsg4, nullptr);
  EXPECT_NE(s->progs.mkn_recvmsg4, nullptr);
  EXPECT_NE(s->progs.mkn_getpeername4, nullptr);
  EXPECT_NE(s->maps.mkn_services, nullptr);
  EXPECT_NE(s->maps.mkn_revnat, nullptr);
  sock_lb__destroy(s);
  EXPECT_EQ(SockLb::ProgramNames().size(), 4u);
}

}  // namespace
}  // namespace mkn::vnet
