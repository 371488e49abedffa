// vnet/capture/capture — `minikube-net capture`: many interfaces in many namespaces into one
// pcapng file (or a pipe), bounded by a duration or a packet count, closed cleanly on Ctrl-C.
//
// The file is written as it goes: the Section Header and one Interface Description Block per
// interface first (so a reader on a pipe knows every interface before the first packet), then
// Enhanced Packet Blocks, then, when the capture ends for any reason (the count, the duration, a
// signal, the reader closing the pipe), one Interface Statistics Block per interface with the
// kernel's received and dropped counters. A file is therefore always complete and valid when the
// process exits normally. Writing to a pipe or terminal flushes after every wake-up's packets, so
// `| tshark -r -` shows each packet as it comes; a file is written in 1 MiB chunks. The packets
// one wake-up of the loop reads from all its sockets are sorted by kernel timestamp before they
// are written: the file is in time order, and one packet's hops read in the order it took them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/capture/targets.h"
#include "vnet/capture/sockets.h"
#include "vnet/cluster/state.h"

namespace mkn::vnet {

struct CaptureOptions {
  std::vector<std::string> targets;  // TARGET words; empty = everything of the lab
  std::string output = "-";          // a file path, or "-" for standard output
  std::string filter;
  uint32_t snaplen = capture::kDefaultSnaplen;
  bool promiscuous = true;  // PacketSocketOptions::promiscuous: tcpdump's default; -p turns it off
  std::optional<absl::Duration> duration;
  uint64_t count = 0;  // 0 = no limit
  int stop_fd = -1;    // StopSignalFd()'s signalfd: Ctrl-C ends the capture
  // Called once every socket is open, before the first packet (the CLI says "capturing on ...").
  std::function<void(const std::vector<OpenInterface>&, const std::vector<std::string>& skipped)>
      on_open;
};

struct InterfaceSummary {
  std::string name;  // "web-0:eth0"
  InterfaceCounters counters;
};

struct CaptureSummary {
  uint64_t packets = 0;  // written
  uint64_t bytes = 0;    // of the output
  std::string ended_by;  // "count", "duration", "signal", "output closed", "every namespace
                         // captured removed"
  std::vector<InterfaceSummary> interfaces;
};

// The namespaces of a running cluster, as a capture names them: the underlay (a flat lab) or the
// routers (a routed one: ToRs, then the spine), the nodes, the pods (the state's order and names:
// pods that kill and scale made are there).
std::vector<capture::LabObject> LabObjectsOf(const ClusterState& s);

// Captures on `o.targets` of cluster `s` into `o.output` (created, or truncated, 0644; "-" is the
// open standard output). SelectTargets' and PacketSockets::Open's codes; the codes of
// vnet/kernel/errors.h for the output file or a write that fails (a reader that closes the pipe
// is no error: the capture ends "output closed"). Needs CAP_NET_RAW and CAP_SYS_ADMIN.
absl::StatusOr<CaptureSummary> RunCapture(const ClusterState& s, const CaptureOptions& o);

// The end-of-capture report (stderr): a line per interface with what was captured and what the
// kernel dropped, and a total.
std::string SummaryText(const CaptureSummary& s);

}  // namespace mkn::vnet
