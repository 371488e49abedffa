// lib/strings/edit_distance — Levenshtein distance, and the closest of some candidates: the "did
// you mean" of error messages (unknown lab-file keys, unknown pod names). Header-only.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mkn {

inline size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The candidate nearest to `word` within `max_distance` edits (the first of equals), or "".
inline std::string Closest(std::string_view word, const std::vector<std::string>& candidates,
                           size_t max_distance) {
  std::string best;
  size_t best_d = max_distance + 1;
  for (const std::string& c : candidates) {
    const size_t d = EditDistance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

}  // namespace mkn
