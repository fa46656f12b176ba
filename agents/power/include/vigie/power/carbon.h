// Carbon footprint of energy: gCO2e = kWh x PUE x grid carbon intensity.
#pragma once

namespace vigie::power {

// Static per-site values (a time series such as RTE eCO2mix can replace the
// intensity later). Defaults:
//  - pue 1.4: a typical modern HPC machine room; the Uptime Institute Global
//    Data Center Survey 2023 reports an industry average of 1.58.
//  - grid_intensity_gco2e_per_kwh 56: French average electricity mix, life-cycle
//    (ADEME Base Empreinte, "Electricité - mix moyen - consommation"; RTE's
//    Bilan électrique gives 30-60 gCO2e/kWh for recent years). Set your country's.
struct CarbonModel {
  double pue = 1.4;
  double grid_intensity_gco2e_per_kwh = 56;
};

inline constexpr double kJoulesPerKwh = 3.6e6;

inline double carbon_gco2e(double energy_joules, const CarbonModel& model) {
  return energy_joules / kJoulesPerKwh * model.pue * model.grid_intensity_gco2e_per_kwh;
}

}  // namespace vigie::power
