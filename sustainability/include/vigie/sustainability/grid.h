// A value that changes over time, read from CSV: grid carbon intensity
// (gCO2e/kWh) from RTE eCO2mix or a generic export such as Electricity Maps',
// or a facility's PUE feed. Shared by the agent (carbon of each interval) and
// the collector (stored series for the reports).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigie::sustainability {

// A value that changes over time (grid intensity in gCO2e/kWh, or PUE): a step
// function, each point holding until the next. Immutable once loaded; shared
// between threads through shared_ptr<const TimeSeries>.
class TimeSeries {
 public:
  struct Point {
    uint64_t time_s;  // Unix time, UTC
    double value;
  };

  // Parses CSV text in one of two layouts, told apart by the header:
  //  - generic: a header naming a time column ("time", "timestamp" or one
  //    starting "datetime") and a value column (`value_column`, e.g.
  //    "gco2e_per_kwh" or "pue", or one ending "(<value_column>)": Electricity
  //    Maps' "Carbon Intensity gCO2eq/kWh (direct)" and "(LCA)"); ',' or ';'
  //    separated; times as Unix seconds or ISO 8601 UTC
  //    ("2024-03-01T12:00:00Z", the Z or +00:00 optional, 'T' or a space).
  //  - RTE eCO2mix (France, www.rte-france.com/eco2mix, "Télécharger les
  //    indicateurs"): columns "Date" (YYYY-MM-DD), "Heures" (HH:MM, French
  //    legal time: CET/CEST, converted to UTC with the EU summer-time rule of
  //    Directive 2000/84/EC) and "Taux de Co2" (gCO2/kWh); ';' or tab
  //    separated; rows without a value (forecast rows) are skipped.
  // Rows are sorted by time. Throws std::runtime_error naming the line for a
  // malformed row, an unknown layout or a file with no point (configuration
  // time, not a hot path).
  static TimeSeries parse_csv(std::string_view text, std::string_view value_column);
  static TimeSeries load_csv(const std::string& path, std::string_view value_column);

  // The value at `time_s`: that of the last point at or before it; false when
  // `time_s` lies before the first point or more than `max_gap_s` after the last.
  bool at(uint64_t time_s, double& value, uint64_t max_gap_s = 2 * 86400) const;
  const std::vector<Point>& points() const { return points_; }

 private:
  std::vector<Point> points_;
};

// Converts a French legal (Europe/Paris) civil time to Unix UTC seconds.
uint64_t paris_local_to_utc(int year, int month, int day, int hour, int minute);

}  // namespace vigie::sustainability
