// lib/cni/cache — libcni's result cache (libcni/api.go cachedInfo, kind "cniCacheV1"): what a
// runtime keeps per attachment after ADD so that CHECK, DEL and GC work after a restart, even
// after SIGKILL. vnet/ stores it as <node state>/results/CacheFileName(...).
//
// Pure. SerializeCache writes the bytes libcni's json.Marshal writes for the same entry, so the
// files interoperate with cnitool and with containerd's cache in both directions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/cni/invoke.h"

namespace mkn::cni {

inline constexpr std::string_view kCacheKind = "cniCacheV1";

struct CacheEntry {
  std::string container_id, ifname, network_name, netns;
  std::string config;  // the net config bytes (the conflist text as loaded)
  std::vector<std::pair<std::string, std::string>> cni_args;
  nlohmann::json capability_args;  // object or null
  nlohmann::json result;           // the final ADD result, or null
};

// "<net>-<container>-<ifname>" (libcni getCacheFilePath). The caller has checked the three with
// ValidateRuntimeConf / ParseConfList, so none holds a '/'.
std::string CacheFileName(std::string_view net, std::string_view container_id,
                          std::string_view ifname);

// libcni's cacheAdd as an entry: config bytes, the attachment's runtime parameters, the result.
CacheEntry NewCacheEntry(std::string_view network_name, std::string_view config,
                         const RuntimeConf& rt, const nlohmann::json& result);
// The RuntimeConf a DEL/CHECK/GC from this entry runs with (libcni getCachedConfig).
RuntimeConf RuntimeConfFromCache(const CacheEntry& entry);

// {"kind":"cniCacheV1","containerId":..,"config":<base64>,"ifName":..,"networkName":..,
//  "netns":..,"cniArgs":[[k,v]..],"capabilityArgs":{..},"result":{..}} in that order, compact,
// the last four left out when empty (Go omitempty), objects key-sorted, strings escaped as Go.
std::string SerializeCache(const CacheEntry& entry);

// InvalidArgument for bad JSON, a kind other than "cniCacheV1" (an old-style cache holds a bare
// result: libcni then reads it as one, the caller may too), bad base64 in "config", or a field of
// the wrong type.
absl::StatusOr<CacheEntry> ParseCache(std::string_view text);

}  // namespace mkn::cni
