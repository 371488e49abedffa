// The edge server as a reverse proxy (vnet/edge/ingress): forwarding headers added and hop-by-hop
// ones removed both ways, folded fields, reason phrases and HEAD passed through, a header that
// comes in pieces, keep-alive on one upstream connection, and answers of its own (404, 503, 502
// for a refusing pod) that keep the client's connection. Fixtures: ingress_test_util.h.
#include <gtest/gtest.h>

#include "vnet/edge/ingress_test_util.h"

namespace mkn::vnet::ingress_test {
namespace {

TEST_F(IngressServerTest, ProxiesGetWithForwardingHeadersAndWithoutHopByHop) {
  Start(Answering(
      "hello",
      "Connection: X-Resp-Hop\r\nX-Resp-Hop: 1\r\nKeep-Alive: timeout=9\r\nX-App: yes\r\n"));
  Conn c = Client();
  Message res = Roundtrip(c,
                          "GET /items?id=7 HTTP/1.1\r\n"
                          "Host: app.test\r\n"
                          "Connection: keep-alive, X-Hop\r\n"
                          "X-Hop: secret\r\n"
                          "Keep-Alive: timeout=5\r\n"
                          "Proxy-Connection: keep-alive\r\n"
                          "TE: trailers\r\n"
                          "X-End: kept\r\n"
                          "X-Forwarded-For: 203.0.113.9\r\n"
                          "\r\n");
  EXPECT_EQ(res.start, "HTTP/1.1 200 OK");
  EXPECT_EQ(res.body, "hello");
  EXPECT_TRUE(res.complete);
  EXPECT_EQ(res.Get("x-app"), "yes");
  EXPECT_EQ(res.Count("x-resp-hop"), 0) << "a header the backend's Connection names is hop-by-hop\n"
                                        << res.Dump();
  EXPECT_EQ(res.Count("keep-alive"), 0) << res.Dump();
  EXPECT_EQ(res.Get("via"), "1.1 minikube-net");
  EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(res.Get("connection")), "close"))
      << res.Dump();

  std::vector<Message> got = backend_->WaitRequests(1);
  ASSERT_EQ(got.size(), 1u);
  const Message& up = got[0];
  EXPECT_EQ(up.start, "GET /items?id=7 HTTP/1.1");
  EXPECT_EQ(up.Get("host"), "app.test");
  EXPECT_EQ(up.Get("x-end"), "kept");
  for (const char* hop : {"x-hop", "keep-alive", "proxy-connection", "te"}) {
    EXPECT_EQ(up.Count(hop), 0) << hop << " is hop-by-hop\n" << up.Dump();
  }
  EXPECT_FALSE(absl::StrContains(absl::AsciiStrToLower(up.Get("connection")), "x-hop"))
      << up.Dump();
  EXPECT_EQ(up.Get("x-forwarded-for"), "203.0.113.9, 127.0.0.1");
  EXPECT_EQ(up.Get("x-forwarded-proto"), "http");
  EXPECT_EQ(up.Get("x-forwarded-host"), "app.test");
  EXPECT_EQ(up.Get("forwarded"),
            absl::StrCat("for=127.0.0.1;proto=http;host=app.test;by=\"127.0.0.1:", port_, "\""));
  EXPECT_EQ(up.Get("via"), "1.1 minikube-net");
}

// The edge parses headers into views of its read buffer; a field the sender folded over two lines
// (obs-fold) is handed over unfolded in a copy of Beast's, a reason phrase as sent. Each arrives on
// one line with the fields around it intact, both ways; a HEAD answer (a length, no body) leaves
// the connection in step for the next request.

TEST_F(IngressServerTest, FoldedFieldsReasonPhrasesAndHeadPassThrough) {
  Start([](Backend& b, Conn& c) {
    while (std::optional<Message> m = ReadMessage(c, false)) {
      b.Record(*m);
      if (absl::StartsWith(m->start, "HEAD ")) {
        c.Send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Head: yes\r\n\r\n");
      } else {
        c.Send(
            "HTTP/1.1 203 Fine By Me\r\nContent-Length: 2\r\nX-Resp-Fold: alpha\r\n "
            "beta\r\nX-Tail: t\r\n\r\nok");
      }
    }
  });
  Conn c = Client();
  Message res = Roundtrip(c,
                          "GET /fold HTTP/1.1\r\n"
                          "Host: app.test\r\n"
                          "X-Fold: one\r\n"
                          "  two\r\n"
                          "X-After: yes\r\n"
                          "\r\n");
  EXPECT_EQ(res.start, "HTTP/1.1 203 Fine By Me");
  EXPECT_EQ(res.body, "ok");
  const std::string fold = res.Get("x-resp-fold");
  EXPECT_TRUE(absl::StrContains(fold, "alpha") && absl::StrContains(fold, "beta")) << res.Dump();
  EXPECT_EQ(res.Get("x-tail"), "t") << res.Dump();
  std::vector<Message> got = backend_->WaitRequests(1);
  ASSERT_EQ(got.size(), 1u);
  const std::string up = got[0].Get("x-fold");
  EXPECT_TRUE(absl::StartsWith(up, "one") && absl::EndsWith(up, "two")) << got[0].Dump();
  EXPECT_EQ(got[0].Get("x-after"), "yes") << got[0].Dump();
  EXPECT_EQ(got[0].Get("host"), "app.test") << got[0].Dump();

  ASSERT_TRUE(c.Send("HEAD /head HTTP/1.1\r\nHost: app.test\r\n\r\n"));
  std::optional<Message> head = ReadMessage(c, true, /*head_only=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->start, "HTTP/1.1 200 OK");
  EXPECT_EQ(head->Get("content-length"), "5");
  EXPECT_EQ(head->Get("x-head"), "yes");
  res = Roundtrip(c, "GET /after-head HTTP/1.1\r\nHost: app.test\r\n\r\n");
  EXPECT_EQ(res.start, "HTTP/1.1 203 Fine By Me") << "the connection is out of step after HEAD";
  EXPECT_EQ(res.body, "ok");
}

// A header that comes in pieces: Beast parses the start line and the complete fields of the first
// piece and counts them as used, and the next receive into the same buffer overwrites them. The
// edge's views of them must not see that (the request line and fields a client sent first, the
// status line a backend flushed on its own). The pause between the pieces waits for an answer that
// must not come yet: the pieces arrive as separate reads.

TEST_F(IngressServerTest, HeadersThatComeInPiecesArriveIntact) {
  Start([](Backend& b, Conn& c) {
    while (std::optional<Message> m = ReadMessage(c, false)) {
      b.Record(*m);
      c.Send("HTTP/1.1 200 Split Status Line\r\nX-First: f\r\n");
      EXPECT_FALSE(c.ReadSome(milliseconds(100))) << "the edge sent more before the response";
      c.Send("Content-Length: 2\r\nX-Second: s\r\n\r\nok");
    }
  });
  Conn c = Client();
  ASSERT_TRUE(c.Send("GET /split/path?q=1 HTTP/1.1\r\nHost: app.test\r\nX-Early: e\r\n"));
  EXPECT_FALSE(c.ReadSome(milliseconds(100))) << "an answer before the header was complete";
  ASSERT_TRUE(c.Send("X-Late: l\r\n\r\n"));
  std::optional<Message> res = ReadMessage(c, true);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->start, "HTTP/1.1 200 Split Status Line") << res->Dump();
  EXPECT_EQ(res->Get("x-first"), "f") << res->Dump();
  EXPECT_EQ(res->Get("x-second"), "s") << res->Dump();
  EXPECT_EQ(res->body, "ok");
  std::vector<Message> got = backend_->WaitRequests(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].start, "GET /split/path?q=1 HTTP/1.1") << got[0].Dump();
  EXPECT_EQ(got[0].Get("host"), "app.test") << got[0].Dump();
  EXPECT_EQ(got[0].Get("x-early"), "e") << got[0].Dump();
  EXPECT_EQ(got[0].Get("x-late"), "l") << got[0].Dump();
  EXPECT_EQ(got[0].Get("x-forwarded-host"), "app.test") << got[0].Dump();
}

TEST_F(IngressServerTest, KeepAliveReusesOneUpstreamConnection) {
  Start(Answering("pong"));
  Conn c = Client();
  for (const char* path : {"/one", "/two"}) {
    Message res = Roundtrip(c, absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: app.test\r\n\r\n"));
    EXPECT_EQ(res.status(), 200) << path;
    EXPECT_EQ(res.body, "pong") << path;
    EXPECT_FALSE(c.closed()) << "the client connection must stay open after " << path;
  }
  std::vector<Message> got = backend_->WaitRequests(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].start, "GET /one HTTP/1.1");
  EXPECT_EQ(got[1].start, "GET /two HTTP/1.1");
  EXPECT_EQ(backend_->connections(), 1)
      << "the second request must reuse the pooled upstream connection";
}

TEST_F(IngressServerTest, AnswersOfItsOwnKeepTheConnection) {
  Start(Answering("ok"));
  struct Case {
    const char* host;
    int status;
    std::string body_has;
  } cases[] = {
      {"nowhere.test", 404, "no route for nowhere.test/x"},
      {"empty.test", 503, "service empty:80 has no endpoints"},
      {"refused.test", 502,
       absl::StrCat("upstream 127.0.0.1:", refuser_port_, ": Connection refused")},
  };
  Conn c = Client();
  for (const Case& k : cases) {
    SCOPED_TRACE(k.host);
    Message res = Roundtrip(c, absl::StrCat("GET /x HTTP/1.1\r\nHost: ", k.host, "\r\n\r\n"));
    EXPECT_EQ(res.status(), k.status) << res.start;
    EXPECT_TRUE(absl::StrContains(res.body, k.body_has)) << res.body;
    Message next = Roundtrip(c, "GET /after HTTP/1.1\r\nHost: app.test\r\n\r\n");
    EXPECT_EQ(next.status(), 200) << "the connection must stay usable after a " << k.status;
  }
}

}  // namespace
}  // namespace mkn::vnet::ingress_test
