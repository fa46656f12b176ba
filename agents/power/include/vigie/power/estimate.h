// Node energy estimated from CPU utilisation where no energy sensor exists.
#pragma once

#include "vigie/power/proc_stat.h"

namespace vigie::power {

// Linear CPU power model P(u) = idle_watts + (max_watts - idle_watts) * u, u in [0, 1]:
// X. Fan, W.-D. Weber, L. A. Barroso, "Power provisioning for a warehouse-sized
// computer", ISCA 2007, section 4 (the model tracks measured server power within
// a few percent). The defaults are placeholders for a dual-socket HPC node;
// sites set theirs from SPECpower_ssj2008 results or a wall-meter measurement.
struct LinearPowerModel {
  double idle_watts = 100;
  double max_watts = 300;
};

class CpuUtilisationEstimate {
 public:
  explicit CpuUtilisationEstimate(LinearPowerModel model) : model_(model) {}

  // Busy share of the non-steal CPU time between two /proc/stat readings, in
  // [0, 1]; 0 when no tick elapsed or the counters went backwards.
  static double utilisation(const CpuTimes& before, const CpuTimes& after);

  // Joules over an interval of `interval_seconds` (<= 0 gives 0).
  double energy_joules(const CpuTimes& before, const CpuTimes& after,
                       double interval_seconds) const;

  const LinearPowerModel& model() const { return model_; }

 private:
  LinearPowerModel model_;
};

}  // namespace vigie::power
