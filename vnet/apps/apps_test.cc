// The built-in apps over real sockets bound to port 0 on loopback (no privileges needed).
#include "vnet/apps/apps.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

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

// A blocking HTTP/1.1 client over one connection (5 s receive timeout, so a missing answer fails
// rather than hangs).
struct Response {
  int status = 0;
  std::string head;  // status line and headers, up to and including the blank line
  std::string body;
  std::string Header(const std::string& name) const {
    size_t at = head.find("\r\n" + name + ": ");
    if (at == std::string::npos) return "";
    at += name.size() + 4;
    return head.substr(at, head.find("\r\n", at) - at);
  }
};

class Client {
 public:
  explicit Client(int port) : fd_(Connect(SOCK_STREAM, port)) {}
  int fd() const { return fd_.get(); }
  void Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_.get(), data.data(), data.size());
      ASSERT_GT(n, 0) << strerror(errno);
      data.remove_prefix(n);
    }
  }
  // One response; its body is Content-Length bytes unless `no_body` (the answer to HEAD, or a 1xx).
  Response Read(bool no_body = false) {
    Response r;
    while (pending_.find("\r\n\r\n") == std::string::npos) {
      if (!Fill()) return r;
    }
    size_t end = pending_.find("\r\n\r\n") + 4;
    r.head = pending_.substr(0, end);
    pending_.erase(0, end);
    r.status = std::stoi(r.head.substr(9, 3));
    std::string len = r.Header("Content-Length");
    size_t want = no_body || len.empty() ? 0 : std::stoull(len);
    while (pending_.size() < want) {
      if (!Fill()) return r;
    }
    r.body = pending_.substr(0, want);
    pending_.erase(0, want);
    return r;
  }
  // Bytes the server sent that no Read() consumed yet, without waiting.
  size_t Unread() {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) == 1) Fill();
    return pending_.size();
  }

 private:
  bool Fill() {
    char buf[65536];
    ssize_t n = ::read(fd_.get(), buf, sizeof(buf));
    if (n <= 0) return false;
    pending_.append(buf, n);
    return true;
  }
  Fd fd_;
  std::string pending_;
};

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  std::string out;
  char hex[3];
  for (unsigned int i = 0; i < len; ++i) {
    snprintf(hex, sizeof(hex), "%02x", md[i]);
    out += hex;
  }
  return out;
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream f(p);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

using Clock = std::chrono::steady_clock;

class AppsTest : public ::testing::Test {
 protected:
  std::filesystem::path logs_ =
      std::filesystem::temp_directory_path() / ("mkn-apps-test-" + std::to_string(getpid()));
  void TearDown() override { std::filesystem::remove_all(logs_); }
  plan::StartApp App(config::AppKind kind, int port) {
    return plan::StartApp{"ns", "web-0", "echo", kind, *net::Ipv4::Parse("10.244.0.2"), port};
  }
  // An http-echo on a loopback port, started.
  int ServeHttpEcho(AppServer& server) {
    auto [fd, port] = Loopback(SOCK_STREAM);
    EXPECT_TRUE(
        server.Serve(AppSocket{App(config::AppKind::kHttpEcho, port), std::move(fd), Fd()}, "node1")
            .ok());
    server.Start();
    return port;
  }
};

TEST_F(AppsTest, HttpEchoAnswersWithPodAndClientAndKeepsAlive) {
  auto [fd, port] = Loopback(SOCK_STREAM);
  AppServer server(logs_.string());
  ASSERT_TRUE(
      server.Serve(AppSocket{App(config::AppKind::kHttpEcho, port), std::move(fd), Fd()}, "node1")
          .ok());
  server.Start();
  Fd c = Connect(SOCK_STREAM, port);
  for (int i = 0; i < 2; ++i) {  // two requests on one connection: keep-alive
    std::string req = "GET /path?q=" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::write(c.get(), req.data(), req.size()), static_cast<ssize_t>(req.size()));
    std::string resp = ReadUntil(c.get(), "request: GET /path?q=" + std::to_string(i) + "\n");
    EXPECT_NE(resp.find("HTTP/1.1 200 OK"), std::string::npos) << resp;
    EXPECT_NE(resp.find("X-Pod: web-0"), std::string::npos) << resp;
    EXPECT_NE(resp.find("pod: web-0\nnode: node1\npod_ip: 10.244.0.2\nclient: 127.0.0.1:"),
              std::string::npos)
        << resp;
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
  ASSERT_TRUE(
      server.Serve(AppSocket{App(config::AppKind::kHttpEcho, port), std::move(fd), Fd()}, "node1")
          .ok());
  server.Start();
  Fd c = Connect(SOCK_STREAM, port);
  std::string junk = "NOT HTTP AT ALL\r\n\r\n";
  ASSERT_GT(::write(c.get(), junk.data(), junk.size()), 0);
  char buf[64];
  EXPECT_EQ(::read(c.get(), buf, sizeof(buf)), 0);  // closed, no answer, no crash
  Fd again = Connect(SOCK_STREAM, port);            // and the server still serves
  std::string req = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_GT(::write(again.get(), req.data(), req.size()), 0);
  EXPECT_NE(ReadUntil(again.get(), "request: GET /\n").find("pod: web-0"), std::string::npos);
}

TEST_F(AppsTest, HttpEchoEchoesEachRequestHeaderInOrder) {
  AppServer server(logs_.string());
  Client c(ServeHttpEcho(server));
  c.Send(
      "GET /h HTTP/1.1\r\nHost: web.example\r\nX-Forwarded-For: 192.0.2.7, 10.0.0.1\r\n"
      "Forwarded: for=192.0.2.7;proto=https\r\nVia: 1.1 minikube-net\r\nX-Forwarded-Proto: "
      "https\r\n"
      "X-Empty:\r\n\r\n");
  Response r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(
                "request: GET /h\n"
                "header: host: web.example\n"
                "header: x-forwarded-for: 192.0.2.7, 10.0.0.1\n"
                "header: forwarded: for=192.0.2.7;proto=https\n"
                "header: via: 1.1 minikube-net\n"
                "header: x-forwarded-proto: https\n"
                "header: x-empty: \n"
                "body_bytes: 0\n"
                "body_sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(r.Header("X-Node"), "node1");
  EXPECT_EQ(r.Header("X-Request"), "GET /h");
}

TEST_F(AppsTest, HttpEchoHashesAChunkedUploadAndKeepsAlive) {
  AppServer server(logs_.string());
  Client c(ServeHttpEcho(server));
  // 50 MB in chunks of uneven sizes, so chunk boundaries fall anywhere in the server's pieces.
  std::string body(50'000'000, '\0');
  uint32_t x = 12345;
  for (char& b : body) {
    x = x * 1103515245 + 12345;
    b = static_cast<char>(x >> 24);
  }
  c.Send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  char size_line[32];
  for (size_t off = 0, i = 0; off < body.size(); ++i) {
    size_t n = std::min<size_t>(body.size() - off, 1 + (i * 7919) % 200000);
    c.Send(std::string_view(size_line, snprintf(size_line, sizeof(size_line), "%zx\r\n", n)));
    c.Send(std::string_view(body).substr(off, n));
    c.Send("\r\n");
    off += n;
  }
  c.Send("0\r\n\r\n");
  Response r = c.Read();
  EXPECT_EQ(r.status, 200);
  std::string want =
      "header: transfer-encoding: chunked\nbody_bytes: 50000000\nbody_sha256: " + Sha256Hex(body) +
      "\n";
  EXPECT_NE(r.body.find(want), std::string::npos) << r.body;
  // The same connection, a Content-Length body behind Expect: 100-continue.
  c.Send("PUT /again HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(c.Read(/*no_body=*/true).status, 100);
  c.Send("hello");
  r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("request: PUT /again\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("body_bytes: 5\nbody_sha256: " + Sha256Hex("hello") + "\n"),
            std::string::npos)
      << r.body;
}

TEST_F(AppsTest, HttpEchoBytesSendsExactlyTheCountedPattern) {
  AppServer server(logs_.string());
  Client c(ServeHttpEcho(server));
  c.Send("GET /bytes/10000000 HTTP/1.1\r\nHost: x\r\n\r\n");
  Response r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Length"), "10000000");
  EXPECT_EQ(r.Header("X-Pod"), "web-0");
  EXPECT_EQ(r.Header("X-Pod-IP"), "10.244.0.2");
  EXPECT_EQ(r.Header("X-Request"), "GET /bytes/10000000");
  ASSERT_EQ(r.body.size(), 10'000'000u);
  size_t bad = 0;
  for (size_t i = 0; i < r.body.size(); ++i)
    bad += static_cast<unsigned char>(r.body[i]) != i % 251;
  EXPECT_EQ(bad, 0u);
  // HEAD: the same Content-Length, no body; the next answer on the connection parses, so nothing
  // extra came.
  c.Send("HEAD /bytes/1000 HTTP/1.1\r\nHost: x\r\n\r\n");
  r = c.Read(/*no_body=*/true);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Length"), "1000");
  c.Send("GET /bytes/0 HTTP/1.1\r\nHost: x\r\n\r\n");
  r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  c.Send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  r = c.Read(/*no_body=*/true);
  EXPECT_EQ(r.status, 200);
  EXPECT_GT(std::stoul(r.Header("Content-Length")), 0u);
  c.Send("GET /bytes/17179869185 HTTP/1.1\r\nHost: x\r\n\r\n");  // 16 GiB + 1
  EXPECT_EQ(c.Read().status, 400);
  c.Send("POST /bytes/10 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(c.Read().status, 405);
  EXPECT_EQ(c.Unread(), 0u);
}

TEST_F(AppsTest, HttpEchoDelayWaitsWithoutBlockingOtherConnections) {
  AppServer server(logs_.string());
  int port = ServeHttpEcho(server);
  Client slow(port), fast(port), slower(port);
  auto start = Clock::now();
  slow.Send("GET /delay/200 HTTP/1.1\r\nHost: x\r\n\r\n");
  slower.Send("GET /delay/1500 HTTP/1.1\r\nHost: x\r\n\r\n");
  fast.Send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(fast.Read().status, 200);
  auto fast_done = Clock::now();
  Response r = slow.Read();
  auto slow_done = Clock::now();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("request: GET /delay/200\n"), std::string::npos) << r.body;
  EXPECT_GE(slow_done - start, std::chrono::milliseconds(200));
  // The io thread was free while both delays ran: the plain request did not wait for either.
  EXPECT_LT(fast_done - start, std::chrono::milliseconds(1000));
  EXPECT_EQ(slower.Unread(), 0u);
  EXPECT_EQ(slower.Read().status, 200);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(1500));
}

TEST_F(AppsTest, HttpEchoStatusAnswersWithThatCode) {
  AppServer server(logs_.string());
  Client c(ServeHttpEcho(server));
  c.Send("GET /status/503 HTTP/1.1\r\nHost: x\r\n\r\n");
  Response r = c.Read();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.head.substr(0, 34), "HTTP/1.1 503 Service Unavailable\r\n");
  EXPECT_NE(r.body.find("pod: web-0\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("request: GET /status/503\n"), std::string::npos) << r.body;
  c.Send("GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\n");  // no body, and the connection still works
                                                          // after it
  r = c.Read();
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.body, "");
  c.Send("GET /status/599 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.Read().status, 599);
  c.Send("GET /status/103 HTTP/1.1\r\nHost: x\r\n\r\n");  // an interim response, then the final one
  EXPECT_EQ(c.Read(/*no_body=*/true).status, 103);
  EXPECT_EQ(c.Read().status, 200);
  for (std::string bad : {"/status/99", "/status/600", "/status/5x3", "/delay/600001"}) {
    c.Send("GET " + bad + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(c.Read().status, 400) << bad;
  }
  c.Send("GET /status/404 HTTP/1.0\r\n\r\n");  // HTTP/1.0 without keep-alive: answered, then closed
  EXPECT_EQ(c.Read().status, 404);
  char buf[8];
  EXPECT_EQ(::read(c.fd(), buf, sizeof(buf)), 0);
  server.Stop();
  std::string log = ReadFile(logs_ / "web-0" / "echo.log");
  EXPECT_NE(log.find("GET /status/503 from 127.0.0.1:"), std::string::npos) << log;
  EXPECT_NE(log.find(" 503\n"), std::string::npos) << log;
  EXPECT_NE(log.find(" 404\n"), std::string::npos) << log;
}

TEST_F(AppsTest, HttpEchoStopPodEndsADelayAndAnUpload) {
  AppServer server(logs_.string());
  int port = ServeHttpEcho(server);
  Client waiting(port), uploading(port);
  waiting.Send("GET /delay/600000 HTTP/1.1\r\nHost: x\r\n\r\n");
  uploading.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nhalf");
  // Both requests are in the server (the plain one behind them is answered, on the same single io
  // thread).
  Client probe(port);
  probe.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(probe.Read().status, 200);
  auto start = Clock::now();
  ASSERT_TRUE(server.StopPod("web-0").ok());
  char buf[8];
  for (int fd : {waiting.fd(), uploading.fd()}) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << n << " " << strerror(errno);
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
}

TEST_F(AppsTest, HttpEchoStopClosesSuspendedSessions) {
  AppServer server(logs_.string());
  int port = ServeHttpEcho(server);
  Client waiting(port), uploading(port);
  waiting.Send("GET /delay/600000 HTTP/1.1\r\nHost: x\r\n\r\n");
  uploading.Send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhalf\r\n");
  Client probe(port);
  probe.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(probe.Read().status, 200);
  server.Stop();  // destroys the coroutines wherever they wait, and their sockets with them
  char buf[8];
  for (int fd : {waiting.fd(), uploading.fd(), probe.fd()}) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << n << " " << strerror(errno);
  }
}

// A DNS query for `name` (A, IN, RD) with id `id`, as a stub resolver sends it.
std::vector<uint8_t> DnsQuery(uint16_t id, const std::string& name) {
  std::vector<uint8_t> q = {
      static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + start, name.begin() + dot);
    start = dot + 1;
  }
  q.insert(q.end(), {0, 0, 1, 0, 1});
  return q;
}

// One datagram on `fd` within `ms`, with its sender; empty if none came.
std::vector<uint8_t> RecvWithin(int fd, int ms, sockaddr_in* from = nullptr) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, ms) != 1) return {};
  std::vector<uint8_t> buf(65536);
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&sa), &len);
  if (from) *from = sa;
  buf.resize(n > 0 ? n : 0);
  return buf;
}

// The cluster DNS relays a forwarded zone's query from its relay socket under an id of its own,
// and gives the client the upstream's answer under the client's id; an upstream that stays silent
// costs the client a SERVFAIL after the relay's timeout, not its own.
TEST_F(AppsTest, ClusterDnsRelaysAForwardedZoneAndAnswersServfailWhenUpstreamIsSilent) {
  auto [dns_fd, dns_port] = Loopback(SOCK_DGRAM);
  auto [relay_fd, relay_port] = Loopback(SOCK_DGRAM);
  auto [up_fd, up_port] = Loopback(SOCK_DGRAM);
  AppServer server(logs_.string());
  plan::StartApp app = App(config::AppKind::kDns, dns_port);
  app.protocol = config::Protocol::kUdp;
  auto zone = std::make_shared<dns::Zone>();
  zone->forwarders.push_back(
      {"example.test", *net::IpAddr::Parse("127.0.0.1"), static_cast<int>(up_port)});
  server.SetDnsZone(zone);
  ASSERT_TRUE(server.Serve(AppSocket{app, std::move(dns_fd), std::move(relay_fd)}, "node1").ok());
  server.Start();
  Fd client = Connect(SOCK_DGRAM, dns_port);

  std::vector<uint8_t> q = DnsQuery(0x1234, "www.example.test");
  ASSERT_EQ(::write(client.get(), q.data(), q.size()), static_cast<ssize_t>(q.size()));
  sockaddr_in from{};
  std::vector<uint8_t> relayed = RecvWithin(up_fd.get(), 5000, &from);
  ASSERT_EQ(relayed.size(), q.size());
  EXPECT_EQ(ntohs(from.sin_port), relay_port);  // from the relay's socket, not the server's
  EXPECT_TRUE(std::equal(q.begin() + 2, q.end(), relayed.begin() + 2));  // unchanged but its id
  std::vector<uint8_t> answer = relayed;
  answer[2] |= 0x80;  // QR: an answer (its body need not be more for the relay)
  answer.push_back(0x42);
  // A datagram from elsewhere with the right id is not taken for the answer.
  auto [stranger, stranger_port] = Loopback(SOCK_DGRAM);
  sockaddr_in relay_sa{};
  relay_sa.sin_family = AF_INET;
  relay_sa.sin_port = htons(static_cast<uint16_t>(relay_port));
  relay_sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<uint8_t> forged = answer;
  forged.back() = 0x66;
  ASSERT_GT(::sendto(stranger.get(), forged.data(), forged.size(), 0,
                     reinterpret_cast<sockaddr*>(&relay_sa), sizeof(relay_sa)),
            0);
  ASSERT_GT(::sendto(up_fd.get(), answer.data(), answer.size(), 0,
                     reinterpret_cast<sockaddr*>(&from), sizeof(from)),
            0);
  std::vector<uint8_t> got = RecvWithin(client.get(), 5000);
  ASSERT_EQ(got.size(), answer.size());
  EXPECT_EQ(got[0], 0x12);
  EXPECT_EQ(got[1], 0x34);
  EXPECT_TRUE(std::equal(answer.begin() + 2, answer.end(), got.begin() + 2));

  // The upstream says nothing: SERVFAIL (rcode 2) with the client's id, in about kForwardTimeout.
  std::vector<uint8_t> q2 = DnsQuery(0xbeef, "example.test");
  auto t0 = Clock::now();
  ASSERT_EQ(::write(client.get(), q2.data(), q2.size()), static_cast<ssize_t>(q2.size()));
  ASSERT_FALSE(RecvWithin(up_fd.get(), 5000).empty());
  std::vector<uint8_t> fail = RecvWithin(client.get(), 5000);
  auto waited = Clock::now() - t0;
  ASSERT_GE(fail.size(), 12u);
  EXPECT_EQ(fail[0], 0xbe);
  EXPECT_EQ(fail[1], 0xef);
  EXPECT_EQ(fail[3] & 0x0f, 2);
  EXPECT_GE(waited, std::chrono::milliseconds(1500));
  EXPECT_LT(waited, std::chrono::milliseconds(4500));
  EXPECT_EQ(server.DnsCounters().forwarded, 2u);
}

// A TCP connection to 127.0.0.1:port from `source` (another loopback address: another client).
Fd ConnectFrom(const char* source, int port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &sa.sin_addr);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0) << strerror(errno);
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0)
      << strerror(errno);
  return fd;
}

// One query over a DNS TCP connection; the answer's id, or -1 if the connection is closed (EOF)
// or says nothing within the socket's 5 s receive timeout.
int TcpDnsAsk(int fd, uint16_t id) {
  std::vector<uint8_t> q = DnsQuery(id, "web.default.svc.cluster.local");
  std::vector<uint8_t> framed = {static_cast<uint8_t>(q.size() >> 8),
                                 static_cast<uint8_t>(q.size())};
  framed.insert(framed.end(), q.begin(), q.end());
  if (::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(framed.size()))
    return -1;
  auto read_all = [fd](uint8_t* p, size_t want) {
    for (size_t got = 0; got < want;) {
      ssize_t n = ::read(fd, p + got, want - got);
      if (n <= 0) return false;
      got += static_cast<size_t>(n);
    }
    return true;
  };
  uint8_t len[2];
  if (!read_all(len, 2)) return -1;
  std::vector<uint8_t> answer(size_t{len[0]} << 8 | len[1]);
  if (answer.size() < 12 || !read_all(answer.data(), answer.size())) return -1;
  return answer[0] << 8 | answer[1];
}

// The attack pass held all 128 TCP slots from one pod. One client address gets 16 connections: its
// 17th closes its oldest idle one, and another client is still answered.
TEST_F(AppsTest, ClusterDnsTcpBoundsConnectionsPerClient) {
  auto [fd, port] = Loopback(SOCK_STREAM);
  ASSERT_EQ(::listen(fd.get(), 128), 0);  // room for the burst of connects below
  AppServer server(logs_.string());
  plan::StartApp app = App(config::AppKind::kDns, port);
  app.protocol = config::Protocol::kTcp;
  server.SetDnsZone(std::make_shared<dns::Zone>());
  ASSERT_TRUE(server.Serve(AppSocket{app, std::move(fd), Fd()}, "node1").ok());
  server.Start();

  constexpr int kHeld = 40;  // bounded: 2.5 times the per-client bound
  std::vector<Fd> held;
  for (int i = 0; i < kHeld; ++i) held.push_back(ConnectFrom("127.0.0.2", port));
  // The newest is answered, so every connection before it was admitted (accepts run in order).
  EXPECT_EQ(TcpDnsAsk(held.back().get(), 4000), 4000);
  for (int i = 0; i < kHeld - 16; ++i) {
    char c;
    EXPECT_EQ(::read(held[i].get(), &c, 1), 0) << "connection " << i << " should be closed";
  }
  for (int i = kHeld - 16; i < kHeld; ++i) {
    EXPECT_EQ(TcpDnsAsk(held[i].get(), static_cast<uint16_t>(i)), i) << "connection " << i;
  }
  // Another client address is not affected by the first one's connections.
  Fd other = ConnectFrom("127.0.0.3", port);
  EXPECT_EQ(TcpDnsAsk(other.get(), 0x4242), 0x4242);
  dns::Counters c = server.DnsCounters();
  EXPECT_EQ(c.tcp_evicted, static_cast<uint64_t>(kHeld - 16));
  EXPECT_EQ(c.tcp_refused, 0u);
}

TEST_F(AppsTest, TcpAndUdpEchoReturnWhatTheyGet) {
  auto [tfd, tport] = Loopback(SOCK_STREAM);
  auto [ufd, uport] = Loopback(SOCK_DGRAM);
  AppServer server(logs_.string());
  ASSERT_TRUE(
      server.Serve(AppSocket{App(config::AppKind::kTcpEcho, tport), std::move(tfd), Fd()}, "node1")
          .ok());
  ASSERT_TRUE(
      server.Serve(AppSocket{App(config::AppKind::kUdpEcho, uport), std::move(ufd), Fd()}, "node1")
          .ok());
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
  ASSERT_TRUE(
      server.Serve(AppSocket{App(config::AppKind::kTcpEcho, port), std::move(fd), Fd()}, "node1")
          .ok());
  server.Start();
  Fd open_conn = Connect(SOCK_STREAM, port);
  server.Stop();
  char buf[8];
  // The server side is gone: an orderly close if it had accepted, a reset if it was still in the
  // backlog (a timeout, EAGAIN, would mean it is still open).
  ssize_t n = ::read(open_conn.get(), buf, sizeof(buf));
  EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << n << " " << strerror(errno);
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(::connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)),
            0);  // and the listener
}

}  // namespace
}  // namespace mkn::vnet
