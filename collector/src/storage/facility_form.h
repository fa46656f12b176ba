// The stored form of facilities and meter readings, the same in both
// backends: a facility is its API JSON; a reading its columns, the quantity
// and basis by name.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "vigie/collector/store.h"
#include "vigie/sustainability/datacentre.h"

namespace vigie::collector::facility_form {

inline sustainability::Facility facility_of(const std::string& body) {
  try {
    return sustainability::facility_from_json(nlohmann::json::parse(body));
  } catch (const std::exception& e) {
    throw StoreError(std::string("a stored facility cannot be read: ") + e.what());
  }
}

inline std::string body_of(const sustainability::Facility& facility) {
  return sustainability::to_json(facility).dump();
}

inline sustainability::Reading reading_of(const std::string& quantity, std::string meter,
                                          bool cumulative, int64_t start_s, int64_t end_s,
                                          double value, const std::string& basis,
                                          std::string source) {
  const auto q = sustainability::parse_quantity(quantity);
  const auto b = sustainability::parse_basis(basis);
  if (!q || !b)
    throw StoreError("a stored reading has quantity '" + quantity + "', basis '" + basis + "'");
  return {.quantity = *q,
          .start_s = start_s,
          .end_s = end_s,
          .value = value,
          .cumulative = cumulative,
          .basis = *b,
          .meter = std::move(meter),
          .source = std::move(source)};
}

// A cumulative index is keyed by its time alone: its start is stored as 0.
inline int64_t stored_start(const sustainability::Reading& r) {
  return r.cumulative ? 0 : r.start_s;
}

// Cumulative indexes this far around a period are read with it.
inline constexpr int64_t kIndexMargin_s = 366 * 86400;

}  // namespace vigie::collector::facility_form
