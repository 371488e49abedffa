// vnet/edge/view_parser: the fields are views into the read buffer when the header came whole, and
// copies when it came in pieces or Beast unfolded a value; every value equals what Beast's own
// parser gives; a body goes where body_data points. Parsed with Beast's http::read* over a stream
// that hands out scripted receives.
#include "vnet/edge/view_parser.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mkn::vnet::edge_internal {
namespace {

// A SyncReadStream whose receives are `pieces`, one each (cut to the buffer offered), then end of
// stream.
class Receives {
 public:
  explicit Receives(std::vector<std::string> pieces) : pieces_(pieces.begin(), pieces.end()) {}
  template <class Buffers>
  size_t read_some(const Buffers& b, beast::error_code& ec) {
    ec = {};
    if (pieces_.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    const size_t n = asio::buffer_copy(b, asio::buffer(pieces_.front()));
    pieces_.front().erase(0, n);
    if (pieces_.front().empty()) pieces_.pop_front();
    return n;
  }
  template <class Buffers>
  size_t read_some(const Buffers& b) {
    beast::error_code ec;
    const size_t n = read_some(b, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::deque<std::string> pieces_;
};

// Whether `s` lies inside the `n` bytes at `base`.
bool Inside(std::string_view s, const char* base, size_t n) {
  return s.data() >= base && s.data() + s.size() <= base + n;
}

// The fields of `message` as Beast's own parser gives them.
std::vector<std::pair<std::string, std::string>> BeastFields(const std::string& message) {
  Receives in({message});
  beast::flat_buffer b;
  http::request_parser<http::empty_body> p;
  beast::error_code ec;
  http::read_header(in, b, p, ec);
  EXPECT_FALSE(ec) << ec.message();
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : p.get()) {
    out.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Copies(
    const std::vector<ingress::HeaderView>& fields) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [n, v] : fields) out.emplace_back(std::string(n), std::string(v));
  return out;
}

TEST(ViewParser, AWholeHeaderIsParsedIntoViewsOfTheBuffer) {
  const std::string msg = "GET /shop/cart?id=7 HTTP/1.1\r\nHost: shop.test\r\nX-Trace: abc\r\n\r\n";
  Receives in({msg});
  beast::flat_buffer b;
  b.reserve(kChunk);  // as ConnBuffers: room for the whole header
  const char* const base = static_cast<const char*>(b.prepare(0).data());  // where receives land
  std::vector<ingress::HeaderView> fields;
  ViewParser<true> p(fields, b);
  beast::error_code ec;
  http::read_header(in, b, p, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(p.method, http::verb::get);
  EXPECT_EQ(p.method_text, "GET");
  EXPECT_EQ(p.target, "/shop/cart?id=7");
  EXPECT_EQ(p.version, 11u);
  EXPECT_EQ(Copies(fields), BeastFields(msg));
  // Views, not copies: into the bytes received (consumed by now, not yet overwritten).
  EXPECT_TRUE(Inside(p.target, base, msg.size()));
  EXPECT_TRUE(Inside(p.method_text, base, msg.size()));
  for (const auto& [n, v] : fields) {
    EXPECT_TRUE(Inside(n, base, msg.size())) << n;
    EXPECT_TRUE(Inside(v, base, msg.size())) << v;
  }
  EXPECT_EQ(p.Find("host"), "shop.test");
  EXPECT_EQ(p.Find("HOST"), "shop.test");  // names compare without case
  EXPECT_EQ(p.Find("x-forwarded-for"), std::nullopt);
}

TEST(ViewParser, AHeaderInPiecesIsCopiedAndSurvivesTheBufferMoving) {
  const std::string name_line = "GET /a HTTP/1.1\r\n";
  const std::string long_value(3000, 'v');
  const std::string msg = name_line + "Host: a.test\r\nX-Long: " + long_value + "\r\n\r\n";
  // The request line first, then the rest in small receives into a buffer that has to grow.
  Receives in({name_line, "Host: a.test\r\nX-Lo", "ng: " + long_value, "\r\n\r\n"});
  beast::flat_buffer b;
  std::vector<ingress::HeaderView> fields;
  ViewParser<true> p(fields, b);
  beast::error_code ec;
  http::read_header(in, b, p, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(p.target, "/a");
  EXPECT_EQ(p.method_text, "GET");
  EXPECT_EQ(Copies(fields), BeastFields(msg));
  // Overwrite whatever the buffer holds: copies do not change.
  auto space = b.prepare(b.capacity());
  std::memset(space.data(), '#', space.size());
  EXPECT_EQ(p.target, "/a");
  EXPECT_EQ(Copies(fields), BeastFields(msg));
}

TEST(ViewParser, AnUnfoldedValueIsBeastsAndCopied) {
  const std::string msg = "GET / HTTP/1.1\r\nX-Folded: one\r\n two\r\nHost: h\r\n\r\n";
  Receives in({msg});
  beast::flat_buffer b;
  b.reserve(kChunk);
  const char* const base = static_cast<const char*>(b.prepare(0).data());
  std::vector<ingress::HeaderView> fields;
  ViewParser<true> p(fields, b);
  beast::error_code ec;
  http::read_header(in, b, p, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(Copies(fields), BeastFields(msg));
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_FALSE(Inside(fields[0].second, base, msg.size()));  // Beast's unfolded copy, kept
  EXPECT_TRUE(Inside(fields[1].second, base, msg.size()));
  EXPECT_EQ(p.Find("host"), "h");
}

TEST(ViewParser, AResponseGivesStatusReasonAndItsBodyWhereBodyDataPoints) {
  for (const std::string& msg :
       {std::string("HTTP/1.1 404 Not Here\r\nContent-Length: 5\r\n\r\nhello"),
        std::string("HTTP/1.1 404 Not Here\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n")}) {
    SCOPED_TRACE(msg);
    Receives in({msg});
    beast::flat_buffer b;
    b.reserve(kUpstreamRead);
    std::vector<ingress::HeaderView> fields;
    ViewParser<false> p(fields, b);
    p.body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code ec;
    http::read_header(in, b, p, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(p.status, 404);
    EXPECT_EQ(p.reason, "Not Here");
    char body[8] = {};
    p.body_data = body;
    p.body_size = sizeof(body);
    http::read(in, b, p, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_TRUE(p.is_done());
    EXPECT_EQ(std::string(body, sizeof(body) - p.body_size), "hello");
  }
}

TEST(ViewParser, ABodyWithNoRoomLeftIsNeedBuffer) {
  Receives in({"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"});
  beast::flat_buffer b;
  std::vector<ingress::HeaderView> fields;
  ViewParser<false> p(fields, b);
  beast::error_code ec;
  http::read_header(in, b, p, ec);
  ASSERT_FALSE(ec) << ec.message();
  char body[3];
  p.body_data = body;
  p.body_size = sizeof(body);
  http::read(in, b, p, ec);
  EXPECT_EQ(ec, http::error::need_buffer);
  EXPECT_EQ(std::string(body, 3), "hel");
  EXPECT_FALSE(p.is_done());
}

TEST(ViewParser, BeastsLimitsAndChecksStillApply) {
  {
    Receives in({"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(200, 'x') + "\r\n\r\n"});
    beast::flat_buffer b;
    std::vector<ingress::HeaderView> fields;
    ViewParser<true> p(fields, b);
    p.header_limit(64);
    beast::error_code ec;
    http::read_header(in, b, p, ec);
    EXPECT_EQ(ec, http::error::header_limit);
  }
  {
    Receives in({"GET / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n"});
    beast::flat_buffer b;
    std::vector<ingress::HeaderView> fields;
    ViewParser<true> p(fields, b);
    beast::error_code ec;
    http::read_header(in, b, p, ec);
    EXPECT_EQ(ec, http::error::bad_content_length);
  }
}

}  // namespace
}  // namespace mkn::vnet::edge_internal
