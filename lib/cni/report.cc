// lib/cni/report — see report.h.
#include "lib/cni/report.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "lib/cni/json_text.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"

namespace mkn::cni {
namespace {

size_t DisplayWidth(std::string_view s) {
  // Code points: UTF-8 continuation bytes take no column. Wide (CJK) characters are not
  // expected in check titles.
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string Pad(std::string_view s, size_t width) {
  std::string out(s);
  size_t w = DisplayWidth(s);
  if (w < width) out.append(width - w, ' ');
  return out;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.empty()) return out;
  for (size_t pos = 0; pos <= text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    pos = nl + 1;
  }
  return out;
}

struct Counts {
  int passed = 0, failed = 0, skipped = 0, errors = 0;
  std::chrono::nanoseconds total{0};
};
Counts Count(const std::vector<CheckReport>& reports) {
  Counts c;
  for (const auto& r : reports) {
    switch (r.outcome) {
      case Outcome::kPass:
        ++c.passed;
        break;
      case Outcome::kFail:
        ++c.failed;
        break;
      case Outcome::kSkip:
        ++c.skipped;
        break;
      case Outcome::kError:
        ++c.errors;
        break;
    }
    c.total += r.duration;
  }
  return c;
}

std::string Seconds(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", std::chrono::duration<double>(d).count());
  return buf;
}

// XML 1.0 text/attribute content: escapes, and drops what XML cannot carry at all.
std::string XmlEscape(std::string_view raw, bool attribute) {
  std::string text = SanitizeUtf8(raw);
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
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
        out += attribute ? "&quot;" : "\"";
        break;
      case '\'':
        out += attribute ? "&apos;" : "'";
        break;
      case '\n':
        out += attribute ? "&#10;" : "\n";
        break;
      case '\r':
        out += "&#13;";
        break;
      case '\t':
        out += attribute ? "&#9;" : "\t";
        break;
      default:
        if (c < 0x20) {
          out += "\xEF\xBF\xBD";  // not allowed in XML 1.0, not even as a reference
        } else if (c == 0xEF && i + 2 < text.size() && text[i + 1] == '\xBF' &&
                   (text[i + 2] == '\xBE' || text[i + 2] == '\xBF')) {
          out += "\xEF\xBF\xBD";  // U+FFFE, U+FFFF: not XML characters
          i += 2;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out;
}

}  // namespace

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPass:
      return "PASS";
    case Outcome::kFail:
      return "FAIL";
    case Outcome::kSkip:
      return "SKIP";
    case Outcome::kError:
      return "ERROR";
  }
  return "?";
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  char buf[32];
  if (d < microseconds(1000)) {
    std::snprintf(buf, sizeof buf, "%lldus",
                  static_cast<long long>(duration_cast<microseconds>(d).count()));
  } else if (d < milliseconds(1000)) {
    std::snprintf(buf, sizeof buf, "%lldms",
                  static_cast<long long>(duration_cast<milliseconds>(d).count()));
  } else {
    std::snprintf(buf, sizeof buf, "%.2fs", duration<double>(d).count());
  }
  return buf;
}

std::string FormatTable(const std::vector<CheckReport>& reports, bool color) {
  static constexpr const char* kHeader[] = {"ID", "CHECK", "SOURCE", "RESULT", "TIME"};
  std::vector<std::array<std::string, 5>> rows;
  for (const auto& r : reports) {
    rows.push_back({SanitizeUtf8(r.id), SanitizeUtf8(r.title), SanitizeUtf8(r.source),
                    std::string(OutcomeName(r.outcome)), FormatDuration(r.duration)});
  }
  std::array<size_t, 5> width{};
  for (size_t c = 0; c < 5; ++c) width[c] = DisplayWidth(kHeader[c]);
  for (const auto& row : rows) {
    for (size_t c = 0; c < 5; ++c) width[c] = std::max(width[c], DisplayWidth(row[c]));
  }
  auto line = [&](const std::array<std::string, 5>& cells, std::string_view result_color) {
    std::string out;
    for (size_t c = 0; c < 5; ++c) {
      if (c > 0) out += "  ";
      if (c == 4) {  // TIME: right-aligned, last
        out.append(width[c] - DisplayWidth(cells[c]), ' ');
        out += cells[c];
      } else if (c == 3 && !result_color.empty()) {
        out += StrCat(result_color, cells[c], "\x1b[0m");
        out.append(width[c] - DisplayWidth(cells[c]), ' ');
      } else {
        out += Pad(cells[c], width[c]);
      }
    }
    return out + "\n";
  };
  std::string out = line({kHeader[0], kHeader[1], kHeader[2], kHeader[3], kHeader[4]}, "");
  for (size_t i = 0; i < reports.size(); ++i) {
    const CheckReport& r = reports[i];
    std::string_view tint;
    if (color) {
      tint = r.outcome == Outcome::kPass   ? "\x1b[32m"
             : r.outcome == Outcome::kFail ? "\x1b[31m"
             : r.outcome == Outcome::kSkip ? "\x1b[33m"
                                           : "\x1b[35m";
    }
    out += line(rows[i], tint);
    if (r.outcome != Outcome::kPass) {
      for (std::string_view ev : Lines(r.evidence)) out += StrCat("    ", SanitizeUtf8(ev), "\n");
    }
  }
  Counts n = Count(reports);
  out += StrCat(n.passed, " passed, ", n.failed, " failed, ", n.skipped, " skipped, ", n.errors,
                " errors\n");
  return out;
}

std::string JUnitXml(std::string_view suite, const std::vector<CheckReport>& reports) {
  Counts n = Count(reports);
  std::string s = XmlEscape(suite, true);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  std::string counts =
      StrCat(" tests=\"", reports.size(), "\" failures=\"", n.failed, "\" errors=\"", n.errors,
             "\" skipped=\"", n.skipped, "\" time=\"", Seconds(n.total), "\"");
  out += StrCat("<testsuites name=\"", s, "\"", counts, ">\n");
  out += StrCat("  <testsuite name=\"", s, "\"", counts, ">\n");
  for (const auto& r : reports) {
    out += StrCat("    <testcase classname=\"", s, "\" name=\"", XmlEscape(r.id, true),
                  "\" time=\"", Seconds(r.duration), "\"");
    std::vector<std::string_view> ev = Lines(r.evidence);
    std::string first = ev.empty() ? "" : std::string(ev.front());
    if (r.outcome == Outcome::kPass && r.properties.empty()) {
      out += "/>\n";
      continue;
    }
    out += ">\n";
    if (!r.properties.empty()) {
      out += "      <properties>\n";
      for (const auto& [name, value] : r.properties) {
        out += StrCat("        <property name=\"", XmlEscape(name, true), "\" value=\"",
                      XmlEscape(value, true), "\"/>\n");
      }
      out += "      </properties>\n";
    }
    if (r.outcome == Outcome::kFail || r.outcome == Outcome::kError) {
      // JUnit: a <failure> is the code under test's (here the plugin's), an <error> the test's
      // own trouble; CI dashboards count and colour them apart.
      const bool failure = r.outcome == Outcome::kFail;
      out += StrCat("      <", failure ? "failure" : "error", " message=\"",
                    XmlEscape(first.empty() ? r.title : StrCat(r.title, ": ", first), true),
                    "\" type=\"", XmlEscape(failure ? r.source : "harness", true), "\">",
                    XmlEscape(StrCat(r.title, "\nsource: ", r.source, "\n", r.evidence), false),
                    failure ? "</failure>\n" : "</error>\n");
    } else if (r.outcome == Outcome::kSkip) {
      out += StrCat("      <skipped message=\"", XmlEscape(first, true), "\"/>\n");
    }
    out += "    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

nlohmann::json ReportJson(std::string_view suite, const std::vector<CheckReport>& reports) {
  Counts n = Count(reports);
  auto secs = [](std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); };
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& r : reports) {
    std::string result = absl::AsciiStrToLower(AsAbsl(OutcomeName(r.outcome)));
    nlohmann::json props = nlohmann::json::object();
    for (const auto& [name, value] : r.properties) props[SanitizeUtf8(name)] = SanitizeUtf8(value);
    checks.push_back({{"id", SanitizeUtf8(r.id)},
                      {"title", SanitizeUtf8(r.title)},
                      {"source", SanitizeUtf8(r.source)},
                      {"result", result},
                      {"duration_seconds", secs(r.duration)},
                      {"evidence", SanitizeUtf8(r.evidence)},
                      {"properties", std::move(props)}});
  }
  return {{"suite", SanitizeUtf8(suite)},
          {"summary",
           {{"passed", n.passed},
            {"failed", n.failed},
            {"skipped", n.skipped},
            {"errors", n.errors},
            {"total", reports.size()},
            {"duration_seconds", secs(n.total)}}},
          {"checks", std::move(checks)}};
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative wildcard match with single-star backtracking: linear-ish, no recursion.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool MatchesSelector(std::string_view id, const std::vector<std::string>& globs) {
  return std::any_of(globs.begin(), globs.end(),
                     [&](const std::string& g) { return GlobMatch(g, id); });
}

std::string TrimLines(std::string_view text, size_t max_lines) {
  size_t pos = 0, lines = 0;
  while (pos < text.size() && lines < max_lines) {
    size_t nl = text.find('\n', pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++lines;
  }
  if (pos >= text.size()) return std::string(text);
  size_t rest = std::count(text.begin() + pos, text.end(), '\n');
  return StrCat(text.substr(0, pos), "... (", rest, " more lines)\n");
}

std::string GroupEvidence(const std::vector<PodEvidence>& pods) {
  std::string out;
  for (const PodEvidence& p : pods) StrAppend(&out, p.line, "\n");
  std::vector<bool> shown(pods.size(), false);
  for (size_t i = 0; i < pods.size(); ++i) {
    if (shown[i] || pods[i].calls.empty()) continue;
    std::string same;
    for (size_t j = i + 1; j < pods.size(); ++j) {
      if (shown[j] || pods[j].calls.empty() || pods[j].calls_key != pods[i].calls_key) continue;
      StrAppend(&same, same.empty() ? "" : ", ", pods[j].pod);
      shown[j] = true;
    }
    StrAppend(&out, "plugin calls of pod ", pods[i].pod,
              same.empty() ? std::string() : StrCat(" (same for ", same, ")"), ":\n",
              pods[i].calls);
    if (!pods[i].calls.empty() && pods[i].calls.back() != '\n') out += "\n";
  }
  return out;
}

}  // namespace mkn::cni
