// vnet/cni/verify/command — `minikube-net verify` as the command line runs it, once the lab is
// read: the --only/--skip globs checked against the check table, signals taken by the calling
// thread (as `up` does: a pending SIGINT/SIGTERM/SIGHUP ends the suite and the lab goes down), a
// line per check on `err` as it finishes, then the report on `out` as a table or JSON, and as
// JUnit XML to a file when asked. The caller (cmd/) passes the streams: stdout and stderr.
#pragma once

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/cni/suite.h"
#include "lib/config/spec.h"

namespace mkn::vnet {

struct VerifyCommand {
  std::string lab;    // absolute (the conflist's relative bin_dir must not depend on our cwd)
  std::string junit;  // "" = no JUnit file
  std::string output = "table";  // or "json"
  std::vector<std::string> only, skip;
  bool keep = false;
  bool fail_fast = false;
  std::chrono::milliseconds timeout = cni::kDefaultRunTimeout;
  int churn_pods = 0;  // 0: sized to the lab
  bool color = false;  // the table in color (the caller's choice: its stdout is a terminal)
};

// Runs the suite on `spec`, the lab `c.lab` holds. True if every check passed or was skipped, false
// if one failed or ended in a harness error, or the --timeout ran out before every check had
// finished (the report says which; stderr says what was not run). InvalidArgument for a lab that is
// not a network = "cni" lab or a glob that matches no check; PermissionDenied without CAP_NET_ADMIN
// and CAP_SYS_ADMIN; a runtime failure (never InvalidArgument or NotFound) when the lab cannot come
// up. Needs CAP_NET_ADMIN and CAP_SYS_ADMIN; blocks SIGINT, SIGTERM and SIGHUP in the calling
// thread. The report goes to `out`; the lines as checks finish, and what was not run, to `err`.
absl::StatusOr<bool> RunVerifyCommand(const config::ClusterSpec& spec, const VerifyCommand& c,
                                      std::ostream& out, std::ostream& err);

}  // namespace mkn::vnet
