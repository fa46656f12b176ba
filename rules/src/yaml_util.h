// Helpers shared by the rule and correlation loaders: the first problem of a
// rule is thrown as a RuleError (inside the loader only) and becomes a Diagnostic.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "vigie/config/yaml.h"

namespace vigie::rules {

struct RuleError {
  int line;
  std::string message;
};

// 1-based line of `node` (config::line_of); `fallback` for missing nodes.
inline int line_of(const YAML::Node& node, int fallback) {
  const int line = config::line_of(node);
  return line == 0 ? fallback : line;
}

[[noreturn]] inline void refuse(const YAML::Node& node, int fallback_line, std::string message) {
  throw RuleError{line_of(node, fallback_line), std::move(message)};
}

// The scalar at parent[key]; empty when absent and not required.
inline std::string scalar(const YAML::Node& parent, const char* key, bool required,
                          int parent_line) {
  const YAML::Node node = parent[key];
  if (!node.IsDefined() || node.IsNull()) {
    if (required) refuse(parent, parent_line, std::string("missing '") + key + "'");
    return {};
  }
  if (!node.IsScalar()) refuse(node, parent_line, std::string("'") + key + "' must be a string");
  return node.Scalar();
}

}  // namespace vigie::rules
