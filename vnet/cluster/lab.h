// vnet/cluster/lab — a lab file as every command reads it before it acts (`up`, `plan`, `validate`,
// `down LAB.toml`, `cni render`, `verify`).
//
// LoadLab() reads and resolves the file (lib/config), checks every TLS certificate and key the
// edge will serve (vnet/edge/tls's CheckLabCertificates: readable regular files, PEM, matching,
// valid now) and, for a network = "cni" lab, every node's conflist the way `up` will use it
// (vnet/cni's LoadCniConfigs: read, ${...} filled, parsed, every plugin's binary found) without
// running anything. The file is read as vnet/kernel/file's ReadUserFile reads what a user names: a
// regular file of at most kMaxLabFileBytes (16 MiB), or "-" for standard input (its diagnostics
// then say "<stdin>", and a relative path in it, a conflist or a certificate, is taken from the
// current directory). Which commands accept "-" is the CLI's choice: those that only read the lab
// (validate, plan, up --dry-run), not those that record it (up, down LAB, verify). Files only: no
// privileges, no namespace.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "lib/config/spec.h"

namespace mkn::vnet {

struct LabFile {
  std::optional<config::ClusterSpec> spec;  // absent: the lab does not load (why: in `report`)
  // What to show the user whether or not the lab loads: every diagnostic, warnings too, as
  // "file:line:col: message" lines, then a CNI lab's conflist problems.
  std::string report;
};

// The path that means standard input, and the name diagnostics give it.
inline constexpr char kStdinLab[] = "-";
inline constexpr char kStdinName[] = "<stdin>";

// kInvalidArgument "cannot read lab file: PATH: why" when the file cannot be read (absent,
// unreadable, not a regular file, over the size cap: vnet/kernel/file.h's messages); otherwise a
// LabFile (a lab with errors is not a failure of the call: its spec is absent and its report says
// why).
absl::StatusOr<LabFile> LoadLab(const std::string& path);

// `cni render`: each node's conflist of a loaded CNI lab with its ${...} filled, as its plugins
// get it; every node, each after a "# node N (conflist path)" line, or only `node`'s, bare.
// kInvalidArgument when the lab is not a network = "cni" lab, a conflist does not load, or no
// node is called `node`.
absl::StatusOr<std::string> RenderCniConfigs(const config::ClusterSpec& spec,
                                             const std::string& lab_path, const std::string& node);

}  // namespace mkn::vnet
