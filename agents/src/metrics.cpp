#include "vigie/agent/metrics.h"

#include <set>

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
      uplink_dropped_batches_(BuildCounter()
                                  .Name("vigie_uplink_batches_dropped_total")
                                  .Help("Batches dropped because the send queue was full")
                                  .Register(*registry_)
                                  .Add({})),
      uplink_dropped_events_(BuildCounter()
                                 .Name("vigie_uplink_events_dropped_total")
                                 .Help("Events inside dropped or rejected batches")
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
      node_energy_(BuildCounter()
                       .Name("vigie_node_energy_joules_total")
                       .Help("Node energy per power zone and source")
                       .Register(*registry_)),
      node_power_(BuildGauge()
                      .Name("vigie_node_power_watts")
                      .Help("Node power per zone over the last sampling interval")
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
      sensor_up_(BuildGauge()
                     .Name("vigie_sensor_up")
                     .Help("1 when the eBPF sensor is loaded and attached")
                     .Register(*registry_)
                     .Add({})),
      rules_loaded_(BuildGauge()
                        .Name("vigie_rules_loaded")
                        .Help("Sigma rules loaded at the edge")
                        .Register(*registry_)
                        .Add({})) {}

void AgentMetrics::advance(prometheus::Counter& counter, uint64_t total) {
  const double now = static_cast<double>(total);
  if (now > counter.Value()) counter.Increment(now - counter.Value());
}

void AgentMetrics::count_event(protocol::EventKind kind) {
  events_.Add({{"kind", std::string(protocol::to_string(kind))}}).Increment();
}

void AgentMetrics::count_alert(const protocol::Alert& alert) {
  alerts_.Add({{"level", alert.level}}).Increment();
}

void AgentMetrics::set_ringbuf_drops(protocol::EventKind kind, uint64_t total) {
  advance(ringbuf_drops_.Add({{"kind", std::string(protocol::to_string(kind))}}), total);
}

void AgentMetrics::set_decode_errors(uint64_t total) { advance(decode_errors_, total); }

void AgentMetrics::set_uplink(uint64_t sent_total, uint64_t rejected_total,
                              uint64_t dropped_batches_total, uint64_t dropped_events_total,
                              uint64_t failures_total, std::size_t queue_batches) {
  advance(uplink_sent_, sent_total);
  advance(uplink_rejected_, rejected_total);
  advance(uplink_dropped_batches_, dropped_batches_total);
  advance(uplink_dropped_events_, dropped_events_total);
  advance(uplink_failures_, failures_total);
  uplink_queue_.Set(static_cast<double>(queue_batches));
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
  }
  std::set<std::string> seen;
  for (const auto& w : workloads) {
    const double seconds = static_cast<double>(w.end_ns - w.start_ns) / 1e9;
    auto labels = workload_labels(w.workload);
    labels.emplace("estimated", estimated_label(w.estimated));
    workload_energy_.Add(labels).Increment(w.energy_joules);
    workload_carbon_.Add(labels).Increment(w.carbon_gco2e);
    auto& gauge = workload_power_.Add(labels);
    if (seconds > 0) gauge.Set(w.energy_joules / seconds);
    const std::string key = std::string(protocol::to_string(w.workload.kind)) + "/" +
                            w.workload.id + "/" + labels["estimated"];
    live_workload_power_[key] = &gauge;
    seen.insert(key);
  }
  // Finished jobs must not linger as a constant power in dashboards.
  for (auto it = live_workload_power_.begin(); it != live_workload_power_.end();) {
    if (seen.count(it->first) == 0) {
      workload_power_.Remove(it->second);
      it = live_workload_power_.erase(it);
    } else {
      ++it;
    }
  }
}

void AgentMetrics::set_sensor_up(bool up) { sensor_up_.Set(up ? 1 : 0); }
void AgentMetrics::set_rules_loaded(std::size_t rules) {
  rules_loaded_.Set(static_cast<double>(rules));
}

}  // namespace vigie::agent
