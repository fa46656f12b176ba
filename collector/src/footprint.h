// A Slurm job's footprint as the collector serves it (GET /api/v1/jobs/<id>/footprint,
// vigie job): totals over the job's hosts, and everyday equivalents of its carbon.
#pragma once

#include <nlohmann/json.hpp>

#include "vigie/collector/store.h"

namespace vigie::collector {

inline constexpr double kJoulesPerKwh = 3.6e6;

// Everyday equivalents of a footprint, as the Green Algorithms calculator
// (Lannelongue, Grealey and Inouye, "Green Algorithms: Quantifying the Carbon
// Footprint of Computation", Advanced Science 2021; www.green-algorithms.org)
// presents them.
struct Equivalents {
  double car_km = 0;       // km driven in an average European passenger car
  double tree_months = 0;  // months a mature tree needs to sequester it
};
// Green Algorithms' factors: a passenger car emits 175 gCO2e per km (European
// average, as used by the calculator); a mature tree sequesters 11 kgCO2 a
// year, i.e. 11000 / 12 gCO2 a month.
inline constexpr double kCarGco2ePerKm = 175;
inline constexpr double kTreeGco2PerMonth = 11000.0 / 12;

// Equivalents of `carbon_gco2e` (gCO2e); 0 for a negative or non-finite input.
Equivalents equivalents(double carbon_gco2e);

// The JSON document of a footprint: job_id, user, account, start_ns, end_ns
// (ns since the epoch), cpu_seconds, energy_joules, energy_kwh,
// breakdown_joules {cpu, dram, gpu, idle}, carbon_gco2e = operational_gco2e +
// embodied_gco2e, estimated (true when any host's energy was estimated),
// equivalents {car_km, tree_months, their factors and source}, and hosts[]
// {host, start_ns, end_ns, cpu_seconds, energy_joules, carbon_gco2e, estimated}.
nlohmann::json footprint_json(const JobFootprint& footprint);

}  // namespace vigie::collector
