// vnet/testing/sandbox — test and benchmark mains that put themselves in a throw-away sandbox.
//
// ReexecInSandbox() re-runs the current program under `unshare` in a fresh network + mount + PID
// namespace with private tmpfs on /run/netns and /run/minikube-net (the recipe of ci/sandbox.sh)
// and on /tmp, so a test can never touch the host and every leftover dies with it. It does so
// inside ci/sandbox.sh too: each test (ctest runs one per process, several at once: ci/test.sh)
// gets a sandbox of its own. It returns (does nothing) in the sandbox it made
// (MKN_TEST_SANDBOXED=1), when not privileged, or when gtest only lists tests.
#pragma once

namespace mkn::vnet::testing {

void ReexecInSandbox(int argc, char** argv);

// True when the process may create namespaces (CAP_NET_ADMIN + CAP_SYS_ADMIN) inside a sandbox.
bool Privileged();

// True when CI=true: there a privileged test that would skip is a failure instead.
bool InCi();

}  // namespace mkn::vnet::testing

// In a TEST body: skip without privileges, or fail under CI=true.
#define MKN_REQUIRE_NETNS()                                                                     \
  do {                                                                                          \
    if (!::mkn::vnet::testing::Privileged()) {                                                  \
      if (::mkn::vnet::testing::InCi()) FAIL() << "CI=true but no CAP_NET_ADMIN/CAP_SYS_ADMIN"; \
      GTEST_SKIP() << "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) inside a sandbox";             \
    }                                                                                           \
  } while (0)
