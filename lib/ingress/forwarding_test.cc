// Proxy header rules as tables: {description, headers in, forward info, headers out}.
#include "lib/ingress/forwarding.h"

#include <gtest/gtest.h>

namespace mkn::ingress {
namespace {

ForwardInfo Info(std::string client = "10.0.0.7", std::string proto = "http",
                 std::string host = "shop.lab", std::string by = "127.0.0.1:8080") {
  ForwardInfo i;
  i.client_ip = std::move(client);
  i.proto = std::move(proto);
  i.host = std::move(host);
  i.by = std::move(by);
  return i;
}

std::vector<HeaderView> Views(const Headers& h) {
  std::vector<HeaderView> v;
  for (const auto& [name, value] : h) v.emplace_back(name, value);
  return v;
}

// What a message with these headers carries on the wire.
std::string Lines(const Headers& h) {
  std::string out;
  for (const auto& [name, value] : h) out += name + ": " + value + "\r\n";
  return out;
}

TEST(Forwarding, RemoveHopByHop) {
  struct Case {
    std::string description;
    Headers in, out;
  } cases[] = {
      {"the fixed list goes",
       {{"host", "a"},
        {"connection", "keep-alive"},
        {"keep-alive", "timeout=5"},
        {"proxy-connection", "x"},
        {"te", "trailers"},
        {"trailer", "x-sum"},
        {"transfer-encoding", "chunked"},
        {"upgrade", "h2c"},
        {"proxy-authenticate", "Basic"},
        {"proxy-authorization", "Basic eA=="},
        {"accept", "*/*"}},
       {{"host", "a"}, {"accept", "*/*"}}},
      {"names listed in Connection go too, any case, with spaces and empty elements",
       {{"connection", "close, X-Session ,,x-trace"},
        {"x-session", "1"},
        {"x-trace", "2"},
        {"x-keep", "3"}},
       {{"x-keep", "3"}}},
      {"several Connection fields",
       {{"connection", "x-a"},
        {"connection", "x-b"},
        {"x-a", "1"},
        {"x-b", "2"},
        {"authorization", "t"}},
       {{"authorization", "t"}}},
      {"end-to-end headers stay, in order",
       {{"cookie", "a=1"}, {"authorization", "x"}, {"content-length", "3"}},
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
      {"X-Forwarded-For is appended to the chain (several fields joined); the first proxy's proto "
       "and host win",
       {{"x-forwarded-for", "203.0.113.9, 198.51.100.2"},
        {"x-forwarded-for", "192.0.2.1"},
        {"x-forwarded-proto", "https"},
        {"x-forwarded-host", "www.shop.lab"},
        {"host", "shop.lab"}},
       Info(),
       {{"x-forwarded-for", "203.0.113.9, 198.51.100.2, 192.0.2.1, 10.0.0.7"},
        {"x-forwarded-proto", "https"},
        {"x-forwarded-host", "www.shop.lab"},
        {"host", "shop.lab"},
        {"forwarded", "for=10.0.0.7;proto=http;host=shop.lab;by=\"127.0.0.1:8080\""},
        {"via", "1.1 minikube-net"}}},
      {"IPv6 is bracketed and quoted in Forwarded, not in X-Forwarded-For; a host with a port is "
       "quoted",
       {{"forwarded", "for=192.0.2.60;proto=http"}, {"via", "1.0 fred, 1.1 p.example.net"}},
       Info("2001:db8:cafe::17", "https", "shop.lab:8443", "[::1]:8443"),
       {{"forwarded",
         "for=192.0.2.60;proto=http, "
         "for=\"[2001:db8:cafe::17]\";proto=https;host=\"shop.lab:8443\";by=\"[::1]:8443\""},
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
    std::string lines = "GET / HTTP/1.1\r\n";  // appended to, not replaced
    AppendUpstreamRequestLines(lines, Views(c.in), c.info);
    EXPECT_EQ(lines, "GET / HTTP/1.1\r\n" + Lines(c.out)) << "the view form";
    ForwardInfo kept = c.info;
    kept.forwarded = ForwardedElement(c.info);
    lines.clear();
    AppendUpstreamRequestLines(lines, Views(c.in), kept);
    EXPECT_EQ(lines, Lines(c.out)) << "the view form with a kept Forwarded element";
    PrepareUpstreamRequest(c.in, c.info);
    EXPECT_EQ(c.in, c.out);
  }
}

TEST(Forwarding, ViewFormTakesAnyCaseAndSkipsOneField) {
  const Headers in = {{"Host", "shop.lab"},    {"Connection", "X-Trace, keep-alive"},
                      {"X-Trace", "1"},        {"Expect", "100-continue"},
                      {"VIA", "1.0 fred"},     {"X-Forwarded-For", " 192.0.2.1 "},
                      {"User-Agent", "Curl/8"}};
  std::string lines;
  AppendUpstreamRequestLines(lines, Views(in), Info(), "expect");
  EXPECT_EQ(lines,
            "host: shop.lab\r\nvia: 1.0 fred, 1.1 minikube-net\r\nx-forwarded-for: 192.0.2.1, "
            "10.0.0.7\r\n"
            "user-agent: Curl/8\r\nx-forwarded-proto: http\r\nx-forwarded-host: shop.lab\r\n"
            "forwarded: for=10.0.0.7;proto=http;host=shop.lab;by=\"127.0.0.1:8080\"\r\n");
  lines.clear();
  AppendDownstreamResponseLines(
      lines, Views({{"Content-Type", "text/plain"}, {"Keep-Alive", "timeout=5"}}), Info());
  EXPECT_EQ(lines, "content-type: text/plain\r\nvia: 1.1 minikube-net\r\n");
}

TEST(Forwarding, PrepareDownstreamResponse) {
  Headers h = {{"content-type", "text/plain"},
               {"connection", "close"},
               {"transfer-encoding", "chunked"},
               {"via", "1.1 backend"}};
  std::string lines;
  AppendDownstreamResponseLines(lines, Views(h), Info());
  PrepareDownstreamResponse(h, Info());
  EXPECT_EQ(h, (Headers{{"content-type", "text/plain"}, {"via", "1.1 backend, 1.1 minikube-net"}}));
  EXPECT_EQ(lines, Lines(h)) << "the view form";
}

}  // namespace
}  // namespace mkn::ingress
