// vnet/edge/conn_buffers — the buffers one client connection reads and writes through, and the
// per-worker pool they come from (internal to vnet/edge).
//
// Why a pool: allocated and freed per connection, the 144 KiB made every new connection pay for
// malloc's large-chunk path (and a consolidation of its free lists on each free):
// docs/BENCHMARKS.md, "ingress", round 4.
//
// Contract: a connection takes a set when it starts (BufferLease) and gives it back when it ends;
// the buffers of a set given back are empty (no bytes of one connection reach the next; the field
// lists are cleared by the next ViewParser) and keep their capacity.
// A BufferPool is used by its worker's thread alone (and by Stop() after the threads end): no
// lock. Nothing here fails but allocation.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lib/ingress/forwarding.h"
#include "vnet/edge/asio_types.h"

namespace mkn::vnet::edge_internal {

struct ConnBuffers {
  // Beast reads max(512, free capacity) bytes at a time: an empty buffer makes a response of more
  // than 512 bytes take two receives (strace showed 3 successful receives per request where 2 are
  // needed), and a body relayed through it go 512 bytes per receive.
  beast::flat_buffer buf;                           // from the client
  std::unique_ptr<char[]> chunk{new char[kChunk]};  // bodies pass through it, both ways
  std::string out;           // a whole message on its way out (ProxySession's fast paths)
  beast::flat_buffer upbuf;  // the upstream's response; empty between requests
  std::vector<ingress::HeaderView> req_fields, resp_fields;  // ViewParser's (their capacity stays)
  std::string path;  // a request's normalized path, when it differs (lib/ingress/request_head)
  ConnBuffers() {
    buf.reserve(kChunk);
    upbuf.reserve(kUpstreamRead);
  }
};

class BufferPool {
 public:
  static constexpr size_t kSpare =
      16;  // sets kept for the next connections (2.3 MiB a worker at most)
  std::unique_ptr<ConnBuffers> Take() {
    if (spare_.empty()) return std::make_unique<ConnBuffers>();
    std::unique_ptr<ConnBuffers> b = std::move(spare_.back());
    spare_.pop_back();
    return b;
  }
  void Give(std::unique_ptr<ConnBuffers> b) {
    b->buf.clear();
    b->upbuf.clear();
    b->out.clear();
    if (spare_.size() < kSpare) spare_.push_back(std::move(b));
  }
  size_t spare() const { return spare_.size(); }

 private:
  std::vector<std::unique_ptr<ConnBuffers>> spare_;
};

// A connection's buffers, back to the pool when the connection's coroutine ends (or is destroyed
// by Stop).
struct BufferLease {
  BufferPool* pool;
  std::unique_ptr<ConnBuffers> b;
  explicit BufferLease(BufferPool* p) : pool(p), b(p->Take()) {}
  BufferLease(const BufferLease&) = delete;
  BufferLease& operator=(const BufferLease&) = delete;
  ~BufferLease() { pool->Give(std::move(b)); }
};

}  // namespace mkn::vnet::edge_internal
