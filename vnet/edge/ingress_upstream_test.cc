// The edge server against upstreams that fail (vnet/edge/ingress): a stale pooled connection
// retried once on a fresh one, a reset before any answer 502, a reset in the middle of a body that
// cuts the client, a silent backend 504 after the listener's upstream timeout. Fixtures:
// ingress_test_util.h.
#include <gtest/gtest.h>

#include "vnet/edge/ingress_test_util.h"

namespace mkn::vnet::ingress_test {
namespace {

TEST_F(IngressServerTest, StalePooledConnectionIsRetriedOnAFreshOne) {
  Start([](Backend& b, Conn& c) {
    std::optional<Message> m = ReadMessage(c, false);
    if (!m) return;
    b.Record(*m);
    // Says keep-alive, then closes anyway (a backend's own idle timeout, a restart).
    c.Send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  Conn c = Client();
  for (const char* path : {"/one", "/two"}) {
    Message res = Roundtrip(c, absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: app.test\r\n\r\n"));
    EXPECT_EQ(res.status(), 200) << path << ": " << res.body;
    EXPECT_EQ(res.body, "ok") << path;
  }
  std::vector<Message> got = backend_->WaitRequests(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].start, "GET /two HTTP/1.1");
  EXPECT_EQ(backend_->connections(), 2);
}

// The table of answers the server gives itself, all on one keep-alive client connection: each is
// followed by a request that is proxied, so the connection is still usable after it.

TEST_F(IngressServerTest, UpstreamResetBeforeAnsweringIs502) {
  Start([](Backend& b, Conn& c) {
    if (std::optional<Message> m = ReadMessage(c, false)) b.Record(*m);
    Reset(c.raw());
  });
  Conn c = Client();
  Message res = Roundtrip(c, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n");
  EXPECT_EQ(res.status(), 502) << res.start;
  EXPECT_TRUE(
      absl::StrContains(res.body, absl::StrCat("upstream 127.0.0.1:", backend_->port(), ": ")))
      << res.body;
  EXPECT_EQ(backend_->WaitRequests(1).size(), 1u);
}

TEST_F(IngressServerTest, UpstreamResetMidBodyCutsTheClient) {
  struct Case {
    const char* what;
    std::string head;
    std::string partial;
  } cases[] = {
      {"Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",
       std::string(1000, 'd')},
      {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
       absl::StrCat("3e8\r\n", std::string(1000, 'd'), "\r\n")},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    Start([&k](Backend& b, Conn& c) {
      std::optional<Message> m = ReadMessage(c, false);
      if (!m) return;
      c.Send(k.head + k.partial);
      // Reset only once the client holds the part: the test is about a cut, not a lost answer.
      if (b.WaitSignal("client has the part")) Reset(c.raw());
    });
    Conn c = Client();
    ASSERT_TRUE(c.Send("GET /big HTTP/1.1\r\nHost: app.test\r\n\r\n"));
    std::optional<Message> head = ReadMessage(c, true, /*head_only=*/true);
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status(), 200);
    if (std::string(k.what) == "chunked") {
      // The server may cut the piece into chunks of its own: decode, signal once all of it came.
      std::string body;
      bool complete = ReadChunked(c, body, [&] {
        if (body.size() == 1000) backend_->Signal("client has the part");
      });
      EXPECT_EQ(body, std::string(1000, 'd')) << "the part before the cut must arrive";
      EXPECT_FALSE(complete) << "a cut chunked body must not end with the last chunk";
      EXPECT_TRUE(c.closed()) << "the client must see the cut, not hang";
    } else {
      EXPECT_EQ(head->Get("content-length"), "100000");
      ASSERT_TRUE(c.Fill(1000)) << "the part before the cut must arrive; got " << c.buf().size()
                                << " bytes";
      EXPECT_EQ(c.buf(), std::string(1000, 'd'));
      backend_->Signal("client has the part");
      EXPECT_TRUE(c.DrainToClose()) << "the client must see the cut, not hang";
      EXPECT_EQ(c.buf().size(), 1000u) << "nothing but the part may reach the client";
    }
    TearDown();
  }
}

TEST_F(IngressServerTest, SilentUpstreamIs504AfterTheUpstreamTimeout) {
  Start([](Backend& b, Conn& c) {
    if (std::optional<Message> m = ReadMessage(c, false)) b.Record(*m);
    c.DrainToClose();  // never answers; returns when the server gives up (or at the deadline)
    b.Signal(c.eof() ? "closed by the server" : "not closed");
  });
  Conn c = Client();
  const auto t0 = Clock::now();
  Message res = Roundtrip(c, "GET /slow HTTP/1.1\r\nHost: app.test\r\n\r\n");
  const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  EXPECT_EQ(res.status(), 504) << res.start << "\n" << res.body;
  EXPECT_GE(took.count(), 950) << "504 before the 1 s upstream_timeout";
  EXPECT_LT(took.count(), 1800);
  EXPECT_TRUE(backend_->WaitSignal("closed by the server"))
      << "the stalled upstream connection must be closed, not pooled";
}

}  // namespace
}  // namespace mkn::vnet::ingress_test
