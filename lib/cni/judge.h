// lib/cni/judge — the conformance suite's verdicts (`minikube-net verify`): given what a plugin
// printed and what vnet/ observed with real tools, decide pass or fail and say why.
//
// Pure: vnet/cni/verify runs the tools (`ip -j addr show`, the plugin's VERSION, iperf3, its own
// socat echo servers) inside the namespaces and hands their text here; nothing in this file runs
// anything. A finding is one sentence of evidence, without the pod or node it is about (the caller
// prefixes that): "result says eth0 has MAC 0a:.., the pod's eth0 has 0a:..". An empty list of
// findings is a pass.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/cni/result.h"

namespace mkn::cni {

// One interface as `ip -j addr show dev IFNAME` shows it.
struct ObservedInterface {
  std::string mac;  // as ip prints it (lowercase)
  int mtu = 0;
  // "10.244.1.5/24", "fd00::5/64", in ip's order. IPv6 link-local addresses starting "fe80:" are
  // left out: the kernel derives them from the MAC, no plugin reports them in a result.
  std::vector<std::string> addrs;
};

// Reads the first entry of `ip -j addr show dev IFNAME` (the command names one device, so there is
// one). NotFound "no IFNAME in `ip -j addr`" when the text is not a JSON array holding an object
// (ip printed nothing, or something else). Fields of an unexpected type read as empty.
absl::StatusOr<ObservedInterface> ParseIpAddrShow(std::string_view ip_j_output,
                                                  std::string_view ifname);

// What an ADD result says about the container's interface `ifname` (SPEC.md §5).
struct ExpectedInterface {
  // interfaces[] lists ifname with a non-empty "sandbox" (the container side of a veth, not the
  // host side, which may share the name in another namespace).
  bool listed = false;
  std::string mac;  // that entry's "mac"; "" when there is none (a plugin may leave it out)
  // ips[].address that belong to it: those whose "interface" index points at that entry, and
  // those without an index (or an index out of range): a runtime can only put them in the
  // container, so they are judged there too.
  std::vector<std::string> addrs;
};
ExpectedInterface ExpectedOnInterface(const Result& result, std::string_view ifname);

// spec.add.interface: the pod's `ifname` against the ADD `result` for a request at `version`.
// Findings, in this order:
//   - from 0.3.0 (the first version with interfaces[]): the result lists no ifname with a sandbox;
//   - the result's MAC for it differs from the observed one (compared ignoring case: Go prints
//     lowercase, some plugins do not);
//   - each address of the result not on the interface ("result says eth0 has A, the pod's eth0
//     has [B, C]").
// Not judged: addresses on the interface the result does not name (the spec lists what the plugin
// configured, not everything the kernel or another plugin of the chain added), routes, the MTU.
std::vector<std::string> JudgeInterface(const Result& result, std::string_view version,
                                        std::string_view ifname, const ObservedInterface& seen);

// model.own-ip: whether one of the interface's addresses is `ip` (any prefix length).
bool HasIp(const ObservedInterface& seen, std::string_view ip);

// The "supportedVersions" array of a plugin's VERSION reply (SPEC.md §2 VERSION), as printed.
// InvalidArgument "VERSION gave no supportedVersions list" when the reply is not JSON, not an
// object, or has no such array.
absl::StatusOr<nlohmann::json> SupportedVersions(std::string_view version_reply);

// spec.version: "" when `supported` (what SupportedVersions returned) lists `want`, the
// conflist's cniVersion, as a string; else "supportedVersions [..] does not list the conflist's
// cniVersion WANT".
std::string JudgeSupportedVersions(const nlohmann::json& supported, std::string_view want);

// The suite's TCP and UDP echo servers in the pods answer "tcp PEER" / "udp PEER" (PEER the
// address they saw the client connect from). PEER, with trailing CR/LF removed, when `reply`
// starts with "PROTO "; nullopt when it does not (no answer, or another server answered).
std::optional<std::string> EchoPeer(std::string_view proto, std::string_view reply);

// Whether a socket of the namespace is bound to local `port` in /proc/<pid>/net/tcp or
// /proc/<pid>/net/udp (`proc_net`, as the kernel prints it: a header line, then one socket a line
// with "local_address" as hex "ADDR:PORT" and "st" as hex state): a TCP socket in LISTEN (0A), a
// UDP socket in any state. The suite waits for this before it probes its own servers: a probe
// sent before they are bound is refused, and after one refusal the kernel's ICMP rate limit
// (net.ipv4.icmp_ratelimit, per peer) turns the next "port unreachable" into silence, a probe
// that looks like a lost answer.
bool ProcNetBound(std::string_view proc_net, int port, bool tcp);

// A process seen in a namespace the suite watches (vnet/kernel/holders found it by its
// /proc/<pid>/ns/net).
struct SeenProcess {
  int pid = 0;
  uint64_t start_time = 0;  // with the pid, one process for good (a pid can be reused)
  std::string comm;
  std::string where;  // which namespace: "node node1", "the test pod"
  // Started by the suite's servers or the lab's node daemons (in a session one of them leads, not
  // leading it). Never a plugin's leftover: a plugin call's session leader is reaped before the
  // call returns, and a daemon a plugin detaches leads a session of its own.
  bool ours = false;
};

// spec.del.clean: the processes in `after` (taken after DEL) that are not in `before` (taken before
// ADD; the same pid and start time): started by the plugin calls in between and still running,
// each holding the namespace it runs in (a node's, a pod's, for good: the kernel cannot free it).
// One finding each, in `after`'s order: "pid 4242 (sleep) still runs in node node1". Processes
// marked `ours` are not judged (a node daemon may start children at any time); the check runs
// alone, so nothing else of the suite's runs meanwhile.
std::vector<std::string> JudgeLeftProcesses(const std::vector<SeenProcess>& before,
                                            const std::vector<SeenProcess>& after);

// What `iperf3 -c ... -J` printed.
struct Iperf3Reading {
  double bits_per_second = 0;  // end.sum_received.bits_per_second; 0 if absent
  // The server was not listening yet: a JSON "error" about connecting, or "Connection refused" in
  // the text (iperf3 reports it in its JSON with exit status 0 on some versions). Worth a retry.
  bool server_not_ready = false;
};
Iperf3Reading ParseIperf3Json(std::string_view output);

// model.bandwidth's tolerance: a measured rate within +-30% of the limit passes (a token bucket
// over 3 s of TCP overshoots at the start and undershoots on slow machines).
inline constexpr double kRateTolerance = 0.3;
// limit * (1 - kRateTolerance) <= measured <= limit * (1 + kRateTolerance).
bool RateWithinLimit(double measured_bps, int64_t limit_bps);

}  // namespace mkn::cni
