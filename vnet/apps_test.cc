// The built-in apps over real sockets bound to port 0 on loopback (no privileges needed).
#include "vnet/apps.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <cerrno>
#include <cstring>
#include <string>

namespace mkn::vnet {
namespace {

// A socket of the given type on 127.0.0.1:0; returns it and the port the kernel chose.
std::pair<Fd, int> Loopback(int type) {
  Fd fd(::socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  if (type == SOCK_STREAM) {
    EXPECT_EQ(::listen(fd.get(), 16), 0);
  }
  socklen_t len = sizeof(sa);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
  return {std::move(fd), ntohs(sa.sin_port)};
}

Fd Connect(int type, int port) {
  Fd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  return fd;
}

std::string ReadUntil(int fd, const std::string& marker) {
  std::string out;
  char buf[4096];
  while (out.find(marker) == std::string::npos) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, n);
  }
  return out;
}

class AppsTest : public ::testing::Test {
 protected:
  std::filesystem::path logs_ = std::filesystem::temp_directory_path() / ("mkn-apps-test-" + std::to_string(getpid()));
  void TearDown() override { std::filesystem::remove_all(logs_); }
  plan::StartApp App(config::AppKind kind, int port) {
    return plan::StartApp{"ns", "web-0", "echo", kind, *net::Ipv4::Parse("10.244.0.2"), port};
  }
};

TEST_F(AppsTest, HttpEchoAnswersWithPodAndClientAndKeepsAlive) {
  auto [fd, port] = Loopback(SOCK_STREAM);
  AppServer server(logs_.string());
  ASSERT_TRUE(server.Serve(AppSocket{App(config::AppKind::kHttpEcho, port), std::move(fd)}, "node1").ok());
  server.Start();
  Fd c = Connect(SOCK_STREAM, port);
  for (int i = 0; i < 2; ++i) {  // two requests on one connection: keep-alive
    std::string req = "GET /path?q=" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::write(c.get(), req.data(), req.size()), static_cast<ssize_t>(req.size()));
    std::string resp = ReadUntil(c.get(), "request: GET /path?q=" + std::to_string(i) + "\n");
    EXPECT_NE(resp.find("HTTP/1.1 200 OK"), std::string::npos) << resp;
    EXPECT_NE(resp.find("X-Pod: web-0"), std::string::npos) << resp;
    EXPECT_NE(resp.find("pod: web-0\nnode: node1\npod_ip: 10.244.0.2\nclient: 127.0.0.1:"), std::string::npos) << resp;
    EXPECT_NE(resp.find("server: 127.0.0.1:" + std::to_string(port)), std::string::npos) << resp;
  }
  server.Stop();
  std::ifstream log(logs_ / "web-0" / "echo.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("GET /path?q=1 from 127.0.0.1:"), std::string::npos) << text;
}

TEST_F(AppsTest, HttpEchoDropsAMalformedRequest) {
  auto [fd, port] = Loopback(SOCK_STREAM);
  AppServer server(logs_.string());
  ASSERT_TRUE(server.Serve(AppSocket{App(config::AppKind::kHttpEcho, port), std::move(fd)}, "node1").ok());
  server.Start();
  Fd c = Connect(SOCK_STREAM, port);
  std::string junk = "NOT HTTP AT ALL\r\n\r\n";
  ASSERT_GT(::write(c.get(), junk.data(), junk.size()), 0);
  char buf[64];
  EXPECT_EQ(::read(c.get(), buf, sizeof(buf)), 0);  // closed, no answer, no crash
  Fd again = Connect(SOCK_STREAM, port);          // and the server still serves
  std::string req = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_GT(::write(again.get(), req.data(), req.size()), 0);
  EXPECT_NE(ReadUntil(again.get(), "request: GET /\n").find("pod: web-0"), std::string::npos);
}

TEST_F(AppsTest, TcpAndUdpEchoReturnWhatTheyGet) {
  auto [tfd, tport] = Loopback(SOCK_STREAM);
  auto [ufd, uport] = Loopback(SOCK_DGRAM);
  AppServer server(logs_.string());
  ASSERT_TRUE(server.Serve(AppSocket{App(config::AppKind::kTcpEcho, tport), std::move(tfd)}, "node1").ok());
  ASSERT_TRUE(server.Serve(AppSocket{App(config::AppKind::kUdpEcho, uport), std::move(ufd)}, "node1").ok());
  server.Start();
  Fd t = Connect(SOCK_STREAM, tport);
  std::string big(100000, 'x');
  big += "END";
  ASSERT_EQ(::write(t.get(), big.data(), big.size()), static_cast<ssize_t>(big.size()));
  EXPECT_EQ(ReadUntil(t.get(), "END"), big);
  Fd u = Connect(SOCK_DGRAM, uport);
  std::string dgram = "one datagram";
  ASSERT_EQ(::write(u.get(), dgram.data(), dgram.size()), static_cast<ssize_t>(dgram.size()));
  char buf[128];
  ssize_t n = ::read(u.get(), buf, sizeof(buf));
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), dgram);
}

TEST_F(AppsTest, StopClosesEverySocket) {
  auto [fd, port] = Loopback(SOCK_STREAM);
  AppServer server(logs_.string());
  ASSERT_TRUE(server.Serve(AppSocket{App(config::AppKind::kTcpEcho, port), std::move(fd)}, "node1").ok());
  server.Start();
  Fd open_conn = Connect(SOCK_STREAM, port);
  server.Stop();
  char buf[8];
  // The server side is gone: an orderly close if it had accepted, a reset if it was still in the backlog
  // (a timeout, EAGAIN, would mean it is still open).
  ssize_t n = ::read(open_conn.get(), buf, sizeof(buf));
  EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << n << " " << strerror(errno);
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(::connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);  // and the listener
}

}  // namespace
}  // namespace mkn::vnet
