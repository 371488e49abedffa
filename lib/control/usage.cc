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

std::string ParseErrorText(std::string_view command, std::string_view kind,
                           std::string_view message, const std::vector<std::string>& flags) {
  const std::string help =
      command.empty() ? "minikube-net --help" : StrCat("minikube-net ", command, " --help");
  const std::string where = command.empty() ? "" : StrCat(command, ": ");
  if (kind == "ExtrasError") {
    // "The following argument was not expected: A", or "arguments were ...: C B A" (CLI11 joins
    // them last first).
    const size_t colon = message.find(": ");
    std::string_view list = colon == std::string_view::npos ? message : message.substr(colon + 2);
    std::vector<std::string> args;
    while (!list.empty()) {
      const size_t sp = list.find(' ');
      args.insert(args.begin(), std::string(list.substr(0, sp)));
      list.remove_prefix(sp == std::string_view::npos ? list.size() : sp + 1);
    }
    for (const std::string& a : args) {
      if (a.size() < 2 || a[0] != '-') continue;
      const std::string name = a.substr(0, a.find('='));  // --detatch=1 is the flag --detatch
      std::vector<std::string> longs;
      for (const std::string& f : flags)
        if (f.size() > 2 && f.rfind("--", 0) == 0) longs.push_back(f);
      const std::string meant = name.size() > 2 ? Nearest(name, longs) : "";
      return StrCat(where, "unknown flag ", name,
                    meant.empty() ? std::string() : StrCat(": did you mean ", meant, "?"), " (",
                    help, " lists its flags)");
    }
    std::string quoted;
    for (const std::string& a : args) StrAppend(&quoted, quoted.empty() ? "" : " ", "\"", a, "\"");
    return StrCat(where, args.size() > 1 ? "unexpected arguments " : "unexpected argument ", quoted,
                  " (", help, ")");
  }
  if (kind == "RequiredError") {
    if (message == "A subcommand is required")
      return "a command is required (minikube-net --help lists every command)";
    return StrCat(where, message, " (", help, ")");
  }
  if (kind == "ArgumentMismatch") {
    // "--output: 1 required TEXT:{table,json} missing": the flag was given without its value.
    constexpr std::string_view kOne = ": 1 required ";
    const size_t at = message.find(kOne);
    if (at != std::string_view::npos && message.size() > at + kOne.size() + 8 &&
        message.substr(message.size() - 8) == " missing") {
      const std::string_view type =
          message.substr(at + kOne.size(), message.size() - 8 - at - kOne.size());
      return StrCat(where, message.substr(0, at), " needs a value (", type, ")");
    }
  }
  return StrCat(where, message);
}

std::string ListSome(const std::vector<std::string>& words, size_t most) {
  if (words.size() <= most) return Joined(words);
  std::vector<std::string> first(words.begin(), words.begin() + static_cast<ptrdiff_t>(most));
  return StrCat(Joined(first), " and ", words.size() - most, " more");
}

std::string SeveralClustersUp(const std::vector<std::string>& names) {
  return StrCat("several clusters are up (", names.size(), ": ", ListSome(names),
                "); say which with -c CLUSTER or MKN_CLUSTER=CLUSTER");
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
