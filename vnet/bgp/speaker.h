// vnet/bgp/speaker — a BGP speaker (BIRD 2) as a child process minikube-net owns: its
// configuration written, the daemon started inside a namespace, asked over its control socket,
// and what `minikube-net bgp` shows of it.
//
// The process model is vnet/kernel/process's (as vnet/cni/exec runs plugins): a forked child that
// setns()es into the namespace and execs `bird -f` (foreground, so the pid we record is the
// daemon's), its own session and process group, PR_SET_PDEATHSIG so it dies with the thread that
// started it. Never a thread of ours in another namespace. Its pid and start time go into the
// cluster's state (vnet/cluster/state), which is how `down` finds and stops a speaker whose
// minikube-net was killed: by that pid and start time, never by name. The control socket and the
// configuration live under the cluster's state directory (lib/net/naming's Bird*Path), so `down`
// removing that directory leaves no socket behind.
//
// A daemon answers on its socket only once it has read its configuration; an error there makes it
// exit with the reason in its log: WaitAnswering() says which.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/bgp/birdc.h"
#include "lib/bgp/report.h"
#include "lib/plan/plan.h"
#include "vnet/kernel/process.h"

namespace mkn::vnet {

// Writes `s.config` to s.config_path (0600; its directory and the log's made 0700), removes a
// socket a killed run left at s.socket_path, and starts `bird -f -c CONFIG -s SOCKET` inside the
// netns `netns_fd`, stdout and stderr appended to s.log_path. Call it from the thread that owns the
// cluster (PDEATHSIG follows the thread). Spawn's codes: NotFound "run bird: No such file or
// directory" when BIRD is not installed (the message says which package), PermissionDenied,
// Unavailable; vnet/kernel/errors.h's for the files. Needs CAP_SYS_ADMIN (setns) and
// CAP_NET_ADMIN in the namespace (BIRD programs its routes).
absl::StatusOr<ChildProcess> StartSpeaker(const plan::StartBgpSpeaker& s, int netns_fd);

// Connects to a BIRD control socket, reads the greeting, sends `command` and returns the reply
// (lib/bgp/birdc). Unavailable when nothing answers at `socket` (no daemon, or it exited);
// DeadlineExceeded when the reply takes longer than `timeout`; FailedPrecondition "bird: ..." for
// an error BIRD answers (a command it does not know); Internal for a reply it cannot read.
absl::StatusOr<bgp::Reply> AskBird(const std::string& socket, std::string_view command,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(2));

// Wakes the daemon's main loop: connects to its control socket, waits for the greeting (at most
// `timeout`), closes. Why: BIRD 2.0.12 can leave an UPDATE queued until its main loop next wakes,
// when the export was started from its work queue (the initial feed of a session that just came
// up): the loop then sleeps until its next timer, a keepalive (up to 1 s) away, so each hop of a
// fresh fabric may add most of a second. Any activity on a socket of the daemon flushes it; `up`
// pokes every speaker while it waits for convergence, which brings a lab from about 1.7 s to about
// 1.1 s after its speakers start (docs/BENCHMARKS.md, bgp). Best effort: errors are ignored.
void PokeBird(const std::string& socket, std::chrono::milliseconds timeout);

// Waits until the speaker answers on its socket, or its process has exited, or `timeout`. OK once
// it answers; FailedPrecondition "bgp speaker OBJECT exited: <the last lines of its log>" (a
// configuration BIRD refused, a port taken); DeadlineExceeded otherwise.
absl::Status WaitAnswering(const plan::StartBgpSpeaker& s, const ChildProcess& p,
                           std::chrono::milliseconds timeout);

// The last `lines` lines of a log file, "" if it cannot be read.
std::string LogTail(const std::string& path, int lines);

// What `minikube-net bgp` needs of one speaker to ask it.
struct SpeakerRef {
  std::string object, role, netns, socket;
  int64_t asn = 0;
};
// Asks the speaker for its sessions (show protocols all) and, with_routes, its table (show route
// all); a speaker that does not answer gets its `error` set, never a failed call. Uptimes are
// computed in this machine's time zone, which is BIRD's.
bgp::SpeakerStatus QuerySpeaker(const SpeakerRef& s, bool with_routes);

}  // namespace mkn::vnet
