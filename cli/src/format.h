// What several of vigie's commands read or write the same way: durations
// (--since), local times, query strings.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

namespace vigie::cli {

// "90s", "10m", "2h", "7d" → ns. Nothing when malformed or out of range.
std::optional<uint64_t> parse_duration_ns(const std::string& text);

// Local time, ISO 8601 with offset: 2024-05-01T14:03:07+0200.
std::string local_time(uint64_t time_ns);

// "?key=value&…" with the values percent-encoded (RFC 3986 unreserved kept);
// empty values left out; "" when all are.
std::string query(std::initializer_list<std::pair<const char*, std::string>> params);

}  // namespace vigie::cli
