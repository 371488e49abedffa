#include "vnet/edge/snapshot.h"

#include "lib/status/status.h"
#include "lib/strings/str_cat.h"

namespace mkn::vnet::edge_internal {

absl::StatusOr<std::shared_ptr<const Snapshot>> MakeSnapshot(const config::ClusterSpec& spec) {
  auto snap = std::make_shared<Snapshot>();
  MKN_ASSIGN_OR_RETURN(snap->router, ingress::Router::Build(spec));
  MKN_ASSIGN_OR_RETURN(nat::ServiceTable table, nat::ServiceTable::Build(spec));
  for (const nat::ServicePort& p : table.ports()) {
    Target t{p.cluster_ip, p.port, p.endpoints, StrCat(p.cluster_ip.ToString(), ":", p.port), {}};
    for (const nat::Endpoint& e : p.endpoints)
      t.endpoint_keys.push_back(StrCat(e.ip.ToString(), ":", e.port));
    snap->targets[{p.service, p.port}] = std::move(t);
  }
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

}  // namespace mkn::vnet::edge_internal
