// vnet/edge/view_parser — the edge's HTTP/1.1 parser (Beast's basic_parser underneath) that keeps
// the start line and the fields as views into the buffer they were parsed from, and puts a body
// where the caller points (internal to vnet/edge).
//
// Contract: the views stay valid until `src` moves its contents (its next prepare(): a read into
// it); what could not be a view (an unfolded value, a header not whole at its start line) is a copy
// owned by the parser. Errors are Beast's (http::error::*), reported through http::read* as for
// any Beast parser; a body goes only where body_data points (need_buffer when there is no room).
// No I/O, no privileges: it is a parser over bytes handed in.
#pragma once

#include <cstdint>
#include <cstring>
#include <forward_list>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/ingress/forwarding.h"
#include "vnet/edge/asio_types.h"

namespace mkn::vnet::edge_internal {

inline std::string_view View(beast::string_view s) { return std::string_view(s.data(), s.size()); }

// A header parser that keeps the start line and the fields as views into the buffer they were
// parsed from, and puts a body where body_data points (as buffer_body's reader does). Beast's
// parser<> copied every field into an element of its own (an allocation, a red-black tree insert,
// a free) only for the edge to read them back as views: about 3 k instructions per request.
// Beast's basic_parser still does all the parsing and every check (limits, Content-Length and
// Transfer-Encoding, chunking), and reads go through http::read* as before.
//
// The views stay valid until the buffer moves its contents: the next prepare() of `src` (a read
// into it). So the request's fields are used before anything more is read from the client, and
// the response's before its body is read. A value Beast unfolded (obs-fold: it hands over a copy
// of its own, valid only during the call) is copied into `spill_`. So is everything of a header
// that is not whole in `src` when its start line is parsed: Beast parses the start line and the
// complete fields of what has come, counts them as used, and the read for the rest overwrites
// them. (A header usually comes whole in one receive: then it is parsed in one call, all views.)
template <bool isRequest>
class ViewParser : public http::basic_parser<isRequest> {
 public:
  ViewParser(std::vector<ingress::HeaderView>& fields, const beast::flat_buffer& src)
      : fields(fields), src_(src) {
    fields.clear();
  }

  // Request line / status line.
  http::verb method = http::verb::unknown;
  std::string_view method_text, target;
  int status = 0;
  std::string_view reason;
  unsigned version = 11;
  std::vector<ingress::HeaderView>& fields;
  // Where the body goes, and room left there (as buffer_body's data and size).
  char* body_data = nullptr;
  size_t body_size = 0;
  // Requests: what lib/ingress/request_head checks, noted as the fields go by (Beast hands each
  // field's code over, so this costs a compare per field, not a second scan): the Host lines, the
  // first one's value, and every Transfer-Encoding value (a vector that allocates only when one
  // comes).
  int host_fields = 0;
  std::string_view host;
  std::vector<std::string_view> transfer_encodings;
  // Requests: more fields than this fail the parse with http::error::header_limit (a 431), as
  // Envoy's max_headers_count does: within header_bytes, thousands of tiny fields are still a
  // header no backend should be handed.
  size_t max_fields = static_cast<size_t>(-1);

  // The first field named `name` (case-insensitively), or none.
  std::optional<std::string_view> Find(std::string_view name) const {
    for (const auto& [n, v] : fields) {
      if (beast::iequals(beast::string_view(n.data(), n.size()),
                         beast::string_view(name.data(), name.size())))
        return v;
    }
    return std::nullopt;
  }

 private:
  std::string_view Keep(beast::string_view s) {
    if (!copy_) {
      const asio::const_buffer in = src_.data();
      const char* lo = static_cast<const char*>(in.data());
      std::less_equal<const char*> le;
      if (le(lo, s.data()) && le(s.data() + s.size(), lo + in.size())) return View(s);
    }
    return spill_.emplace_front(s.data(), s.size());
  }
  // At the start line (the first callback of a message): views only if the whole header is in
  // `src` (its readable bytes begin with this message: what came before is consumed), else copies
  // for the whole message.
  void Begin() {
    const asio::const_buffer in = src_.data();
    copy_ = std::string_view(static_cast<const char*>(in.data()), in.size()).find("\r\n\r\n") ==
            std::string_view::npos;
  }
  void on_request_impl(http::verb m, beast::string_view ms, beast::string_view t, int v,
                       beast::error_code&) override {
    Begin();
    method = m;
    method_text = Keep(ms);
    target = Keep(t);
    version = static_cast<unsigned>(v);
  }
  void on_response_impl(int code, beast::string_view r, int v, beast::error_code&) override {
    Begin();
    status = code;
    reason = Keep(r);
    version = static_cast<unsigned>(v);
  }
  void on_field_impl(http::field f, beast::string_view name, beast::string_view value,
                     beast::error_code& ec) override {
    const std::string_view v = Keep(value);
    if constexpr (isRequest) {
      if (fields.size() >= max_fields) {
        ec = http::error::header_limit;
        return;
      }
      if (f == http::field::host) {
        if (host_fields++ == 0) host = v;
      } else if (f == http::field::transfer_encoding) {
        transfer_encodings.push_back(v);
      }
    }
    fields.emplace_back(Keep(name), v);
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, beast::error_code&) override {}
  size_t Put(beast::string_view b, beast::error_code& ec) {
    if (body_data == nullptr) {
      ec = http::error::need_buffer;
      return 0;
    }
    const size_t n = std::min(body_size, b.size());
    std::memcpy(body_data, b.data(), n);
    body_data += n;
    body_size -= n;
    if (n != b.size()) ec = http::error::need_buffer;
    return n;
  }
  size_t on_body_impl(beast::string_view b, beast::error_code& ec) override { return Put(b, ec); }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view b, beast::error_code& ec) override {
    return Put(b, ec);
  }
  void on_finish_impl(beast::error_code&) override {}

  const beast::flat_buffer& src_;
  bool copy_ = false;                     // the header was not whole at its start line
  std::forward_list<std::string> spill_;  // nothing allocated unless a value is copied
};

}  // namespace mkn::vnet::edge_internal
