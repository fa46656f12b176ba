// The collector's alert router: every alert leaving the collector (agent
// detections from each stored batch, the collector's own correlation and
// threshold alerts, alerts a federation receives) goes through route(), which
// gives it its labels, TLP 2.0 marking and fingerprint and hands it to every
// registered AlertSink (Alertmanager, webhooks, the federation uplink).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/collector/alerting_config.h"
#include "vigie/collector/pipeline.h"

namespace prometheus {
class Registry;
class Counter;
}  // namespace prometheus

namespace vigie::collector {

// TLP names: csirt/tlp.h.
using csirt::parse_tlp;

// The TLP of an alert from its rule's tags: the first tag of the form
// `tlp.red`, `tlp.amber+strict`, `tlp.amber`, `tlp.green` or `tlp.clear`
// (Sigma tag namespace "tlp", any case); `fallback` when there is none.
Tlp tlp_from_tags(const std::vector<std::string>& tags, Tlp fallback);

// The label set an alert carries to Alertmanager (and its fingerprint):
//   alertname  the rule title (detections, correlations) or the threshold rule's name
//   rule_id    the Sigma rule id, or "threshold:<name>"
//   severity   the Sigma level (informational, low, medium, high, critical)
//   site, host (when not empty), tlp (to_string(tlp)),
// then `notification.labels` (group-by values, threshold rule labels), which
// never override the ones above. Empty values are left out, as Alertmanager
// treats an empty label as absent.
std::map<std::string, std::string> alert_labels(const AlertNotification& notification);

// Prometheus' label-set fingerprint (prometheus/common model.LabelSet.Fingerprint:
// FNV-1a 64 over the labels sorted by name, each name and value followed by
// the byte 0xff), as 16 lower-case hex digits: the `fingerprint` Alertmanager
// shows for the same labels in GET /api/v2/alerts.
std::string label_fingerprint(const std::map<std::string, std::string>& labels);

// Thread-safe. Also the BatchListener that routes the agents' alerts of every
// stored batch (origin "agent", starts at the event's time, ends
// agent_alert_ns later: detections are point-in-time).
class AlertRouter : public BatchListener {
 public:
  explicit AlertRouter(AlertRouterOptions options);
  ~AlertRouter() override;

  // Adds a destination; every alert routed from then on reaches it. `sink`
  // must outlive the router. May be called at any time, from any thread.
  void add_sink(AlertSink& sink);

  // Completes `notification` (tlp from the rule's tags when `tlp_from_rule`,
  // else left as given; fingerprint from alert_labels()) and delivers it to
  // every sink, on the calling thread (sinks only queue).
  void route(AlertNotification notification, bool tlp_from_rule = true);

  void on_stored(const protocol::Batch& batch, uint64_t received_ns) override;

  const AlertRouterOptions& options() const { return options_; }
  uint64_t routed_total() const { return routed_total_.load(); }

  // Exports vigie_collector_alerts_routed_total{origin} on `registry`.
  void register_metrics(prometheus::Registry& registry);

 private:
  AlertRouterOptions options_;
  std::mutex mutex_;
  std::vector<AlertSink*> sinks_;
  std::atomic<uint64_t> routed_total_{0};
  std::atomic<prometheus::Counter*> routed_agent_{nullptr};
  std::atomic<prometheus::Counter*> routed_collector_{nullptr};
  std::atomic<prometheus::Counter*> routed_federation_{nullptr};
};

}  // namespace vigie::collector
