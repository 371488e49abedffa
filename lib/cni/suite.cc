// lib/cni/suite — see suite.h.
#include "lib/cni/suite.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "lib/strings/str_cat.h"

namespace mkn::cni {
namespace {

using std::chrono::milliseconds;

absl::Status BadTimeout(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(
      StrCat("--timeout ", text, ": ", why,
             " (a duration such as 90s, 2m, 1m30s or 500ms; a bare number is seconds)"));
}

}  // namespace

absl::StatusOr<milliseconds> ParseRunTimeout(std::string_view text) {
  if (text.empty()) return BadTimeout(text, "empty");
  double total_ms = 0;
  size_t i = 0;
  bool bare = true;
  while (i < text.size()) {
    size_t start = i;
    bool dot = false;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) || (text[i] == '.' && !dot))) {
      dot = dot || text[i] == '.';
      ++i;
    }
    std::string_view number = text.substr(start, i - start);
    if (number.empty() || number == ".") return BadTimeout(text, "expected a number");
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    double scale;
    if (unit.empty()) {
      // A bare number of seconds, alone: "45", never "1m30".
      if (!bare || i < text.size() || start != 0) return BadTimeout(text, "a number needs a unit");
      scale = 1000;
    } else if (unit == "h") {
      scale = 3600e3;
    } else if (unit == "m") {
      scale = 60e3;
    } else if (unit == "s") {
      scale = 1e3;
    } else if (unit == "ms") {
      scale = 1;
    } else {
      return BadTimeout(text, StrCat("unknown unit \"", unit, "\""));
    }
    bare = false;
    total_ms += std::strtod(std::string(number).c_str(), nullptr) * scale;
  }
  if (total_ms < 1) return BadTimeout(text, "must be more than zero");
  if (total_ms > 24 * 3600e3) return BadTimeout(text, "more than 24h");
  return milliseconds(static_cast<int64_t>(std::llround(total_ms)));
}

std::string FormatRunTimeout(milliseconds d) {
  int64_t ms = d.count();
  if (ms % 1000 != 0) {
    if (ms < 1000) return StrCat(ms, "ms");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%gs", static_cast<double>(ms) / 1000);
    return buf;
  }
  int64_t s = ms / 1000;
  std::string out;
  if (s >= 3600) StrAppend(&out, s / 3600, "h");
  if (s % 3600 >= 60) StrAppend(&out, s % 3600 / 60, "m");
  if (s % 60 != 0 || out.empty()) StrAppend(&out, s % 60, "s");
  return out;
}

milliseconds ProbeWait(milliseconds run_timeout) {
  return std::clamp(run_timeout / 60, milliseconds(500), milliseconds(2000));
}

int DefaultChurnPods(int lab_pods) { return std::clamp(2 * lab_pods, 4, 200); }

std::vector<std::vector<size_t>> PlanWaves(const std::vector<bool>& alone) {
  std::vector<std::vector<size_t>> waves;
  bool open = false;  // the last wave takes more shared checks
  for (size_t i = 0; i < alone.size(); ++i) {
    if (alone[i]) {
      waves.push_back({i});
      open = false;
    } else if (open) {
      waves.back().push_back(i);
    } else {
      waves.push_back({i});
      open = true;
    }
  }
  return waves;
}

}  // namespace mkn::cni
