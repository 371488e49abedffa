// vnet/kernel/process: the stop signals, blocked and seen pending (no children, no root).
#include "vnet/kernel/process.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <ctime>

namespace mkn::vnet {
namespace {

TEST(StopSignals, AreIntTermHupAndWhatIsAdded) {
  sigset_t s = StopSignals();
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) EXPECT_EQ(sigismember(&s, sig), 1) << sig;
  EXPECT_EQ(sigismember(&s, SIGCHLD), 0);
  s = StopSignals({SIGCHLD});
  EXPECT_EQ(sigismember(&s, SIGCHLD), 1);
}

// Blocked, a SIGTERM stays pending for the thread to take, and StopSignalPending sees it; SIGCHLD
// (blocked too, as `up` does) is not a request to stop.
TEST(StopSignals, BlockedOnesStayPendingAndAreSeen) {
  sigset_t old;
  ASSERT_EQ(pthread_sigmask(SIG_SETMASK, nullptr, &old), 0);
  const sigset_t blocked = BlockStopSignals({SIGCHLD});
  EXPECT_FALSE(StopSignalPending());
  ASSERT_EQ(raise(SIGCHLD), 0);
  EXPECT_FALSE(StopSignalPending());
  ASSERT_EQ(raise(SIGTERM), 0);
  EXPECT_TRUE(StopSignalPending());
  // Take both, so that restoring the mask delivers nothing.
  const timespec none{0, 0};
  for (int i = 0; i < 2; ++i) {
    const int sig = sigtimedwait(&blocked, nullptr, &none);
    EXPECT_TRUE(sig == SIGTERM || sig == SIGCHLD) << sig;
  }
  EXPECT_FALSE(StopSignalPending());
  ASSERT_EQ(pthread_sigmask(SIG_SETMASK, &old, nullptr), 0);
}

}  // namespace
}  // namespace mkn::vnet
