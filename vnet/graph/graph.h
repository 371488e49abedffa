// vnet/graph — what `minikube-net graph` needs besides the pure model (lib/graph): a running
// cluster's live state, and SVG through Graphviz's `dot` program.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "lib/graph/graph.h"
#include "vnet/cluster/state.h"

namespace mkn::vnet {

// The pods of the cluster's state (as kill and scale left them, with the addresses a CNI chain
// gave), and each Service's endpoints from its owner over the control socket when it answers
// (else the lab's selector match stands). Never fails: a dead owner is the recorded state.
graph::LiveState LiveStateOf(const ClusterState& s);

// `dot -Tsvg` of `dot_text`: the SVG it prints. NotFound "the dot program is not installed
// (Debian: apt-get install graphviz)" when it is not on PATH; Internal with dot's message when it
// refuses the input; the codes of vnet/kernel/errors.h when it cannot be run.
absl::StatusOr<std::string> RenderSvg(const std::string& dot_text);

}  // namespace mkn::vnet
