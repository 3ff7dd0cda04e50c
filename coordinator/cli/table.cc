#include "coordinator/cli/table.h"

#include <algorithm>
#include <cctype>

namespace tutti::cli {
namespace {

bool LooksNumeric(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '%' || c == ',';
  });
}

}  // namespace

std::string TextTable::ToString() const {
  std::vector<size_t> widths(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  };
  measure(header_);
  for (const auto& row : rows_) measure(row);
  auto render = [&](const std::vector<std::string>& row, bool is_header) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      std::string cell = i < row.size() ? row[i] : "";
      std::string pad(widths[i] - cell.size(), ' ');
      bool right = !is_header && i > 0 && LooksNumeric(cell);
      line += (i ? "  " : "") + (right ? pad + cell : cell + pad);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line + "\n";
  };
  std::string out = render(header_, true);
  size_t rule = 0;
  for (size_t w : widths) rule += w + 2;
  out += std::string(rule > 2 ? rule - 2 : 0, '-') + "\n";
  for (const auto& row : rows_) out += render(row, false);
  return out;
}

}  // namespace tutti::cli
