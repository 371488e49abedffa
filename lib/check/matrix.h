// lib/check/matrix — a lab's [[expect]] rows as a reachability matrix, and what a probe's outcome
// means for it. Pure: the decisions `minikube-net check` makes, table-tested without root;
// vnet/check runs the probes.
//
// Expand() turns each row into cells, one per (source, destination) pair of the running cluster:
// a selector becomes every running pod it picks (a Deployment scaled since `up` included), a pod
// or node its namespace. Rows are the sources (pods, nodes, "host"), columns the destinations with
// their port and protocol ("svc/web:80/tcp", "web-0:8080/tcp", "echo/icmp",
// "http://shop.example:8080/cart"), as the Kubernetes netpol e2e suite lays out its truth tables
// (test/e2e/network/netpol/truthtable.go: froms × tos).
//
// What counts as allow and deny (the contract NetworkPolicy is tested against):
//   allow  the destination answered within the probe's wait:
//            tcp   the TCP handshake completed (a reset after it still counts: it connected)
//            udp   a datagram came back (udp-echo answers; a destination that never answers UDP
//                  cannot be told from a drop, so a udp "allow" row needs an echo at that port)
//            icmp  an echo reply came back
//            http(s) to the edge: a response with status 1xx-3xx
//   deny   anything else: silence until the wait ends (a drop, as NetworkPolicy does), a refusal
//          (a TCP reset to the SYN, an ICMP port/host/admin unreachable), no route, and for the
//          edge a 4xx or 5xx (no route matched, no endpoints, the upstream failed).
// A probe tool that could not be run at all is neither: the cell is an error (JUnit <error>), and
// `check` fails on it too.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lib/config/spec.h"
#include "lib/control/state.h"

namespace mkn::check {

// What is running, as the probes see it: pods and nodes by name with their namespace and address.
struct LivePod {
  std::string name, node, netns;
  config::IpAddress ip;  // text empty: the pod has no address (a CNI ADD that failed)
  std::map<std::string, std::string> labels;
};
struct LiveNode {
  std::string name, netns;
  config::IpAddress underlay_ip;
};
struct World {
  std::vector<LivePod> pods;  // in the state's order
  std::vector<LiveNode> nodes;
};

// The running cluster's pods and nodes (from its state.json) with the labels the lab gives them:
// a bare pod's own, a Deployment replica's template's.
World WorldOf(const config::ClusterSpec& spec, const control::ClusterState& state);

// One probe: from a namespace to an address and port, and the verdict the row wants.
struct Cell {
  int row = 0;             // index into ClusterSpec::expects
  int line = 0;            // the [[expect]] table's line in the lab file
  std::string from, to;    // the matrix's row and column labels
  std::string from_netns;  // "" = the namespace `check` runs in (from = "host")
  config::IpAddress address;
  int port = 0;
  config::ExpectProto proto = config::ExpectProto::kTcp;
  std::string host, path;  // the edge: Host header ("" = none) and path
  config::ExpectResult want = config::ExpectResult::kAllow;
  bool operator==(const Cell&) const = default;
};

struct Matrix {
  std::vector<Cell> cells;              // row by row of the lab, each row's sources × destinations
  std::vector<std::string> froms, tos;  // labels in order of first appearance
  // Rows with no cell now (a selector that matches no running pod, a pod killed since `up`), and
  // sources without an address: each fails the check (one line each, with the row's line).
  std::vector<std::string> problems;
};

// A bound on one run: at most this many cells (a lab's rows × pods; more is a problem, not a run
// that takes minutes).
inline constexpr int kMaxCells = 2048;

Matrix Expand(const config::ClusterSpec& spec, const World& world);

// How long a probe waits for its answer, how many run at once, and the bound on the whole run:
// the waves (ceil(cells / parallel)) times a probe's wait and its tool's start and exit, at least
// 10 s. A deny waits out the whole wait, so the wait is short: the lab is on one machine, where an
// answer takes well under a millisecond and an ARP resolution a few.
struct Budget {
  std::chrono::milliseconds wait{1000};
  int parallel = 16;
  std::chrono::milliseconds total{10000};
};
Budget BudgetFor(size_t cells);

// A probe's outcome, from the tool's exit and output.
enum class Outcome {
  kAnswered,     // allow
  kRefused,      // deny: a reset, an ICMP unreachable, an HTTP error status
  kUnreachable,  // deny: no route, host unreachable
  kSilent,       // deny: nothing within the wait
  kError,        // the probe could not be run (a missing tool): neither
};
std::string_view ToString(Outcome o);

// What a tool run said, as vnet/check hands it over.
struct ToolRun {
  bool started = false;
  int code = -1;
  bool timed_out = false;
  std::string out, err;
};
// The outcome of `run` for a probe over `proto` (the tools: socat for tcp, bash /dev/udp + dd for
// udp, ping for icmp, curl -w '%{http_code}' for http(s)).
Outcome Classify(config::ExpectProto proto, const ToolRun& run);

struct CellResult {
  Cell cell;
  Outcome outcome = Outcome::kError;
  std::string evidence;  // the tool's command and what it said
  std::chrono::milliseconds took{0};
  bool allowed() const { return outcome == Outcome::kAnswered; }
  // The cell agrees with its row (an error never does).
  bool ok() const {
    return outcome != Outcome::kError && allowed() == (cell.want == config::ExpectResult::kAllow);
  }
};

struct Report {
  std::string cluster;
  std::vector<std::string> froms, tos;
  std::vector<CellResult> results;
  std::vector<std::string> problems;
  std::chrono::milliseconds took{0};
  int Mismatches() const;
  int Errors() const;
  bool Passed() const { return Mismatches() == 0 && Errors() == 0 && problems.empty(); }
};

}  // namespace mkn::check
