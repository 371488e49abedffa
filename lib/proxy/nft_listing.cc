#include "lib/proxy/nft_listing.h"

#include <algorithm>

#include "lib/strings/str_cat.h"

namespace mkn::proxy {
namespace {

std::string_view Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// "counter packets 12 bytes 3400" -> "counter", everywhere in `s`.
std::string StripCounters(std::string s) {
  static constexpr std::string_view kPackets = "counter packets ";
  for (size_t c = s.find(kPackets); c != std::string::npos; c = s.find(kPackets, c + 1)) {
    size_t bytes = s.find(" bytes ", c);
    if (bytes == std::string::npos) break;
    size_t end = bytes + 7;
    while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
    s.erase(c + 7, end - (c + 7));
  }
  return s;
}

// The elements of "{ a, b : goto c, d comment "x, y" }" (the braces excluded), split at the
// commas that are not inside quotes or nested braces.
std::vector<std::string> SplitElements(std::string_view body) {
  std::vector<std::string> out;
  int depth = 0;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i <= body.size(); ++i) {
    const char c = i < body.size() ? body[i] : ',';
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    if (c == '{') ++depth;
    if (c == '}') --depth;
    if (c == ',' && depth == 0) {
      std::string_view e = Trim(body.substr(start, i - start));
      if (!e.empty()) out.emplace_back(e);
      start = i + 1;
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> NormalizeNftListing(std::string_view listing) {
  std::vector<std::string> out;
  std::string object;  // "chain services", "map service-ips", "" at table level
  bool dynamic = false;
  int rule = 0;
  std::string elements;  // an `elements = { ... }` being collected over lines
  int depth = 0;         // of braces inside `elements`
  size_t pos = 0;
  while (pos < listing.size()) {
    size_t nl = listing.find('\n', pos);
    std::string_view raw = listing.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? listing.size() : nl + 1;
    std::string line(Trim(raw));
    if (size_t h = line.find(" # handle "); h != std::string::npos) line.erase(h);
    if (line.empty()) continue;
    if (!elements.empty() || line.rfind("elements = {", 0) == 0) {
      elements += elements.empty() ? line.substr(12) : " " + line;
      for (char c : line) depth += c == '{' ? 1 : c == '}' ? -1 : 0;
      if (depth > 0) continue;
      // The collected text ends with the closing brace of the element list.
      std::string body = elements.substr(0, elements.rfind('}'));
      elements.clear();
      depth = 0;
      if (dynamic) continue;  // the data path's entries, not the table's
      for (std::string& e : SplitElements(body))
        out.push_back(StrCat(object, ": element ", StripCounters(std::move(e))));
      continue;
    }
    if (line == "}") {
      object.clear();
      continue;
    }
    if (line.back() == '{') {
      std::string head(Trim(std::string_view(line).substr(0, line.size() - 1)));
      if (head.rfind("table ", 0) == 0) {
        out.push_back(head);
        continue;
      }
      object = head;
      dynamic = false;
      rule = 0;
      out.push_back(object);
      continue;
    }
    if (object.empty()) {  // the table's own lines (its comment)
      out.push_back(StrCat("table: ", line));
      continue;
    }
    const bool chain = object.rfind("chain ", 0) == 0;
    const bool declaration = line.rfind("type ", 0) == 0 || line.rfind("flags ", 0) == 0 ||
                             line.rfind("comment ", 0) == 0 || line.rfind("timeout ", 0) == 0 ||
                             line.rfind("size ", 0) == 0 || line.rfind("policy ", 0) == 0 ||
                             (!chain && line == "counter");
    if (!chain || declaration) {
      if (line.rfind("flags ", 0) == 0 && line.find("dynamic") != std::string::npos) dynamic = true;
      out.push_back(StrCat(object, ": ", line));
      continue;
    }
    out.push_back(StrCat(object, ": #", ++rule, " ", StripCounters(std::move(line))));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> NftListingDiff(const std::vector<std::string>& have,
                                        const std::vector<std::string>& want) {
  std::vector<std::string> out;
  size_t i = 0, j = 0;
  while (i < have.size() || j < want.size()) {
    if (j == want.size() || (i < have.size() && have[i] < want[j])) {
      out.push_back("- " + have[i++]);
    } else if (i == have.size() || want[j] < have[i]) {
      out.push_back("+ " + want[j++]);
    } else {
      ++i;
      ++j;
    }
  }
  return out;
}

}  // namespace mkn::proxy
