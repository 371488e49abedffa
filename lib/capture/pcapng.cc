// lib/capture/pcapng — block layouts of draft-ietf-opsawg-pcapng §4 (blocks) and §3.5 (options).
#include "lib/capture/pcapng.h"

#include <cstddef>

namespace mkn::capture {
namespace {

constexpr uint32_t kSectionHeader = 0x0A0D0D0A;
constexpr uint32_t kInterfaceDescription = 0x00000001;
constexpr uint32_t kInterfaceStatistics = 0x00000005;
constexpr uint32_t kEnhancedPacket = 0x00000006;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;

constexpr uint16_t kOptEnd = 0;
constexpr uint16_t kOptComment = 1;
constexpr uint16_t kShbOs = 3;
constexpr uint16_t kShbUserAppl = 4;
constexpr uint16_t kIfName = 2;
constexpr uint16_t kIfDescription = 3;
constexpr uint16_t kIfTsresol = 9;
constexpr uint16_t kIfFilter = 11;
constexpr uint16_t kEpbFlags = 2;
constexpr uint16_t kIsbStartTime = 2;
constexpr uint16_t kIsbEndTime = 3;
constexpr uint16_t kIsbIfRecv = 4;
constexpr uint16_t kIsbIfDrop = 5;

void Put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}
void Put32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void Put64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
// A timestamp as the format stores it: upper 32 bits first, then lower 32 bits.
void PutTimestamp(std::string& out, uint64_t ns) {
  Put32(out, static_cast<uint32_t>(ns >> 32));
  Put32(out, static_cast<uint32_t>(ns & 0xffffffff));
}
void Pad(std::string& out) {
  while (out.size() % 4 != 0) out.push_back('\0');
}
void PutOption(std::string& out, uint16_t code, std::string_view value) {
  Put16(out, code);
  Put16(out, static_cast<uint16_t>(value.size()));
  out.append(value);
  Pad(out);
}
void PutOption32(std::string& out, uint16_t code, uint32_t v) {
  Put16(out, code);
  Put16(out, 4);
  Put32(out, v);
}
void PutOption64(std::string& out, uint16_t code, uint64_t v) {
  Put16(out, code);
  Put16(out, 8);
  Put64(out, v);
}
void PutOptionTimestamp(std::string& out, uint16_t code, uint64_t ns) {
  Put16(out, code);
  Put16(out, 8);
  PutTimestamp(out, ns);
}
void PutEndOfOptions(std::string& out) {
  Put16(out, kOptEnd);
  Put16(out, 0);
}

// A block is built in `block` from its body; Finish adds type, both total lengths and appends.
// Option values longer than a 16-bit length are cut: an if_description or comment never is.
std::string_view Clip(std::string_view s) { return s.substr(0, 0xfff0); }

void Finish(std::string& out, uint32_t type, const std::string& body) {
  const uint32_t total = static_cast<uint32_t>(body.size() + 12);
  Put32(out, type);
  Put32(out, total);
  out.append(body);
  Put32(out, total);
}

}  // namespace

void AppendSectionHeader(std::string& out, std::string_view application, std::string_view os) {
  std::string b;
  Put32(b, kByteOrderMagic);
  Put16(b, 1);  // major
  Put16(b, 0);  // minor
  Put64(b, ~uint64_t{0});
  if (!os.empty() || !application.empty()) {
    if (!os.empty()) PutOption(b, kShbOs, Clip(os));
    if (!application.empty()) PutOption(b, kShbUserAppl, Clip(application));
    PutEndOfOptions(b);
  }
  Finish(out, kSectionHeader, b);
}

void AppendInterfaceDescription(std::string& out, const InterfaceDescription& idb) {
  std::string b;
  Put16(b, idb.link_type);
  Put16(b, 0);  // reserved
  Put32(b, idb.snaplen);
  if (!idb.name.empty()) PutOption(b, kIfName, Clip(idb.name));
  if (!idb.description.empty()) PutOption(b, kIfDescription, Clip(idb.description));
  PutOption(b, kIfTsresol, std::string_view("\x09", 1));  // 10^-9 s
  if (!idb.filter.empty()) {
    // if_filter: a first byte says what kind; 0 is a libpcap filter string.
    PutOption(b, kIfFilter, Clip(std::string(1, '\0') + idb.filter));
  }
  PutEndOfOptions(b);
  Finish(out, kInterfaceDescription, b);
}

void AppendEnhancedPacket(std::string& out, const EnhancedPacket& epb) {
  std::string b;
  b.reserve(epb.data.size() + 64 + epb.comment.size());
  Put32(b, epb.interface_id);
  PutTimestamp(b, epb.timestamp_ns);
  Put32(b, static_cast<uint32_t>(epb.data.size()));
  Put32(b, epb.original_length);
  b.append(reinterpret_cast<const char*>(epb.data.data()), epb.data.size());
  Pad(b);
  const bool flags = epb.direction != Direction::kUnknown || epb.reception != Reception::kUnknown;
  if (flags || !epb.comment.empty()) {
    if (!epb.comment.empty()) PutOption(b, kOptComment, Clip(epb.comment));
    if (flags) {
      PutOption32(
          b, kEpbFlags,
          static_cast<uint32_t>(epb.direction) | (static_cast<uint32_t>(epb.reception) << 2));
    }
    PutEndOfOptions(b);
  }
  Finish(out, kEnhancedPacket, b);
}

void AppendInterfaceStatistics(std::string& out, const InterfaceStatistics& isb) {
  std::string b;
  Put32(b, isb.interface_id);
  PutTimestamp(b, isb.timestamp_ns);
  const bool any =
      !isb.comment.empty() || isb.start_ns || isb.end_ns || isb.received || isb.dropped;
  if (any) {
    if (!isb.comment.empty()) PutOption(b, kOptComment, Clip(isb.comment));
    if (isb.start_ns) PutOptionTimestamp(b, kIsbStartTime, *isb.start_ns);
    if (isb.end_ns) PutOptionTimestamp(b, kIsbEndTime, *isb.end_ns);
    if (isb.received) PutOption64(b, kIsbIfRecv, *isb.received);
    if (isb.dropped) PutOption64(b, kIsbIfDrop, *isb.dropped);
    PutEndOfOptions(b);
  }
  Finish(out, kInterfaceStatistics, b);
}

}  // namespace mkn::capture
