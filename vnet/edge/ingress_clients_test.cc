// The edge server against bad and slow clients (vnet/edge/ingress): malformed requests 400, a
// header over the limit 431, a body over the limit 413 (by Content-Length and chunked), and
// clients cut at the header timeout, on a first and on a kept connection, while others are
// served. Fixtures: ingress_test_util.h.
#include <gtest/gtest.h>

#include "vnet/edge/ingress_test_util.h"

namespace mkn::vnet::ingress_test {
namespace {

TEST_F(IngressServerTest, MalformedRequestsAre400AndClose) {
  Start(Answering("never"));
  struct Case {
    const char* what;
    const char* bytes;
  } cases[] = {
      {"not HTTP at all", "HELLO\r\n\r\n"},
      {"request line without a version", "GET /\r\nHost: app.test\r\n\r\n"},
      {"a space in the method", "G T / HTTP/1.1\r\nHost: app.test\r\n\r\n"},
      {"a header line without a colon", "GET / HTTP/1.1\r\nHost app.test\r\n\r\n"},
      {"a Content-Length that is not a number",
       "POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: ten\r\n\r\n"},
      {"two different Content-Lengths",
       "POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    Conn c = Client();
    Message res = Roundtrip(c, k.bytes);
    EXPECT_EQ(res.start, "HTTP/1.1 400 Bad Request");
    EXPECT_TRUE(absl::StartsWith(res.body, "bad request: ")) << res.body;
    EXPECT_EQ(absl::AsciiStrToLower(res.Get("connection")), "close");
    EXPECT_TRUE(c.DrainToClose()) << "the server must close after a 400";
    EXPECT_EQ(c.buf(), "") << "nothing may follow the 400";
  }
  EXPECT_EQ(backend_->connections(), 0) << "a malformed request must not reach the backend";
}

TEST_F(IngressServerTest, HeaderOverTheLimitIs431) {
  IngressLimits lim = TestLimits();
  lim.header_bytes = 1024;
  Start(Answering("ok"), lim);
  {
    Conn c = Client();  // within the limit: served, so the limit (not the header) causes the 431
    Message res = Roundtrip(c, absl::StrCat("GET / HTTP/1.1\r\nHost: app.test\r\nX-Big: ",
                                            std::string(600, 'a'), "\r\n\r\n"));
    EXPECT_EQ(res.status(), 200);
  }
  Conn c = Client();
  Message res = Roundtrip(c, absl::StrCat("GET / HTTP/1.1\r\nHost: app.test\r\nX-Big: ",
                                          std::string(2000, 'a'), "\r\n\r\n"));
  EXPECT_EQ(res.start, "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_EQ(absl::AsciiStrToLower(res.Get("connection")), "close");
  EXPECT_TRUE(c.DrainToClose());
  EXPECT_EQ(backend_->WaitRequests(1).size(), 1u)
      << "only the request within the limit reaches the backend";
}

TEST_F(IngressServerTest, BodyOverTheLimitIs413WithContentLength) {
  IngressLimits lim = TestLimits();
  lim.body_bytes = 1024;
  Start(Answering("ok"), lim);
  {
    Conn c = Client();  // exactly the limit passes
    Message res = Roundtrip(
        c, absl::StrCat("POST /up HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1024\r\n\r\n",
                        std::string(1024, 'b')));
    EXPECT_EQ(res.status(), 200);
    std::vector<Message> got = backend_->WaitRequests(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body, std::string(1024, 'b'));
  }
  Conn c = Client();
  Message res = Roundtrip(
      c, absl::StrCat("POST /up HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4096\r\n\r\n",
                      std::string(4096, 'b')));
  EXPECT_EQ(res.start, "HTTP/1.1 413 Payload Too Large") << res.body;
  EXPECT_EQ(absl::AsciiStrToLower(res.Get("connection")), "close");
  EXPECT_TRUE(c.DrainToClose());
  EXPECT_EQ(backend_->connections(), 1)
      << "a body announced over the limit must not reach the backend";
}

TEST_F(IngressServerTest, BodyOverTheLimitIs413Chunked) {
  IngressLimits lim = TestLimits();
  lim.body_bytes = 1024;
  Start(Answering("ok"), lim);
  std::string body;
  for (int i = 0; i < 8; ++i)
    absl::StrAppend(&body, "200\r\n", std::string(512, 'c'), "\r\n");  // 4 KiB
  body += "0\r\n\r\n";
  Conn c = Client();
  Message res = Roundtrip(
      c, absl::StrCat("POST /up HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n",
                      body));
  EXPECT_EQ(res.start, "HTTP/1.1 413 Payload Too Large") << res.body;
  EXPECT_EQ(absl::AsciiStrToLower(res.Get("connection")), "close");
  EXPECT_TRUE(c.DrainToClose());
}

TEST_F(IngressServerTest, SlowClientIsCutAtTheHeaderTimeoutWhileOthersAreServed) {
  IngressLimits lim = TestLimits();
  lim.header_timeout = milliseconds(300);
  Start(Answering("fast"), lim);
  const auto t0 = Clock::now();
  Conn slow = Client();
  ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\nHost: app.test\r\n"));
  // A byte every 50 ms: each one is progress, none completes the header. The header timeout is
  // for the whole header, so the dribble must not extend it.
  const std::string dribble = "X-Slow: " + std::string(200, 'z');
  bool fast_served = false;
  for (size_t i = 0; !slow.closed() && !slow.timed_out(); ++i) {
    if (!slow.ReadSome(milliseconds(50)) && !slow.closed()) {
      ASSERT_LT(i, dribble.size())
          << "the server kept a slowloris client for "
          << std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count() << " ms";
      slow.Send(std::string_view(&dribble[i], 1));
    }
    if (!fast_served && i == 2) {  // meanwhile, another client is served at once
      Conn fast = Client();
      Message res = Roundtrip(fast, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n");
      EXPECT_EQ(res.status(), 200);
      EXPECT_EQ(res.body, "fast");
      fast_served = true;
      EXPECT_FALSE(slow.closed());
    }
  }
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  EXPECT_TRUE(fast_served);
  EXPECT_TRUE(slow.closed()) << "the slow client was not cut within " << kDeadline.count() << " ms";
  EXPECT_GE(took.count(), 250) << "cut before the header timeout";
  EXPECT_LT(took.count(), 1500) << "cut long after the 300 ms header timeout";
  EXPECT_EQ(slow.buf(), "")
      << "the server closes a client that never finished its header without an answer";
  EXPECT_EQ(backend_->connections(), 1) << "only the fast client reaches the backend";
}

// One fast request first must not buy a slow client the idle timeout for its next header: once the
// next request has begun, its header is due within header_timeout too.

TEST_F(IngressServerTest, SlowSecondRequestIsCutAtTheHeaderTimeout) {
  IngressLimits lim = TestLimits();
  lim.header_timeout = milliseconds(300);
  lim.idle_timeout = milliseconds(2500);
  Start(Answering("fast"), lim);
  Conn slow = Client();
  Message res = Roundtrip(slow, "GET /first HTTP/1.1\r\nHost: app.test\r\n\r\n");
  ASSERT_EQ(res.status(), 200);
  const auto t0 = Clock::now();
  ASSERT_TRUE(slow.Send("GET /second HTTP/1.1\r\nHost: app.test\r\n"));
  const std::string dribble = "X-Slow: " + std::string(200, 'z');
  for (size_t i = 0; !slow.closed() && !slow.timed_out() && i < dribble.size(); ++i) {
    if (!slow.ReadSome(milliseconds(50)) && !slow.closed())
      slow.Send(std::string_view(&dribble[i], 1));
  }
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  EXPECT_TRUE(slow.closed()) << "the slow second header was not cut within " << kDeadline.count()
                             << " ms";
  EXPECT_GE(took.count(), 250) << "cut before the header timeout";
  EXPECT_LT(took.count(), 1500)
      << "cut at " << took.count()
      << " ms: the idle timeout (2500 ms), not the header timeout (300 ms), ran";
  EXPECT_EQ(slow.buf(), "");
}

// A pooled upstream connection the backend closed meanwhile: the request (no body) is retried once
// on a fresh connection, and the client never sees the stale one.

}  // namespace
}  // namespace mkn::vnet::ingress_test
