// Times as the reports and the API write and read them (UTC).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace vigie::sustainability {

// RFC 3339 UTC, to the second: "2025-01-01T00:00:00Z".
std::string format_time(int64_t unix_s);

// Unix seconds from a JSON number or a string: Unix seconds, RFC 3339 with a
// Z or an offset, or a date "YYYY-MM-DD" (midnight UTC). Throws InputError
// naming `field`.
int64_t parse_json_time(const nlohmann::json& value, std::string_view field);
int64_t parse_time(std::string_view text, std::string_view field);

}  // namespace vigie::sustainability
