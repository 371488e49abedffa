// lib/check/report — see report.h.
#include "lib/check/report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "lib/strings/str_cat.h"

namespace mkn::check {
namespace {

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\n':
        out += "&#10;";
        break;
      default:
        // XML 1.0 has no other control characters: a tool's output may carry them.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string Seconds(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ms.count()) / 1000);
  return buf;
}

std::string FirstLine(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  return line.size() > 200 ? line.substr(0, 200) + "..." : line;
}

std::string Mark(const CellResult& r) {
  if (r.outcome == Outcome::kError) return "E";
  return StrCat(r.allowed() ? "." : "X", r.ok() ? "" : "!");
}

std::string Pad(const std::string& s, size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

std::string Want(const Cell& c) { return std::string(config::ToString(c.want)); }

std::string Got(const CellResult& r) {
  return r.outcome == Outcome::kError ? "error" : r.allowed() ? "allow" : "deny";
}

}  // namespace

std::string Table(const Report& r) {
  // One cell per (from, to); two rows of the lab on the same pair are both probed, and the cell
  // shows the worse (a mismatch over a match).
  std::map<std::pair<std::string, std::string>, const CellResult*> at;
  for (const CellResult& c : r.results) {
    auto& slot = at[{c.cell.from, c.cell.to}];
    if (slot == nullptr || (slot->ok() && !c.ok())) slot = &c;
  }
  size_t w0 = 4;
  for (const std::string& f : r.froms) w0 = std::max(w0, f.size());
  std::vector<std::string> heads;
  size_t cw = 2;
  for (size_t j = 0; j < r.tos.size(); ++j) {
    heads.push_back(std::to_string(j + 1));
    cw = std::max(cw, heads.back().size());
  }
  std::string out;
  if (!r.tos.empty()) {
    std::string head = Pad("-", w0);
    for (const std::string& h : heads) StrAppend(&head, "  ", Pad(h, cw));
    while (head.back() == ' ') head.pop_back();
    out += head + "\n";
    for (const std::string& f : r.froms) {
      std::string line = Pad(f, w0);
      for (const std::string& t : r.tos) {
        auto it = at.find({f, t});
        StrAppend(&line, "  ", Pad(it == at.end() ? "-" : Mark(*it->second), cw));
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    out += "\n";
    for (size_t j = 0; j < r.tos.size(); ++j)
      StrAppend(&out, Pad(heads[j], cw), "  ", r.tos[j], "\n");
    out += "\n. allowed   X denied   ! not what the lab expects   E probe error   - no row\n";
  }
  for (const CellResult& c : r.results) {
    if (c.ok()) continue;
    if (c.outcome == Outcome::kError) {
      StrAppend(&out, "error: line ", c.cell.line, ": ", c.cell.from, " -> ", c.cell.to,
                ": the probe could not run: ", FirstLine(c.evidence), "\n");
      continue;
    }
    StrAppend(&out, "MISMATCH line ", c.cell.line, ": ", c.cell.from, " -> ", c.cell.to,
              ": expected ", Want(c.cell), ", got ", Got(c), " (", ToString(c.outcome),
              "): ", FirstLine(c.evidence), "\n");
  }
  for (const std::string& p : r.problems) StrAppend(&out, "problem: ", p, "\n");
  const size_t cells = r.results.size();
  StrAppend(&out, "check ", r.cluster, ": ", cells, cells == 1 ? " cell" : " cells", ", ",
            r.Mismatches(), r.Mismatches() == 1 ? " mismatch" : " mismatches", ", ", r.Errors(),
            r.Errors() == 1 ? " error" : " errors");
  if (!r.problems.empty()) StrAppend(&out, ", ", r.problems.size(), " rows not probed");
  StrAppend(&out, " in ", r.took.count(), " ms: ", r.Passed() ? "PASS" : "FAIL", "\n");
  return out;
}

std::string Json(const Report& r) {
  nlohmann::ordered_json j;
  j["cluster"] = r.cluster;
  j["passed"] = r.Passed();
  j["mismatches"] = r.Mismatches();
  j["errors"] = r.Errors();
  j["took_ms"] = r.took.count();
  j["problems"] = r.problems;
  j["cells"] = nlohmann::ordered_json::array();
  for (const CellResult& c : r.results) {
    nlohmann::ordered_json o;
    o["from"] = c.cell.from;
    o["to"] = c.cell.to;
    o["line"] = c.cell.line;
    o["proto"] = std::string(config::ToString(c.cell.proto));
    o["family"] = std::string(config::ToString(c.cell.address.family));
    o["address"] = c.cell.address.text;
    o["port"] = c.cell.port;
    o["want"] = Want(c.cell);
    o["got"] = Got(c);
    o["outcome"] = std::string(ToString(c.outcome));
    o["ok"] = c.ok();
    o["ms"] = c.took.count();
    o["evidence"] = c.evidence;
    j["cells"].push_back(std::move(o));
  }
  return j.dump(2) + "\n";
}

std::string JUnitXml(const Report& r) {
  const std::string suite = XmlEscape(StrCat("minikube-net check ", r.cluster));
  const size_t tests = r.results.size() + r.problems.size();
  const std::string counts =
      StrCat(" tests=\"", tests, "\" failures=\"", r.Mismatches(), "\" errors=\"",
             r.Errors() + static_cast<int>(r.problems.size()), "\" time=\"", Seconds(r.took), "\"");
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  StrAppend(&out, "<testsuites name=\"", suite, "\"", counts, ">\n");
  StrAppend(&out, "  <testsuite name=\"", suite, "\"", counts, ">\n");
  for (const CellResult& c : r.results) {
    StrAppend(&out, "    <testcase classname=\"expect.line", c.cell.line, "\" name=\"",
              XmlEscape(StrCat(c.cell.from, " -> ", c.cell.to)), "\" time=\"", Seconds(c.took),
              "\"");
    if (c.ok()) {
      out += "/>\n";
      continue;
    }
    const bool error = c.outcome == Outcome::kError;
    const std::string message =
        error ? StrCat("the probe could not run: ", FirstLine(c.evidence))
              : StrCat("expected ", Want(c.cell), ", got ", Got(c), " (", ToString(c.outcome), ")");
    StrAppend(&out, ">\n      <", error ? "error" : "failure", " message=\"", XmlEscape(message),
              "\" type=\"", error ? "harness" : "reachability", "\">",
              XmlEscape(StrCat(c.cell.from, " -> ", c.cell.to, " (lab line ", c.cell.line, ")\n",
                               c.evidence)),
              error ? "</error>\n" : "</failure>\n", "    </testcase>\n");
  }
  for (size_t i = 0; i < r.problems.size(); ++i) {
    StrAppend(&out, "    <testcase classname=\"expect\" name=\"problem ", i + 1,
              "\" time=\"0.000\">\n      <error message=\"", XmlEscape(r.problems[i]),
              "\" type=\"harness\"/>\n    </testcase>\n");
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

}  // namespace mkn::check
