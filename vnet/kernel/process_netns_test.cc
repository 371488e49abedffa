// Spawn and UseResolvConf on a host whose /etc/resolv.conf is missing or a dangling symlink (a
// chroot, a container, systemd-resolved stopped): the process starts without the cluster's file
// rather than not at all. Each case runs in a forked child with a mount namespace of its own and
// an empty tmpfs over /etc, so the test's (and the host's) /etc is never touched.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "vnet/kernel/process.h"
#include "vnet/testing/sandbox.h"

namespace mkn::vnet {
namespace {

enum Result { kOk = 0, kSetup = 10, kSpawn = 11, kUse = 12 };

// In a forked child: /etc an empty tmpfs (with /etc/resolv.conf a dangling symlink if asked),
// then Spawn with a resolv.conf and UseResolvConf. The exit code says which failed.
int RunWithoutResolvConf(bool dangling, const std::string& dir) {
  if (::unshare(CLONE_NEWNS) < 0) return kSetup;
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) return kSetup;
  if (::mount("tmpfs", "/etc", "tmpfs", 0, "size=64k") < 0) return kSetup;
  if (dangling && ::symlink("/run/mkn-test-nowhere/stub-resolv.conf", "/etc/resolv.conf") < 0)
    return kSetup;
  const std::string conf = dir + "/resolv.conf";
  std::ofstream(conf) << "nameserver 10.96.0.10\n";
  int netns = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (netns < 0) return kSetup;
  absl::StatusOr<ChildProcess> child =
      Spawn(netns, {"/bin/sh", "-c", "exit 0"}, {}, dir + "/spawn.log", -1, conf);
  if (!child.ok()) return kSpawn;
  int st = 0;
  ::waitpid(child->pid, &st, 0);
  if (!UseResolvConf(conf).ok()) return kUse;
  return kOk;
}

TEST(ResolvConf, AHostWithoutOneStillStartsProcesses) {
  MKN_REQUIRE_NETNS();
  for (bool dangling : {false, true}) {
    SCOPED_TRACE(dangling ? "/etc/resolv.conf a dangling symlink" : "no /etc/resolv.conf");
    const std::string dir = ::testing::TempDir();
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) ::_exit(RunWithoutResolvConf(dangling, dir));
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_NE(WEXITSTATUS(st), kSetup) << "the test could not make its mount namespace";
    EXPECT_NE(WEXITSTATUS(st), kSpawn) << "Spawn refused to start the process";
    EXPECT_NE(WEXITSTATUS(st), kUse) << "UseResolvConf (exec) failed";
  }
}

}  // namespace
}  // namespace mkn::vnet
