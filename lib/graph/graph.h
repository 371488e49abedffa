// lib/graph — the lab as a picture: a graph model computed from the resolved lab (and, for a
// running cluster, its live pods and endpoints), and its renderers, DOT (Graphviz) and Mermaid.
//
// The model says what is drawn; the renderers only say how. Vertices are the lab's network
// namespaces and the devices that join them (the underlay and its bridge, each node with its
// routes, its pod bridge and VXLAN device, each pod with its address), Services with their
// endpoints, and the edge's listeners with their routes. Each node is a group (a box) holding its
// devices and pods. Edges are links whose two ends are labelled with the interface name and
// address on that side (containerlab's graph labels link ends with interface names), the VXLAN
// tunnel over the underlay, Services to their endpoints and the edge's routes to Services.
//
// Every name, address and label is quoted and escaped by the renderers (DOT: a quoted ID, `"`
// and `\` escaped; Mermaid: generated ids, labels in quotes with `"`, `#`, `<` and `>` as
// entities), so names with dots, dashes or quotes never break the output. Pure and
// deterministic: goldens in testdata/graph/.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "lib/config/spec.h"

namespace mkn::graph {

enum class VertexKind { kUnderlay, kNode, kBridge, kTunnel, kPod, kService, kListener };
enum class EdgeKind {
  kLink,     // a cable: veth, a node's port on the underlay, a device in its node
  kTunnel,   // encapsulated over the underlay (VXLAN)
  kService,  // a Service to one of its endpoints (directed)
  kRoute     // an edge listener's route to a Service (directed)
};

struct Vertex {
  std::string id;  // unique and stable: "underlay", "node/node1", "pod/web-0", "svc/web", ...
  VertexKind kind = VertexKind::kPod;
  std::vector<std::string> lines;  // the label, line by line; the first is the name
  std::string group;               // the Group it is drawn in; "" = none
};

struct Group {
  std::string id;  // "node/node1"
  std::string label;
};

struct Edge {
  std::string from, to;  // vertex ids
  EdgeKind kind = EdgeKind::kLink;
  std::string from_end, to_end;  // the interface and address at each end; "" = none
  std::string label;             // the link as a whole (a route, a target port); "" = none
};

struct Graph {
  std::string name;   // the cluster's
  std::string title;  // one line: what the lab is
  std::vector<Group> groups;
  std::vector<Vertex> vertices;
  std::vector<Edge> edges;
};

// What a running cluster knows that its lab file does not: the pods as they are now (kill and
// scale make new ones, a CNI chain gives the addresses) and each Service's endpoints.
struct LivePod {
  std::string name, node, ip;
};
struct LiveState {
  std::vector<LivePod> pods;
  // Service name -> its endpoints' pod names, as the running proxy serves them; a Service not
  // here keeps the lab's selector match.
  std::map<std::string, std::vector<std::string>> endpoints;
};

// The graph of `spec`; with `live`, its pods and endpoints replace the lab's.
Graph BuildGraph(const config::ClusterSpec& spec, const LiveState* live = nullptr);

// `graph LAB -o dot`: an undirected Graphviz graph (`dot -Tsvg` renders it), nodes as clusters.
std::string RenderDot(const Graph& g);
// `graph LAB -o mermaid`: a Mermaid flowchart for Markdown, nodes as subgraphs.
std::string RenderMermaid(const Graph& g);

// DOT's quoted string: `"` and `\` escaped, a newline as \n.
std::string DotQuote(std::string_view s);
// Text inside a Mermaid quoted label: `"`, `#`, `<`, `>`, `&` as entity codes (#quot; ...).
std::string MermaidEscape(std::string_view s);

}  // namespace mkn::graph
