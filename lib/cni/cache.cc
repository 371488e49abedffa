// lib/cni/cache — see cache.h.
#include "lib/cni/cache.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "lib/cni/json_text.h"
#include "lib/strings/str_cat.h"

namespace mkn::cni {

using nlohmann::json;

std::string CacheFileName(std::string_view net, std::string_view container_id,
                          std::string_view ifname) {
  return StrCat(net, "-", container_id, "-", ifname);
}

CacheEntry NewCacheEntry(std::string_view network_name, std::string_view config,
                         const RuntimeConf& rt, const json& result) {
  CacheEntry e;
  e.container_id = rt.container_id;
  e.ifname = rt.ifname;
  e.network_name = std::string(network_name);
  e.netns = rt.netns;
  e.config = std::string(config);
  e.cni_args = rt.args;
  e.capability_args = rt.capability_args;
  e.result = result;
  return e;
}

RuntimeConf RuntimeConfFromCache(const CacheEntry& entry) {
  RuntimeConf rt;
  rt.container_id = entry.container_id;
  rt.ifname = entry.ifname;
  rt.netns = entry.netns;
  rt.args = entry.cni_args;
  rt.capability_args = entry.capability_args.is_object() ? entry.capability_args : json::object();
  return rt;
}

std::string SerializeCache(const CacheEntry& entry) {
  // ordered_json: Go marshals the cachedInfo struct in field order; the maps inside stay sorted.
  nlohmann::ordered_json out;
  out["kind"] = kCacheKind;
  out["containerId"] = entry.container_id;
  std::string b64;
  absl::Base64Escape(absl::string_view(entry.config.data(), entry.config.size()), &b64);
  out["config"] = b64;
  out["ifName"] = entry.ifname;
  out["networkName"] = entry.network_name;
  std::string text = GoMarshal(out);
  text.pop_back();  // '}': the rest is appended as Go's already-sorted encodings
  if (!entry.netns.empty()) text += StrCat(",\"netns\":", GoMarshal(json(entry.netns)));
  if (!entry.cni_args.empty()) {
    json args = json::array();
    for (const auto& [k, v] : entry.cni_args) args.push_back(json::array({k, v}));
    text += StrCat(",\"cniArgs\":", GoMarshal(args));
  }
  if (entry.capability_args.is_object() && !entry.capability_args.empty()) {
    text += StrCat(",\"capabilityArgs\":", GoMarshal(entry.capability_args));
  }
  if (entry.result.is_object() && !entry.result.empty()) {
    text += StrCat(",\"result\":", GoMarshal(entry.result));
  }
  text += "}";
  return text;
}

absl::StatusOr<CacheEntry> ParseCache(std::string_view text) {
  auto parsed = ParseJson(text, "parse cache");
  if (!parsed.ok()) return parsed.status();
  const json& doc = *parsed;
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(
        StrCat("parse cache: expected a JSON object, got ", doc.type_name()));
  }
  std::vector<std::string> errors;
  auto str = [&](const char* key) -> std::string {
    auto it = doc.find(key);
    if (it == doc.end() || it->is_null()) return "";
    if (!it->is_string()) {
      errors.push_back(StrCat(key, ": expected a string, got ", it->type_name()));
      return "";
    }
    return it->get<std::string>();
  };
  std::string kind = str("kind");
  if (kind != kCacheKind) {
    return absl::InvalidArgumentError(
        StrCat("parse cache: kind \"", kind, "\" is not \"", kCacheKind, "\""));
  }
  CacheEntry e;
  e.container_id = str("containerId");
  e.ifname = str("ifName");
  e.network_name = str("networkName");
  e.netns = str("netns");
  std::string config_b64 = str("config");
  if (!absl::Base64Unescape(config_b64, &e.config)) {
    errors.push_back("config: not base64");
  }
  if (auto it = doc.find("cniArgs"); it != doc.end() && !it->is_null()) {
    bool ok = it->is_array();
    for (size_t i = 0; ok && i < it->size(); ++i) {
      const json& kv = (*it)[i];
      if (!kv.is_array() || kv.size() != 2 || !kv[0].is_string() || !kv[1].is_string()) {
        ok = false;
        break;
      }
      e.cni_args.emplace_back(kv[0].get<std::string>(), kv[1].get<std::string>());
    }
    if (!ok) errors.push_back("cniArgs: expected an array of [key, value] string pairs");
  }
  e.capability_args = json::object();
  if (auto it = doc.find("capabilityArgs"); it != doc.end() && !it->is_null()) {
    if (it->is_object()) {
      e.capability_args = *it;
    } else {
      errors.push_back(StrCat("capabilityArgs: expected an object, got ", it->type_name()));
    }
  }
  if (auto it = doc.find("result"); it != doc.end() && !it->is_null()) {
    if (it->is_object()) {
      e.result = *it;
    } else {
      errors.push_back(StrCat("result: expected an object, got ", it->type_name()));
    }
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(StrCat("parse cache: ", absl::StrJoin(errors, "; ")));
  }
  return e;
}

}  // namespace mkn::cni
