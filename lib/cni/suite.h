// lib/cni/suite — how the conformance suite (`minikube-net verify`) spends its time: the run's
// --timeout and what each probe may wait derived from it, the churn sized to the lab, and the
// waves the checks run in (checks of one wave in parallel, waves one after the other).
//
// Pure decisions, table-tested here; vnet/cni/verify carries them out. Issue 14 wants the suite
// fast enough for every push (a healthy 3-pod lab in <= 15 s, a broken plugin reported in
// <= 30 s): a probe that gets no answer costs its wait, so the wait is short and bounded by the
// run's own budget, and checks that do not disturb each other overlap.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mkn::cni {

// The whole run's budget when --timeout is not given: generous for every default check on a
// loaded machine (they take seconds), short enough that a CI job never hangs on the suite.
inline constexpr std::chrono::milliseconds kDefaultRunTimeout = std::chrono::minutes(10);

// --timeout DURATION: a sequence of <number><unit> with units h, m, s, ms ("90s", "1m30s",
// "500ms", "1.5m"), or a bare number of seconds ("45"). InvalidArgument, saying what is accepted,
// for anything else, for zero, and for more than 24 hours.
absl::StatusOr<std::chrono::milliseconds> ParseRunTimeout(std::string_view text);

// "10m", "1m30s", "45s", "1.5s", "250ms": a budget as the user would type it.
std::string FormatRunTimeout(std::chrono::milliseconds d);

// How long one probe waits for its answer (a ping's reply, a TCP connection, a datagram's echo):
// a 60th of the run's budget, between 0.5 s and 2 s. On a working path an answer takes
// milliseconds even on a loaded machine; silence is the verdict, so it must not cost more.
std::chrono::milliseconds ProbeWait(std::chrono::milliseconds run_timeout);

// How long a probe keeps retrying while its peer refuses (a RST, an ICMP port unreachable):
// the suite's own servers may still be starting, which is the one case worth a retry.
inline constexpr std::chrono::milliseconds kServerStartWindow = std::chrono::seconds(5);

// The churn's pods per round when --churn is not given: twice the lab's pods, at least 4 and at
// most 200 (the old default, still there with --churn 200). The churn looks for what a few
// rounds of ADD then DEL leave behind; a lab's size says how many pods the user's chain must
// carry, and a round of twice that is beyond what `up` already did, at a cost that grows with
// the lab rather than a fixed minute.
int DefaultChurnPods(int lab_pods);
inline constexpr int kChurnRounds = 5;

// The checks' waves, in order: a run of consecutive checks that may share the lab forms one
// wave; a check that needs the lab to itself (`alone[i]`: it diffs the node before and after,
// measures a rate, hands GC a list of every attachment, or judges what all earlier checks
// provoked) is a wave of its own. Indices into `alone`, in order.
std::vector<std::vector<size_t>> PlanWaves(const std::vector<bool>& alone);

// How many checks of one wave run at once, and how many probes of one check: each probe is a
// child process, mostly waiting; bounded so that a 2-core machine is not drowned in them.
inline constexpr int kCheckWorkers = 4;
inline constexpr int kProbeWorkers = 4;

}  // namespace mkn::cni
