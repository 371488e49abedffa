#include "cmd/minikube-net/common.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

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

absl::Status CheckOutputFile(std::string_view flag, const std::string& path) {
  if (path.empty() || path == "-") return absl::OkStatus();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    std::string dir = path;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    return absl::InvalidArgumentError(
        StrCat(flag, " ", path, " is a directory: name a file in it (", dir, "/out.pcapng)"));
  }
  const size_t slash = path.find_last_of('/');
  const std::string parent = slash == std::string::npos ? "."
                             : slash == 0               ? "/"
                                                        : path.substr(0, slash);
  if (::stat(parent.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        StrCat(flag, " ", path, ": its directory ", parent, ": ", std::strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode))
    return absl::InvalidArgumentError(StrCat(flag, " ", path, ": ", parent, " is not a directory"));
  return absl::OkStatus();
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
