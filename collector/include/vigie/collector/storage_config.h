// Which Store backend the collector runs on and how long it keeps data: the
// `storage:` and `retention:` sections of the configuration.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "vigie/collector/store.h"

namespace YAML {
class Node;
}

namespace vigie::collector {

struct StorageConfig {
  enum class Backend : uint8_t { kSqlite, kPostgresql };
  Backend backend = Backend::kSqlite;
  // SQLite's file is Config::database_path (`database:` or storage.sqlite_path).
  std::string postgresql_url;            // libpq connection string or postgresql:// URI
  std::size_t postgresql_pool_size = 8;  // connections per collector
};

struct RetentionConfig {
  RetentionPolicy policy;
  // How often apply_retention runs (the first run is at start-up); 0: never.
  std::chrono::minutes interval{60};
};

// Parses `storage:` (backend, sqlite_path, postgresql_url, postgresql_pool_size)
// into `storage` and `sqlite_path`. Throws std::runtime_error naming `path`
// and the key on an unknown key or a bad value; postgresql needs a url.
void parse_storage_config(const std::string& path, const YAML::Node& node, StorageConfig& storage,
                          std::string& sqlite_path);

// Parses `retention:` (events_days, alerts_days, raw_energy_days,
// minute_energy_days: whole days, 0 keeps forever; interval_minutes).
// Throws std::runtime_error as above, also when minute_energy_days is
// shorter than raw_energy_days (both non-zero).
RetentionConfig parse_retention_config(const std::string& path, const YAML::Node& node);

}  // namespace vigie::collector
