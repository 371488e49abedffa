// lib/cni/conflist — see conflist.h. The rules follow libcni's NetworkConfFromBytes and
// NetworkPluginConfFromBytes (libcni/conf.go), stricter where the spec says MUST.
#include "lib/cni/conflist.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "lib/cni/addr.h"
#include "lib/cni/json_text.h"
#include "lib/cni/version.h"
#include "lib/strings/str_cat.h"

namespace mkn::cni {
namespace {

using nlohmann::json;

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// libcni utils.ValidateNetworkName: ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$
bool ValidNetworkName(std::string_view name) {
  if (name.empty() || !IsAlnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlnum(c) || c == '_' || c == '.' || c == '-'; });
}

std::string SupportedList() { return absl::StrJoin(SupportedVersions(), " "); }

class Checker {
 public:
  Checker(std::string_view text, std::string_view origin)
      : origin_(origin), positions_(JsonPositions::Index(text)) {}

  void Error(std::string_view path, std::string_view msg) {
    std::string where = positions_.Where(origin_, path);
    errors_.push_back(path.empty() ? StrCat(where, ": ", msg)
                                   : StrCat(where, ": ", path, ": ", msg));
  }
  void WrongType(std::string_view path, std::string_view want, const json& got) {
    Error(path, StrCat("expected ", want, ", got ", got.type_name()));
  }
  bool ok() const { return errors_.empty(); }
  absl::Status ToStatus() const { return absl::InvalidArgumentError(absl::StrJoin(errors_, "\n")); }

  // `"key": true` or the strings "true"/"false" (libcni readBool); absent is false.
  bool Bool(const json& obj, std::string_view key) {
    auto it = obj.find(std::string(key));
    if (it == obj.end()) return false;
    if (it->is_boolean()) return it->get<bool>();
    if (it->is_string()) {
      std::string s = absl::AsciiStrToLower(it->get<std::string>());
      if (s == "true") return true;
      if (s == "false") return false;
      Error(key, StrCat("expected true or false, got \"", it->get<std::string>(), "\""));
      return false;
    }
    WrongType(key, "a boolean", *it);
    return false;
  }

  // One plugin object at `path` ("plugins[2]", or "" for a single .conf).
  void Plugin(const json& obj, const std::string& path, PluginConf& out) {
    if (!obj.is_object()) {
      WrongType(path, "a plugin object", obj);
      return;
    }
    out.conf = obj;
    auto type = obj.find("type");
    if (type == obj.end()) {
      Error(path, "missing \"type\"");
    } else if (!type->is_string()) {
      WrongType(JoinPath(path, "type"), "a string", *type);
    } else {
      out.type = type->get<std::string>();
      if (out.type.empty()) {
        Error(JoinPath(path, "type"), "must not be empty");
      } else if (out.type.find_first_of("/\\") != std::string::npos) {
        Error(JoinPath(path, "type"),
              StrCat("\"", out.type, "\" must be a binary name, without '/' or '\\'"));
      }
    }
    auto caps = obj.find("capabilities");
    if (caps != obj.end()) {
      std::string caps_path = JoinPath(path, "capabilities");
      if (!caps->is_object()) {
        WrongType(caps_path, "an object of booleans", *caps);
      } else {
        for (auto it = caps->begin(); it != caps->end(); ++it) {
          if (!it->is_boolean()) {
            WrongType(JoinPath(caps_path, it.key()), "a boolean", *it);
          } else if (it->get<bool>()) {
            out.capabilities.push_back(it.key());  // json objects iterate sorted
          }
        }
      }
    }
  }

 private:
  std::string origin_;
  JsonPositions positions_;
  std::vector<std::string> errors_;
};

}  // namespace

absl::StatusOr<ConfList> ParseConfList(std::string_view json_text, std::string_view origin) {
  auto parsed = ParseJson(json_text, origin);
  if (!parsed.ok()) return parsed.status();
  const json& doc = *parsed;
  Checker check(json_text, origin);
  if (!doc.is_object()) {
    check.WrongType("", "a JSON object (a network configuration list)", doc);
    return check.ToStatus();
  }

  ConfList list;
  // A single .conf: no "plugins" but a "type". libcni's ConfListFromConf wraps it.
  bool single = !doc.contains("plugins") && doc.contains("type");

  // cniVersions first: a list may omit cniVersion when it gives cniVersions (spec 1.1).
  std::string best_of_versions;
  if (auto it = doc.find("cniVersions"); it != doc.end() && !single) {
    if (!it->is_array()) {
      check.WrongType("cniVersions", "an array of version strings", *it);
    } else {
      for (size_t i = 0; i < it->size(); ++i) {
        const json& v = (*it)[i];
        std::string path = IndexPath("cniVersions", i);
        if (!v.is_string()) {
          check.WrongType(path, "a version string", v);
          continue;
        }
        std::string s = v.get<std::string>();
        if (auto parsed_version = ParseVersion(s); !parsed_version.ok() || s.empty()) {
          check.Error(path, StrCat("\"", s, "\" is not a version (MAJOR.MINOR.PATCH)"));
          continue;
        }
        list.cni_versions.push_back(s);
        if (IsSupportedVersion(s) &&
            (best_of_versions.empty() || CompareVersions(s, best_of_versions) > 0)) {
          best_of_versions = s;
        }
      }
    }
  }

  if (auto it = doc.find("cniVersion"); it == doc.end()) {
    if (best_of_versions.empty()) {
      check.Error("", "missing \"cniVersion\"");
    } else {
      list.cni_version = best_of_versions;
    }
  } else if (!it->is_string()) {
    check.WrongType("cniVersion", "a version string", *it);
  } else {
    std::string v = it->get<std::string>();
    if (IsSupportedVersion(v)) {
      list.cni_version = v;
      if (!best_of_versions.empty() && CompareVersions(best_of_versions, v) > 0) {
        list.cni_version = best_of_versions;  // the runtime selects the highest (spec §1)
      }
    } else if (!best_of_versions.empty()) {
      list.cni_version = best_of_versions;  // libcni skips versions it does not implement
    } else {
      check.Error("cniVersion",
                  StrCat("unsupported version \"", v, "\" (supported: ", SupportedList(), ")"));
    }
  }

  if (auto it = doc.find("name"); it == doc.end()) {
    check.Error("", "missing \"name\"");
  } else if (!it->is_string()) {
    check.WrongType("name", "a string", *it);
  } else {
    list.name = it->get<std::string>();
    if (!ValidNetworkName(list.name)) {
      check.Error("name", StrCat("\"", list.name,
                                 "\" must start with a letter or digit and hold only letters, "
                                 "digits, '_', '.' and '-'"));
    }
  }

  if (single) {
    list.plugins.emplace_back();
    check.Plugin(doc, "", list.plugins.back());
    list.raw = json::object();
    list.raw["name"] = list.name;
    list.raw["cniVersion"] = list.cni_version;
    list.raw["plugins"] = json::array({doc});
  } else {
    list.disable_check = check.Bool(doc, "disableCheck");
    list.disable_gc = check.Bool(doc, "disableGC");
    list.raw = doc;
    auto it = doc.find("plugins");
    if (it == doc.end()) {
      check.Error("",
                  "missing \"plugins\" (a list needs at least one plugin; a single .conf needs "
                  "\"type\")");
    } else if (!it->is_array()) {
      check.WrongType("plugins", "an array of plugin objects", *it);
    } else if (it->empty()) {
      check.Error("plugins", "empty: a list needs at least one plugin");
    } else {
      for (size_t i = 0; i < it->size(); ++i) {
        list.plugins.emplace_back();
        check.Plugin((*it)[i], IndexPath("plugins", i), list.plugins.back());
      }
    }
  }

  if (!check.ok()) return check.ToStatus();
  return list;
}

namespace {

std::vector<std::string> SortedKeys(const absl::flat_hash_map<std::string, std::string>& vars) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : vars) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

// Substitutes one string; appends a message per problem (without position) to `problems`.
std::string Substitute(std::string_view in,
                       const absl::flat_hash_map<std::string, std::string>& vars,
                       std::vector<std::string>& problems) {
  std::string out;
  for (size_t i = 0; i < in.size();) {
    if (in.substr(i, 3) == "$${") {
      out += "${";
      i += 3;
    } else if (in.substr(i, 2) == "${") {
      size_t close = in.find('}', i + 2);
      if (close == std::string_view::npos) {
        problems.push_back(
            StrCat("unterminated \"${\" in \"", in, "\" (write $${ for a literal ${)"));
        return std::string(in);
      }
      std::string key(in.substr(i + 2, close - i - 2));
      auto it = vars.find(key);
      if (it == vars.end()) {
        problems.push_back(StrCat("unknown variable ${", key,
                                  "} (known: ", absl::StrJoin(SortedKeys(vars), ", "), ")"));
      } else {
        out += it->second;
      }
      i = close + 1;
    } else {
      out.push_back(in[i++]);
    }
  }
  return out;
}

void RenderWalk(nlohmann::ordered_json& v, const std::string& path,
                const absl::flat_hash_map<std::string, std::string>& vars,
                std::vector<std::pair<std::string, std::string>>& problems) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      RenderWalk(it.value(), JoinPath(path, it.key()), vars, problems);
    }
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) RenderWalk(v[i], IndexPath(path, i), vars, problems);
  } else if (v.is_string()) {
    std::vector<std::string> here;
    v = Substitute(v.get_ref<const std::string&>(), vars, here);
    for (auto& msg : here) problems.emplace_back(path, std::move(msg));
  }
}

}  // namespace

absl::StatusOr<std::string> RenderConfList(
    std::string_view json_text, const absl::flat_hash_map<std::string, std::string>& vars,
    std::string_view origin) {
  auto parsed = ParseOrderedJson(json_text, origin);
  if (!parsed.ok()) return parsed.status();
  std::vector<std::pair<std::string, std::string>> problems;
  RenderWalk(*parsed, "", vars, problems);
  if (!problems.empty()) {
    JsonPositions positions = JsonPositions::Index(json_text);
    std::vector<std::string> lines;
    for (const auto& [path, msg] : problems) {
      lines.push_back(StrCat(positions.Where(origin, path), ": ", path.empty() ? "" : path,
                             path.empty() ? "" : ": ", msg));
    }
    return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
  }
  // Substituted values are user data: keep the dump from throwing on a stray byte.
  return parsed->dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

namespace {

void FindIpv6(const nlohmann::json& v, const std::string& path,
              std::vector<std::pair<std::string, std::string>>& out) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) FindIpv6(*it, JoinPath(path, it.key()), out);
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) FindIpv6(v[i], IndexPath(path, i), out);
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (CidrFamily(s) == 6 || IpFamily(s) == 6) out.emplace_back(path, s);
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> Ipv6InIpam(const ConfList& list) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < list.plugins.size(); ++i) {
    const nlohmann::json& conf = list.plugins[i].conf;
    if (!conf.is_object() || !conf.contains("ipam")) continue;
    FindIpv6(conf["ipam"], StrCat("plugins[", i, "].ipam"), out);
  }
  return out;
}

}  // namespace mkn::cni
