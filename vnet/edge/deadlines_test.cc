// vnet/edge/deadlines: a Watchdog cuts its socket (shutdown(2)) at most one tick after its deadline
// and never before; a disarmed or stopped one never does; one timer per worker serves every
// connection and stops when none is armed. Over socketpairs and an io_context run by the test.
#include "vnet/edge/deadlines.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>

namespace mkn::vnet::edge_internal {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kDeadline{3000};  // no single wait in a test may take longer
// What a loaded machine may add to a tick before the check runs.
constexpr milliseconds kSlack{500};

// A connected pair of stream sockets: shutdown(2) of `a` is end of stream at `b`.
class Pair {
 public:
  Pair() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    a = sv[0];
    b = sv[1];
  }
  ~Pair() {
    ::close(a);
    ::close(b);
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;

  // Whether `a` was shut down: `b` reads end of stream (nothing is ever sent on the pair).
  bool Cut() const {
    char c;
    return ::recv(b, &c, 1, MSG_DONTWAIT) == 0;
  }

  int a = -1, b = -1;
};

// A worker's timer and io_context, as in the server (Deadlines goes before the io_context).
class DeadlinesTest : public ::testing::Test {
 protected:
  DeadlinesTest() { deadlines_.Start(io_.get_executor()); }
  ~DeadlinesTest() override { deadlines_.Shutdown(); }

  // Runs the io_context until `done` or kDeadline; returns the time it took.
  Clock::duration RunUntil(const std::function<bool()>& done) {
    const Clock::time_point start = Clock::now();
    while (!done() && Clock::now() - start < kDeadline) io_.run_one_for(milliseconds(10));
    return Clock::now() - start;
  }
  // Runs the io_context for `d` (the timer ticks meanwhile).
  void RunFor(milliseconds d) {
    const Clock::time_point end = Clock::now() + d;
    while (Clock::now() < end) io_.run_one_until(end);
  }

  Deadlines deadlines_;
  asio::io_context io_;
};

TEST_F(DeadlinesTest, ArmedDeadlineCutsTheSocketNotBeforeAndAtMostATickAfter) {
  Pair p;
  Watchdog w(&deadlines_);
  constexpr milliseconds kTimeout{250};
  const Clock::time_point armed = Clock::now();
  w.Arm(Watchdog::kClient, p.a, kTimeout);
  RunUntil([&] { return p.Cut(); });
  const Clock::duration took = Clock::now() - armed;
  EXPECT_TRUE(p.Cut());
  EXPECT_TRUE(w.Expired(Watchdog::kClient));
  EXPECT_FALSE(w.Expired(Watchdog::kUpstream));
  EXPECT_GE(took, kTimeout);
  EXPECT_LT(took, kTimeout + Deadlines::kTick + kSlack);
  // Armed again, the side starts afresh.
  Pair q;
  w.Arm(Watchdog::kClient, q.a, std::chrono::seconds(10));
  EXPECT_FALSE(w.Expired(Watchdog::kClient));
  w.Stop();
}

TEST_F(DeadlinesTest, DisarmedOrStoppedWatchdogsNeverCut) {
  Pair p, q;
  Watchdog w(&deadlines_);
  w.Arm(Watchdog::kUpstream, p.a, milliseconds(50));
  w.Disarm(Watchdog::kUpstream);
  Watchdog v(&deadlines_);
  v.Arm(Watchdog::kClient, q.a, milliseconds(50));
  v.Stop();
  RunFor(milliseconds(50) + 3 * Deadlines::kTick);
  EXPECT_FALSE(p.Cut());
  EXPECT_FALSE(q.Cut());
  EXPECT_FALSE(w.Expired(Watchdog::kUpstream));
  EXPECT_FALSE(v.Expired(Watchdog::kClient));
  w.Stop();
}

TEST_F(DeadlinesTest, OneTimerServesEveryConnectionEachOnItsOwnDeadline) {
  Pair p1, p2, p3;
  Watchdog w1(&deadlines_), w2(&deadlines_);
  w1.Arm(Watchdog::kClient, p1.a, milliseconds(100));
  w2.Arm(Watchdog::kClient, p2.a, milliseconds(600));
  w2.Arm(Watchdog::kUpstream, p3.a, milliseconds(100));
  {
    // A connection that ends while armed (its coroutine frame destroyed) leaves the list.
    Pair gone;
    Watchdog w3(&deadlines_);
    w3.Arm(Watchdog::kClient, gone.a, milliseconds(100));
  }
  RunUntil([&] { return p1.Cut() && p3.Cut(); });
  EXPECT_TRUE(p1.Cut());
  EXPECT_TRUE(p3.Cut());
  EXPECT_FALSE(p2.Cut());  // 500 ms to go
  EXPECT_TRUE(w2.Expired(Watchdog::kUpstream));
  EXPECT_FALSE(w2.Expired(Watchdog::kClient));
  RunUntil([&] { return p2.Cut(); });
  EXPECT_TRUE(p2.Cut());
  EXPECT_TRUE(w2.Expired(Watchdog::kClient));
  w1.Stop();
  w2.Stop();
}

TEST_F(DeadlinesTest, TheTimerStopsWhenNoWatchdogIsLeft) {
  Pair p;
  {
    Watchdog w(&deadlines_);
    w.Arm(Watchdog::kClient, p.a, std::chrono::seconds(10));
    RunFor(2 * Deadlines::kTick);  // ticking
  }
  // Nothing else keeps the io_context busy: run() returns once the pending tick has found the list
  // empty.
  const Clock::time_point start = Clock::now();
  io_.restart();
  io_.run();
  EXPECT_LT(Clock::now() - start, Deadlines::kTick + kSlack);
  EXPECT_FALSE(p.Cut());
}

}  // namespace
}  // namespace mkn::vnet::edge_internal
