// Carbon footprint of energy: operational gCO2e = kWh x PUE x grid carbon
// intensity at that time, plus the server's embodied carbon amortised over
// its lifetime. (The everyday equivalents of a job's footprint are the
// collector's: vigie/collector/footprint.h.)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vigie::power {

inline constexpr double kJoulesPerKwh = 3.6e6;

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
  //  - generic: a header naming a time column ("time", "timestamp" or
  //    "datetime") and a value column (`value_column`, e.g.
  //    "gco2e_per_kwh" or "pue"); ',' or ';' separated; times as Unix seconds
  //    or ISO 8601 UTC ("2024-03-01T12:00:00Z", the Z or +00:00 optional).
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

// Where the carbon factors of a site come from. Defaults:
//  - pue 1.4: a typical modern HPC machine room; the Uptime Institute Global
//    Data Center Survey 2023 reports an industry average of 1.58.
//  - grid_intensity_gco2e_per_kwh 56: French average electricity mix, life-cycle
//    (ADEME Base Empreinte, "Electricité - mix moyen - consommation"; RTE's
//    Bilan électrique gives 30-60 gCO2e/kWh for recent years). Set your country's.
//  - embodied_kgco2e 1500 over lifetime_years 4: manufacturing footprint of a
//    dual-socket 1U server, the order of magnitude the vendors' product carbon
//    footprints give (e.g. Dell PowerEdge R640/R650 PCF sheets: 1,000-2,000 kgCO2e
//    for manufacturing) and the Boavizta server model; set your servers' figure.
//    4 years is a common HPC depreciation period.
struct CarbonModel {
  double pue = 1.4;
  double grid_intensity_gco2e_per_kwh = 56;
  std::shared_ptr<const TimeSeries> grid_intensity_series;  // overrides the static value
  std::shared_ptr<const TimeSeries> pue_series;  // a facility meter feed; overrides `pue`
  double embodied_kgco2e = 1500;
  double lifetime_years = 4;
};

struct CarbonFactors {
  double pue = 0;
  double grid_intensity_gco2e_per_kwh = 0;
  bool series_miss = false;  // a configured series had no value then: the static one was used
};

// The factors in force at `time_s` (series when configured and covering it, else the statics).
CarbonFactors carbon_factors(const CarbonModel& model, uint64_t time_s);

// Operational carbon: energy (J) / 3.6e6 x PUE x intensity, gCO2e.
inline double carbon_gco2e(double energy_joules, const CarbonFactors& f) {
  return energy_joules / kJoulesPerKwh * f.pue * f.grid_intensity_gco2e_per_kwh;
}
inline double carbon_gco2e(double energy_joules, const CarbonModel& model) {
  return carbon_gco2e(energy_joules, CarbonFactors{model.pue, model.grid_intensity_gco2e_per_kwh});
}

// The node's embodied carbon for an interval: embodied_kgco2e x 1000 x
// interval / (lifetime_years x 365.25 days), gCO2e (linear amortisation).
double embodied_gco2e(const CarbonModel& model, double interval_seconds);

}  // namespace vigie::power
