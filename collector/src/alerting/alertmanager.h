// Alert delivery to Prometheus Alertmanager through its API v2
// (POST /api/v2/alerts, prometheus/alertmanager api/v2/openapi.yaml,
// `postableAlerts`): an AlertSink that keeps the alerts it was given,
// re-sends the active ones periodically and the resolved ones until they
// are old, to every Alertmanager of an HA cluster.
//
// Semantics, after Prometheus' notifier (rules/alerting.go, notifier/notifier.go):
//  - an alert still active with no end (threshold/absence, ends_ns == 0) is
//    sent with endsAt = now + 4 x resend_interval, and re-sent every
//    resend_interval, so Alertmanager resolves it on its own if the collector
//    stops; keep resend_interval well under Alertmanager's resolve_timeout;
//  - a resolved alert is sent with endsAt = its end, re-sent until
//    resolved_retention after its end (Prometheus keeps 15 minutes);
//  - an agent detection is point-in-time: the router gives it an end
//    (starts + alerts.agent_alert_seconds) in the future; it is sent with that
//    endsAt and Alertmanager resolves it then. Detections of one rule on one
//    host share a label set, hence a fingerprint: they merge into one alert
//    whose end moves with the newest detection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vigie/collector/alerting_config.h"
#include "vigie/collector/pipeline.h"

namespace prometheus {
class Registry;
}

namespace vigie::collector {

// RFC 3339 UTC with nanoseconds ("2025-06-01T12:00:00.123456789Z"), as Go's
// time.RFC3339Nano parses it.
std::string rfc3339(uint64_t ns);

// Whether the alert's `event` is one an agent sent (false for threshold and
// absence alerts, rule_id "threshold:<name>", whose event only carries the
// time, site and host).
bool has_event(const AlertNotification& notification);

// The annotations an alert carries to Alertmanager and webhooks:
//   title (rule title), summary (one line: what happened, by whom, where),
//   origin, rule_tags (comma-separated), event_kind, event_time (RFC 3339),
//   and when the event has them: image, command_line, user, uid, pid,
//   job_id, job_user, job_account, destination (ip:port), path;
// then `notification.annotations` (a threshold rule's summary/description),
// which override the ones above. Empty values are left out.
std::map<std::string, std::string> alert_annotations(const AlertNotification& notification);

// One postableAlert: {"labels","annotations","startsAt","endsAt","generatorURL"}.
// `active_until_ns` is the endsAt of an alert without an end; generatorURL is
// `generator_url` + "/api/v1/alerts?host=<host>" when generator_url is not empty.
nlohmann::json postable_alert(const AlertNotification& notification, uint64_t active_until_ns,
                              const std::string& generator_url);

// Delivery counters, also exported as Prometheus metrics.
struct AlertmanagerStats {
  uint64_t sent_total = 0;     // alerts accepted (2xx), summed over Alertmanagers
  uint64_t failed_total = 0;   // POSTs that failed (transport error or non-2xx)
  uint64_t dropped_total = 0;  // notifications lost: queue full, max_active reached, stopped
  uint64_t queue_length = 0;
  uint64_t active_alerts = 0;  // alerts kept for re-sending
};

// Thread-safe AlertSink. deliver() only queues; one sender thread POSTs
// (delivery::SendWorker).
// Metrics (on the registry given to the constructor):
//   vigie_collector_alertmanager_alerts_sent_total{alertmanager}
//   vigie_collector_alertmanager_requests_failed_total{alertmanager}
//   vigie_collector_alertmanager_alerts_dropped_total{reason="queue_full"|"max_active"|"stopped"}
//   vigie_collector_alertmanager_queue_length, vigie_collector_alertmanager_active_alerts
class AlertmanagerClient : public AlertSink {
 public:
  // Throws std::invalid_argument on a bad URL or no URL.
  explicit AlertmanagerClient(AlertmanagerOptions options,
                              prometheus::Registry* registry = nullptr);
  // Stops the sender (an in-flight POST finishes first); notifications still
  // queued are dropped (reason stopped).
  ~AlertmanagerClient() override;
  AlertmanagerClient(const AlertmanagerClient&) = delete;
  AlertmanagerClient& operator=(const AlertmanagerClient&) = delete;

  void deliver(const AlertNotification& notification) override;

  AlertmanagerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigie::collector
