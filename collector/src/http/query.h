// What the collector's API handlers share: JSON answers and errors, and the
// strict query-string reader (every parameter known, each once).
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "http/request.h"

namespace vigie::collector {

inline Response json_response(int status, const nlohmann::json& body) {
  return {
      status, "application/json", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}};
}

inline Response error(int status, std::string message) {
  return json_response(status, {{"error", std::move(message)}});
}


inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `in` ('+' is a space in a query). Returns false on a bad escape.
inline bool url_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out += static_cast<char>(hi << 4 | lo);
      i += 2;
    } else if (plus_is_space && in[i] == '+') {
      out += ' ';
    } else {
      out += in[i];
    }
  }
  return true;
}

// The query string of one request, validated against the parameters a route accepts.
class Query {
 public:
  // Returns an error message, or nothing when `text` is well-formed and
  // names only `allowed` parameters, each once.
  std::optional<std::string> parse(std::string_view text,
                                   std::initializer_list<std::string_view> allowed) {
    while (!text.empty()) {
      const auto amp = text.find('&');
      const auto pair = text.substr(0, amp);
      text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      std::string key, value;
      if (!url_decode(pair.substr(0, eq), key, true) ||
          !url_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1),
                      value, true)) {
        return "malformed percent-encoding in the query string";
      }
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        return "unknown query parameter '" + key + "'";
      }
      if (!values_.emplace(key, std::move(value)).second)
        return "query parameter '" + key + "' given twice";
    }
    return std::nullopt;
  }

  // An unsigned integer parameter in [min, max]; `fallback` when absent.
  std::optional<std::string> number(const std::string& key, uint64_t& out, uint64_t fallback,
                                    uint64_t min, uint64_t max) const {
    const auto it = values_.find(key);
    if (it == values_.end()) {
      out = fallback;
      return std::nullopt;
    }
    const auto& text = it->second;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || out < min ||
        out > max) {
      return "query parameter '" + key + "' must be an integer in [" + std::to_string(min) + ", " +
             std::to_string(max) + "], got '" + text + "'";
    }
    return std::nullopt;
  }

  // A host name parameter: empty when absent.
  std::optional<std::string> host(std::string& out) const {
    const auto it = values_.find("host");
    out = it == values_.end() ? std::string() : it->second;
    if (it != values_.end() && (out.empty() || out.size() > 253 ||
                                std::any_of(out.begin(), out.end(), [](unsigned char c) {
                                  return c < 0x21 || c == 0x7f;
                                }))) {
      return "query parameter 'host' must be a host name";
    }
    return std::nullopt;
  }

  const std::string* get(const std::string& key) const {
    const auto it = values_.find(key);
    return it == values_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace vigie::collector
