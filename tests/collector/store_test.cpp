// The Store conformance suite, run on both backends (SQLite and a real
// PostgreSQL, postgres_instance.h), then what is particular to each.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <future>
#include <optional>
#include <random>
#include <thread>

#include "json.h"
#include "storage/postgres_store.h"
#include "storage/sqlite_store.h"
#include "support/postgres_instance.h"
#include "support/sample_batch.h"

namespace vigie::collector {
namespace {

using testing::kBaseNs;
using testing::kSecondNs;
using testing::PostgresInstance;
using testing::sample_batch;
using Status = StoreOutcome::Status;

enum class Backend { kSqlite, kPostgres };

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      postgres_.emplace();
      url_ = postgres_->create_database();
    }
  }

  std::string db_path() const { return (dir_.path() / "collector.db").string(); }

  // A new store on the test's database (as another collector, or after a restart).
  std::unique_ptr<Store> open() {
    if (GetParam() == Backend::kSqlite) return std::make_unique<SqliteStore>(db_path());
    return std::make_unique<PostgresStore>(url_);
  }

  // Runs `sql` on a second connection, as another process would; returns
  // the first column of the first row ("" when none).
  std::string exec_aside(const std::string& sql) {
    if (GetParam() == Backend::kPostgres) return PostgresInstance::exec(url_, sql);
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    std::string value;
    char* error = nullptr;
    const int rc = sqlite3_exec(
        db, sql.c_str(),
        [](void* out, int columns, char** values, char**) {
          auto& first = *static_cast<std::string*>(out);
          if (first.empty() && columns > 0 && values[0]) first = values[0];
          return 0;
        },
        &value, &error);
    const std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    if (rc != SQLITE_OK) throw std::runtime_error("SQLite: " + message + " in: " + sql);
    return value;
  }

  // Makes every insert into `alerts` fail with the message "injected".
  void fail_alert_inserts(bool fail) {
    if (GetParam() == Backend::kSqlite) {
      exec_aside(fail ? "CREATE TRIGGER fail_alerts BEFORE INSERT ON alerts BEGIN SELECT "
                        "RAISE(ABORT, 'injected'); END"
                      : "DROP TRIGGER fail_alerts");
    } else {
      exec_aside(fail ? "CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                        "RAISE EXCEPTION 'injected'; END $$; CREATE TRIGGER fail_alerts BEFORE "
                        "INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION fail()"
                      : "DROP TRIGGER fail_alerts ON alerts");
    }
  }

  testing::TempDir dir_;
  std::optional<PostgresInstance> postgres_;
  std::string url_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres), backend_name);

TEST_P(StoreTest, StoresABatchAndReadsItBack) {
  auto owned = open();
  Store& store = *owned;
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

TEST_P(StoreTest, EveryEventKindSurvivesTheRoundTrip) {
  auto owned = open();
  Store& store = *owned;
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

TEST_P(StoreTest, ADuplicateIsStoredOnce) {
  auto owned = open();
  Store& store = *owned;
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

TEST_P(StoreTest, AnAgentIdOnAnotherHostIsAnotherAgent) {
  // Agents choose their ids; a host must not suppress another's batches by
  // reusing its agent id and sequence numbers.
  auto owned = open();
  Store& store = *owned;
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

TEST_P(StoreTest, KeepsTextThatIsNotUtf8ByteForByte) {
  auto owned = open();
  Store& store = *owned;
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

TEST_P(StoreTest, QueriesFilterByKindHostSinceAndLimit) {
  auto owned = open();
  Store& store = *owned;
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

TEST_P(StoreTest, AggregatesEnergyPerNodeWorkloadAndTime) {
  auto owned = open();
  Store& store = *owned;
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

// The energy report is assembled once (energy_report.h) from each backend's
// SQL: one fixture through both must give the same answer, field by field,
// for the whole window, one host, a window cut mid-way and an empty one.
TEST(StoreParity, EnergyReportIsTheSameOnSqliteAndPostgres) {
  testing::TempDir dir;
  PostgresInstance postgres;
  SqliteStore sqlite((dir.path() / "collector.db").string());
  PostgresStore pg(postgres.create_database());
  std::mt19937_64 random(7);
  uint64_t sequence = 0;
  for (const std::string host : {"node1", "node2", "gpu01"}) {
    for (int interval = 0; interval < 12; ++interval) {
      auto batch = sample_batch(++sequence, host, kBaseNs + interval * 10 * kSecondNs);
      batch.site = host == "gpu01" ? "site-b" : "site-a";
      for (auto& zone : batch.zone_energy)
        zone.energy_joules = static_cast<double>(random() % 900) + 0.25;
      if (host == "gpu01") {
        batch.zone_energy.push_back({batch.zone_energy[0].start_ns, batch.zone_energy[0].end_ns,
                                     "gpu0", protocol::EnergySource::kNvml, interval % 3 == 0,
                                     static_cast<double>(random() % 3000)});
      }
      for (auto& workload : batch.workload_energy) {
        workload.energy_joules = static_cast<double>(random() % 500) + 0.5;
        workload.cpu_seconds = static_cast<double>(random() % 80);
        workload.carbon_gco2e = static_cast<double>(random() % 100) / 8;
        workload.estimated = host == "node2" && interval > 6;
      }
      if (interval % 4 == 1) {  // a second job on the node for a while
        auto other = batch.workload_energy[0];
        other.workload.id = "43";
        other.workload.user = "bob";
        other.energy_joules /= 3;
        batch.workload_energy.push_back(other);
      }
      ASSERT_EQ(sqlite.store_batch(batch, kBaseNs).status, Status::kStored);
      ASSERT_EQ(pg.store_batch(batch, kBaseNs).status, Status::kStored);
    }
  }
  const std::vector<EnergyQuery> queries = {
      {kBaseNs, kBaseNs + 3600 * kSecondNs, ""},
      {kBaseNs, kBaseNs + 3600 * kSecondNs, "gpu01"},
      {kBaseNs + 35 * kSecondNs, kBaseNs + 75 * kSecondNs, ""},
      {0, kBaseNs, ""},
  };
  for (const EnergyQuery& query : queries) {
    const nlohmann::json from_sqlite = to_json(sqlite.energy(query));
    const nlohmann::json from_postgres = to_json(pg.energy(query));
    EXPECT_EQ(from_sqlite, from_postgres)
        << "query [" << query.start_ns << ", " << query.end_ns << "] host '" << query.host
        << "'\nSQLite: " << from_sqlite.dump(1) << "\nPostgreSQL: " << from_postgres.dump(1);
  }
  // The fixture is not trivially empty.
  const auto report = sqlite.energy(queries[0]);
  EXPECT_EQ(report.nodes.size(), 3u);
  EXPECT_GE(report.workloads.size(), 7u);
  EXPECT_GE(report.series.size(), 3u * 3);  // 12 intervals of 10 s in 12 s buckets
}

TEST_P(StoreTest, AFailedTransactionLeavesNothingBehind) {
  auto owned = open();
  Store& store = *owned;
  fail_alert_inserts(true);
  const auto outcome = store.store_batch(sample_batch(1), kBaseNs);
  EXPECT_EQ(outcome.status, Status::kFailed);
  EXPECT_NE(outcome.error.find("injected"), std::string::npos) << outcome.error;
  // Events went in before the alert failed: they must have been rolled back.
  EXPECT_TRUE(store.events({}).empty());
  EXPECT_TRUE(store.agents().empty());
  EXPECT_TRUE(store.energy({0, kBaseNs * 2, ""}).nodes.empty());

  fail_alert_inserts(false);
  // Not a duplicate: the failed attempt left no (agent_id, sequence) row.
  EXPECT_EQ(store.store_batch(sample_batch(1), kBaseNs).status, Status::kStored);
  EXPECT_EQ(store.events({}).size(), 3u);
}

TEST_P(StoreTest, DataSurvivesReopening) {
  {
    auto store = open();
    ASSERT_EQ(store->store_batch(sample_batch(1), kBaseNs).status, Status::kStored);
  }
  auto reopened = open();
  EXPECT_EQ(reopened->events({}).size(), 3u);
  EXPECT_EQ(reopened->alerts({}).size(), 1u);
  EXPECT_EQ(reopened->store_batch(sample_batch(1), kBaseNs).status, Status::kDuplicate);
  EXPECT_EQ(reopened->store_batch(sample_batch(2), kBaseNs).status, Status::kStored);
}

TEST_P(StoreTest, RefusesANewerSchema) {
  open();
  EXPECT_EQ(exec_aside("SELECT MAX(version) FROM schema_version"),
            std::to_string(GetParam() == Backend::kSqlite ? SqliteStore::kSchemaVersion
                                                          : PostgresStore::kSchemaVersion));
  // Opening again is no migration: the version stays, one row.
  open();
  EXPECT_EQ(exec_aside("SELECT COUNT(*) FROM schema_version"), "1");
  exec_aside("UPDATE schema_version SET version = 99");
  try {
    open();
    FAIL() << "opened a database with a newer schema";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
  }
}

TEST_P(StoreTest, StoresAlertsRaisedByTheCollector) {
  auto store = open();
  auto batch = sample_batch(1);
  auto alert = batch.alerts[0];
  alert.event.site.clear();
  alert.event.host.clear();
  store->store_alerts("collector", "site-b", "node9", {alert}, kBaseNs + 5);
  const auto alerts = store->alerts({});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].agent_id, "collector");
  EXPECT_EQ(alerts[0].received_ns, kBaseNs + 5);
  EXPECT_EQ(alerts[0].alert.event.site, "site-b");
  EXPECT_EQ(alerts[0].alert.event.host, "node9");
  EXPECT_EQ(alerts[0].alert.rule_id, alert.rule_id);
  EXPECT_EQ(store->alerts({0, "node9", 10}).size(), 1u);
}

TEST_P(StoreTest, TotalsAJobFootprintAtItsEnd) {
  auto store = open();
  ASSERT_EQ(store->store_batch(sample_batch(1, "node1", kBaseNs), kBaseNs).status, Status::kStored);
  EXPECT_FALSE(store->job_footprint("42").has_value());
  auto last = sample_batch(2, "node1", kBaseNs + 10 * kSecondNs);
  last.workload_ends = {{kBaseNs, kBaseNs + 20 * kSecondNs, last.workload_energy[0].workload}};
  ASSERT_EQ(store->store_batch(last, kBaseNs).status, Status::kStored);
  ASSERT_EQ(store->store_batch(sample_batch(1, "node2", kBaseNs), kBaseNs).status, Status::kStored);
  const auto footprint = store->job_footprint("42");
  ASSERT_TRUE(footprint.has_value());
  EXPECT_EQ(footprint->user, "alice");
  EXPECT_EQ(footprint->account, "physics");
  ASSERT_EQ(footprint->hosts.size(), 1u);  // node2 has not reported the end
  const auto& host = footprint->hosts[0];
  EXPECT_EQ(host.host, "node1");
  EXPECT_EQ(host.start_ns, kBaseNs);
  EXPECT_EQ(host.end_ns, kBaseNs + 20 * kSecondNs);
  EXPECT_DOUBLE_EQ(host.energy_joules, 180);
  EXPECT_DOUBLE_EQ(host.cpu_joules, 140);
  EXPECT_DOUBLE_EQ(host.idle_joules, 40);
  EXPECT_DOUBLE_EQ(host.cpu_seconds, 16);
  EXPECT_DOUBLE_EQ(host.operational_gco2e, 2);
  EXPECT_FALSE(host.estimated);
}

// --- Retention and downsampling (RetentionPolicy in store.h) ---

constexpr uint64_t kHourNs = 3600 * kSecondNs;
// kBaseNs is 20 s past a minute and 800 s past an hour.
constexpr uint64_t kMinuteBeforeBaseNs = kBaseNs - 20 * kSecondNs;

// Batch i (0-based) of node1: the sample batch at kBaseNs + 10 s * i, with
// energies that vary by batch (binary fractions, so sums are exact).
protocol::Batch energy_batch(int i) {
  auto batch = sample_batch(static_cast<uint64_t>(i + 1), "node1",
                            kBaseNs + static_cast<uint64_t>(i) * 10 * kSecondNs);
  batch.zone_energy[0].energy_joules = 100 + 0.5 * i;
  batch.zone_energy[2].energy_joules = 20 + 0.25 * i;
  batch.workload_energy[0].energy_joules = 90 + 0.5 * i;
  batch.workload_energy[0].cpu_joules = 70 + 0.5 * i;
  batch.workload_energy[0].cpu_seconds = 8 + 0.125 * i;
  batch.workload_energy[0].carbon_gco2e = 1 + 0.0625 * i;
  batch.workload_energy[0].embodied_gco2e = 0.5;
  return batch;
}

struct Totals {
  double node_joules = 0, node_gco2e = 0, job_joules = 0, job_cpu_seconds = 0, job_gco2e = 0;
  std::vector<std::pair<std::string, double>> zones;
  bool operator==(const Totals&) const = default;
};
std::ostream& operator<<(std::ostream& out, const Totals& t) {
  return out << "node " << t.node_joules << " J " << t.node_gco2e << " g, job " << t.job_joules
             << " J " << t.job_cpu_seconds << " s " << t.job_gco2e << " g";
}

Totals totals(Store& store, uint64_t start_ns, uint64_t end_ns) {
  const auto report = store.energy({start_ns, end_ns, "node1"});
  Totals t;
  for (const auto& node : report.nodes) {
    t.node_joules += node.energy_joules;
    t.node_gco2e += node.carbon_gco2e;
    for (const auto& zone : node.zones) t.zones.emplace_back(zone.zone, zone.energy_joules);
  }
  for (const auto& w : report.workloads) {
    if (w.workload.id != "42") continue;
    t.job_joules += w.energy_joules;
    t.job_cpu_seconds += w.cpu_seconds;
    t.job_gco2e += w.carbon_gco2e;
  }
  return t;
}

TEST_P(StoreTest, RetentionDeletesOldEventsAndAlertsOnly) {
  auto store = open();
  const uint64_t day = 24 * kHourNs;
  ASSERT_EQ(store->store_batch(sample_batch(1, "node1", kBaseNs), kBaseNs).status, Status::kStored);
  ASSERT_EQ(
      store->store_batch(sample_batch(2, "node1", kBaseNs + 2 * day), kBaseNs + 2 * day).status,
      Status::kStored);
  const uint64_t now = kBaseNs + 2 * day + kHourNs;
  RetentionPolicy policy;
  policy.events = std::chrono::hours(24);
  policy.alerts = std::chrono::hours(72);
  policy.raw_energy = std::chrono::hours(0);  // kept forever
  auto outcome = store->apply_retention(policy, now);
  EXPECT_EQ(outcome.events_deleted, 3u);
  EXPECT_EQ(outcome.alerts_deleted, 0u);
  EXPECT_EQ(outcome.energy_rows_downsampled, 0u);
  EXPECT_EQ(outcome.batches_deleted, 0u);  // raw energy kept forever: keys too
  const auto events = store->events({.limit = 100});
  ASSERT_EQ(events.size(), 3u);
  for (const auto& event : events) EXPECT_GE(event.time_ns, kBaseNs + 2 * day);
  EXPECT_EQ(store->alerts({}).size(), 2u);
  EXPECT_EQ(exec_aside("SELECT COUNT(*) FROM zone_energy"), "6");

  policy.alerts = std::chrono::hours(24);
  outcome = store->apply_retention(policy, now);
  EXPECT_EQ(outcome.events_deleted, 0u);  // idempotent
  EXPECT_EQ(outcome.alerts_deleted, 1u);
  EXPECT_EQ(store->alerts({}).size(), 1u);
  // Still a duplicate: its key is kept.
  EXPECT_EQ(store->store_batch(sample_batch(1, "node1", kBaseNs), now).status, Status::kDuplicate);

  // Zero everywhere keeps everything.
  const auto none = store->apply_retention(
      {std::chrono::hours(0), std::chrono::hours(0), std::chrono::hours(0), std::chrono::hours(0)},
      now + 1000 * day);
  EXPECT_EQ(none.events_deleted + none.alerts_deleted + none.energy_rows_downsampled +
                none.batches_deleted,
            0u);
  EXPECT_EQ(store->events({}).size(), 3u);
}

TEST_P(StoreTest, RetentionForgetsBatchKeysAfterTheLongestRetention) {
  auto store = open();
  ASSERT_EQ(store->store_batch(sample_batch(1), kBaseNs).status, Status::kStored);
  ASSERT_EQ(store->store_batch(sample_batch(2), kBaseNs + 10 * kHourNs).status, Status::kStored);
  const RetentionPolicy policy{std::chrono::hours(1), std::chrono::hours(5), std::chrono::hours(2),
                               std::chrono::hours(24)};
  EXPECT_EQ(store->apply_retention(policy, kBaseNs + 6 * kHourNs).batches_deleted, 1u);
  EXPECT_EQ(exec_aside("SELECT COUNT(*) FROM batches"), "1");
}

TEST_P(StoreTest, RetentionDownsamplesEnergyToMinutesThenHoursKeepingTotals) {
  auto store = open();
  constexpr int kBatches = 30;  // 10 s intervals ending 30 s .. 320 s past a minute
  for (int i = 0; i < kBatches; ++i)
    ASSERT_EQ(store->store_batch(energy_batch(i), kBaseNs).status, Status::kStored) << i;
  const uint64_t all_start = kBaseNs, all_end = kBaseNs + 1000 * kSecondNs;
  // Minutes 2 and 3 past kMinuteBeforeBaseNs: whole buckets.
  const uint64_t part_start = kMinuteBeforeBaseNs + 61 * kSecondNs,
                 part_end = kMinuteBeforeBaseNs + 180 * kSecondNs;
  const Totals all = totals(*store, all_start, all_end),
               part = totals(*store, part_start, part_end);
  EXPECT_DOUBLE_EQ(all.job_joules, kBatches * 90 + 0.5 * (kBatches * (kBatches - 1) / 2));
  EXPECT_DOUBLE_EQ(part.node_joules,
                   12 * 120 + 0.75 * (4 + 5 + 6 + 7 + 8 + 9 + 10 + 11 + 12 + 13 + 14 + 15));

  RetentionPolicy policy{std::chrono::hours(0), std::chrono::hours(0), std::chrono::hours(1),
                         std::chrono::hours(24)};
  // Raw rows past an hour become one row per minute: 6 minutes (4 + 6 x 4 +
  // 2 intervals), 3 zones and 2 workloads each.
  auto outcome = store->apply_retention(policy, kBaseNs + 2 * kHourNs);
  EXPECT_EQ(outcome.energy_rows_downsampled, kBatches * 5u);
  EXPECT_EQ(outcome.energy_rows_written, 6 * 5u);
  EXPECT_EQ(outcome.events_deleted, 0u);
  EXPECT_EQ(exec_aside("SELECT COUNT(*) FROM zone_energy WHERE resolution_ns = 60000000000"), "18");
  EXPECT_EQ(exec_aside("SELECT COUNT(*) FROM workload_energy"), "12");
  // The first minute row spans its intervals: [kBaseNs, kBaseNs + 40 s].
  EXPECT_EQ(exec_aside("SELECT MIN(end_ns) FROM zone_energy"),
            std::to_string(kBaseNs + 40 * kSecondNs));
  EXPECT_EQ(totals(*store, all_start, all_end), all);
  EXPECT_EQ(totals(*store, part_start, part_end), part);

  // Idempotent.
  outcome = store->apply_retention(policy, kBaseNs + 2 * kHourNs);
  EXPECT_EQ(outcome.energy_rows_downsampled, 0u);
  EXPECT_EQ(outcome.energy_rows_written, 0u);
  EXPECT_EQ(exec_aside("SELECT COUNT(*) FROM zone_energy"), "18");

  // A day later the minute rows become hour rows: all in one hour.
  outcome = store->apply_retention(policy, kBaseNs + 26 * kHourNs);
  EXPECT_EQ(outcome.energy_rows_downsampled, 6 * 5u);
  EXPECT_EQ(outcome.energy_rows_written, 5u);
  EXPECT_EQ(exec_aside("SELECT COUNT(*) FROM zone_energy WHERE resolution_ns = 3600000000000"),
            "3");
  EXPECT_EQ(totals(*store, all_start, all_end), all);
  EXPECT_EQ(store->apply_retention(policy, kBaseNs + 26 * kHourNs).energy_rows_downsampled, 0u);

  // The job ends after its energy was downsampled: its footprint is the
  // sum of what was sent.
  auto end = energy_batch(kBatches);
  end.workload_ends = {{kBaseNs, kBaseNs + 310 * kSecondNs, end.workload_energy[0].workload}};
  ASSERT_EQ(store->store_batch(end, kBaseNs).status, Status::kStored);
  const auto footprint = store->job_footprint("42");
  ASSERT_TRUE(footprint.has_value());
  ASSERT_EQ(footprint->hosts.size(), 1u);
  const auto& host = footprint->hosts[0];
  const int n = kBatches + 1;
  EXPECT_EQ(host.start_ns, kBaseNs);
  EXPECT_EQ(host.end_ns, kBaseNs + 310 * kSecondNs);
  EXPECT_DOUBLE_EQ(host.energy_joules, n * 90 + 0.5 * (n * (n - 1) / 2));
  EXPECT_DOUBLE_EQ(host.cpu_joules, n * 70 + 0.5 * (n * (n - 1) / 2));
  EXPECT_DOUBLE_EQ(host.idle_joules, n * 20);
  EXPECT_DOUBLE_EQ(host.cpu_seconds, n * 8 + 0.125 * (n * (n - 1) / 2));
  EXPECT_DOUBLE_EQ(host.operational_gco2e, n * 1 + 0.0625 * (n * (n - 1) / 2));
  EXPECT_DOUBLE_EQ(host.embodied_gco2e, n * 0.5);
}

TEST_P(StoreTest, RetentionRunsWhileBatchesAreStored) {
  auto store = open();
  std::atomic<bool> done{false};
  std::atomic<int> failed{0};
  constexpr int kBatches = 60;
  std::thread writer([&] {
    for (int i = 0; i < kBatches; ++i)
      if (store->store_batch(energy_batch(i), kBaseNs).status != Status::kStored) ++failed;
    done = true;
  });
  const RetentionPolicy policy{std::chrono::hours(0), std::chrono::hours(0), std::chrono::hours(1),
                               std::chrono::hours(0)};
  uint64_t downsampled = 0;
  while (!done)
    downsampled += store->apply_retention(policy, kBaseNs + 2 * kHourNs).energy_rows_downsampled;
  writer.join();
  downsampled += store->apply_retention(policy, kBaseNs + 2 * kHourNs).energy_rows_downsampled;
  EXPECT_EQ(failed, 0);
  // Every raw row summed once; late rows of a bucket may make a second row
  // for it, never a lost or doubled joule.
  EXPECT_EQ(downsampled, kBatches * 5u);
  EXPECT_EQ(exec_aside("SELECT COUNT(*) FROM zone_energy WHERE resolution_ns = 0"), "0");
  const Totals t = totals(*store, kBaseNs, kBaseNs + 2 * kHourNs);
  EXPECT_DOUBLE_EQ(t.job_joules, kBatches * 90 + 0.5 * (kBatches * (kBatches - 1) / 2));
}

// --- SQLite only ---

TEST(SqliteStoreTest, UsesWal) {
  testing::TempDir dir;
  const auto path = (dir.path() / "collector.db").string();
  { SqliteStore store(path); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &statement, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)), "wal");
  sqlite3_finalize(statement);
  sqlite3_close(db);
}

TEST(SqliteStoreTest, ReportsAnUnopenableFile) {
  testing::TempDir dir;
  EXPECT_THROW(SqliteStore((dir.path() / "missing" / "collector.db").string()), StoreError);
}

// --- PostgreSQL only ---

TEST(PostgresStoreTest, TwoCollectorsStoringOneBatchGetOneStoredAndOneDuplicate) {
  PostgresInstance postgres;
  const auto url = postgres.create_database();
  PostgresStore first(url), second(url);
  constexpr int kRounds = 40;
  for (int round = 1; round <= kRounds; ++round) {
    const auto batch = sample_batch(static_cast<uint64_t>(round));
    std::promise<void> go;
    auto ready = go.get_future().share();
    auto attempt = [&](PostgresStore& store) {
      ready.wait();
      return store.store_batch(batch, kBaseNs).status;
    };
    auto a = std::async(std::launch::async, attempt, std::ref(first));
    auto b = std::async(std::launch::async, attempt, std::ref(second));
    go.set_value();
    const Status sa = a.get(), sb = b.get();
    EXPECT_TRUE((sa == Status::kStored && sb == Status::kDuplicate) ||
                (sa == Status::kDuplicate && sb == Status::kStored))
        << "round " << round << ": " << static_cast<int>(sa) << " " << static_cast<int>(sb);
  }
  EXPECT_EQ(first.events({.limit = 1000}).size(), 3u * kRounds);
  EXPECT_EQ(second.alerts({.limit = 1000}).size(), static_cast<std::size_t>(kRounds));
  EXPECT_EQ(PostgresInstance::exec(url, "SELECT COUNT(*) FROM batches"), std::to_string(kRounds));
  EXPECT_EQ(first.agents().at(0).last_sequence, static_cast<uint64_t>(kRounds));
}

TEST(PostgresStoreTest, ManyThreadsShareThePool) {
  PostgresInstance postgres;
  PostgresStore store(postgres.create_database(), 3);
  std::vector<std::thread> threads;
  std::atomic<int> stored{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const std::string host = "node" + std::to_string(t);
      for (uint64_t seq = 1; seq <= 10; ++seq) {
        if (store.store_batch(sample_batch(seq, host), kBaseNs).status == Status::kStored) ++stored;
        store.events({.host = host, .limit = 5});
      }
    });
  }
  // The pool as /metrics shows it, sampled while the threads run: never
  // more connections than pool_size.
  std::size_t most_open = 0, most_in_use = 0;
  while (stored < 80) {
    const auto pool = store.pool_stats();
    most_open = std::max(most_open, pool.open);
    most_in_use = std::max(most_in_use, pool.in_use);
    EXPECT_LE(pool.in_use, pool.open);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(stored, 80);
  EXPECT_EQ(store.agents().size(), 8u);
  EXPECT_EQ(store.pool_size(), 3u);
  EXPECT_LE(most_open, 3u);
  EXPECT_GE(most_in_use, 1u);
  EXPECT_LE(most_in_use, 3u);
  const auto idle = store.pool_stats();
  EXPECT_EQ(idle.in_use, 0u);
  EXPECT_EQ(idle.waiting, 0u);
  EXPECT_GE(idle.open, 1u);
}

TEST(PostgresStoreTest, ReconnectsAfterTheServerRestarts) {
  PostgresInstance postgres(PostgresInstance::kPrivate);
  PostgresStore store(postgres.create_database());
  ASSERT_EQ(store.store_batch(sample_batch(1), kBaseNs).status, Status::kStored);

  postgres.restart();
  // The pooled connection is broken; the store notices and reconnects.
  EXPECT_EQ(store.store_batch(sample_batch(2), kBaseNs).status, Status::kStored);
  EXPECT_EQ(store.events({}).size(), 6u);

  postgres.stop();
  const auto down = store.store_batch(sample_batch(3), kBaseNs);
  EXPECT_EQ(down.status, Status::kFailed);
  EXPECT_FALSE(down.error.empty());
  EXPECT_THROW(store.events({}), StoreError);

  postgres.start();
  EXPECT_EQ(store.store_batch(sample_batch(3), kBaseNs).status, Status::kStored);
  EXPECT_EQ(store.store_batch(sample_batch(3), kBaseNs).status, Status::kDuplicate);
  EXPECT_EQ(store.events({.limit = 100}).size(), 9u);

  // A crash (SIGKILL) loses nothing acknowledged.
  postgres.kill();
  postgres.start();
  EXPECT_EQ(store.events({.limit = 100}).size(), 9u);
  EXPECT_EQ(store.agents().at(0).last_sequence, 3u);
}

TEST(PostgresStoreTest, CollectorsStartingTogetherMigrateOnce) {
  PostgresInstance postgres;
  const auto url = postgres.create_database();
  std::vector<std::future<void>> starts;
  for (int i = 0; i < 6; ++i)
    starts.push_back(std::async(std::launch::async, [&] { PostgresStore store(url); }));
  for (auto& start : starts) EXPECT_NO_THROW(start.get());
  EXPECT_EQ(
      PostgresInstance::exec(url, "SELECT string_agg(version::text, ',') FROM schema_version"),
      std::to_string(PostgresStore::kSchemaVersion));
  EXPECT_EQ(PostgresInstance::exec(url,
                                   "SELECT COUNT(*) FROM information_schema.tables WHERE "
                                   "table_schema = 'public'"),
            "21");  // schema_version, 7 of migration 1, 9 of migration 2 (the CSIRT's), 1 of 3,
                    // 3 of 4 (the sustainability reports')
}

TEST(PostgresStoreTest, ReportsAnUnreachableServer) {
  PostgresInstance postgres(PostgresInstance::kPrivate);
  const auto url = postgres.create_database();
  postgres.stop();
  try {
    PostgresStore store(url);
    FAIL() << "connected to a stopped server";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect to PostgreSQL"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace vigie::collector
