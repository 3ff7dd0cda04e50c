#pragma once
// Internal to core/config: building SchemaField entries (schema.h) from accessors, the range rules and
// the "expected ..." phrases every config type shares.
//
//   MakeField<ExperimentConfig>("searcher.divisor",
//       [](auto& c) -> auto& { return c.searcher.divisor; }, "an integer >= 2", AtLeast(2));

#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/config/internal/schema.h"
#include "core/config/internal/yaml_values.h"

namespace tutti::config_internal {

inline void EmitValue(int v, YAML::Emitter* out) { *out << v; }
inline void EmitValue(int64_t v, YAML::Emitter* out) { *out << v; }
inline void EmitValue(uint64_t v, YAML::Emitter* out) { *out << v; }
inline void EmitValue(bool v, YAML::Emitter* out) { *out << v; }
// Plain scalar: FormatDouble's text ("0.001", "1e-05") is valid YAML and reads back bit-exactly.
inline void EmitValue(double v, YAML::Emitter* out) { *out << FormatDouble(v); }
// Quoted so that names like "yes", "123" or "~" stay strings for any YAML reader.
inline void EmitValue(const std::string& v, YAML::Emitter* out) { *out << YAML::DoubleQuoted << v; }
inline void EmitValue(const std::vector<std::string>& v, YAML::Emitter* out) {
  *out << YAML::Flow << YAML::BeginSeq;
  for (const std::string& s : v) *out << YAML::DoubleQuoted << s;
  *out << YAML::EndSeq;
}

// `get` is a generic accessor `[](auto& c) -> auto& { ... }` working on const and mutable roots; `ok` is
// the range rule on the decoded value.
template <typename Root, typename Get, typename Ok>
SchemaField<Root> MakeField(std::string path, Get get, std::string expected, Ok ok) {
  using T = std::decay_t<decltype(get(std::declval<Root&>()))>;
  SchemaField<Root> f;
  f.path = std::move(path);
  f.expected = std::move(expected);
  f.set = [get, ok](const YAML::Node& node, Root* root) {
    T value{};
    if (!Decode(node, &value) || !ok(value)) return false;
    get(*root) = std::move(value);
    return true;
  };
  f.valid = [get, ok](const Root& root) { return ok(get(root)); };
  f.show = [get](const Root& root) { return Show(get(root)); };
  f.emit = [get](const Root& root, YAML::Emitter* out) { EmitValue(get(root), out); };
  f.same = [get](const Root& a, const Root& b) { return get(a) == get(b); };
  return f;
}

// Range rules. Decoding already guarantees the type (and finiteness for doubles).
inline const auto kAnyValue = [](const auto&) { return true; };
inline const auto kPositiveValue = [](const auto& v) { return v > 0; };
inline const auto kNonNegativeValue = [](const auto& v) { return v >= 0; };
inline const auto kNonEmptyString = [](const std::string& s) { return !s.empty(); };
inline auto AtLeast(double low) {
  return [low](const auto& v) { return static_cast<double>(v) >= low; };
}
inline auto OneOfNames(std::vector<std::string> allowed) {
  return [allowed = std::move(allowed)](const std::string& s) {
    for (const std::string& a : allowed) {
      if (s == a) return true;
    }
    return false;
  };
}
inline const auto kNamesWithoutEmpty = [](const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    if (n.empty()) return false;
  }
  return true;
};

}  // namespace tutti::config_internal
