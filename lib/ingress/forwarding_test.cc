// Proxy header rules as tables: {description, headers in, forward info, headers out}.
#include "lib/ingress/forwarding.h"

#include <gtest/gtest.h>

namespace mkn::ingress {
namespace {

ForwardInfo Info(std::string client = "10.0.0.7", std::string proto = "http", std::string host = "shop.lab",
                 std::string by = "127.0.0.1:8080") {
  ForwardInfo i;
  i.client_ip = std::move(client);
  i.proto = std::move(proto);
  i.host = std::move(host);
  i.by = std::move(by);
  return i;
}

TEST(Forwarding, RemoveHopByHop) {
  struct Case {
    std::string description;
    Headers in, out;
  } cases[] = {
      {"the fixed list goes",
       {{"host", "a"}, {"connection", "keep-alive"}, {"keep-alive", "timeout=5"}, {"proxy-connection", "x"},
        {"te", "trailers"}, {"trailer", "x-sum"}, {"transfer-encoding", "chunked"}, {"upgrade", "h2c"},
        {"proxy-authenticate", "Basic"}, {"proxy-authorization", "Basic eA=="}, {"accept", "*/*"}},
       {{"host", "a"}, {"accept", "*/*"}}},
      {"names listed in Connection go too, any case, with spaces and empty elements",
       {{"connection", "close, X-Session ,,x-trace"}, {"x-session", "1"}, {"x-trace", "2"}, {"x-keep", "3"}},
       {{"x-keep", "3"}}},
      {"several Connection fields", {{"connection", "x-a"}, {"connection", "x-b"}, {"x-a", "1"}, {"x-b", "2"}, {"authorization", "t"}},
       {{"authorization", "t"}}},
      {"end-to-end headers stay, in order", {{"cookie", "a=1"}, {"authorization", "x"}, {"content-length", "3"}},
       {{"cookie", "a=1"}, {"authorization", "x"}, {"content-length", "3"}}},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.description);
    RemoveHopByHop(c.in);
    EXPECT_EQ(c.in, c.out);
  }
}

TEST(Forwarding, PrepareUpstreamRequest) {
  struct Case {
    std::string description;
    Headers in;
    ForwardInfo info;
    Headers out;
  } cases[] = {
      {"a first hop sets everything",
       {{"host", "shop.lab"}, {"connection", "keep-alive"}},
       Info(),
       {{"host", "shop.lab"},
        {"x-forwarded-for", "10.0.0.7"},
        {"x-forwarded-proto", "http"},
        {"x-forwarded-host", "shop.lab"},
        {"forwarded", "for=10.0.0.7;proto=http;host=shop.lab;by=\"127.0.0.1:8080\""},
        {"via", "1.1 minikube-net"}}},
      {"X-Forwarded-For is appended to the chain (several fields joined); the first proxy's proto and host win",
       {{"x-forwarded-for", "203.0.113.9, 198.51.100.2"}, {"x-forwarded-for", "192.0.2.1"},
        {"x-forwarded-proto", "https"}, {"x-forwarded-host", "www.shop.lab"}, {"host", "shop.lab"}},
       Info(),
       {{"x-forwarded-for", "203.0.113.9, 198.51.100.2, 192.0.2.1, 10.0.0.7"},
        {"x-forwarded-proto", "https"},
        {"x-forwarded-host", "www.shop.lab"},
        {"host", "shop.lab"},
        {"forwarded", "for=10.0.0.7;proto=http;host=shop.lab;by=\"127.0.0.1:8080\""},
        {"via", "1.1 minikube-net"}}},
      {"IPv6 is bracketed and quoted in Forwarded, not in X-Forwarded-For; a host with a port is quoted",
       {{"forwarded", "for=192.0.2.60;proto=http"}, {"via", "1.0 fred, 1.1 p.example.net"}},
       Info("2001:db8:cafe::17", "https", "shop.lab:8443", "[::1]:8443"),
       {{"forwarded", "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]\";proto=https;host=\"shop.lab:8443\";by=\"[::1]:8443\""},
        {"via", "1.0 fred, 1.1 p.example.net, 1.1 minikube-net"},
        {"x-forwarded-for", "2001:db8:cafe::17"},
        {"x-forwarded-proto", "https"},
        {"x-forwarded-host", "shop.lab:8443"}}},
      {"no client address: for=unknown; a bare IPv6 listener is bracketed",
       {},
       Info("", "http", "", "::1"),
       {{"x-forwarded-proto", "http"},
        {"forwarded", "for=unknown;proto=http;by=\"[::1]\""},
        {"via", "1.1 minikube-net"}}},
      {"a Connection-listed X-Forwarded-For from the client is dropped before appending",
       {{"connection", "x-forwarded-for"}, {"x-forwarded-for", "6.6.6.6"}},
       Info(),
       {{"x-forwarded-for", "10.0.0.7"},
        {"x-forwarded-proto", "http"},
        {"x-forwarded-host", "shop.lab"},
        {"forwarded", "for=10.0.0.7;proto=http;host=shop.lab;by=\"127.0.0.1:8080\""},
        {"via", "1.1 minikube-net"}}},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.description);
    PrepareUpstreamRequest(c.in, c.info);
    EXPECT_EQ(c.in, c.out);
  }
}

TEST(Forwarding, PrepareDownstreamResponse) {
  Headers h = {{"content-type", "text/plain"}, {"connection", "close"}, {"transfer-encoding", "chunked"},
               {"via", "1.1 backend"}};
  PrepareDownstreamResponse(h, Info());
  EXPECT_EQ(h, (Headers{{"content-type", "text/plain"}, {"via", "1.1 backend, 1.1 minikube-net"}}));
}

}  // namespace
}  // namespace mkn::ingress
