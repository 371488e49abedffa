// lib/cni/report — the conformance suite's output (`minikube-net verify`): a terminal table,
// JUnit XML for CI (Jenkins, GitLab), JSON, and the --only/--skip selectors.
//
// Pure formatting: same reports, same bytes. Text from plugins (evidence) may hold anything:
// invalid UTF-8 becomes U+FFFD, and XML gets only characters XML 1.0 allows.
//
// Four outcomes, as JUnit has them: a check passes, fails (the plugin broke a rule: evidence of
// what it did), is skipped (it does not apply, or was not run: the reason), or ends in an error:
// the suite itself could not do what the check needs (a test namespace it could not make, an
// address it could not remove to tamper with a pod, a probe that would not start, the --timeout
// running out mid-check), so the check says nothing about the plugin either way. CI shows an error
// apart from a failure (JUnit <error>): the first is the machine's or the harness's problem, the
// second the plugin's.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mkn::cni {

enum class Outcome { kPass, kFail, kSkip, kError };
// "PASS", "FAIL", "SKIP", "ERROR".
std::string_view OutcomeName(Outcome outcome);

struct CheckReport {
  std::string id, title;
  std::string source;  // where the rule comes from: "SPEC.md §Execution: DEL", "k8s model rule 1"
  Outcome outcome = Outcome::kPass;
  std::chrono::nanoseconds duration{0};
  std::string evidence;  // on fail/skip/error: what was seen, or why
  // (name, value) pairs for CI, in order: the check's source, the chain's plugins and their
  // versions ("plugin.bridge" = "CNI bridge plugin v1.1.1", ...). JUnit <properties>, JSON.
  std::vector<std::pair<std::string, std::string>> properties;
};

// Columns ID, CHECK, SOURCE, RESULT, TIME, aligned by display width (UTF-8 aware); under a
// failed, skipped or errored row its evidence, each line indented; then "N passed, M failed,
// K skipped, E errors". With `color`, RESULT is green/red/yellow/magenta (ANSI), alignment
// unchanged.
std::string FormatTable(const std::vector<CheckReport>& reports, bool color);

// One <testsuites> holding <testsuite name=suite tests failures errors skipped time>, a
// <testcase classname=suite name=id time> per check, holding its <properties> (one <property
// name value> per pair, when it has any); a failure carries <failure message="TITLE: first
// evidence line" type="SOURCE"> with the whole evidence as text, an error <error message=...
// type="harness"> the same way, a skip <skipped message=...>. Seconds with 3 decimals.
std::string JUnitXml(std::string_view suite, const std::vector<CheckReport>& reports);

// {"suite", "summary": {"passed","failed","skipped","errors","total","duration_seconds"},
//  "checks": [{"id","title","source","result":"pass|fail|skip|error","duration_seconds",
//              "evidence","properties":{name: value, ...}}]}
nlohmann::json ReportJson(std::string_view suite, const std::vector<CheckReport>& reports);

// True when `id` matches one of `globs` ('*' any run of characters, '?' one character, the rest
// literal, whole id). Empty `globs` matches nothing: --only with no globs means "all", which is
// the caller's rule.
bool MatchesSelector(std::string_view id, const std::vector<std::string>& globs);
bool GlobMatch(std::string_view pattern, std::string_view text);

// "850us", "12ms", "1.35s": compact durations for the TIME column.
std::string FormatDuration(std::chrono::nanoseconds d);

// Evidence kept readable: the first max_lines lines of `text` (with their newlines), then
// "... (N more lines)\n", N the newlines left out; `text` itself when it has no more lines. A
// plugin's output or a snapshot diff can run to thousands of lines, and the table shows every
// failure's evidence in full.
std::string TrimLines(std::string_view text, size_t max_lines);

// What one pod gave a check to show: its one-line verdict, and the plugin calls behind it (their
// dump) with a key that is equal for calls that failed the same way (the same plugin, command,
// exit and error code: the pods' addresses and container ids differ, the fault does not).
struct PodEvidence {
  std::string pod, line, calls, calls_key;
};
// Every pod's line, in order, then each different dump once, under "plugin calls of pod web-1
// (same for web-2, web-3):" naming the pods whose calls had the same key: a plugin's one fault
// shows once per check, not once per pod. A pod without calls has only its line.
std::string GroupEvidence(const std::vector<PodEvidence>& pods);

}  // namespace mkn::cni
