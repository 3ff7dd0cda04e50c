#pragma once
// Internal to core/config: the generic machinery every Tutti config file shares — job files, experiment
// files and the coordinator's settings. A Schema<Root> is the one table of a root type's fields (dotted
// key paths, any depth of sections); the functions below walk YAML against it, so every file gets the same
// file:line:col errors, key paths, "did you mean", typed ranges, --set overrides and printing.
//
// Adding a config type: a struct with documented defaults, a table of SchemaField<Root> (MakeField
// helpers in field_builders.h), and thin public functions over ParseDocument / ApplyOverride / EmitYaml /
// ValidateFields.
//
// Errors are collected, not thrown: parsing goes on past a bad key or value so `tutti validate` can list
// every error of a file at once; the public Parse* functions return them all (one per line) in one
// InvalidArgument, first error first.
//
// Thread-safety: schemas are immutable after construction; the functions are reentrant.

#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/base/status.h"
#include "core/config/internal/yaml_values.h"

namespace tutti::config_internal {

template <typename Root>
struct SchemaField {
  // Dotted key path as written in YAML and --set: "train.batch_size", "searcher.asha.divisor".
  std::string path;
  // What a valid value is, completing "expected ...": "a positive integer", "one of auto, mpi, nccl".
  std::string expected;
  // Decodes `node` and stores it when its type and range are right; false (root untouched) otherwise.
  std::function<bool(const YAML::Node&, Root*)> set;
  // True when the current value is in range (for configs built in code).
  std::function<bool(const Root&)> valid;
  // The current value as it reads in messages ("16", "'rock'").
  std::function<std::string(const Root&)> show;
  // Writes the current value (the key has already been written).
  std::function<void(const Root&, YAML::Emitter*)> emit;
  // Field-wise equality of two roots.
  std::function<bool(const Root&, const Root&)> same;
};

// Collects config errors ("<location>: <key.path>: expected ..., got ...") in the order found.
class ConfigErrors {
 public:
  void Add(std::string message) { messages_.push_back(std::move(message)); }
  void Add(const Status& status) {
    if (!status.ok()) messages_.emplace_back(status.message());
  }
  bool empty() const { return messages_.empty(); }
  const std::vector<std::string>& messages() const { return messages_; }
  // OK when empty; otherwise InvalidArgument with every message, one per line.
  Status ToStatus() const;

 private:
  std::vector<std::string> messages_;
};

// A section whose YAML the schema does not describe field by field (an experiment's hyperparameters: its
// keys are job key paths). The parser hands it the section's node and reports what it adds.
template <typename Root>
using CustomSection = std::function<void(const YAML::Node& node, const YAML::Node& key, const std::string& source,
                                         Root* root, ConfigErrors* errors)>;

template <typename Root>
class Schema {
 public:
  explicit Schema(std::vector<SchemaField<Root>> fields, std::map<std::string, CustomSection<Root>> custom = {})
      : fields_(std::move(fields)), custom_(std::move(custom)) {}

  const std::vector<SchemaField<Root>>& fields() const { return fields_; }
  const std::map<std::string, CustomSection<Root>>& custom_sections() const { return custom_; }

  const SchemaField<Root>* Find(const std::string& path) const {
    for (const auto& f : fields_) {
      if (f.path == path) return &f;
    }
    return nullptr;
  }
  // True when `path` names a section: some field path starts with "path.".
  bool IsSection(const std::string& path) const {
    if (path.empty()) return false;
    for (const auto& f : fields_) {
      if (f.path.size() > path.size() && f.path.compare(0, path.size(), path) == 0 && f.path[path.size()] == '.') {
        return true;
      }
    }
    return false;
  }
  // Names directly under `prefix` ("" = top level): fields and sections, in table order, no duplicates;
  // custom sections too.
  std::vector<std::string> ChildNames(const std::string& prefix) const {
    std::vector<std::string> names;
    std::set<std::string> seen;
    const std::string start = prefix.empty() ? "" : prefix + ".";
    auto add = [&](const std::string& path) {
      if (path.compare(0, start.size(), start) != 0 || path.size() == start.size()) return;
      const std::string rest = path.substr(start.size());
      const std::string name = rest.substr(0, rest.find('.'));
      if (seen.insert(name).second) names.push_back(name);
    };
    for (const auto& f : fields_) add(f.path);
    for (const auto& [path, parser] : custom_) add(path);
    return names;
  }
  // Every field path, in table order.
  std::vector<std::string> KeyPaths() const {
    std::vector<std::string> paths;
    for (const auto& f : fields_) paths.push_back(f.path);
    return paths;
  }
  // Full paths of fields whose last component is close to `leaf` ("batch_size" -> train.batch_size).
  std::vector<std::string> PathsWithLeafLike(const std::string& leaf) const {
    std::vector<std::string> leaves;
    std::set<std::string> seen;
    for (const auto& f : fields_) {
      if (seen.insert(Leaf(f.path)).second) leaves.push_back(Leaf(f.path));
    }
    std::vector<std::string> paths;
    for (const std::string& match : ClosestMatches(leaf, leaves)) {
      for (const auto& f : fields_) {
        if (Leaf(f.path) == match) paths.push_back(f.path);
      }
    }
    return paths;
  }
  // Every field path close to `path` (for --set suggestions).
  std::vector<std::string> PathsLike(const std::string& path) const {
    std::vector<std::string> suggestions = ClosestMatches(path, KeyPaths());
    if (suggestions.empty()) suggestions = PathsWithLeafLike(Leaf(path));
    return suggestions;
  }

  static std::string Leaf(const std::string& path) { return path.substr(path.rfind('.') + 1); }

 private:
  std::vector<SchemaField<Root>> fields_;
  std::map<std::string, CustomSection<Root>> custom_;
};

// Re-roots `inner` fields into Outer through `get` (Outer& -> Inner&, also callable on const), with an
// optional path prefix: an experiment file embeds every job key at its top level.
template <typename Outer, typename Inner, typename Get>
std::vector<SchemaField<Outer>> Embed(const std::vector<SchemaField<Inner>>& inner, Get get,
                                      const std::string& prefix = "") {
  std::vector<SchemaField<Outer>> out;
  for (const SchemaField<Inner>& f : inner) {
    SchemaField<Outer> g;
    g.path = prefix.empty() ? f.path : prefix + "." + f.path;
    g.expected = f.expected;
    g.set = [set = f.set, get](const YAML::Node& n, Outer* o) { return set(n, &get(*o)); };
    g.valid = [valid = f.valid, get](const Outer& o) { return valid(get(o)); };
    g.show = [show = f.show, get](const Outer& o) { return show(get(o)); };
    g.emit = [emit = f.emit, get](const Outer& o, YAML::Emitter* e) { emit(get(o), e); };
    g.same = [same = f.same, get](const Outer& a, const Outer& b) { return same(get(a), get(b)); };
    out.push_back(std::move(g));
  }
  return out;
}

// --- the walk (yaml_walk.cc holds the non-template parts) ---

// Loads `text` as exactly one YAML document holding a mapping. Errors (syntax with yaml-cpp's position and
// a tab hint, several documents, empty, not a mapping) name `source`; `what` completes "expected a mapping
// with keys such as ..." ("name, data, model, train").
StatusOr<YAML::Node> LoadMappingDocument(const std::string& text, const std::string& source, const std::string& what);

// Where to point for a bad value: the value, except for an empty value, whose mark yaml-cpp places at the
// start of the next line; then at its key.
YAML::Mark ValueMark(const YAML::Node& value, const YAML::Node& key);

// "; did you mean train.batch_size?" or "; valid keys in train: ...".
std::string UnknownKeyHint(const std::vector<std::string>& siblings, const std::vector<std::string>& elsewhere,
                           const std::string& prefix, const std::string& name);

// Walks one mapping against `schema`, setting fields, recursing into sections, handing custom sections to
// their parsers; every problem goes to `errors` and the walk continues with the next key.
template <typename Root>
void ParseMapping(const Schema<Root>& schema, const YAML::Node& map, const std::string& prefix,
                  const std::string& source, Root* root, ConfigErrors* errors) {
  std::map<std::string, YAML::Mark> seen;
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    const YAML::Node& value = entry.second;
    if (!key.IsScalar()) {
      errors->Add(Location(source, key.Mark()) + ": " + (prefix.empty() ? std::string("top level") : prefix) +
                  ": keys must be plain names, got " + DescribeNode(key));
      continue;
    }
    const std::string path = prefix.empty() ? key.Scalar() : prefix + "." + key.Scalar();
    const auto [first, inserted] = seen.emplace(key.Scalar(), key.Mark());
    if (!inserted) {
      errors->Add(Location(source, key.Mark()) + ": " + path + ": duplicate key (first set at " +
                  Location(source, first->second) + ")");
      continue;
    }
    if (auto custom = schema.custom_sections().find(path); custom != schema.custom_sections().end()) {
      custom->second(value, key, source, root, errors);
    } else if (const SchemaField<Root>* field = schema.Find(path)) {
      if (!field->set(value, root)) {
        errors->Add(Location(source, ValueMark(value, key)) + ": " + path + ": expected " + field->expected +
                    ", got " + DescribeNode(value));
      }
    } else if (schema.IsSection(path)) {
      if (value.IsNull()) continue;  // "train:" with nothing under it keeps the defaults
      if (!value.IsMap()) {
        errors->Add(Location(source, ValueMark(value, key)) + ": " + path + ": expected a mapping of " + path +
                    " keys, got " + DescribeNode(value));
        continue;
      }
      ParseMapping(schema, value, path, source, root, errors);
    } else {
      errors->Add(Location(source, key.Mark()) + ": " + path + ": unknown key" +
                  UnknownKeyHint(schema.ChildNames(prefix), schema.PathsWithLeafLike(key.Scalar()), prefix,
                                 key.Scalar()));
    }
  }
}

// Applies one "key.path=value" assignment (the value parsed as YAML). Errors read
// "--set <assignment>: ...". `root` is unchanged on error.
template <typename Root>
Status ApplyOverride(const Schema<Root>& schema, const std::string& assignment, Root* root) {
  const std::string context = "--set " + assignment;
  const size_t eq = assignment.find('=');
  std::string path = eq == std::string::npos ? assignment : assignment.substr(0, eq);
  path.erase(0, path.find_first_not_of(" \t"));
  path.erase(path.find_last_not_of(" \t") + 1);
  if (eq == std::string::npos || path.empty()) {
    return absl::InvalidArgumentError(context + ": expected key.path=value, e.g. train.batch_size=64");
  }
  const SchemaField<Root>* field = schema.Find(path);
  if (field == nullptr) {
    if (schema.IsSection(path)) {
      std::string keys;
      for (const std::string& child : schema.ChildNames(path)) keys += (keys.empty() ? "" : ", ") + path + "." + child;
      return absl::InvalidArgumentError(context + ": " + path + " is a section; set one of its keys: " + keys);
    }
    const std::vector<std::string> suggestions = schema.PathsLike(path);
    return absl::InvalidArgumentError(context + ": unknown key " + path +
                                      (suggestions.empty() ? std::string("; see configs/reference.yaml for the keys")
                                                           : "; did you mean " + JoinOr(suggestions) + "?"));
  }
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(context + ": YAML syntax error in the value at column " +
                                      std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!field->set(value, root)) {
    return absl::InvalidArgumentError(context + ": expected " + field->expected + ", got " + DescribeNode(value));
  }
  return absl::OkStatus();
}

// The first field out of range: "train.beta1: expected a number in [0, 1), got 1".
template <typename Root>
Status ValidateFields(const Schema<Root>& schema, const Root& root, ConfigErrors* errors = nullptr) {
  Status first;
  for (const auto& f : schema.fields()) {
    if (!f.valid(root)) {
      Status s = absl::InvalidArgumentError(f.path + ": expected " + f.expected + ", got " + f.show(root));
      if (errors != nullptr) errors->Add(s);
      if (first.ok()) first = s;
    }
  }
  return first;
}

// Every field as YAML, nested by section (any depth), in table order. `skip` leaves out paths under the
// given prefixes (e.g. the job keys, written elsewhere).
template <typename Root>
void EmitFields(const Schema<Root>& schema, const Root& root, YAML::Emitter* out) {
  std::vector<std::string> open;  // the sections currently open
  for (const auto& f : schema.fields()) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      const size_t dot = f.path.find('.', start);
      parts.push_back(f.path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    const std::vector<std::string> sections(parts.begin(), parts.end() - 1);
    size_t common = 0;
    while (common < open.size() && common < sections.size() && open[common] == sections[common]) ++common;
    while (open.size() > common) {
      *out << YAML::EndMap;
      open.pop_back();
    }
    for (size_t i = common; i < sections.size(); ++i) {
      *out << YAML::Key << sections[i] << YAML::Value << YAML::BeginMap;
      open.push_back(sections[i]);
    }
    *out << YAML::Key << parts.back() << YAML::Value;
    f.emit(root, out);
  }
  while (!open.empty()) {
    *out << YAML::EndMap;
    open.pop_back();
  }
}

template <typename Root>
bool SameFields(const Schema<Root>& schema, const Root& a, const Root& b) {
  for (const auto& f : schema.fields()) {
    if (!f.same(a, b)) return false;
  }
  return true;
}

}  // namespace tutti::config_internal
