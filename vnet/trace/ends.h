// vnet/trace/ends — how a trace ends other than by its verdict: the cluster it ran in went away
// (`down`), a pod of its path was replaced while the probe was out (kill, scale), and the --pcap
// file written without hanging on a FIFO nobody reads. Internal to vnet/trace (RunTrace).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lib/trace/trace.h"
#include "vnet/cluster/state.h"

namespace mkn::vnet {

// Whether the cluster is still the one the trace started in: `down` (its state gone or
// stopping), or a new `up` of the same name, makes it another. Unavailable saying so, else OK.
absl::Status StillUp(const ClusterState& before);

// StillUp, then whether a pod of `p` was killed, restarted or scaled away while the probe was out
// (its containers are other processes now, or it is gone): Aborted naming it, else OK. A probe
// lost then says nothing about the network.
absl::Status PathUnchanged(const ClusterState& before, const trace::Path& p);

// Writes `bytes` to `path` by `deadline`. A FIFO waits for its reader (open() would block for
// ever without one, and so would a write to a full pipe nobody reads): opened and written
// non-blocking, its reader waited for in steps of 20 ms; DeadlineExceeded saying why when none
// comes (or it stops reading) in time. vnet/kernel/errors.h's codes for the rest.
absl::Status WritePcap(const std::string& path, std::string_view bytes, absl::Time deadline);

}  // namespace mkn::vnet
