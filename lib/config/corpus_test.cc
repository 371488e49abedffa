// Golden corpus: testdata/bad/*.toml carry their expected diagnostics in leading `# expect: `
// lines; testdata/config/*.toml must load cleanly and plan to testdata/plan/<case>.txt.
// MKN_UPDATE_GOLDEN=1 rewrites the plan goldens (review the diff before committing).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "lib/config/spec.h"
#include "lib/config/toml/load.h"
#include "lib/plan/plan.h"
#include "lib/testing/testing.h"

namespace mkn::config {
namespace {

namespace fs = std::filesystem;

using testdata::ReadFile;
using testdata::SourceDir;

std::vector<fs::path> Cases(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(SourceDir() / "testdata" / dir)) {
    if (e.path().extension() == ".toml") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Corpus, BadLabsGiveTheirExpectedDiagnostics) {
  std::vector<fs::path> cases = Cases("bad");
  EXPECT_GE(cases.size(), 40u);
  for (const fs::path& p : cases) {
    std::string text = ReadFile(p);
    std::string expected;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("# expect: ", 0) == 0) expected += line.substr(10) + "\n";
    }
    ASSERT_FALSE(expected.empty()) << p << " has no `# expect: ` line";
    LoadResult r = Load(text, p.filename().string());
    EXPECT_FALSE(r.spec) << p << " loaded without error";
    EXPECT_EQ(r.diags.FormatAll(), expected) << p;
  }
}

TEST(Corpus, GoodLabsPlanToTheirGoldens) {
  bool update = std::getenv("MKN_UPDATE_GOLDEN") != nullptr;
  std::vector<fs::path> cases = Cases("config");
  EXPECT_GE(cases.size(), 3u);
  for (const fs::path& p : cases) {
    LoadResult r = Load(ReadFile(p), p.filename().string());
    ASSERT_TRUE(r.spec) << r.diags.FormatAll();
    std::string got = plan::RenderShell(plan::BuildPlan(*r.spec));
    fs::path golden = SourceDir() / "testdata" / "plan" / (p.stem().string() + ".txt");
    if (update) {
      std::ofstream(golden) << got;
      continue;
    }
    ASSERT_TRUE(fs::exists(golden)) << golden << " missing; run with MKN_UPDATE_GOLDEN=1";
    EXPECT_EQ(got, ReadFile(golden)) << p << " differs from " << golden;
  }
}

}  // namespace
}  // namespace mkn::config
