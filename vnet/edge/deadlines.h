// vnet/edge/deadlines — the timeouts of the edge's connections: a Watchdog per client connection
// (its own side and the upstream side of the request in flight), checked by one timer per worker
// (internal to vnet/edge).
//
// Why not Beast's tcp_stream deadlines: tcp_stream arms and cancels a timer around every read and
// write (a timer queue insert, a cancel and an extra completion per operation); here arming is a
// few stores, and Deadlines checks every connection's Watchdog each kTick. A deadline brackets one
// wait: Arm() before, Disarm() after.
//
// Contract: when a deadline has passed, the socket is shut down (shutdown(2) SHUT_RDWR: the pending
// operation then completes with end of stream or an error) and Expired() says so: at most kTick
// late, never early. Everything runs on the connection's worker (one thread), as its coroutine
// does, and touches the socket only through shutdown(2); nothing here locks or fails (no Status).
// A Watchdog must leave its Deadlines (Stop(), or its destructor) before the Deadlines goes.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <optional>

#include "vnet/edge/asio_types.h"

namespace mkn::vnet::edge_internal {

class Deadlines;

// The deadlines of one client connection and of the upstream connection its request uses.
class Watchdog {
 public:
  enum Side { kClient = 0, kUpstream = 1 };
  using Clock = std::chrono::steady_clock;
  explicit Watchdog(Deadlines* d) : deadlines_(d) {}
  ~Watchdog() { Stop(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // `fd` is shut down if this side is still armed `timeout` from now.
  inline void Arm(Side side, int fd, Clock::duration timeout);
  void Disarm(Side side) { fd_[side] = -1; }
  // Whether the last Arm() of this side ran out (and shut its socket down).
  bool Expired(Side side) const { return expired_[side]; }
  // Both sides disarmed, and off the worker's list.
  inline void Stop();

 private:
  friend class Deadlines;
  void Check(Clock::time_point now) {
    for (int s = 0; s < 2; ++s) {
      if (fd_[s] >= 0 && deadline_[s] <= now) {
        expired_[s] = true;
        ::shutdown(fd_[s], SHUT_RDWR);
        fd_[s] = -1;
      }
    }
  }

  Deadlines* deadlines_;
  int fd_[2] = {-1, -1};
  Clock::time_point deadline_[2];
  bool expired_[2] = {false, false};
  // In the worker's list from the first Arm() to Stop().
  bool linked_ = false;
  Watchdog* prev_ = nullptr;
  Watchdog* next_ = nullptr;
};

// A worker's connections' Watchdogs, checked every kTick by one timer while there are any. The
// timer is made by Start() (with the worker's io_context) and goes first (Shutdown(), before the
// io_context); the list outlives the io_context, whose destruction destroys the coroutine frames
// whose Watchdogs then leave it.
class Deadlines {
 public:
  static constexpr std::chrono::milliseconds kTick{100};
  void Start(const Executor& ex) { timer_.emplace(ex); }
  void Add(Watchdog* w) {
    w->linked_ = true;
    w->prev_ = nullptr;
    w->next_ = head_;
    if (head_ != nullptr) head_->prev_ = w;
    head_ = w;
    if (!waiting_ && timer_) Wait();
  }
  void Remove(Watchdog* w) {
    if (w->prev_ != nullptr) w->prev_->next_ = w->next_;
    if (w->next_ != nullptr) w->next_->prev_ = w->prev_;
    if (head_ == w) head_ = w->next_;
    if (next_ == w) next_ = w->next_;  // removed while Tick() walks the list
    w->linked_ = false;
    w->prev_ = w->next_ = nullptr;
  }
  void Shutdown() { timer_.reset(); }

 private:
  // Once per kTick at most (and when the first Watchdog comes): out of line.
  void Wait();
  void Tick();

  std::optional<Timer> timer_;
  Watchdog* head_ = nullptr;
  Watchdog* next_ = nullptr;
  bool waiting_ = false;
};

void Watchdog::Arm(Side side, int fd, Clock::duration timeout) {
  fd_[side] = fd;
  deadline_[side] = Clock::now() + timeout;
  expired_[side] = false;
  if (!linked_) deadlines_->Add(this);
}

void Watchdog::Stop() {
  fd_[0] = fd_[1] = -1;
  if (linked_) deadlines_->Remove(this);
}

}  // namespace mkn::vnet::edge_internal
