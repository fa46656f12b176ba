#include "vigie/power/carbon.h"

#include <algorithm>
#include <cmath>

namespace vigie::power {

CarbonFactors carbon_factors(const CarbonModel& model, uint64_t time_s) {
  CarbonFactors f{model.pue, model.grid_intensity_gco2e_per_kwh, false};
  if (model.grid_intensity_series &&
      !model.grid_intensity_series->at(time_s, f.grid_intensity_gco2e_per_kwh))
    f.series_miss = true;
  if (model.pue_series && !model.pue_series->at(time_s, f.pue)) f.series_miss = true;
  return f;
}

double embodied_gco2e(const CarbonModel& model, double interval_seconds) {
  if (!(model.lifetime_years > 0) || !(interval_seconds > 0) || !(model.embodied_kgco2e > 0))
    return 0;
  return model.embodied_kgco2e * 1000 * interval_seconds / (model.lifetime_years * 365.25 * 86400);
}

}  // namespace vigie::power
