// vnet/check — `minikube-net check`: a running cluster's [[expect]] rows probed for real.
//
// The matrix and the verdicts are lib/check's (matrix.h says what counts as allow and deny); this
// file opens the source namespaces and runs one probe per cell with the conformance suite's own
// probes (vnet/cni/verify/probe: socat for a TCP connect, bash /dev/udp + dd for a UDP round trip,
// ping for ICMP; curl for the edge, from the namespace check runs in, where the edge listens). A
// probe is a child process that setns()es itself, so the cells run in parallel on short-lived
// threads (lib/check's Budget: 16 at once, each waiting 1 s for its answer, the whole run bounded),
// and no thread of ours changes namespace.
#pragma once

#include <iosfwd>
#include <string>

#include "absl/status/statusor.h"
#include "lib/check/matrix.h"
#include "lib/config/spec.h"
#include "lib/control/state.h"

namespace mkn::vnet {

// Probes every cell of `spec`'s [[expect]] rows on the running cluster `state` (the lab's spec,
// the cluster's state.json). The report says every cell's outcome; a cell whose namespace cannot
// be opened or whose tool cannot run is an error cell, not a failed call. FailedPrecondition when
// the lab has no [[expect]] row (nothing to check is not a pass). Needs CAP_SYS_ADMIN (the probes
// enter the pods' namespaces).
absl::StatusOr<check::Report> RunCheck(const config::ClusterSpec& spec,
                                       const control::ClusterState& state);

// `check`'s output: the report as `output` says ("table" or "json") on `out`, and as JUnit XML to
// `junit` when it is not empty. The exit status: 0 when every cell is what the lab expects, 1
// otherwise (a mismatch, an error, a row with nothing to probe). Errors: the JUnit file that could
// not be written (its code from vnet/kernel/errors.h).
absl::StatusOr<int> PrintCheck(const check::Report& report, const std::string& output,
                               const std::string& junit, std::ostream& out);

}  // namespace mkn::vnet
