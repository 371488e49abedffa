// The edge server's streamed bodies and drain (vnet/edge/ingress): a chunked request body and a
// chunked response relayed as they come (each piece before the next is sent), and Stop() letting
// an in-flight request finish, then closing. Fixtures: ingress_test_util.h.
#include <gtest/gtest.h>

#include "vnet/edge/ingress_test_util.h"

namespace mkn::vnet::ingress_test {
namespace {

TEST_F(IngressServerTest, ChunkedRequestBodyIsStreamedIntact) {
  // The backend reports the first chunk before the client has sent the rest: the body is streamed,
  // not buffered whole.
  Start([](Backend& b, Conn& c) {
    std::optional<Message> m = ReadMessage(c, false, /*head_only=*/true);
    if (!m) return;
    bool first = true;
    m->complete = ReadChunked(c, m->body, [&] {
      if (first) b.Signal("first chunk");
      first = false;
    });
    std::string body = absl::StrCat(m->body.size());
    b.Record(*m);
    c.Send(absl::StrCat("HTTP/1.1 200 OK\r\nContent-Length: ", body.size(), "\r\n\r\n", body));
  });
  std::string want;
  for (int i = 0; i < 100000; ++i) want.push_back(static_cast<char>('a' + (i * 7) % 26));
  Conn c = Client();
  ASSERT_TRUE(
      c.Send("POST /upload HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(c.Send(absl::StrCat("a\r\n", want.substr(0, 10), "\r\n")));
  ASSERT_TRUE(backend_->WaitSignal("first chunk"))
      << "the first chunk must reach the backend before the body ends";
  // The rest in uneven pieces, one larger than the server's 64 KiB relay buffer.
  const size_t sizes[] = {1, 70000, 29989};
  size_t at = 10;
  for (size_t n : sizes) {
    char hex[32];
    snprintf(hex, sizeof(hex), "%zx\r\n", n);
    ASSERT_TRUE(c.Send(absl::StrCat(hex, want.substr(at, n), "\r\n")));
    at += n;
  }
  ASSERT_EQ(at, want.size());
  ASSERT_TRUE(c.Send("0\r\n\r\n"));
  std::optional<Message> res = ReadMessage(c, true);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status(), 200);
  EXPECT_EQ(res->body, "100000");
  std::vector<Message> got = backend_->WaitRequests(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].complete);
  EXPECT_EQ(absl::AsciiStrToLower(got[0].Get("transfer-encoding")), "chunked") << got[0].Dump();
  EXPECT_EQ(got[0].Count("content-length"), 0) << got[0].Dump();
  EXPECT_TRUE(got[0].body == want) << "body differs: got " << got[0].body.size() << " bytes";
}

TEST_F(IngressServerTest, ChunkedResponseIsStreamedAsItComes) {
  // A backend that streams (server-sent events, a long download): the client gets the first
  // chunk while the backend is still waiting to send the next.
  Start([](Backend& b, Conn& c) {
    if (!ReadMessage(c, false)) return;
    c.Send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst\n\r\n");
    if (!b.WaitSignal("client has the first chunk")) return;
    c.Send("5\r\nlast\n\r\n0\r\n\r\n");
    ReadMessage(c, false);  // until the server closes the pooled connection
  });
  Conn c = Client();
  ASSERT_TRUE(c.Send("GET /events HTTP/1.1\r\nHost: app.test\r\n\r\n"));
  std::optional<Message> head = ReadMessage(c, true, /*head_only=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status(), 200);
  EXPECT_EQ(absl::AsciiStrToLower(head->Get("transfer-encoding")), "chunked");
  std::string body;
  bool first = true;
  bool complete = ReadChunked(c, body, [&] {
    if (first) {
      EXPECT_EQ(body, "first\n");
      backend_->Signal("client has the first chunk");
    }
    first = false;
  });
  EXPECT_TRUE(complete)
      << "the first chunk must reach the client before the backend sends the rest; got \"" << body
      << "\"";
  EXPECT_EQ(body, "first\nlast\n");
}

TEST_F(IngressServerTest, StopDrainsAnInFlightRequestThenCloses) {
  Start([](Backend& b, Conn& c) {
    std::optional<Message> m = ReadMessage(c, false);
    if (!m) return;
    b.Record(*m);
    if (!b.WaitSignal("answer")) return;
    c.Send("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\ndrained");
    c.DrainToClose();
  });
  Conn c = Client();
  ASSERT_TRUE(c.Send("GET /long HTTP/1.1\r\nHost: app.test\r\n\r\n"));
  ASSERT_EQ(backend_->WaitRequests(1).size(), 1u);

  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    server_->Stop();
    stopped = true;
  });
  // The listener closes at once: a new connection is refused (polled, with a deadline).
  bool refused = false;
  for (auto until = Clock::now() + kDeadline; !refused && Clock::now() < until;) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa = LoopbackAddr(port_);
    refused = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 &&
              errno == ECONNREFUSED;
    if (!refused) ::poll(nullptr, 0, 5);
  }
  EXPECT_TRUE(refused) << "Stop() must close the listener";
  EXPECT_FALSE(stopped) << "Stop() returned with a request in flight";

  backend_->Signal("answer");
  std::optional<Message> res = ReadMessage(c, true);
  ASSERT_TRUE(res) << "the in-flight request must be answered";
  EXPECT_EQ(res->status(), 200);
  EXPECT_EQ(res->body, "drained");
  EXPECT_EQ(absl::AsciiStrToLower(res->Get("connection")), "close")
      << "a draining server closes after the answer";
  EXPECT_TRUE(c.DrainToClose());
  stopper.join();
  EXPECT_TRUE(stopped);
}

}  // namespace
}  // namespace mkn::vnet::ingress_test
