// lib/world/dns — the world's DNS: authoritative for example.test, nothing else.
//
// Respond() takes a query's bytes (parsed with lib/dns's ldns-backed message code) and returns
// the response's bytes: A records for the world's names (world.h's Lookup), NODATA (NOERROR, no
// answer, the SOA in authority) for another type of an existing name, NXDOMAIN (with the SOA) for
// a name under example.test the world does not have, REFUSED for every name outside it (the world
// is no recursive resolver), NOTIMP for opcodes other than QUERY. Over UDP a response longer than
// 512 bytes (or the query's EDNS size) is truncated (TC) so the client retries over TCP. What is
// not a well-formed query is not answered (nullopt), as lib/dns's resolver drops it. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "lib/config/spec.h"

namespace mkn::world {

// Seconds on every record: long enough for a cache to matter, short for a lab that changes.
inline constexpr uint32_t kDnsTtl = 60;

std::optional<std::vector<uint8_t>> RespondDns(const config::WorldSpec& world,
                                               std::span<const uint8_t> query, bool tcp);

}  // namespace mkn::world
