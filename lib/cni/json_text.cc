// lib/cni/json_text — see json_text.h.
#include "lib/cni/json_text.h"

#include <cmath>
#include <cstdio>
#include <exception>
#include <optional>

#include "lib/strings/str_cat.h"

namespace mkn::cni {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid (overlong forms,
// surrogates and code points above U+10FFFF included).
size_t Utf8SeqLen(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t len = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// Where the first array or object nested deeper than kMaxJsonDepth opens, if one does. Strings are
// skipped (with their escapes); everything else is left to the parser. Deep nesting is refused
// before parsing because what walks a document afterwards (the ${...} renderer, dump, the position
// index) recurses: 50 000 levels overflowed the stack.
std::optional<size_t> TooDeep(std::string_view text) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

template <typename Json>
absl::StatusOr<Json> ParseImpl(std::string_view text, std::string_view origin) {
  if (std::optional<size_t> at = TooDeep(text)) {
    return absl::InvalidArgumentError(StrCat(origin, ":", LineCol(text, *at),
                                             ": JSON nested deeper than ", kMaxJsonDepth,
                                             " levels (a conflist needs a handful)"));
  }
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    if (offset > text.size()) offset = text.size();
    std::string_view what = e.what();
    // "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..."
    size_t col = what.find("column ");
    size_t colon = col == std::string_view::npos ? what.find("] ") : what.find(": ", col);
    std::string_view cause = colon == std::string_view::npos ? what : what.substr(colon + 2);
    return absl::InvalidArgumentError(
        StrCat(origin, ":", LineCol(text, offset), ": JSON parse error: ", cause));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(StrCat(origin, ": JSON parse error: ", e.what()));
  }
}

// Scanner over text nlohmann has already accepted: records where every value starts.
class Scanner {
 public:
  Scanner(std::string_view text, absl::flat_hash_map<std::string, size_t>& out)
      : s_(text), out_(out) {}

  void Run() {
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") i_ = 3;  // nlohmann skips a UTF-8 BOM
    Value("");
  }

 private:
  void Ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  std::string String() {  // at '"'; returns the raw (still escaped) contents
    size_t start = ++i_;
    while (i_ < s_.size() && s_[i_] != '"') i_ += s_[i_] == '\\' ? 2 : 1;
    std::string raw(s_.substr(start, i_ - start));
    ++i_;
    return raw;
  }
  void Value(const std::string& path) {
    Ws();
    if (i_ >= s_.size()) return;
    out_[path] = i_;
    char c = s_[i_];
    if (c == '{') {
      ++i_;
      while (true) {
        Ws();
        if (i_ >= s_.size()) return;
        if (s_[i_] == '}') {
          ++i_;
          return;
        }
        if (s_[i_] == ',') {
          ++i_;
          continue;
        }
        std::string key = String();
        Ws();
        ++i_;  // ':'
        Value(JoinPath(path, key));
      }
    } else if (c == '[') {
      ++i_;
      size_t index = 0;
      while (true) {
        Ws();
        if (i_ >= s_.size()) return;
        if (s_[i_] == ']') {
          ++i_;
          return;
        }
        if (s_[i_] == ',') {
          ++i_;
          continue;
        }
        Value(IndexPath(path, index++));
      }
    } else if (c == '"') {
      String();
    } else {
      while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != ']' && s_[i_] != '}' && s_[i_] != ' ' &&
             s_[i_] != '\n' && s_[i_] != '\t' && s_[i_] != '\r')
        ++i_;
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  absl::flat_hash_map<std::string, size_t>& out_;
};

void AppendGoString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '<':
        case '>':
        case '&':
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xF]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    size_t len = Utf8SeqLen(s, i);
    if (len == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    std::string_view seq = s.substr(i, len);
    if (seq == "\xE2\x80\xA8") {
      out += "\\u2028";
    } else if (seq == "\xE2\x80\xA9") {
      out += "\\u2029";
    } else {
      out.append(seq);
    }
    i += len;
  }
  out.push_back('"');
}

template <typename Json>
void AppendGo(std::string& out, const Json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out.push_back(',');
        first = false;
        AppendGoString(out, it.key());
        out.push_back(':');
        AppendGo(out, it.value());
      }
      out.push_back('}');
      break;
    }
    case nlohmann::json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v) {
        if (!first) out.push_back(',');
        first = false;
        AppendGo(out, e);
      }
      out.push_back(']');
      break;
    }
    case nlohmann::json::value_t::string:
      AppendGoString(out, v.template get_ref<const std::string&>());
      break;
    case nlohmann::json::value_t::number_float: {
      double d = v.template get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e21) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.0f", d);
        out += (std::string_view(buf) == "-0") ? "-0" : buf;
      } else {
        out += v.dump();
      }
      break;
    }
    default:
      out += v.dump();  // null, booleans, integers: the same text in both encoders
  }
}

}  // namespace

std::string LineCol(std::string_view text, size_t offset) {
  if (offset > text.size()) offset = text.size();
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return StrCat(line, ":", offset - line_start + 1);
}

absl::StatusOr<nlohmann::json> ParseJson(std::string_view text, std::string_view origin) {
  return ParseImpl<nlohmann::json>(text, origin);
}
absl::StatusOr<nlohmann::ordered_json> ParseOrderedJson(std::string_view text,
                                                        std::string_view origin) {
  return ParseImpl<nlohmann::ordered_json>(text, origin);
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : StrCat(parent, ".", key);
}
std::string IndexPath(std::string_view parent, size_t index) {
  return StrCat(parent, "[", index, "]");
}

JsonPositions JsonPositions::Index(std::string_view text) {
  JsonPositions p;
  p.text_ = text;
  Scanner(text, p.offsets_).Run();
  return p;
}

std::optional<size_t> JsonPositions::Offset(std::string_view path) const {
  auto it = offsets_.find(std::string(path));
  if (it == offsets_.end()) return std::nullopt;
  return it->second;
}

std::string JsonPositions::Where(std::string_view origin, std::string_view path) const {
  std::string p(path);
  while (true) {
    if (auto off = Offset(p)) return StrCat(origin, ":", LineCol(text_, *off));
    if (p.empty()) return std::string(origin);
    // Drop the last ".key" or "[i]".
    size_t cut = p.find_last_of(".[");
    p = cut == std::string::npos ? "" : p.substr(0, cut);
  }
}

std::string GoMarshal(const nlohmann::json& value) {
  std::string out;
  AppendGo(out, value);
  return out;
}
std::string GoMarshal(const nlohmann::ordered_json& value) {
  std::string out;
  AppendGo(out, value);
  return out;
}

std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t len = Utf8SeqLen(text, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

}  // namespace mkn::cni
