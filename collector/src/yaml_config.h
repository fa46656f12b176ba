// Helpers shared by the collector's configuration parsers (config.cpp and
// one *_config.cpp per section): errors carry the file and line, unknown keys
// are errors, and hex digests are parsed one way. Internal to vigie::collector.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <set>
#include <stdexcept>
#include <string>

namespace vigie::collector::yaml_config {

// Throws std::runtime_error "<path>:<line>: <what>" (line of `node` when known).
[[noreturn]] inline void fail(const std::string& path, const YAML::Node& node,
                              const std::string& what) {
  std::string where = path;
  if (node.IsDefined() && node.Mark().line >= 0)
    where += ":" + std::to_string(node.Mark().line + 1);
  throw std::runtime_error(where + ": " + what);
}

// Rejects keys outside `known`: a typo must not silently fall back to a
// default. `context` prefixes the key in the message ("tls.").
inline void check_keys(const std::string& path, const YAML::Node& map, const std::string& context,
                       const std::set<std::string>& known) {
  if (!map.IsMap()) fail(path, map, context + " must be a mapping");
  for (const auto& entry : map) {
    const auto key = entry.first.as<std::string>();
    if (!known.contains(key)) fail(path, entry.first, "unknown key '" + context + key + "'");
  }
}

// `node` as T, or fail() naming `key`.
template <typename T>
T scalar(const std::string& path, const YAML::Node& node, const std::string& key) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    fail(path, node, "'" + key + "' has an invalid value");
  }
}

// 64 hex digits (either case) into 32 bytes; false on any other input.
inline bool parse_hex_digest(const std::string& hex, std::array<unsigned char, 32>& out) {
  if (hex.size() != 64) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

}  // namespace vigie::collector::yaml_config
