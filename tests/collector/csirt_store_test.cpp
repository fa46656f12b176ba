// The csirt::CsirtStore conformance suite, run on both backends (SQLite and a
// real PostgreSQL): incidents with their readable ids and optimistic
// concurrency, the append-only timeline, indicators unique per (type,
// value, source), sightings written with their alert at ingest, the
// observables index a retro-hunt reads, retention, the overdue claims.
#include <gtest/gtest.h>

#include <optional>
#include <thread>

#include "storage/postgres_store.h"
#include "storage/sqlite_store.h"
#include "support/postgres_instance.h"
#include "support/sample_batch.h"
#include "vigie/csirt/json.h"

namespace vigie::collector {
namespace {

using testing::kBaseNs;
using testing::kSecondNs;
using testing::PostgresInstance;
using testing::sample_batch;

enum class Backend { kSqlite, kPostgres };

class CsirtStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      postgres_.emplace();
      url_ = postgres_->create_database();
    }
    store_ = open();
    csirt_ = store_->csirt_store();
    ASSERT_NE(csirt_, nullptr);
  }

  std::unique_ptr<Store> open() {
    if (GetParam() == Backend::kSqlite)
      return std::make_unique<SqliteStore>((dir_.path() / "collector.db").string());
    return std::make_unique<PostgresStore>(url_);
  }

  csirt::Incident new_incident(const std::string& site, uint64_t created_ns) {
    csirt::Incident incident;
    incident.title = "Miner on node12";
    incident.sites = {site};
    incident.created_ns = incident.updated_ns = created_ns;
    incident.times.discovered_ns = created_ns;
    csirt::TimelineEntry first;
    first.kind = csirt::EntryKind::kStateChange;
    first.text = "opened";
    first.occurred_ns = first.recorded_ns = created_ns;
    return csirt_->create_incident(incident, first);
  }

  csirt::Indicator put(csirt::ObservableType type, const std::string& value,
                       const std::string& source = "site") {
    csirt::Indicator indicator;
    indicator.type = type;
    indicator.value = *csirt::normalise(type, value);
    indicator.source = source;
    indicator.created_ns = indicator.updated_ns = kBaseNs;
    return csirt_->put_indicator(indicator);
  }

  testing::TempDir dir_;
  std::optional<PostgresInstance> postgres_;
  std::string url_;
  std::unique_ptr<Store> store_;
  csirt::CsirtStore* csirt_ = nullptr;
};

// 2025-03-04T10:05:00Z and a year later.
constexpr uint64_t k2025 = 1741082700ull * 1'000'000'000ull;
constexpr uint64_t k2026 = k2025 + 365ull * 86400 * 1'000'000'000ull;

TEST_P(CsirtStoreTest, IncidentIdsCountPerSiteAndYear) {
  EXPECT_EQ(new_incident("GRIF", k2025).id, "grif-2025-0001");
  EXPECT_EQ(new_incident("GRIF", k2025 + 1).id, "grif-2025-0002");
  EXPECT_EQ(new_incident("LAL", k2025).id, "lal-2025-0001");
  const csirt::Incident next_year = new_incident("GRIF", k2026);
  EXPECT_EQ(next_year.id, "grif-2026-0001");
  EXPECT_EQ(next_year.version, 1u);

  // By id or uuid, from another connection (another collector, or after a restart).
  auto again = open();
  const auto by_uuid = again->csirt_store()->incident(next_year.uuid);
  ASSERT_TRUE(by_uuid);
  EXPECT_EQ(*by_uuid, next_year);
  EXPECT_FALSE(again->csirt_store()->incident("grif-2025-0099"));
  const auto timeline = csirt_->timeline(next_year.id);
  ASSERT_EQ(timeline.size(), 1u);
  EXPECT_EQ(timeline[0].text, "opened");
  EXPECT_EQ(timeline[0].incident_id, next_year.id);
  EXPECT_FALSE(timeline[0].id.empty());
}

TEST_P(CsirtStoreTest, ListsNewestFirstByStateOrOpen) {
  auto a = new_incident("s", k2025);
  auto b = new_incident("s", k2025 + 1);
  csirt::Incident closed = b;
  closed.state = csirt::State::kFalsePositive;
  ASSERT_EQ(csirt_->update_incident(closed, 1, {}), csirt::WriteOutcome::kWritten);
  auto all = csirt_->incidents({});
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, b.id);
  auto open_only = csirt_->incidents({std::nullopt, true, 100});
  ASSERT_EQ(open_only.size(), 1u);
  EXPECT_EQ(open_only[0].id, a.id);
  EXPECT_EQ(csirt_->incidents({csirt::State::kFalsePositive, false, 100}).size(), 1u);
  EXPECT_EQ(csirt_->incidents({std::nullopt, false, 1}).size(), 1u);
}

TEST_P(CsirtStoreTest, UpdatesAreCompareAndSetOnTheVersion) {
  auto incident = new_incident("s", k2025);
  csirt::Incident edit = incident;
  edit.title = "Miner and backdoor";
  csirt::TimelineEntry entry;
  entry.kind = csirt::EntryKind::kNote;
  entry.text = "title changed";
  ASSERT_EQ(csirt_->update_incident(edit, 1, {entry}), csirt::WriteOutcome::kWritten);
  const auto stored = *csirt_->incident(incident.id);
  EXPECT_EQ(stored.version, 2u);
  EXPECT_EQ(stored.title, "Miner and backdoor");
  EXPECT_EQ(csirt_->timeline(incident.id).size(), 2u);

  // A second writer with the version it read before: stale, nothing written.
  csirt::Incident other = incident;
  other.title = "lost";
  EXPECT_EQ(csirt_->update_incident(other, 1, {entry}), csirt::WriteOutcome::kStale);
  EXPECT_EQ(csirt_->incident(incident.id)->title, "Miner and backdoor");
  EXPECT_EQ(csirt_->timeline(incident.id).size(), 2u);
  other.id = "nope-2025-0001";
  EXPECT_EQ(csirt_->update_incident(other, 1, {}), csirt::WriteOutcome::kNotFound);
}

TEST_P(CsirtStoreTest, ConcurrentUpdatesWithTheSameVersionOneWins) {
  auto incident = new_incident("s", k2025);
  std::atomic<int> written{0}, stale{0};
  std::vector<std::thread> threads;
  auto second = open();
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      csirt::Incident edit = incident;
      edit.summary = "writer " + std::to_string(i);
      auto* target = i % 2 == 0 ? csirt_ : second->csirt_store();
      const auto outcome = target->update_incident(edit, 1, {});
      (outcome == csirt::WriteOutcome::kWritten ? written : stale)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(written, 1);
  EXPECT_EQ(stale, 7);
  EXPECT_EQ(csirt_->incident(incident.id)->version, 2u);
}

TEST_P(CsirtStoreTest, TimelineIsInTheOrderThingsHappened) {
  auto incident = new_incident("s", k2025);
  for (uint64_t at : {k2025 + 30, k2025 + 10, k2025 + 20}) {
    csirt::TimelineEntry entry;
    entry.incident_id = incident.id;
    entry.occurred_ns = at;
    entry.text = std::to_string(at - k2025);
    entry.references.alerts = {3, 4};
    ASSERT_TRUE(csirt_->append_entry(entry));
  }
  csirt::TimelineEntry orphan;
  orphan.incident_id = "none-2025-0001";
  EXPECT_FALSE(csirt_->append_entry(orphan));
  const auto timeline = csirt_->timeline(incident.id);
  ASSERT_EQ(timeline.size(), 4u);
  EXPECT_EQ(timeline[1].text, "10");
  EXPECT_EQ(timeline[2].text, "20");
  EXPECT_EQ(timeline[3].text, "30");
  EXPECT_EQ(timeline[3].references.alerts, (std::vector<int64_t>{3, 4}));
}

TEST_P(CsirtStoreTest, IndicatorsAreUniquePerTypeValueAndSource) {
  const auto first = put(csirt::ObservableType::kIp, "198.51.100.7");
  csirt::Indicator again = first;
  again.uuid.clear();
  again.tlp = csirt::Tlp::kRed;
  again.deleted = true;
  const auto replaced = csirt_->put_indicator(again);
  EXPECT_EQ(replaced.uuid, first.uuid);
  EXPECT_EQ(csirt_->indicator(first.uuid)->tlp, csirt::Tlp::kRed);
  const auto misp = put(csirt::ObservableType::kIp, "198.51.100.7", "misp:event-1");
  EXPECT_NE(misp.uuid, first.uuid);

  csirt::IndicatorQuery query;
  query.type = csirt::ObservableType::kIp;
  query.value = "198.51.100.7";
  EXPECT_EQ(csirt_->indicators(query).size(), 1u);  // the revoked one is hidden
  query.include_deleted = true;
  EXPECT_EQ(csirt_->indicators(query).size(), 2u);
  const auto detection = csirt_->detection_indicators();
  ASSERT_EQ(detection.size(), 1u);
  EXPECT_EQ(detection[0].uuid, misp.uuid);
}

TEST_P(CsirtStoreTest, AnIndicatorGivenItsUuidIsEditedInPlace) {
  // A MISP attribute keeps its uuid when its value is edited: the stored
  // indicator follows it, its creation and sightings kept.
  csirt::Indicator first;
  first.uuid = "5b6464ca-e73c-4707-9b8a-d0350acd0835";
  first.type = csirt::ObservableType::kDomain;
  first.value = "old.example";
  first.source = "misp:event-1";
  first.created_ns = first.updated_ns = 10;
  ASSERT_EQ(csirt_->put_indicator(first).uuid, first.uuid);
  csirt::Indicator edited = first;
  edited.value = "new.example";
  edited.created_ns = edited.updated_ns = 20;
  const auto stored = csirt_->put_indicator(edited);
  EXPECT_EQ(stored.uuid, first.uuid);
  EXPECT_EQ(stored.created_ns, 10u);
  const auto back = csirt_->indicator(first.uuid);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->value, "new.example");
  csirt::IndicatorQuery query;
  query.include_deleted = true;
  EXPECT_EQ(csirt_->indicators(query).size(), 1u);
  // Another uuid for a (type, value, source) already stored: the stored one is updated.
  csirt::Indicator twin = edited;
  twin.uuid = "5b6464ca-0000-4000-8000-d0350acd0835";
  EXPECT_EQ(csirt_->put_indicator(twin).uuid, first.uuid);
  EXPECT_FALSE(csirt_->indicator(twin.uuid));
}

TEST_P(CsirtStoreTest, KeepsExchangeDocumentsByKindAndKey) {
  csirt_->put_document("misp-event", "a", R"({"timestamp":1})", 1);
  csirt_->put_document("misp-event", "b", R"({"timestamp":2})", 2);
  csirt_->put_document("import", "a", R"({"counts":{}})", 3);
  csirt_->put_document("misp-event", "a", R"({"timestamp":5})", 5);  // replaced whole
  EXPECT_EQ(csirt_->document("misp-event", "a"), std::optional<std::string>(R"({"timestamp":5})"));
  EXPECT_FALSE(csirt_->document("misp-event", "c"));
  const auto events = csirt_->documents("misp-event", 10);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].first, "a");  // most recently updated first
  EXPECT_EQ(events[1].second, R"({"timestamp":2})");
  EXPECT_EQ(csirt_->documents("misp-event", 1).size(), 1u);
  EXPECT_EQ(csirt_->documents("import", 10).size(), 1u);
}

TEST_P(CsirtStoreTest, LinksIndicatorsToIncidentsWithARole) {
  auto incident = new_incident("s", k2025);
  const auto ip = put(csirt::ObservableType::kIp, "198.51.100.7");
  EXPECT_TRUE(csirt_->link_indicator(incident.id, ip.uuid, csirt::LinkRole::kSuspected, 5));
  EXPECT_TRUE(csirt_->link_indicator(incident.id, ip.uuid, csirt::LinkRole::kObserved, 6));
  EXPECT_FALSE(csirt_->link_indicator(incident.id, "no-such-uuid", csirt::LinkRole::kObserved, 6));
  EXPECT_FALSE(csirt_->link_indicator("none-2025-0001", ip.uuid, csirt::LinkRole::kObserved, 6));
  const auto linked = csirt_->incident_indicators(incident.id);
  ASSERT_EQ(linked.size(), 1u);
  EXPECT_EQ(linked[0].role, csirt::LinkRole::kObserved);
  EXPECT_EQ(linked[0].indicator.uuid, ip.uuid);
}

TEST_P(CsirtStoreTest, AnAlertMatchingAnIndicatorBecomesASightingInItsTransaction) {
  // The sample alert's event: /usr/bin/curl run by alice in Slurm job 42.
  const auto curl = put(csirt::ObservableType::kFileName, "curl");
  const auto revoked = [&] {
    auto i = put(csirt::ObservableType::kUser, "alice");
    i.deleted = true;
    return csirt_->put_indicator(i);
  }();
  store_->set_indicator_matcher(std::make_shared<csirt::IndicatorMatcher>(
      csirt_->detection_indicators(), kBaseNs));
  ASSERT_EQ(store_->store_batch(sample_batch(1), kBaseNs).status, StoreOutcome::Status::kStored);
  ASSERT_EQ(store_->store_batch(sample_batch(2, "node1", kBaseNs + 60 * kSecondNs), kBaseNs).status,
            StoreOutcome::Status::kStored);
  // A duplicate batch adds nothing.
  ASSERT_EQ(store_->store_batch(sample_batch(2, "node1", kBaseNs + 60 * kSecondNs), kBaseNs).status,
            StoreOutcome::Status::kDuplicate);

  const auto sightings = csirt_->sightings(curl.uuid, 10);
  ASSERT_EQ(sightings.size(), 1u);
  const csirt::Sighting& s = sightings[0];
  EXPECT_EQ(s.site, "site-a");
  EXPECT_EQ(s.host, "node1");
  EXPECT_EQ(s.workload_kind, "slurm_job");
  EXPECT_EQ(s.workload_id, "42");
  EXPECT_EQ(s.user, "alice");
  EXPECT_EQ(s.count, 2u);
  EXPECT_EQ(s.first_ns, kBaseNs);
  EXPECT_EQ(s.last_ns, kBaseNs + 60 * kSecondNs);
  EXPECT_EQ(s.source, "alert");
  ASSERT_GT(s.alert_id, 0);
  const auto alerts = csirt_->alerts_by_id({s.alert_id, 999999});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert.rule_title, "Download and execute with curl");
  EXPECT_EQ(alerts[0].alert.event.workload.id, "42");
  const auto seen = *csirt_->indicator(curl.uuid);
  EXPECT_EQ(seen.first_seen_ns, kBaseNs);
  EXPECT_EQ(seen.last_seen_ns, kBaseNs + 60 * kSecondNs);
  EXPECT_TRUE(csirt_->sightings(revoked.uuid, 10).empty());  // revoked: never matches
}

TEST_P(CsirtStoreTest, ObservablesOfStoredEventsAreFoundByKeyRangeBoundedAndKeptAsLongAsEvents) {
  for (uint64_t seq = 1; seq <= 5; ++seq)
    ASSERT_EQ(store_->store_batch(sample_batch(seq, "node" + std::to_string(seq % 2),
                                               kBaseNs + seq * kSecondNs),
                                  kBaseNs)
                  .status,
              StoreOutcome::Status::kStored);
  const auto ranges = csirt::key_ranges(csirt::ObservableType::kIp, "198.51.100.0/24");
  uint64_t rows = 0;
  bool truncated = true;
  auto hits = csirt_->find_observables(csirt::ObservableType::kIp, ranges[0], 0, 100, rows,
                                       truncated);
  EXPECT_EQ(rows, 5u);
  EXPECT_FALSE(truncated);
  ASSERT_EQ(hits.size(), 2u);  // node0 and node1
  uint64_t total = 0;
  for (const auto& hit : hits) {
    total += hit.count;
    EXPECT_EQ(hit.workload_id, "42");
    EXPECT_EQ(hit.user, "alice");
  }
  EXPECT_EQ(total, 5u);
  csirt_->find_observables(csirt::ObservableType::kIp, ranges[0], 0, 3, rows, truncated);
  EXPECT_EQ(rows, 3u);
  EXPECT_TRUE(truncated);
  // Since: only the later ones (batch N's connection is at N + 1 s).
  csirt_->find_observables(csirt::ObservableType::kIp, ranges[0], kBaseNs + 5 * kSecondNs, 100,
                           rows, truncated);
  EXPECT_EQ(rows, 2u);
  // Nothing outside the range.
  const auto other = csirt::key_ranges(csirt::ObservableType::kIp, "198.51.101.0/24");
  EXPECT_TRUE(csirt_->find_observables(csirt::ObservableType::kIp, other[0], 0, 100, rows,
                                       truncated)
                  .empty());

  RetentionPolicy policy;
  policy.events = std::chrono::hours(1);
  store_->apply_retention(policy, kBaseNs + 3600 * kSecondNs + 5 * kSecondNs);
  csirt_->find_observables(csirt::ObservableType::kIp, ranges[0], 0, 100, rows, truncated);
  EXPECT_EQ(rows, 2u);  // the events of seq 4 and 5 are kept, the others deleted
}

TEST_P(CsirtStoreTest, RecordsRetrohuntSightingsAndRetrohunts) {
  const auto ip = put(csirt::ObservableType::kIp, "198.51.100.7");
  csirt::Sighting s{ip.uuid, "site-a", "node1", "slurm_job", "42", "alice", 100, 200, 3, "retrohunt", 0};
  csirt_->record_sightings({s, s});  // the same retro-hunt twice: counted once
  s.source = "alert";
  csirt_->record_sightings({s, s});  // two alerts: counted twice
  const auto sightings = csirt_->sightings(ip.uuid, 10);
  ASSERT_EQ(sightings.size(), 2u);
  EXPECT_EQ(sightings[0].count + sightings[1].count, 3u + 6u);
  EXPECT_EQ(csirt_->indicator(ip.uuid)->first_seen_ns, 100u);

  csirt::Retrohunt hunt;
  hunt.id = csirt::new_uuid();
  hunt.indicators = {ip.uuid};
  csirt_->put_retrohunt(hunt);
  hunt.state = "done";
  hunt.rows_scanned = 3;
  csirt_->put_retrohunt(hunt);
  const auto back = csirt_->retrohunt(hunt.id);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->state, "done");
  EXPECT_EQ(back->rows_scanned, 3u);
  EXPECT_FALSE(csirt_->retrohunt("nope"));
}

TEST_P(CsirtStoreTest, AnOverdueStepIsClaimedOnceAcrossCollectors) {
  auto second = open();
  EXPECT_TRUE(csirt_->claim_overdue("s-2025-0001", "report", 1));
  EXPECT_FALSE(second->csirt_store()->claim_overdue("s-2025-0001", "report", 2));
  EXPECT_TRUE(second->csirt_store()->claim_overdue("s-2025-0001", "contain", 2));
}

INSTANTIATE_TEST_SUITE_P(Backends, CsirtStoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
                         });

}  // namespace
}  // namespace vigie::collector
