// lib/cni/result — what a plugin prints: the ADD result (SPEC.md §5, pkg/types 020/040/100) and
// the error object, parsed for the runtime and validated for the conformance suite.
//
// Pure. ParseResult is lenient where libcni is (a missing cniVersion is the request's); the
// Validate* functions are strict and report every violation of the spec as a sentence starting
// with its field path, so a plugin author sees all of them at once.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mkn::cni {

struct Interface {
  std::string name, mac, sandbox;
  std::optional<int> mtu;
};
struct IpConfig {
  std::string address;  // CIDR, host bits set: "10.244.1.5/24"
  std::string gateway;
  std::optional<int> interface;  // index into Result::interfaces
};
struct Route {
  std::string dst, gw;
};
struct Dns {
  std::vector<std::string> nameservers, search, options;
  std::string domain;
};
struct Result {
  std::string cni_version;
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  std::vector<Route> routes;
  Dns dns;
  nlohmann::json raw;  // as printed, with "cniVersion" filled in when the plugin left it out
};

// Parses an ADD result. A missing or empty "cniVersion" is taken as expected_version (libcni
// fixupResultVersion, cni#895). 0.1.0/0.2.0 results ("ip4"/"ip6" with their "routes") are
// read into ips and routes as libcni converts them. InvalidArgument for bad JSON, a non-object,
// an error object (ErrorOnSuccess), a version this runtime does not implement, or a field of the
// wrong JSON type; nothing else is checked here (ValidateResult does).
absl::StatusOr<Result> ParseResult(std::string_view stdout_text, std::string_view expected_version);

// Every spec violation of `result`, a plugin's ADD output, for a request at `version`; empty when
// valid. Checked: cniVersion present and equal to `version`; per version: 0.1.0/0.2.0 carry only
// ip4/ip6 (ip CIDR of the family, gateway and routes of the same family); 0.3.x/0.4.0 ips carry
// "version" "4"/"6" matching the address; 1.x ips carry no "version"; interfaces[].name required,
// mac a MAC, mtu (1.1) a positive integer; ips[].address a CIDR, gateway an address of its family,
// interface an index into interfaces; routes[].dst a CIDR, gw of its family; dns lists of
// strings, nameservers addresses. The shape is judged by the result's own version when it names
// one this runtime knows, else by `version`.
std::vector<std::string> ValidateResult(const nlohmann::json& result, std::string_view version);

struct PluginError {
  int code = 0;
  std::string msg, details, cni_version;
};

// A plugin's error object ({"code", "msg", "details", "cniVersion"}). InvalidArgument when the
// text is not JSON, not an object, or has no integer "code" (then it is not an error object and
// the caller reports the output as garbage).
absl::StatusOr<PluginError> ParsePluginError(std::string_view stdout_text);

// The error object a plugin printed on stdout although it exited 0 (SPEC.md §5: an error goes
// with a nonzero exit): a JSON object with an integer "code" and none of a result's fields
// (interfaces, ips, routes, dns, ip4, ip6). nullopt for anything else, a result included. The
// runtime reports it as the plugin's error, where reading it as a result would say only that the
// result lacks an address. (ParseResult refuses such an object too.)
std::optional<PluginError> ErrorOnSuccess(std::string_view stdout_text);

// Every spec violation of an error object: code a non-negative integer, not 0, and in 0-99 one
// of the well-known codes (1-8, 11, 50, 51); msg a non-empty string; details and cniVersion
// strings when present.
std::vector<std::string> ValidateError(const nlohmann::json& error);

// "incompatible CNI version" for 1, ..., "plugin-specific" for 100+, "" for an unknown code.
std::string_view ErrorCodeName(int code);

// `plugin "bridge" failed: code 7 (invalid network config): MSG: DETAILS`, then the plugin's
// stderr (its last 20 lines, each indented and cut at 300 bytes) when it printed any.
std::string FormatPluginError(const PluginError& error, std::string_view plugin,
                              std::string_view stderr_text);

}  // namespace mkn::cni
