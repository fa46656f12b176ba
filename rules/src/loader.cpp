// Sigma YAML → CompiledRule. Every yaml-cpp exception is caught here and
// turned into a Diagnostic: nothing escapes the load API.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "compiled_rule.h"
#include "vigie/rules/engine.h"

namespace vigie::rules {
namespace {

namespace fs = std::filesystem;
using protocol::EventKind;

constexpr std::array<std::string_view, 5> kLevels = {"informational", "low", "medium", "high",
                                                     "critical"};
constexpr std::array<std::string_view, 5> kStatuses = {"stable", "test", "experimental",
                                                       "deprecated", "unsupported"};

// Missing nodes (yaml-cpp "zombies") throw on Mark(): they take the fallback.
// 1-based first line of each YAML document in `text`: a document begins at
// the first content line, and again after each `---` marker that follows
// content. Comments and blank lines are not content.
std::vector<int> document_start_lines(std::string_view text) {
  std::vector<int> starts;
  bool in_document = false;  // content seen since the last marker
  int line = 0;
  for (std::size_t pos = 0; pos <= text.size();) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view l = text.substr(pos, end - pos);
    ++line;
    pos = end + 1;
    const bool marker = l.substr(0, 3) == "---" && (l.size() == 3 || l[3] == ' ' || l[3] == '\t' ||
                                                    l[3] == '\r' || l[3] == '#');
    const std::size_t first = l.find_first_not_of(" \t\r");
    const bool content = !marker && first != std::string_view::npos && l[first] != '#';
    if (marker) {
      in_document = false;
    } else if (content && !in_document) {
      starts.push_back(line);
      in_document = true;
    }
    if (end == text.size()) break;
  }
  return starts;
}

int line_of(const YAML::Node& node, int fallback) {
  if (!node.IsDefined()) return fallback;
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? fallback : mark.line + 1;
}

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& names, std::string_view value) {
  return std::find(names.begin(), names.end(), value) != names.end();
}

// Thrown inside compile_rule only, caught by its caller: the first problem of a rule.
struct RuleError {
  int line;
  std::string message;
};

[[noreturn]] void refuse(const YAML::Node& node, int fallback_line, std::string message) {
  throw RuleError{line_of(node, fallback_line), std::move(message)};
}

std::string scalar(const YAML::Node& parent, const char* key, bool required, int parent_line) {
  const YAML::Node node = parent[key];
  if (!node.IsDefined() || node.IsNull()) {
    if (required) refuse(parent, parent_line, std::string("missing '") + key + "'");
    return {};
  }
  if (!node.IsScalar()) refuse(node, parent_line, std::string("'") + key + "' must be a string");
  return node.Scalar();
}

EventKind event_kind_of(const YAML::Node& logsource, int rule_line) {
  if (!logsource.IsDefined() || !logsource.IsMap()) {
    refuse(logsource, rule_line, "missing or malformed 'logsource'");
  }
  const int line = line_of(logsource, rule_line);
  const std::string product = scalar(logsource, "product", false, line);
  const std::string category = scalar(logsource, "category", false, line);
  const std::string service = scalar(logsource, "service", false, line);
  if (product != "linux") {
    refuse(logsource, rule_line,
           "unsupported logsource: product '" + product + "' (only 'linux' maps to Vigie events)");
  }
  if (!service.empty()) {
    refuse(logsource["service"], line,
           "unsupported logsource: service '" + service + "' maps to no Vigie event");
  }
  if (category == "process_creation") return EventKind::kProcessExec;
  if (category == "network_connection") return EventKind::kNetworkConnect;
  refuse(logsource, rule_line,
         "unsupported logsource: category '" + category +
             "' (supported: process_creation, network_connection)");
}

FieldPredicate compile_field(EventKind kind, const std::string& key, const YAML::Node& value,
                             int line) {
  std::vector<std::string_view> parts;
  std::string_view rest = key;
  for (std::size_t bar; (bar = rest.find('|')) != std::string_view::npos;) {
    parts.push_back(rest.substr(0, bar));
    rest.remove_prefix(bar + 1);
  }
  parts.push_back(rest);
  const std::string field(parts.front());
  if (field.empty()) {
    refuse(value, line, "keyword search ('" + key + "') is not supported");
  }

  FieldPredicate predicate;
  predicate.accessor = resolve_field(kind, field);
  if (predicate.accessor == nullptr) {
    refuse(value, line,
           "unknown field '" + field + "' for logsource category " +
               (kind == EventKind::kProcessExec ? "process_creation" : "network_connection"));
  }
  bool leading = false, trailing = false, position_set = false;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const std::string_view mod = parts[i];
    if (mod == "all") {
      predicate.match_all = true;
      continue;
    }
    if (mod != "contains" && mod != "startswith" && mod != "endswith") {
      refuse(value, line,
             "unsupported modifier '" + std::string(mod) + "' on field '" + field + "'");
    }
    if (position_set) {
      refuse(value, line, "field '" + field + "' combines contains/startswith/endswith");
    }
    position_set = true;
    leading = mod != "startswith";
    trailing = mod != "endswith";
  }

  auto add_value = [&](const YAML::Node& item) {
    if (!item.IsScalar()) {
      refuse(item, line, "value of field '" + field + "' must be a scalar or a list of scalars");
    }
    predicate.patterns.emplace_back(item.Scalar(), leading, trailing);
  };
  if (value.IsNull()) {
    if (predicate.match_all || position_set) {
      refuse(value, line, "null value of field '" + field + "' takes no modifier");
    }
    predicate.match_absent = true;
  } else if (value.IsSequence()) {
    if (value.size() == 0) refuse(value, line, "empty value list for field '" + field + "'");
    for (const YAML::Node& item : value) add_value(item);
  } else {
    add_value(value);
  }
  return predicate;
}

std::vector<FieldPredicate> compile_group(EventKind kind, const YAML::Node& map, int line) {
  std::vector<FieldPredicate> group;
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) refuse(entry.first, line, "field name must be a string");
    group.push_back(
        compile_field(kind, entry.first.Scalar(), entry.second, line_of(entry.first, line)));
  }
  if (group.empty()) refuse(map, line, "empty selection");
  return group;
}

Selection compile_selection(EventKind kind, const std::string& name, const YAML::Node& node,
                            int line) {
  Selection selection;
  if (node.IsMap()) {
    selection.any_of.push_back(compile_group(kind, node, line));
  } else if (node.IsSequence() && node.size() > 0) {
    for (const YAML::Node& item : node) {
      if (!item.IsMap()) {
        refuse(item, line,
               "search identifier '" + name +
                   "': keyword (full-text) search is not supported; use field maps");
      }
      selection.any_of.push_back(compile_group(kind, item, line_of(item, line)));
    }
  } else {
    refuse(node, line, "search identifier '" + name + "' must be a map or a list of maps");
  }
  return selection;
}

}  // namespace

// Accumulates rules from files and text into one Engine.
class EngineBuilder {
 public:
  EngineBuilder() : engine_(std::make_shared<Engine>()) {}

  void add_path(const fs::path& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      add_directory(path);
    } else {
      add_file(path);
    }
  }

  void add_text(std::string_view text, const std::string& file) {
    // Documents are told apart here, not with YAML::LoadAll: Debian 12's
    // yaml-cpp 0.7 loops forever in LoadAll on some inputs (a lone ","),
    // growing memory (jbeder/yaml-cpp#1040, found by tests/fuzz).
    const std::vector<int> starts = document_start_lines(text);
    if (starts.size() > 1) {
      total_ += static_cast<int>(starts.size());
      diagnose(file, starts[1],
               "multi-document rule files (Sigma rule collections) are not supported");
      return;
    }
    ++total_;
    YAML::Node document;
    try {
      document = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      diagnose(file, e.mark.is_null() ? 0 : e.mark.line + 1, "invalid YAML: " + e.msg);
      return;
    }
    if (document.IsNull()) {
      diagnose(file, 0, "file holds no rule");
      return;
    }
    add_rule(document, file);
  }

  LoadResult finish() {
    LoadResult result;
    result.rules_total = total_;
    result.rules_loaded = static_cast<int>(engine_->infos_.size());
    result.diagnostics = std::move(diagnostics_);
    result.engine = std::move(engine_);
    return result;
  }

  void set_pack_version(std::string version) { engine_->pack_version_ = std::move(version); }

 private:
  void add_directory(const fs::path& dir) {
    std::vector<fs::path> files;
    std::error_code ec;
    fs::recursive_directory_iterator it(dir, ec), end;
    if (ec) {
      diagnose(dir.string(), 0, "cannot read directory: " + ec.message());
      return;
    }
    for (; it != end; it.increment(ec)) {
      if (ec) {
        diagnose(dir.string(), 0, "cannot read directory: " + ec.message());
        break;
      }
      if (it->is_directory() && it->path().filename() == "fixtures") {
        it.disable_recursion_pending();
        continue;
      }
      const auto ext = it->path().extension();
      if (it->is_regular_file() && (ext == ".yml" || ext == ".yaml")) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) add_file(file);
  }

  void add_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in || !text) {
      ++total_;
      diagnose(path.string(), 0, "cannot read rule file");
      return;
    }
    add_text(text.str(), path.string());
  }

  void add_rule(const YAML::Node& doc, const std::string& file) {
    const int line = line_of(doc, 1);
    try {
      if (!doc.IsMap()) refuse(doc, line, "a rule must be a YAML map");
      RuleInfo info;
      info.file = file;
      info.line = line;
      info.title = scalar(doc, "title", true, line);
      info.id = scalar(doc, "id", true, line);
      info.status = scalar(doc, "status", false, line);
      info.level = scalar(doc, "level", true, line);
      if (!one_of(kLevels, info.level))
        refuse(doc["level"], line, "unknown level '" + info.level + "'");
      if (!info.status.empty() && !one_of(kStatuses, info.status)) {
        refuse(doc["status"], line, "unknown status '" + info.status + "'");
      }
      if (const YAML::Node tags = doc["tags"]; tags.IsDefined() && !tags.IsNull()) {
        if (!tags.IsSequence()) refuse(tags, line, "'tags' must be a list");
        for (const YAML::Node& tag : tags) {
          if (!tag.IsScalar()) refuse(tag, line, "each tag must be a string");
          info.tags.push_back(tag.Scalar());
        }
      }
      if (doc["correlation"].IsDefined())
        refuse(doc["correlation"], line, "correlation rules are not supported");
      info.event_kind = event_kind_of(doc["logsource"], line);

      CompiledRule rule = compile_detection(info.event_kind, doc["detection"], line);
      if (const auto [it, inserted] = ids_.try_emplace(info.id, file + ":" + std::to_string(line));
          !inserted) {
        refuse(doc["id"], line,
               "duplicate rule id '" + info.id + "', first loaded from " + it->second);
      }
      rule.info_index = static_cast<uint32_t>(engine_->infos_.size());
      engine_->by_kind_[static_cast<std::size_t>(info.event_kind)].push_back(std::move(rule));
      engine_->infos_.push_back(std::move(info));
    } catch (const RuleError& e) {
      diagnose(file, e.line, e.message);
    } catch (const std::exception& e) {  // yaml-cpp conversions, allocation
      diagnose(file, line, std::string("cannot load rule: ") + e.what());
    }
  }

  static CompiledRule compile_detection(EventKind kind, const YAML::Node& detection, int line) {
    if (!detection.IsDefined() || !detection.IsMap()) {
      refuse(detection, line, "missing or malformed 'detection'");
    }
    CompiledRule rule;
    std::vector<std::string> names;
    std::vector<std::string> conditions;
    int condition_line = line_of(detection, line);
    for (const auto& entry : detection) {
      const int entry_line = line_of(entry.first, line);
      if (!entry.first.IsScalar()) refuse(entry.first, line, "search identifier must be a string");
      const std::string& name = entry.first.Scalar();
      if (name == "condition") {
        condition_line = entry_line;
        if (entry.second.IsScalar()) {
          conditions.push_back(entry.second.Scalar());
        } else if (entry.second.IsSequence()) {
          for (const YAML::Node& item : entry.second) {
            if (!item.IsScalar()) refuse(item, entry_line, "condition list items must be strings");
            conditions.push_back(item.Scalar());
          }
        } else {
          refuse(entry.second, entry_line, "condition must be a string or a list of strings");
        }
      } else if (name == "timeframe") {
        refuse(entry.first, line, "'timeframe' (aggregation over time) is not supported");
      } else {
        names.push_back(name);
        rule.selections.push_back(compile_selection(kind, name, entry.second, entry_line));
      }
    }
    if (conditions.empty()) refuse(detection, line, "detection has no 'condition'");
    std::string error;
    auto condition = Condition::parse(conditions, names, error);
    if (!condition) throw RuleError{condition_line, "condition: " + error};
    rule.condition = std::move(*condition);
    return rule;
  }

  void diagnose(std::string file, int line, std::string message) {
    diagnostics_.push_back(Diagnostic{std::move(file), line, std::move(message)});
  }

  std::shared_ptr<Engine> engine_;
  std::vector<Diagnostic> diagnostics_;
  std::unordered_map<std::string, std::string> ids_;  // rule id -> "file:line" that loaded it
  int total_ = 0;
};

LoadResult load_rules(const std::filesystem::path& path) {
  try {
    EngineBuilder builder;
    builder.add_path(path);
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::ifstream version(path / "VERSION");
      std::string line;
      if (version && std::getline(version, line)) {
        line.erase(line.find_last_not_of(" \t\r") + 1);
        builder.set_pack_version(std::move(line));
      }
    }
    return builder.finish();
  } catch (const std::exception& e) {  // allocation or filesystem failure
    LoadResult result;
    result.engine = std::make_shared<Engine>();
    result.diagnostics.push_back({path.string(), 0, std::string("cannot load rules: ") + e.what()});
    return result;
  }
}

LoadResult load_rules_yaml(std::string_view yaml, const std::string& file_name) {
  try {
    EngineBuilder builder;
    builder.add_text(yaml, file_name);
    return builder.finish();
  } catch (const std::exception& e) {
    LoadResult result;
    result.engine = std::make_shared<Engine>();
    result.diagnostics.push_back({file_name, 0, std::string("cannot load rules: ") + e.what()});
    return result;
  }
}

std::string LoadResult::summary() const {
  return "loaded " + std::to_string(rules_loaded) + " of " + std::to_string(rules_total) + " rules";
}

std::string to_string(const Diagnostic& diagnostic) {
  return diagnostic.file + ":" + std::to_string(diagnostic.line) + ": " + diagnostic.message;
}

}  // namespace vigie::rules
