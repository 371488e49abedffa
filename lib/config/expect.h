// lib/config/expect — `[[expect]]`: a lab's truth table of what must and must not connect.
//
// One row says: from these pods (a pod, a label selector, a node, or the host for the edge), to
// this destination (a pod, a selector, a pod IP, a node and a port — a NodePort —, a Service
// `svc/NAME[:PORT]`, or `host-edge`: the ingress on loopback, with a Host and a path), over this
// protocol and port, the result is "allow" or "deny". Resolve() (spec.h) checks every row against
// the lab and fills the defaults (a Service's port and protocol, the edge's listener); the rows are
// expanded into probe cells by lib/check and probed by `minikube-net check` (vnet/check).
//
// Addresses carry their family: only IPv4 is accepted today, and the one place that says so is
// ParseExpectAddress (resolve_expect.cc); dual stack adds kIpv6 there.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "lib/config/diagnostics.h"

namespace mkn::config {

enum class AddressFamily { kIpv4, kIpv6 };
std::string_view ToString(AddressFamily f);

// An address with its family, as text ("10.244.1.3"): what a probe tool is given.
struct IpAddress {
  AddressFamily family = AddressFamily::kIpv4;
  std::string text;
  bool operator==(const IpAddress&) const = default;
};

// How a row is probed. kHttp/kHttps only to the edge; the edge only over them.
enum class ExpectProto { kTcp, kUdp, kIcmp, kHttp, kHttps };
std::string_view ToString(ExpectProto p);

enum class ExpectResult { kAllow, kDeny };
std::string_view ToString(ExpectResult r);

// One end of a row.
struct ExpectEnd {
  enum class Kind {
    kPod,       // name: a pod ([[pod]] or a Deployment's "<name>-<i>")
    kSelector,  // selector: every pod whose labels hold each pair
    kNode,      // name: a node's namespace (as a source), its underlay address (as a destination)
    kHost,      // from only: the namespace `check` runs in, where the edge listens
    kService,   // to only: name, its ClusterIP
    kAddress,   // to only: address
    kHostEdge,  // to only: the edge on loopback
  };
  Kind kind = Kind::kPod;
  std::string name;
  std::map<std::string, std::string> selector;
  IpAddress address;
  bool operator==(const ExpectEnd&) const = default;
};

struct ExpectSpec {
  SourcePos pos;  // of the [[expect]] table: rows are named by their line
  ExpectEnd from, to;
  int port = 0;  // 0 for icmp
  ExpectProto proto = ExpectProto::kTcp;
  ExpectResult result = ExpectResult::kAllow;
  // to = "host-edge": the Host header (empty: none, the listener's address is the authority), the
  // path, and the listener's address (127.0.0.0/8) the request goes to.
  std::string host;
  std::string path = "/";
  IpAddress edge_address;
  bool operator==(const ExpectSpec&) const = default;
};

}  // namespace mkn::config
