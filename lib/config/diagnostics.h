// lib/config/diagnostics — errors and warnings about a lab file, each at a line and column.
//
// Every problem in a lab file is collected (not just the first) and printed as `file:line:col:
// message`, warnings as `file:line:col: warning: message`, so an editor or a student can jump to
// it.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace mkn::config {

struct SourcePos {
  int line = 0;  // 1-based; 0 = unknown (the position of the whole file)
  int col = 0;
};

enum class Severity { kError, kWarning };

struct Diagnostic {
  Severity severity = Severity::kError;
  SourcePos pos;
  std::string message;
};

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  void Error(SourcePos pos, std::string message);
  void Warning(SourcePos pos, std::string message);

  bool HasErrors() const;
  const std::vector<Diagnostic>& all() const { return all_; }
  const std::string& file() const { return file_; }

  // "file:line:col: message" (with "warning: " before the message for warnings).
  std::string Format(const Diagnostic& d) const;
  // Every diagnostic, sorted by position, one per line.
  std::string FormatAll() const;
  // OK when there is no error; otherwise InvalidArgument whose message is FormatAll() of the
  // errors.
  absl::Status ToStatus() const;

 private:
  std::string file_;
  std::vector<Diagnostic> all_;
};

}  // namespace mkn::config
