// Correlation in the collector (DESIGN "Data flow": per-event rules at the
// edge, correlation, threshold and absence rules over what many nodes send).
//
// A BatchListener that queues what it needs of each stored batch and, on its
// own thread:
//  - evaluates the detection rules that only feed correlations (agents drop
//    their matches at the edge: rules::correlation_only_rules) over the
//    batch's events, and feeds those alerts, plus the agents' own alerts of
//    rules a correlation references, to a rules::Correlator;
//  - turns each batch into samples for threshold/absence rules
//    (rules::ThresholdEvaluator, Prometheus alerting-rule semantics), labels
//    {site, host}:
//      vigie_agent_last_seen_timestamp_seconds  from Store::agents() at each
//          evaluation (so absence is right with several collectors on one
//          database): the newest batch of any agent of the host
//      vigie_agent_ringbuf_drops_per_second     AgentStatus::ringbuf_drops_total,
//      vigie_agent_uplink_dropped_per_second    AgentStatus::uplink_dropped_total:
//          increase over the agent clock (sent_ns) since the agent's previous
//          batch seen here; a decrease is a restart (the value is the increase)
//      vigie_agent_ringbuf_used_ratio           ringbuf_used_bytes / ringbuf_size_bytes
//      vigie_node_power_watts                   the batch's latest interval: sum of
//          the in_node_total zones' joules over the interval's seconds
//    and evaluates the rules every evaluation_interval;
//  - stores the alerts it raises (Store::store_alerts, origin "collector")
//    and routes them (AlertRouter): correlations as point-in-time alerts,
//    threshold alerts when they fire and again, ended, when they resolve.
// Rules are hot-reloaded (rules::RuleSetReloader; threshold files by mtime and
// size); a reload restarts correlation windows, threshold series are kept.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "alerting/alert_router.h"
#include "vigie/collector/alerting_config.h"
#include "vigie/collector/pipeline.h"
#include "vigie/collector/store.h"
#include "vigie/rules/rule_set.h"

namespace prometheus {
class Registry;
}

namespace vigie::collector {

// What the engine did, also exported as Prometheus metrics.
struct CorrelationStats {
  uint64_t batches_total = 0;          // processed
  uint64_t batches_dropped_total = 0;  // queue full
  uint64_t correlation_alerts_total = 0;
  uint64_t threshold_firing_total = 0;
  uint64_t threshold_resolved_total = 0;
  uint64_t store_failures_total = 0;  // store_alerts threw; the alert was still routed
  uint64_t reloads_total = 0;
  uint64_t reload_failures_total = 0;
  uint64_t queue_length = 0;
  uint64_t groups = 0;  // live correlation windows
  uint64_t series = 0;  // live threshold series
};

// Metrics: vigie_collector_correlation_batches_total,
// vigie_collector_correlation_batches_dropped_total, vigie_collector_correlation_queue_length,
// vigie_collector_collector_alerts_total{kind="correlation"|"threshold_firing"|"threshold_resolved"},
// vigie_collector_correlation_store_failures_total, vigie_collector_rules_reloads_total{result},
// vigie_collector_correlation_groups, vigie_collector_correlation_groups_evicted_total,
// vigie_collector_threshold_series, vigie_collector_threshold_series_evicted_total.
class CorrelationEngine : public BatchListener {
 public:
  // Loads the rules (diagnostics are logged; a refused rule does not stop the
  // others). Throws std::runtime_error when a threshold file cannot be read.
  // `store` and `router` must outlive the engine.
  CorrelationEngine(CorrelationOptions options, Store& store, AlertRouter& router,
                    prometheus::Registry* registry = nullptr);
  ~CorrelationEngine() override;
  CorrelationEngine(const CorrelationEngine&) = delete;
  CorrelationEngine& operator=(const CorrelationEngine&) = delete;

  void on_stored(const protocol::Batch& batch, uint64_t received_ns) override;

  // Processes every queued batch, then evaluates the threshold rules at
  // `now_ns` (when `evaluate`). The worker thread calls it; with
  // start_thread = false the caller does, from one thread.
  void run_once(uint64_t now_ns, bool evaluate = true);

  CorrelationStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigie::collector
