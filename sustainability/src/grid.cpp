#include "vigie/sustainability/grid.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace vigie::sustainability {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-
// Compatible Low-Level Date Algorithms", days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int64_t utc_seconds(int y, int mo, int d, int h, int mi, int s) {
  return days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
         h * 3600 + mi * 60 + s;
}

// Last Sunday of `month` at 01:00 UTC: EU summer time starts (March) and ends (October) then.
int64_t eu_switch(int year, int month) {
  int64_t last = days_from_civil(year, static_cast<unsigned>(month), 31);
  int64_t weekday = (last + 4) % 7;  // 1970-01-01 was a Thursday (4); 0 = Sunday
  if (weekday < 0) weekday += 7;
  return (last - weekday) * 86400 + 3600;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '"' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '"' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view line, char sep) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    size_t end = line.find(sep, start);
    out.push_back(trim(line.substr(start, end == std::string_view::npos ? end : end - start)));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool parse_int(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_double(std::string_view s, double& out) {
  std::string text(s);
  std::replace(text.begin(), text.end(), ',', '.');  // French decimal comma
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size() && std::isfinite(out);
}

// "YYYY-MM-DD" or "DD/MM/YYYY".
bool parse_date(std::string_view s, int& y, int& m, int& d) {
  if (s.size() == 10 && s[4] == '-' && s[7] == '-')
    return parse_int(s.substr(0, 4), y) && parse_int(s.substr(5, 2), m) &&
           parse_int(s.substr(8, 2), d) && m >= 1 && m <= 12 && d >= 1 && d <= 31;
  if (s.size() == 10 && s[2] == '/' && s[5] == '/')
    return parse_int(s.substr(6, 4), y) && parse_int(s.substr(3, 2), m) &&
           parse_int(s.substr(0, 2), d) && m >= 1 && m <= 12 && d >= 1 && d <= 31;
  return false;
}

// "HH:MM" or "HH:MM:SS".
bool parse_clock(std::string_view s, int& h, int& mi, int& sec) {
  sec = 0;
  if (s.size() != 5 && s.size() != 8) return false;
  return s[2] == ':' && parse_int(s.substr(0, 2), h) && parse_int(s.substr(3, 2), mi) &&
         (s.size() == 5 || (s[5] == ':' && parse_int(s.substr(6, 2), sec))) && h < 24 && mi < 60 &&
         sec < 61;
}

// Unix seconds, or ISO 8601 UTC.
bool parse_time(std::string_view s, uint64_t& out) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc();
  }
  int64_t offset = 0;  // of local time from UTC, seconds
  if (s.ends_with("Z")) {
    s.remove_suffix(1);
  } else if (s.size() > 19 && (s[s.size() - 6] == '+' || s[s.size() - 6] == '-') &&
             s[s.size() - 3] == ':') {
    int oh = 0, om = 0;
    if (!parse_int(s.substr(s.size() - 5, 2), oh) || !parse_int(s.substr(s.size() - 2), om))
      return false;
    offset = (s[s.size() - 6] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    s.remove_suffix(6);
  }
  int y, m, d, h, mi, sec;
  if (s.size() < 16 || (s[10] != 'T' && s[10] != ' ') || !parse_date(s.substr(0, 10), y, m, d) ||
      !parse_clock(s.substr(11), h, mi, sec))
    return false;
  int64_t t = utc_seconds(y, m, d, h, mi, sec) - offset;
  if (t < 0) return false;
  out = static_cast<uint64_t>(t);
  return true;
}

}  // namespace

uint64_t paris_local_to_utc(int year, int month, int day, int hour, int minute) {
  int64_t local = utc_seconds(year, month, day, hour, minute, 0);
  int64_t summer = local - 7200;  // CEST, UTC+2
  if (summer >= eu_switch(year, 3) && summer < eu_switch(year, 10))
    return static_cast<uint64_t>(summer);
  return static_cast<uint64_t>(local - 3600);  // CET, UTC+1
}

TimeSeries TimeSeries::parse_csv(std::string_view text, std::string_view value_column) {
  TimeSeries series;
  size_t line_no = 0;
  char sep = 0;
  int time_col = -1, value_col = -1, date_col = -1, hour_col = -1;
  uint64_t last_local_t = 0;  // the previous row's time, eCO2mix local times
  auto fail = [&](const std::string& why) {
    throw std::runtime_error("line " + std::to_string(line_no) + ": " + why);
  };
  for (size_t pos = 0; pos < text.size();) {
    size_t eol = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    ++line_no;
    if (trim(line).empty() || line.starts_with("#")) continue;
    if (!sep) {
      sep = line.find('\t') != std::string_view::npos  ? '\t'
            : line.find(';') != std::string_view::npos ? ';'
                                                       : ',';
      auto header = split(line, sep);
      for (int i = 0; i < static_cast<int>(header.size()); ++i) {
        std::string h = lower(header[static_cast<size_t>(i)]);
        // ODRÉ's eCO2mix export has "Date - Heure" with its offset: the time to use.
        if (h == "time" || h == "timestamp" || h.starts_with("datetime") || h == "date - heure")
          time_col = i;
        if (h == "date") date_col = i;
        if (h == "heures") hour_col = i;
        const std::string v = lower(value_column);
        // "Taux de Co2" (RTE's download), "Taux de CO2 (g/kWh)" (ODRÉ's export).
        if (h == v || h.starts_with("taux de co2") || h.ends_with("(" + v + ")")) value_col = i;
      }
      bool eco2mix = date_col >= 0 && hour_col >= 0;
      if (value_col < 0 || (time_col < 0 && !eco2mix))
        fail(
            "header names no time column (time, timestamp, datetime; or eCO2mix Date and "
            "Heures) or no '" +
            std::string(value_column) + "' / 'Taux de Co2' column");
      continue;
    }
    auto cells = split(line, sep);
    auto cell = [&](int i) {
      return i < static_cast<int>(cells.size()) ? cells[static_cast<size_t>(i)]
                                                : std::string_view{};
    };
    if (cell(value_col).empty() || cell(value_col) == "ND") continue;  // eCO2mix forecast rows
    double value = 0;
    if (!parse_double(cell(value_col), value) || value < 0)
      fail("value '" + std::string(cell(value_col)) + "' is not a non-negative number");
    uint64_t t = 0;
    if (time_col >= 0) {
      if (!parse_time(cell(time_col), t))
        fail("time '" + std::string(cell(time_col)) + "' is neither Unix seconds nor ISO 8601 UTC");
    } else {
      int y = 0, m = 0, d = 0, h = 0, mi = 0, sec = 0;
      if (!parse_date(cell(date_col), y, m, d) || !parse_clock(cell(hour_col), h, mi, sec))
        fail("date/hour '" + std::string(cell(date_col)) + " " + std::string(cell(hour_col)) +
             "' malformed");
      t = paris_local_to_utc(y, m, d, h, mi);
      // The October fold lists 02:00-02:59 twice, summer time first: a time
      // that does not move forward there is the second, in winter time.
      if (t <= last_local_t && t + 3600 > last_local_t && h == 2 &&
          paris_local_to_utc(y, m, d, 3, 0) - paris_local_to_utc(y, m, d, 1, 0) == 3 * 3600)
        t += 3600;
      last_local_t = t;
    }
    series.points_.push_back({t, value});
  }
  if (series.points_.empty()) throw std::runtime_error("no data point");
  std::stable_sort(series.points_.begin(), series.points_.end(),
                   [](const Point& a, const Point& b) { return a.time_s < b.time_s; });
  return series;
}

TimeSeries TimeSeries::load_csv(const std::string& path, std::string_view value_column) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return parse_csv(text.str(), value_column);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

bool TimeSeries::at(uint64_t time_s, double& value, uint64_t max_gap_s) const {
  auto it = std::upper_bound(points_.begin(), points_.end(), time_s,
                             [](uint64_t t, const Point& p) { return t < p.time_s; });
  if (it == points_.begin()) return false;
  --it;
  if (time_s - it->time_s > max_gap_s) return false;
  value = it->value;
  return true;
}

}  // namespace vigie::sustainability
