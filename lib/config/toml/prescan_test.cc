#include "lib/config/toml/prescan.h"

#include <gtest/gtest.h>

#include <string>

#include "lib/config/toml/load.h"

namespace mkn::config {
namespace {

std::string Parts(size_t n) {
  std::string s = "a";
  for (size_t i = 1; i < n; ++i) s += ".a";
  return s;
}

TEST(PrescanToml, CountsKeyPartsOnlyWhereTheyAreKeys) {
  struct Row {
    std::string text;
    bool refused;
    int line = 0, col = 0;
  };
  const Row rows[] = {
      {Parts(64) + " = 1\n", false},
      {Parts(65) + " = 1\n", true, 1, 1},
      {"[cluster]\nname = \"x\"\n  " + Parts(65) + " = 1\n", true, 3, 3},
      {"[" + Parts(65) + "]\n", true, 1, 2},
      {"[[" + Parts(65) + "]]\n", true, 1, 3},
      {"x = { " + Parts(65) + " = 1 }\n", true, 1, 7},
      {"x = { b = 1, " + Parts(65) + " = 2 }\n", true, 1, 14},
      {"\"q.u.o.t.e.d\"." + Parts(63) + " = 1\n", false},  // a quoted part is one part
      // Dots in values, strings and comments are not key parts.
      {"pi = 3.14159\nwhen = 1979-05-27T07:32:00.999\n", false},
      {"s = \"" + Parts(100) + "\"\nl = '" + Parts(100) + "'\n", false},
      {"m = \"\"\"\n" + Parts(100) + " = 1\n\"\"\"\n", false},
      {"# " + Parts(100) + " = 1\nx = 1 # " + Parts(100) + "\n", false},
      {"x = [1.5, 2.5,\n  " + Parts(100) + "]\n", false},  // inside an array, not a key
      {"e = \"a\\\"" + Parts(100) + "\"\n", false},        // an escaped quote stays inside
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.text.substr(0, 60));
    std::optional<PrescanProblem> p = PrescanToml(r.text);
    EXPECT_EQ(p.has_value(), r.refused);
    if (p && r.refused) {
      EXPECT_EQ(p->pos.line, r.line);
      EXPECT_EQ(p->pos.col, r.col);
    }
  }
}

// The crash this guards against: toml++ recursing once per part of a 50 000-part key.
TEST(PrescanToml, AHugeKeyIsADiagnosticNotACrash) {
  for (const std::string& text :
       {"[cluster]\nname = \"x\"\n" + Parts(50000) + " = 1\n", "[" + Parts(100000) + "]\n"}) {
    LoadResult r = Load(text, "huge.toml");
    EXPECT_FALSE(r.spec.has_value());
    EXPECT_NE(r.diags.FormatAll().find("more than 64 dotted parts"), std::string::npos)
        << r.diags.FormatAll();
  }
}

}  // namespace
}  // namespace mkn::config
