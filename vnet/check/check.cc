// vnet/check — see check.h.
#include "vnet/check/check.h"

#include <atomic>
#include <cerrno>
#include <fstream>
#include <map>
#include <ostream>
#include <thread>
#include <utility>
#include <vector>

#include "lib/check/report.h"
#include "lib/strings/str_cat.h"
#include "vnet/cni/verify/probe.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/fd.h"
#include "vnet/kernel/netns.h"

namespace mkn::vnet {
namespace {

using Clock = std::chrono::steady_clock;
using config::ExpectProto;
using verify_internal::ProbeLimits;
using verify_internal::ToolResult;

std::chrono::milliseconds MsSince(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
}

// One cell's probe from `fd` (-1: this namespace).
ToolResult Probe(const check::Cell& c, int fd, const ProbeLimits& limits) {
  const std::string& ip = c.address.text;
  switch (c.proto) {
    case ExpectProto::kTcp:
      return verify_internal::TcpConnect(fd, ip, c.port, limits);
    case ExpectProto::kUdp:
      return verify_internal::UdpExchange(fd, ip, c.port, "minikube-net check\n", limits);
    case ExpectProto::kIcmp:
      return verify_internal::RunTool(
          fd, {"ping", "-n", "-c1", "-W", verify_internal::ToolSeconds(limits.wait), ip},
          limits.ToolTimeout());
    case ExpectProto::kHttp:
    case ExpectProto::kHttps: {
      // The Host header and the TLS server name are the row's host, sent to the listener's
      // address (--resolve), as a browser that resolved the name to loopback would. -k: check
      // judges reachability; the certificate is `curl --cacert`'s business.
      const std::string scheme(config::ToString(c.proto));
      const std::string authority = c.host.empty() ? ip : c.host;
      std::vector<std::string> argv = {
          "curl", "-sS",          "-o", "/dev/null",
          "-w",   "%{http_code}", "-m", verify_internal::ToolSeconds(limits.wait),
          "-k"};
      if (!c.host.empty()) {
        argv.push_back("--resolve");
        argv.push_back(StrCat(c.host, ":", c.port, ":", ip));
      }
      argv.push_back(StrCat(scheme, "://", authority, ":", c.port, c.path));
      return verify_internal::RunTool(fd, argv, limits.ToolTimeout());
    }
  }
  return {};
}

}  // namespace

absl::StatusOr<check::Report> RunCheck(const config::ClusterSpec& spec,
                                       const control::ClusterState& state) {
  if (spec.expects.empty()) {
    return absl::FailedPreconditionError(StrCat(
        "check ", state.cluster, ": the lab has no [[expect]] rows to check (", state.lab, ")"));
  }
  const auto t0 = Clock::now();
  check::Matrix m = check::Expand(spec, check::WorldOf(spec, state));
  const check::Budget budget = check::BudgetFor(m.cells.size());
  check::Report r;
  r.cluster = state.cluster;
  r.froms = m.froms;
  r.tos = m.tos;
  r.problems = m.problems;
  r.results.resize(m.cells.size());

  // Each source namespace opened once; the probes' children enter it through the fd.
  std::map<std::string, absl::StatusOr<Fd>> netns;
  for (const check::Cell& c : m.cells) {
    if (!c.from_netns.empty() && !netns.count(c.from_netns)) {
      netns.emplace(c.from_netns, OpenNetns(c.from_netns));
    }
  }
  ProbeLimits limits;
  limits.wait = budget.wait;
  limits.deadline = t0 + budget.total;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < m.cells.size();) {
      const check::Cell& c = m.cells[i];
      check::CellResult& out = r.results[i];
      out.cell = c;
      const auto started = Clock::now();
      int fd = -1;
      if (!c.from_netns.empty()) {
        const absl::StatusOr<Fd>& ns = netns.at(c.from_netns);
        if (!ns.ok()) {
          out.outcome = check::Outcome::kError;
          out.evidence = StrCat("open netns ", c.from_netns, ": ", ns.status().message());
          continue;
        }
        fd = ns->get();
      }
      if (limits.Expired()) {
        out.outcome = check::Outcome::kError;
        out.evidence =
            StrCat("not probed: the run's bound of ", budget.total.count() / 1000, " s had passed");
        continue;
      }
      ToolResult t = Probe(c, fd, limits);
      out.outcome = check::Classify(c.proto, {t.started, t.code, t.timed_out, t.out, t.err});
      out.evidence = t.Say();
      out.took = MsSince(started);
    }
  };
  std::vector<std::thread> threads;
  const size_t n = std::min(m.cells.size(), static_cast<size_t>(budget.parallel));
  for (size_t i = 0; i < n; ++i) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  r.took = MsSince(t0);
  return r;
}

absl::StatusOr<int> PrintCheck(const check::Report& report, const std::string& output,
                               const std::string& junit, std::ostream& out) {
  out << (output == "json" ? check::Json(report) : check::Table(report));
  out.flush();
  if (!junit.empty()) {
    std::ofstream f(junit, std::ios::trunc);
    f << check::JUnitXml(report);
    f.close();
    if (!f) return KernelError(errno, StrCat("write JUnit file ", junit));
  }
  return report.Passed() ? 0 : 1;
}

}  // namespace mkn::vnet
