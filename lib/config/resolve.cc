// Resolve(): RawConfig → ClusterSpec. Validates meaning and fills every default, name, address and
// MAC. This file runs the steps in order (the Resolver, resolver.h) and holds the checks they all
// use; each step lives in the resolve_*.cc of its concern.

#include <filesystem>
#include <utility>

#include "lib/config/resolver.h"
#include "lib/config/spec.h"
#include "lib/net/naming.h"
#include "lib/strings/str_cat.h"

namespace mkn::config {
namespace internal {

std::optional<ClusterSpec> Resolver::Run() {
  ResolveCluster();
  ResolveNodes();
  ResolveRacks();
  ResolveWorld();
  ResolveNamespaces();
  CollectPods();
  PlacePods();
  ResolveServices();
  ResolveIngresses();
  ResolveListeners();
  ResolveHttpRoutes();
  ResolveNetworkPolicies();
  ResolveExpects();
  if (d_.HasErrors()) return std::nullopt;
  return std::move(spec_);
}

bool Resolver::CheckName(const Field<std::string>& f, std::string_view what, size_t max,
                         std::string_view why) {
  if (f.bad) return false;
  if (!f.set) {
    d_.Error(f.pos, StrCat(what, ": missing \"name\""));
    return false;
  }
  if (f.value.size() > max) {
    d_.Error(f.pos, StrCat(what, ": name \"", f.value, "\" is ", f.value.size(), " bytes, at most ",
                           max, " fit ", why));
    return false;
  }
  if (!net::IsDnsLabel(f.value, max)) {
    d_.Error(f.pos, StrCat(what, ": name \"", f.value,
                           "\" must be lowercase letters, digits and '-', starting and ending "
                           "with a letter or digit"));
    return false;
  }
  return true;
}

bool Resolver::CheckPort(const Field<int64_t>& f, std::string_view what) {
  if (f.value < 1 || f.value > 65535) {
    d_.Error(f.pos, StrCat(what, ": port ", f.value, " is out of range 1-65535"));
    return false;
  }
  return true;
}

std::optional<Protocol> Resolver::ParseProtocol(const Field<std::string>& f,
                                                std::string_view what) {
  if (!f.set || f.value == "TCP") return Protocol::kTcp;
  if (f.value == "UDP") return Protocol::kUdp;
  d_.Error(f.pos, StrCat(what, ": protocol \"", f.value, "\" is not \"TCP\" or \"UDP\""));
  return std::nullopt;
}

// A path written in the lab file, relative to the lab file's directory. Lexical only (lib does no
// I/O): absolute when Load() was given an absolute file name, else relative to the same working
// directory the lab file name is.
std::string Resolver::LabPath(const std::string& p) const {
  namespace fs = std::filesystem;
  fs::path path(p);
  if (!path.is_absolute()) path = fs::path(d_.file()).parent_path() / path;
  return path.lexically_normal().string();
}

bool IsHostName(std::string_view h) {
  if (h.substr(0, 2) == "*.") h.remove_prefix(2);
  if (h.empty() || h.size() > 253) return false;
  size_t start = 0;
  while (start <= h.size()) {
    size_t dot = h.find('.', start);
    std::string_view label =
        h.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!net::IsDnsLabel(label)) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

}  // namespace internal

std::optional<ClusterSpec> Resolve(const RawConfig& raw, Diagnostics& diags) {
  return internal::Resolver(raw, diags).Run();
}

}  // namespace mkn::config
