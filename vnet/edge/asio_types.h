// vnet/edge/asio_types — the Asio and Beast types every part of the edge is written with (internal
// to vnet/edge: nothing outside it includes this).
//
// Every io thread runs an io_context of its own (a Worker, vnet/edge/server_state.h), so everything
// in the edge is typed with that io_context's executor rather than asio::any_io_executor: the
// type-erased executor was copied, moved and destroyed through function pointers at every operation
// and coroutine step (about 2 k instructions per request in callgrind), and a strand per connection
// was needed with several threads. Contract: a Socket, Timer or coroutine made with a worker's
// executor is used by that worker's thread alone.
#pragma once

#include <chrono>
#include <cstddef>

#include "vnet/kernel/asio.h"  // asio, beast, http, tcp: mkn::vnet's names for them

namespace mkn::vnet::edge_internal {

using Executor = asio::io_context::executor_type;
template <class T = void>
using awaitable = asio::awaitable<T, Executor>;
inline constexpr asio::use_awaitable_t<Executor> use_awaitable;
using Socket = tcp::socket::rebind_executor<Executor>::other;
using Acceptor = tcp::acceptor::rebind_executor<Executor>::other;
using TcpStream = beast::basic_stream<tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;

// What bodies pass through at a time, both ways, and what a client's read buffer holds (64 KiB).
inline constexpr size_t kChunk = 64 * 1024;
// At least what one receive from a backend asks for.
inline constexpr size_t kUpstreamRead = 16 * 1024;

}  // namespace mkn::vnet::edge_internal
