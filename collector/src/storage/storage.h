// Opening the configured Store backend, and the periodic retention run
// (options: vigie/collector/storage_config.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "vigie/collector/storage_config.h"

namespace prometheus {
class Registry;
}

namespace vigie::collector {

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
