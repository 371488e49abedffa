#include "vnet/edge/server_state.h"

#include <ctime>
#include <exception>
#include <string>

#include "lib/strings/str_cat.h"

namespace mkn::vnet::edge_internal {
namespace {

// The access log's timestamp, formatted once a second per thread (strftime was 1 % of the edge's
// instructions when run for every request).
const char* Now() {
  thread_local std::time_t last = -1;
  thread_local char ts[32];
  std::time_t now = std::time(nullptr);
  if (now != last) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    last = now;
  }
  return ts;
}

}  // namespace

void ServerState::Count(const std::string& route, int status, uint64_t in, uint64_t out) {
  std::lock_guard<std::mutex> l(stats_mu);
  IngressRouteStats& s = stats[route];
  s.route = route;
  ++s.requests;
  int cls = status / 100;
  if (cls >= 1 && cls <= 5) ++s.status[cls];
  s.bytes_in += in;
  s.bytes_out += out;
}

void ServerState::Log(const std::string& line) {
  std::lock_guard<std::mutex> l(log_mu);
  if (log == nullptr) return;
  fputs(Now(), log);
  fputc(' ', log);
  fwrite(line.data(), 1, line.size(), log);
  fputc('\n', log);
  log_dirty = true;  // flushed by FlushLog
}

void RateLimitedLog::Note(ServerState& server, const std::string& line) {
  const auto now = std::chrono::steady_clock::now();
  uint64_t left_out = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (any_ && now - last_ < std::chrono::seconds(1)) {
      ++left_out_;
      return;
    }
    any_ = true;
    last_ = now;
    left_out = std::exchange(left_out_, 0);
  }
  if (left_out == 0) {
    server.Log(line);
  } else {
    server.Log(StrCat(line, " (", left_out, " more like it not logged)"));
  }
}

void ServerState::OnException(std::string_view what, std::exception_ptr e, RateLimitedLog& log) {
  if (!e) return;
  exceptions.fetch_add(1, std::memory_order_relaxed);
  try {
    std::string cause = "an exception of unknown type";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      cause = x.what();
    } catch (...) {
    }
    log.Note(*this, StrCat("edge: ", what, " ended by an exception: ", cause));
  } catch (...) {  // (out of memory for the line: the count is what is left)
  }
}

awaitable<void> ServerState::FlushLog() {
  Timer t(co_await asio::this_coro::executor);
  for (;;) {
    t.expires_after(std::chrono::milliseconds(100));
    beast::error_code ec;
    co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    std::lock_guard<std::mutex> l(log_mu);
    if (log != nullptr && log_dirty) fflush(log);
    log_dirty = false;
  }
}

}  // namespace mkn::vnet::edge_internal
