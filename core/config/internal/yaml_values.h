#pragma once
// Internal to core/config: strict decoding of yaml-cpp nodes into C++ values, value formatting for
// messages and output, and "did you mean" suggestions. Not part of the public API.
//
// Decoding is stricter than yaml-cpp's own `as<T>()`: integers are decimal only (yaml-cpp reads "010" as
// octal 8), numbers must be finite and use the whole scalar, and booleans are the YAML 1.1 words
// (true/false, yes/no, on/off in any case). Every Decode returns false and leaves *out unchanged on failure.

#include <cstdint>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace tutti::config_internal {

bool Decode(const YAML::Node& node, int* out);
bool Decode(const YAML::Node& node, int64_t* out);
bool Decode(const YAML::Node& node, uint64_t* out);
bool Decode(const YAML::Node& node, double* out);
bool Decode(const YAML::Node& node, bool* out);
bool Decode(const YAML::Node& node, std::string* out);
// A sequence of scalars, or a single scalar as a one-element list.
bool Decode(const YAML::Node& node, std::vector<std::string>* out);

// How a node reads in "got ..." messages: 'sixteen', a mapping, a sequence, an empty value.
std::string DescribeNode(const YAML::Node& node);

// Values as they read in "got ..." messages: 16, 0.001, true, 'rock', ['rock', 'pop'].
std::string Show(int64_t v);
std::string Show(uint64_t v);
std::string Show(int v);
std::string Show(double v);
std::string Show(bool v);
std::string Show(const std::string& v);
std::string Show(const std::vector<std::string>& v);

// Shortest text that parses back to exactly `v` ("0.001", "1e-05", "25").
std::string FormatDouble(double v);

// "<source>:<line>:<col>" with 1-based line and column; just "<source>" when the mark is unknown.
std::string Location(const std::string& source, const YAML::Mark& mark);

// Case-insensitive Levenshtein distance.
size_t EditDistance(const std::string& a, const std::string& b);

// The candidates close enough to `key` to suggest (the best ones, at most three), nearest first; empty when
// nothing is close. A candidate that contains `key` (or is contained in it, 3+ characters) counts as close.
std::vector<std::string> ClosestMatches(const std::string& key, const std::vector<std::string>& candidates);

// "a, b or c".
std::string JoinOr(const std::vector<std::string>& items);

}  // namespace tutti::config_internal
