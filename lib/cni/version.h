// lib/cni/version — CNI spec versions: which ones this runtime speaks, how they compare, and what
// each version lets a runtime do (pkg/version in containernetworking/cni).
//
// Pure. A version is "MAJOR.MINOR.PATCH"; libcni treats "" as 0.1.0 and accepts "1" or "1.0" as
// shorthand, and so does ParseVersion.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mkn::cni {

// The versions this runtime implements, oldest first (libcni version.All at spec 1.1.0).
const std::vector<std::string>& SupportedVersions();
// The newest of them: what a runtime sends as the cniVersion of a VERSION request.
inline constexpr std::string_view kCurrentVersion = "1.1.0";

bool IsSupportedVersion(std::string_view version);

// {major, minor, patch}. InvalidArgument on anything but up to three dot-separated non-negative
// integers ("" is 0.1.0, as in libcni).
absl::StatusOr<std::array<int, 3>> ParseVersion(std::string_view version);

// <0, 0, >0 as a is older, equal or newer than b. Unparseable versions sort before every valid one
// (and equal to each other), so a comparison never fails.
int CompareVersions(std::string_view a, std::string_view b);

// What libcni does per version of the configuration list:
//   CHECK exists from 0.4.0 (CheckNetworkList refuses older lists);
//   DEL gets the cached ADD result as prevResult from 0.4.0;
//   STATUS and GC exist from 1.1.0 (GetStatusNetworkList/GCNetworkList skip older lists).
bool SupportsCheck(std::string_view version);
bool DelGetsPrevResult(std::string_view version);
bool SupportsStatusAndGc(std::string_view version);

// --- a plugin's own version (for reports: JUnit <properties>, `verify -o json`) -----------------

// What a plugin says about itself when run without CNI_COMMAND: plugins built on the reference
// skel print an "about" text on stderr ("CNI bridge plugin v1.1.1\nCNI protocol versions
// supported: 0.1.0, ..."). Its first non-empty line that is not the protocol list, whitespace
// trimmed, invalid UTF-8 replaced, cut to 100 bytes; "" when there is none.
std::string PluginAbout(std::string_view stderr_text);

// The package owning `file` in what `dpkg-query -S FILE` printed ("containernetworking-plugins:
// /usr/lib/cni/bridge"); "" when no line names exactly that file (not from a package, a
// diversion, an error message).
std::string PackageOfFile(std::string_view dpkg_search_output, std::string_view file);

// A plugin's version as reports show it: its about line ("(no version text)" without one), then
// " [deb PACKAGE VERSION]" when the binary comes from a Debian package. Debian builds the
// reference plugins without their version stamp ("CNI bridge plugin version unknown"), so the
// package version is often the only one there is.
std::string PluginVersionText(std::string_view about, std::string_view package,
                              std::string_view package_version);

}  // namespace mkn::cni
