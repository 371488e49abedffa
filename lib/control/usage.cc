#include "lib/control/usage.h"

#include <charconv>
#include <map>
#include <system_error>

#include "lib/strings/edit_distance.h"
#include "lib/strings/str_cat.h"

namespace mkn::control {
namespace {

// Words other tools (kubectl, minikube, kind, docker, ip) use for what these commands do.
const std::map<std::string_view, std::string_view>& OtherToolsWords() {
  static const auto* const kWords = new std::map<std::string_view, std::string_view>{
      {"version", "--version"}, {"help", "--help"},  {"ls", "status"},    {"list", "status"},
      {"ps", "status"},         {"start", "up"},     {"create", "up"},    {"run", "up"},
      {"apply", "up"},          {"stop", "down"},    {"delete", "down"},  {"destroy", "down"},
      {"rm", "down"},           {"describe", "get"}, {"show", "get"},     {"ssh", "exec"},
      {"shell", "exec"},        {"attach", "exec"},  {"log", "logs"},     {"check", "validate"},
      {"lint", "validate"},     {"dry-run", "plan"}, {"restart", "kill"}, {"certificate", "cert"},
      {"conformance", "verify"}};
  return *kWords;
}

std::string Joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) StrAppend(&out, out.empty() ? "" : ", ", w);
  return out;
}

}  // namespace

std::string Nearest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best = Closest(word, candidates, 2);
  if (best.empty() || EditDistance(word, best) >= word.size()) return "";
  return best;
}

std::string UnknownCommand(std::string_view word, const std::vector<std::string>& commands) {
  // Another tool's word first: it says what was meant ("ls" is nearer to "up" than to "status").
  auto it = OtherToolsWords().find(word);
  const std::string meant =
      it != OtherToolsWords().end() ? std::string(it->second) : Nearest(word, commands);
  return StrCat("unknown command \"", word, "\"",
                meant.empty() ? std::string() : StrCat(": did you mean \"", meant, "\"?"),
                " (minikube-net --help lists every command)");
}

std::string NotOneOf(std::string_view word, const std::vector<std::string>& choices) {
  const std::string meant = Nearest(word, choices);
  return StrCat("\"", word, "\" is not one of ", Joined(choices),
                meant.empty() ? std::string() : StrCat(" (did you mean \"", meant, "\"?)"));
}

absl::Status NoSuch(std::string_view kind, std::string_view name, std::string_view cluster,
                    const std::vector<std::string>& names) {
  std::string hint;
  if (std::string meant = Nearest(name, names); !meant.empty()) {
    hint = StrCat(" (did you mean \"", meant, "\"?)");
  } else if (!names.empty() && names.size() <= 8) {
    hint = StrCat(" (it has ", Joined(names), ")");
  }
  return absl::NotFoundError(StrCat("no ", kind, " \"", name, "\" in cluster ", cluster, hint));
}

absl::StatusOr<int64_t> ParseIntIn(std::string_view text, int64_t lo, int64_t hi) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end || v < lo || v > hi)
    return absl::InvalidArgumentError(StrCat("want an integer ", lo, "..", hi, ", got ", text));
  return v;
}

}  // namespace mkn::control
