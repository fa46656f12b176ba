// How both stores keep the CSIRT's records (sqlite_csirt.cpp,
// postgres_csirt.cpp): their JSON bodies (csirt/json.h) in text columns.
#pragma once

#include <ctime>
#include <nlohmann/json.hpp>
#include <string>

#include "vigie/collector/store.h"

namespace vigie::collector::csirt_form {

// The UTC year of `ns`: incident numbers restart every year.
inline int utc_year(uint64_t ns) {
  const std::time_t seconds = static_cast<std::time_t>(ns / 1'000'000'000ull);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return tm.tm_year + 1900;
}

// A body as stored; text that is not UTF-8 replaced, never refused.
inline std::string dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Reads a body this store wrote with `read` (csirt::incident_from_json…);
// StoreError naming `what` when it is corrupt.
template <typename T, typename Read>
T read_body(const std::string& text, Read read, const std::string& what) {
  try {
    return read(nlohmann::json::parse(text));
  } catch (const nlohmann::json::exception& e) {
    throw StoreError(what + " is corrupt in the database: " + e.what());
  }
}

}  // namespace vigie::collector::csirt_form
