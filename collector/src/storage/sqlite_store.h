// The embedded Store backend: one SQLite file in WAL mode.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vigie/collector/store.h"

struct sqlite3;

namespace vigie::collector {

// Bounds of SqliteStore's write queue (group commit, see store_batch).
struct SqliteWriteQueueLimits {
  std::size_t max_batches = 4096;                  // batches waiting; more get kBusy
  std::size_t max_bytes = std::size_t{256} << 20;  // their encoded rows, bytes; more get kBusy
};

// Opens (creating if needed) the database at `path` with journal_mode=WAL
// and synchronous=FULL, so an acknowledged batch survives power loss, and
// creates or migrates the schema (table schema_version). One connection;
// calls are serialised, so there is exactly one writer.
//
// Group commit: concurrent store_batch calls share transactions. Each caller
// encodes its rows on its own thread, queues them and waits; the caller at
// the head of the queue writes every queued batch in one transaction (one
// SAVEPOINT per batch, so a failing batch fails alone) with one WAL fsync at
// COMMIT, then wakes each caller with its own outcome. A batch is still
// acknowledged only once durable. The technique is PostgreSQL's commit_delay
// and LevelDB's write batching (DBImpl::Write), without a delay: a group is
// whatever queued while the previous commit was being written.
class SqliteStore final : public Store, public csirt::CsirtStore, public FacilityStore {
 public:
  // Throws StoreError when the file cannot be opened or migrated, or its
  // schema is newer than this binary knows.
  explicit SqliteStore(const std::string& path);
  SqliteStore(const std::string& path, SqliteWriteQueueLimits limits);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

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

  // FacilityStore (sqlite_facility.cpp)
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

  // csirt::CsirtStore (sqlite_csirt.cpp)
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

  static constexpr int kSchemaVersion = 7;

  // The write queue now and since opening (for metrics and tests).
  struct WriteQueueStats {
    std::size_t queued_batches = 0;  // waiting for a writer
    std::size_t queued_bytes = 0;
    std::size_t writing_batches = 0;      // in the transaction being written
    uint64_t transactions_committed = 0;  // group commits (one fsync each)
    uint64_t batches_committed = 0;       // stored or duplicate, in those
    uint64_t batches_refused_busy = 0;    // kBusy outcomes
  };
  WriteQueueStats write_queue_stats() const;
  const SqliteWriteQueueLimits& write_queue_limits() const { return queue_limits_; }

  // The connection's page cache bound (PRAGMA cache_size), bytes: 64 MiB.
  static constexpr std::size_t kPageCacheBytes = std::size_t{64} << 20;
  // Heap the connection's page cache holds now (SQLITE_DBSTATUS_CACHE_USED),
  // bytes. Never waits for a commit: while one runs, the value read last.
  uint64_t page_cache_bytes() const;

 private:
  class Statements;
  struct PendingBatch;
  // Writes `group` in one transaction, setting each one's outcome; false
  // when nothing was committed. Holds mutex_.
  bool commit_group(const std::vector<PendingBatch*>& group);
  void write_batch(const PendingBatch& pending);
  void write_alerts(const std::string& agent_id, const std::vector<protocol::Alert>& alerts,
                    uint64_t received_ns);
  // Runs `work` in one transaction (BEGIN IMMEDIATE … COMMIT, ROLLBACK on
  // throw) under mutex_; sqlite_csirt.cpp.
  template <typename Work>
  auto transaction(Work&& work);

  mutable std::mutex mutex_;
  sqlite3* db_ = nullptr;
  mutable std::atomic<uint64_t> page_cache_bytes_{0};
  std::unique_ptr<Statements> statements_;
  mutable std::mutex matcher_mutex_;
  std::shared_ptr<const csirt::IndicatorMatcher> matcher_;  // guarded by matcher_mutex_
  // A read-only connection for the reports' long scans (account_energy), so
  // that they never hold mutex_: in WAL mode it reads while batches commit.
  // Opened on first use, guarded by report_mutex_.
  const std::string path_;
  std::mutex report_mutex_;
  sqlite3* report_db_ = nullptr;

  // The group commit queue; queue_mutex_ is never held while waiting for mutex_.
  SqliteWriteQueueLimits queue_limits_;
  mutable std::mutex queue_mutex_;
  std::deque<PendingBatch*> queue_;
  bool writing_ = false;
  WriteQueueStats queue_stats_;
};

}  // namespace vigie::collector
