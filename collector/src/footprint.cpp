#include "footprint.h"

#include <algorithm>
#include <cmath>

namespace vigie::collector {

using nlohmann::json;

Equivalents equivalents(double carbon_gco2e) {
  const double g = std::isfinite(carbon_gco2e) && carbon_gco2e > 0 ? carbon_gco2e : 0;
  return {g / kCarGco2ePerKm, g / kTreeGco2PerMonth};
}

json footprint_json(const JobFootprint& f) {
  HostFootprint total;
  json hosts = json::array();
  for (const auto& h : f.hosts) {
    hosts.push_back({{"host", h.host},
                     {"start_ns", h.start_ns},
                     {"end_ns", h.end_ns},
                     {"cpu_seconds", h.cpu_seconds},
                     {"energy_joules", h.energy_joules},
                     {"carbon_gco2e", h.operational_gco2e + h.embodied_gco2e},
                     {"estimated", h.estimated}});
    total.start_ns = total.start_ns == 0 ? h.start_ns : std::min(total.start_ns, h.start_ns);
    total.end_ns = std::max(total.end_ns, h.end_ns);
    total.cpu_seconds += h.cpu_seconds;
    total.energy_joules += h.energy_joules;
    total.cpu_joules += h.cpu_joules;
    total.dram_joules += h.dram_joules;
    total.gpu_joules += h.gpu_joules;
    total.idle_joules += h.idle_joules;
    total.operational_gco2e += h.operational_gco2e;
    total.embodied_gco2e += h.embodied_gco2e;
    total.estimated = total.estimated || h.estimated;
  }
  const double carbon = total.operational_gco2e + total.embodied_gco2e;
  const Equivalents eq = equivalents(carbon);
  return {{"job_id", f.job_id},
          {"user", f.user},
          {"account", f.account},
          {"start_ns", total.start_ns},
          {"end_ns", total.end_ns},
          {"cpu_seconds", total.cpu_seconds},
          {"energy_joules", total.energy_joules},
          {"energy_kwh", total.energy_joules / kJoulesPerKwh},
          {"breakdown_joules",
           {{"cpu", total.cpu_joules},
            {"dram", total.dram_joules},
            {"gpu", total.gpu_joules},
            {"idle", total.idle_joules}}},
          {"carbon_gco2e", carbon},
          {"operational_gco2e", total.operational_gco2e},
          {"embodied_gco2e", total.embodied_gco2e},
          {"estimated", total.estimated},
          {"equivalents",
           {{"car_km", eq.car_km},
            {"tree_months", eq.tree_months},
            {"car_gco2e_per_km", kCarGco2ePerKm},
            {"tree_gco2_per_month", kTreeGco2PerMonth},
            {"source", "Green Algorithms (Lannelongue et al., Adv. Sci. 2021)"}}},
          {"hosts", std::move(hosts)}};
}

}  // namespace vigie::collector
