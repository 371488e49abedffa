#include "vnet/testing/sandbox.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "vnet/kernel/netns.h"

namespace mkn::vnet::testing {

namespace {
// /tmp is private too: tests name their files there after fixed names or getpid(), which is the
// same in every sandbox's PID namespace, and ctest runs several at once (ci/test.sh). A build dir
// under /tmp (a checkout in /tmp/x) would vanish under that tmpfs, the test binary with it: its
// top directory under /tmp is bind-mounted aside (in the sandbox's own /run/minikube-net) first,
// and moved back onto the same path in the new /tmp.
constexpr char kScript[] =
    "set -e; mkdir -p /run/netns /run/minikube-net; "
    "mount -t tmpfs -o mode=755 sandbox-netns /run/netns; "
    "mount -t tmpfs -o mode=755 sandbox-mkn /run/minikube-net; "
    "keep=; case \"$1\" in /tmp/*/*) top=${1#/tmp/}; keep=/tmp/${top%%/*}; "
    "mkdir /run/minikube-net/.keep; mount --bind \"$keep\" /run/minikube-net/.keep;; esac; "
    "mount -t tmpfs -o mode=1777 sandbox-tmp /tmp; "
    "if [ -n \"$keep\" ]; then mkdir -p \"$keep\"; mount --move /run/minikube-net/.keep \"$keep\"; "
    "rmdir /run/minikube-net/.keep; fi; "
    "ip link set lo up; export MKN_IN_SANDBOX=1 MKN_TEST_SANDBOXED=1; exec \"$@\"";
}  // namespace

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::strcmp(ci, "true") == 0;
}

bool Privileged() {
  const char* in = std::getenv("MKN_IN_SANDBOX");
  return in != nullptr && std::strcmp(in, "1") == 0 && HaveNetAdmin();
}

void ReexecInSandbox(int argc, char** argv) {
  // Its own sandbox also inside ci/sandbox.sh (MKN_IN_SANDBOX=1 there): ci/test.sh runs tests in
  // parallel, and two tests in one sandbox would meet in its namespaces and /run/netns. Only the
  // re-executed child itself (MKN_TEST_SANDBOXED, set by kScript) stops here.
  const char* in = std::getenv("MKN_TEST_SANDBOXED");
  if (in != nullptr && std::strcmp(in, "1") == 0) return;
  if (!HaveNetAdmin()) return;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--gtest_list_tests", 18) == 0) return;
  }
  std::vector<const char*> args = {"unshare", "--net",  "--mount",      "--propagation", "private",
                                   "--pid",   "--fork", "--kill-child", "--mount-proc",  "--",
                                   "/bin/sh", "-c",     kScript,        "sandbox"};
  std::string self = "/proc/self/exe";
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) self.assign(buf, n);
  args.push_back(self.c_str());
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  execvp("unshare", const_cast<char**>(args.data()));
  // unshare missing: run unsandboxed; privileged tests then skip (or fail under CI=true).
}

}  // namespace mkn::vnet::testing
