// Text the reports' CSV files share (datacentre.cpp, communities.cpp).
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace vigie::sustainability {

// An RFC 4180 field: quoted, quotes doubled, when it holds ',', '"' or a line break.
inline std::string csv_field(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// A number with `precision` significant digits, as the CSV files write them.
inline std::string number_text(double v, int precision = 10) {
  std::ostringstream out;
  out.precision(precision);
  out << v;
  return out.str();
}

}  // namespace vigie::sustainability
