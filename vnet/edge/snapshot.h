// vnet/edge/snapshot — the edge's routing state: the router and, per Service port, where a request
// for it goes (internal to vnet/edge).
//
// Everything a request needs that changes when pods come and go, built from a ClusterSpec and
// replaced whole by IngressServer::Update(): a request holds the snapshot it started with (a
// shared_ptr), so an update never changes a request in flight. Immutable once built; safe to read
// from any thread. Pure: no I/O, no privileges.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/config/spec.h"
#include "lib/ingress/router.h"
#include "lib/nat/service_table.h"
#include "lib/net/ip.h"

namespace mkn::vnet::edge_internal {

// What a request is sent to: a Service's ClusterIP, or its endpoints.
struct Target {
  net::Ipv4 cluster_ip;
  int port = 0;
  std::vector<nat::Endpoint> endpoints;
  // "ip:port" of the ClusterIP and of each endpoint (the upstream pool's keys), made once here
  // rather than per request.
  std::string cluster_key;
  std::vector<std::string> endpoint_keys;
};

struct Snapshot {
  ingress::Router router;
  std::map<std::pair<std::string, int>, Target> targets;  // (service, service port)
};

// The router and every Service port's target. Errors: Router::Build's and ServiceTable::Build's
// (kInvalidArgument for a route or Service port that does not resolve; Resolve() prevents both).
absl::StatusOr<std::shared_ptr<const Snapshot>> MakeSnapshot(const config::ClusterSpec& spec);

}  // namespace mkn::vnet::edge_internal
