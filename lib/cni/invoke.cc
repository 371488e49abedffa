// lib/cni/invoke — see invoke.h.
#include "lib/cni/invoke.h"

#include <algorithm>
#include <cctype>
#include <iterator>

#include "absl/strings/str_join.h"
#include "lib/cni/json_text.h"
#include "lib/cni/version.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::cni {

using nlohmann::json;

std::optional<Command> CommandOfVerb(std::string_view verb) {
  constexpr Command kByVerb[] = {Command::kAdd,    Command::kCheck, Command::kDel,
                                 Command::kStatus, Command::kGc,    Command::kVersion};
  static_assert(std::size(kByVerb) == std::size(kVerbs));
  for (size_t i = 0; i < std::size(kVerbs); ++i)
    if (kVerbs[i] == verb) return kByVerb[i];
  return std::nullopt;
}

bool IsPodVerb(std::string_view verb) {
  std::optional<Command> c = CommandOfVerb(verb);
  return c == Command::kAdd || c == Command::kCheck || c == Command::kDel;
}

RuntimeConf PodRuntimeConf(std::string_view pod, std::string_view netns, std::string_view ifname) {
  RuntimeConf rt;
  rt.container_id = std::string(netns);
  rt.netns = StrCat(net::kNetnsDir, "/", netns);
  rt.ifname = std::string(ifname);
  // `pod` is the pod's key: "<ns>/<name>" outside the default namespace (lib/config/netpol.h).
  const size_t slash = pod.find('/');
  const std::string_view ns = slash == std::string_view::npos ? "default" : pod.substr(0, slash);
  if (slash != std::string_view::npos) pod.remove_prefix(slash + 1);
  rt.args = {{"IgnoreUnknown", "1"},
             {"K8S_POD_NAMESPACE", std::string(ns)},
             {"K8S_POD_NAME", std::string(pod)},
             {"K8S_POD_INFRA_CONTAINER_ID", std::string(netns)}};
  return rt;
}

std::string_view CommandName(Command command) {
  switch (command) {
    case Command::kAdd:
      return "ADD";
    case Command::kDel:
      return "DEL";
    case Command::kCheck:
      return "CHECK";
    case Command::kVersion:
      return "VERSION";
    case Command::kStatus:
      return "STATUS";
    case Command::kGc:
      return "GC";
  }
  return "UNKNOWN";
}

absl::Status ValidateRuntimeConf(const RuntimeConf& rt) {
  std::vector<std::string> errors;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  const std::string& id = rt.container_id;
  if (id.empty()) {
    errors.push_back("container id: must not be empty");
  } else if (!alnum(id[0]) || !std::all_of(id.begin(), id.end(), [&](char c) {
               return alnum(c) || c == '_' || c == '.' || c == '-';
             })) {
    errors.push_back(StrCat("container id \"", id,
                            "\": must start with a letter or digit and hold only letters, digits, "
                            "'_', '.' and '-'"));
  }
  const std::string& ifname = rt.ifname;
  if (ifname.empty()) {
    errors.push_back("ifname: must not be empty");
  } else if (ifname.size() > 15) {
    errors.push_back(StrCat("ifname \"", ifname, "\": longer than 15 bytes (IFNAMSIZ)"));
  } else if (ifname == "." || ifname == "..") {
    errors.push_back(StrCat("ifname \"", ifname, "\": not a valid interface name"));
  } else if (std::any_of(ifname.begin(), ifname.end(), [](char c) {
               return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c));
             })) {
    errors.push_back(StrCat("ifname \"", ifname, "\": must not hold '/', ':' or whitespace"));
  }
  for (const auto& [k, v] : rt.args) {
    if (k.empty() || k.find_first_of("=;") != std::string::npos) {
      errors.push_back(StrCat("CNI_ARGS key \"", k, "\": must be non-empty without '=' or ';'"));
    }
    if (v.find(';') != std::string::npos) {
      errors.push_back(StrCat("CNI_ARGS ", k, "=\"", v, "\": value must not hold ';'"));
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      StrCat("invalid runtime config: ", absl::StrJoin(errors, "; ")));
}

namespace {

json BaseConf(const ConfList& list, size_t plugin_index) {
  json conf = list.plugins[plugin_index].conf;
  if (!conf.is_object()) conf = json::object();
  conf["name"] = list.name;
  conf["cniVersion"] = list.cni_version;
  return conf;
}

}  // namespace

json PluginStdin(const ConfList& list, size_t plugin_index, const RuntimeConf& rt,
                 const json* prev_result) {
  json conf = BaseConf(list, plugin_index);
  if (prev_result != nullptr && !prev_result->is_null()) conf["prevResult"] = *prev_result;
  json runtime_config = json::object();
  if (rt.capability_args.is_object()) {
    for (const std::string& cap : list.plugins[plugin_index].capabilities) {
      auto it = rt.capability_args.find(cap);
      if (it != rt.capability_args.end()) runtime_config[cap] = *it;
    }
  }
  if (!runtime_config.empty()) conf["runtimeConfig"] = std::move(runtime_config);
  return conf;
}

std::string CniArgsString(const std::vector<std::pair<std::string, std::string>>& args) {
  return absl::StrJoin(args, ";", [](std::string* out, const auto& kv) {
    out->append(kv.first).append("=").append(kv.second);
  });
}

std::vector<std::string> PluginEnv(Command command, const RuntimeConf& rt,
                                   std::string_view cni_path) {
  std::vector<std::string> env;
  env.push_back(StrCat("PATH=", kPluginPath));
  env.push_back(StrCat("CNI_COMMAND=", CommandName(command)));
  switch (command) {
    case Command::kAdd:
    case Command::kDel:
    case Command::kCheck:
      env.push_back(StrCat("CNI_CONTAINERID=", rt.container_id));
      env.push_back(StrCat("CNI_NETNS=", rt.netns));
      env.push_back(StrCat("CNI_ARGS=", CniArgsString(rt.args)));
      env.push_back(StrCat("CNI_IFNAME=", rt.ifname));
      env.push_back(StrCat("CNI_PATH=", cni_path));
      break;
    case Command::kStatus:
    case Command::kGc:
      env.push_back(StrCat("CNI_PATH=", cni_path));
      break;
    case Command::kVersion:
      break;
  }
  return env;
}

json GcStdin(const ConfList& list, size_t plugin_index, const std::vector<Attachment>& valid) {
  json conf = BaseConf(list, plugin_index);
  json attachments = json::array();
  for (const Attachment& a : valid) {
    attachments.push_back({{"containerID", a.container_id}, {"ifname", a.ifname}});
  }
  conf["cni.dev/valid-attachments"] = attachments;
  conf["cni.dev/attachments"] = std::move(attachments);
  return conf;
}

json StatusStdin(const ConfList& list, size_t plugin_index) { return BaseConf(list, plugin_index); }

json VersionStdin() { return json{{"cniVersion", std::string(kCurrentVersion)}}; }

absl::StatusOr<std::vector<std::string>> ParseVersionResult(std::string_view stdout_text) {
  auto parsed = ParseJson(stdout_text, "decode version info: stdout");
  if (!parsed.ok()) return parsed.status();
  const json& doc = *parsed;
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(
        StrCat("decode version info: expected a JSON object, got ", doc.type_name()));
  }
  auto version = doc.find("cniVersion");
  if (version == doc.end() || !version->is_string() || version->get<std::string>().empty()) {
    return absl::InvalidArgumentError("decode version info: missing field cniVersion");
  }
  auto supported = doc.find("supportedVersions");
  if (supported == doc.end() || (supported->is_array() && supported->empty())) {
    if (version->get<std::string>() == "0.2.0") return std::vector<std::string>{"0.1.0", "0.2.0"};
    return absl::InvalidArgumentError("decode version info: missing field supportedVersions");
  }
  if (!supported->is_array()) {
    return absl::InvalidArgumentError(StrCat(
        "decode version info: supportedVersions: expected an array, got ", supported->type_name()));
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < supported->size(); ++i) {
    const json& v = (*supported)[i];
    if (!v.is_string()) {
      return absl::InvalidArgumentError(StrCat("decode version info: supportedVersions[", i,
                                               "]: expected a string, got ", v.type_name()));
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

absl::Status CheckVersionSupported(std::string_view conf_version,
                                   const std::vector<std::string>& supported,
                                   std::string_view plugin) {
  std::string want = conf_version.empty() ? "0.1.0" : std::string(conf_version);
  if (std::find(supported.begin(), supported.end(), want) != supported.end()) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      StrCat("plugin \"", plugin, "\" does not support config version \"", want, "\" (it supports ",
             absl::StrJoin(supported, " "), ")"));
}

std::string NegotiateVersion(const ConfList& list,
                             const std::vector<std::vector<std::string>>& per_plugin_supported) {
  std::vector<std::string> candidates = list.cni_versions;
  candidates.push_back(list.cni_version);
  std::sort(candidates.begin(), candidates.end(),
            [](const std::string& a, const std::string& b) { return CompareVersions(a, b) > 0; });
  for (const std::string& v : candidates) {
    if (!IsSupportedVersion(v)) continue;
    bool all = std::all_of(per_plugin_supported.begin(), per_plugin_supported.end(),
                           [&](const std::vector<std::string>& s) {
                             return std::find(s.begin(), s.end(), v) != s.end();
                           });
    if (all) return v;
  }
  return list.cni_version;
}

}  // namespace mkn::cni
