// The sustainability reports as Prometheus gauges in the collector's
// /metrics, for Grafana (dashboards/grafana/vigie-sustainability.json) and
// for whatever scrapes the collector: each facility's year-to-date figures
// and its communities' shares, recomputed every reports.metrics_interval.
//   vigie_facility_kpi{facility, kpi}               pue, wue (L/kWh), erf, ref,
//                                                   cue_location, cue_market (kgCO2e/kWh)
//   vigie_facility_energy_kwh{facility, quantity}   EDC, EIT, EREUSE, ERES-TOT
//   vigie_facility_report_coverage{facility, quantity}  share of the year the readings cover
//   vigie_community_energy_kwh{facility, community}     facility energy charged (group_by account)
//   vigie_community_co2e_kg{facility, community, scope} operational or embodied
//   vigie_report_refresh_failures_total               refreshes that failed (logged)
// A figure the report has no value for (missing) has no series.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "reports/reports.h"

namespace vigie::collector {

class ReportMetrics {
 public:
  ReportMetrics(ReportBuilder& builder, FacilityStore& store, prometheus::Registry& registry,
                std::chrono::seconds interval);
  ~ReportMetrics();  // stops the thread
  ReportMetrics(const ReportMetrics&) = delete;
  ReportMetrics& operator=(const ReportMetrics&) = delete;

  // Starts the thread; nothing when the interval is 0.
  void start();
  void stop();
  // One refresh as of `now_s` (Unix seconds): the year to date of each
  // facility, in its time zone. False when it failed (counted, logged).
  bool refresh(int64_t now_s);

 private:
  ReportBuilder& builder_;
  FacilityStore& store_;
  const std::chrono::seconds interval_;
  prometheus::Family<prometheus::Gauge>& kpi_;
  prometheus::Family<prometheus::Gauge>& energy_;
  prometheus::Family<prometheus::Gauge>& coverage_;
  prometheus::Family<prometheus::Gauge>& community_energy_;
  prometheus::Family<prometheus::Gauge>& community_co2e_;
  prometheus::Counter& failures_;
  std::mutex series_mutex_;  // refresh() calls
  // The series set by the last refresh, removed by the next.
  std::vector<std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>> series_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vigie::collector
