#include "vigie/config/yaml.h"

namespace vigie::config {

int line_of(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

std::string where(const std::string& source, const YAML::Node& node) {
  const int line = line_of(node);
  if (line == 0) return source.empty() ? "configuration" : source;
  return source.empty() ? "line " + std::to_string(line) : source + ":" + std::to_string(line);
}

void fail(const std::string& source, const YAML::Node& node, const std::string& what) {
  throw ConfigError(where(source, node) + ": " + what);
}

YAML::Node load(const std::string& source, const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    const std::string at = source.empty() ? "line " + std::to_string(e.mark.line + 1)
                                          : source + ":" + std::to_string(e.mark.line + 1);
    throw ConfigError(at + ": invalid YAML: " + e.msg);
  } catch (const YAML::Exception& e) {
    throw ConfigError((source.empty() ? "configuration" : source) + ": invalid YAML: " + e.msg);
  }
}

void check_keys(const std::string& source, const YAML::Node& map, const std::string& context,
                const std::set<std::string>& known) {
  if (!map.IsMap()) fail(source, map, "'" + context + "' must be a mapping");
  for (const auto& entry : map) {
    const auto key = entry.first.as<std::string>();
    if (!known.contains(key)) fail(source, entry.first, "unknown key '" + context + key + "'");
  }
}

void for_each_key(const std::string& source, const YAML::Node& map, const std::string& context,
                  const KeyHandlers& handlers) {
  if (!map) return;
  if (!map.IsMap()) fail(source, map, "'" + context + "' must be a mapping");
  for (const auto& entry : map) {
    const auto key = entry.first.as<std::string>();
    const auto it = handlers.find(key);
    if (it == handlers.end()) fail(source, entry.first, "unknown key '" + context + key + "'");
    it->second(entry.second);
  }
}

bool parse_hex_digest(const std::string& hex, std::array<unsigned char, 32>& out) {
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

}  // namespace vigie::config
