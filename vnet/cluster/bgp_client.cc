// BgpStatus (client.h): `minikube-net bgp`, asked of each speaker's own daemon. The cluster's owner
// is not involved: every speaker answers on its control socket, whose path the state records, so
// this works the same from any terminal (as root) while the lab runs.

#include <string>
#include <vector>

#include "lib/control/usage.h"
#include "lib/strings/str_cat.h"
#include "vnet/bgp/speaker.h"
#include "vnet/cluster/client.h"
#include "vnet/cluster/control.h"
#include "vnet/cluster/state.h"

namespace mkn::vnet {

absl::StatusOr<std::vector<bgp::SpeakerStatus>> BgpStatus(const ClusterState& s,
                                                          const std::string& speaker) {
  if (s.speakers.empty()) {
    return absl::FailedPreconditionError(StrCat("cluster ", s.cluster,
                                                " runs no BGP speakers: its network is ", s.network,
                                                " (network = \"bgp\" runs them)"));
  }
  // The speakers are the owner's children and go with it: after a crash or SIGKILL every socket
  // refuses, and a table of "no answer" rows would hide the one cause (as `get overlay` says it).
  if (!IsAlive(s.owner)) {
    return absl::UnavailableError(
        StrCat("cluster ", s.cluster, " does not answer on ", ControlSocketPath(s.cluster),
               " (its process ", s.owner.pid,
               " is not running, nor are its BGP speakers): see: minikube-net status"));
  }
  std::vector<std::string> names;
  for (const SpeakerState& sp : s.speakers) names.push_back(sp.name);
  if (!speaker.empty() && std::find(names.begin(), names.end(), speaker) == names.end()) {
    const std::string meant = control::Nearest(speaker, names);
    return absl::InvalidArgumentError(
        StrCat("no BGP speaker named ", speaker, " in cluster ", s.cluster,
               meant.empty() ? "" : StrCat(" (did you mean \"", meant, "\"?)"),
               "; its speakers: the nodes, tor-<rack> and spine"));
  }
  std::vector<bgp::SpeakerStatus> out;
  for (const SpeakerState& sp : s.speakers) {
    if (!speaker.empty() && sp.name != speaker) continue;
    out.push_back(QuerySpeaker({sp.name, sp.role, sp.netns, sp.socket, sp.asn}, !speaker.empty()));
  }
  return out;
}

}  // namespace mkn::vnet
