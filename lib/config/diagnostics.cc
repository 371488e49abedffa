#include "lib/config/diagnostics.h"

#include <algorithm>

#include "lib/strings/str_cat.h"

namespace mkn::config {

void Diagnostics::Error(SourcePos pos, std::string message) {
  all_.push_back({Severity::kError, pos, std::move(message)});
}

void Diagnostics::Warning(SourcePos pos, std::string message) {
  all_.push_back({Severity::kWarning, pos, std::move(message)});
}

bool Diagnostics::HasErrors() const {
  return std::any_of(all_.begin(), all_.end(),
                     [](const Diagnostic& d) { return d.severity == Severity::kError; });
}

std::string Diagnostics::Format(const Diagnostic& d) const {
  std::string where = d.pos.line > 0 ? StrCat(file_, ":", d.pos.line, ":", d.pos.col) : file_;
  return StrCat(where, ": ", d.severity == Severity::kWarning ? "warning: " : "", d.message);
}

std::string Diagnostics::FormatAll() const {
  std::vector<Diagnostic> sorted = all_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.pos.line, a.pos.col) < std::tie(b.pos.line, b.pos.col);
  });
  std::string out;
  for (const Diagnostic& d : sorted) StrAppend(&out, Format(d), "\n");
  return out;
}

absl::Status Diagnostics::ToStatus() const {
  if (!HasErrors()) return absl::OkStatus();
  Diagnostics errors(file_);
  for (const Diagnostic& d : all_) {
    if (d.severity == Severity::kError) errors.all_.push_back(d);
  }
  std::string text = errors.FormatAll();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return absl::InvalidArgumentError(text);
}

}  // namespace mkn::config
