#include "core/config/internal/yaml_values.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace tutti::config_internal {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The scalar's text without a leading '+' (std::from_chars rejects it; YAML allows it). False for
// non-scalars and for null (`key:` with nothing, `~`, `null`).
bool ScalarText(const YAML::Node& node, std::string* text) {
  if (!node.IsScalar()) return false;
  *text = node.Scalar();
  if (!text->empty() && (*text)[0] == '+') text->erase(0, 1);
  return !text->empty();
}

template <typename T>
bool DecodeInteger(const YAML::Node& node, T* out) {
  std::string text;
  if (!ScalarText(node, &text)) return false;
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, 10);
  if (ec != std::errc() || ptr != end) return false;
  *out = value;
  return true;
}

}  // namespace

bool Decode(const YAML::Node& node, int* out) { return DecodeInteger(node, out); }
bool Decode(const YAML::Node& node, int64_t* out) { return DecodeInteger(node, out); }
// std::from_chars rejects a '-' sign for unsigned types, so "-1" fails rather than wrapping around.
bool Decode(const YAML::Node& node, uint64_t* out) { return DecodeInteger(node, out); }

bool Decode(const YAML::Node& node, double* out) {
  std::string text;
  if (!ScalarText(node, &text)) return false;
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) return false;
  *out = value;
  return true;
}

bool Decode(const YAML::Node& node, bool* out) {
  if (!node.IsScalar()) return false;
  const std::string word = Lower(node.Scalar());
  if (word == "true" || word == "yes" || word == "on") {
    *out = true;
  } else if (word == "false" || word == "no" || word == "off") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

bool Decode(const YAML::Node& node, std::string* out) {
  if (!node.IsScalar()) return false;  // null, sequence and mapping are not strings
  *out = node.Scalar();
  return true;
}

bool Decode(const YAML::Node& node, std::vector<std::string>* out) {
  std::vector<std::string> items;
  if (node.IsScalar()) {
    items.push_back(node.Scalar());
  } else if (node.IsSequence()) {
    for (const YAML::Node& item : node) {
      std::string s;
      if (!Decode(item, &s)) return false;
      items.push_back(std::move(s));
    }
  } else {
    return false;
  }
  *out = std::move(items);
  return true;
}

std::string DescribeNode(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "an empty value";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) {
    std::vector<std::string> items;
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) return "a sequence of non-scalars";
      items.push_back(item.Scalar());
    }
    return Show(items);
  }
  return Show(node.Scalar());
}

std::string Show(int64_t v) { return std::to_string(v); }
std::string Show(uint64_t v) { return std::to_string(v); }
std::string Show(int v) { return std::to_string(v); }
std::string Show(double v) { return FormatDouble(v); }
std::string Show(bool v) { return v ? "true" : "false"; }
std::string Show(const std::string& v) { return "'" + v + "'"; }
std::string Show(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + Show(v[i]);
  return s + "]";
}

std::string FormatDouble(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
  if (ec != std::errc()) return "?";
  return std::string(buf, ptr);
}

std::string Location(const std::string& source, const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return source;
  return source + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

size_t EditDistance(const std::string& a_in, const std::string& b_in) {
  const std::string a = Lower(a_in), b = Lower(b_in);
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> ClosestMatches(const std::string& key, const std::vector<std::string>& candidates) {
  // Close: within a third of the key's length (at least 2 edits), or one contains the other.
  const size_t limit = std::max<size_t>(2, key.size() / 3);
  const std::string lower_key = Lower(key);
  std::vector<std::pair<size_t, std::string>> scored;
  for (const std::string& candidate : candidates) {
    size_t d = EditDistance(key, candidate);
    const std::string lower = Lower(candidate);
    if (std::min(key.size(), candidate.size()) >= 3 &&
        (lower.find(lower_key) != std::string::npos || lower_key.find(lower) != std::string::npos)) {
      d = std::min<size_t>(d, 1);
    }
    if (d <= limit) scored.emplace_back(d, candidate);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> best;
  for (const auto& [d, name] : scored) {
    if (d != scored.front().first || best.size() == 3) break;  // only the nearest ones
    best.push_back(name);
  }
  return best;
}

std::string JoinOr(const std::vector<std::string>& items) {
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) s += (i + 1 == items.size()) ? " or " : ", ";
    s += items[i];
  }
  return s;
}

}  // namespace tutti::config_internal
