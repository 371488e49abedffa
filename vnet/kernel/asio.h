// vnet/kernel/asio — Boost.Asio and Beast as the rooms that serve sockets (vnet/apps, vnet/edge)
// include them, and the short names they write them with, defined once for all of mkn::vnet.
//
// Header-only (Boost 1.74); a target that includes it links Boost::system. It sits in vnet/kernel,
// below every room that uses it, because the rooms may include only the rooms below them.
#pragma once

#include <utility>

// After <utility>: Asio 1.74's awaitable.hpp uses std::exchange without including it.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace mkn::vnet {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;

}  // namespace mkn::vnet
