#include "vigie/sustainability/time.h"

#include <date/date.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "vigie/sustainability/meter.h"

namespace vigie::sustainability {

std::string format_time(int64_t unix_s) {
  return date::format("%FT%TZ", date::sys_seconds{std::chrono::seconds{unix_s}});
}

namespace {

// `n` digits of `s` at `at`, or -1.
int digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) return -1;
  int value = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    value = value * 10 + (s[i] - '0');
  }
  return value;
}

// RFC 3339 (section 5.6) by position: "YYYY-MM-DD" alone (midnight UTC), or
// with "THH:MM:SS", an optional fraction (dropped) and "Z" or "+HH:MM";
// 't', 'z' and a space for 'T' accepted. date::parse is not used: on a
// failed %T it converts an unset (NaN) seconds value to an integer.
std::optional<int64_t> rfc3339(std::string_view s) {
  const int y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2);
  if (y < 0 || mo < 0 || d < 0 || s[4] != '-' || s[7] != '-') return std::nullopt;
  const date::year_month_day day{date::year{y}, date::month{static_cast<unsigned>(mo)},
                                 date::day{static_cast<unsigned>(d)}};
  if (!day.ok()) return std::nullopt;
  int64_t t = date::sys_days{day}.time_since_epoch().count() * int64_t{86400};
  if (s.size() == 10) return t;
  if (s.size() < 20 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ')) return std::nullopt;
  const int h = digits(s, 11, 2), mi = digits(s, 14, 2), sec = digits(s, 17, 2);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60 || s[13] != ':' || s[16] != ':')
    return std::nullopt;
  t += h * 3600 + mi * 60 + sec;
  std::size_t at = 19;
  if (s[at] == '.') {
    const std::size_t first = ++at;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9') ++at;
    if (at == first) return std::nullopt;
  }
  const std::string_view zone = s.substr(at);
  if (zone == "Z" || zone == "z") return t;
  const int oh = digits(zone, 1, 2), om = digits(zone, 4, 2);
  if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':' || oh < 0 ||
      oh > 23 || om < 0 || om > 59)
    return std::nullopt;
  return t - (zone[0] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
}

}  // namespace

int64_t parse_time(std::string_view text, std::string_view field) {
  const std::string s(text);
  if (!s.empty() && s.size() < 16 &&
      std::all_of(s.begin() + (s[0] == '-' ? 1 : 0), s.end(),
                  [](char c) { return c >= '0' && c <= '9'; }) &&
      s != "-") {
    return std::stoll(s);  // Unix seconds
  }
  if (const auto t = rfc3339(s)) return *t;
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
