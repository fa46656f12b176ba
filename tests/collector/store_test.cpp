#include <gtest/gtest.h>
#include <sqlite3.h>

#include "sample_batch.h"
#include "vigie/collector/sqlite_store.h"

namespace vigie::collector {
namespace {

using testing::kBaseNs;
using testing::kSecondNs;
using testing::sample_batch;
using Status = StoreOutcome::Status;

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::string db_path() const { return (dir_.path() / "collector.db").string(); }

  // Runs `sql` on a second connection, as another process would.
  void exec_aside(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }

  testing::TempDir dir_;
};

TEST_F(SqliteStoreTest, StoresABatchAndReadsItBack) {
  SqliteStore store(db_path());
  const auto batch = sample_batch(1);
  ASSERT_EQ(store.store_batch(batch, kBaseNs + 20 * kSecondNs).status, Status::kStored);

  const auto events = store.events({});
  ASSERT_EQ(events.size(), 3u);
  // Newest first, and every field survives the round trip.
  EXPECT_EQ(events[0], batch.events[2]);
  EXPECT_EQ(events[1], batch.events[1]);
  EXPECT_EQ(events[2], batch.events[0]);

  const auto alerts = store.alerts({});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert, batch.alerts[0]);
  EXPECT_EQ(alerts[0].agent_id, "agent-node1");
  EXPECT_EQ(alerts[0].received_ns, kBaseNs + 20 * kSecondNs);

  const auto agents = store.agents();
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_EQ(agents[0].agent_id, "agent-node1");
  EXPECT_EQ(agents[0].last_sequence, 1u);
  EXPECT_EQ(agents[0].status, batch.status);
}

TEST_F(SqliteStoreTest, EveryEventKindSurvivesTheRoundTrip) {
  SqliteStore store(db_path());
  auto batch = sample_batch(1);
  batch.events.clear();
  for (int k = 0; k < protocol::kEventKindCount; ++k) {
    batch.events.push_back(testing::sample_event(kBaseNs + static_cast<uint64_t>(k) * kSecondNs,
                                                 "node1", static_cast<protocol::EventKind>(k)));
    batch.events.back().process_start_ns = kBaseNs - 1000 + static_cast<uint64_t>(k);
    batch.events.back().workload.account = "physics";
    batch.events.back().workload.step = "batch";
  }
  ASSERT_EQ(store.store_batch(batch, kBaseNs + 20 * kSecondNs).status, Status::kStored);

  const auto events = store.events({.limit = 1000});
  ASSERT_EQ(events.size(), batch.events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& sent = batch.events[batch.events.size() - 1 - i];  // newest first
    EXPECT_EQ(events[i].kind(), sent.kind()) << i;
    EXPECT_EQ(events[i], sent) << protocol::to_string(sent.kind());
  }
  for (int k = 0; k < protocol::kEventKindCount; ++k) {
    const auto kind = static_cast<protocol::EventKind>(k);
    const auto one = store.events({.kind = kind});
    ASSERT_EQ(one.size(), 1u) << protocol::to_string(kind);
    EXPECT_EQ(one[0].kind(), kind);
  }
}

TEST_F(SqliteStoreTest, ADuplicateIsStoredOnce) {
  SqliteStore store(db_path());
  ASSERT_EQ(store.store_batch(sample_batch(7), kBaseNs).status, Status::kStored);
  auto again = sample_batch(7);
  again.events.resize(1);  // same (agent_id, sequence), whatever the content
  EXPECT_EQ(store.store_batch(again, kBaseNs + 1).status, Status::kDuplicate);
  EXPECT_EQ(store.events({}).size(), 3u);
  EXPECT_EQ(store.alerts({}).size(), 1u);
  EXPECT_EQ(store.energy({kBaseNs, kBaseNs + 60 * kSecondNs, ""}).nodes.at(0).energy_joules, 120.0);
  // Another agent may use the same sequence number.
  EXPECT_EQ(store.store_batch(sample_batch(7, "node2"), kBaseNs).status, Status::kStored);
  EXPECT_EQ(store.events({}).size(), 6u);
}

TEST_F(SqliteStoreTest, AnAgentIdOnAnotherHostIsAnotherAgent) {
  // Agents choose their ids; a host must not suppress another's batches by
  // reusing its agent id and sequence numbers.
  SqliteStore store(db_path());
  auto first = sample_batch(7, "node1");
  auto second = sample_batch(7, "node2");
  first.agent_id = second.agent_id = "agent";
  ASSERT_EQ(store.store_batch(first, kBaseNs).status, Status::kStored);
  EXPECT_EQ(store.store_batch(second, kBaseNs).status, Status::kStored);
  EXPECT_EQ(store.store_batch(second, kBaseNs).status, Status::kDuplicate);
  EXPECT_EQ(store.events({}).size(), 6u);
  const auto agents = store.agents();
  ASSERT_EQ(agents.size(), 2u);
  EXPECT_EQ(agents[0].host, "node1");
  EXPECT_EQ(agents[1].host, "node2");
}

TEST_F(SqliteStoreTest, KeepsTextThatIsNotUtf8ByteForByte) {
  SqliteStore store(db_path());
  auto batch = sample_batch(1);
  auto& exec = std::get<protocol::ProcessExec>(batch.events[0].body);
  exec.argv = {"/tmp/x", "\xff\xfe"};
  exec.command_line = "/tmp/x \xff\xfe";
  exec.image = "/tmp/\xc3";
  batch.events[0].user = "\xff";
  batch.alerts[0].event = batch.events[0];
  batch.alerts[0].tags.push_back("\xfe");
  ASSERT_EQ(store.store_batch(batch, kBaseNs).status, Status::kStored);
  EXPECT_EQ(store.events({}).at(2), batch.events[0]);
  EXPECT_EQ(store.alerts({}).at(0).alert, batch.alerts[0]);
}

TEST_F(SqliteStoreTest, QueriesFilterByKindHostSinceAndLimit) {
  SqliteStore store(db_path());
  ASSERT_EQ(store.store_batch(sample_batch(1, "node1", kBaseNs), kBaseNs).status, Status::kStored);
  ASSERT_EQ(store.store_batch(sample_batch(1, "node2", kBaseNs + 100 * kSecondNs), kBaseNs).status,
            Status::kStored);

  EventQuery by_kind;
  by_kind.kind = protocol::EventKind::kNetworkConnect;
  const auto connects = store.events(by_kind);
  ASSERT_EQ(connects.size(), 2u);
  EXPECT_EQ(connects[0].host, "node2");
  EXPECT_EQ(connects[0].kind(), protocol::EventKind::kNetworkConnect);

  EventQuery by_host;
  by_host.host = "node1";
  for (const auto& event : store.events(by_host)) EXPECT_EQ(event.host, "node1");
  EXPECT_EQ(store.events(by_host).size(), 3u);

  EventQuery since;
  since.since_ns = kBaseNs + 101 * kSecondNs;
  EXPECT_EQ(store.events(since).size(), 2u);

  EventQuery limited;
  limited.limit = 2;
  const auto newest = store.events(limited);
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].time_ns, kBaseNs + 102 * kSecondNs);

  EXPECT_EQ(store.alerts({0, "node2", 10}).size(), 1u);
  EXPECT_EQ(store.alerts({kBaseNs + 50 * kSecondNs, "", 10}).at(0).alert.event.host, "node2");
  EXPECT_TRUE(store.alerts({0, "node3", 10}).empty());
}

TEST_F(SqliteStoreTest, AggregatesEnergyPerNodeWorkloadAndTime) {
  SqliteStore store(db_path());
  ASSERT_EQ(store.store_batch(sample_batch(1, "node1", kBaseNs), kBaseNs).status, Status::kStored);
  auto second = sample_batch(2, "node1", kBaseNs + 10 * kSecondNs);
  second.zone_energy[0].energy_joules = 200;  // package-0 at 20 W in the latest interval
  ASSERT_EQ(store.store_batch(second, kBaseNs).status, Status::kStored);
  auto estimated = sample_batch(1, "node2", kBaseNs);
  estimated.zone_energy = {
      {kBaseNs, kBaseNs + 10 * kSecondNs, "node", protocol::EnergySource::kEstimate, true, 50}};
  for (auto& workload : estimated.workload_energy) workload.estimated = true;
  ASSERT_EQ(store.store_batch(estimated, kBaseNs).status, Status::kStored);

  const auto report = store.energy({kBaseNs, kBaseNs + 600 * kSecondNs, ""});
  ASSERT_EQ(report.nodes.size(), 2u);
  const auto& node1 = report.nodes[0];
  EXPECT_EQ(node1.host, "node1");
  EXPECT_EQ(node1.site, "site-a");
  // package-0 + dram; "core" is inside package-0.
  EXPECT_DOUBLE_EQ(node1.energy_joules, 100 + 20 + 200 + 20);
  EXPECT_DOUBLE_EQ(node1.power_watts, 20 + 2);
  EXPECT_DOUBLE_EQ(node1.carbon_gco2e, 2 * 1.5);
  EXPECT_FALSE(node1.estimated);
  ASSERT_EQ(node1.zones.size(), 3u);
  EXPECT_EQ(node1.zones[0].zone, "core");
  EXPECT_DOUBLE_EQ(node1.zones[0].power_watts, 6);
  EXPECT_EQ(node1.zones[2].zone, "package-0");
  EXPECT_DOUBLE_EQ(node1.zones[2].energy_joules, 300);
  const auto& node2 = report.nodes[1];
  EXPECT_TRUE(node2.estimated);
  EXPECT_DOUBLE_EQ(node2.power_watts, 5);
  EXPECT_EQ(node2.zones.at(0).source, "estimate");

  ASSERT_EQ(report.workloads.size(), 4u);
  const auto& job = report.workloads[0];  // node1, largest first
  EXPECT_EQ(job.host, "node1");
  EXPECT_EQ(job.workload.kind, protocol::WorkloadKind::kSlurmJob);
  EXPECT_EQ(job.workload.id, "42");
  EXPECT_DOUBLE_EQ(job.energy_joules, 180);
  EXPECT_DOUBLE_EQ(job.cpu_seconds, 16);
  EXPECT_DOUBLE_EQ(job.power_watts, 9);
  EXPECT_FALSE(job.estimated);
  EXPECT_TRUE(report.workloads[2].estimated);

  // One point per interval and host, oldest first.
  ASSERT_EQ(report.series.size(), 3u);
  EXPECT_EQ(report.series[0].host, "node1");
  EXPECT_EQ(report.series[0].t_ns, kBaseNs + 10 * kSecondNs);
  EXPECT_DOUBLE_EQ(report.series[0].power_watts, 12);
  EXPECT_DOUBLE_EQ(report.series[1].power_watts, 22);
  EXPECT_EQ(report.series[2].host, "node2");

  const auto only_node2 = store.energy({kBaseNs, kBaseNs + 3600 * kSecondNs, "node2"});
  ASSERT_EQ(only_node2.nodes.size(), 1u);
  EXPECT_EQ(only_node2.workloads.size(), 2u);
  // A window that ends before any interval does is empty.
  EXPECT_TRUE(store.energy({0, kBaseNs, ""}).nodes.empty());
}

TEST_F(SqliteStoreTest, AFailedTransactionLeavesNothingBehind) {
  {
    SqliteStore store(db_path());
    exec_aside(
        "CREATE TRIGGER fail_alerts BEFORE INSERT ON alerts BEGIN SELECT RAISE(ABORT, 'injected'); "
        "END");
    const auto outcome = store.store_batch(sample_batch(1), kBaseNs);
    EXPECT_EQ(outcome.status, Status::kFailed);
    EXPECT_NE(outcome.error.find("injected"), std::string::npos) << outcome.error;
    // Events went in before the alert failed: they must have been rolled back.
    EXPECT_TRUE(store.events({}).empty());
    EXPECT_TRUE(store.agents().empty());
    EXPECT_TRUE(store.energy({0, kBaseNs * 2, ""}).nodes.empty());

    exec_aside("DROP TRIGGER fail_alerts");
    // Not a duplicate: the failed attempt left no (agent_id, sequence) row.
    EXPECT_EQ(store.store_batch(sample_batch(1), kBaseNs).status, Status::kStored);
    EXPECT_EQ(store.events({}).size(), 3u);
  }
}

TEST_F(SqliteStoreTest, DataSurvivesReopening) {
  {
    SqliteStore store(db_path());
    ASSERT_EQ(store.store_batch(sample_batch(1), kBaseNs).status, Status::kStored);
  }
  SqliteStore reopened(db_path());
  EXPECT_EQ(reopened.events({}).size(), 3u);
  EXPECT_EQ(reopened.alerts({}).size(), 1u);
  EXPECT_EQ(reopened.store_batch(sample_batch(1), kBaseNs).status, Status::kDuplicate);
  EXPECT_EQ(reopened.store_batch(sample_batch(2), kBaseNs).status, Status::kStored);
}

TEST_F(SqliteStoreTest, UsesWalAndRefusesANewerSchema) {
  { SqliteStore store(db_path()); }
  EXPECT_TRUE(std::filesystem::exists(db_path()));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &statement, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)), "wal");
  sqlite3_finalize(statement);
  sqlite3_close(db);

  exec_aside("UPDATE schema_version SET version = 99");
  try {
    SqliteStore newer(db_path());
    FAIL() << "opened a database with a newer schema";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
}

TEST_F(SqliteStoreTest, ReportsAnUnopenableFile) {
  EXPECT_THROW(SqliteStore((dir_.path() / "missing" / "collector.db").string()), StoreError);
}

}  // namespace
}  // namespace vigie::collector
