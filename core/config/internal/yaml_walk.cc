#include "core/config/internal/schema.h"

#include <sstream>

#include <yaml-cpp/eventhandler.h>

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

// yaml-cpp 0.7's LoadAll never returns on a stray top-level ',' (found by fuzz/job_yaml): the parser hands back
// an empty document without consuming the token, again and again, and LoadAll collects them until memory runs
// out. So the documents are walked first, and a document that starts where the previous one did is an error.
class DocumentStarts : public YAML::EventHandler {
 public:
  bool stuck() const { return stuck_; }
  const YAML::Mark& last() const { return last_; }
  void OnDocumentStart(const YAML::Mark& mark) override {
    stuck_ = seen_ && mark.pos <= last_.pos;
    seen_ = true;
    last_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  bool seen_ = false;
  bool stuck_ = false;
  YAML::Mark last_;
};

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
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    DocumentStarts starts;
    while (parser.HandleNextDocument(starts)) {
      if (starts.stuck()) {
        const size_t pos = static_cast<size_t>(starts.last().pos);
        return absl::InvalidArgumentError(Location(source, starts.last()) + ": YAML syntax error: unexpected '" +
                                          (pos < text.size() ? text.substr(pos, 1) : std::string()) + "'");
      }
    }
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
