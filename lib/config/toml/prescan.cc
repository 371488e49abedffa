#include "lib/config/toml/prescan.h"

#include <vector>

#include "lib/strings/str_cat.h"

namespace mkn::config {

std::optional<PrescanProblem> PrescanToml(std::string_view text) {
  // Where a '.' separates key parts: in a key (before '=' at the start of a line or after '{' or
  // ',' in an inline table) and in a table header. In values it is a float or a date.
  enum class Ctx { kKey, kHeader, kValue, kRest };
  Ctx ctx = Ctx::kKey;
  std::vector<char> nest;  // '[' array / '{' inline table, inside values
  bool line_start = true;  // only whitespace so far on this line, at the top level
  size_t parts = 1;
  int line = 1, col = 1;
  std::optional<SourcePos> key_pos;  // the key's first character, once seen
  auto begin_key = [&] {
    parts = 1;
    key_pos.reset();
  };
  auto in_key = [&] { return ctx == Ctx::kKey || ctx == Ctx::kHeader; };
  for (size_t i = 0; i < text.size(); ++i, ++col) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      col = 0;
      if (nest.empty()) {
        ctx = Ctx::kKey;
        line_start = true;
        begin_key();
      }
      continue;
    }
    if (c == '#') {  // a comment runs to the end of the line
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i, ++col;
      continue;
    }
    if (c == '"' || c == '\'') {  // a string, basic or literal, single- or multi-line
      if (in_key() && !key_pos) key_pos = SourcePos{line, col};
      const bool multi = text.substr(i, 3) == std::string_view(c == '"' ? "\"\"\"" : "'''");
      const std::string_view close = multi ? text.substr(i, 3) : text.substr(i, 1);
      size_t j = i + close.size();
      while (j < text.size() && text.substr(j, close.size()) != close) {
        if (c == '"' && text[j] == '\\') ++j;  // an escape: the next byte is not the quote
        if (j < text.size() && text[j] == '\n') {
          ++line;
          col = 0;
        }
        ++j;
        ++col;
      }
      col += static_cast<int>(close.size());
      i = j + close.size() - 1;
      line_start = false;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') continue;
    const bool first = line_start;
    line_start = false;
    if (in_key() && !key_pos && !(first && nest.empty() && c == '['))
      key_pos = SourcePos{line, col};
    switch (ctx) {
      case Ctx::kKey:
        if (first && nest.empty() && c == '[') {
          ctx = Ctx::kHeader;
          if (i + 1 < text.size() && text[i + 1] == '[') ++i, ++col;
          begin_key();
        } else if (c == '.') {
          ++parts;
        } else if (c == '=') {
          ctx = Ctx::kValue;
        }
        break;
      case Ctx::kHeader:
        if (c == '.') {
          ++parts;
        } else if (c == ']') {
          ctx = Ctx::kRest;
        }
        break;
      case Ctx::kValue:
        if (c == '[' || c == '{') {
          nest.push_back(c);
          if (c == '{') {
            ctx = Ctx::kKey;
            begin_key();
          }
        } else if ((c == ']' || c == '}') && !nest.empty()) {
          nest.pop_back();
        } else if (c == ',' && !nest.empty() && nest.back() == '{') {
          ctx = Ctx::kKey;
          begin_key();
        }
        break;
      case Ctx::kRest:
        break;
    }
    if (parts > kMaxKeyParts) {
      return PrescanProblem{
          key_pos.value_or(SourcePos{line, col}),
          StrCat("a key with more than ", kMaxKeyParts,
                 " dotted parts: keys in a lab file have a handful (the deepest is "
                 "[[deployment.template.container]])")};
    }
  }
  return std::nullopt;
}

}  // namespace mkn::config
