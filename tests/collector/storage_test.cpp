// The `storage:` and `retention:` configuration, open_store on both
// backends, and the periodic retention run with its metrics.
#include "storage/storage.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "metrics.h"
#include "storage/postgres_store.h"
#include "storage/sqlite_store.h"
#include "support/postgres_instance.h"
#include "support/sample_batch.h"
#include "vigie/collector/config.h"

namespace vigie::collector {
namespace {

using testing::kBaseNs;
using testing::kSecondNs;

class StorageConfigTest : public ::testing::Test {
 protected:
  Config load(const std::string& yaml) {
    const auto path = dir_.path() / "collector.yaml";
    std::ofstream(path) << yaml;
    return load_config(path.string());
  }
  std::string error_of(const std::string& yaml) {
    try {
      load(yaml);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }
  testing::TempDir dir_;
};

TEST_F(StorageConfigTest, DefaultsToSqliteAndTheDesignRetention) {
  const Config config = load("listen: {port: 0}\n");
  EXPECT_EQ(config.storage.backend, StorageConfig::Backend::kSqlite);
  EXPECT_EQ(config.database_path, "/var/lib/vigie/collector.db");
  EXPECT_EQ(config.retention.policy.events, std::chrono::hours(24 * 30));
  EXPECT_EQ(config.retention.policy.raw_energy, std::chrono::hours(24 * 7));
  EXPECT_EQ(config.retention.interval, std::chrono::minutes(60));
}

TEST_F(StorageConfigTest, ReadsBothSections) {
  const Config config = load(
      "database: /old.db\n"
      "storage: {backend: postgresql, postgresql_url: 'postgresql://vigie:secret@db:5433/vigie', "
      "postgresql_pool_size: 3, sqlite_path: /new.db}\n"
      "retention: {events_days: 2, alerts_days: 0, raw_energy_days: 1, minute_energy_days: 10, "
      "interval_minutes: 5}\n");
  EXPECT_EQ(config.storage.backend, StorageConfig::Backend::kPostgresql);
  EXPECT_EQ(config.storage.postgresql_url, "postgresql://vigie:secret@db:5433/vigie");
  EXPECT_EQ(config.storage.postgresql_pool_size, 3u);
  EXPECT_EQ(config.database_path, "/new.db");
  EXPECT_EQ(config.retention.policy.events, std::chrono::hours(48));
  EXPECT_EQ(config.retention.policy.alerts, std::chrono::hours(0));
  EXPECT_EQ(config.retention.policy.minute_energy, std::chrono::hours(240));
  EXPECT_EQ(config.retention.interval, std::chrono::minutes(5));
  // Logs never show the password.
  const auto described = describe_store(config.storage, config.database_path);
  EXPECT_EQ(described.find("secret"), std::string::npos) << described;
  EXPECT_NE(described.find("host=db"), std::string::npos) << described;
  // The old key alone still selects the SQLite file.
  EXPECT_EQ(load("database: /old.db\n").database_path, "/old.db");
}

TEST_F(StorageConfigTest, RefusesBadValuesWithTheKey) {
  EXPECT_NE(error_of("storage: {backend: mysql}\n").find("storage.backend"), std::string::npos);
  EXPECT_NE(error_of("storage: {backend: postgresql}\n").find("postgresql_url"), std::string::npos);
  EXPECT_NE(error_of("storage: {backend: postgresql, postgresql_url: 'nokey'}\n")
                .find("storage.postgresql_url"),
            std::string::npos);
  EXPECT_NE(error_of("storage: {pool: 3}\n").find("unknown key 'storage.pool'"), std::string::npos);
  EXPECT_NE(error_of("storage: {postgresql_pool_size: 0}\n").find("postgresql_pool_size"),
            std::string::npos);
  EXPECT_NE(error_of("retention: {events: 3}\n").find("unknown key 'retention.events'"),
            std::string::npos);
  EXPECT_NE(error_of("retention: {events_days: -1}\n").find("retention.events_days"),
            std::string::npos);
  EXPECT_NE(error_of("retention: {raw_energy_days: 10, minute_energy_days: 5}\n")
                .find("minute_energy_days"),
            std::string::npos);
  // The example configuration shipped in deploy/ loads.
  EXPECT_NO_THROW(load_config(VIGIE_SOURCE_DIR "/deploy/config/vigie-collector.yaml"));
}

TEST(OpenStoreTest, OpensEitherBackend) {
  testing::TempDir dir;
  StorageConfig storage;
  const auto path = (dir.path() / "c.db").string();
  auto sqlite = open_store(storage, path);
  EXPECT_NE(dynamic_cast<SqliteStore*>(sqlite.get()), nullptr);
  EXPECT_TRUE(std::filesystem::exists(path));

  testing::PostgresInstance postgres;
  storage.backend = StorageConfig::Backend::kPostgresql;
  storage.postgresql_url = postgres.create_database();
  storage.postgresql_pool_size = 2;
  auto pg = open_store(storage, path);
  ASSERT_NE(dynamic_cast<PostgresStore*>(pg.get()), nullptr);
  EXPECT_EQ(pg->store_batch(testing::sample_batch(1), kBaseNs).status,
            StoreOutcome::Status::kStored);
}

// The value of the exposition line starting with `series` ("" if none).
std::string metric(const Metrics& metrics, const std::string& series) {
  const std::string text = metrics.exposition();
  const auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return "";
  const auto start = at + series.size() + 2;
  return text.substr(start, text.find('\n', start) - start);
}

TEST(RetentionRunnerTest, CountsWhatEachRunDid) {
  testing::TempDir dir;
  SqliteStore store((dir.path() / "c.db").string());
  for (uint64_t seq = 1; seq <= 6; ++seq)
    ASSERT_EQ(store
                  .store_batch(testing::sample_batch(seq, "node1", kBaseNs + seq * 10 * kSecondNs),
                               kBaseNs)
                  .status,
              StoreOutcome::Status::kStored);
  Metrics metrics;
  RetentionConfig config;
  config.policy = {std::chrono::hours(1), std::chrono::hours(0), std::chrono::hours(1),
                   std::chrono::hours(0)};
  RetentionRunner runner(store, config, metrics.registry());
  EXPECT_EQ(metric(metrics, "vigie_collector_retention_last_success_timestamp_seconds"), "0");
  const uint64_t now = kBaseNs + 2 * 3600 * kSecondNs;
  ASSERT_TRUE(runner.run_once(now));
  EXPECT_EQ(metric(metrics, "vigie_collector_retention_rows_deleted_total{table=\"events\"}"),
            "18");
  EXPECT_EQ(metric(metrics, "vigie_collector_retention_energy_rows_downsampled_total"), "30");
  // Intervals ending 40..90 s past a minute boundary (kBaseNs is 20 s past one): 2 minutes.
  EXPECT_EQ(metric(metrics, "vigie_collector_retention_energy_rows_written_total"), "10");
  EXPECT_EQ(metric(metrics, "vigie_collector_retention_runs_total{result=\"success\"}"), "1");
  EXPECT_EQ(metric(metrics, "vigie_collector_retention_last_success_timestamp_seconds"),
            std::to_string(now / 1'000'000'000));
  ASSERT_TRUE(runner.run_once(now));  // idempotent: nothing more
  EXPECT_EQ(metric(metrics, "vigie_collector_retention_energy_rows_downsampled_total"), "30");
  EXPECT_EQ(metric(metrics, "vigie_collector_retention_runs_total{result=\"success\"}"), "2");
}

TEST(RetentionRunnerTest, AFailedRunIsCountedAndTheNextOneWorks) {
  testing::PostgresInstance postgres(testing::PostgresInstance::kPrivate);
  PostgresStore store(postgres.create_database());
  Metrics metrics;
  RetentionRunner runner(store, {}, metrics.registry());
  postgres.stop();
  EXPECT_FALSE(runner.run_once(kBaseNs));
  EXPECT_EQ(metric(metrics, "vigie_collector_retention_runs_total{result=\"failure\"}"), "1");
  postgres.start();
  EXPECT_TRUE(runner.run_once(kBaseNs));
  EXPECT_EQ(metric(metrics, "vigie_collector_retention_runs_total{result=\"success\"}"), "1");
}

TEST(RetentionRunnerTest, RunsAtStartOnItsThreadAndStops) {
  testing::TempDir dir;
  SqliteStore store((dir.path() / "c.db").string());
  // Events from 2023 are far past 30 days today.
  ASSERT_EQ(store.store_batch(testing::sample_batch(1), kBaseNs).status,
            StoreOutcome::Status::kStored);
  Metrics metrics;
  RetentionRunner runner(store, {}, metrics.registry());
  runner.start();
  for (int i = 0; i < 600 && store.events({}).size() != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  runner.stop();
  EXPECT_TRUE(store.events({}).empty());
  EXPECT_EQ(metric(metrics, "vigie_collector_retention_runs_total{result=\"success\"}"), "1");
}

}  // namespace
}  // namespace vigie::collector
