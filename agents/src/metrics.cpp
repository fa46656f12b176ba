#include "metrics.h"

#include <sstream>

namespace vigie::agent {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;

prometheus::Labels workload_labels(const protocol::Workload& w) {
  return {{"workload_kind", std::string(protocol::to_string(w.kind))}, {"workload", w.id}};
}

std::string estimated_label(bool estimated) { return estimated ? "true" : "false"; }

}  // namespace

AgentMetrics::AgentMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      events_(BuildCounter()
                  .Name("vigie_sensor_events_total")
                  .Help("Security events decoded, by kind")
                  .Register(*registry_)),
      alerts_(BuildCounter()
                  .Name("vigie_rules_alerts_total")
                  .Help("Alerts raised by edge rules, by level")
                  .Register(*registry_)),
      ringbuf_drops_(BuildCounter()
                         .Name("vigie_sensor_ringbuf_drops_total")
                         .Help("Events lost because the kernel ring buffer was full, by kind")
                         .Register(*registry_)),
      decode_errors_(BuildCounter()
                         .Name("vigie_sensor_decode_errors_total")
                         .Help("Malformed kernel records discarded")
                         .Register(*registry_)
                         .Add({})),
      uplink_sent_(BuildCounter()
                       .Name("vigie_uplink_batches_sent_total")
                       .Help("Batches acknowledged by the collector")
                       .Register(*registry_)
                       .Add({})),
      uplink_rejected_(BuildCounter()
                           .Name("vigie_uplink_batches_rejected_total")
                           .Help("Batches the collector refused with a non-retryable 4xx")
                           .Register(*registry_)
                           .Add({})),
      uplink_dropped_batches_(
          BuildCounter()
              .Name("vigie_uplink_batches_dropped_total")
              .Help("Batches dropped, by reason: queue_full (memory bounds), spool_full "
                    "(spool.max_bytes, oldest first), disk_full (no space for the spool, oldest "
                    "first), corrupt (a spooled file failed its CRC), stopped (undelivered at "
                    "stop without a spool)")
              .Register(*registry_)),
      uplink_dropped_events_(BuildCounter()
                                 .Name("vigie_uplink_events_dropped_total")
                                 .Help("Events inside dropped or rejected batches")
                                 .Register(*registry_)
                                 .Add({})),
      uplink_dropped_alerts_(BuildCounter()
                                 .Name("vigie_uplink_alerts_dropped_total")
                                 .Help("Alerts inside dropped or rejected batches")
                                 .Register(*registry_)
                                 .Add({})),
      uplink_dropped_energy_(BuildCounter()
                                 .Name("vigie_uplink_energy_records_dropped_total")
                                 .Help("Zone and workload energy records inside dropped or "
                                       "rejected batches")
                                 .Register(*registry_)
                                 .Add({})),
      uplink_failures_(BuildCounter()
                           .Name("vigie_uplink_send_failures_total")
                           .Help("Failed delivery attempts (retried or not)")
                           .Register(*registry_)
                           .Add({})),
      uplink_queue_(BuildGauge()
                        .Name("vigie_uplink_queue_batches")
                        .Help("Sealed batches waiting for delivery")
                        .Register(*registry_)
                        .Add({})),
      uplink_queue_events_(BuildGauge()
                               .Name("vigie_uplink_queue_events")
                               .Help("Events in sealed batches waiting for delivery")
                               .Register(*registry_)
                               .Add({})),
      uplink_queue_bytes_(
          BuildGauge()
              .Name("vigie_uplink_queue_bytes")
              .Help("Encoded (zstd) bytes of the sealed batches waiting for delivery")
              .Register(*registry_)
              .Add({})),
      uplink_queue_limit_(BuildGauge()
                              .Name("vigie_uplink_queue_batches_limit")
                              .Help("Bound of vigie_uplink_queue_batches (beyond it the oldest "
                                    "batch held in memory is dropped)")
                              .Register(*registry_)
                              .Add({})),
      uplink_queue_events_limit_(BuildGauge()
                                     .Name("vigie_uplink_queue_events_limit")
                                     .Help("Bound of vigie_uplink_queue_events")
                                     .Register(*registry_)
                                     .Add({})),
      uplink_queue_bytes_limit_(BuildGauge()
                                    .Name("vigie_uplink_queue_bytes_limit")
                                    .Help("Bound of vigie_uplink_queue_bytes")
                                    .Register(*registry_)
                                    .Add({})),
      uplink_pending_events_(BuildGauge()
                                 .Name("vigie_uplink_pending_events")
                                 .Help("Events not yet sealed into a batch")
                                 .Register(*registry_)
                                 .Add({})),
      uplink_pending_events_limit_(BuildGauge()
                                       .Name("vigie_uplink_pending_events_limit")
                                       .Help("Events that seal a batch (the batch size bound)")
                                       .Register(*registry_)
                                       .Add({})),
      uplink_spool_batches_(BuildGauge()
                                .Name("vigie_uplink_spool_batches")
                                .Help("Unacknowledged batches in the on-disk spool")
                                .Register(*registry_)
                                .Add({})),
      uplink_spool_bytes_(BuildGauge()
                              .Name("vigie_uplink_spool_bytes")
                              .Help("File bytes of the batches in the on-disk spool")
                              .Register(*registry_)
                              .Add({})),
      uplink_spool_bytes_limit_(BuildGauge()
                                    .Name("vigie_uplink_spool_bytes_limit")
                                    .Help("Bound of vigie_uplink_spool_bytes (spool.max_bytes; 0 "
                                          "without a spool)")
                                    .Register(*registry_)
                                    .Add({})),
      uplink_spool_write_errors_(BuildCounter()
                                     .Name("vigie_uplink_spool_write_errors_total")
                                     .Help("Batches the spool could not take (kept in memory "
                                           "under the queue bounds)")
                                     .Register(*registry_)
                                     .Add({})),
      uplink_spool_replayed_(BuildCounter()
                                 .Name("vigie_uplink_spool_replayed_batches_total")
                                 .Help("Batches found in the spool at start, to be replayed")
                                 .Register(*registry_)
                                 .Add({})),
      uplink_collector_sent_(BuildCounter()
                                 .Name("vigie_uplink_collector_batches_sent_total")
                                 .Help("Batches acknowledged, by collector")
                                 .Register(*registry_)),
      uplink_collector_failures_(BuildCounter()
                                     .Name("vigie_uplink_collector_send_failures_total")
                                     .Help("Failed delivery attempts, by collector")
                                     .Register(*registry_)),
      uplink_collector_switches_(
          BuildCounter()
              .Name("vigie_uplink_collector_switches_total")
              .Help("Switches of the uplink to this collector: failover after a failure of "
                    "the previous one, or back to the preferred one")
              .Register(*registry_)),
      uplink_collector_active_(BuildGauge()
                                   .Name("vigie_uplink_collector_active")
                                   .Help("1 for the collector the uplink sends to now")
                                   .Register(*registry_)),
      node_energy_(BuildCounter()
                       .Name("vigie_node_energy_joules_total")
                       .Help("Node energy per power zone and source")
                       .Register(*registry_)),
      node_power_(BuildGauge()
                      .Name("vigie_node_power_watts")
                      .Help("Node power per zone over the last sampling interval")
                      .Register(*registry_)),
      gpu_energy_(BuildCounter()
                      .Name("vigie_gpu_energy_joules_total")
                      .Help("Energy of each GPU (NVML device index), from its energy counter or "
                            "its integrated power")
                      .Register(*registry_)),
      gpu_power_(BuildGauge()
                     .Name("vigie_gpu_power_watts")
                     .Help("Power of each GPU over the last sampling interval")
                     .Register(*registry_)),
      workload_energy_(BuildCounter()
                           .Name("vigie_workload_energy_joules_total")
                           .Help("Energy attributed to each workload")
                           .Register(*registry_)),
      workload_power_(BuildGauge()
                          .Name("vigie_workload_power_watts")
                          .Help("Power attributed to each workload over the last interval")
                          .Register(*registry_)),
      workload_carbon_(BuildCounter()
                           .Name("vigie_workload_carbon_grams_total")
                           .Help("Operational carbon attributed to each workload, gCO2e")
                           .Register(*registry_)),
      process_table_evictions_(BuildCounter()
                                   .Name("vigie_sensor_process_table_evictions_total")
                                   .Help("Processes evicted from the full process table (their "
                                         "children lose parent image and command line)")
                                   .Register(*registry_)
                                   .Add({})),
      workload_read_errors_(BuildCounter()
                                .Name("vigie_workload_read_errors_total")
                                .Help("Unreadable or malformed cgroup and /proc files while "
                                      "resolving workloads")
                                .Register(*registry_)
                                .Add({})),
      power_read_errors_(BuildCounter()
                             .Name("vigie_power_read_errors_total")
                             .Help("Power inputs that could not be read, by input; the "
                                   "interval's energy is carried to the next sample or lost "
                                   "for that workload")
                             .Register(*registry_)),
      rapl_wraps_(BuildCounter()
                      .Name("vigie_power_rapl_wraps_total")
                      .Help("RAPL energy counter wrap-arounds handled")
                      .Register(*registry_)
                      .Add({})),
      sensor_up_(BuildGauge()
                     .Name("vigie_sensor_up")
                     .Help("1 when the eBPF sensor is loaded and attached")
                     .Register(*registry_)
                     .Add({})),
      kind_up_(BuildGauge()
                   .Name("vigie_sensor_kind_up")
                   .Help("1 when the kind's eBPF programs run, 0 when disabled or refused by "
                         "the kernel")
                   .Register(*registry_)),
      process_table_size_(BuildGauge()
                              .Name("vigie_sensor_process_table_entries")
                              .Help("Processes held by the sensor's process table")
                              .Register(*registry_)
                              .Add({})),
      process_table_limit_(BuildGauge()
                               .Name("vigie_sensor_process_table_entries_limit")
                               .Help("Bound of vigie_sensor_process_table_entries "
                                     "(sensor.process_table_entries; beyond it the oldest "
                                     "process is evicted)")
                               .Register(*registry_)
                               .Add({})),
      pending_full_(BuildCounter()
                        .Name("vigie_sensor_pending_full_total")
                        .Help("Syscalls not reported because the kernel's pending-state map was "
                              "full (failed exec, file open, privilege change, ptrace)")
                        .Register(*registry_)
                        .Add({})),
      hash_failures_(BuildCounter()
                         .Name("vigie_sensor_image_hash_failures_total")
                         .Help("Executed images that could not be hashed (gone, unreadable or "
                               "too large)")
                         .Register(*registry_)
                         .Add({})),
      rules_loaded_(BuildGauge()
                        .Name("vigie_rules_loaded")
                        .Help("Sigma rules loaded at the edge")
                        .Register(*registry_)
                        .Add({})),
      rules_pack_(BuildGauge()
                      .Name("vigie_rules_pack_info")
                      .Help("1 for the version of the rule pack in force (VERSION file)")
                      .Register(*registry_)),
      rules_reloads_(BuildCounter()
                         .Name("vigie_rules_reloads_total")
                         .Help("Rule sets compiled aside and swapped in")
                         .Register(*registry_)
                         .Add({})),
      rules_reload_failures_(
          BuildCounter()
              .Name("vigie_rules_reload_failures_total")
              .Help("Rule reloads refused (a broken rule or IOC file): the previous set stays")
              .Register(*registry_)
              .Add({})),
      correlation_only_matches_(BuildCounter()
                                    .Name("vigie_rules_correlation_only_matches_total")
                                    .Help("Matches of correlation-only rules, not raised at the "
                                          "edge (the collector correlates their events)")
                                    .Register(*registry_)
                                    .Add({})),
      ringbuf_used_(BuildGauge()
                        .Name("vigie_sensor_ringbuf_used_bytes")
                        .Help("Bytes written by the kernel in the sensor's ring buffer and not "
                              "yet read")
                        .Register(*registry_)
                        .Add({})) {
  for (int k = 0; k < protocol::kEventKindCount; ++k) {
    const auto kind = static_cast<protocol::EventKind>(k);
    events_by_kind_[k] = &events_.Add({{"kind", std::string(protocol::to_string(kind))}});
  }
  // Every reason from the start, 0 until it happens (a rate() needs the series).
  for (const char* reason : {"queue_full", "spool_full", "disk_full", "corrupt", "stopped"}) {
    uplink_dropped_batches_.Add({{"reason", reason}});
  }
}

void AgentMetrics::advance(prometheus::Counter& counter, uint64_t total) {
  const double now = static_cast<double>(total);
  if (now > counter.Value()) counter.Increment(now - counter.Value());
}

void AgentMetrics::count_event(protocol::EventKind kind) {
  events_by_kind_[static_cast<std::size_t>(kind)]->Increment();
}

void AgentMetrics::count_alert(const protocol::Alert& alert) {
  alerts_.Add({{"level", alert.level}}).Increment();
}

void AgentMetrics::set_ringbuf_drops(protocol::EventKind kind, uint64_t total) {
  advance(ringbuf_drops_.Add({{"kind", std::string(protocol::to_string(kind))}}), total);
}

void AgentMetrics::set_decode_errors(uint64_t total) { advance(decode_errors_, total); }

void AgentMetrics::set_uplink(const uplink::UplinkStats& stats) {
  advance(uplink_sent_, stats.batches_sent_total);
  advance(uplink_rejected_, stats.batches_rejected_total);
  for (const auto& [reason, total] : stats.batches_dropped_by_reason) {
    advance(uplink_dropped_batches_.Add({{"reason", reason}}), total);
  }
  advance(uplink_dropped_events_, stats.events_dropped_total);
  advance(uplink_dropped_alerts_, stats.alerts_dropped_total);
  advance(uplink_dropped_energy_, stats.energy_records_dropped_total);
  advance(uplink_failures_, stats.send_failures_total);
  uplink_queue_.Set(static_cast<double>(stats.queue_batches));
  uplink_queue_events_.Set(static_cast<double>(stats.queue_events));
  uplink_queue_bytes_.Set(static_cast<double>(stats.queue_bytes));
  uplink_queue_limit_.Set(static_cast<double>(stats.queue_batches_limit));
  uplink_queue_events_limit_.Set(static_cast<double>(stats.queue_events_limit));
  uplink_queue_bytes_limit_.Set(static_cast<double>(stats.queue_bytes_limit));
  uplink_pending_events_.Set(static_cast<double>(stats.pending_events));
  uplink_pending_events_limit_.Set(static_cast<double>(stats.pending_events_limit));
  uplink_spool_batches_.Set(static_cast<double>(stats.spool_batches));
  uplink_spool_bytes_.Set(static_cast<double>(stats.spool_bytes));
  uplink_spool_bytes_limit_.Set(static_cast<double>(stats.spool_bytes_limit));
  advance(uplink_spool_write_errors_, stats.spool_write_errors_total);
  advance(uplink_spool_replayed_, stats.spool_replayed_batches_total);
  for (const auto& c : stats.collectors) {
    const prometheus::Labels labels{{"collector", c.address}};
    advance(uplink_collector_sent_.Add(labels), c.batches_sent_total);
    advance(uplink_collector_failures_.Add(labels), c.send_failures_total);
    advance(uplink_collector_switches_.Add(labels), c.switches_total);
    uplink_collector_active_.Add(labels).Set(c.active ? 1 : 0);
  }
}

void AgentMetrics::record_energy(const std::vector<protocol::ZoneEnergy>& zones,
                                 const std::vector<protocol::WorkloadEnergy>& workloads) {
  for (const auto& z : zones) {
    const double seconds = static_cast<double>(z.end_ns - z.start_ns) / 1e9;
    const prometheus::Labels labels{{"zone", z.zone},
                                    {"source", std::string(protocol::to_string(z.source))},
                                    {"estimated", estimated_label(z.estimated)}};
    node_energy_.Add(labels).Increment(z.energy_joules);
    if (seconds > 0) node_power_.Add(labels).Set(z.energy_joules / seconds);
    constexpr std::string_view kGpuPrefix = "gpu-";  // NvmlSource's zone names
    if (z.source == protocol::EnergySource::kNvml && z.zone.starts_with(kGpuPrefix)) {
      const prometheus::Labels gpu{{"gpu", z.zone.substr(kGpuPrefix.size())}};
      gpu_energy_.Add(gpu).Increment(z.energy_joules);
      if (seconds > 0) gpu_power_.Add(gpu).Set(z.energy_joules / seconds);
    }
  }
  // Several records can share labels (a job's steps): sum them first.
  struct Sum {
    double joules = 0, grams = 0, seconds = 0;
  };
  std::map<prometheus::Labels, Sum> sums;
  for (const auto& w : workloads) {
    auto labels = workload_labels(w.workload);
    labels.emplace("estimated", estimated_label(w.estimated));
    Sum& sum = sums[labels];
    sum.joules += w.energy_joules;
    sum.grams += w.carbon_gco2e;
    sum.seconds = static_cast<double>(w.end_ns - w.start_ns) / 1e9;
  }
  for (auto it = live_workloads_.begin(); it != live_workloads_.end();) {
    if (sums.count(it->first) == 0) {
      workload_power_.Remove(it->second.power);
      workload_energy_.Remove(it->second.energy);
      workload_carbon_.Remove(it->second.carbon);
      it = live_workloads_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [labels, sum] : sums) {
    auto [it, added] = live_workloads_.try_emplace(labels);
    if (added) {
      it->second = {&workload_power_.Add(labels), &workload_energy_.Add(labels),
                    &workload_carbon_.Add(labels)};
    }
    it->second.energy->Increment(sum.joules);
    it->second.carbon->Increment(sum.grams);
    if (sum.seconds > 0) it->second.power->Set(sum.joules / sum.seconds);
  }
}

void AgentMetrics::set_process_table_evictions(uint64_t total) {
  advance(process_table_evictions_, total);
}

void AgentMetrics::set_workload_read_errors(uint64_t total) {
  advance(workload_read_errors_, total);
}

void AgentMetrics::set_power(const power::PowerSamplerStats& stats) {
  advance(power_read_errors_.Add({{"input", "proc_stat"}}), stats.proc_stat_errors);
  advance(power_read_errors_.Add({{"input", "rapl"}}), stats.rapl_read_errors);
  advance(power_read_errors_.Add({{"input", "cgroup"}}), stats.cgroup_errors);
  advance(power_read_errors_.Add({{"input", "meminfo"}}), stats.meminfo_errors);
  advance(power_read_errors_.Add({{"input", "nvml"}}), stats.nvml_errors);
  advance(power_read_errors_.Add({{"input", "ipmi"}}), stats.ipmi_errors);
  // A wall reading below RAPL + GPUs (parts scaled down) and a carbon series
  // with no value for the interval (static factor used) are inputs not taken as read.
  advance(power_read_errors_.Add({{"input", "ipmi_below_components"}}),
          stats.wall_below_components);
  advance(power_read_errors_.Add({{"input", "carbon_series"}}), stats.carbon_series_misses);
  advance(rapl_wraps_, stats.rapl_wraps);
}

void AgentMetrics::set_sensor_up(bool up) { sensor_up_.Set(up ? 1 : 0); }

void AgentMetrics::set_kind_up(protocol::EventKind kind, bool up) {
  kind_up_.Add({{"kind", std::string(protocol::to_string(kind))}}).Set(up ? 1 : 0);
}

void AgentMetrics::set_sensor_health(std::size_t process_table_size, uint64_t pending_full,
                                     uint64_t hash_failures) {
  process_table_size_.Set(static_cast<double>(process_table_size));
  advance(pending_full_, pending_full);
  advance(hash_failures_, hash_failures);
}
void AgentMetrics::set_process_table_limit(std::size_t entries) {
  process_table_limit_.Set(static_cast<double>(entries));
}
void AgentMetrics::set_ringbuf_used_bytes(uint64_t bytes) {
  ringbuf_used_.Set(static_cast<double>(bytes));
}
void AgentMetrics::set_rules(std::size_t rules, const std::string& pack_version) {
  rules_loaded_.Set(static_cast<double>(rules));
  if (rules_pack_version_ != nullptr) rules_pack_.Remove(rules_pack_version_);
  rules_pack_version_ = &rules_pack_.Add({{"version", pack_version}});
  rules_pack_version_->Set(1);
}

void AgentMetrics::set_power_estimate(const power::EstimateChoice& estimate, bool in_use) {
  const auto text = [](double v) {
    std::ostringstream out;
    out << v;
    return out.str();
  };
  prometheus::BuildGauge()
      .Name("vigie_power_estimate_info")
      .Help(
          "1 for the model the power estimate charges (Green Algorithms); in_use=true when "
          "the node has no energy sensor")
      .Register(*registry_)
      .Add({{"in_use", in_use ? "true" : "false"},
            {"virtual_machine", estimate.virtual_machine ? "true" : "false"},
            {"core_watts", text(estimate.model.core_watts)},
            {"idle_watts", text(estimate.model.idle_watts)},
            {"basis", estimate.basis}})
      .Set(1);
}

void AgentMetrics::count_rules_reload(bool swapped) {
  (swapped ? rules_reloads_ : rules_reload_failures_).Increment();
}

}  // namespace vigie::agent
