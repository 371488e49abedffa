// vnet/apps/query_servers — servers that answer each query through a function of its bytes
// (internal to vnet/apps): over UDP (udp-echo: the identity; the world's DNS: lib/world's answers)
// and DNS over TCP (RFC 7766 framing: the world's DNS). Everything here runs on the AppServer's io
// thread, and so does the function.
#pragma once

#include <memory>

#include "vnet/apps/app_types.h"
#include "vnet/apps/apps.h"
#include "vnet/kernel/asio.h"  // asio

namespace mkn::vnet::apps_internal {

// A UDP server on the bound socket `fd` (adopted): each datagram through `answer`, its answer (if
// any) back to the sender. `info` (udp-echo's) lives as long as the socket. Started before it is
// returned; throws Asio's boost::system::system_error if the socket cannot be taken.
std::shared_ptr<Closable> StartUdpServer(asio::io_context& io, int fd, AppServer::DnsAnswer answer,
                                         std::shared_ptr<AppInfo> info = nullptr);
// DNS over TCP on the listening socket `fd` (adopted), each message through `answer`; Close()
// closes the listener and its connections. Throws as StartUdpServer.
std::shared_ptr<Closable> StartTcpDns(asio::io_context& io, int fd, AppServer::DnsAnswer answer);

}  // namespace mkn::vnet::apps_internal
