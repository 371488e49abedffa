// gtest main for *_netns_test: re-executes itself inside a throw-away sandbox first.
#include <gtest/gtest.h>

#include "vnet/testing/sandbox.h"

int main(int argc, char** argv) {
  mkn::vnet::testing::ReexecInSandbox(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
