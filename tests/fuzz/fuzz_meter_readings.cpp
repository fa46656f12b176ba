// Fuzzes what a sustainability officer feeds the collector (sustainability/):
// the input is read as readings in CSV and in JSON (POST
// /api/v1/facilities/<id>/readings), as a facility (POST /api/v1/facilities)
// and as a grid series (POST /api/v1/grid/<zone>). Properties: only
// InputError (or the grid parser's runtime_error) is thrown; accepted
// readings pass check() and consolidate over any period into values that are
// finite, with coverage in [0, 1]; an accepted facility survives its JSON
// form and gives a report.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "vigie/sustainability/datacentre.h"
#include "vigie/sustainability/grid.h"

using vigie::fuzz::check;
namespace sus = vigie::sustainability;

namespace {

void consolidate_all(const std::vector<sus::Reading>& readings) {
  for (const auto& r : readings) sus::check(r);
  for (const sus::Span period : {sus::Span{0, 86400}, sus::Span{1735686000, 1767222000},
                                 sus::Span{-4000000000, 4000000000}}) {
    const auto c = sus::consolidate(readings, period);
    for (const auto& q : c.quantities) {
      check(q.coverage >= 0 && q.coverage <= 1 + 1e-9, "coverage is a share");
      // Values over huge periods may overflow to inf from finite inputs; NaN never.
      check(!q.value || !std::isnan(*q.value), "a consolidated value is a number");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    consolidate_all(sus::parse_readings_csv(input));
  } catch (const sus::InputError&) {
  }
  try {
    consolidate_all(sus::parse_readings_json(input));
  } catch (const sus::InputError&) {
  }
  try {
    const auto body = nlohmann::json::parse(input, nullptr, false);
    if (!body.is_discarded()) {
      const sus::Facility f = sus::facility_from_json(body);
      const sus::Facility again = sus::facility_from_json(sus::to_json(f));
      check(sus::to_json(again) == sus::to_json(f), "a facility survives its JSON form");
      const auto report = sus::build_report(f, {}, {}, sus::calendar_year(2025, f.time_zone));
      sus::to_csv(report);
      sus::to_json(report).dump();
    }
  } catch (const sus::InputError&) {
  }
  try {
    sus::TimeSeries::parse_csv(input, "gco2e_per_kwh");
  } catch (const std::runtime_error&) {
  }
  return 0;
}
