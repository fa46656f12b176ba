// vigie-agent's Prometheus exposition (prometheus-cpp), names after
// Prometheus conventions: base units, `_total` for counters.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vigie/power/estimate.h"
#include "vigie/power/power_sampler.h"
#include "vigie/protocol/event.h"
#include "vigie/uplink/uplink.h"

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
  void set_uplink(const uplink::UplinkStats& stats);
  // One sampling interval: energy counters per zone, power gauges per zone
  // and per workload; GPU zones (NVML, "gpu-<index>") also as
  // vigie_gpu_energy_joules_total{gpu} and vigie_gpu_power_watts{gpu}. A workload's series are
  // removed once it is gone (a node runs thousands of jobs; finished ones must not grow /metrics).
  void record_energy(const std::vector<protocol::ZoneEnergy>& zones,
                     const std::vector<protocol::WorkloadEnergy>& workloads);
  // Reading problems that cost data, as cumulative totals kept elsewhere.
  void set_process_table_evictions(uint64_t total);
  void set_workload_read_errors(uint64_t total);
  void set_power(const power::PowerSamplerStats& stats);
  void set_sensor_up(bool up);
  // vigie_sensor_kind_up{kind}: 1 when the kind's programs run, 0 when
  // disabled or refused by the kernel (the sensor logs why once).
  void set_kind_up(protocol::EventKind kind, bool up);
  // Process table size (gauge), sys_enter states lost to a full pending map
  // and execs whose image could not be hashed (cumulative totals).
  void set_sensor_health(std::size_t process_table_size, uint64_t pending_full,
                         uint64_t hash_failures);
  // vigie_sensor_process_table_entries_limit: the process table's bound
  // (sensor.process_table_entries), next to its use.
  void set_process_table_limit(std::size_t entries);
  // vigie_sensor_ringbuf_used_bytes: bytes waiting in the ring buffer (the
  // kernel's BPF_RB_AVAIL_DATA), sampled at each health publication.
  void set_ringbuf_used_bytes(uint64_t bytes);
  // vigie_power_estimate_info{in_use, virtual_machine, core_watts, idle_watts, basis} 1:
  // the model the estimate charges (set once at start), in use when the node
  // has no energy sensor.
  void set_power_estimate(const power::EstimateChoice& estimate, bool in_use);
  // The rule set in force: vigie_rules_loaded and vigie_rules_pack_info{version} 1.
  void set_rules(std::size_t rules, const std::string& pack_version);
  // One reload attempt: swapped in, or refused (the previous set stays).
  void count_rules_reload(bool swapped);
  // A match of a correlation-only rule, not raised at the edge.
  void count_correlation_only_match() { correlation_only_matches_.Increment(); }

 private:
  static void advance(prometheus::Counter& counter, uint64_t total);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& events_;
  // Per-event counters resolved once: Family::Add hashes a label map each call.
  std::array<prometheus::Counter*, protocol::kEventKindCount> events_by_kind_{};
  prometheus::Family<prometheus::Counter>& alerts_;
  prometheus::Family<prometheus::Counter>& ringbuf_drops_;
  prometheus::Counter& decode_errors_;
  prometheus::Counter& uplink_sent_;
  prometheus::Counter& uplink_rejected_;
  // {reason}: every reason of UplinkStats::batches_dropped_by_reason, 0 or not.
  prometheus::Family<prometheus::Counter>& uplink_dropped_batches_;
  prometheus::Counter& uplink_dropped_events_;
  prometheus::Counter& uplink_dropped_alerts_;
  prometheus::Counter& uplink_dropped_energy_;
  prometheus::Counter& uplink_failures_;
  prometheus::Gauge& uplink_queue_;
  prometheus::Gauge& uplink_queue_events_;
  prometheus::Gauge& uplink_queue_bytes_;
  // Each bound of the uplink as a gauge `<use>_limit` next to its use
  // (node_exporter's node_nf_conntrack_entries / _limit).
  prometheus::Gauge& uplink_queue_limit_;
  prometheus::Gauge& uplink_queue_events_limit_;
  prometheus::Gauge& uplink_queue_bytes_limit_;
  prometheus::Gauge& uplink_pending_events_;
  prometheus::Gauge& uplink_pending_events_limit_;
  prometheus::Gauge& uplink_spool_batches_;
  prometheus::Gauge& uplink_spool_bytes_;
  prometheus::Gauge& uplink_spool_bytes_limit_;
  prometheus::Counter& uplink_spool_write_errors_;
  prometheus::Counter& uplink_spool_replayed_;
  // Per collector of collector.urls, labelled {collector="host:port"}.
  prometheus::Family<prometheus::Counter>& uplink_collector_sent_;
  prometheus::Family<prometheus::Counter>& uplink_collector_failures_;
  prometheus::Family<prometheus::Counter>& uplink_collector_switches_;
  prometheus::Family<prometheus::Gauge>& uplink_collector_active_;
  prometheus::Family<prometheus::Counter>& node_energy_;
  prometheus::Family<prometheus::Gauge>& node_power_;
  prometheus::Family<prometheus::Counter>& gpu_energy_;  // per NVML device index
  prometheus::Family<prometheus::Gauge>& gpu_power_;
  prometheus::Family<prometheus::Counter>& workload_energy_;
  prometheus::Family<prometheus::Gauge>& workload_power_;
  prometheus::Family<prometheus::Counter>& workload_carbon_;
  prometheus::Counter& process_table_evictions_;
  prometheus::Counter& workload_read_errors_;
  prometheus::Family<prometheus::Counter>& power_read_errors_;
  prometheus::Counter& rapl_wraps_;
  prometheus::Gauge& sensor_up_;
  prometheus::Family<prometheus::Gauge>& kind_up_;
  prometheus::Gauge& process_table_size_;
  prometheus::Gauge& process_table_limit_;
  prometheus::Counter& pending_full_;
  prometheus::Counter& hash_failures_;
  prometheus::Gauge& rules_loaded_;
  prometheus::Family<prometheus::Gauge>& rules_pack_;
  prometheus::Gauge* rules_pack_version_ = nullptr;  // the series of the set in force
  prometheus::Counter& rules_reloads_;
  prometheus::Counter& rules_reload_failures_;
  prometheus::Counter& correlation_only_matches_;
  prometheus::Gauge& ringbuf_used_;
  // Series of the workloads seen in the last interval, by label set.
  struct WorkloadSeries {
    prometheus::Gauge* power;
    prometheus::Counter* energy;
    prometheus::Counter* carbon;
  };
  std::map<prometheus::Labels, WorkloadSeries> live_workloads_;
};

}  // namespace vigie::agent
