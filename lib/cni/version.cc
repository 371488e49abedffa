// lib/cni/version — see version.h.
#include "lib/cni/version.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/ascii.h"
#include "lib/cni/json_text.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"

namespace mkn::cni {

const std::vector<std::string>& SupportedVersions() {
  static const auto* const kVersions =
      new std::vector<std::string>{"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"};
  return *kVersions;
}

bool IsSupportedVersion(std::string_view version) {
  const auto& all = SupportedVersions();
  return std::find(all.begin(), all.end(), version) != all.end();
}

absl::StatusOr<std::array<int, 3>> ParseVersion(std::string_view version) {
  if (version.empty()) return std::array<int, 3>{0, 1, 0};
  std::array<int, 3> out{0, 0, 0};
  size_t part = 0;
  size_t pos = 0;
  while (true) {
    if (part == 3) {
      return absl::InvalidArgumentError(StrCat("parse version \"", version, "\": too many parts"));
    }
    size_t dot = version.find('.', pos);
    std::string_view piece =
        version.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
    int value = 0;
    auto [end, ec] = std::from_chars(piece.data(), piece.data() + piece.size(), value);
    if (piece.empty() || ec != std::errc() || end != piece.data() + piece.size() || value < 0) {
      return absl::InvalidArgumentError(
          StrCat("parse version \"", version, "\": \"", piece, "\" is not a number"));
    }
    out[part++] = value;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  return out;
}

int CompareVersions(std::string_view a, std::string_view b) {
  auto va = ParseVersion(a);
  auto vb = ParseVersion(b);
  if (!va.ok() || !vb.ok()) return static_cast<int>(va.ok()) - static_cast<int>(vb.ok());
  if (*va < *vb) return -1;
  if (*va > *vb) return 1;
  return 0;
}

bool SupportsCheck(std::string_view version) { return CompareVersions(version, "0.4.0") >= 0; }
bool DelGetsPrevResult(std::string_view version) { return CompareVersions(version, "0.4.0") >= 0; }
bool SupportsStatusAndGc(std::string_view version) {
  return CompareVersions(version, "1.1.0") >= 0;
}

// --- a plugin's own version --------------------------------------------------------------------

namespace {

// The lines of `text`, each whitespace-trimmed.
std::vector<std::string_view> TrimmedLines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    out.push_back(AsStd(absl::StripAsciiWhitespace(AsAbsl(line))));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace

std::string PluginAbout(std::string_view stderr_text) {
  for (std::string_view line : TrimmedLines(stderr_text)) {
    if (line.empty() || line.rfind("CNI protocol versions supported", 0) == 0) continue;
    std::string about = SanitizeUtf8(line.substr(0, 100));
    return about;
  }
  return "";
}

std::string PackageOfFile(std::string_view dpkg_search_output, std::string_view file) {
  for (std::string_view line : TrimmedLines(dpkg_search_output)) {
    // "pkg: /path", or "pkg1, pkg2: /path" for a directory several packages share.
    size_t colon = line.find(": ");
    if (colon == std::string_view::npos || colon == 0 || line.substr(colon + 2) != file) continue;
    std::string_view pkg = line.substr(0, colon);
    if (pkg.find_first_of(" ,") != std::string_view::npos) continue;  // "diversion by ...", lists
    return std::string(pkg);
  }
  return "";
}

std::string PluginVersionText(std::string_view about, std::string_view package,
                              std::string_view package_version) {
  std::string out = about.empty() ? "(no version text)" : std::string(about);
  if (!package.empty()) {
    StrAppend(&out, " [deb ", package, package_version.empty() ? "" : " ", package_version, "]");
  }
  return out;
}

}  // namespace mkn::cni
