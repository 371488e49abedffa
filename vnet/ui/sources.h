// vnet/ui/sources — where a running cluster's dashboard takes its snapshot from: the cluster's
// owner over its control socket (the answers `get svc`, `get routes` and `conntrack` print, so
// the page's numbers are the CLI's), the state file (the pods as kill and scale left them), the
// graph of its lab with those live pods and endpoints (lib/graph), rendered by Graphviz's dot
// (vnet/graph; again only when the graph changed), and `trace` (vnet/trace's RunTrace).
//
// The same sources serve `up --ui` (inside the owner: it asks its own control socket, as any
// client would) and `minikube-net ui` (a separate process). Needs root, as the control socket and
// the trace do.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "vnet/ui/server.h"

namespace mkn::vnet {

// The sources of cluster `cluster`. FailedPrecondition when its state or its lab file no longer
// reads (the lab is read once, here: its traces and graph are of the lab it came up with, as
// `trace` and `graph` read it).
absl::StatusOr<UiSources> ClusterSources(const std::string& cluster);

}  // namespace mkn::vnet
