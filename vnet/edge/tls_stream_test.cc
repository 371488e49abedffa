// vnet/edge/tls_stream: TlsStream as the edge's server side of real TLS connections on loopback
// (port 0) against a blocking OpenSSL client on a thread: the handshake, the hot path (ReadSomeNow,
// WriteNow, a write larger than the socket takes at once), Beast's algorithms over its stream
// concepts, and the errors a server must tell apart (close_notify, a cut TCP stream, not TLS).
// Certificates from vnet/edge/tls in a temp dir; no privileges.
#include "vnet/edge/tls_stream.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/ssl/error.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "vnet/edge/message_io.h"
#include "vnet/edge/tls.h"

namespace mkn::vnet::edge_internal {
namespace {

constexpr std::chrono::seconds kDeadline{5};  // no single wait in a test may take longer

// A blocking TLS client on 127.0.0.1:`port`, as curl would be (OpenSSL directly), its receives
// bounded by kDeadline.
class TlsClient {
 public:
  TlsClient(int port, const std::string& ca_pem) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{kDeadline.count(), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, ca_pem.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "edge.test");
    SSL_set1_host(ssl_, "edge.test");
  }
  ~TlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
    ERR_clear_error();
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool Handshake() { return connected_ && SSL_connect(ssl_) == 1; }
  bool Write(std::string_view s) {
    return SSL_write(ssl_, s.data(), static_cast<int>(s.size())) == static_cast<int>(s.size());
  }
  // Up to `n` bytes: fewer at the end of the stream or on an error.
  std::string Read(size_t n) {
    std::string out;
    char buf[16384];
    while (out.size() < n) {
      const int r = SSL_read(ssl_, buf, static_cast<int>(std::min(sizeof(buf), n - out.size())));
      if (r <= 0) break;
      out.append(buf, static_cast<size_t>(r));
    }
    return out;
  }
  // What comes until `end` has come (or the stream ends or fails).
  std::string ReadUntil(std::string_view end) {
    std::string out;
    char buf[4096];
    while (out.find(end) == std::string::npos) {
      const int r = SSL_read(ssl_, buf, sizeof(buf));
      if (r <= 0) break;
      out.append(buf, static_cast<size_t>(r));
    }
    return out;
  }
  // Sends close_notify, then waits for the server's (or the end of its stream).
  void CloseNotify() {
    if (SSL_shutdown(ssl_) == 0) SSL_shutdown(ssl_);
  }
  // The end of the TCP stream (a FIN: close(2) with the server's session tickets unread would
  // reset), with no close_notify.
  void EndTcp() { ::shutdown(fd_, SHUT_WR); }
  // Plain bytes on the TCP connection, no TLS.
  void SendPlain(std::string_view s) { (void)!::send(fd_, s.data(), s.size(), MSG_NOSIGNAL); }

 private:
  int fd_ = -1;
  bool connected_ = false;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

// A server context for "edge.test" from a fresh local CA, a loopback listener on port 0, and the
// io_context the server side runs on (this thread).
class TlsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // As minikube-net does: the client's OpenSSL writes an alert to a connection the server has
    // closed.
    signal(SIGPIPE, SIG_IGN);
    std::string tmpl = std::filesystem::temp_directory_path() / "mkn-tls-stream-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    absl::StatusOr<LocalCa> ca = CreateOrLoadCa(dir_ + "/ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_pem_ = ca->cert_path;
    auto files = IssueCert(*ca, {"edge.test"}, dir_, "edge");
    ASSERT_TRUE(files.ok()) << files.status();
    config::TlsCertSpec spec;
    spec.hosts = {"edge.test"};
    spec.cert = files->first;
    spec.key = files->second;
    absl::StatusOr<std::shared_ptr<SSL_CTX>> ctx = ServerContext({spec});
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    ctx_ = *ctx;
    acceptor_.emplace(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    port_ = acceptor_->local_endpoint().port();
  }
  void TearDown() override {
    acceptor_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Runs `server` on the next accepted connection (a TlsStream after its handshake, as the edge's
  // Serve makes it) while `client` runs on a thread; returns the handshake's error.
  template <class Server, class Client>
  beast::error_code Run(Server server, Client client) {
    beast::error_code handshake;
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
          Socket s = co_await acceptor_->async_accept(use_awaitable);
          s.non_blocking(true);
          TlsStream t(TcpStream(std::move(s)), ctx_.get());
          beast::get_lowest_layer(t).expires_after(kDeadline);
          handshake = co_await t.Handshake();
          beast::get_lowest_layer(t).expires_never();
          if (!handshake) co_await server(t);
        },
        asio::detached);
    std::thread c([&] { client(); });
    io_.run_for(2 * kDeadline);
    c.join();
    return handshake;
  }

  std::string dir_, ca_pem_;
  std::shared_ptr<SSL_CTX> ctx_;
  asio::io_context io_;
  std::optional<Acceptor> acceptor_;
  int port_ = 0;
};

TEST_F(TlsStreamTest, HotPathReadsAndWritesAndCloseNotifyIsEndOfStream) {
  const std::string big(300 * 1024, 'z');  // more than one record, more than one send
  std::string got, echoed;
  beast::error_code read_ec, write_ec, eof_ec, shutdown_ec;
  bool served = false;
  beast::error_code hs = Run(
      [&](TlsStream& t) -> awaitable<void> {
        char buf[64];
        size_t n = co_await t.ReadSomeNow(asio::buffer(buf), read_ec);
        got.assign(buf, n);
        write_ec = co_await t.WriteNow(big);
        n = co_await t.ReadSomeNow(asio::buffer(buf), eof_ec);
        beast::get_lowest_layer(t).expires_after(kDeadline);
        shutdown_ec = co_await t.Shutdown();
        served = true;
      },
      [&] {
        TlsClient c(port_, ca_pem_);
        ASSERT_TRUE(c.Handshake());
        ASSERT_TRUE(c.Write("ping"));
        echoed = c.Read(big.size());
        c.CloseNotify();
      });
  ASSERT_FALSE(hs) << hs.message();
  ASSERT_TRUE(served);
  EXPECT_FALSE(read_ec) << read_ec.message();
  EXPECT_EQ(got, "ping");
  EXPECT_FALSE(write_ec) << write_ec.message();
  EXPECT_EQ(echoed.size(), big.size());
  EXPECT_EQ(echoed, big);
  EXPECT_EQ(eof_ec, asio::error::eof);  // the client's close_notify
  EXPECT_FALSE(shutdown_ec) << shutdown_ec.message();
}

TEST_F(TlsStreamTest, BeastsAlgorithmsRunOverItsStreamConcepts) {
  std::string first_target, second_target, second_host, answer;
  beast::error_code read_ec, write_ec, parse_ec;
  bool served = false;
  beast::error_code hs = Run(
      [&](TlsStream& t) -> awaitable<void> {
        // AsyncReadStream and AsyncWriteStream (our own answers, streamed bodies, 100-continue).
        beast::flat_buffer buf;
        http::request<http::string_body> req;
        co_await http::async_read(t, buf, req, asio::redirect_error(use_awaitable, read_ec));
        first_target = std::string(req.target());
        http::response<http::string_body> res{http::status::ok, 11};
        res.body() = "first";
        res.prepare_payload();
        co_await http::async_write(t, res, asio::redirect_error(use_awaitable, write_ec));
        // SyncReadStream (read_some stops with would_block): the hot path's synchronous parse,
        // then the rest awaited, as ProxySession reads a request head.
        http::request_parser<http::empty_body> p;
        if (!ParseBuffered(t, buf, p, true, parse_ec))
          co_await ReadAsync(t, buf, p, true, parse_ec);
        second_target = std::string(p.get().target());
        second_host = std::string(p.get()[http::field::host]);
        beast::get_lowest_layer(t).expires_after(kDeadline);
        co_await t.Shutdown();
        served = true;
      },
      [&] {
        TlsClient c(port_, ca_pem_);
        ASSERT_TRUE(c.Handshake());
        ASSERT_TRUE(c.Write("GET /one HTTP/1.1\r\nHost: a.test\r\n\r\n"));
        answer = c.ReadUntil("\r\n\r\nfirst");
        // The next request head in two records: the parse needs the second.
        ASSERT_TRUE(c.Write("GET /two HTTP/1.1\r\n"));
        ASSERT_TRUE(c.Write("Host: b.test\r\n\r\n"));
        c.CloseNotify();
      });
  ASSERT_FALSE(hs) << hs.message();
  ASSERT_TRUE(served);
  EXPECT_FALSE(read_ec) << read_ec.message();
  EXPECT_EQ(first_target, "/one");
  EXPECT_FALSE(write_ec) << write_ec.message();
  EXPECT_NE(answer.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << answer;
  EXPECT_FALSE(parse_ec) << parse_ec.message();
  EXPECT_EQ(second_target, "/two");
  EXPECT_EQ(second_host, "b.test");
}

TEST_F(TlsStreamTest, AnEndOfTheTcpStreamWithoutCloseNotifyIsTruncation) {
  beast::error_code ec;
  bool served = false;
  beast::error_code hs = Run(
      [&](TlsStream& t) -> awaitable<void> {
        char buf[16];
        co_await t.ReadSomeNow(asio::buffer(buf), ec);
        served = true;
      },
      [&] {
        TlsClient c(port_, ca_pem_);
        ASSERT_TRUE(c.Handshake());
        c.EndTcp();
        c.Read(1);  // until the server closes
      });
  ASSERT_FALSE(hs) << hs.message();
  ASSERT_TRUE(served);
  EXPECT_EQ(ec, asio::ssl::error::stream_truncated) << ec.message();
}

TEST_F(TlsStreamTest, APlainHttpClientFailsTheHandshakeWithAnSslError) {
  beast::error_code hs = Run([&](TlsStream&) -> awaitable<void> { co_return; },
                             [&] {
                               TlsClient c(port_, ca_pem_);
                               c.SendPlain("GET / HTTP/1.1\r\nHost: edge.test\r\n\r\n");
                             });
  ASSERT_TRUE(hs);
  EXPECT_EQ(&hs.category(), &asio::error::get_ssl_category()) << hs.message();
}

}  // namespace
}  // namespace mkn::vnet::edge_internal
