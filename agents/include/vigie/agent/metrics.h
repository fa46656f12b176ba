// vigie-agent's Prometheus exposition (prometheus-cpp), names after
// Prometheus conventions: base units, `_total` for counters.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vigie/protocol/event.h"

namespace vigie::agent {

class AgentMetrics {
 public:
  AgentMetrics();

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  void count_event(protocol::EventKind kind);
  void count_alert(const protocol::Alert& alert);
  // Sets cumulative counters that are kept elsewhere (kernel maps, uplink):
  // the exported counter is advanced by the increase since the last call.
  void set_ringbuf_drops(protocol::EventKind kind, uint64_t total);
  void set_decode_errors(uint64_t total);
  void set_uplink(uint64_t sent_total, uint64_t rejected_total, uint64_t dropped_batches_total,
                  uint64_t dropped_events_total, uint64_t failures_total,
                  std::size_t queue_batches);
  // One sampling interval: energy counters per zone, power gauges per zone
  // and per workload (gauges of workloads that disappeared are removed).
  void record_energy(const std::vector<protocol::ZoneEnergy>& zones,
                     const std::vector<protocol::WorkloadEnergy>& workloads);
  void set_sensor_up(bool up);
  void set_rules_loaded(std::size_t rules);

 private:
  static void advance(prometheus::Counter& counter, uint64_t total);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& events_;
  prometheus::Family<prometheus::Counter>& alerts_;
  prometheus::Family<prometheus::Counter>& ringbuf_drops_;
  prometheus::Counter& decode_errors_;
  prometheus::Counter& uplink_sent_;
  prometheus::Counter& uplink_rejected_;
  prometheus::Counter& uplink_dropped_batches_;
  prometheus::Counter& uplink_dropped_events_;
  prometheus::Counter& uplink_failures_;
  prometheus::Gauge& uplink_queue_;
  prometheus::Family<prometheus::Counter>& node_energy_;
  prometheus::Family<prometheus::Gauge>& node_power_;
  prometheus::Family<prometheus::Counter>& workload_energy_;
  prometheus::Family<prometheus::Gauge>& workload_power_;
  prometheus::Family<prometheus::Counter>& workload_carbon_;
  prometheus::Gauge& sensor_up_;
  prometheus::Gauge& rules_loaded_;
  std::map<std::string, prometheus::Gauge*> live_workload_power_;
};

}  // namespace vigie::agent
