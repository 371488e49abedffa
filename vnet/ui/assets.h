// vnet/ui/assets — the dashboard page's files (vnet/ui/assets/: index.html, app.js, style.css),
// embedded in the binary at build time (embed.cmake writes them into a generated assets.cc), so
// that the page needs nothing from any other server: no CDN, no file at run time.
#pragma once

#include <string_view>

namespace mkn::vnet {

struct UiAsset {
  std::string_view name;          // "index.html"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view body;
};

// The asset named `name`, or nullptr.
const UiAsset* FindUiAsset(std::string_view name);

}  // namespace mkn::vnet
