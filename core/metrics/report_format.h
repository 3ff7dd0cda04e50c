#pragma once
// Number formatting shared by the metrics and realism reports (metrics_report.cc, realism_report.cc): the same
// value prints the same way in both tables and both JSON documents.

#include <cmath>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace tutti {
namespace report_format {

// A finite number as JSON, NaN and infinities as null (JSON has no NaN).
inline nlohmann::json Num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// printf-formatted, "-" where the value is not finite (no data).
inline std::string Fmt(double v, const char* format = "%.4f") {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

// `s` padded with spaces to `width` (right-aligned unless left_align); longer strings stay whole.
inline std::string Pad(const std::string& s, size_t width, bool left_align = false) {
  if (s.size() >= width) return s;
  const std::string fill(width - s.size(), ' ');
  return left_align ? s + fill : fill + s;
}

}  // namespace report_format
}  // namespace tutti
