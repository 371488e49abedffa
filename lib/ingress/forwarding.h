// lib/ingress/forwarding — what a reverse proxy changes in the headers it relays (RFC 9110, 7239).
//
// Pure functions over header lists (name lowercase, value as received), so the rules are
// table-tested without sockets. vnet/edge/ingress converts to and from Beast's fields.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mkn::ingress {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct ForwardInfo {
  std::string client_ip;                      // the downstream peer's address
  std::string proto;                          // "http" or "https": the scheme the client used
  std::string host;                           // the Host the client sent
  std::string by;                             // the listener, "127.0.0.1:8080", for Forwarded: by=
  std::string_view via = "1.1 minikube-net";  // a view: 16 chars would be an allocation per request
  // This hop's Forwarded element, ForwardedElement(*this), when the caller keeps it across requests
  // from the same client; empty: made per call.
  std::string forwarded;
};

// "for=…;proto=…;host=…;by=…" (RFC 7239 §4; IPv6 bracketed and quoted).
std::string ForwardedElement(const ForwardInfo& info);

// Removes the hop-by-hop headers: Connection and every header it names, Keep-Alive,
// Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Authenticate,
// Proxy-Authorization.
void RemoveHopByHop(Headers& headers);

// The request as it goes upstream: hop-by-hop headers removed; X-Forwarded-For gets the client
// appended (", "-joined to what came in); X-Forwarded-Proto and X-Forwarded-Host set when absent
// (the first proxy's view wins, as nginx's $proxy_add_x_forwarded_for keeps the chain);
// Forwarded gets an element for=…;proto=…;host=…;by=… appended (IPv6 quoted, RFC 7239); Via
// appended.
void PrepareUpstreamRequest(Headers& headers, const ForwardInfo& info);

// The response as it goes downstream: hop-by-hop headers removed, Via appended.
void PrepareDownstreamResponse(Headers& headers, const ForwardInfo& info);

// The same two rules for a proxy that writes the message itself: the header lines
// ("name: value\r\n", names lowercase, in the order Prepare*() leaves them) are appended to `out`
// straight from views of the received fields (any case), with no intermediate list and no
// allocation beyond `out`. `skip` names (lowercase) one more field to leave out, as a proxy that
// answers Expect itself does. forwarding_test checks both forms against the same tables.
using HeaderView = std::pair<std::string_view, std::string_view>;
void AppendUpstreamRequestLines(std::string& out, const std::vector<HeaderView>& headers,
                                const ForwardInfo& info, std::string_view skip = {});
void AppendDownstreamResponseLines(std::string& out, const std::vector<HeaderView>& headers,
                                   const ForwardInfo& info);

}  // namespace mkn::ingress
