// vnet/edge/upstream_pool and conn_buffers: idle upstream connections by address (last in, first
// out, at most kPerBackend each), sockets made in the caller's netns in batches, and connection
// buffers handed back empty and reused. No privileges (kCallerNetns), no network.
#include "vnet/edge/upstream_pool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <vector>

#include "vnet/edge/conn_buffers.h"
#include "vnet/edge/ingress.h"

namespace mkn::vnet::edge_internal {
namespace {

TEST(UpstreamPool, KeepsIdleConnectionsByAddressLastInFirstOut) {
  asio::io_context io;
  UpstreamPool pool;
  EXPECT_EQ(pool.Get("10.244.1.2:8080"), nullptr);
  auto a = std::make_unique<TcpStream>(io);
  auto b = std::make_unique<TcpStream>(io);
  auto c = std::make_unique<TcpStream>(io);
  TcpStream *pa = a.get(), *pb = b.get(), *pc = c.get();
  pool.Put("10.244.1.2:8080", std::move(a));
  pool.Put("10.244.1.2:8080", std::move(b));
  pool.Put("10.96.0.10:80", std::move(c));
  EXPECT_EQ(pool.Get("10.244.1.2:8080").get(), pb);  // the most recently used: warmest
  EXPECT_EQ(pool.Get("10.244.1.2:8080").get(), pa);
  EXPECT_EQ(pool.Get("10.244.1.2:8080"), nullptr);
  EXPECT_EQ(pool.Get("10.96.0.10:80").get(), pc);
}

TEST(UpstreamPool, KeepsAtMostKPerBackendAndClearsEverything) {
  asio::io_context io;
  UpstreamPool pool;
  for (size_t i = 0; i < UpstreamPool::kPerBackend + 5; ++i) {
    pool.Put("a:1", std::make_unique<TcpStream>(io));
  }
  pool.Put("b:1", std::make_unique<TcpStream>(io));
  size_t kept = 0;
  while (pool.Get("a:1") != nullptr) ++kept;
  EXPECT_EQ(kept, UpstreamPool::kPerBackend);
  pool.Clear();
  EXPECT_EQ(pool.Get("b:1"), nullptr);
}

TEST(SocketFactory, HandsOutNonBlockingTcpSocketsMadeInBatches) {
  SocketFactory f(IngressServer::kCallerNetns);
  std::vector<Fd> fds;
  std::set<int> seen;
  for (size_t i = 0; i < SocketFactory::kSocketBatch + 2; ++i) {  // a second batch too
    absl::StatusOr<Fd> fd = f.Take();
    ASSERT_TRUE(fd.ok()) << fd.status();
    ASSERT_TRUE(fd->valid());
    EXPECT_TRUE(seen.insert(fd->get()).second);
    EXPECT_NE(::fcntl(fd->get(), F_GETFL) & O_NONBLOCK, 0);
    EXPECT_NE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, 0);
    int v = 0;
    socklen_t len = sizeof(v);
    ASSERT_EQ(::getsockopt(fd->get(), SOL_SOCKET, SO_DOMAIN, &v, &len), 0);
    EXPECT_EQ(v, AF_INET);
    ASSERT_EQ(::getsockopt(fd->get(), SOL_SOCKET, SO_TYPE, &v, &len), 0);
    EXPECT_EQ(v, SOCK_STREAM);
    fds.push_back(std::move(*fd));
  }
}

// The fds of this process that are epoll instances.
std::set<int> EpollFds() {
  std::set<int> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(e.path(), ec).string() == "anon_inode:[eventpoll]")
      out.insert(std::stoi(e.path().filename().string()));
  }
  return out;
}

TEST(NewUpstream, TakesTheSocketWithItsConnectDeadline) {
  asio::io_context io;
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(fd.valid());
  const int raw = fd.get();
  absl::StatusOr<std::unique_ptr<TcpStream>> up =
      NewUpstream(io, std::move(fd), std::chrono::seconds(5));
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ((*up)->socket().native_handle(), raw);
}

// An fd the io_context cannot register is closed, not leaked: here a duplicate of the io_context's
// own epoll fd, which epoll_ctl refuses to add to itself (EINVAL).
TEST(NewUpstream, ClosesAnFdTheIoContextRefuses) {
  const std::set<int> before = EpollFds();
  asio::io_context io;
  Socket made_the_reactor(io);
  std::vector<int> mine;
  for (int fd : EpollFds())
    if (!before.count(fd)) mine.push_back(fd);
  ASSERT_EQ(mine.size(), 1u) << "the io_context's epoll fd";
  Fd dup(::fcntl(mine[0], F_DUPFD_CLOEXEC, 0));
  ASSERT_TRUE(dup.valid());
  const int raw = dup.get();
  absl::StatusOr<std::unique_ptr<TcpStream>> up =
      NewUpstream(io, std::move(dup), std::chrono::seconds(5));
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.status().code(), absl::StatusCode::kInvalidArgument) << up.status();
  errno = 0;
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1) << "fd " << raw << " leaked";
  EXPECT_EQ(errno, EBADF);
}

TEST(BufferPool, HandsBackEmptiedSetsThatKeepTheirCapacity) {
  BufferPool pool;
  std::unique_ptr<ConnBuffers> b = pool.Take();
  ConnBuffers* first = b.get();
  EXPECT_GE(b->buf.capacity(), kChunk);
  EXPECT_GE(b->upbuf.capacity(), kUpstreamRead);
  b->buf.commit(asio::buffer_copy(b->buf.prepare(5), asio::buffer("GET /", 5)));
  b->upbuf.commit(asio::buffer_copy(b->upbuf.prepare(4), asio::buffer("HTTP", 4)));
  b->out = "a response";
  pool.Give(std::move(b));
  std::unique_ptr<ConnBuffers> again = pool.Take();
  EXPECT_EQ(again.get(), first);
  EXPECT_EQ(again->buf.size(), 0u);
  EXPECT_EQ(again->upbuf.size(), 0u);
  EXPECT_TRUE(again->out.empty());
  EXPECT_GE(again->buf.capacity(), kChunk);
  pool.Give(std::move(again));
}

TEST(BufferPool, KeepsAtMostKSpareSets) {
  BufferPool pool;
  {
    std::vector<std::unique_ptr<BufferLease>> leases;
    for (size_t i = 0; i < BufferPool::kSpare + 4; ++i) {
      leases.push_back(std::make_unique<BufferLease>(&pool));
    }
    EXPECT_EQ(pool.spare(), 0u);
  }  // every lease gives its set back
  EXPECT_EQ(pool.spare(), BufferPool::kSpare);
}

}  // namespace
}  // namespace mkn::vnet::edge_internal
