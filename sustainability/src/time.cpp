#include "vigie/sustainability/time.h"

#include <date/date.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "vigie/sustainability/meter.h"

namespace vigie::sustainability {

std::string format_time(int64_t unix_s) {
  return date::format("%FT%TZ", date::sys_seconds{std::chrono::seconds{unix_s}});
}

int64_t parse_time(std::string_view text, std::string_view field) {
  const std::string s(text);
  if (!s.empty() && s.size() < 16 &&
      std::all_of(s.begin() + (s[0] == '-' ? 1 : 0), s.end(),
                  [](char c) { return c >= '0' && c <= '9'; }) &&
      s != "-") {
    return std::stoll(s);  // Unix seconds
  }
  for (const char* format : {"%FT%T%Ez", "%FT%TZ", "%F %T%Ez", "%F %TZ", "%F"}) {
    std::istringstream in(s);
    date::sys_seconds t;
    in >> date::parse(format, t);
    if (in && in.peek() == std::char_traits<char>::eof()) return t.time_since_epoch().count();
  }
  throw InputError(std::string(field) + ": '" + s +
                   "' is not a time (RFC 3339, YYYY-MM-DD or Unix seconds)");
}

int64_t parse_json_time(const nlohmann::json& value, std::string_view field) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number()) {
    const double v = value.get<double>();
    if (std::isfinite(v) && std::abs(v) < 1e15) return static_cast<int64_t>(v);
  }
  if (value.is_string())
    return parse_time(std::string_view(value.get_ref<const std::string&>()), field);
  throw InputError(std::string(field) + ": must be a time (RFC 3339 or Unix seconds)");
}

}  // namespace vigie::sustainability
