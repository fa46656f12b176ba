#include "storage/storage.h"

#include <libpq-fe.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <set>
#include <stdexcept>

#include "storage/postgres_store.h"
#include "storage/sqlite_store.h"
#include "vigie/config/yaml.h"

namespace vigie::collector {
namespace {

using ::vigie::config::check_keys;
using ::vigie::config::fail;
using ::vigie::config::scalar;

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

void parse_storage_config(const std::string& path, const YAML::Node& node, StorageConfig& storage,
                          std::string& sqlite_path) {
  if (!node) return;
  check_keys(path, node, "storage.",
             {"backend", "sqlite_path", "postgresql_url", "postgresql_pool_size"});
  if (node["backend"]) {
    const auto backend = scalar<std::string>(path, node["backend"], "storage.backend");
    if (backend == "sqlite")
      storage.backend = StorageConfig::Backend::kSqlite;
    else if (backend == "postgresql")
      storage.backend = StorageConfig::Backend::kPostgresql;
    else
      fail(path, node["backend"], "storage.backend must be sqlite or postgresql");
  }
  if (node["sqlite_path"])
    sqlite_path = scalar<std::string>(path, node["sqlite_path"], "storage.sqlite_path");
  if (node["postgresql_url"])
    storage.postgresql_url =
        scalar<std::string>(path, node["postgresql_url"], "storage.postgresql_url");
  if (node["postgresql_pool_size"]) {
    storage.postgresql_pool_size =
        scalar<std::size_t>(path, node["postgresql_pool_size"], "storage.postgresql_pool_size");
    if (storage.postgresql_pool_size == 0 || storage.postgresql_pool_size > 1000)
      fail(path, node["postgresql_pool_size"], "storage.postgresql_pool_size must be in 1..1000");
  }
  if (storage.backend == StorageConfig::Backend::kPostgresql) {
    if (storage.postgresql_url.empty())
      fail(path, node, "storage.backend postgresql needs storage.postgresql_url");
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(storage.postgresql_url.c_str(), &error);
    if (!options) {
      const std::string message = error ? error : "out of memory";
      PQfreemem(error);
      fail(path, node["postgresql_url"],
           "storage.postgresql_url is not a libpq connection string: " + message);
    }
    PQconninfoFree(options);
  }
}

RetentionConfig parse_retention_config(const std::string& path, const YAML::Node& node) {
  RetentionConfig config;
  if (!node) return config;
  check_keys(
      path, node, "retention.",
      {"events_days", "alerts_days", "raw_energy_days", "minute_energy_days", "interval_minutes"});
  auto days = [&](const char* key, std::chrono::hours& out) {
    if (!node[key]) return;
    const auto value = scalar<unsigned>(path, node[key], std::string("retention.") + key);
    if (value > 100'000) fail(path, node[key], std::string("retention.") + key + " is too large");
    out = std::chrono::hours(24 * static_cast<int64_t>(value));
  };
  days("events_days", config.policy.events);
  days("alerts_days", config.policy.alerts);
  days("raw_energy_days", config.policy.raw_energy);
  days("minute_energy_days", config.policy.minute_energy);
  if (node["interval_minutes"])
    config.interval = std::chrono::minutes(
        scalar<unsigned>(path, node["interval_minutes"], "retention.interval_minutes"));
  const auto& p = config.policy;
  if (p.raw_energy.count() > 0 && p.minute_energy.count() > 0 && p.minute_energy < p.raw_energy)
    fail(path, node,
         "retention.minute_energy_days must be >= retention.raw_energy_days (per-minute rows "
         "are made from raw rows once those expire)");
  return config;
}

std::unique_ptr<Store> open_store(const StorageConfig& storage, const std::string& sqlite_path) {
  if (storage.backend == StorageConfig::Backend::kPostgresql)
    return std::make_unique<PostgresStore>(storage.postgresql_url, storage.postgresql_pool_size);
  return std::make_unique<SqliteStore>(sqlite_path);
}

std::string describe_store(const StorageConfig& storage, const std::string& sqlite_path) {
  if (storage.backend == StorageConfig::Backend::kSqlite) return "sqlite " + sqlite_path;
  // The server, port and database only: never the password.
  std::string where;
  if (PQconninfoOption* options = PQconninfoParse(storage.postgresql_url.c_str(), nullptr)) {
    for (auto* o = options; o->keyword; ++o) {
      const std::string key = o->keyword;
      if (o->val &&
          (key == "host" || key == "hostaddr" || key == "port" || key == "dbname" || key == "user"))
        where += (where.empty() ? "" : " ") + key + "=" + o->val;
    }
    PQconninfoFree(options);
  }
  return "postgresql " + where;
}

struct RetentionRunner::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : runs(prometheus::BuildCounter()
                 .Name("vigie_collector_retention_runs_total")
                 .Help("Retention runs (deletion and energy downsampling), by result")
                 .Register(registry)),
        deleted(prometheus::BuildCounter()
                    .Name("vigie_collector_retention_rows_deleted_total")
                    .Help("Rows deleted by retention, by table")
                    .Register(registry)),
        success(runs.Add({{"result", "success"}})),
        failure(runs.Add({{"result", "failure"}})),
        events(deleted.Add({{"table", "events"}})),
        alerts(deleted.Add({{"table", "alerts"}})),
        batches(deleted.Add({{"table", "batches"}})),
        downsampled(prometheus::BuildCounter()
                        .Name("vigie_collector_retention_energy_rows_downsampled_total")
                        .Help("Energy rows replaced by per-minute or per-hour rows")
                        .Register(registry)
                        .Add({})),
        written(prometheus::BuildCounter()
                    .Name("vigie_collector_retention_energy_rows_written_total")
                    .Help("Per-minute and per-hour energy rows written by downsampling")
                    .Register(registry)
                    .Add({})),
        last_success(prometheus::BuildGauge()
                         .Name("vigie_collector_retention_last_success_timestamp_seconds")
                         .Help("Unix time of the last successful retention run (0: none yet)")
                         .Register(registry)
                         .Add({})) {}
  prometheus::Family<prometheus::Counter>& runs;
  prometheus::Family<prometheus::Counter>& deleted;
  prometheus::Counter& success;
  prometheus::Counter& failure;
  prometheus::Counter& events;
  prometheus::Counter& alerts;
  prometheus::Counter& batches;
  prometheus::Counter& downsampled;
  prometheus::Counter& written;
  prometheus::Gauge& last_success;
};

RetentionRunner::RetentionRunner(Store& store, RetentionConfig config,
                                 prometheus::Registry& registry)
    : store_(store), config_(config), metrics_(std::make_unique<Metrics>(registry)) {}

RetentionRunner::~RetentionRunner() { stop(); }

void RetentionRunner::start() {
  if (config_.interval.count() <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      run_once(now_ns());
      lock.lock();
      wake_.wait_for(lock, config_.interval, [this] { return stopping_; });
    }
  });
}

void RetentionRunner::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool RetentionRunner::run_once(uint64_t now) {
  try {
    const auto out = store_.apply_retention(config_.policy, now);
    metrics_->events.Increment(static_cast<double>(out.events_deleted));
    metrics_->alerts.Increment(static_cast<double>(out.alerts_deleted));
    metrics_->batches.Increment(static_cast<double>(out.batches_deleted));
    metrics_->downsampled.Increment(static_cast<double>(out.energy_rows_downsampled));
    metrics_->written.Increment(static_cast<double>(out.energy_rows_written));
    metrics_->success.Increment();
    metrics_->last_success.Set(static_cast<double>(now) / 1e9);
    if (out.events_deleted + out.alerts_deleted + out.energy_rows_downsampled > 0)
      spdlog::info("retention: {} events and {} alerts deleted, {} energy rows downsampled into {}",
                   out.events_deleted, out.alerts_deleted, out.energy_rows_downsampled,
                   out.energy_rows_written);
    return true;
  } catch (const std::exception& e) {
    metrics_->failure.Increment();
    spdlog::warn("retention run failed (tried again in {} min): {}", config_.interval.count(),
                 e.what());
    return false;
  }
}

}  // namespace vigie::collector
