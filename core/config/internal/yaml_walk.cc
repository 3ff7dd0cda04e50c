#include "core/config/internal/schema.h"

namespace tutti::config_internal {
namespace {

// yaml-cpp reports tab indentation as "illegal map value"; say what is actually wrong.
std::string TabHint(const std::string& text) {
  size_t line = 0;
  while (line < text.size()) {
    const size_t indent_end = text.find_first_not_of(' ', line);
    if (indent_end != std::string::npos && text[indent_end] == '\t') {
      return " (tabs are not allowed for indentation in YAML; use spaces)";
    }
    const size_t newline = text.find('\n', line);
    if (newline == std::string::npos) break;
    line = newline + 1;
  }
  return "";
}

}  // namespace

Status ConfigErrors::ToStatus() const {
  if (messages_.empty()) return absl::OkStatus();
  std::string all;
  for (const std::string& m : messages_) all += (all.empty() ? "" : "\n") + m;
  return absl::InvalidArgumentError(all);
}

StatusOr<YAML::Node> LoadMappingDocument(const std::string& text, const std::string& source, const std::string& what) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(Location(source, e.mark) + ": YAML syntax error: " + e.msg + TabHint(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(Location(source, e.mark) + ": YAML error: " + e.msg);
  }
  if (documents.size() > 1) {
    return absl::InvalidArgumentError(Location(source, documents[1].Mark()) + ": expected one YAML document, found " +
                                      std::to_string(documents.size()));
  }
  if (documents.empty() || documents[0].IsNull()) {
    return absl::InvalidArgumentError(source + ": the file is empty; expected a mapping with keys such as " + what);
  }
  if (!documents[0].IsMap()) {
    return absl::InvalidArgumentError(Location(source, documents[0].Mark()) + ": expected a mapping with keys such as " +
                                      what + ", got " + DescribeNode(documents[0]));
  }
  return documents[0];
}

YAML::Mark ValueMark(const YAML::Node& value, const YAML::Node& key) {
  const YAML::Mark mark = value.Mark();
  return value.IsNull() || mark.is_null() || mark.line < 0 ? key.Mark() : mark;
}

std::string UnknownKeyHint(const std::vector<std::string>& siblings, const std::vector<std::string>& elsewhere,
                           const std::string& prefix, const std::string& name) {
  std::vector<std::string> suggestions;
  for (const std::string& sibling : ClosestMatches(name, siblings)) {
    suggestions.push_back(prefix.empty() ? sibling : prefix + "." + sibling);
  }
  if (suggestions.empty()) suggestions = elsewhere;
  if (!suggestions.empty()) return "; did you mean " + JoinOr(suggestions) + "?";
  std::string valid;
  for (const std::string& child : siblings) valid += (valid.empty() ? "" : ", ") + child;
  return "; valid keys " + (prefix.empty() ? std::string("at the top level") : "in " + prefix) + ": " + valid;
}

}  // namespace tutti::config_internal
