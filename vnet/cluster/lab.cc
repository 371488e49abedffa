#include "vnet/cluster/lab.h"

#include <utility>
#include <vector>

#include "lib/config/toml/load.h"
#include "lib/strings/str_cat.h"
#include "vnet/cni/runtime.h"
#include "vnet/edge/tls.h"
#include "vnet/kernel/file.h"

namespace mkn::vnet {

absl::StatusOr<LabFile> LoadLab(const std::string& path) {
  // Named by the user, so it may be anything: a FIFO, /dev/zero, a directory, gigabytes. Whatever
  // the reason it cannot be read, that is the user's input: kInvalidArgument (exit 2).
  absl::StatusOr<std::string> text = path == kStdinLab
                                         ? ReadStandardInput(kMaxLabFileBytes, "a lab file")
                                         : ReadUserFile(path, kMaxLabFileBytes, "a lab file");
  if (!text.ok()) {
    return absl::InvalidArgumentError(StrCat("cannot read lab file: ", text.status().message()));
  }
  config::LoadResult r = config::Load(*text, path == kStdinLab ? kStdinName : path);
  LabFile lab;
  lab.report = r.diags.FormatAll();
  if (!r.spec) return lab;
  // Every certificate and key the edge will serve must read and parse, as `up` would find.
  if (std::vector<std::string> certs = CheckLabCertificates(*r.spec, path); !certs.empty()) {
    for (const std::string& line : certs) StrAppend(&lab.report, line, "\n");
    return lab;
  }
  // A CNI lab: every node's conflist must read, render, parse and find its plugins (nothing runs).
  if (r.spec->cni_mode) {
    if (absl::StatusOr<std::vector<CniNodeConfig>> c = LoadCniConfigs(*r.spec, path); !c.ok()) {
      StrAppend(&lab.report, c.status().message(), "\n");
      return lab;
    }
  }
  lab.spec = std::move(r.spec);
  return lab;
}

absl::StatusOr<std::string> RenderCniConfigs(const config::ClusterSpec& spec,
                                             const std::string& lab_path, const std::string& node) {
  if (!spec.cni_mode)
    return absl::InvalidArgumentError(StrCat(lab_path, ": not a network = \"cni\" lab"));
  absl::StatusOr<std::vector<CniNodeConfig>> cfgs = LoadCniConfigs(spec, lab_path);
  if (!cfgs.ok()) return absl::InvalidArgumentError(cfgs.status().message());
  std::string out;
  bool any = false;
  for (const CniNodeConfig& c : *cfgs) {
    if (!node.empty() && c.node != node) continue;
    if (node.empty()) StrAppend(&out, "# node ", c.node, " (", c.origin, ")\n");
    StrAppend(&out, c.conf_text, "\n");
    any = true;
  }
  if (!any) return absl::InvalidArgumentError(StrCat("no node \"", node, "\" in ", lab_path));
  return out;
}

}  // namespace mkn::vnet
