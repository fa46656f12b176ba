// The one reader of Vigie's YAML configuration files (the agent's, the
// collector's and its sections', the threshold rules'): every error names
// the file and the line, unknown keys are errors (a typo must never fall back
// to a default silently), and values are read one way.
//
// Error format: "<source>:<line>: <what>", "line <line>: <what>" when the
// text has no file (parsed from a string), "<source>: <what>" when the node
// has no position (a key that is absent).
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

namespace vigie::config {

// A configuration error, with its position in the message.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// 1-based line of `node`; 0 when it has none (an absent node: yaml-cpp's
// "zombie" nodes throw on Mark(), so this checks first).
int line_of(const YAML::Node& node);

// "<source>:<line>", "line <line>" or "<source>", as in the file comment.
std::string where(const std::string& source, const YAML::Node& node);

// Throws ConfigError "<where>: <what>".
[[noreturn]] void fail(const std::string& source, const YAML::Node& node, const std::string& what);

// Parses YAML text; a syntax error is a ConfigError naming `source` and the line.
YAML::Node load(const std::string& source, const std::string& text);

// Rejects keys of `map` outside `known`; fails when `map` is not a mapping.
// `context` prefixes the key in the message ("tls.").
void check_keys(const std::string& source, const YAML::Node& map, const std::string& context,
                const std::set<std::string>& known);

// Calls the handler of each key of `map`; an unknown key fails. An absent
// `map` does nothing; one that is not a mapping fails.
using KeyHandlers = std::map<std::string, std::function<void(const YAML::Node&)>>;
void for_each_key(const std::string& source, const YAML::Node& map, const std::string& context,
                  const KeyHandlers& handlers);

// `node` as T, or fail() naming `key` ("'<key>' has an invalid value").
template <typename T>
T scalar(const std::string& source, const YAML::Node& node, const std::string& key) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    fail(source, node, "'" + key + "' has an invalid value");
  }
}

// 64 hex digits (either case) into 32 bytes (a SHA-256 digest); false on any
// other input.
bool parse_hex_digest(const std::string& hex, std::array<unsigned char, 32>& out);

}  // namespace vigie::config
