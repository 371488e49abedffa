#include "cmd/minikube-net/common.h"

#include <algorithm>

#include "lib/control/usage.h"
#include "lib/strings/str_cat.h"
#include "vnet/cluster/lab.h"

namespace mkn {

int Exit(const absl::Status& st) {
  std::cerr << "minikube-net: " << st.message() << "\n";
  return absl::IsInvalidArgument(st) || absl::IsNotFound(st) ? kExitBadInput : kExitFailure;
}

absl::StatusOr<std::string> OneClusterWord(std::string_view verb, const std::string& positional,
                                           const std::string& flag) {
  if (!positional.empty() && !flag.empty() && positional != flag) {
    return absl::InvalidArgumentError(StrCat(verb, ": the cluster is named twice (", positional,
                                             " and -c ", flag, "); give one"));
  }
  return flag.empty() ? positional : flag;
}

void Notice(const std::string& line) { std::cerr << "minikube-net: " << line << "\n"; }

CLI::Validator IntIn(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) {
        absl::StatusOr<int64_t> v = control::ParseIntIn(text, lo, hi);
        return v.ok() ? std::string() : std::string(v.status().message());
      },
      StrCat(lo, "..", hi));
}

CLI::Validator OneOf(std::vector<std::string> choices) {
  std::string braces;
  for (const std::string& c : choices) StrAppend(&braces, braces.empty() ? "{" : ",", c);
  return CLI::Validator(
      [choices](std::string& word) {
        return std::find(choices.begin(), choices.end(), word) != choices.end()
                   ? std::string()
                   : control::NotOneOf(word, choices);
      },
      braces + "}");
}

std::optional<config::ClusterSpec> Lab(const std::string& path, int& exit_code) {
  absl::StatusOr<vnet::LabFile> lab = vnet::LoadLab(path);
  if (!lab.ok()) {
    exit_code = Exit(lab.status());
    return std::nullopt;
  }
  std::cerr << lab->report;
  if (!lab->spec) exit_code = kExitBadInput;
  return std::move(lab->spec);
}

std::optional<config::ClusterSpec> LiveLab(const vnet::ClusterState& s, int& exit_code) {
  std::optional<config::ClusterSpec> spec = Lab(s.lab, exit_code);
  if (!spec) return spec;
  if (absl::Status st = vnet::WithLivePolicies(s, *spec); !st.ok()) {
    exit_code = Exit(st);
    return std::nullopt;
  }
  return spec;
}

}  // namespace mkn
