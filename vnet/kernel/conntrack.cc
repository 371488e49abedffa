#include "vnet/kernel/conntrack.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <netinet/in.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "lib/status/status.h"
#include "lib/strings/str_cat.h"
#include "lib/strings/view.h"
#include "vnet/kernel/errors.h"
#include "vnet/kernel/netlink_msg.h"

namespace mkn::vnet {

std::vector<KernelFlow> ParseNfConntrack(std::string_view text) {
  std::vector<KernelFlow> out;
  for (absl::string_view line : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    std::vector<absl::string_view> w = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    // ipv4 2 tcp 6 117 TIME_WAIT src=.. dst=.. sport=.. dport=.. [packets=.. bytes=..] src=.. ...
    if (w.size() < 6 || w[0] != "ipv4") continue;
    KernelFlow f;
    f.protocol = std::string(w[2]);
    (void)absl::SimpleAtoi(w[4], &f.expires_s);
    int tuple = 0;  // 0: original, 1: reply
    int seen_src = 0;
    for (size_t i = 5; i < w.size(); ++i) {
      absl::string_view t = w[i];
      size_t eq = t.find('=');
      if (eq == absl::string_view::npos) {
        if (i == 5 && t[0] != '[') f.state = std::string(t);
        continue;
      }
      absl::string_view k = t.substr(0, eq), v = t.substr(eq + 1);
      if (k == "src") tuple = seen_src++ == 0 ? 0 : 1;
      auto ip = [&]() { return net::Ipv4::Parse(std::string(v)).value_or(net::Ipv4{}); };
      uint32_t port = 0;
      if (k == "src") (tuple ? f.reply_src : f.orig_src) = ip();
      if (k == "dst") (tuple ? f.reply_dst : f.orig_dst) = ip();
      if (k == "sport" && absl::SimpleAtoi(v, &port))
        (tuple ? f.reply_sport : f.orig_sport) = static_cast<uint16_t>(port);
      if (k == "dport" && absl::SimpleAtoi(v, &port))
        (tuple ? f.reply_dport : f.orig_dport) = static_cast<uint16_t>(port);
      // ICMP echo: its identifier, which a masquerade may change as it would a port, stands for
      // both ports (lib/trace's Flow does the same).
      if (k == "id" && absl::SimpleAtoi(v, &port)) {
        (tuple ? f.reply_sport : f.orig_sport) = static_cast<uint16_t>(port);
        (tuple ? f.reply_dport : f.orig_dport) = static_cast<uint16_t>(port);
      }
      uint64_t n = 0;
      if (k == "packets" && absl::SimpleAtoi(v, &n)) f.packets += n;
      if (k == "bytes" && absl::SimpleAtoi(v, &n)) f.bytes += n;
    }
    out.push_back(std::move(f));
  }
  return out;
}

absl::StatusOr<std::vector<KernelFlow>> ListKernelFlows() {
  std::ifstream in("/proc/thread-self/net/nf_conntrack");
  if (!in)
    return absl::UnavailableError(
        "no /proc/net/nf_conntrack in this netns (is nf_conntrack loaded?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseNfConntrack(ss.str());
}

absl::StatusOr<std::map<std::string, uint64_t>> ParseProcStatTable(std::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(AsAbsl(text), '\n', absl::SkipWhitespace());
  if (lines.empty()) return absl::InvalidArgumentError("no header line");
  const std::vector<absl::string_view> names =
      absl::StrSplit(lines[0], ' ', absl::SkipWhitespace());
  std::map<std::string, uint64_t> sum;
  for (absl::string_view n : names) sum[std::string(n)] = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<absl::string_view> v = absl::StrSplit(lines[i], ' ', absl::SkipWhitespace());
    if (v.size() != names.size()) {
      return absl::InvalidArgumentError(
          StrCat("line ", i + 1, ": ", v.size(), " values under ", names.size(), " names"));
    }
    for (size_t c = 0; c < v.size(); ++c) {
      uint64_t x = 0;
      if (!absl::SimpleHexAtoi(v[c], &x)) {
        return absl::InvalidArgumentError(
            StrCat("line ", i + 1, ": \"", AsStd(v[c]), "\" is not a hexadecimal count"));
      }
      sum[std::string(names[c])] += x;
    }
  }
  return sum;
}

absl::StatusOr<std::map<std::string, uint64_t>> ParseSnmpSection(std::string_view text,
                                                                 std::string_view section) {
  const std::string prefix = StrCat(section, ":");
  std::vector<std::vector<absl::string_view>> rows;
  for (absl::string_view line : absl::StrSplit(AsAbsl(text), '\n')) {
    std::vector<absl::string_view> w = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (!w.empty() && w[0] == prefix) rows.push_back(std::move(w));
  }
  if (rows.size() != 2 || rows[0].size() != rows[1].size()) {
    return absl::InvalidArgumentError(
        StrCat("want a line of ", section, " names and one of values"));
  }
  std::map<std::string, uint64_t> out;
  for (size_t i = 1; i < rows[0].size(); ++i) {
    uint64_t x = 0;
    if (absl::SimpleAtoi(rows[1][i], &x)) out[std::string(rows[0][i])] = x;
  }
  return out;
}

namespace {

// A small /proc file whole; NotFound (with the path) if it cannot be opened.
absl::StatusOr<std::string> ReadProc(const char* path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(StrCat("no ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `key` of `counters`, read from `file`: Internal if the kernel printed no such counter.
absl::Status Take(const std::map<std::string, uint64_t>& counters, const std::string& key,
                  std::string_view file, uint64_t& out) {
  auto it = counters.find(key);
  if (it == counters.end()) return absl::InternalError(StrCat(file, ": no counter ", key));
  out = it->second;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<KernelCounters> ReadKernelCounters() {
  KernelCounters k;
  // /proc/sys answers for the netns of the thread that opens it; /proc/net (self/net) would
  // answer for the process's main thread's, hence thread-self.
  absl::StatusOr<std::string> count = ReadProc("/proc/sys/net/netfilter/nf_conntrack_count");
  if (!count.ok()) {
    return absl::UnavailableError(
        "no /proc/sys/net/netfilter/nf_conntrack_count in this netns (is nf_conntrack loaded?)");
  }
  MKN_ASSIGN_OR_RETURN(std::string max, ReadProc("/proc/sys/net/netfilter/nf_conntrack_max"));
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*count), &k.conntrack_entries) ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(max), &k.conntrack_max)) {
    return absl::InternalError(
        StrCat("nf_conntrack_count/_max: want counts, got \"", *count, "\", \"", max, "\""));
  }
  constexpr std::string_view kStat = "/proc/net/stat/nf_conntrack";
  MKN_ASSIGN_OR_RETURN(std::string stat_text, ReadProc("/proc/thread-self/net/stat/nf_conntrack"));
  absl::StatusOr<std::map<std::string, uint64_t>> stat = ParseProcStatTable(stat_text);
  if (!stat.ok()) return absl::InternalError(StrCat(kStat, ": ", stat.status().message()));
  MKN_RETURN_IF_ERROR(Take(*stat, "early_drop", kStat, k.conntrack_early_drop));
  MKN_RETURN_IF_ERROR(Take(*stat, "drop", kStat, k.conntrack_drop));
  MKN_RETURN_IF_ERROR(Take(*stat, "insert_failed", kStat, k.conntrack_insert_failed));
  constexpr std::string_view kSnmp = "/proc/net/snmp";
  MKN_ASSIGN_OR_RETURN(std::string snmp_text, ReadProc("/proc/thread-self/net/snmp"));
  absl::StatusOr<std::map<std::string, uint64_t>> ip = ParseSnmpSection(snmp_text, "Ip");
  if (!ip.ok()) return absl::InternalError(StrCat(kSnmp, ": ", ip.status().message()));
  MKN_RETURN_IF_ERROR(Take(*ip, "ReasmReqds", kSnmp, k.ip_reasm_reqds));
  MKN_RETURN_IF_ERROR(Take(*ip, "ReasmOKs", kSnmp, k.ip_reasm_oks));
  MKN_RETURN_IF_ERROR(Take(*ip, "ReasmFails", kSnmp, k.ip_reasm_fails));
  MKN_RETURN_IF_ERROR(Take(*ip, "InDiscards", kSnmp, k.ip_in_discards));
  return k;
}

absl::StatusOr<int> DeleteKernelFlowsTo(net::Ipv4 endpoint) {
  absl::StatusOr<std::vector<KernelFlow>> flows = ListKernelFlows();
  if (!flows.ok()) return flows.status();
  mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == nullptr) return KernelError(errno, "open NETLINK_NETFILTER");
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    int e = errno;
    mnl_socket_close(nl);
    return KernelError(e, "bind NETLINK_NETFILTER");
  }
  const uint32_t portid = mnl_socket_get_portid(nl);
  int deleted = 0;
  uint32_t seq = 1;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  for (const KernelFlow& f : *flows) {
    if (f.reply_src != endpoint) continue;
    uint8_t proto = f.protocol == "tcp" ? IPPROTO_TCP : f.protocol == "udp" ? IPPROTO_UDP : 0;
    if (proto == 0) continue;  // ICMP and others expire on their own within seconds
    NlBytes msg = BuildCtDelete({proto, f.orig_src, f.orig_dst, f.orig_sport, f.orig_dport});
    const uint32_t sent_seq = seq++;
    SetSequence(msg, sent_seq);
    absl::Status failed;
    if (mnl_socket_sendto(nl, msg.data(), msg.size()) < 0) {
      failed = KernelError(errno, "conntrack delete: send",
                           "need CAP_NET_ADMIN: run as root or with sudo");
    } else {
      int n = static_cast<int>(mnl_socket_recvfrom(nl, buf, sizeof(buf)));
      if (n < 0) {
        failed = KernelError(errno, "conntrack delete: receive");
      } else if (mnl_cb_run(buf, n, sent_seq, portid, nullptr, nullptr) >= 0) {
        ++deleted;
      } else if (errno != ENOENT) {  // ENOENT: it expired meanwhile, which is as good
        failed = KernelError(errno,
                             StrCat("conntrack delete ", f.orig_src.ToString(), ":", f.orig_sport,
                                    " -> ", f.orig_dst.ToString(), ":", f.orig_dport),
                             "need CAP_NET_ADMIN: run as root or with sudo");
      }
    }
    if (!failed.ok()) {
      mnl_socket_close(nl);
      return failed;
    }
  }
  mnl_socket_close(nl);
  return deleted;
}

}  // namespace mkn::vnet
