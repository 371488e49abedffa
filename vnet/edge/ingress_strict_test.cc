// The edge server's HTTP/1.1 strictness (vnet/edge/ingress, lib/ingress/request_head): raw request
// bytes in, the status and the exact number of responses out. A desync shows as two responses to
// what the edge must treat as one request (or as a request reaching the backend that must not).
// Each row says who refuses it: "Beast" (Beast 1.74's parser does already, checked here so an
// upgrade that stops doing it fails a test) or "edge" (the edge's own checks). Then what an
// accepted hostile target is forwarded as. Fixtures: ingress_test_util.h.
#include <gtest/gtest.h>

#include "vnet/edge/ingress_test_util.h"

namespace mkn::vnet::ingress_test {
namespace {

struct Row {
  const char* who;   // "Beast" or "edge"
  const char* what;  // the case
  std::string bytes;
  int status;
};

// Every response the server sends on `c` until it closes (or the deadline passes).
std::vector<Message> ReadAll(Conn& c) {
  std::vector<Message> out;
  while (std::optional<Message> m = ReadMessage(c, true)) out.push_back(std::move(*m));
  return out;
}

// The smuggled request that follows a body the edge must not mis-frame: if the edge reads the
// body as a request of its own, it answers twice.
constexpr char kNul[] = "GET / HTTP/1.1\r\nHost: app.test\r\nX: a\0b\r\n\r\n";

constexpr char kSmuggled[] = "GET /smuggled HTTP/1.1\r\nHost: app.test\r\n\r\n";

void ExpectOneAnswerThenClose(Conn& c, const Row& r) {
  ASSERT_TRUE(c.Send(r.bytes));
  std::vector<Message> got = ReadAll(c);
  ASSERT_EQ(got.size(), 1u) << "responses: " << (got.empty() ? "none" : got.back().start);
  EXPECT_EQ(got[0].status(), r.status) << got[0].Dump() << got[0].body;
  if (absl::StartsWith(got[0].start, "HTTP/1.1")) {  // (an HTTP/1.0 answer closes by default)
    EXPECT_EQ(absl::AsciiStrToLower(got[0].Get("connection")), "close") << got[0].Dump();
  } else {
    EXPECT_EQ(got[0].Count("connection"), 0) << got[0].Dump();
  }
  EXPECT_TRUE(c.closed()) << "the server must close after refusing a request it cannot frame";
}

TEST_F(IngressServerTest, HeadsThatCannotBeTrustedAreRefusedOnceAndClose) {
  Start(Answering("never"));
  const std::string post = "POST / HTTP/1.1\r\nHost: app.test\r\n";
  const Row rows[] = {
      // --- Transfer-Encoding (RFC 9112 §6): the desyncs
      {"edge", "chunked, identity: chunked not final, the body smuggles a request",
       post + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + kSmuggled, 400},
      {"edge", "identity with a Content-Length (Beast takes the length)",
       post + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello" + kSmuggled, 400},
      {"edge", "gzip alone: no chunked at all",
       post + "Transfer-Encoding: gzip\r\n\r\n" + kSmuggled, 400},
      {"edge", "chunked then identity in two fields",
       post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" +
           kSmuggled,
       400},
      {"edge", "gzip, chunked: a coding the edge does not implement",
       post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
      {"edge", "chunked in an HTTP/1.0 request",
       "POST / HTTP/1.0\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"Beast", "chunked twice in two fields",
       post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"Beast", "Content-Length then chunked",
       post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + kSmuggled, 400},
      {"Beast", "chunked then Content-Length",
       post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + kSmuggled, 400},
      {"Beast", "a signed Content-Length", post + "Content-Length: +5\r\n\r\nhello", 400},
      // --- Host (RFC 9112 §3.2)
      {"edge", "two Host fields", "GET / HTTP/1.1\r\nHost: app.test\r\nHost: empty.test\r\n\r\n",
       400},
      {"edge", "HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 400},
      {"edge", "a Host that is not host[:port]", "GET / HTTP/1.1\r\nHost: app.test/x\r\n\r\n", 400},
      {"Beast", "a space before the colon", "GET / HTTP/1.1\r\nHost : app.test\r\n\r\n", 400},
      // --- the request line
      {"edge", "CONNECT", "CONNECT app.test:443 HTTP/1.1\r\nHost: app.test:443\r\n\r\n", 501},
      {"edge", "OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: app.test\r\n\r\n", 501},
      // Beast refuses every version but 1.0 and 1.1 as bad_version (lib/ingress's 505 for them is
      // a second line of defence that Beast 1.74 leaves unreached).
      {"Beast", "HTTP/2.0 in an HTTP/1 request line", "GET / HTTP/2.0\r\nHost: app.test\r\n\r\n",
       400},
      {"edge", "absolute-form with userinfo",
       "GET http://user@app.test/ HTTP/1.1\r\nHost: app.test\r\n\r\n", 400},
      {"edge", "a fragment in the target", "GET /a#b HTTP/1.1\r\nHost: app.test\r\n\r\n", 400},
      {"edge", "a broken escape in the path", "GET /a%zz HTTP/1.1\r\nHost: app.test\r\n\r\n", 400},
      {"edge", "a relative target", "GET a/b HTTP/1.1\r\nHost: app.test\r\n\r\n", 400},
      {"Beast", "two spaces in the request line", "GET  / HTTP/1.1\r\nHost: app.test\r\n\r\n", 400},
      {"Beast", "a bare LF ending a line", "GET / HTTP/1.1\nHost: app.test\r\n\r\n", 400},
      {"Beast", "HTTP/1.1 with letters after it", "GET / HTTP/1.1x\r\nHost: app.test\r\n\r\n", 400},
      {"Beast", "a NUL in a value", std::string(kNul, sizeof(kNul) - 1), 400},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(absl::StrCat(r.who, ": ", r.what));
    Conn c = Client();
    ExpectOneAnswerThenClose(c, r);
  }
  EXPECT_EQ(backend_->connections(), 0) << "a refused head must not reach the backend";
}

// Many small fields stay within header_bytes; past the field count (Envoy's default, 100) they are
// a 431, not a request the backend's parser then refuses (a 502).
TEST_F(IngressServerTest, ThreeThousandSmallHeadersAre431) {
  Start(Answering("ok"));
  std::string many = "GET / HTTP/1.1\r\nHost: app.test\r\n";
  for (int i = 0; i < 3000; ++i) many += "a:b\r\n";  // 15 000 bytes: under the 16 KiB limit
  many += "\r\n";
  Conn c = Client();
  ExpectOneAnswerThenClose(c, {"edge", "3000 fields", many, 431});
  std::string hundred = "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n";
  for (int i = 0; i < 98; ++i) hundred += "a:b\r\n";  // 100 fields with Host and Connection
  hundred += "\r\n";
  Conn ok = Client();
  ExpectOneAnswerThenClose(ok, {"edge", "100 fields", hundred, 200});
  EXPECT_EQ(backend_->WaitRequests(1).size(), 1u);
}

// A body that breaks its chunked framing after the head went upstream: 400 to the client (the
// client's fault, not the backend's 502), one answer, and the connection closes.
TEST_F(IngressServerTest, BadChunkedBodiesAre400Not502) {
  Start(Answering("ok"));
  const std::string head =
      "POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n";
  const Row rows[] = {
      {"Beast", "a chunk size over 64 bits", head + "10000000000000000\r\nabc\r\n0\r\n\r\n", 400},
      {"Beast", "a chunk size that is not hex", head + "zz\r\nabc\r\n0\r\n\r\n", 400},
      {"Beast", "a bad chunk extension", head + "3;=x\r\nabc\r\n0\r\n\r\n", 400},
      {"Beast", "chunk data longer than its size", head + "3\r\nabcdef\r\n0\r\n\r\n" + kSmuggled,
       400},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(absl::StrCat(r.who, ": ", r.what));
    Conn c = Client();
    ExpectOneAnswerThenClose(c, r);
  }
  {
    // A client gone mid-body is no backend failure either: nothing to answer, counted as 4xx.
    Conn c = Client();
    ASSERT_TRUE(c.Send(head + "a\r\n01234"));
    ::shutdown(c.fd(), SHUT_WR);
    EXPECT_TRUE(c.DrainToClose());
    EXPECT_EQ(c.buf(), "") << "no answer to a client that left";
  }
  // The counters say it was the clients: 4 answers of 400 and the one that left, no 5xx. (The
  // count of the last one lands when the edge sees the reset: wait for it, with a deadline.)
  auto route = [&] {
    for (const IngressRouteStats& s : server_->Stats()) {
      if (s.route == "http_route/app/1") return s;
    }
    return IngressRouteStats{};
  };
  const auto until = Clock::now() + kDeadline;
  while (route().status[4] < 5 && Clock::now() < until)
    std::this_thread::sleep_for(milliseconds(1));
  EXPECT_EQ(route().status[4], 5u);
  EXPECT_EQ(route().status[5], 0u);
}

// Sends `head`, then `line` over and over (at most `max` bytes) until the server answers or
// closes; returns how many bytes of lines went before that (`max` if it never did).
size_t SendUntilAnswered(Conn& c, const std::string& head, const std::string& line, size_t max) {
  EXPECT_TRUE(c.Send(head));
  size_t sent = 0;
  while (sent < max) {
    pollfd p{c.fd(), POLLIN | POLLOUT, 0};
    if (::poll(&p, 1, 2000) <= 0) break;  // neither readable nor writable: the server holds it
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) return sent;
    ssize_t n = ::send(c.fd(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return sent;  // reset: the server gave up on the request
    sent += static_cast<size_t>(n);
  }
  return max;
}

// Beast bounds neither a chunk's size line (its extensions) nor the trailers; the edge's buffer
// does. Without that bound both were read into memory whole (64 MiB of extensions got a 200).
TEST_F(IngressServerTest, HugeChunkExtensionsAndTrailersAreRefusedEarly) {
  Start(Answering("ok"));
  const std::string head =
      "POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string ext(1024, 'e');
  const std::string trailer = "x-t: " + std::string(1019, 't') + "\r\n";
  constexpr size_t kMax = 8 << 20;
  struct Case {
    const char* what;
    std::string head, line;
  } cases[] = {
      {"a chunk extension that never ends", head + "3;a=", ext},
      {"trailers that never end", head + "3\r\nabc\r\n0\r\n", trailer},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    Conn c = Client();
    const size_t sent = SendUntilAnswered(c, k.head, k.line, kMax);
    // Socket buffers hold a few hundred KiB on loopback; the server's own buffer is 80 KiB.
    EXPECT_LT(sent, size_t{4} << 20) << "the edge kept reading what it cannot bound";
    std::vector<Message> got = ReadAll(c);
    if (!got.empty()) {
      EXPECT_EQ(got[0].status(), 400) << got[0].Dump() << got[0].body;
    }
    EXPECT_TRUE(c.closed());
  }
}

// What an accepted hostile target becomes: routed and forwarded by the normalized path, in
// origin-form, with the absolute-form's authority as Host.
TEST_F(IngressServerTest, TargetsAreForwardedNormalized) {
  Start(Answering("ok"));
  struct Case {
    const char* what;
    std::string request;
    std::string upstream_line, upstream_host;
  } cases[] = {
      {"dot-segments and %2e", "GET /a/./b/%2e%2e/c?q=/../x HTTP/1.1\r\nHost: app.test\r\n\r\n",
       "GET /a/c?q=/../x HTTP/1.1", "app.test"},
      {"merged slashes, unreserved escapes decoded",
       "GET //x//%7euser HTTP/1.1\r\nHost: app.test\r\n\r\n", "GET /x/~user HTTP/1.1", "app.test"},
      {"absolute-form: its authority overrides Host",
       "GET http://app.test/abs?x=1 HTTP/1.1\r\nHost: empty.test\r\n\r\n", "GET /abs?x=1 HTTP/1.1",
       "app.test"},
      {"absolute-form without a path", "GET http://APP.test HTTP/1.1\r\nHost: empty.test\r\n\r\n",
       "GET / HTTP/1.1", "APP.test"},
      {"an already normal path is forwarded byte for byte",
       "GET /a%2Fb/c.d?e HTTP/1.1\r\nHost: app.test\r\n\r\n", "GET /a%2Fb/c.d?e HTTP/1.1",
       "app.test"},
  };
  Conn c = Client();
  size_t n = 0;
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    Message res = Roundtrip(c, k.request);
    EXPECT_EQ(res.status(), 200) << res.body;
    std::vector<Message> got = backend_->WaitRequests(++n);
    ASSERT_EQ(got.size(), n);
    EXPECT_EQ(got.back().start, k.upstream_line);
    EXPECT_EQ(got.back().Get("host"), k.upstream_host) << got.back().Dump();
    EXPECT_EQ(got.back().Count("host"), 1) << got.back().Dump();
    EXPECT_EQ(got.back().Get("x-forwarded-host"), k.upstream_host) << got.back().Dump();
  }
}

}  // namespace
}  // namespace mkn::vnet::ingress_test
