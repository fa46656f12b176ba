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

#include "vigie/sustainability/grid.h"

namespace vigie::power {

inline constexpr double kJoulesPerKwh = 3.6e6;

// The grid intensity and PUE series are sustainability::TimeSeries (one
// parser of eCO2mix and generic CSV for the agent and the collector).
using sustainability::paris_local_to_utc;
using sustainability::TimeSeries;

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
