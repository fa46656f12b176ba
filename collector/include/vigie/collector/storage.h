// Which Store backend the collector runs on, how it is opened, and the
// periodic retention run (`storage:` and `retention:` in the configuration).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "vigie/collector/store.h"

namespace YAML {
class Node;
}
namespace prometheus {
class Registry;
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

// Opens the configured backend (SqliteStore on `sqlite_path`, or
// PostgresStore). Throws StoreError as their constructors do.
std::unique_ptr<Store> open_store(const StorageConfig& storage, const std::string& sqlite_path);

// "sqlite <path>" or "postgresql <url without password>", for logs.
std::string describe_store(const StorageConfig& storage, const std::string& sqlite_path);

// Runs Store::apply_retention at start and then every `interval` on its own
// thread, and exports (on the registry given):
//   vigie_collector_retention_runs_total{result="success"|"failure"}
//   vigie_collector_retention_rows_deleted_total{table="events"|"alerts"|"batches"}
//   vigie_collector_retention_energy_rows_downsampled_total  (rows replaced)
//   vigie_collector_retention_energy_rows_written_total      (minute and hour rows)
//   vigie_collector_retention_last_success_timestamp_seconds (Unix time; 0: none yet)
// A failed run is logged at warn, counted, and tried again at the next interval.
class RetentionRunner {
 public:
  RetentionRunner(Store& store, RetentionConfig config, prometheus::Registry& registry);
  ~RetentionRunner();  // stops the thread
  RetentionRunner(const RetentionRunner&) = delete;
  RetentionRunner& operator=(const RetentionRunner&) = delete;

  // Starts the thread; nothing when the interval is 0.
  void start();
  void stop();
  // One run now, as of `now_ns` (ns since the epoch), counted in the
  // metrics. Returns false when it failed (StoreError).
  bool run_once(uint64_t now_ns);

 private:
  struct Metrics;
  Store& store_;
  RetentionConfig config_;
  std::unique_ptr<Metrics> metrics_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vigie::collector
