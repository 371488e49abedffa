#include "lib/nat/drop_reason.h"

namespace mkn::nat {

std::string_view ToString(DropReason r) {
  switch (r) {
    case DropReason::kNone:
      return "none";
    case DropReason::kTruncated:
      return "truncated";
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kBadChecksum:
      return "bad_checksum";
    case DropReason::kFragment:
      return "fragment";
    case DropReason::kUnsupportedProtocol:
      return "unsupported_protocol";
    case DropReason::kNoService:
      return "no_service";
    case DropReason::kNoEndpoints:
      return "no_endpoints";
    case DropReason::kNoFlow:
      return "no_flow";
    case DropReason::kInvalidTcp:
      return "invalid_tcp";
    case DropReason::kIcmpNoFlow:
      return "icmp_no_flow";
    case DropReason::kPortsExhausted:
      return "ports_exhausted";
    case DropReason::kTableFull:
      return "table_full";
    case DropReason::kFragTimeout:
      return "frag_timeout";
    case DropReason::kFragOverlap:
      return "frag_overlap";
    case DropReason::kFragOversize:
      return "frag_oversize";
    case DropReason::kFragOverload:
      return "frag_overload";
    case DropReason::kNetworkPolicy:
      return "network_policy";
  }
  return "?";
}

}  // namespace mkn::nat
