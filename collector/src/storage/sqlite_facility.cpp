// SqliteStore's side of FacilityStore (tables of migration 7).
#include <map>
#include <tuple>

#include "storage/facility_form.h"
#include "storage/sqlite_statements.h"
#include "storage/sqlite_store.h"

namespace vigie::collector {

using facility_form::kIndexMargin_s;
using sqlite::to_db;

void SqliteStore::put_facility(const sustainability::Facility& facility, uint64_t now_ns) {
  std::lock_guard lock(mutex_);
  statements_
      ->cached(
          "INSERT INTO facilities (id, updated_ns, body) VALUES (?1, ?2, ?3) "
          "ON CONFLICT (id) DO UPDATE SET updated_ns = excluded.updated_ns, body = excluded.body")
      .bind(facility.id, to_db(now_ns), facility_form::body_of(facility))
      .run();
}

std::optional<sustainability::Facility> SqliteStore::facility(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached("SELECT body FROM facilities WHERE id = ?1");
  statement.bind(id);
  if (!statement.step()) return std::nullopt;
  auto out = facility_form::facility_of(statement.text(0));
  statement.bind();
  return out;
}

std::vector<sustainability::Facility> SqliteStore::facilities() {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached("SELECT body FROM facilities ORDER BY id");
  statement.bind();
  std::vector<sustainability::Facility> out;
  while (statement.step()) out.push_back(facility_form::facility_of(statement.text(0)));
  return out;
}

std::size_t SqliteStore::add_readings(const std::string& facility,
                                      const std::vector<sustainability::Reading>& readings,
                                      uint64_t now_ns) {
  return transaction([&] {
    std::size_t added = 0;
    auto& exists = statements_->cached(
        "SELECT 1 FROM facility_readings WHERE facility = ?1 AND quantity = ?2 AND meter = ?3 "
        "AND cumulative = ?4 AND start_s = ?5 AND end_s = ?6");
    auto& upsert = statements_->cached(
        "INSERT INTO facility_readings (facility, quantity, meter, cumulative, start_s, end_s, "
        "value, basis, source, imported_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
        "ON CONFLICT (facility, quantity, meter, cumulative, start_s, end_s) DO UPDATE SET "
        "value = excluded.value, basis = excluded.basis, source = excluded.source, "
        "imported_ns = excluded.imported_ns");
    for (const auto& r : readings) {
      const std::string quantity(sustainability::info(r.quantity).id);
      const int cumulative = r.cumulative ? 1 : 0;
      const int64_t start = facility_form::stored_start(r);
      exists.bind(facility, quantity, r.meter, cumulative, start, r.end_s);
      if (!exists.step()) ++added;
      exists.bind();
      upsert
          .bind(facility, quantity, r.meter, cumulative, start, r.end_s, r.value,
                std::string(sustainability::to_string(r.basis)), r.source, to_db(now_ns))
          .run();
    }
    return added;
  });
}

std::vector<sustainability::Reading> SqliteStore::readings(const std::string& facility,
                                                           int64_t from_s, int64_t to_s) {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached(
      "SELECT quantity, meter, cumulative, start_s, end_s, value, basis, source "
      "FROM facility_readings WHERE facility = ?1 AND ((cumulative = 0 AND end_s > ?2 AND "
      "start_s < ?3) OR (cumulative = 1 AND end_s >= ?4 AND end_s <= ?5)) ORDER BY end_s");
  statement.bind(facility, from_s, to_s, from_s - kIndexMargin_s, to_s + kIndexMargin_s);
  std::vector<sustainability::Reading> out;
  while (statement.step()) {
    out.push_back(facility_form::reading_of(
        statement.text(0), statement.text(1), statement.integer(2) != 0, statement.integer(3),
        statement.integer(4), statement.real(5), statement.text(6), statement.text(7)));
  }
  return out;
}

void SqliteStore::put_grid_points(const sustainability::GridSeries& series) {
  transaction([&] {
    auto& upsert = statements_->cached(
        "INSERT INTO grid_points (zone, basis, time_s, gco2e_per_kwh, source, version) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (zone, basis, time_s) DO UPDATE SET "
        "gco2e_per_kwh = excluded.gco2e_per_kwh, source = excluded.source, "
        "version = excluded.version");
    for (const auto& p : series.points) {
      upsert
          .bind(series.zone, series.basis, p.time_s, p.gco2e_per_kwh, series.source, series.version)
          .run();
    }
  });
}

sustainability::GridSeries SqliteStore::grid_series(const std::string& zone,
                                                    const std::string& basis, int64_t from_s,
                                                    int64_t to_s) {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached(
      "SELECT time_s, gco2e_per_kwh, source, version FROM grid_points "
      "WHERE zone = ?1 AND basis = ?2 AND time_s < ?4 AND time_s >= COALESCE("
      "(SELECT MAX(time_s) FROM grid_points WHERE zone = ?1 AND basis = ?2 AND time_s <= ?3), ?3) "
      "ORDER BY time_s");
  statement.bind(zone, basis, from_s, to_s);
  sustainability::GridSeries out{.zone = zone, .basis = basis};
  while (statement.step()) {
    out.points.push_back({statement.integer(0), statement.real(1)});
    out.source = statement.text(2);  // the period's last point's import
    out.version = statement.text(3);
  }
  return out;
}

std::vector<AccountEnergy> SqliteStore::account_energy(uint64_t from_ns, uint64_t to_ns) {
  // A year of a large site is tens of millions of rows
  // (tests/bench/report_bench.cpp): read on the report connection, never
  // under mutex_, one day per statement so that no read transaction holds
  // the WAL from being checkpointed for long.
  std::lock_guard lock(report_mutex_);
  if (report_db_ == nullptr) {
    if (sqlite3_open_v2(path_.c_str(), &report_db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      const std::string error = report_db_ ? sqlite3_errmsg(report_db_) : "out of memory";
      sqlite3_close(report_db_);
      report_db_ = nullptr;
      throw StoreError("cannot open " + path_ + " for reports: " + error);
    }
    sqlite3_busy_timeout(report_db_, 5000);
  }
  Statement statement(report_db_,
                      "SELECT site, host, workload_account, SUM(energy_joules), SUM(cpu_seconds) "
                      "FROM workload_energy WHERE end_ns > ?1 AND end_ns <= ?2 "
                      "GROUP BY site, host, workload_account");
  constexpr uint64_t kSliceNs = 86400ull * 1'000'000'000;
  std::map<std::tuple<std::string, std::string, std::string>, AccountEnergy> sums;
  for (uint64_t slice = from_ns; slice < to_ns;) {
    const uint64_t until = to_ns - slice > kSliceNs ? slice + kSliceNs : to_ns;
    statement.bind(sqlite::to_db_bound(slice), sqlite::to_db_bound(until));
    while (statement.step()) {
      AccountEnergy& row = sums[{statement.text(0), statement.text(1), statement.text(2)}];
      row.joules += statement.real(3);
      row.cpu_seconds += statement.real(4);
    }
    slice = until;
  }
  std::vector<AccountEnergy> out;
  out.reserve(sums.size());
  for (auto& [key, row] : sums) {  // ordered by site, host, account
    std::tie(row.site, row.host, row.account) = key;
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace vigie::collector
