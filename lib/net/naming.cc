#include "lib/net/naming.h"

#include "absl/strings/str_format.h"
#include "lib/strings/str_cat.h"

namespace mkn::net {

std::string NetnsName(std::string_view cluster, std::string_view object) {
  return StrCat(kNetnsPrefix, cluster, "-", object);
}

std::string NetnsPath(std::string_view cluster, std::string_view object) {
  return StrCat(kNetnsDir, "/", NetnsName(cluster, object));
}

std::string PodVethName(std::string_view cluster, std::string_view pod, uint32_t salt) {
  uint32_t h = 2166136261u;  // FNV-1a
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 16777619u;
    }
  };
  mix(cluster);
  mix("/");
  mix(pod);
  for (int i = 0; i < 4; ++i) {
    h ^= (salt >> (8 * i)) & 0xff;
    h *= 16777619u;
  }
  return absl::StrFormat("veth%08x", h);
}

std::string ClusterCgroupName(std::string_view cluster, uint64_t netns_inode) {
  return StrCat(kNetnsPrefix, cluster, "-", absl::StrFormat("%x", netns_inode));
}

std::string OwnerMarker(std::string_view cluster) { return StrCat("minikube-net:", cluster); }

std::string StateDir(std::string_view cluster) { return StrCat(kRunDir, "/", cluster); }

std::string TorObject(std::string_view rack) { return StrCat(kTorPrefix, rack); }

std::string ResolvConfPath(std::string_view cluster, std::string_view ns) {
  return StrCat(StateDir(cluster), "/resolv/", ns, ".conf");
}
std::string BirdDir(std::string_view cluster) { return StrCat(StateDir(cluster), "/bird"); }

std::string BirdConfigPath(std::string_view cluster, std::string_view object) {
  return StrCat(BirdDir(cluster), "/", object, ".conf");
}

std::string BirdSocketPath(std::string_view cluster, std::string_view object) {
  return StrCat(BirdDir(cluster), "/", object, ".ctl");
}

std::string BirdLogPath(std::string_view cluster, std::string_view object) {
  return StrCat(StateDir(cluster), "/logs/bird-", object, ".log");
}

bool IsDnsLabel(std::string_view name, size_t max) {
  if (name.empty() || name.size() > max) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  for (char c : name) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
}

}  // namespace mkn::net
