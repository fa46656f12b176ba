// What the sustainability reports read and keep in the collector's database:
// facilities, their meter readings, the grid carbon intensity series, and the
// node energy the agents measured, summed per Slurm account. Both stores
// implement it (tables of SQLite migration 7, PostgreSQL migration 4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vigie/sustainability/datacentre.h"
#include "vigie/sustainability/meter.h"

namespace vigie::collector {

// Node energy of one (site, host, Slurm account) over a window; the account
// is "" for what no job used (the host's own processes, idle, unattributed).
struct AccountEnergy {
  std::string site;
  std::string host;
  std::string account;
  double joules = 0;
  double cpu_seconds = 0;
};

// Thread-safe; every method throws StoreError on a backend failure.
class FacilityStore {
 public:
  virtual ~FacilityStore() = default;

  // Creates or replaces the facility `facility.id`.
  virtual void put_facility(const sustainability::Facility& facility, uint64_t now_ns) = 0;
  virtual std::optional<sustainability::Facility> facility(const std::string& id) = 0;
  // By id.
  virtual std::vector<sustainability::Facility> facilities() = 0;

  // Adds `readings` of `facility` in one transaction. A reading with the same
  // (quantity, meter, cumulative, start, end) as a stored one replaces it, so
  // importing a file again changes nothing. Returns how many were new.
  virtual std::size_t add_readings(const std::string& facility,
                                   const std::vector<sustainability::Reading>& readings,
                                   uint64_t now_ns) = 0;
  // The interval readings that meet [from_s, to_s), and the cumulative
  // indexes read within a year of it (to make the intervals that cross it).
  virtual std::vector<sustainability::Reading> readings(const std::string& facility, int64_t from_s,
                                                        int64_t to_s) = 0;

  // Stores the points of a series (zone, basis): a point at a time already
  // held replaces it, so a consolidated file supersedes the real-time one.
  virtual void put_grid_points(const sustainability::GridSeries& series) = 0;
  // The series (zone, basis) over [from_s, to_s), with the point before it;
  // source and version those of its last point's import.
  virtual sustainability::GridSeries grid_series(const std::string& zone, const std::string& basis,
                                                 int64_t from_s, int64_t to_s) = 0;

  // The agents' workload energy with end_ns in (from_ns, to_ns], summed per
  // (site, host, account).
  virtual std::vector<AccountEnergy> account_energy(uint64_t from_ns, uint64_t to_ns) = 0;
};

}  // namespace vigie::collector
