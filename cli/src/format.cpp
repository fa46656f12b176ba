#include "format.h"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <exception>

namespace vigie::cli {

std::optional<uint64_t> parse_duration_ns(const std::string& text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text.front()))) return std::nullopt;
  std::size_t used = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string unit = text.substr(used);
  uint64_t scale = 0;
  if (unit == "s")
    scale = 1'000'000'000ull;
  else if (unit == "m")
    scale = 60'000'000'000ull;
  else if (unit == "h")
    scale = 3'600'000'000'000ull;
  else if (unit == "d")
    scale = 86'400'000'000'000ull;
  if (scale == 0 || value > UINT64_MAX / scale) return std::nullopt;
  return value * scale;
}

std::string local_time(uint64_t time_ns) {
  const std::time_t seconds = static_cast<std::time_t>(time_ns / 1'000'000'000ull);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S%z", &tm);
  return text;
}

std::string query(std::initializer_list<std::pair<const char*, std::string>> params) {
  std::string out;
  for (const auto& [key, value] : params) {
    if (value.empty()) continue;
    out += (out.empty() ? "?" : "&") + std::string(key) + "=";
    for (unsigned char c : value) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        char escaped[4];
        std::snprintf(escaped, sizeof escaped, "%%%02X", c);
        out += escaped;
      }
    }
  }
  return out;
}

}  // namespace vigie::cli
