#pragma once
// Plain-text tables for command summaries: columns sized to their widest cell, numbers right-aligned.

#include <string>
#include <vector>

namespace tutti::cli {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string ToString() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace tutti::cli
