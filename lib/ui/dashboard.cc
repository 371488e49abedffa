#include "lib/ui/dashboard.h"

#include <algorithm>
#include <set>
#include <utility>

#include "lib/strings/str_cat.h"
#include "lib/trace/trace.h"

namespace mkn::ui {
namespace {

std::string_view KindName(graph::VertexKind k) {
  switch (k) {
    case graph::VertexKind::kUnderlay:
      return "underlay";
    case graph::VertexKind::kNode:
      return "node";
    case graph::VertexKind::kBridge:
      return "bridge";
    case graph::VertexKind::kTunnel:
      return "tunnel";
    case graph::VertexKind::kPod:
      return "pod";
    case graph::VertexKind::kService:
      return "service";
    case graph::VertexKind::kListener:
      return "listener";
  }
  return "?";
}

std::string_view KindName(graph::EdgeKind k) {
  switch (k) {
    case graph::EdgeKind::kLink:
      return "link";
    case graph::EdgeKind::kTunnel:
      return "tunnel";
    case graph::EdgeKind::kService:
      return "service";
    case graph::EdgeKind::kRoute:
      return "route";
  }
  return "?";
}

nlohmann::json TraceJson(const TraceEntry& t) {
  nlohmann::json j{{"id", t.id}, {"src", t.src}, {"dst", t.dst}, {"proto", t.proto}};
  if (!t.error.empty()) {
    j["error"] = t.error;
  } else {
    j["result"] = t.result;
  }
  j["highlight"] = t.highlight.is_null() ? nlohmann::json::object() : t.highlight;
  return j;
}

// The vertex a hop is drawn on: the most specific one the graph has.
std::string VertexOf(const nlohmann::json& hop, const std::set<std::string>& ids) {
  const std::string object = hop.value("object", "");
  const std::string ifname = hop.value("interface", "");
  const std::string role = hop.value("role", "");
  std::vector<std::string> candidates;
  candidates.push_back(StrCat("pod/", object));
  if (ifname == "cbr0" || role == "host veth" || role == "bridge cbr0")
    candidates.push_back(StrCat("bridge/", object));
  if (ifname == "vxlan0" || role == "VXLAN device") candidates.push_back(StrCat("vxlan/", object));
  if (ifname == "gnv0" || role == "Geneve TAP") candidates.push_back(StrCat("geneve/", object));
  candidates.push_back(StrCat("node/", object));
  candidates.push_back(object);  // "underlay", "spine"
  // A racks lab's router: object "tor-r1" is vertex "tor/r1".
  if (object.rfind("tor-", 0) == 0) candidates.push_back(StrCat("tor/", object.substr(4)));
  for (const std::string& c : candidates) {
    if (ids.count(c) != 0) return c;
  }
  return "";
}

}  // namespace

nlohmann::json GraphJson(const graph::Graph& g) {
  nlohmann::json vs = nlohmann::json::array(), es = nlohmann::json::array();
  for (const graph::Vertex& v : g.vertices) {
    vs.push_back(
        {{"id", v.id}, {"kind", KindName(v.kind)}, {"lines", v.lines}, {"group", v.group}});
  }
  for (const graph::Edge& e : g.edges) {
    es.push_back({{"from", e.from}, {"to", e.to}, {"kind", KindName(e.kind)}, {"label", e.label}});
  }
  return {{"title", g.title}, {"vertices", std::move(vs)}, {"edges", std::move(es)}};
}

nlohmann::json Snapshot(const Inputs& in, const std::deque<TraceEntry>& traces) {
  nlohmann::json j;
  j["cluster"] = in.cluster;
  j["graph"] = GraphJson(in.graph);
  j["graph"]["svg"] = in.svg;
  j["services"] = in.services ? control::ToJson(*in.services) : nlohmann::json(nullptr);
  j["routes"] = in.routes ? control::ToJson(*in.routes) : nlohmann::json(nullptr);
  j["conntrack"] = in.conntrack ? control::ToJson(*in.conntrack) : nlohmann::json(nullptr);
  nlohmann::json ts = nlohmann::json::array();
  for (const TraceEntry& t : traces) ts.push_back(TraceJson(t));
  j["traces"] = std::move(ts);
  j["errors"] = in.errors;
  return j;
}

nlohmann::json Highlight(const nlohmann::json& trace_result, const graph::Graph& g) {
  std::set<std::string> ids;
  for (const graph::Vertex& v : g.vertices) ids.insert(v.id);
  std::set<std::pair<std::string, std::string>> links;
  for (const graph::Edge& e : g.edges) {
    links.insert({e.from, e.to});
    links.insert({e.to, e.from});
  }
  nlohmann::json vertices = nlohmann::json::array(), edges = nlohmann::json::array();
  nlohmann::json missing = nullptr;
  std::string prev;
  std::set<std::pair<std::string, std::string>> seen_edges;
  std::set<std::string> seen_vertices;
  if (!trace_result.is_object() || !trace_result.contains("hops") ||
      !trace_result["hops"].is_array()) {
    return {{"vertices", vertices}, {"edges", edges}, {"missing", missing}};
  }
  for (const nlohmann::json& hop : trace_result["hops"]) {
    if (!hop.is_object()) continue;
    const std::string v = VertexOf(hop, ids);
    if (v.empty()) continue;
    // A hop no interface shows is proved by the next one, except a source's routing decision
    // that sent nothing (lib/trace's DiedAtSource): the probe died there.
    const bool died_at_source = hop.value("role", "") == trace::kSourceRouteRole;
    if (!hop.value("seen", false) && (hop.value("interface", "") != "" || died_at_source)) {
      // The first predicted hop that did not see the probe: where it died.
      if (missing.is_null()) missing = v;
      continue;
    }
    if (!missing.is_null()) continue;  // after the loss nothing was seen: not drawn as taken
    if (v == prev) continue;
    if (seen_vertices.insert(v).second) vertices.push_back(v);
    if (!prev.empty() && links.count({prev, v}) != 0) {
      std::pair<std::string, std::string> key = std::minmax(prev, v);
      if (seen_edges.insert(key).second) edges.push_back({prev, v});
    }
    prev = v;
  }
  return {{"vertices", vertices}, {"edges", edges}, {"missing", missing}};
}

Routed Route(std::string_view method, std::string_view path) {
  const bool get = method == "GET" || method == "HEAD";
  Routed r;
  auto want_get = [&](Target t, std::string_view asset = {}) {
    if (get) {
      r.target = t;
      r.asset = std::string(asset);
    } else {
      r.target = Target::kMethodNotAllowed;
      r.allow = "GET, HEAD";
    }
    return r;
  };
  if (path == "/" || path == "/index.html") return want_get(Target::kPage, "index.html");
  if (path == "/app.js") return want_get(Target::kAsset, "app.js");
  if (path == "/style.css") return want_get(Target::kAsset, "style.css");
  if (path == "/api/state") return want_get(Target::kState);
  if (path == "/api/events") return want_get(Target::kEvents);
  if (path == "/api/trace") {
    if (method == "POST") {
      r.target = Target::kTrace;
    } else {
      r.target = Target::kMethodNotAllowed;
      r.allow = "POST";
    }
    return r;
  }
  return r;
}

bool Loopback(std::string_view authority, int port) {
  std::string_view host = authority, port_text;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    port_text = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!port_text.empty() && port_text.front() != ':') return false;
    if (!port_text.empty()) port_text.remove_prefix(1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    port_text = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host != "127.0.0.1" && host != "[::1]" && host != "localhost") return false;
  if (port_text.empty()) return port == 80;
  return port_text == std::to_string(port);
}

bool SameOrigin(std::string_view origin, int port) {
  constexpr std::string_view kScheme = "http://";
  if (origin.substr(0, kScheme.size()) != kScheme) return false;
  return Loopback(origin.substr(kScheme.size()), port);
}

std::optional<std::string> FormDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

namespace {

// Whether `s` is UTF-8 text without control characters: the words a trace takes (pod, node and
// Service names, addresses, URLs) are printable, and a value that is not UTF-8 could not be put
// into the snapshot's JSON at all.
bool PrintableUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return false;
    if (cp >= 0x80 && cp < 0xa0) return false;  // C1 controls
    i += n + 1;
  }
  return true;
}

}  // namespace

absl::StatusOr<TraceForm> ParseTraceForm(std::string_view body) {
  constexpr size_t kMaxValue = 256;
  TraceForm f;
  bool have_src = false, have_dst = false;
  while (!body.empty()) {
    const size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::optional<std::string> name = FormDecode(pair.substr(0, eq));
    std::optional<std::string> value =
        FormDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!name || !value) {
      return absl::InvalidArgumentError("trace: the form is not url-encoded (a bad % escape)");
    }
    if (value->size() > kMaxValue) {
      return absl::InvalidArgumentError(
          StrCat("trace: ", *name, " is longer than ", kMaxValue, " bytes"));
    }
    if (!PrintableUtf8(*value)) {
      return absl::InvalidArgumentError(
          StrCat("trace: ", PrintableUtf8(*name) ? *name : "a field",
                 " is not printable UTF-8 text (a pod, node or Service name, an address)"));
    }
    // Repeated fields are refused: which one would count is a guess.
    if (*name == "src") {
      if (have_src) return absl::InvalidArgumentError("trace: src given twice");
      f.src = *value;
      have_src = true;
    } else if (*name == "dst") {
      if (have_dst) return absl::InvalidArgumentError("trace: dst given twice");
      f.dst = *value;
      have_dst = true;
    } else if (*name == "proto") {
      f.proto = *value;
    }
  }
  if (f.src.empty())
    return absl::InvalidArgumentError(StrCat("trace: say src (", kTraceSrcKinds, ")"));
  if (f.dst.empty())
    return absl::InvalidArgumentError(StrCat("trace: say dst (", kTraceDstKinds, ")"));
  if (!f.proto.empty() && f.proto != "tcp" && f.proto != "udp" && f.proto != "icmp") {
    return absl::InvalidArgumentError(
        StrCat("trace: proto \"", f.proto, "\" is not one of tcp, udp, icmp"));
  }
  return f;
}

nlohmann::json TraceErrorJson(std::optional<int64_t> id, const TraceForm& f,
                              std::string_view error) {
  return nlohmann::json{{"id", id ? nlohmann::json(*id) : nlohmann::json(nullptr)},
                        {"src", f.src},
                        {"dst", f.dst},
                        {"proto", f.proto},
                        {"error", error}};
}

std::string PortTakenHint(int port, std::string_view flag, std::string_view holder_cluster) {
  const std::string way_out =
      StrCat("pick another port (", flag, " ", port == 65535 ? port - 1 : port + 1, ") or ", flag,
             " 0 for any free one");
  if (!holder_cluster.empty()) {
    return StrCat("the dashboard of cluster ", holder_cluster,
                  " (its up --ui) serves that port: open ", "http://127.0.0.1:", port, "/, or ",
                  way_out);
  }
  return StrCat("another process listens there (ss -ltnp 'sport = :", port, "' names it); ",
                way_out);
}

std::string SseEvent(std::string_view name, std::string_view data) {
  std::string out = StrCat("event: ", name, "\n");
  size_t i = 0;
  for (;;) {
    const size_t end = data.find_first_of("\r\n", i);
    StrAppend(&out, "data: ", data.substr(i, end == std::string_view::npos ? end : end - i), "\n");
    if (end == std::string_view::npos) break;
    i = end + 1;
    if (data[end] == '\r' && i < data.size() && data[i] == '\n') ++i;
    if (i == data.size()) {
      // A trailing line end: the last line is empty, as the client joins the fields.
      out += "data: \n";
      break;
    }
  }
  out += "\n";
  return out;
}

}  // namespace mkn::ui
