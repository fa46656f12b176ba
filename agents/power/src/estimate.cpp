#include "vigie/power/estimate.h"

#include <algorithm>

namespace vigie::power {

double CpuUtilisationEstimate::utilisation(const CpuTimes& before, const CpuTimes& after) {
  if (after.busy_ticks < before.busy_ticks || after.idle_ticks < before.idle_ticks) return 0;
  uint64_t busy = after.busy_ticks - before.busy_ticks;
  uint64_t total = busy + (after.idle_ticks - before.idle_ticks);
  return total == 0 ? 0 : static_cast<double>(busy) / static_cast<double>(total);
}

double CpuUtilisationEstimate::energy_joules(const CpuTimes& before, const CpuTimes& after,
                                             double interval_seconds) const {
  if (!(interval_seconds > 0)) return 0;
  double watts = model_.idle_watts + (model_.max_watts - model_.idle_watts) *
                                         std::clamp(utilisation(before, after), 0.0, 1.0);
  return std::max(0.0, watts) * interval_seconds;
}

}  // namespace vigie::power
