// The energy report (Store::energy) assembled once for every backend: each
// store runs its own SQL and hands the rows here, in the order its queries
// return them; the summing, the power of the latest interval and the power
// series are computed the same way whatever the database.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "vigie/collector/store.h"

namespace vigie::collector {

class EnergyReportBuilder {
 public:
  explicit EnergyReportBuilder(const EnergyQuery& query);

  // Width of one point of the power series: the window in ~300 buckets, at
  // least 1 s. Stores group their series rows by end_ns / bucket_ns().
  static uint64_t bucket_ns(const EnergyQuery& query);

  // A zone's energy over the window, per (host, zone, source, in_node_total),
  // ordered by host, zone, source.
  void add_zone(const std::string& host, const std::string& site, ZoneSummary zone);
  // The same zone over its host's latest interval: `joules` over `duration_ns`.
  void add_latest_zone(const std::string& host, const std::string& zone, const std::string& source,
                       bool in_node_total, double joules, uint64_t duration_ns);
  // A workload's totals over the window (host, then energy, largest first);
  // `kind` as stored. Throws StoreError on a kind the protocol does not know.
  void add_workload(const std::string& site, const std::string& kind, WorkloadSummary summary);
  // The workload over its host's latest interval.
  void add_latest_workload(const std::string& host, const std::string& kind, const std::string& id,
                           const std::string& user, double joules, uint64_t duration_ns);
  // One bucket of a host's node-total energy: `joules` over the `covered_ns`
  // its intervals cover (gaps do not dilute the average), ending at `t_ns`.
  void add_series_point(const std::string& host, uint64_t t_ns, double joules, uint64_t covered_ns);

  EnergyReport finish() &&;

 private:
  EnergyReport report_;
  std::map<std::string, NodeEnergy> nodes_;  // by host
  // (host, kind, id, user) -> index in report_.workloads
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::size_t>
      workload_index_;
};

}  // namespace vigie::collector
