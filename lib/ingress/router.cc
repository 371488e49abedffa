#include "lib/ingress/router.h"

// Placeholder so the edge server can be built against the interface; the matching rules land with
// their table tests.
namespace mkn::ingress {

struct Router::Impl {};

absl::StatusOr<Router> Router::Build(const config::ClusterSpec&) {
  Router r;
  r.impl_ = std::make_shared<Impl>();
  return r;
}

Decision Router::Route(const Request&, uint64_t) const { return Decision{}; }

std::vector<std::string> Router::Routes() const { return {}; }

bool PrefixMatches(std::string_view, std::string_view) { return false; }

}  // namespace mkn::ingress
