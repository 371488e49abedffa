// lib/cni/result — see result.h.
#include "lib/cni/result.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "lib/cni/addr.h"
#include "lib/cni/json_text.h"
#include "lib/cni/version.h"
#include "lib/strings/str_cat.h"

namespace mkn::cni {
namespace {

using nlohmann::json;

bool IsLegacy(std::string_view version) { return CompareVersions(version, "0.3.0") < 0; }
bool Is04x(std::string_view version) {
  return !IsLegacy(version) && CompareVersions(version, "1.0.0") < 0;
}
bool IsNonNegativeInt(const json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
}
std::string Quote(std::string_view s) { return StrCat("\"", s, "\""); }

// obj[key] if it is a string, else "": for messages about a value already checked (or reported)
// elsewhere. nlohmann's value(key, default) throws when the key holds another type.
std::string StrOr(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::string FamilyName(int family) { return family == 4 ? "IPv4" : "IPv6"; }

// An error object rather than a result: an integer "code" and none of the fields a result of any
// version has (cniVersion aside, which both carry).
bool IsErrorObject(const json& doc) {
  if (!doc.is_object()) return false;
  auto code = doc.find("code");
  if (code == doc.end() || !code->is_number_integer()) return false;
  for (const char* key : {"interfaces", "ips", "routes", "dns", "ip4", "ip6"}) {
    if (doc.contains(key)) return false;
  }
  return true;
}

// Collects "PATH: sentence" lines.
class Violations {
 public:
  void Add(std::string_view path, std::string_view msg) { out_.push_back(StrCat(path, ": ", msg)); }
  void WrongType(std::string_view path, std::string_view want, const json& got) {
    Add(path, StrCat("expected ", want, ", got ", got.type_name()));
  }
  // A string at obj[key] or nullptr (reported when present and not a string, or when required
  // and absent).
  const std::string* String(const json& obj, std::string_view path, const char* key,
                            bool required) {
    auto it = obj.find(key);
    std::string p = JoinPath(path, key);
    if (it == obj.end()) {
      if (required) Add(p, "missing");
      return nullptr;
    }
    if (!it->is_string()) {
      WrongType(p, "a string", *it);
      return nullptr;
    }
    return &it->get_ref<const std::string&>();
  }
  // An array at obj[key] or nullptr.
  const json* Array(const json& obj, std::string_view path, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end()) return nullptr;
    if (!it->is_array()) {
      WrongType(JoinPath(path, key), "an array", *it);
      return nullptr;
    }
    return &*it;
  }
  void StringList(const json& obj, std::string_view path, const char* key, bool addresses) {
    const json* arr = Array(obj, path, key);
    if (arr == nullptr) return;
    for (size_t i = 0; i < arr->size(); ++i) {
      const json& v = (*arr)[i];
      std::string p = IndexPath(JoinPath(path, key), i);
      if (!v.is_string()) {
        WrongType(p, "a string", v);
      } else if (addresses && !IpFamily(v.get_ref<const std::string&>())) {
        Add(p, StrCat(Quote(v.get_ref<const std::string&>()), " is not an IP address"));
      }
    }
  }
  void UintFields(const json& obj, std::string_view path, std::initializer_list<const char*> keys) {
    for (const char* key : keys) {
      auto it = obj.find(key);
      if (it != obj.end() && !IsNonNegativeInt(*it)) {
        WrongType(JoinPath(path, key), "a non-negative integer", *it);
      }
    }
  }
  // CIDR at obj[key]; returns its family or 0.
  int Cidr(const json& obj, std::string_view path, const char* key) {
    const std::string* s = String(obj, path, key, /*required=*/true);
    if (s == nullptr) return 0;
    auto family = CidrFamily(*s);
    if (!family) {
      Add(JoinPath(path, key), StrCat(Quote(*s), " is not a CIDR (address/prefix-length)"));
      return 0;
    }
    return *family;
  }
  // Optional address at obj[key] that must be of `family` (0: unknown, not compared).
  void AddressOfFamily(const json& obj, std::string_view path, const char* key, int family,
                       std::string_view against) {
    const std::string* s = String(obj, path, key, /*required=*/false);
    if (s == nullptr || s->empty()) return;
    auto got = IpFamily(*s);
    if (!got) {
      Add(JoinPath(path, key), StrCat(Quote(*s), " is not an IP address"));
    } else if (family != 0 && *got != family) {
      Add(JoinPath(path, key), StrCat(Quote(*s), " is ", FamilyName(*got), " but ", against, " is ",
                                      FamilyName(family)));
    }
  }
  void Routes(const json* routes, std::string_view path) {
    if (routes == nullptr) return;
    for (size_t i = 0; i < routes->size(); ++i) {
      const json& r = (*routes)[i];
      std::string p = IndexPath(path, i);
      if (!r.is_object()) {
        WrongType(p, "a route object", r);
        continue;
      }
      int family = Cidr(r, p, "dst");
      AddressOfFamily(r, p, "gw", family, StrCat("dst ", Quote(StrOr(r, "dst"))));
      UintFields(r, p, {"mtu", "advmss", "priority", "table", "scope"});
    }
  }
  void Dns(const json& obj) {
    auto it = obj.find("dns");
    if (it == obj.end()) return;
    if (!it->is_object()) {
      WrongType("dns", "an object", *it);
      return;
    }
    StringList(*it, "dns", "nameservers", /*addresses=*/true);
    String(*it, "dns", "domain", false);
    StringList(*it, "dns", "search", false);
    StringList(*it, "dns", "options", false);
  }

  std::vector<std::string> Take() { return std::move(out_); }

 private:
  std::vector<std::string> out_;
};

void ValidateLegacy(const json& r, std::string_view version, Violations& v) {
  for (const char* key : {"interfaces", "ips", "routes"}) {
    if (r.contains(key)) {
      v.Add(key,
            StrCat("not part of a ", version, " result (", version, " results carry ip4/ip6)"));
    }
  }
  for (auto [key, family] : {std::pair<const char*, int>{"ip4", 4}, {"ip6", 6}}) {
    auto it = r.find(key);
    if (it == r.end()) continue;
    if (!it->is_object()) {
      v.WrongType(key, "an object", *it);
      continue;
    }
    int got = v.Cidr(*it, key, "ip");
    if (got != 0 && got != family) {
      v.Add(JoinPath(key, "ip"),
            StrCat(Quote(StrOr(*it, "ip")), " is ", FamilyName(got), ", not ", FamilyName(family)));
    }
    v.AddressOfFamily(*it, key, "gateway", family, StrCat(key));
    const json* routes = v.Array(*it, key, "routes");
    v.Routes(routes, JoinPath(key, "routes"));
    if (routes != nullptr) {
      for (size_t i = 0; i < routes->size(); ++i) {
        const json& route = (*routes)[i];
        if (!route.is_object() || !route.contains("dst") || !route["dst"].is_string()) continue;
        auto f = CidrFamily(route["dst"].get_ref<const std::string&>());
        if (f && *f != family) {
          v.Add(IndexPath(JoinPath(key, "routes"), i) + ".dst",
                StrCat(Quote(route["dst"].get_ref<const std::string&>()), " is ", FamilyName(*f),
                       " in ", key));
        }
      }
    }
  }
}

void ValidateCurrent(const json& r, std::string_view version, Violations& v) {
  for (const char* key : {"ip4", "ip6"}) {
    if (r.contains(key)) {
      v.Add(key, StrCat("not part of a ", version, " result (use \"ips\")"));
    }
  }
  size_t interface_count = 0;
  if (const json* ifs = v.Array(r, "", "interfaces")) {
    interface_count = ifs->size();
    for (size_t i = 0; i < ifs->size(); ++i) {
      const json& itf = (*ifs)[i];
      std::string p = IndexPath("interfaces", i);
      if (!itf.is_object()) {
        v.WrongType(p, "an interface object", itf);
        continue;
      }
      if (const std::string* name = v.String(itf, p, "name", /*required=*/true);
          name != nullptr && name->empty()) {
        v.Add(JoinPath(p, "name"), "must not be empty");
      }
      if (const std::string* mac = v.String(itf, p, "mac", false);
          mac != nullptr && !mac->empty() && !IsValidMac(*mac)) {
        v.Add(JoinPath(p, "mac"), StrCat(Quote(*mac), " is not a MAC address"));
      }
      v.String(itf, p, "sandbox", false);
      v.String(itf, p, "socketPath", false);
      v.String(itf, p, "pciID", false);
      v.UintFields(itf, p, {"mtu"});
    }
  }
  if (const json* ips = v.Array(r, "", "ips")) {
    for (size_t i = 0; i < ips->size(); ++i) {
      const json& ip = (*ips)[i];
      std::string p = IndexPath("ips", i);
      if (!ip.is_object()) {
        v.WrongType(p, "an IP configuration object", ip);
        continue;
      }
      int family = v.Cidr(ip, p, "address");
      std::string address = ip.contains("address") && ip["address"].is_string()
                                ? Quote(ip["address"].get_ref<const std::string&>())
                                : "";
      if (Is04x(version)) {
        if (const std::string* ver = v.String(ip, p, "version", /*required=*/true)) {
          if (*ver != "4" && *ver != "6") {
            v.Add(JoinPath(p, "version"), StrCat(Quote(*ver), " must be \"4\" or \"6\""));
          } else if (family != 0 && (*ver == "4") != (family == 4)) {
            v.Add(JoinPath(p, "version"),
                  StrCat(Quote(*ver), " but address ", address, " is ", FamilyName(family)));
          }
        }
      } else if (ip.contains("version")) {
        v.Add(JoinPath(p, "version"),
              StrCat("not part of a ", version, " result (removed in 1.0.0)"));
      }
      v.AddressOfFamily(ip, p, "gateway", family, StrCat("address ", address));
      if (auto it = ip.find("interface"); it != ip.end()) {
        if (!IsNonNegativeInt(*it)) {
          v.WrongType(JoinPath(p, "interface"), "a non-negative integer", *it);
        } else if (it->get<uint64_t>() >= interface_count) {
          v.Add(JoinPath(p, "interface"),
                StrCat(it->get<uint64_t>(), " is out of range: the result has ", interface_count,
                       interface_count == 1 ? " interface" : " interfaces"));
        }
      }
    }
  }
  v.Routes(v.Array(r, "", "routes"), "routes");
}

}  // namespace

static std::vector<std::string> ValidateResultUnguarded(const json& result,
                                                        std::string_view version) {
  Violations v;
  if (!result.is_object()) {
    v.Add("result", StrCat("expected a JSON object, got ", result.type_name()));
    return v.Take();
  }
  std::string shape(version);
  auto it = result.find("cniVersion");
  if (it == result.end()) {
    v.Add("cniVersion", StrCat("missing (must be ", Quote(version), ", the request's version)"));
  } else if (!it->is_string()) {
    v.WrongType("cniVersion", "a string", *it);
  } else {
    const std::string& got = it->get_ref<const std::string&>();
    if (got != version) {
      v.Add("cniVersion", StrCat(Quote(got), " differs from the request's ", Quote(version)));
    }
    if (IsSupportedVersion(got)) shape = got;
  }
  if (IsLegacy(shape)) {
    ValidateLegacy(result, shape, v);
  } else {
    ValidateCurrent(result, shape, v);
  }
  v.Dns(result);
  return v.Take();
}

namespace {

// Reads into `out` what ValidateResult checks, reporting only type errors.
class Reader {
 public:
  std::string Str(const json& obj, std::string_view path, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return "";
    if (!it->is_string()) {
      errors_.push_back(StrCat(JoinPath(path, key), ": expected a string, got ", it->type_name()));
      return "";
    }
    return it->get<std::string>();
  }
  std::optional<int> Int(const json& obj, std::string_view path, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > INT32_MAX) {
      errors_.push_back(
          StrCat(JoinPath(path, key), ": expected a non-negative integer, got ", it->type_name()));
      return std::nullopt;
    }
    return it->get<int>();
  }
  // Elements of an array field that are objects; others reported.
  std::vector<std::pair<std::string, const json*>> Objects(const json& obj, std::string_view path,
                                                           const char* key) {
    std::vector<std::pair<std::string, const json*>> out;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return out;
    std::string p = JoinPath(path, key);
    if (!it->is_array()) {
      errors_.push_back(StrCat(p, ": expected an array, got ", it->type_name()));
      return out;
    }
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_object()) {
        errors_.push_back(
            StrCat(IndexPath(p, i), ": expected an object, got ", (*it)[i].type_name()));
      } else {
        out.emplace_back(IndexPath(p, i), &(*it)[i]);
      }
    }
    return out;
  }
  std::vector<std::string> Strings(const json& obj, std::string_view path, const char* key) {
    std::vector<std::string> out;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return out;
    std::string p = JoinPath(path, key);
    if (!it->is_array()) {
      errors_.push_back(StrCat(p, ": expected an array, got ", it->type_name()));
      return out;
    }
    for (size_t i = 0; i < it->size(); ++i) {
      if ((*it)[i].is_string()) {
        out.push_back((*it)[i].get<std::string>());
      } else {
        errors_.push_back(
            StrCat(IndexPath(p, i), ": expected a string, got ", (*it)[i].type_name()));
      }
    }
    return out;
  }
  void Routes(const json& obj, std::string_view path, std::vector<Route>& out) {
    for (const auto& [p, r] : Objects(obj, path, "routes")) {
      out.push_back(Route{Str(*r, p, "dst"), Str(*r, p, "gw")});
    }
  }
  std::vector<std::string>& errors() { return errors_; }

 private:
  std::vector<std::string> errors_;
};

}  // namespace

static absl::StatusOr<Result> ParseResultUnguarded(std::string_view stdout_text,
                                                   std::string_view expected_version) {
  auto parsed = ParseJson(stdout_text, "parse result: stdout");
  if (!parsed.ok()) return parsed.status();
  json& doc = *parsed;
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(
        StrCat("parse result: expected a JSON object, got ", doc.type_name()));
  }
  if (IsErrorObject(doc)) {
    return absl::InvalidArgumentError(StrCat(
        "parse result: this is a CNI error object (code ", doc["code"].dump(),
        StrOr(doc, "msg").empty() ? "" : StrCat(": ", StrOr(doc, "msg")), "), not a result"));
  }
  auto version_it = doc.find("cniVersion");
  if (version_it == doc.end() ||
      (version_it->is_string() && version_it->get<std::string>().empty())) {
    doc["cniVersion"] = std::string(expected_version);
  } else if (!version_it->is_string()) {
    return absl::InvalidArgumentError(
        StrCat("parse result: cniVersion: expected a string, got ", version_it->type_name()));
  }
  Result out;
  out.cni_version = doc["cniVersion"].get<std::string>();
  if (!IsSupportedVersion(out.cni_version)) {
    return absl::InvalidArgumentError(
        StrCat("parse result: unsupported cniVersion \"", out.cni_version, "\""));
  }
  Reader read;
  if (IsLegacy(out.cni_version)) {
    for (const char* key : {"ip4", "ip6"}) {
      auto it = doc.find(key);
      if (it == doc.end() || it->is_null()) continue;
      if (!it->is_object()) {
        read.errors().push_back(StrCat(key, ": expected an object, got ", it->type_name()));
        continue;
      }
      out.ips.push_back(IpConfig{read.Str(*it, key, "ip"), read.Str(*it, key, "gateway"), {}});
      read.Routes(*it, key, out.routes);
    }
  } else {
    for (const auto& [p, itf] : read.Objects(doc, "", "interfaces")) {
      out.interfaces.push_back(Interface{read.Str(*itf, p, "name"), read.Str(*itf, p, "mac"),
                                         read.Str(*itf, p, "sandbox"), read.Int(*itf, p, "mtu")});
    }
    for (const auto& [p, ip] : read.Objects(doc, "", "ips")) {
      out.ips.push_back(IpConfig{read.Str(*ip, p, "address"), read.Str(*ip, p, "gateway"),
                                 read.Int(*ip, p, "interface")});
    }
    read.Routes(doc, "", out.routes);
  }
  if (auto it = doc.find("dns"); it != doc.end() && !it->is_null()) {
    if (!it->is_object()) {
      read.errors().push_back(StrCat("dns: expected an object, got ", it->type_name()));
    } else {
      out.dns.nameservers = read.Strings(*it, "dns", "nameservers");
      out.dns.domain = read.Str(*it, "dns", "domain");
      out.dns.search = read.Strings(*it, "dns", "search");
      out.dns.options = read.Strings(*it, "dns", "options");
    }
  }
  if (!read.errors().empty()) {
    return absl::InvalidArgumentError(StrCat("parse result: ", absl::StrJoin(read.errors(), "; ")));
  }
  out.raw = std::move(doc);
  return out;
}

static absl::StatusOr<PluginError> ParsePluginErrorUnguarded(std::string_view stdout_text) {
  auto parsed = ParseJson(stdout_text, "parse plugin error: stdout");
  if (!parsed.ok()) return parsed.status();
  const json& doc = *parsed;
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(
        StrCat("parse plugin error: expected a JSON object, got ", doc.type_name()));
  }
  auto code = doc.find("code");
  if (code == doc.end()) {
    return absl::InvalidArgumentError(
        "parse plugin error: not a CNI error object: missing \"code\"");
  }
  if (!code->is_number_integer() || code->get<int64_t>() < 0 || code->get<int64_t>() > INT32_MAX) {
    return absl::InvalidArgumentError(StrCat(
        "parse plugin error: code: expected a non-negative integer, got ", code->type_name()));
  }
  PluginError out;
  out.code = code->get<int>();
  auto str = [&](const char* key) {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  out.msg = str("msg");
  out.details = str("details");
  out.cni_version = str("cniVersion");
  return out;
}

std::string_view ErrorCodeName(int code) {
  switch (code) {
    case 1:
      return "incompatible CNI version";
    case 2:
      return "unsupported field in network configuration";
    case 3:
      return "container unknown or does not exist";
    case 4:
      return "invalid necessary environment variables";
    case 5:
      return "I/O failure";
    case 6:
      return "failed to decode content";
    case 7:
      return "invalid network config";
    case 8:
      return "invalid network namespace";  // libcni types.ErrInvalidNetNS
    case 11:
      return "try again later";
    case 50:
      return "plugin not available";
    case 51:
      return "plugin not available, existing containers may have limited connectivity";
    default:
      return code >= 100 ? "plugin-specific" : "";
  }
}

static std::vector<std::string> ValidateErrorUnguarded(const json& error) {
  Violations v;
  if (!error.is_object()) {
    v.Add("error", StrCat("expected a JSON object, got ", error.type_name()));
    return v.Take();
  }
  auto code = error.find("code");
  if (code == error.end()) {
    v.Add("code", "missing");
  } else if (!IsNonNegativeInt(*code)) {
    v.WrongType("code", "a non-negative integer", *code);
  } else {
    uint64_t c = code->get<uint64_t>();
    if (c == 0) {
      v.Add("code", "0 is not an error code (codes start at 1)");
    } else if (c < 100 && ErrorCodeName(static_cast<int>(c)).empty()) {
      v.Add("code", StrCat(c,
                           " is in the reserved range 0-99 but not a well-known code "
                           "(1-8, 11, 50, 51; use 100+ for plugin-specific errors)"));
    }
  }
  if (const std::string* msg = v.String(error, "", "msg", /*required=*/true);
      msg != nullptr && msg->empty()) {
    v.Add("msg", "must not be empty");
  }
  v.String(error, "", "details", false);
  v.String(error, "", "cniVersion", false);
  return v.Take();
}

std::string FormatPluginError(const PluginError& error, std::string_view plugin,
                              std::string_view stderr_text) {
  std::string name(ErrorCodeName(error.code));
  std::string out = StrCat("plugin \"", plugin, "\" failed: code ", error.code);
  if (!name.empty()) out += StrCat(" (", name, ")");
  out += StrCat(": ", error.msg.empty() ? "(no msg)" : error.msg);
  if (!error.details.empty()) out += StrCat(": ", error.details);
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos <= stderr_text.size();) {
    size_t nl = stderr_text.find('\n', pos);
    if (nl == std::string_view::npos) nl = stderr_text.size();
    lines.push_back(stderr_text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  while (!lines.empty() && lines.back().find_first_not_of(" \t\r") == std::string_view::npos) {
    lines.pop_back();
  }
  if (!lines.empty()) {
    constexpr size_t kMaxLines = 20;
    out += "\n  stderr:";
    if (lines.size() > kMaxLines) {
      out += StrCat(" (last ", kMaxLines, " of ", lines.size(), " lines)");
      lines.erase(lines.begin(), lines.end() - kMaxLines);
    }
    // A line is shown up to kMaxLine bytes: a plugin may print megabytes without a newline.
    constexpr size_t kMaxLine = 300;
    for (std::string_view line : lines) {
      out += StrCat("\n    ", line.substr(0, kMaxLine), line.size() > kMaxLine ? "..." : "");
    }
  }
  return SanitizeUtf8(out);
}

// The guarded entry points: plugin output is untrusted, and every read above checks its JSON type
// first (result_test's wrong-type table); should one slip through, nlohmann's exception becomes the
// plugin's error here rather than crossing the module boundary.
std::vector<std::string> ValidateResult(const json& result, std::string_view version) {
  try {
    return ValidateResultUnguarded(result, version);
  } catch (const json::exception& e) {
    return {StrCat("result: malformed (", e.what(), ")")};
  }
}

absl::StatusOr<Result> ParseResult(std::string_view stdout_text,
                                   std::string_view expected_version) {
  try {
    return ParseResultUnguarded(stdout_text, expected_version);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(StrCat("parse result: malformed (", e.what(), ")"));
  }
}

std::optional<PluginError> ErrorOnSuccess(std::string_view stdout_text) {
  try {
    absl::StatusOr<json> doc = ParseJson(stdout_text, "stdout");
    if (!doc.ok() || !IsErrorObject(*doc)) return std::nullopt;
    absl::StatusOr<PluginError> e = ParsePluginErrorUnguarded(stdout_text);
    if (!e.ok()) return std::nullopt;
    return *e;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

absl::StatusOr<PluginError> ParsePluginError(std::string_view stdout_text) {
  try {
    return ParsePluginErrorUnguarded(stdout_text);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(StrCat("parse plugin error: malformed (", e.what(), ")"));
  }
}

std::vector<std::string> ValidateError(const json& error) {
  try {
    return ValidateErrorUnguarded(error);
  } catch (const json::exception& e) {
    return {StrCat("error: malformed (", e.what(), ")")};
  }
}

}  // namespace mkn::cni
