// The graph of every example lab against its goldens (testdata/graph/<lab>.dot and .mmd; `dot
// -Tsvg` reads each in the e2e test), quoting and escaping of awkward names, live state over the
// lab's, and the Mermaid output of every example checked line by line against the flowchart
// grammar it uses.
#include "lib/graph/graph.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "lib/config/toml/load.h"
#include "lib/testing/testing.h"

namespace mkn::graph {
namespace {

namespace fs = std::filesystem;

using testdata::ReadFile;
using testdata::SourceDir;

// Every example lab (examples/*/lab.toml, examples/cni/*.toml; not the broken plugins' labs),
// with the golden name it has: "quickstart", "cni-bridge".
std::vector<std::pair<std::string, fs::path>> Examples() {
  std::vector<std::pair<std::string, fs::path>> out;
  for (const auto& d : fs::directory_iterator(SourceDir() / "examples")) {
    if (fs::exists(d.path() / "lab.toml"))
      out.emplace_back(d.path().filename().string(), d.path() / "lab.toml");
  }
  for (const auto& f : fs::directory_iterator(SourceDir() / "examples" / "cni")) {
    if (f.path().extension() == ".toml")
      out.emplace_back("cni-" + f.path().stem().string(), f.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

config::ClusterSpec LoadLab(const fs::path& p) {
  config::LoadResult r = config::Load(ReadFile(p), p.string());
  EXPECT_TRUE(r.spec.has_value()) << p << ": " << r.diags.ToStatus();
  return r.spec ? *r.spec : config::ClusterSpec{};
}

void CheckGolden(const std::string& got, const fs::path& golden) {
  if (std::getenv("MKN_UPDATE_GOLDEN") != nullptr) {
    fs::create_directories(golden.parent_path());
    std::ofstream(golden) << got;
  }
  ASSERT_TRUE(fs::exists(golden)) << golden << " missing; run with MKN_UPDATE_GOLDEN=1";
  EXPECT_EQ(got, ReadFile(golden)) << golden;
}

TEST(Graph, EveryExampleMatchesItsGoldens) {
  const auto examples = Examples();
  ASSERT_GE(examples.size(), 10u);
  for (const auto& [name, path] : examples) {
    const Graph g = BuildGraph(LoadLab(path));
    CheckGolden(RenderDot(g), SourceDir() / "testdata" / "graph" / (name + ".dot"));
    CheckGolden(RenderMermaid(g), SourceDir() / "testdata" / "graph" / (name + ".mmd"));
  }
}

// Each line of a Mermaid flowchart as RenderMermaid writes it: a comment, the header, a vertex
// with a quoted label and a class, a subgraph with a quoted title, its end, an edge (with an
// optional quoted label) or a class definition. Inside quotes: no quote (they are #quot;).
TEST(Graph, EveryExampleIsMermaidOfTheGrammarItUses) {
  const std::regex line(
      R"(%% [^\n]*|flowchart TB|  +n[0-9]+\["[^"]*"\]:::[a-z]+|  subgraph g[0-9]+\["[^"]*"\]|)"
      R"(  end|  n[0-9]+ (---|-\.-|-\.->|==>)(\|"[^"]*"\|)? n[0-9]+|  classDef [a-z]+ [^ ]+)");
  for (const auto& [name, path] : Examples()) {
    std::stringstream in(RenderMermaid(BuildGraph(LoadLab(path))));
    int subgraphs = 0;
    for (std::string l; std::getline(in, l);) {
      EXPECT_TRUE(std::regex_match(l, line)) << name << ": " << l;
      if (l.rfind("  subgraph", 0) == 0) ++subgraphs;
      if (l == "  end") --subgraphs;
    }
    EXPECT_EQ(subgraphs, 0) << name;
  }
}

TEST(Graph, NamesWithDotsDashesAndQuotesAreQuoted) {
  Graph g;
  g.name = "a.b-c";
  g.title = "say \"hi\" \\ <b> #1 & co";
  g.groups = {{"node/n.1", "node \"n.1\""}};
  g.vertices = {{"pod/x-1.y", VertexKind::kPod, {"x-1.y", "10.0.0.1"}, "node/n.1"},
                {"svc/q\"uote", VertexKind::kService, {"svc/q\"uote", "a\\b"}, ""}};
  g.edges = {{"svc/q\"uote", "pod/x-1.y", EdgeKind::kService, "", "", "80 -> 8080"}};
  EXPECT_EQ(RenderDot(g),
            "graph \"a.b-c\" {\n"
            "  label=\"say \\\"hi\\\" \\\\ <b> #1 & co\"; labelloc=t; fontname=\"Helvetica\"; "
            "fontsize=12; newrank=true;\n"
            "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n"
            "  edge [fontname=\"Helvetica\", fontsize=8, labelfontsize=8];\n"
            "  \"svc/q\\\"uote\" [label=\"svc/q\\\"uote\\na\\\\b\", fillcolor=\"#f8d7da\"];\n"
            "  subgraph \"cluster_node/n.1\" {\n"
            "    label=\"node \\\"n.1\\\"\"; style=rounded; color=\"#6c757d\";\n"
            "    \"pod/x-1.y\" [label=\"x-1.y\\n10.0.0.1\", fillcolor=\"#d1e7dd\"];\n"
            "  }\n"
            "  \"svc/q\\\"uote\" -- \"pod/x-1.y\" [label=\"80 -> 8080\", dir=forward, "
            "style=dotted, color=\"#c0392b\"];\n"
            "}\n");
  const std::string m = RenderMermaid(g);
  EXPECT_EQ(m.substr(0, m.find("  classDef")),
            "%% say #quot;hi#quot; \\ #lt;b#gt; #35;1 #amp; co\n"
            "flowchart TB\n"
            "  n1[\"svc/q#quot;uote<br/>a\\b\"]:::service\n"
            "  subgraph g0[\"node #quot;n.1#quot;\"]\n"
            "    n0[\"x-1.y<br/>10.0.0.1\"]:::pod\n"
            "  end\n"
            "  n1 -.->|\"80 -#gt; 8080\"| n0\n");
}

TEST(Graph, LiveStateReplacesTheLabsPodsAndEndpoints) {
  const config::ClusterSpec spec = LoadLab(SourceDir() / "examples" / "services" / "lab.toml");
  ASSERT_FALSE(spec.services.empty());
  LiveState live;
  live.pods = {{"web-7", spec.nodes[0].name, "10.244.1.77"}};
  live.endpoints[spec.services[0].name] = {"web-7"};
  const Graph g = BuildGraph(spec, &live);
  int pods = 0;
  for (const Vertex& v : g.vertices) {
    if (v.kind != VertexKind::kPod) continue;
    ++pods;
    EXPECT_EQ(v.id, "pod/web-7");
    EXPECT_EQ(v.lines, (std::vector<std::string>{"web-7", "10.244.1.77"}));
  }
  EXPECT_EQ(pods, 1);
  int to_web7 = 0;
  for (const Edge& e : g.edges)
    if (e.kind == EdgeKind::kService && e.to == "pod/web-7") ++to_web7;
  EXPECT_EQ(to_web7, 1);
  EXPECT_NE(g.title.find("(live)"), std::string::npos);
}

}  // namespace
}  // namespace mkn::graph
