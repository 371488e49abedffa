// lib/strings/columns — rows of cells as text columns, the shape of every table minikube-net prints
// (`get`, `status`, `bgp`, ...): each column padded to its widest cell, two spaces apart, the last
// column not padded (no trailing blanks), one line per row.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

namespace mkn {

inline std::string Columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w;
  for (const auto& r : rows) {
    if (w.size() < r.size()) w.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out += std::string(w[i] - r[i].size() + 2, ' ');
    }
    out += "\n";
  }
  return out;
}

}  // namespace mkn
