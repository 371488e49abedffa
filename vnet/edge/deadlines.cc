#include "vnet/edge/deadlines.h"

namespace mkn::vnet::edge_internal {

void Deadlines::Wait() {
  waiting_ = true;
  timer_->expires_after(kTick);
  timer_->async_wait([this](const beast::error_code& ec) {
    waiting_ = false;
    if (!ec) Tick();
  });
}

void Deadlines::Tick() {
  const Watchdog::Clock::time_point now = Watchdog::Clock::now();
  for (Watchdog* w = head_; w != nullptr; w = next_) {
    next_ = w->next_;
    w->Check(now);  // shutdown(2) only: the coroutine runs later, so nothing leaves the list here
  }
  next_ = nullptr;
  if (head_ != nullptr && timer_) Wait();
}

}  // namespace mkn::vnet::edge_internal
