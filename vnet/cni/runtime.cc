#include "vnet/cni/runtime.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_join.h"
#include "lib/cni/cache.h"
#include "lib/cni/json_text.h"
#include "lib/cni/result.h"
#include "lib/cni/version.h"
#include "lib/net/naming.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "vnet/cni/nodefs.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/file.h"
#include "vnet/kernel/netns.h"
#include "vnet/kernel/owned.h"

namespace mkn::vnet {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The tool's own files (cni.json, the result cache), under the cluster's state directory.
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  return ReadUserFile(path, kMaxStateFileBytes, "a state file");
}

absl::Status WriteFileAtomic(const std::string& path, const std::string& data) {
  std::string tmp = StrCat(path, ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return KernelError(errno, StrCat("write ", tmp));
    out << data;
    if (!out.flush()) return KernelError(errno, StrCat("write ", tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return KernelError(errno, StrCat("rename ", tmp));
  return absl::OkStatus();
}

// Shortens a plugin's output for a message: the first `max` bytes, on one line.
std::string Excerpt(std::string_view text, size_t max = 300) {
  std::string out = cni::SanitizeUtf8(text.substr(0, max));
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (text.size() > max) out += "...";
  return out;
}

// "; its stderr: ..." (its last 600 bytes), saying how much more there was.
std::string StderrTail(const ExecResult& e) {
  std::string_view err = e.stderr_data;
  if (err.empty()) return "";
  const uint64_t total = e.stderr_dropped + err.size();
  return StrCat("; its stderr", total > 600 ? StrCat(" (the last 600 of ", total, " bytes)") : "",
                ": ", Excerpt(err.size() > 600 ? err.substr(err.size() - 600) : err, 600));
}

// "1 MiB" for a byte limit that is a whole number of MiB or KiB, else "N bytes".
std::string Bytes(size_t n) {
  if (n >= (1 << 20) && n % (1 << 20) == 0) return StrCat(n >> 20, " MiB");
  if (n >= (1 << 10) && n % (1 << 10) == 0) return StrCat(n >> 10, " KiB");
  return StrCat(n, " bytes");
}

std::string NodesDir(const std::string& cluster) {
  return StrCat(net::StateDir(cluster), "/nodes");
}

// MKN_CNI_TRACE=FILE (cni.h): the file, opened once per process; -1 when the variable is unset.
int TraceFd() {
  static const int fd = [] {
    const char* path = std::getenv("MKN_CNI_TRACE");
    if (path == nullptr || *path == '\0') return -1;
    return ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }();
  return fd;
}

// CLOCK_MONOTONIC in µs: one clock for every process of a run (up, down), so the trace's phases
// can be measured across them.
int64_t MonotonicUs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

// One line, one write(2) on an O_APPEND file: lines from concurrent threads and processes never
// interleave.
void TraceLine(const std::string& line) {
  if (int fd = TraceFd(); fd >= 0) (void)!::write(fd, line.data(), line.size());
}

// Runs a chain (Add/Del/Check) and, with MKN_CNI_TRACE, writes its line when it ends.
template <typename Run>
ChainOutcome TraceChain(const std::string& node, cni::Command command, const cni::RuntimeConf& rt,
                        Run run) {
  if (TraceFd() < 0) return run();
  const int64_t start = MonotonicUs();
  ChainOutcome out = run();
  TraceLine(StrCat("chain ", node, " ", rt.container_id, " ", cni::CommandName(command), " ", start,
                   " ", MonotonicUs() - start, " ", out.calls.size(), " ",
                   out.status.ok() ? "ok" : "error", "\n"));
  return out;
}

}  // namespace

// --- configuration -------------------------------------------------------------------------------

std::vector<std::pair<std::string, std::string>> CniVars(const config::ClusterSpec& spec,
                                                         int node) {
  const config::NodeSpec& n = spec.nodes[node];
  return {{"node.name", n.name},
          {"node.ip", n.underlay_ip.ToString()},
          {"node.pod_cidr", n.pod_cidr.ToString()},
          {"node.gateway", n.gateway.ToString()},
          {"cluster.name", spec.name},
          {"cluster.pod_cidr", spec.pod_cidr.ToString()},
          {"cluster.service_cidr", spec.service_cidr.ToString()}};
}

absl::StatusOr<std::vector<CniNodeConfig>> LoadCniConfigs(const config::ClusterSpec& spec,
                                                          const std::string& lab_path) {
  std::vector<std::string> errors;
  std::set<std::string> seen;
  auto error = [&](std::string msg) {
    if (seen.insert(msg).second) errors.push_back(std::move(msg));
  };
  std::map<std::string, absl::StatusOr<std::string>> files;  // each conflist read once
  std::vector<CniNodeConfig> out;
  for (const config::NodeSpec& n : spec.nodes) {
    const config::CniSpec& c = n.cni;
    CniNodeConfig cfg;
    cfg.node = n.name;
    cfg.node_netns = n.netns;
    cfg.state_dir = StrCat(NodesDir(spec.name), "/", n.name);
    // Absolute (the lab may have been named by a relative path): CNI_PATH and exec need them so.
    for (const std::string& d : c.bin_dirs) {
      std::error_code aec;
      fs::path abs = fs::absolute(d, aec);
      std::string dir = (aec ? fs::path(d) : abs).lexically_normal().string();
      while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
      cfg.bin_dirs.push_back(dir);
    }
    cfg.timeout_ms = c.timeout_ms;
    std::string where = StrCat(lab_path, ":", c.conflist_pos.line, ":", c.conflist_pos.col);
    std::string text;
    if (!c.conflist_path.empty()) {
      cfg.origin = c.conflist_path;
      auto it = files.find(c.conflist_path);
      if (it == files.end())
        it = files
                 .emplace(c.conflist_path,
                          ReadUserFile(c.conflist_path, kMaxConflistBytes, "a conflist"))
                 .first;
      if (!it->second.ok()) {
        error(StrCat(where, ": conflist: cannot read ", it->second.status().message()));
        continue;
      }
      text = *it->second;
    } else {
      cfg.origin = StrCat(where, " (inline conflist)");
      text = c.conflist_inline;
    }
    absl::flat_hash_map<std::string, std::string> vars;
    for (auto& [k, v] : CniVars(spec, n.index)) vars[k] = v;
    absl::StatusOr<std::string> rendered = cni::RenderConfList(text, vars, cfg.origin);
    if (!rendered.ok()) {
      error(std::string(rendered.status().message()));
      continue;
    }
    cfg.conf_text = *rendered;
    absl::StatusOr<cni::ConfList> list = cni::ParseConfList(cfg.conf_text, cfg.origin);
    if (!list.ok()) {
      error(std::string(list.status().message()));
      continue;
    }
    cfg.list = *list;
    // IPv6 ranges would fail inside the plugin ("permission denied" from bridge): say why here.
    if (auto v6 = cni::Ipv6InIpam(cfg.list); !v6.empty()) {
      cni::JsonPositions positions = cni::JsonPositions::Index(text);
      for (const auto& [path, value] : v6) {
        error(StrCat(
            positions.Where(cfg.origin, path), ": ", path, ": \"", value,
            "\" is IPv6: minikube-net's nodes and pods are IPv4-only until dual-stack "
            "support lands (their namespaces have disable_ipv6=1, so the plugin would fail); "
            "use IPv4 ranges only"));
      }
      continue;
    }
    bool found_all = true;
    for (size_t i = 0; i < cfg.list.plugins.size(); ++i) {
      const std::string& type = cfg.list.plugins[i].type;
      std::string found;
      for (const std::string& dir : cfg.bin_dirs) {
        std::string p = StrCat(dir, "/", type);
        if (::access(p.c_str(), X_OK) == 0 && !fs::is_directory(p)) {
          found = p;
          break;
        }
      }
      if (found.empty()) {
        error(StrCat(cfg.origin, ": plugins[", i, "]: plugin \"", type, "\" not found in ",
                     absl::StrJoin(cfg.bin_dirs, ":"), " (bin_dir)"));
        found_all = false;
      }
      cfg.binaries.push_back(found);
    }
    if (found_all) out.push_back(std::move(cfg));
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  return out;
}

// --- one node ------------------------------------------------------------------------------------

std::string FormatCalls(const std::vector<PluginCall>& calls) {
  std::string out;
  for (const PluginCall& c : calls) {
    double ms = std::chrono::duration<double, std::milli>(c.exec.elapsed).count();
    std::string how = c.exec.timed_out          ? "timed out"
                      : c.exec.term_signal != 0 ? StrCat("killed by signal ", c.exec.term_signal)
                                                : StrCat("exit ", c.exec.exit_code);
    char buf[32];
    snprintf(buf, sizeof buf, "%.1f", ms);
    if (c.exec.output_held) {
      how += ", but a process it left kept its stdout or stderr open: reading stopped " +
             std::to_string(kPluginExitGrace.count()) + " ms after its exit";
    }
    StrAppend(&out, "== ", c.command, " ", c.plugin, " (", c.binary, "): ", how, " in ", buf,
              " ms\n");
    StrAppend(&out, "env:\n");
    for (const std::string& e : c.env) StrAppend(&out, "  ", e, "\n");
    StrAppend(&out, "stdin:\n", c.stdin_data,
              c.stdin_data.empty() || c.stdin_data.back() == '\n' ? "" : "\n");
    if (!c.exec.stdout_data.empty()) {
      StrAppend(&out, "stdout",
                c.exec.stdout_overflow ? " (its first bytes: then it was killed)" : "", ":\n",
                c.exec.stdout_data, c.exec.stdout_data.back() == '\n' ? "" : "\n");
    }
    if (!c.exec.stderr_data.empty()) {
      StrAppend(&out, "stderr",
                c.exec.stderr_dropped == 0
                    ? std::string()
                    : StrCat(" (its last ", c.exec.stderr_data.size(), " of ",
                             c.exec.stderr_dropped + c.exec.stderr_data.size(), " bytes)"),
                ":\n", c.exec.stderr_data, c.exec.stderr_data.back() == '\n' ? "" : "\n");
    }
    if (!c.status.ok()) StrAppend(&out, "error: ", c.status.message(), "\n");
  }
  return out;
}

cni::ConfList CniNode::ListAtVersion() const {
  cni::ConfList l = config_.list;
  if (!version_.empty()) l.cni_version = version_;
  return l;
}

PluginCall CniNode::Call(size_t i, cni::Command command, const cni::RuntimeConf& rt,
                         const json* prev, const std::vector<cni::Attachment>* valid) {
  const int64_t trace_start = TraceFd() >= 0 ? MonotonicUs() : 0;
  PluginCall call = CallUntraced(i, command, rt, prev, valid);
  if (trace_start != 0) {
    TraceLine(StrCat(
        "call ", config_.node, " ", rt.container_id.empty() ? "-" : rt.container_id, " ",
        call.command, " ", call.plugin, " ", trace_start, " ", MonotonicUs() - trace_start, " ",
        std::chrono::duration_cast<std::chrono::microseconds>(call.exec.elapsed).count(), " ",
        call.exec.exit_code, "\n"));
  }
  return call;
}

PluginCall CniNode::CallUntraced(size_t i, cni::Command command, const cni::RuntimeConf& rt,
                                 const json* prev, const std::vector<cni::Attachment>* valid) {
  PluginCall call;
  call.plugin = config_.list.plugins[i].type;
  call.command = std::string(cni::CommandName(command));
  call.binary = config_.binaries[i];
  cni::ConfList list = ListAtVersion();
  json in;
  switch (command) {
    case cni::Command::kVersion:
      in = cni::VersionStdin();
      break;
    case cni::Command::kStatus:
      in = cni::StatusStdin(list, i);
      break;
    case cni::Command::kGc:
      in = cni::GcStdin(list, i, valid ? *valid : std::vector<cni::Attachment>{});
      break;
    default:
      in = cni::PluginStdin(list, i, rt, prev);
      break;
  }
  call.stdin_data = cni::GoMarshal(in);
  call.env = cni::PluginEnv(command, rt, absl::StrJoin(config_.bin_dirs, ":"));
  ExecRequest req;
  req.binary = call.binary;
  req.env = call.env;
  req.stdin_data = call.stdin_data;
  req.netns_fd = netns_fd_;
  req.mntns_fd = mntns_.get();
  req.timeout = std::chrono::milliseconds(config_.timeout_ms);
  // SetDeadline: a caller's deadline that comes first cuts the call short.
  const auto deadline = std::chrono::steady_clock::time_point(
      std::chrono::steady_clock::duration(deadline_ns_.load(std::memory_order_relaxed)));
  bool cut_by_deadline = false;
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left < req.timeout) {
      req.timeout = std::max(left, std::chrono::milliseconds(0));
      cut_by_deadline = true;
    }
  }
  absl::StatusOr<ExecResult> r = RunPlugin(req);
  const std::string who = StrCat("plugin \"", call.plugin, "\" (", call.command, ")");
  if (!r.ok()) {
    call.status = absl::Status(r.status().code(), StrCat(who, ": ", r.status().message()));
    return call;
  }
  call.exec = std::move(*r);
  const ExecResult& e = call.exec;
  if (e.stdout_overflow) {
    call.status = absl::ResourceExhaustedError(StrCat(
        who, " wrote more than ", Bytes(req.max_stdout),
        " on stdout (a CNI result is a few KiB): killed with its process group", StderrTail(e)));
  } else if (e.timed_out) {
    char secs[32];
    snprintf(secs, sizeof secs, "%g", static_cast<double>(req.timeout.count()) / 1000.0);
    call.status = absl::DeadlineExceededError(
        StrCat(who, " did not finish within ", secs,
               cut_by_deadline ? " s (the caller's deadline came before the [cni] timeout)"
                               : " s ([cni] timeout)",
               ": killed with its process group", StderrTail(e)));
  } else if (e.term_signal != 0) {
    call.status =
        absl::InternalError(StrCat(who, " was killed by signal ", e.term_signal, StderrTail(e)));
  } else if (e.exit_code != 0) {
    absl::StatusOr<cni::PluginError> pe = cni::ParsePluginError(e.stdout_data);
    if (pe.ok()) {
      call.status = absl::FailedPreconditionError(
          StrCat(call.command, ": ", cni::FormatPluginError(*pe, call.plugin, e.stderr_data)));
    } else {
      call.status = absl::FailedPreconditionError(StrCat(
          who, " exited with status ", e.exit_code, " without a CNI error on stdout",
          e.stdout_data.empty() ? std::string() : StrCat(" (stdout: ", Excerpt(e.stdout_data), ")"),
          StderrTail(e)));
    }
  } else if (std::optional<cni::PluginError> pe = cni::ErrorOnSuccess(e.stdout_data)) {
    // The plugin says it failed, with its exit status saying the opposite: its own words are the
    // useful part, and the broken rule is worth saying too.
    call.status = absl::FailedPreconditionError(
        StrCat(call.command, ": ", cni::FormatPluginError(*pe, call.plugin, e.stderr_data),
               "\n  (it exited 0, but a CNI error goes with a nonzero exit: SPEC.md §5 Error)"));
  } else if (command == cni::Command::kAdd) {
    absl::StatusOr<cni::Result> res =
        cni::ParseResult(e.stdout_data, version_.empty() ? list.cni_version : version_);
    if (!res.ok()) {
      call.status = absl::InvalidArgumentError(
          StrCat(who, " printed no valid result: ", res.status().message(), ": \"",
                 Excerpt(e.stdout_data), "\""));
    }
  } else if (command == cni::Command::kVersion) {
    absl::StatusOr<std::vector<std::string>> v = cni::ParseVersionResult(e.stdout_data);
    if (!v.ok()) {
      call.status = absl::InvalidArgumentError(
          StrCat(who, " printed no valid version answer: ", v.status().message(), ": \"",
                 Excerpt(e.stdout_data), "\""));
    }
  }
  return call;
}

absl::StatusOr<std::unique_ptr<CniNode>> CniNode::Open(CniNodeConfig config, int netns_fd) {
  std::unique_ptr<CniNode> node(new CniNode());
  node->config_ = std::move(config);
  node->netns_fd_ = netns_fd;
  std::error_code ec;
  fs::create_directories(StrCat(node->config_.state_dir, "/results"), ec);
  if (ec) return KernelError(ec.value(), StrCat("create ", node->config_.state_dir));
  MKN_ASSIGN_OR_RETURN(node->mntns_, MakeNodeMountNs(node->config_.state_dir));
  ChainOutcome v = node->Version();
  MKN_RETURN_IF_ERROR(v.status);
  std::vector<std::vector<std::string>> supported;
  for (const PluginCall& c : v.calls)
    supported.push_back(*cni::ParseVersionResult(c.exec.stdout_data));
  node->version_ = cni::NegotiateVersion(node->config_.list, supported);
  for (size_t i = 0; i < supported.size(); ++i) {
    if (absl::Status s = cni::CheckVersionSupported(node->version_, supported[i],
                                                    node->config_.list.plugins[i].type);
        !s.ok()) {
      return absl::FailedPreconditionError(StrCat(node->config_.origin, ": ", s.message()));
    }
  }
  MKN_RETURN_IF_ERROR(node->WriteRecord());
  return node;
}

absl::Status CniNode::WriteRecord() const {
  json j = {{"node", config_.node},
            {"netns", config_.node_netns},
            {"origin", config_.origin},
            {"conf", config_.conf_text},
            {"binaries", config_.binaries},
            {"bin_dirs", config_.bin_dirs},
            {"timeout_ms", config_.timeout_ms},
            {"version", version_}};
  return WriteFileAtomic(StrCat(config_.state_dir, "/cni.json"), j.dump(2));
}

absl::StatusOr<std::unique_ptr<CniNode>> CniNode::Reopen(const std::string& state_dir) {
  MKN_ASSIGN_OR_RETURN(std::string text, ReadFile(StrCat(state_dir, "/cni.json")));
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return absl::DataLossError(StrCat(state_dir, "/cni.json: not JSON"));
  std::unique_ptr<CniNode> node(new CniNode());
  CniNodeConfig& c = node->config_;
  try {
    c.node = j.at("node");
    c.node_netns = j.at("netns");
    c.origin = j.at("origin");
    c.conf_text = j.at("conf");
    c.binaries = j.at("binaries").get<std::vector<std::string>>();
    c.bin_dirs = j.at("bin_dirs").get<std::vector<std::string>>();
    c.timeout_ms = j.at("timeout_ms");
    node->version_ = j.at("version");
  } catch (const json::exception& e) {
    return absl::DataLossError(StrCat(state_dir, "/cni.json: ", e.what()));
  }
  c.state_dir = state_dir;
  MKN_ASSIGN_OR_RETURN(c.list, cni::ParseConfList(c.conf_text, c.origin));
  if (c.binaries.size() != c.list.plugins.size())
    return absl::DataLossError(StrCat(state_dir, "/cni.json: plugin count"));
  MKN_ASSIGN_OR_RETURN(node->own_netns_, OpenNetns(c.node_netns));
  node->netns_fd_ = node->own_netns_.get();
  MKN_ASSIGN_OR_RETURN(node->mntns_, MakeNodeMountNs(state_dir));
  return node;
}

std::string CniNode::CachePath(const cni::RuntimeConf& rt) const {
  return StrCat(config_.state_dir, "/results/",
                cni::CacheFileName(config_.list.name, rt.container_id, rt.ifname));
}

absl::StatusOr<json> CniNode::CachedResult(const cni::RuntimeConf& rt) const {
  MKN_ASSIGN_OR_RETURN(std::string text, ReadFile(CachePath(rt)));
  MKN_ASSIGN_OR_RETURN(cni::CacheEntry e, cni::ParseCache(text));
  return e.result;
}

std::vector<cni::RuntimeConf> CniNode::Attachments() const {
  std::vector<cni::RuntimeConf> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(StrCat(config_.state_dir, "/results"), ec)) {
    if (entry.path().extension() == ".tmp") continue;
    absl::StatusOr<std::string> text = ReadFile(entry.path().string());
    if (!text.ok()) continue;
    absl::StatusOr<cni::CacheEntry> e = cni::ParseCache(*text);
    if (!e.ok() || e->network_name != config_.list.name) continue;
    out.push_back(cni::RuntimeConfFromCache(*e));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.container_id < b.container_id; });
  return out;
}

cni::RuntimeConf CniNode::AsCached(const cni::RuntimeConf& rt) const {
  for (const cni::RuntimeConf& a : Attachments()) {
    if (a.container_id == rt.container_id && a.ifname == rt.ifname) return a;
  }
  return rt;
}

ChainOutcome CniNode::RunVerb(std::string_view verb, const cni::RuntimeConf& rt) {
  std::optional<cni::Command> command = cni::CommandOfVerb(verb);
  if (!command) {
    ChainOutcome out;
    out.status = absl::InvalidArgumentError(StrCat("cni: unknown verb \"", verb, "\""));
    return out;
  }
  switch (*command) {
    case cni::Command::kAdd:
      return Add(rt);
    case cni::Command::kCheck:
      return Check(rt);
    case cni::Command::kDel:
      return Del(rt);
    case cni::Command::kStatus:
      return Status();
    case cni::Command::kVersion:
      return Version();
    case cni::Command::kGc:
      break;
  }
  std::vector<cni::Attachment> valid;
  for (const cni::RuntimeConf& a : Attachments()) valid.push_back({a.container_id, a.ifname});
  return Gc(valid);
}

ChainOutcome CniNode::Add(const cni::RuntimeConf& rt) {
  return TraceChain(config_.node, cni::Command::kAdd, rt, [&] { return RunAdd(rt); });
}

ChainOutcome CniNode::RunAdd(const cni::RuntimeConf& rt) {
  ChainOutcome out;
  if (absl::Status s = cni::ValidateRuntimeConf(rt); !s.ok()) {
    out.status = s;
    return out;
  }
  json prev;
  for (size_t i = 0; i < config_.list.plugins.size(); ++i) {
    PluginCall c = Call(i, cni::Command::kAdd, rt, prev.is_null() ? nullptr : &prev);
    absl::Status s = c.status;
    if (s.ok()) prev = json::parse(c.exec.stdout_data, nullptr, false);
    out.calls.push_back(std::move(c));
    if (!s.ok()) {
      out.status = s;
      // A runtime tears down a sandbox whose network setup failed: DEL releases what the plugins
      // before this one (and this one, partly) took. Its own errors are in the calls.
      ChainOutcome del = Del(rt);
      for (PluginCall& d : del.calls) out.calls.push_back(std::move(d));
      return out;
    }
  }
  out.result = prev;
  out.status = WriteFileAtomic(CachePath(rt), cni::SerializeCache(cni::NewCacheEntry(
                                                  config_.list.name, config_.conf_text, rt, prev)));
  if (!out.status.ok()) {
    // Without its cache entry no later DEL would find this attachment: undo it now, as for a failed
    // plugin.
    ChainOutcome del = Del(rt);
    for (PluginCall& d : del.calls) out.calls.push_back(std::move(d));
  }
  return out;
}

ChainOutcome CniNode::Del(const cni::RuntimeConf& rt) {
  return TraceChain(config_.node, cni::Command::kDel, rt, [&] { return RunDel(rt); });
}

ChainOutcome CniNode::RunDel(const cni::RuntimeConf& rt) {
  ChainOutcome out;
  absl::StatusOr<json> cached = CachedResult(rt);
  const json* prev =
      cached.ok() && !cached->is_null() && cni::DelGetsPrevResult(version_) ? &*cached : nullptr;
  for (size_t i = config_.list.plugins.size(); i-- > 0;) {
    PluginCall c = Call(i, cni::Command::kDel, rt, prev);
    absl::Status s = c.status;
    out.calls.push_back(std::move(c));
    if (!s.ok()) {
      out.status = s;
      return out;
    }
  }
  ::unlink(CachePath(rt).c_str());
  return out;
}

// Every plugin in order; the first error is the outcome's. libcni stops at it for CHECK and STATUS,
// and runs every plugin for GC (joining the errors) and VERSION (each asked on its own).
ChainOutcome CniNode::RunEach(cni::Command command, const cni::RuntimeConf& rt, const json* prev,
                              const std::vector<cni::Attachment>* valid, bool stop_at_error) {
  ChainOutcome out;
  for (size_t i = 0; i < config_.list.plugins.size(); ++i) {
    PluginCall c = Call(i, command, rt, prev, valid);
    absl::Status s = c.status;
    out.calls.push_back(std::move(c));
    if (!s.ok() && out.status.ok()) out.status = s;
    if (!s.ok() && stop_at_error) break;
  }
  return out;
}

ChainOutcome CniNode::Check(const cni::RuntimeConf& rt) {
  return TraceChain(config_.node, cni::Command::kCheck, rt, [&] { return RunCheck(rt); });
}

ChainOutcome CniNode::RunCheck(const cni::RuntimeConf& rt) {
  // libcni CheckNetworkList: a version without CHECK is an error (a pass that checked nothing would
  // mislead), then disableCheck means nothing to do.
  if (!cni::SupportsCheck(version_)) {
    ChainOutcome out;
    out.status =
        absl::FailedPreconditionError(StrCat("CHECK: configuration version \"", version_,
                                             "\" does not support the CHECK command (0.4.0+)"));
    return out;
  }
  if (config_.list.disable_check) return {};
  absl::StatusOr<json> cached = CachedResult(rt);
  if (!cached.ok()) {
    ChainOutcome out;
    out.status =
        absl::FailedPreconditionError(StrCat("CHECK: no cached ADD result for ", rt.container_id,
                                             "/", rt.ifname, " (", cached.status().message(), ")"));
    return out;
  }
  return RunEach(cni::Command::kCheck, rt, &*cached, nullptr, true);
}

ChainOutcome CniNode::Status() {
  if (!cni::SupportsStatusAndGc(version_)) {
    ChainOutcome out;
    out.status = absl::UnimplementedError(
        StrCat("STATUS: the chain runs at CNI ", version_, "; STATUS came with 1.1.0"));
    return out;
  }
  return RunEach(cni::Command::kStatus, {}, nullptr, nullptr, true);
}

ChainOutcome CniNode::Gc(const std::vector<cni::Attachment>& valid) {
  if (!cni::SupportsStatusAndGc(version_)) {
    ChainOutcome out;
    out.status = absl::UnimplementedError(
        StrCat("GC: the chain runs at CNI ", version_, "; GC came with 1.1.0"));
    return out;
  }
  if (config_.list.disable_gc) return {};
  return RunEach(cni::Command::kGc, {}, nullptr, &valid, false);
}

ChainOutcome CniNode::Version() {
  return RunEach(cni::Command::kVersion, {}, nullptr, nullptr, false);
}

// --- pods ----------------------------------------------------------------------------------------

cni::RuntimeConf PodRuntimeConf(const config::ClusterSpec& spec, const config::PodSpec& pod) {
  cni::RuntimeConf rt = cni::PodRuntimeConf(pod.name, pod.netns, spec.nodes[pod.node].cni.ifname);
  for (const auto& kv : pod.cni.args) rt.args.push_back(kv);
  json caps = json::object();
  if (!pod.cni.port_mappings.empty()) {
    json pm = json::array();
    for (const config::PortMappingSpec& m : pod.cni.port_mappings) {
      json e = {
          {"hostPort", m.host_port}, {"containerPort", m.container_port}, {"protocol", m.protocol}};
      if (!m.host_ip.empty()) e["hostIP"] = m.host_ip;
      pm.push_back(e);
    }
    caps["portMappings"] = pm;
  }
  if (pod.cni.bandwidth) {
    json b = json::object();
    const config::BandwidthSpec& bw = *pod.cni.bandwidth;
    if (bw.ingress_rate) b["ingressRate"] = bw.ingress_rate;
    if (bw.ingress_burst) b["ingressBurst"] = bw.ingress_burst;
    if (bw.egress_rate) b["egressRate"] = bw.egress_rate;
    if (bw.egress_burst) b["egressBurst"] = bw.egress_burst;
    caps["bandwidth"] = b;
  }
  if (!pod.cni.ips.empty()) caps["ips"] = pod.cni.ips;
  if (!pod.cni.mac.empty()) caps["mac"] = pod.cni.mac;
  rt.capability_args = caps;
  return rt;
}

absl::StatusOr<PodAddress> PodAddressFromResult(const json& result, const std::string& ifname) {
  absl::StatusOr<cni::Result> r = cni::ParseResult(
      result.dump(), result.contains("cniVersion") && result["cniVersion"].is_string()
                         ? result["cniVersion"].get<std::string>()
                         : std::string("1.0.0"));
  if (!r.ok()) return r.status();
  PodAddress out;
  for (const cni::IpConfig& ip : r->ips) {
    if (ip.address.find(':') != std::string::npos) continue;  // IPv4 only: the lab's Services are
    if (ip.interface) {
      if (*ip.interface < 0 || *ip.interface >= static_cast<int>(r->interfaces.size())) continue;
      const cni::Interface& itf = r->interfaces[*ip.interface];
      if (itf.sandbox.empty() || itf.name != ifname) continue;
      out.mac = itf.mac;
    }
    size_t slash = ip.address.find('/');
    out.ip = ip.address.substr(0, slash);
    out.prefix_len = slash == std::string::npos ? 32 : std::atoi(ip.address.c_str() + slash + 1);
    return out;
  }
  return absl::NotFoundError(StrCat("the ADD result gives no IPv4 address on ", ifname));
}

}  // namespace mkn::vnet
