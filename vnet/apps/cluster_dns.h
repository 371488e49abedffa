// vnet/apps/cluster_dns — the cluster DNS (kube-system/coredns) of the AppServer (internal to
// vnet/apps): lib/dns's answers over UDP and TCP port 53 from the zone DnsShared holds, and the
// relay of a Forwarder's names from a socket in the DNS pod. apps.cc picks these servers for an
// app of kind `cluster-dns`; everything here runs on the AppServer's io thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "lib/dns/answer.h"
#include "lib/dns/zone.h"
#include "vnet/apps/app_types.h"
#include "vnet/kernel/asio.h"  // asio

namespace mkn::vnet::apps_internal {

class DnsRelay;

// What the DNS listeners share with the AppServer: the zone (swapped whole when the lab changes,
// read per query) and the counters.
struct DnsShared {
  mutable std::mutex mu;
  std::shared_ptr<const dns::Zone> zone = std::make_shared<const dns::Zone>();
  // The relay to the zone's forwarders (io thread only: set by Serve, used by the listeners). Weak:
  // the listeners own it, so its socket goes before the io_context (Impl destroys `io` before
  // `dns`).
  std::weak_ptr<DnsRelay> relay;
  dns::Counters counters;
  std::chrono::steady_clock::time_point last_drop_log{};
  uint64_t drops_unlogged = 0;

  std::shared_ptr<const dns::Zone> Zone() const {
    std::lock_guard<std::mutex> l(mu);
    return zone;
  }
  // Counts the reply; a drop is logged at most once a second (untrusted input: rate-limited).
  void Count(const dns::Reply& r, AppLog& log, const std::string& peer);
  // A TCP connection closed by the bounds: an idle one for a newer one, or the newer one.
  void CountTcpEvicted() {
    std::lock_guard<std::mutex> l(mu);
    ++counters.tcp_evicted;
  }
  void CountTcpRefused() {
    std::lock_guard<std::mutex> l(mu);
    ++counters.tcp_refused;
  }
};

// The servers over the sockets the applier opened in the DNS pod (`fd` is adopted: the returned
// object owns it). Each is started before it is returned; Close() ends it. They throw Asio's
// boost::system::system_error if the socket cannot be taken, which AppServer::Serve turns into a
// Status (no exception leaves vnet/apps).
//   relay: the Forwarder relay on an unconnected UDP socket; becomes `shared.relay`.
std::shared_ptr<Closable> StartDnsRelay(asio::io_context& io, int fd, DnsShared& shared);
//   UDP port 53: one answer per datagram, back to its sender.
std::shared_ptr<Closable> StartClusterDnsUdp(asio::io_context& io, int fd,
                                             std::shared_ptr<AppInfo> info,
                                             std::shared_ptr<DnsShared> shared);
//   TCP port 53 (RFC 7766), its clients bounded; the sessions are tracked in `info`.
std::shared_ptr<Closable> StartClusterDnsTcp(asio::io_context& io, int fd,
                                             std::shared_ptr<AppInfo> info,
                                             std::shared_ptr<DnsShared> shared);

}  // namespace mkn::vnet::apps_internal
