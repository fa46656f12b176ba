// SQLite statements of SqliteStore, shared by its files (sqlite_store.cpp:
// batches and queries; sqlite_csirt.cpp: the CSIRT's tables). Private to
// the collector's storage.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "storage/sqlite_store.h"

namespace vigie::collector::sqlite {

// ns and counters are uint64 on the wire and INTEGER (int64) in SQLite.
// Values up to 2^63 (year 2262 for times) round-trip; bounds are clamped.
inline int64_t to_db(uint64_t value) { return static_cast<int64_t>(value); }
inline int64_t to_db_bound(uint64_t value) {
  return static_cast<int64_t>(std::min<uint64_t>(value, std::numeric_limits<int64_t>::max()));
}

// A prepared statement, reset before each use.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt_, nullptr) != SQLITE_OK) {
      throw StoreError(std::string("SQLite prepare failed: ") + sqlite3_errmsg(db) + " in: " + sql);
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Starts a new use: resets the statement and binds `args` to ?1, ?2…;
  // arguments past the statement's last parameter are ignored, so the
  // variants of a query (with or without a filter) share one argument list.
  template <typename... Args>
  Statement& bind(const Args&... args) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    const int count = sqlite3_bind_parameter_count(stmt_);
    int index = 0;
    ((++index <= count ? bind_one(index, args) : void()), ...);
    return *this;
  }
  // Returns true while a row is available.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StoreError(std::string("SQLite: ") + sqlite3_errmsg(db_));
  }
  void run() {
    while (step()) {
    }
  }
  int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  uint64_t unsigned_integer(int column) const { return static_cast<uint64_t>(integer(column)); }
  double real(int column) const { return sqlite3_column_double(stmt_, column); }
  std::vector<std::uint8_t> blob(int column) const {
    const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, column));
    return data ? std::vector<std::uint8_t>(
                      data, data + static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
                : std::vector<std::uint8_t>();
  }
  std::string text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return data ? std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
                : std::string();
  }

 private:
  void check(int rc) const {
    if (rc != SQLITE_OK) throw StoreError(std::string("SQLite bind: ") + sqlite3_errmsg(db_));
  }
  void bind_one(int i, const std::string& value) {
    check(sqlite3_bind_text(stmt_, i, value.data(), static_cast<int>(value.size()), SQLITE_STATIC));
  }
  void bind_one(int i, std::string_view value) {
    check(sqlite3_bind_text(stmt_, i, value.data(), static_cast<int>(value.size()), SQLITE_STATIC));
  }
  void bind_one(int i, const char* value) { bind_one(i, std::string_view(value)); }
  void bind_one(int i, const std::vector<std::uint8_t>& value) {
    check(sqlite3_bind_blob(stmt_, i, value.data(), static_cast<int>(value.size()), SQLITE_STATIC));
  }
  void bind_one(int i, double value) { check(sqlite3_bind_double(stmt_, i, value)); }
  void bind_one(int i, bool value) { check(sqlite3_bind_int(stmt_, i, value ? 1 : 0)); }
  template <typename T>
  requires std::is_integral_v<T>
  void bind_one(int i, T value) {
    check(sqlite3_bind_int64(stmt_, i, static_cast<int64_t>(value)));
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

inline void exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string error = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    throw StoreError("SQLite: " + error);
  }
}

}  // namespace vigie::collector::sqlite

namespace vigie::collector {

using sqlite::Statement;

// Every statement the store runs, prepared once. Query variants (with or
// without a filter) are prepared on first use and kept.
class SqliteStore::Statements {
 public:
  explicit Statements(sqlite3* db)
      : db_(db),
        begin(db, "BEGIN IMMEDIATE"),
        commit(db, "COMMIT"),
        rollback(db, "ROLLBACK"),
        savepoint(db, "SAVEPOINT batch"),
        release(db, "RELEASE batch"),
        rollback_to(db, "ROLLBACK TO batch"),
        insert_batch(
            db,
            "INSERT OR IGNORE INTO batches (agent_id, sequence, site, host, sent_ns, received_ns) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        insert_event(
            db,
            "INSERT INTO events (agent_id, time_ns, site, host, kind, pid, ppid, uid, gid, user, "
            "cgroup_id, workload_kind, workload_id, workload_user, image, command_line, event) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"),
        insert_alert(
            db,
            "INSERT INTO alerts (received_ns, time_ns, rule_id, rule_title, level, tags, site, "
            "host, "
            "agent_id, pid, user, image, command_line, workload_kind, workload_id, workload_user, "
            "event) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"),
        insert_zone(db,
                    "INSERT INTO zone_energy (agent_id, site, host, start_ns, end_ns, zone, "
                    "source, estimated, energy_joules, in_node_total) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        insert_workload(
            db,
            "INSERT INTO workload_energy (agent_id, site, host, start_ns, end_ns, workload_kind, "
            "workload_id, workload_user, cgroup_path, cpu_seconds, energy_joules, carbon_gco2e, "
            "estimated, workload_account, cpu_joules, dram_joules, gpu_joules, idle_joules, "
            "embodied_gco2e) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
            "?15, ?16, ?17, ?18, ?19)"),
        upsert_agent(
            db,
            "INSERT INTO agent_status (agent_id, site, host, last_seen_ns, last_sequence, sent_ns, "
            "ringbuf_drops_total, events_total, uplink_dropped_total, rule_pack_version, health) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
            "ON CONFLICT (host, agent_id) DO UPDATE SET site = excluded.site, "
            "last_sequence = excluded.last_sequence, sent_ns = excluded.sent_ns, "
            "ringbuf_drops_total = excluded.ringbuf_drops_total, events_total = "
            "excluded.events_total, "
            "uplink_dropped_total = excluded.uplink_dropped_total, "
            "rule_pack_version = excluded.rule_pack_version, health = excluded.health "
            "WHERE excluded.last_sequence > agent_status.last_sequence"),
        total_job(
            db,
            "INSERT INTO job_footprint_hosts (job_id, host, user, account, start_ns, end_ns, "
            "cpu_seconds, energy_joules, cpu_joules, dram_joules, gpu_joules, idle_joules, "
            "carbon_gco2e, embodied_gco2e, estimated) "
            "SELECT ?1, host, MAX(workload_user), MAX(workload_account), MIN(start_ns), "
            "MAX(end_ns), SUM(cpu_seconds), SUM(energy_joules), SUM(cpu_joules), "
            "SUM(dram_joules), SUM(gpu_joules), SUM(idle_joules), SUM(carbon_gco2e), "
            "SUM(embodied_gco2e), MAX(estimated) FROM workload_energy "
            "WHERE workload_kind = 'slurm_job' AND workload_id = ?1 AND host = ?2 GROUP BY host "
            "ON CONFLICT (job_id, host) DO UPDATE SET user = excluded.user, "
            "account = excluded.account, start_ns = excluded.start_ns, end_ns = excluded.end_ns, "
            "cpu_seconds = excluded.cpu_seconds, energy_joules = excluded.energy_joules, "
            "cpu_joules = excluded.cpu_joules, dram_joules = excluded.dram_joules, "
            "gpu_joules = excluded.gpu_joules, idle_joules = excluded.idle_joules, "
            "carbon_gco2e = excluded.carbon_gco2e, embodied_gco2e = excluded.embodied_gco2e, "
            "estimated = excluded.estimated"),
        touch_agent(db,
                    "UPDATE agent_status SET last_seen_ns = MAX(last_seen_ns, ?2) "
                    "WHERE host = ?3 AND agent_id = ?1"),
        insert_observable(db,
                          "INSERT INTO observables (type, key, time_ns, event_id, site, host, "
                          "workload_kind, workload_id, user) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
        upsert_sighting(
            db,
            "INSERT INTO sightings (indicator_uuid, site, host, workload_kind, workload_id, user, "
            "source, first_ns, last_ns, count, alert_id) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
            "ON CONFLICT (indicator_uuid, site, host, workload_kind, workload_id, user, source) "
            "DO UPDATE SET first_ns = MIN(first_ns, excluded.first_ns), "
            "last_ns = MAX(last_ns, excluded.last_ns), count = CASE WHEN excluded.source IN "
            "('retrohunt', 'exchange') THEN MAX(count, excluded.count) "
            "ELSE count + excluded.count END, "
            "alert_id = CASE WHEN excluded.alert_id <> 0 THEN excluded.alert_id ELSE alert_id END"),
        touch_indicator(db,
                        "UPDATE indicators SET first_seen_ns = CASE WHEN first_seen_ns = 0 OR "
                        "first_seen_ns > ?2 THEN ?2 ELSE first_seen_ns END, "
                        "last_seen_ns = MAX(last_seen_ns, ?3) WHERE uuid = ?1") {}

  Statement& cached(const std::string& sql) {
    auto it = queries_.find(sql);
    if (it == queries_.end())
      it = queries_.emplace(sql, std::make_unique<Statement>(db_, sql)).first;
    return *it->second;
  }

 private:
  sqlite3* db_;
  std::map<std::string, std::unique_ptr<Statement>> queries_;

 public:
  Statement begin, commit, rollback;
  Statement savepoint, release, rollback_to;  // one batch inside a group commit
  Statement insert_batch, insert_event, insert_alert, insert_zone, insert_workload;
  Statement upsert_agent, total_job, touch_agent;
  Statement insert_observable, upsert_sighting, touch_indicator;  // the CSIRT's, at ingest
};

template <typename Work>
auto SqliteStore::transaction(Work&& work) {
  std::lock_guard lock(mutex_);
  statements_->begin.bind().run();
  try {
    if constexpr (std::is_void_v<decltype(work())>) {
      work();
      statements_->commit.bind().run();
    } else {
      auto result = work();
      statements_->commit.bind().run();
      return result;
    }
  } catch (...) {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace vigie::collector
