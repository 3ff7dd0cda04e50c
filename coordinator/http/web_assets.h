#pragma once
// The web page's files (coordinator/http/web/), compiled into the binary at build time
// (cmake/EmbedFiles.cmake), so the coordinator serves its page with nothing to install beside it.

#include <string_view>
#include <vector>

namespace tutti::coord {

struct WebAsset {
  std::string_view path;   // "index.html", "app.js", "static/x.svg" (relative to coordinator/http/web/)
  std::string_view bytes;
};

// Every embedded file, sorted by path.
const std::vector<WebAsset>& WebAssets();

}  // namespace tutti::coord
