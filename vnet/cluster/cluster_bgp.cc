// RunningCluster's part for network = "bgp" (see cluster.h): the speakers started once the links
// exist, recorded in the state before anything else can happen to them, and the wait for the
// moment every node's kernel routes every other node's pod CIDR. cluster_impl.h is what it shares
// with cluster.cc.

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "lib/net/naming.h"
#include "lib/plan/plan.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/bgp/converge.h"
#include "vnet/bgp/speaker.h"
#include "vnet/cluster/cluster.h"
#include "vnet/cluster/cluster_impl.h"

namespace mkn::vnet {
namespace {

// How long a speaker may take to read its configuration and open its socket (milliseconds, even
// on a loaded machine), and the lab to converge (about a second: BIRD's first connect waits
// 0.75-1 s; a large lab's routes then take a few more hops).
constexpr auto kAnswerTimeout = std::chrono::seconds(10);
constexpr auto kConvergeTimeout = std::chrono::seconds(30);
constexpr auto kPokeEvery = std::chrono::milliseconds(50);

using Clock = std::chrono::steady_clock;

long long MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// MKN_TRACE=1: where a BGP lab's bring-up spends its time, beside the applier's phases.
bool Trace() { return std::getenv("MKN_TRACE") != nullptr; }

}  // namespace

void SplitAtSpeakers(plan::Plan& plan, plan::Plan& speakers, plan::Plan& after) {
  speakers = plan::PhaseRange(plan, plan::kPhaseRoutes, plan::kPhaseRoutes + 1);
  after = plan::PhaseRange(plan, plan::kPhasePods, plan::kPhaseCount);
  plan = plan::PhaseRange(plan, 0, plan::kPhasePods);
}

absl::Status RunningCluster::StartSpeakers(const plan::Plan& plan) {
  Impl& impl = *impl_;
  const auto t0 = Clock::now();
  speakers_started_ = t0;
  std::vector<const plan::StartBgpSpeaker*> started;
  absl::Status st;
  for (const plan::Step& step : plan.steps) {
    const auto* s = std::get_if<plan::StartBgpSpeaker>(&step.op);
    if (s == nullptr) continue;
    auto ns = impl.applied.netns.find(s->ns);
    if (ns == impl.applied.netns.end()) {
      st = absl::InternalError(StrCat("bgp speaker ", s->object, ": netns ", s->ns, " not made"));
      break;
    }
    absl::StatusOr<ChildProcess> p = StartSpeaker(*s, ns->second.get());
    if (!p.ok()) {
      st = p.status();
      break;
    }
    for (SpeakerState& sp : state_.speakers) {
      if (sp.name == s->object) sp.process = IdOf(*p);
    }
    started.push_back(s);
  }
  // On disk before anything else: a `down` after a SIGKILL from here on finds them by pid and start
  // time (they would die with this process anyway: PDEATHSIG).
  if (absl::Status w = WriteState(state_); st.ok() && !w.ok()) st = w;
  MKN_RETURN_IF_ERROR(st);
  if (Trace())
    fprintf(stderr, "bgp: %zu speakers started in %lld ms\n", started.size(), MsSince(t0));
  for (const plan::StartBgpSpeaker* s : started) {
    for (const SpeakerState& sp : state_.speakers) {
      if (sp.name != s->object) continue;
      MKN_RETURN_IF_ERROR(
          WaitAnswering(*s, ChildOf(sp.process),
                        std::chrono::duration_cast<std::chrono::milliseconds>(kAnswerTimeout)));
    }
  }
  if (Trace()) fprintf(stderr, "bgp: every speaker answering after %lld ms\n", MsSince(t0));
  return absl::OkStatus();
}

absl::Status RunningCluster::StartSpeakersThenApply(const plan::Plan& speakers,
                                                    const plan::Plan& rest,
                                                    const UpOptions& options, int steps_before) {
  Impl& impl = *impl_;
  MKN_RETURN_IF_ERROR(StartSpeakers(speakers));
  if (options.stop_requested && options.stop_requested())
    return absl::CancelledError("interrupted");
  ApplyOptions ao;
  ao.workers = options.workers;
  ao.progress = options.progress;
  ao.existing_netns = &impl.applied.netns;
  ao.stop_requested = options.stop_requested;
  if (options.fail_at_step >= 0) ao.fail_at_step = options.fail_at_step - steps_before;
  MKN_ASSIGN_OR_RETURN(Applied more, Apply(rest, ao));
  for (auto& [name, fd] : more.netns) impl.applied.netns[name] = std::move(fd);
  for (AppSocket& a : more.apps) impl.applied.apps.push_back(std::move(a));
  for (plan::StartCommand& c : more.commands) impl.applied.commands.push_back(std::move(c));
  for (auto& [name, fd] : more.tuns) impl.applied.tuns[name] = std::move(fd);
  if (more.world_dns_tcp.valid()) {
    impl.applied.world_dns_udp = std::move(more.world_dns_udp);
    impl.applied.world_dns_tcp = std::move(more.world_dns_tcp);
  }
  return absl::OkStatus();
}

void RunningCluster::ReapSpeakers(std::vector<std::string>& out) {
  // A BGP speaker that exits takes its routes with it: its peers withdraw them (what a student
  // sees after `kill`ing one), and the notice says where its log is.
  for (SpeakerState& sp : state_.speakers) {
    if (sp.process.pid <= 0) continue;
    int status = 0;
    if (::waitpid(sp.process.pid, &status, WNOHANG) == sp.process.pid) {
      out.push_back(StrCat("bgp speaker ", sp.name, " exited with ",
                           WIFEXITED(status) ? StrCat("status ", WEXITSTATUS(status))
                                             : StrCat("signal ", WTERMSIG(status)),
                           ": its peers withdraw its routes (log: ",
                           net::BirdLogPath(state_.cluster, sp.name), ")"));
      sp.process = {};
    }
  }
}

absl::Status RunningCluster::WaitBgpConverged(const std::function<bool()>& stop_requested) {
  Impl& impl = *impl_;
  const config::ClusterSpec& spec = impl.spec;
  std::vector<RoutesWanted> want;
  for (const config::NodeSpec& n : spec.nodes) {
    RoutesWanted w{n.name, impl.applied.netns.at(n.netns).get(), {}};
    for (const config::NodeSpec& o : spec.nodes) {
      if (o.index != n.index) w.prefixes.push_back(o.pod_cidr);
    }
    want.push_back(std::move(w));
  }
  // Every round: no speaker may have exited; every kPokeEvery, each is woken (PokeBird says why).
  Clock::time_point poked;
  auto check = [&]() -> absl::Status {
    if (stop_requested && stop_requested()) return absl::CancelledError("interrupted");
    const bool poke = Clock::now() - poked >= kPokeEvery;
    if (poke) poked = Clock::now();
    for (const SpeakerState& sp : state_.speakers) {
      if (sp.process.pid > 0 && !IsAlive(sp.process)) {
        const std::string log = net::BirdLogPath(spec.name, sp.name);
        return absl::FailedPreconditionError(StrCat("bgp speaker ", sp.name,
                                                    " exited before the lab converged (", log,
                                                    "): ", LogTail(log, 5)));
      }
      if (poke) PokeBird(sp.socket, std::chrono::milliseconds(20));
    }
    return absl::OkStatus();
  };
  absl::Status converged = WaitForRoutes(
      want, std::chrono::duration_cast<std::chrono::milliseconds>(kConvergeTimeout), check);
  if (Trace() && converged.ok()) {
    fprintf(stderr, "bgp: converged %lld ms after the speakers started\n",
            MsSince(speakers_started_));
  }
  if (absl::IsDeadlineExceeded(converged)) {
    return absl::DeadlineExceededError(
        StrCat(converged.message(), " (each speaker's log: ", impl.logs,
               "/bird-<name>.log; minikube-net bgp shows its sessions)"));
  }
  return converged;
}

}  // namespace mkn::vnet
