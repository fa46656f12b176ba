// PostgresStore's side of FacilityStore (tables of migration 4), with
// sqlite_facility.cpp's results.
#include "storage/facility_form.h"
#include "storage/postgres_connection.h"
#include "storage/postgres_store.h"

namespace vigie::collector {

using facility_form::kIndexMargin_s;
using postgres::Text;
using postgres::to_db;

namespace {

sustainability::Facility facility_of(const Result& r, int row) {
  return facility_form::facility_of(r.text(row, 0));
}

}  // namespace

void PostgresStore::put_facility(const sustainability::Facility& facility, uint64_t now_ns) {
  with_connection([&](Connection& c) {
    c.query(
        "INSERT INTO facilities (id, updated_ns, body) VALUES ($1, $2, $3) ON CONFLICT (id) "
        "DO UPDATE SET updated_ns = excluded.updated_ns, body = excluded.body",
        Params(facility.id, to_db(now_ns), Text{facility_form::body_of(facility)}));
  });
}

std::optional<sustainability::Facility> PostgresStore::facility(const std::string& id) {
  return with_connection([&](Connection& c) -> std::optional<sustainability::Facility> {
    const auto r = c.query("SELECT body FROM facilities WHERE id = $1", Params(id));
    if (r.rows() == 0) return std::nullopt;
    return facility_of(r, 0);
  });
}

std::vector<sustainability::Facility> PostgresStore::facilities() {
  return with_connection([&](Connection& c) {
    const auto r = c.query("SELECT body FROM facilities ORDER BY id");
    std::vector<sustainability::Facility> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(facility_of(r, i));
    return out;
  });
}

std::size_t PostgresStore::add_readings(const std::string& facility,
                                        const std::vector<sustainability::Reading>& readings,
                                        uint64_t now_ns) {
  return transaction(
      [&](Connection& c) {
        std::size_t added = 0;
        for (const auto& r : readings) {
          // xmax = 0: the row was inserted, not updated.
          const auto result = c.query(
              "INSERT INTO facility_readings (facility, quantity, meter, cumulative, start_s, "
              "end_s, "
              "value, basis, source, imported_ns) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
              "ON CONFLICT (facility, quantity, meter, cumulative, start_s, end_s) DO UPDATE SET "
              "value = excluded.value, basis = excluded.basis, source = excluded.source, "
              "imported_ns = excluded.imported_ns RETURNING (xmax = 0)",
              Params(facility, std::string(sustainability::info(r.quantity).id), r.meter,
                     r.cumulative, facility_form::stored_start(r), r.end_s, r.value,
                     std::string(sustainability::to_string(r.basis)), r.source, to_db(now_ns)));
          if (result.rows() > 0 && result.boolean(0, 0)) ++added;
        }
        return added;
      },
      /*idempotent=*/true);  // upserts: a replay after a lost connection changes nothing
}

std::vector<sustainability::Reading> PostgresStore::readings(const std::string& facility,
                                                             int64_t from_s, int64_t to_s) {
  return with_connection([&](Connection& c) {
    const auto r = c.query(
        "SELECT quantity, meter, cumulative, start_s, end_s, value, basis, source "
        "FROM facility_readings WHERE facility = $1 AND ((NOT cumulative AND end_s > $2 AND "
        "start_s < $3) OR (cumulative AND end_s >= $4 AND end_s <= $5)) ORDER BY end_s",
        Params(facility, from_s, to_s, from_s - kIndexMargin_s, to_s + kIndexMargin_s));
    std::vector<sustainability::Reading> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(facility_form::reading_of(r.text(i, 0), r.text(i, 1), r.boolean(i, 2),
                                              r.integer(i, 3), r.integer(i, 4), r.real(i, 5),
                                              r.text(i, 6), r.text(i, 7)));
    }
    return out;
  });
}

void PostgresStore::put_grid_points(const sustainability::GridSeries& series) {
  transaction(
      [&](Connection& c) {
        for (const auto& p : series.points) {
          c.query(
              "INSERT INTO grid_points (zone, basis, time_s, gco2e_per_kwh, source, version) "
              "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (zone, basis, time_s) DO UPDATE SET "
              "gco2e_per_kwh = excluded.gco2e_per_kwh, source = excluded.source, "
              "version = excluded.version",
              Params(series.zone, series.basis, p.time_s, p.gco2e_per_kwh, series.source,
                     series.version));
        }
      },
      /*idempotent=*/true);
}

sustainability::GridSeries PostgresStore::grid_series(const std::string& zone,
                                                      const std::string& basis, int64_t from_s,
                                                      int64_t to_s) {
  return with_connection([&](Connection& c) {
    const auto r = c.query(
        "SELECT time_s, gco2e_per_kwh, source, version FROM grid_points "
        "WHERE zone = $1 AND basis = $2 AND time_s < $4 AND time_s >= COALESCE("
        "(SELECT MAX(time_s) FROM grid_points WHERE zone = $1 AND basis = $2 AND time_s <= $3), "
        "$3) ORDER BY time_s",
        Params(zone, basis, from_s, to_s));
    sustainability::GridSeries out{.zone = zone, .basis = basis};
    for (int i = 0; i < r.rows(); ++i) {
      out.points.push_back({r.integer(i, 0), r.real(i, 1)});
      out.source = r.text(i, 2);
      out.version = r.text(i, 3);
    }
    return out;
  });
}

std::vector<AccountEnergy> PostgresStore::account_energy(uint64_t from_ns, uint64_t to_ns) {
  return with_connection([&](Connection& c) {
    const auto r = c.query(
        "SELECT site, host, workload_account, SUM(energy_joules), SUM(cpu_seconds) "
        "FROM workload_energy WHERE end_ns > $1 AND end_ns <= $2 "
        "GROUP BY site, host, workload_account ORDER BY site, host, workload_account",
        Params(to_db(from_ns), postgres::to_db_bound(to_ns)));
    std::vector<AccountEnergy> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.real(i, 3), r.real(i, 4)});
    }
    return out;
  });
}

}  // namespace vigie::collector
