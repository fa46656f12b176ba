#include "storage/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>
#include <vector>

#include "json.h"
#include "storage/energy_report.h"
#include "storage/sqlite_statements.h"
#include "storage/stored_form.h"

namespace vigie::collector {
namespace {

using protocol::Batch;
using sqlite::exec;
using sqlite::Statement;
using sqlite::to_db;
using sqlite::to_db_bound;

// Schema migrations; entry i takes version i to i + 1. Batches and agents
// are keyed by host too: agent ids are chosen by agents, hosts are bound to
// their tokens. `event` and `tags` are CBOR (see encode_event).
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE batches (
  agent_id TEXT NOT NULL, sequence INTEGER NOT NULL,
  site TEXT NOT NULL, host TEXT NOT NULL, sent_ns INTEGER NOT NULL, received_ns INTEGER NOT NULL,
  PRIMARY KEY (host, agent_id, sequence)) WITHOUT ROWID;
CREATE TABLE events (
  id INTEGER PRIMARY KEY, agent_id TEXT NOT NULL, time_ns INTEGER NOT NULL,
  site TEXT NOT NULL, host TEXT NOT NULL, kind TEXT NOT NULL,
  pid INTEGER NOT NULL, ppid INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,
  user TEXT NOT NULL, cgroup_id INTEGER NOT NULL,
  workload_kind TEXT NOT NULL, workload_id TEXT NOT NULL, workload_user TEXT NOT NULL,
  image TEXT NOT NULL, command_line TEXT NOT NULL, event BLOB NOT NULL);
CREATE INDEX events_time ON events (time_ns);
CREATE INDEX events_host_time ON events (host, time_ns);
CREATE INDEX events_kind_time ON events (kind, time_ns);
CREATE TABLE alerts (
  id INTEGER PRIMARY KEY, received_ns INTEGER NOT NULL, time_ns INTEGER NOT NULL,
  rule_id TEXT NOT NULL, rule_title TEXT NOT NULL, level TEXT NOT NULL, tags BLOB NOT NULL,
  site TEXT NOT NULL, host TEXT NOT NULL, agent_id TEXT NOT NULL,
  pid INTEGER NOT NULL, user TEXT NOT NULL, image TEXT NOT NULL, command_line TEXT NOT NULL,
  workload_kind TEXT NOT NULL, workload_id TEXT NOT NULL, workload_user TEXT NOT NULL,
  event BLOB NOT NULL);
CREATE INDEX alerts_time ON alerts (time_ns);
CREATE INDEX alerts_host_time ON alerts (host, time_ns);
CREATE TABLE zone_energy (
  id INTEGER PRIMARY KEY, agent_id TEXT NOT NULL, site TEXT NOT NULL, host TEXT NOT NULL,
  start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, zone TEXT NOT NULL, source TEXT NOT NULL,
  estimated INTEGER NOT NULL, energy_joules REAL NOT NULL, in_node_total INTEGER NOT NULL);
CREATE INDEX zone_energy_end ON zone_energy (end_ns);
CREATE INDEX zone_energy_host_end ON zone_energy (host, end_ns);
CREATE TABLE workload_energy (
  id INTEGER PRIMARY KEY, agent_id TEXT NOT NULL, site TEXT NOT NULL, host TEXT NOT NULL,
  start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
  workload_kind TEXT NOT NULL, workload_id TEXT NOT NULL, workload_user TEXT NOT NULL,
  cgroup_path TEXT NOT NULL, cpu_seconds REAL NOT NULL, energy_joules REAL NOT NULL,
  carbon_gco2e REAL NOT NULL, estimated INTEGER NOT NULL);
CREATE INDEX workload_energy_end ON workload_energy (end_ns);
CREATE INDEX workload_energy_host_end ON workload_energy (host, end_ns);
CREATE TABLE agent_status (
  agent_id TEXT NOT NULL, site TEXT NOT NULL, host TEXT NOT NULL,
  last_seen_ns INTEGER NOT NULL, last_sequence INTEGER NOT NULL, sent_ns INTEGER NOT NULL,
  ringbuf_drops_total INTEGER NOT NULL, events_total INTEGER NOT NULL,
  uplink_dropped_total INTEGER NOT NULL, rule_pack_version TEXT NOT NULL,
  PRIMARY KEY (host, agent_id)) WITHOUT ROWID;
)sql",
    // 2: the workload energy breakdown and Slurm account; the agent's health
    // details (CBOR: drops_by_source, ringbuf_size_bytes, ringbuf_used_bytes, kinds_off).
    R"sql(
ALTER TABLE workload_energy ADD COLUMN workload_account TEXT NOT NULL DEFAULT '';
ALTER TABLE workload_energy ADD COLUMN cpu_joules REAL NOT NULL DEFAULT 0;
ALTER TABLE workload_energy ADD COLUMN dram_joules REAL NOT NULL DEFAULT 0;
ALTER TABLE workload_energy ADD COLUMN gpu_joules REAL NOT NULL DEFAULT 0;
ALTER TABLE workload_energy ADD COLUMN idle_joules REAL NOT NULL DEFAULT 0;
ALTER TABLE workload_energy ADD COLUMN embodied_gco2e REAL NOT NULL DEFAULT 0;
CREATE INDEX workload_energy_workload ON workload_energy (workload_kind, workload_id);
ALTER TABLE agent_status ADD COLUMN health BLOB;
)sql",
    // 3: per-job footprints, totalled per host when the job's WorkloadEnd arrives.
    R"sql(
CREATE TABLE job_footprint_hosts (
  job_id TEXT NOT NULL, host TEXT NOT NULL, user TEXT NOT NULL, account TEXT NOT NULL,
  start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, cpu_seconds REAL NOT NULL,
  energy_joules REAL NOT NULL, cpu_joules REAL NOT NULL, dram_joules REAL NOT NULL,
  gpu_joules REAL NOT NULL, idle_joules REAL NOT NULL, carbon_gco2e REAL NOT NULL,
  embodied_gco2e REAL NOT NULL, estimated INTEGER NOT NULL,
  PRIMARY KEY (job_id, host)) WITHOUT ROWID;
)sql",
    // 4: retention. resolution_ns: 0 for energy rows as sent, else the width
    // of the minute or hour bucket a downsampled row sums (stored_form.h).
    R"sql(
ALTER TABLE zone_energy ADD COLUMN resolution_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workload_energy ADD COLUMN resolution_ns INTEGER NOT NULL DEFAULT 0;
CREATE INDEX batches_received ON batches (received_ns);
)sql",
    // 5: the CSIRT (csirt/store.h). Observables of every event, for retro-hunts
    // (type: csirt::ObservableType; key: csirt::observable_key); incidents,
    // timeline entries, indicators and retro-hunts as their JSON (csirt/json.h)
    // beside the columns queries filter on; sightings one row per (indicator,
    // site, host, workload, user, source).
    R"sql(
CREATE TABLE observables (
  type INTEGER NOT NULL, key TEXT NOT NULL, time_ns INTEGER NOT NULL, event_id INTEGER NOT NULL,
  site TEXT NOT NULL, host TEXT NOT NULL, workload_kind TEXT NOT NULL, workload_id TEXT NOT NULL,
  user TEXT NOT NULL);
CREATE INDEX observables_key ON observables (type, key, time_ns);
CREATE INDEX observables_time ON observables (time_ns);
CREATE TABLE incident_numbers (
  site TEXT NOT NULL, year INTEGER NOT NULL, last INTEGER NOT NULL,
  PRIMARY KEY (site, year)) WITHOUT ROWID;
CREATE TABLE incidents (
  id TEXT PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
  created_ns INTEGER NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX incidents_created ON incidents (created_ns);
CREATE TABLE timeline (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, incident_id TEXT NOT NULL,
  occurred_ns INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX timeline_incident ON timeline (incident_id, occurred_ns);
CREATE TABLE indicators (
  uuid TEXT PRIMARY KEY, type INTEGER NOT NULL, value TEXT NOT NULL, source TEXT NOT NULL,
  deleted INTEGER NOT NULL, to_ids INTEGER NOT NULL, first_seen_ns INTEGER NOT NULL,
  last_seen_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL, body TEXT NOT NULL,
  UNIQUE (type, value, source));
CREATE TABLE incident_indicators (
  incident_id TEXT NOT NULL, indicator_uuid TEXT NOT NULL, role TEXT NOT NULL,
  linked_ns INTEGER NOT NULL, PRIMARY KEY (incident_id, indicator_uuid)) WITHOUT ROWID;
CREATE TABLE sightings (
  indicator_uuid TEXT NOT NULL, site TEXT NOT NULL, host TEXT NOT NULL,
  workload_kind TEXT NOT NULL, workload_id TEXT NOT NULL, user TEXT NOT NULL,
  source TEXT NOT NULL, first_ns INTEGER NOT NULL, last_ns INTEGER NOT NULL,
  count INTEGER NOT NULL, alert_id INTEGER NOT NULL,
  PRIMARY KEY (indicator_uuid, site, host, workload_kind, workload_id, user, source)) WITHOUT ROWID;
CREATE TABLE retrohunts (id TEXT PRIMARY KEY, requested_ns INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE sec01_overdue (
  incident_id TEXT NOT NULL, step TEXT NOT NULL, claimed_ns INTEGER NOT NULL,
  PRIMARY KEY (incident_id, step)) WITHOUT ROWID;
)sql",
    // 5 → 6: CSIRT exchange bookkeeping (csirt/store.h documents).
    R"sql(
CREATE TABLE csirt_documents (
  kind TEXT NOT NULL, key TEXT NOT NULL, updated_ns INTEGER NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (kind, key)) WITHOUT ROWID;
CREATE INDEX csirt_documents_updated ON csirt_documents (kind, updated_ns);
)sql",
    // 6 → 7: the sustainability reports (facility_store.h): facilities as
    // their JSON, meter readings (a cumulative index with start_s 0), grid
    // carbon intensity series; the per-account sums read workload_energy by
    // end_ns (workload_energy_end).
    R"sql(
CREATE TABLE facilities (id TEXT PRIMARY KEY, updated_ns INTEGER NOT NULL, body TEXT NOT NULL)
  WITHOUT ROWID;
CREATE TABLE facility_readings (
  facility TEXT NOT NULL, quantity TEXT NOT NULL, meter TEXT NOT NULL,
  cumulative INTEGER NOT NULL, start_s INTEGER NOT NULL, end_s INTEGER NOT NULL,
  value REAL NOT NULL, basis TEXT NOT NULL, source TEXT NOT NULL, imported_ns INTEGER NOT NULL,
  PRIMARY KEY (facility, quantity, meter, cumulative, start_s, end_s)) WITHOUT ROWID;
CREATE INDEX facility_readings_end ON facility_readings (facility, end_s);
CREATE TABLE grid_points (
  zone TEXT NOT NULL, basis TEXT NOT NULL, time_s INTEGER NOT NULL,
  gco2e_per_kwh REAL NOT NULL, source TEXT NOT NULL, version TEXT NOT NULL,
  PRIMARY KEY (zone, basis, time_s)) WITHOUT ROWID;
)sql",
};
static_assert(std::size(kMigrations) == SqliteStore::kSchemaVersion);

// An event as stored, the same in both backends (stored_form.h).
using stored_form::decode_event;
using stored_form::encode_event;

// Upper bound on one group commit's batches (their PendingBatch::bytes), so
// that a transaction and the WAL it grows stay bounded; one batch always fits.
constexpr std::size_t kMaxGroupBytes = 32u << 20;

std::string host_filter(const std::string& host, const char* column = "host") {
  return host.empty() ? std::string() : std::string(" AND ") + column + " = ?3";
}

}  // namespace

// A batch waiting in the group commit queue, its rows encoded by its caller.
struct SqliteStore::PendingBatch {
  PendingBatch(const Batch& batch_in, uint64_t received_ns_in)
      : batch(batch_in), received_ns(received_ns_in) {
    events.reserve(batch.events.size());
    bytes = sizeof(PendingBatch);
    for (const auto& event : batch.events) {
      events.push_back(encode_event(event));
      bytes += events.back().size() + event_image(event).size() + event_command_line(event).size();
    }
    health = stored_form::encode_health(batch.status);
    // Rows of the other tables: their fixed columns plus text.
    bytes += health.size() + batch.alerts.size() * 1024 + batch.zone_energy.size() * 128 +
             batch.workload_energy.size() * 256 + batch.workload_ends.size() * 64;
  }

  const Batch& batch;
  const uint64_t received_ns;
  std::vector<std::vector<std::uint8_t>> events;  // encode_event of each event
  std::vector<std::uint8_t> health;               // agent_status.health
  std::size_t bytes = 0;                          // what it holds in memory, roughly
  StoreOutcome outcome;
  bool done = false;  // outcome set by the writer; guarded by queue_mutex_
  std::condition_variable wake;
};

SqliteStore::SqliteStore(const std::string& path) : SqliteStore(path, SqliteWriteQueueLimits{}) {}

SqliteStore::SqliteStore(const std::string& path, SqliteWriteQueueLimits limits)
    : path_(path), queue_limits_(limits) {
  if (sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string error = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw StoreError("cannot open database " + path + ": " + error);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    {
      Statement journal(db_, "PRAGMA journal_mode = WAL");
      if (!journal.bind().step() || journal.text(0) != "wal")
        throw StoreError("cannot switch to WAL mode");
    }
    exec(db_, "PRAGMA synchronous = FULL");
    // 64 MiB of page cache (default 2 MiB): group commits insert all over the
    // events indexes; with 400,000 events stored collector_ingest_bench went
    // from 25,800 to 32,900 events per CPU-second with it. Negative: KiB.
    exec(db_, ("PRAGMA cache_size = -" + std::to_string(kPageCacheBytes / 1024)).c_str());
    // Every step in one transaction, the version read inside it: a process
    // opening the file at the same time waits, then sees the new version.
    exec(db_, "BEGIN IMMEDIATE");
    try {
      exec(db_, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
      int version = 0;
      {
        Statement read(db_, "SELECT MAX(version) FROM schema_version");
        if (read.bind().step()) version = static_cast<int>(read.integer(0));
      }
      if (version > kSchemaVersion) {
        throw StoreError(path + " has schema version " + std::to_string(version) +
                         ", newer than this binary's " + std::to_string(kSchemaVersion) +
                         ": upgrade vigie-collector");
      }
      const int from = version;
      for (; version < kSchemaVersion; ++version) exec(db_, kMigrations[version]);
      if (version != from) {
        exec(db_, ("DELETE FROM schema_version; INSERT INTO schema_version VALUES (" +
                   std::to_string(version) + ")")
                      .c_str());
      }
      exec(db_, "COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    statements_ = std::make_unique<Statements>(db_);
  } catch (const StoreError& e) {
    statements_.reset();
    sqlite3_close(db_);
    throw StoreError(path + ": " + e.what());
  }
}

SqliteStore::~SqliteStore() {
  statements_.reset();
  sqlite3_close(report_db_);
  sqlite3_close(db_);
}

StoreOutcome SqliteStore::store_batch(const Batch& batch, uint64_t received_ns) {
  // Encoding is the CPU-heavy part: done here, by each caller, in parallel.
  std::optional<PendingBatch> encoded;
  try {
    encoded.emplace(batch, received_ns);
  } catch (const std::exception& e) {
    return {StoreOutcome::Status::kFailed, std::string("cannot encode the batch: ") + e.what()};
  }
  PendingBatch& pending = *encoded;

  std::unique_lock queue_lock(queue_mutex_);
  if (queue_.size() >= queue_limits_.max_batches ||
      (!queue_.empty() && queue_stats_.queued_bytes + pending.bytes > queue_limits_.max_bytes)) {
    ++queue_stats_.batches_refused_busy;
    return {StoreOutcome::Status::kBusy, "the SQLite write queue is full (" +
                                             std::to_string(queue_.size()) + " batches, " +
                                             std::to_string(queue_stats_.queued_bytes) + " bytes)"};
  }
  queue_.push_back(&pending);
  ++queue_stats_.queued_batches;
  queue_stats_.queued_bytes += pending.bytes;
  pending.wake.wait(queue_lock,
                    [&] { return pending.done || (!writing_ && queue_.front() == &pending); });
  if (pending.done) return std::move(pending.outcome);

  // This caller heads the queue: it writes a group, its own batch first.
  writing_ = true;
  queue_lock.unlock();
  std::vector<PendingBatch*> group;
  bool committed = false;
  {
    std::lock_guard db_lock(mutex_);
    // Taken once the database is ours, so that what queued meanwhile joins.
    queue_lock.lock();
    std::size_t group_bytes = 0;
    while (!queue_.empty() &&
           (group.empty() || group_bytes + queue_.front()->bytes <= kMaxGroupBytes)) {
      group.push_back(queue_.front());
      group_bytes += queue_.front()->bytes;
      queue_.pop_front();
    }
    queue_stats_.queued_batches = queue_.size();
    queue_stats_.queued_bytes -= group_bytes;
    queue_stats_.writing_batches = group.size();
    queue_lock.unlock();
    committed = commit_group(group);
  }

  queue_lock.lock();
  writing_ = false;
  queue_stats_.writing_batches = 0;
  if (committed) {
    ++queue_stats_.transactions_committed;
    for (const auto* member : group)
      if (member->outcome.status != StoreOutcome::Status::kFailed) ++queue_stats_.batches_committed;
  }
  // Notified under queue_mutex_: a woken caller returns, destroying its
  // PendingBatch, only after this lock is released.
  for (auto* member : group) {
    if (member == &pending) continue;
    member->done = true;
    member->wake.notify_one();
  }
  if (!queue_.empty()) queue_.front()->wake.notify_one();
  return std::move(pending.outcome);
}

bool SqliteStore::commit_group(const std::vector<PendingBatch*>& group) {
  auto& s = *statements_;
  auto fail_all = [&](const std::string& error) {
    for (auto* pending : group) pending->outcome = {StoreOutcome::Status::kFailed, error};
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return false;
  };
  try {
    s.begin.bind().run();
  } catch (const StoreError& e) {
    return fail_all(e.what());
  }
  for (auto* pending : group) {
    const Batch& batch = pending->batch;
    try {
      s.savepoint.bind().run();
    } catch (const StoreError& e) {
      return fail_all(e.what());
    }
    try {
      s.insert_batch
          .bind(batch.agent_id, to_db(batch.sequence), batch.site, batch.host, to_db(batch.sent_ns),
                to_db(pending->received_ns))
          .run();
      if (sqlite3_changes(db_) == 0) {
        pending->outcome = {StoreOutcome::Status::kDuplicate, {}};
      } else {
        write_batch(*pending);
        pending->outcome = {StoreOutcome::Status::kStored, {}};
      }
      s.release.bind().run();
    } catch (const std::exception& e) {
      // SQLite rolls a whole transaction back on some errors (SQLITE_FULL,
      // SQLITE_IOERR, SQLITE_NOMEM…): then nothing of the group is written.
      if (sqlite3_get_autocommit(db_))
        return fail_all(std::string("transaction rolled back: ") + e.what());
      try {
        s.rollback_to.bind().run();
        s.release.bind().run();
      } catch (const StoreError& inner) {
        return fail_all(inner.what());
      }
      pending->outcome = {StoreOutcome::Status::kFailed, e.what()};
    }
  }
  try {
    s.commit.bind().run();
  } catch (const StoreError& e) {
    return fail_all(std::string("commit failed: ") + e.what());
  }
  return true;
}

uint64_t SqliteStore::page_cache_bytes() const {
  // The connection is opened NOMUTEX: sqlite3_db_status needs mutex_.
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (lock.owns_lock()) {
    int used = 0, highwater = 0;
    if (sqlite3_db_status(db_, SQLITE_DBSTATUS_CACHE_USED, &used, &highwater, 0) == SQLITE_OK)
      page_cache_bytes_ = static_cast<uint64_t>(std::max(used, 0));
  }
  return page_cache_bytes_;
}

SqliteStore::WriteQueueStats SqliteStore::write_queue_stats() const {
  std::lock_guard lock(queue_mutex_);
  return queue_stats_;
}

void SqliteStore::set_indicator_matcher(std::shared_ptr<const csirt::IndicatorMatcher> matcher) {
  std::lock_guard lock(matcher_mutex_);
  matcher_ = std::move(matcher);
}

void SqliteStore::write_alerts(const std::string& agent_id,
                               const std::vector<protocol::Alert>& alerts, uint64_t received_ns) {
  std::shared_ptr<const csirt::IndicatorMatcher> matcher;
  {
    std::lock_guard lock(matcher_mutex_);
    matcher = matcher_;
  }
  for (const auto& alert : alerts) {
    const auto& event = alert.event;
    statements_->insert_alert
        .bind(to_db(received_ns), to_db(event.time_ns), alert.rule_id, alert.rule_title,
              alert.level, nlohmann::json::to_cbor(alert.tags), event.site, event.host, agent_id,
              event.pid, event.user, event_image(event), event_command_line(event),
              protocol::to_string(event.workload.kind), event.workload.id, event.workload.user,
              encode_event(event))
        .run();
    if (matcher == nullptr || matcher->size() == 0) continue;
    const int64_t alert_id = sqlite3_last_insert_rowid(db_);
    for (const auto& observable : csirt::observables_of(event)) {
      for (const auto& uuid : matcher->match(observable)) {
        statements_->upsert_sighting
            .bind(uuid, event.site, event.host, protocol::to_string(event.workload.kind),
                  event.workload.id, event.user, "alert", to_db(event.time_ns),
                  to_db(event.time_ns), 1, alert_id)
            .run();
        statements_->touch_indicator.bind(uuid, to_db(event.time_ns), to_db(event.time_ns)).run();
      }
    }
  }
}

void SqliteStore::write_batch(const PendingBatch& pending) {
  auto& s = *statements_;
  const Batch& batch = pending.batch;
  const uint64_t received_ns = pending.received_ns;
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    const auto& event = batch.events[i];
    s.insert_event
        .bind(batch.agent_id, to_db(event.time_ns), event.site, event.host,
              protocol::to_string(event.kind()), event.pid, event.ppid, event.uid, event.gid,
              event.user, to_db(event.cgroup_id), protocol::to_string(event.workload.kind),
              event.workload.id, event.workload.user, event_image(event), event_command_line(event),
              pending.events[i])
        .run();
    const auto observables = csirt::observables_of(event);
    if (observables.empty()) continue;
    const int64_t event_id = sqlite3_last_insert_rowid(db_);
    for (const auto& observable : observables) {
      s.insert_observable
          .bind(static_cast<int>(observable.type), observable.key, to_db(event.time_ns), event_id,
                event.site, event.host, protocol::to_string(event.workload.kind), event.workload.id,
                event.user)
          .run();
    }
  }
  write_alerts(batch.agent_id, batch.alerts, received_ns);
  for (const auto& zone : batch.zone_energy) {
    s.insert_zone
        .bind(batch.agent_id, batch.site, batch.host, to_db(zone.start_ns), to_db(zone.end_ns),
              zone.zone, protocol::to_string(zone.source),
              zone.estimated || zone.source == protocol::EnergySource::kEstimate,
              zone.energy_joules, zone.in_node_total)
        .run();
  }
  for (const auto& energy : batch.workload_energy) {
    s.insert_workload
        .bind(batch.agent_id, batch.site, batch.host, to_db(energy.start_ns), to_db(energy.end_ns),
              protocol::to_string(energy.workload.kind), energy.workload.id, energy.workload.user,
              energy.workload.cgroup_path, energy.cpu_seconds, energy.energy_joules,
              energy.carbon_gco2e, energy.estimated, energy.workload.account, energy.cpu_joules,
              energy.dram_joules, energy.gpu_joules, energy.idle_joules, energy.embodied_gco2e)
        .run();
  }
  const auto& status = batch.status;
  s.upsert_agent
      .bind(batch.agent_id, batch.site, batch.host, to_db(received_ns), to_db(batch.sequence),
            to_db(batch.sent_ns), to_db(status.ringbuf_drops_total), to_db(status.events_total),
            to_db(status.uplink_dropped_total), status.rule_pack_version, pending.health)
      .run();
  s.touch_agent.bind(batch.agent_id, to_db(received_ns), batch.host).run();
  // After this batch's energy: a job's last records travel with or before its end.
  for (const auto& end : batch.workload_ends) {
    if (end.workload.kind != protocol::WorkloadKind::kSlurmJob) continue;
    s.total_job.bind(end.workload.id, batch.host).run();
  }
}

void SqliteStore::store_alerts(const std::string& origin, const std::string& site,
                               const std::string& host, const std::vector<protocol::Alert>& alerts,
                               uint64_t received_ns) {
  std::lock_guard lock(mutex_);
  auto& s = *statements_;
  s.begin.bind().run();
  try {
    std::vector<protocol::Alert> placed = alerts;
    for (auto& alert : placed) {
      if (alert.event.site.empty()) alert.event.site = site;
      if (alert.event.host.empty()) alert.event.host = host;
    }
    write_alerts(origin, placed, received_ns);
    s.commit.bind().run();
  } catch (...) {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

RetentionOutcome SqliteStore::apply_retention(const RetentionPolicy& policy, uint64_t now_ns) {
  const auto cut = stored_form::retention_cutoffs(policy, now_ns);
  std::lock_guard lock(mutex_);
  RetentionOutcome out;
  // Under mutex_ and BEGIN IMMEDIATE no batch is written meanwhile, so the
  // INSERT of a bucket's sums and the DELETE of its rows see the same rows.
  auto run = [&](Statement& statement) -> uint64_t {
    statement.run();
    return static_cast<uint64_t>(sqlite3_changes(db_));
  };
  auto downsample = [&](const std::string& table, const std::string& keys,
                        const std::vector<std::string>& sums, uint64_t resolution_ns,
                        uint64_t cutoff_ns) {
    std::string columns, summed;
    for (const auto& column : sums) {
      columns += ", " + column;
      summed += ", SUM(" + column + ")";
    }
    const std::string rows = " FROM " + table + " WHERE resolution_ns < ?1 AND end_ns <= ?2";
    out.energy_rows_written += run(
        statements_
            ->cached("INSERT INTO " + table + " (" + keys + ", start_ns, end_ns, resolution_ns" +
                     columns + ") SELECT " + keys + ", MIN(start_ns), MAX(end_ns), ?1" + summed +
                     rows + " GROUP BY " + keys + ", (end_ns - 1) / ?1")
            .bind(to_db(resolution_ns), to_db(cutoff_ns)));
    out.energy_rows_downsampled +=
        run(statements_->cached("DELETE" + rows).bind(to_db(resolution_ns), to_db(cutoff_ns)));
  };
  exec(db_, "BEGIN IMMEDIATE");
  try {
    if (cut.events_ns != 0) {
      out.events_deleted = run(
          statements_->cached("DELETE FROM events WHERE time_ns < ?1").bind(to_db(cut.events_ns)));
      run(statements_->cached("DELETE FROM observables WHERE time_ns < ?1")
              .bind(to_db(cut.events_ns)));
    }
    if (cut.alerts_ns != 0)
      out.alerts_deleted = run(
          statements_->cached("DELETE FROM alerts WHERE time_ns < ?1").bind(to_db(cut.alerts_ns)));
    for (const auto& [resolution, cutoff] :
         {std::pair{stored_form::kMinuteNs, cut.minute_ns}, {stored_form::kHourNs, cut.hour_ns}}) {
      if (cutoff == 0) continue;
      downsample("zone_energy", "agent_id, site, host, zone, source, estimated, in_node_total",
                 {"energy_joules"}, resolution, cutoff);
      downsample("workload_energy",
                 "agent_id, site, host, workload_kind, workload_id, workload_user, "
                 "workload_account, cgroup_path, estimated",
                 {"cpu_seconds", "energy_joules", "carbon_gco2e", "cpu_joules", "dram_joules",
                  "gpu_joules", "idle_joules", "embodied_gco2e"},
                 resolution, cutoff);
    }
    if (cut.batches_ns != 0)
      out.batches_deleted = run(statements_->cached("DELETE FROM batches WHERE received_ns < ?1")
                                    .bind(to_db(cut.batches_ns)));
    exec(db_, "COMMIT");
  } catch (...) {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return out;
}

std::optional<JobFootprint> SqliteStore::job_footprint(const std::string& job_id) {
  std::lock_guard lock(mutex_);
  auto& q = statements_->cached(
      "SELECT host, user, account, start_ns, end_ns, cpu_seconds, energy_joules, cpu_joules, "
      "dram_joules, gpu_joules, idle_joules, carbon_gco2e, embodied_gco2e, estimated "
      "FROM job_footprint_hosts WHERE job_id = ?1 ORDER BY host");
  q.bind(job_id);
  JobFootprint f;
  f.job_id = job_id;
  while (q.step()) {
    HostFootprint h{q.text(0),
                    q.unsigned_integer(3),
                    q.unsigned_integer(4),
                    q.real(5),
                    q.real(6),
                    q.real(7),
                    q.real(8),
                    q.real(9),
                    q.real(10),
                    q.real(11),
                    q.real(12),
                    q.integer(13) != 0};
    if (f.user.empty()) f.user = q.text(1);
    if (f.account.empty()) f.account = q.text(2);
    f.hosts.push_back(std::move(h));
  }
  if (f.hosts.empty()) return std::nullopt;
  return f;
}

std::vector<StoredAlert> SqliteStore::alerts(const AlertQuery& query) {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached(
      "SELECT id, received_ns, agent_id, rule_id, rule_title, level, tags, event FROM alerts "
      "WHERE time_ns >= ?1" +
      host_filter(query.host) + " ORDER BY time_ns DESC, id DESC LIMIT ?2");
  statement.bind(to_db_bound(query.since_ns), query.limit, query.host);
  std::vector<StoredAlert> out;
  while (statement.step()) {
    StoredAlert stored;
    stored.id = statement.integer(0);
    stored.received_ns = statement.unsigned_integer(1);
    stored.agent_id = statement.text(2);
    stored.alert.rule_id = statement.text(3);
    stored.alert.rule_title = statement.text(4);
    stored.alert.level = statement.text(5);
    const std::string what = "alert " + std::to_string(stored.id);
    const auto tags = nlohmann::json::from_cbor(statement.blob(6), true, false);
    if (!tags.is_array()) throw StoreError(what + " is corrupt in the database: tags");
    stored.alert.event = decode_event(statement.blob(7), what);
    for (const auto& tag : tags)
      stored.alert.tags.push_back(tag.is_string() ? tag.get<std::string>() : tag.dump());
    out.push_back(std::move(stored));
  }
  return out;
}

std::vector<protocol::Event> SqliteStore::events(const EventQuery& query) {
  std::lock_guard lock(mutex_);
  const std::string kind =
      query.kind ? std::string(protocol::to_string(*query.kind)) : std::string();
  std::string sql = "SELECT id, event FROM events WHERE time_ns >= ?1";
  if (!query.host.empty()) sql += " AND host = ?3";
  if (query.kind) sql += " AND kind = ?4";
  sql += " ORDER BY time_ns DESC, id DESC LIMIT ?2";
  auto& statement = statements_->cached(sql);
  statement.bind(to_db_bound(query.since_ns), query.limit, query.host, kind);
  std::vector<protocol::Event> out;
  while (statement.step())
    out.push_back(decode_event(statement.blob(1), "event " + std::to_string(statement.integer(0))));
  return out;
}

EnergyReport SqliteStore::energy(const EnergyQuery& query) {
  std::lock_guard lock(mutex_);
  auto& s = *statements_;
  EnergyReportBuilder report(query);
  const int64_t start = to_db_bound(query.start_ns), end = to_db_bound(query.end_ns);
  const std::string window = " WHERE end_ns BETWEEN ?1 AND ?2" + host_filter(query.host);
  auto bind = [&](Statement& statement, auto... extra) -> Statement& {
    return statement.bind(start, end, query.host, extra...);
  };

  auto& zones = s.cached(
      "SELECT host, site, zone, source, SUM(energy_joules), MAX(estimated), in_node_total "
      "FROM zone_energy" +
      window + " GROUP BY host, zone, source, in_node_total ORDER BY host, zone, source");
  for (bind(zones); zones.step();) {
    report.add_zone(zones.text(0), zones.text(1),
                    {zones.text(2), zones.text(3), zones.real(4), 0, zones.integer(5) != 0,
                     zones.integer(6) != 0});
  }
  // The latest interval of each host: its power now.
  const std::string latest = " JOIN (SELECT host AS h, MAX(end_ns) AS last FROM zone_energy" +
                             window + " GROUP BY host) ON host = h AND end_ns = last";
  auto& latest_zones = s.cached(
      "SELECT host, zone, source, SUM(energy_joules), MAX(end_ns - start_ns), in_node_total "
      "FROM zone_energy" +
      latest + " GROUP BY host, zone, source, in_node_total");
  for (bind(latest_zones); latest_zones.step();) {
    report.add_latest_zone(latest_zones.text(0), latest_zones.text(1), latest_zones.text(2),
                           latest_zones.integer(5) != 0, latest_zones.real(3),
                           latest_zones.unsigned_integer(4));
  }

  auto& workloads = s.cached(
      "SELECT host, site, workload_kind, workload_id, workload_user, SUM(energy_joules), "
      "SUM(cpu_seconds), SUM(carbon_gco2e), MAX(estimated) FROM workload_energy" +
      window +
      " GROUP BY host, workload_kind, workload_id, workload_user ORDER BY host, SUM(energy_joules) "
      "DESC");
  for (bind(workloads); workloads.step();) {
    WorkloadSummary summary;
    summary.host = workloads.text(0);
    summary.workload.id = workloads.text(3);
    summary.workload.user = workloads.text(4);
    summary.energy_joules = workloads.real(5);
    summary.cpu_seconds = workloads.real(6);
    summary.carbon_gco2e = workloads.real(7);
    summary.estimated = workloads.integer(8) != 0;
    report.add_workload(workloads.text(1), workloads.text(2), std::move(summary));
  }
  const std::string latest_workload =
      " JOIN (SELECT host AS h, MAX(end_ns) AS last FROM workload_energy" + window +
      " GROUP BY host) ON host = h AND end_ns = last";
  auto& latest_workloads = s.cached(
      "SELECT host, workload_kind, workload_id, workload_user, SUM(energy_joules), "
      "MAX(end_ns - start_ns) FROM workload_energy" +
      latest_workload + " GROUP BY host, workload_kind, workload_id, workload_user");
  for (bind(latest_workloads); latest_workloads.step();) {
    report.add_latest_workload(latest_workloads.text(0), latest_workloads.text(1),
                               latest_workloads.text(2), latest_workloads.text(3),
                               latest_workloads.real(4), latest_workloads.unsigned_integer(5));
  }

  // Node power series: per interval the node-total zones' energy, then per bucket.
  auto& series = s.cached(
      "SELECT host, MAX(end_ns), SUM(joules), SUM(end_ns - start_ns) FROM ("
      "SELECT host, start_ns, end_ns, SUM(energy_joules) AS joules FROM zone_energy" +
      window + " AND in_node_total = 1" +
      " GROUP BY host, start_ns, end_ns) GROUP BY host, end_ns / ?4 ORDER BY host, 2");
  for (bind(series, to_db(EnergyReportBuilder::bucket_ns(query))); series.step();) {
    report.add_series_point(series.text(0), series.unsigned_integer(1), series.real(2),
                            series.unsigned_integer(3));
  }
  return std::move(report).finish();
}

std::vector<AgentRecord> SqliteStore::agents() {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached(
      "SELECT agent_id, site, host, last_seen_ns, last_sequence, sent_ns, ringbuf_drops_total, "
      "events_total, "
      "uplink_dropped_total, rule_pack_version, health FROM agent_status ORDER BY agent_id, host");
  std::vector<AgentRecord> out;
  for (statement.bind(); statement.step();) {
    AgentRecord agent;
    agent.agent_id = statement.text(0);
    agent.site = statement.text(1);
    agent.host = statement.text(2);
    agent.last_seen_ns = statement.unsigned_integer(3);
    agent.last_sequence = statement.unsigned_integer(4);
    agent.sent_ns = statement.unsigned_integer(5);
    agent.status.ringbuf_drops_total = statement.unsigned_integer(6);
    agent.status.events_total = statement.unsigned_integer(7);
    agent.status.uplink_dropped_total = statement.unsigned_integer(8);
    agent.status.rule_pack_version = statement.text(9);
    if (const auto health = statement.blob(10); !health.empty()) {
      const auto json = nlohmann::json::from_cbor(health, true, false);
      try {
        if (!json.is_object()) throw std::invalid_argument("not a CBOR map");
        agent.status.drops_by_source =
            json.value("drops_by_source", std::map<std::string, uint64_t>{});
        agent.status.ringbuf_size_bytes = json.value("ringbuf_size_bytes", uint64_t{0});
        agent.status.ringbuf_used_bytes = json.value("ringbuf_used_bytes", uint64_t{0});
        agent.status.kinds_off = json.value("kinds_off", std::vector<std::string>{});
      } catch (const std::exception& e) {
        throw StoreError("agent " + agent.agent_id + ": corrupt health record: " + e.what());
      }
    }
    out.push_back(std::move(agent));
  }
  return out;
}

}  // namespace vigie::collector
