#include "lib/cni/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mkn::cni {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::vector<CheckReport> Reports() {
  return {
      {"spec.version", "VERSION lists versions", "SPEC.md §VERSION", Outcome::kPass, 850us, "", {}},
      {"spec.del.removes",
       "DEL removes everything ADD added",
       "SPEC.md §Execution: DEL",
       Outcome::kFail,
       1350ms,
       "links:\n  + veth1a2b3c4d kind=veth master=cni0 mtu=1500\nplugin said <\"done\"> & 'ok'\n",
       {}},
      {"k8s.rule1",
       "pod<->pod across nodes",
       "k8s model rule 1",
       Outcome::kSkip,
       0ns,
       "lab has one node",
       {}},
  };
}

TEST(FormatTable, AlignedWithEvidenceAndSummary) {
  EXPECT_EQ(
      FormatTable(Reports(), false),
      "ID                CHECK                             SOURCE                   RESULT   TIME\n"
      "spec.version      VERSION lists versions            SPEC.md §VERSION         PASS    850us\n"
      "spec.del.removes  DEL removes everything ADD added  SPEC.md §Execution: DEL  FAIL    1.35s\n"
      "    links:\n"
      "      + veth1a2b3c4d kind=veth master=cni0 mtu=1500\n"
      "    plugin said <\"done\"> & 'ok'\n"
      "k8s.rule1         pod<->pod across nodes            k8s model rule 1         SKIP      0us\n"
      "    lab has one node\n"
      "1 passed, 1 failed, 1 skipped, 0 errors\n");
}

TEST(FormatTable, ColorKeepsAlignment) {
  std::string colored = FormatTable(Reports(), true);
  EXPECT_THAT(colored, HasSubstr("\x1b[32mPASS\x1b[0m    850us\n"));
  EXPECT_THAT(colored, HasSubstr("\x1b[31mFAIL\x1b[0m    1.35s\n"));
  EXPECT_THAT(colored, HasSubstr("\x1b[33mSKIP\x1b[0m      0us\n"));
  // Without the escapes it is the plain table.
  std::string stripped;
  for (size_t i = 0; i < colored.size(); ++i) {
    if (colored[i] == '\x1b') {
      i = colored.find('m', i);
      continue;
    }
    stripped.push_back(colored[i]);
  }
  EXPECT_EQ(stripped, FormatTable(Reports(), false));
  EXPECT_EQ(FormatTable({}, false),
            "ID  CHECK  SOURCE  RESULT  TIME\n0 passed, 0 failed, 0 skipped, 0 errors\n");
}

TEST(FormatDuration, Units) {
  EXPECT_EQ(FormatDuration(0ns), "0us");
  EXPECT_EQ(FormatDuration(999us), "999us");
  EXPECT_EQ(FormatDuration(12ms), "12ms");
  EXPECT_EQ(FormatDuration(1350ms), "1.35s");
  EXPECT_EQ(FormatDuration(75s), "75.00s");
}

// A small XML well-formedness check: tags balance, attribute values are quoted and hold no raw
// '<' or '&' without an entity, text holds no raw '<' or bare '&', no control characters.
std::string XmlProblems(const std::string& xml) {
  std::vector<std::string> stack;
  auto entity_ok = [&](size_t i) {
    for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#10;", "&#13;", "&#9;"}) {
      if (xml.compare(i, strlen(e), e) == 0) return true;
    }
    return false;
  };
  size_t i = 0;
  if (xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 0) != 0)
    return "no XML declaration";
  i = xml.find('\n') + 1;
  while (i < xml.size()) {
    unsigned char c = static_cast<unsigned char>(xml[i]);
    if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') return "control character in document";
    if (c == '&') {
      if (!entity_ok(i)) return "bare & at " + std::to_string(i);
      ++i;
      continue;
    }
    if (c != '<') {
      ++i;
      continue;
    }
    size_t end = i + 1;
    bool in_quote = false;
    for (; end < xml.size() && (in_quote || xml[end] != '>'); ++end) {
      if (xml[end] == '"') in_quote = !in_quote;
      if (in_quote && xml[end] == '<') return "raw < in attribute at " + std::to_string(end);
      if (in_quote && xml[end] == '&' && !entity_ok(end)) return "bare & in attribute";
      if (in_quote && xml[end] == '\n') return "raw newline in attribute";
    }
    if (end >= xml.size()) return "unterminated tag";
    std::string tag = xml.substr(i + 1, end - i - 1);
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1))
        return "mismatched </" + tag.substr(1) + ">";
      stack.pop_back();
    } else if (tag.back() != '/') {
      stack.push_back(tag.substr(0, tag.find(' ')));
    }
    i = end + 1;
  }
  return stack.empty() ? "" : "unclosed <" + stack.back() + ">";
}

TEST(JUnitXml, WellFormedWithCountsAndEscapes) {
  std::vector<CheckReport> reports = Reports();
  reports[1].evidence += "stderr: \x01\xff bytes\n";  // a plugin printed junk
  std::string xml = JUnitXml("minikube-net verify <kindnet>", reports);
  EXPECT_EQ(XmlProblems(xml), "") << xml;
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"minikube-net verify &lt;kindnet&gt;\" tests=\"3\" "
                             "failures=\"1\" errors=\"0\" skipped=\"1\" time=\"1.351\">"));
  EXPECT_THAT(xml, HasSubstr("<testcase classname=\"minikube-net verify &lt;kindnet&gt;\" "
                             "name=\"spec.version\" time=\"0.001\"/>"));
  EXPECT_THAT(xml, HasSubstr("<failure message=\"DEL removes everything ADD added: links:\" "
                             "type=\"SPEC.md §Execution: DEL\">DEL removes everything ADD added\n"
                             "source: SPEC.md §Execution: DEL\nlinks:\n"));
  EXPECT_THAT(xml, HasSubstr("plugin said &lt;\"done\"&gt; &amp; 'ok'\n"));
  EXPECT_THAT(xml, HasSubstr("stderr: \xEF\xBF\xBD\xEF\xBF\xBD bytes"));
  EXPECT_THAT(xml, HasSubstr("<skipped message=\"lab has one node\"/>"));
  EXPECT_EQ(XmlProblems(JUnitXml("s", {})), "");
}

// Each outcome as every output shows it: the table's RESULT, the JUnit element and counter, the
// JSON result and counter. An error (the harness could not do what the check needs) is never a
// <failure>: CI tells a broken machine from a broken plugin by it.
TEST(Outcomes, EachOutputShowsEachOutcomeApart) {
  struct Case {
    Outcome outcome;
    std::string table_row;  // the RESULT and TIME cells
    std::string junit;      // what the testcase holds
    std::string junit_counts;
    std::string json_result, json_counter;
  } cases[] = {
      {Outcome::kPass, "PASS    2.00s\n", "name=\"c.id\" time=\"2.000\"/>",
       "failures=\"0\" errors=\"0\" skipped=\"0\"", "pass", "passed"},
      {Outcome::kFail, "FAIL    2.00s\n    saw x\n",
       "<failure message=\"Title: saw x\" type=\"SPEC.md §2\">Title\nsource: SPEC.md §2\nsaw x\n"
       "</failure>",
       "failures=\"1\" errors=\"0\" skipped=\"0\"", "fail", "failed"},
      {Outcome::kSkip, "SKIP    2.00s\n    saw x\n", "<skipped message=\"saw x\"/>",
       "failures=\"0\" errors=\"0\" skipped=\"1\"", "skip", "skipped"},
      {Outcome::kError, "ERROR   2.00s\n    saw x\n",
       "<error message=\"Title: saw x\" type=\"harness\">Title\nsource: SPEC.md §2\nsaw x\n"
       "</error>",
       "failures=\"0\" errors=\"1\" skipped=\"0\"", "error", "errors"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(OutcomeName(c.outcome)));
    std::vector<CheckReport> one = {{"c.id", "Title", "SPEC.md §2", c.outcome, 2s, "saw x\n", {}}};
    std::string table = FormatTable(one, false);
    EXPECT_THAT(table, HasSubstr(c.table_row));
    std::string xml = JUnitXml("s", one);
    EXPECT_EQ(XmlProblems(xml), "") << xml;
    EXPECT_THAT(xml, HasSubstr(c.junit));
    EXPECT_THAT(xml, HasSubstr(c.junit_counts));
    nlohmann::json j = ReportJson("s", one);
    EXPECT_EQ(j["checks"][0]["result"], c.json_result);
    EXPECT_EQ(j["summary"][c.json_counter], 1);
    EXPECT_EQ(j["summary"]["passed"].get<int>() + j["summary"]["failed"].get<int>() +
                  j["summary"]["skipped"].get<int>() + j["summary"]["errors"].get<int>(),
              1);
  }
  std::vector<CheckReport> mixed = Reports();
  mixed.push_back({"spec.check.tamper",
                   "CHECK after tampering",
                   "SPEC.md §2 CHECK",
                   Outcome::kError,
                   5ms,
                   "could not tamper with the test pod: `ip addr del` exit 2",
                   {}});
  EXPECT_THAT(FormatTable(mixed, false), HasSubstr("1 passed, 1 failed, 1 skipped, 1 errors\n"));
  EXPECT_THAT(FormatTable(mixed, true), HasSubstr("\x1b[35mERROR\x1b[0m     5ms\n"));
}

TEST(JUnitXml, PropertiesInEveryTestcaseEscaped) {
  std::vector<CheckReport> reports = Reports();
  for (CheckReport& r : reports) {
    r.properties = {{"source", r.source},
                    {"plugin.bridge", "CNI bridge plugin v1.1.1 <deb> \"x\" & y"},
                    {"plugin.bridge.cniVersions", "0.4.0, 1.0.0"}};
  }
  std::string xml = JUnitXml("verify.lab", reports);
  EXPECT_EQ(XmlProblems(xml), "") << xml;
  // A passing check is no longer an empty element: it holds its properties.
  EXPECT_THAT(xml, HasSubstr("<testcase classname=\"verify.lab\" name=\"spec.version\" "
                             "time=\"0.001\">\n"
                             "      <properties>\n"
                             "        <property name=\"source\" value=\"SPEC.md §VERSION\"/>\n"
                             "        <property name=\"plugin.bridge\" value=\"CNI bridge plugin "
                             "v1.1.1 &lt;deb&gt; &quot;x&quot; &amp; y\"/>\n"
                             "        <property name=\"plugin.bridge.cniVersions\" "
                             "value=\"0.4.0, 1.0.0\"/>\n"
                             "      </properties>\n"
                             "    </testcase>\n"));
  // Properties come first, then the verdict.
  EXPECT_THAT(xml, HasSubstr("      </properties>\n      <failure message="));
  EXPECT_THAT(xml, HasSubstr("      </properties>\n      <skipped message="));
  size_t blocks = 0;
  for (size_t at = xml.find("<properties>"); at != std::string::npos;
       at = xml.find("<properties>", at + 1))
    ++blocks;
  EXPECT_EQ(blocks, reports.size());
  nlohmann::json j = ReportJson("verify.lab", reports);
  EXPECT_EQ(j["checks"][1]["properties"]["source"], "SPEC.md §Execution: DEL");
  EXPECT_EQ(j["checks"][1]["properties"]["plugin.bridge.cniVersions"], "0.4.0, 1.0.0");
  EXPECT_TRUE(ReportJson("v", Reports())["checks"][0]["properties"].is_object());
}

TEST(JUnitXml, CheckerCatchesBrokenXml) {
  // The checker itself must be able to fail.
  EXPECT_NE(XmlProblems("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a><b></a>"), "");
  EXPECT_NE(XmlProblems("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>x & y</a>"), "");
  EXPECT_NE(XmlProblems("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a m=\"<\"/>"), "");
  EXPECT_NE(XmlProblems("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>"), "");
}

TEST(ReportJson, Shape) {
  nlohmann::json j = ReportJson("verify", Reports());
  EXPECT_EQ(j["suite"], "verify");
  EXPECT_EQ(j["summary"]["passed"], 1);
  EXPECT_EQ(j["summary"]["failed"], 1);
  EXPECT_EQ(j["summary"]["skipped"], 1);
  EXPECT_EQ(j["summary"]["errors"], 0);
  EXPECT_EQ(j["summary"]["total"], 3);
  EXPECT_DOUBLE_EQ(j["summary"]["duration_seconds"].get<double>(), 1.35085);
  ASSERT_EQ(j["checks"].size(), 3u);
  EXPECT_EQ(j["checks"][1]["id"], "spec.del.removes");
  EXPECT_EQ(j["checks"][1]["result"], "fail");
  EXPECT_EQ(j["checks"][1]["source"], "SPEC.md §Execution: DEL");
  EXPECT_EQ(j["checks"][2]["result"], "skip");
  // Invalid UTF-8 in evidence must not make dump() throw.
  std::vector<CheckReport> junk = Reports();
  junk[0].evidence = "\xff";
  EXPECT_EQ(ReportJson("v", junk)["checks"][0]["evidence"].dump(), "\"\xEF\xBF\xBD\"");
}

TEST(MatchesSelector, Globs) {
  struct Case {
    const char* id;
    std::vector<std::string> globs;
    bool want;
  } cases[] = {
      {"spec.del.removes", {"spec.*"}, true},
      {"spec.del.removes", {"spec.del.*"}, true},
      {"spec.del.removes", {"*.removes"}, true},
      {"spec.del.removes", {"spec.del"}, false},  // whole id
      {"spec.del.removes", {"spec.?el.removes"}, true},
      {"spec.del.removes", {"spec.??.removes"}, false},
      {"spec.del.removes", {"k8s.*", "*del*"}, true},
      {"spec.del.removes", {}, false},
      {"k8s.rule1", {"k8s.rule?"}, true},
      {"k8s.rule10", {"k8s.rule?"}, false},
      {"", {"*"}, true},
      {"a*b", {"a*b"}, true},
      {"aXXb", {"a**b"}, true},
      {"ab", {"a*?b"}, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(MatchesSelector(c.id, c.globs), c.want)
        << c.id << " " << ::testing::PrintToString(c.globs);
  }
}

TEST(TrimLines, KeepsTheFirstLinesAndCountsTheRest) {
  struct Case {
    const char* name;
    std::string text;
    size_t max_lines;
    std::string want;
  } cases[] = {
      {"empty", "", 3, ""},
      {"fits", "a\nb\n", 3, "a\nb\n"},
      {"exactly max", "a\nb\nc\n", 3, "a\nb\nc\n"},
      {"exactly max, no final newline", "a\nb\nc", 3, "a\nb\nc"},
      {"one over", "a\nb\nc\nd\n", 3, "a\nb\nc\n... (1 more lines)\n"},
      {"many over", "1\n2\n3\n4\n5\n6\n", 2, "1\n2\n... (4 more lines)\n"},
      // The count is of newlines left out: a last line without one is not counted.
      {"last line unterminated", "a\nb\nc\nd", 2, "a\nb\n... (1 more lines)\n"},
      {"one long line", "abcdef", 1, "abcdef"},
      {"zero lines", "a\nb\n", 0, "... (2 more lines)\n"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(TrimLines(c.text, c.max_lines), c.want) << c.name;
  }
}

TEST(GroupEvidence, ShowsEachDumpOnceNamingThePodsItStandsFor) {
  const std::string dump_a = "== CHECK wrong-ip: exit 1\nstdout: {\"code\": 999}\n";
  struct Case {
    const char* name;
    std::vector<PodEvidence> pods;
    std::string want;
  } cases[] = {
      {"none", {}, ""},
      {"one pod",
       {{"web-1", "pod web-1: CHECK failed", dump_a, "wrong-ip CHECK 1"}},
       "pod web-1: CHECK failed\nplugin calls of pod web-1:\n" + dump_a},
      // The same fault on every pod (their addresses differ, the key does not): one dump.
      {"same fault",
       {{"web-1", "pod web-1: 10.244.0.254", dump_a, "k"},
        {"web-2", "pod web-2: 10.244.0.254", "== CHECK (web-2's)\n", "k"},
        {"web-3", "pod web-3: 10.244.1.254", "== CHECK (web-3's)\n", "k"}},
       "pod web-1: 10.244.0.254\npod web-2: 10.244.0.254\npod web-3: 10.244.1.254\n"
       "plugin calls of pod web-1 (same for web-2, web-3):\n" +
           dump_a},
      // Two faults: each dump once, under the first pod that had it; a pod without calls has its
      // line only; a dump without a final newline gets one.
      {"two faults",
       {{"a", "pod a: x", "dump 1\n", "k1"},
        {"b", "pod b: y", "dump 2", "k2"},
        {"c", "pod c: z", "", ""},
        {"d", "pod d: x", "dump 1'\n", "k1"}},
       "pod a: x\npod b: y\npod c: z\npod d: x\n"
       "plugin calls of pod a (same for d):\ndump 1\n"
       "plugin calls of pod b:\ndump 2\n"},
  };
  for (const Case& c : cases) EXPECT_EQ(GroupEvidence(c.pods), c.want) << c.name;
}

}  // namespace
}  // namespace mkn::cni
