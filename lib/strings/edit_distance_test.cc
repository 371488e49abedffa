#include "lib/strings/edit_distance.h"

#include <gtest/gtest.h>

namespace mkn {
namespace {

TEST(EditDistance, CountsInsertionsDeletionsAndSubstitutions) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("ingress", "ingress"), 0u);
  EXPECT_EQ(EditDistance("ingres", "ingress"), 1u);
  EXPECT_EQ(EditDistance("web-O", "web-0"), 1u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
}

TEST(Closest, TheNearestWithinTheBoundOrNothing) {
  const std::vector<std::string> names = {"ingress", "web-0", "web-1", "api-0"};
  EXPECT_EQ(Closest("ingres", names, 2), "ingress");
  EXPECT_EQ(Closest("web-O", names, 2), "web-0");  // the first of equals
  EXPECT_EQ(Closest("api-9", names, 2), "api-0");
  EXPECT_EQ(Closest("database", names, 2), "");
  EXPECT_EQ(Closest("x", {}, 2), "");
}

}  // namespace
}  // namespace mkn
