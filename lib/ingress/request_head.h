// lib/ingress/request_head — what the edge checks in a request's head before it routes it
// (RFC 9112, RFC 9110), and the path it routes by (RFC 3986 §6 normalization, as Envoy's
// normalize_path and merge_slashes do).
//
// A proxy that reads a request differently from the server behind it is a desync (one request, two
// responses: smuggling) or a route bypass (`/public/%2e%2e/admin` matched by `/public`, served as
// `/admin`). So the edge refuses what RFC 9112 says a server must refuse, instead of guessing, and
// routes and forwards the one path the backend will see. Beast 1.74's parser already refuses some
// of it (a bad request line, a field without a colon, two different Content-Lengths,
// Content-Length with chunked, a bad chunk size or extension); what it lets through is checked
// here. Per case, the answer (every one closes the connection: what follows the head cannot be
// framed reliably):
//
//   HTTP/ version other than 1.0 and 1.1              505  (Beast parses any digit.digit)
//   CONNECT                                            501  (a gateway, not a forward proxy: it
//                                                            cannot tunnel for any target; 405
//                                                            would need an Allow the backend owns)
//   OPTIONS *  (asterisk-form)                         501  (no server-wide options to give)
//   Transfer-Encoding whose final coding is not        400  (RFC 9112 §6.3: the body's length
//     chunked: "chunked, identity", "gzip", ""               cannot be determined; a MUST)
//   chunked twice                                      400  (§7: never applied twice)
//   a coding before chunked: "gzip, chunked"           501  (§6.1: a coding not understood;
//                                                            as nginx and Envoy answer)
//   Transfer-Encoding in an HTTP/1.0 request           400  (§6.1: faulty framing)
//   two Host fields, or a Host that is not             400  (§3.2: a MUST)
//     uri-host[:port]
//   HTTP/1.1 without Host                              400  (§3.2: a MUST, absolute-form too)
//   absolute-form "http://a.test/x": routed by its     -    (§3.2.2: the target's authority wins
//     authority, which overrides Host                        over Host; forwarded in origin-form
//                                                            with Host set to it)
//   absolute-form with userinfo, an empty host, a      400  (RFC 9110 §4.2.1, §4.2.4)
//     scheme other than http/https
//   any other target that is not origin-form, a        400
//     fragment ('#'), bad percent-encoding
//
// The path (origin-form, or an absolute-form's) is normalized before routing and forwarded so:
// percent-encoded unreserved characters decoded (`%2e` is `.`, `%41` is `A`), other escapes kept
// with uppercase hex (`%2f` stays an escaped slash, never a separator: `%2F`), runs of `/` merged
// into one, then dot-segments removed (RFC 3986 §5.2.4; `..` stops at the root). Merging comes
// before the dot-segments, as nginx's merge_slashes and Go's path.Clean do (`/a//../b` is `/b`;
// Envoy merges after, giving `/a/b`): backends that merge slashes at all resolve it like that. The
// query is left as it came. A path already normal (nearly every request) is not copied.
//
// Pure: no I/O; nothing here allocates unless the path changes or a check fails.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace mkn::ingress {

// The parts of a parsed request head the checks read: views into the caller's buffer.
struct RequestHead {
  std::string_view method;  // as received ("GET"; methods are case-sensitive)
  std::string_view target;  // the request-target as received
  unsigned version = 11;    // major * 10 + minor, as Beast reports it
  int host_fields = 0;      // how many Host field lines came
  std::string_view host;    // the first one's value
  // Every Transfer-Encoding field line's value, in order (each a comma-separated coding list).
  std::span<const std::string_view> transfer_encodings;
};

struct HeadCheck {
  // 0: route it. Else the answer (400, 501 or 505), and `why` says what was wrong, for its body
  // ("two Host fields"); the connection closes after it.
  int status = 0;
  std::string why;
  // When status is 0: what to route and forward by. `authority` is the absolute-form target's
  // authority, else Host (empty in an HTTP/1.0 request without one). `path` is normalized: a view
  // into RequestHead::target when it needed no change, else into the caller's `path_buffer`.
  // `query` is what follows the first '?' (without it), a view into the target.
  bool absolute_form = false;
  bool path_changed = false;  // `path` differs from what the target carried
  bool has_query = false;     // the target had a '?' (perhaps with an empty query)
  std::string_view authority;
  std::string_view path;
  std::string_view query;
};

// Checks `head` as the banner's table says. `path_buffer` holds a normalized path that differs
// from the target's; it must outlive the views in the result.
HeadCheck CheckRequestHead(const RequestHead& head, std::string& path_buffer);

enum class PathResult {
  kNormal,      // already normal: use it as it is
  kNormalized,  // the normal form is in `out`
  kInvalid,     // a '%' not followed by two hex digits: answer 400
};
// Normalizes an absolute path ("/..." without query) as the banner says.
PathResult NormalizePath(std::string_view path, std::string& out);

// Whether `host` is a Host field value (or an authority) a server may accept: uri-host [":" port]
// (RFC 9110 §7.2, RFC 3986 §3.2.2): a reg-name or IPv4 of unreserved, sub-delims and
// percent-encoded characters, or an IP-literal in brackets; a port of digits. Empty is valid (an
// empty authority).
bool IsValidHost(std::string_view host);

}  // namespace mkn::ingress
