// The Store backend for several collectors and HA: PostgreSQL through libpq.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vigie/collector/store.h"
#include "vigie/csirt/store.h"

namespace vigie::collector {
namespace postgres {
class CopyRows;
}

// Stores batches in a PostgreSQL database shared by any number of
// collectors. Same results as SqliteStore; what differs:
// - Duplicates are detected by the primary key (host, agent_id, sequence) of
//   table `batches` with INSERT ... ON CONFLICT DO NOTHING inside the batch's
//   transaction, so when two collectors store one batch at once exactly one
//   gets kStored and the other waits for it and gets kDuplicate.
// - Every string from agents is a bytea column, so text that is not UTF-8 is
//   kept byte for byte and sorts bytewise, as in SQLite.
// - Queries are prepared statements with binary parameters and results;
//   a batch's rows go in by COPY ... (FORMAT binary).
// - Rows whose ids other rows need (events for their observables, alerts
//   for their sightings) take them from the table's sequence in the batch's
//   transaction (a round trip per table) and go in by COPY with them.
// - The CSIRT's tables (postgres_csirt.cpp): an incident's number comes from
//   an upsert of its (site, year) row, an update is an UPDATE ... WHERE
//   version = expected, so both are right with several collectors.
// - A pool of up to `pool_size` connections, one per concurrent call, made on
//   demand. A connection found broken (server restarted) is reopened on the
//   next call; a call that fails before writing anything on a connection
//   that turns out to be broken is retried once on a new one.
// Durability is PostgreSQL's commit (synchronous_commit as the server says;
// its default, on, flushes the WAL before the commit returns).
class PostgresStore final : public Store, public csirt::CsirtStore, public FacilityStore {
 public:
  // `conninfo` is a libpq connection string or URI
  // ("postgresql://user@host:5432/vigie", "host=/run/postgresql dbname=vigie").
  // Connects, then creates or migrates the schema in one transaction under
  // pg_advisory_xact_lock, so collectors starting together do not race.
  // Throws StoreError when the server cannot be reached, the migration
  // fails, or the schema is newer than this binary knows.
  explicit PostgresStore(const std::string& conninfo, std::size_t pool_size = 8);
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  StoreOutcome store_batch(const protocol::Batch& batch, uint64_t received_ns) override;
  std::vector<StoredAlert> alerts(const AlertQuery& query) override;
  std::vector<protocol::Event> events(const EventQuery& query) override;
  EnergyReport energy(const EnergyQuery& query) override;
  std::vector<AgentRecord> agents() override;
  std::optional<JobFootprint> job_footprint(const std::string& job_id) override;
  void store_alerts(const std::string& origin, const std::string& site, const std::string& host,
                    const std::vector<protocol::Alert>& alerts, uint64_t received_ns) override;
  RetentionOutcome apply_retention(const RetentionPolicy& policy, uint64_t now_ns) override;
  csirt::CsirtStore* csirt_store() override { return this; }
  FacilityStore* facility_store() override { return this; }
  void set_indicator_matcher(std::shared_ptr<const csirt::IndicatorMatcher> matcher) override;

  // FacilityStore (postgres_facility.cpp)
  void put_facility(const sustainability::Facility& facility, uint64_t now_ns) override;
  std::optional<sustainability::Facility> facility(const std::string& id) override;
  std::vector<sustainability::Facility> facilities() override;
  std::size_t add_readings(const std::string& facility,
                           const std::vector<sustainability::Reading>& readings,
                           uint64_t now_ns) override;
  std::vector<sustainability::Reading> readings(const std::string& facility, int64_t from_s,
                                                int64_t to_s) override;
  void put_grid_points(const sustainability::GridSeries& series) override;
  sustainability::GridSeries grid_series(const std::string& zone, const std::string& basis,
                                         int64_t from_s, int64_t to_s) override;
  std::vector<AccountEnergy> account_energy(uint64_t from_ns, uint64_t to_ns) override;

  // csirt::CsirtStore (postgres_csirt.cpp)
  csirt::Incident create_incident(csirt::Incident incident, csirt::TimelineEntry first) override;
  std::optional<csirt::Incident> incident(const std::string& id) override;
  std::vector<csirt::Incident> incidents(const csirt::IncidentQuery& query) override;
  csirt::WriteOutcome update_incident(const csirt::Incident& incident, uint64_t expected_version,
                                      const std::vector<csirt::TimelineEntry>& entries) override;
  std::optional<csirt::TimelineEntry> append_entry(csirt::TimelineEntry entry) override;
  std::vector<csirt::TimelineEntry> timeline(const std::string& incident_id) override;
  csirt::Indicator put_indicator(csirt::Indicator indicator) override;
  std::optional<csirt::Indicator> indicator(const std::string& uuid) override;
  std::vector<csirt::Indicator> indicators(const csirt::IndicatorQuery& query) override;
  std::vector<csirt::Indicator> detection_indicators() override;
  bool link_indicator(const std::string& incident_id, const std::string& indicator_uuid,
                      csirt::LinkRole role, uint64_t now_ns) override;
  std::vector<csirt::LinkedIndicator> incident_indicators(const std::string& incident_id) override;
  void record_sightings(const std::vector<csirt::Sighting>& sightings) override;
  std::vector<csirt::Sighting> sightings(const std::string& indicator_uuid,
                                         std::size_t limit) override;
  std::vector<csirt::ObservableHit> find_observables(csirt::ObservableType type,
                                                     const csirt::KeyRange& range,
                                                     uint64_t since_ns, std::size_t max_rows,
                                                     uint64_t& rows_read, bool& truncated) override;
  std::vector<csirt::AlertRecord> alerts_by_id(const std::vector<int64_t>& ids) override;
  void put_retrohunt(const csirt::Retrohunt& retrohunt) override;
  std::optional<csirt::Retrohunt> retrohunt(const std::string& id) override;
  void put_document(const std::string& kind, const std::string& key, const std::string& body,
                    uint64_t updated_ns) override;
  std::optional<std::string> document(const std::string& kind, const std::string& key) override;
  std::vector<std::pair<std::string, std::string>> documents(const std::string& kind,
                                                             std::size_t limit) override;
  bool claim_overdue(const std::string& incident_id, const std::string& step_key,
                     uint64_t now_ns) override;

  // The pool now: connections open (leased + idle, at most pool_size()),
  // leased to a call, and calls waiting for one because all are leased.
  struct PoolStats {
    std::size_t open = 0;
    std::size_t in_use = 0;
    std::size_t waiting = 0;
  };
  PoolStats pool_stats() const;
  std::size_t pool_size() const { return pool_size_; }

  static constexpr int kSchemaVersion = 4;
  // The pg_advisory_xact_lock key that serialises migrations ("vigiemig").
  static constexpr long long kMigrationLockKey = 0x76696769656d6967;

 private:
  class Connection;
  // A connection of the pool, returned to it at scope exit.
  class Lease {
   public:
    Lease(PostgresStore& store, std::unique_ptr<Connection> connection);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }

   private:
    PostgresStore& store_;
    std::unique_ptr<Connection> connection_;
  };
  Lease acquire();
  // Runs `work(Connection&)` on a pooled connection; once more on a new one
  // when it throws StoreError and the pooled connection turns out broken
  // (the server restarted while it sat idle), provided the work is
  // `idempotent` or failed at its first round trip.
  template <typename Work>
  auto with_connection(Work&& work, bool idempotent = true);
  // with_connection, the work between BEGIN and COMMIT (ROLLBACK on throw);
  // postgres_csirt.cpp.
  template <typename Work>
  auto transaction(Work&& work, bool idempotent);
  // The matcher now (set_indicator_matcher), nullptr when it matches nothing.
  std::shared_ptr<const csirt::IndicatorMatcher> matcher() const;
  // Takes one id per row of `rows` from the identity sequence of `table`
  // (events, alerts), in ascending order, puts them first in the rows
  // (prepend_column) and returns them.
  static std::vector<int64_t> reserve_ids(Connection& c, postgres::CopyRows& rows,
                                          const char* table);
  // Merges `sightings` into their rows and widens their indicators' seen
  // times (csirt::CsirtStore::record_sightings), in a fixed order so that
  // concurrent writers do not deadlock; postgres_csirt.cpp.
  static void write_sightings(Connection& c, std::vector<csirt::Sighting> sightings);

  std::string conninfo_;
  std::size_t pool_size_;
  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;     // leased + idle
  std::size_t waiting_ = 0;  // calls in acquire() waiting for a connection
  mutable std::mutex matcher_mutex_;
  std::shared_ptr<const csirt::IndicatorMatcher> matcher_;  // guarded by matcher_mutex_
};

}  // namespace vigie::collector
