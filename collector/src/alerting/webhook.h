// Alert delivery to webhooks: one JSON POST per alert notification, optionally
// signed with HMAC-SHA256 (RFC 2104) in the way GitHub signs its webhooks
// (header value "sha256=<hex of HMAC-SHA256(secret, body)>"), bounded queue,
// retried with backoff (full jitter, Retry-After honoured) on transport
// errors, 429 and 5xx.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "vigie/collector/alerting_config.h"
#include "vigie/collector/pipeline.h"

namespace prometheus {
class Registry;
}

namespace vigie::collector {

// Lower-case hex of HMAC-SHA256(key, data) (OpenSSL), 64 characters.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// The body of one webhook POST:
//   {"version":"vigie.alert.v1","status":"firing"|"resolved","origin","fingerprint",
//    "site","host","tlp","labels":{…},"annotations":{…},"startsAt","endsAt" (RFC 3339,
//    null while active without an end),"sentAt","rule":{"id","title","level","tags":[]},
//    "event":{to_json(Event)} or null for threshold alerts}
// labels and annotations as for Alertmanager (alert_labels, alert_annotations).
// "resolved" once ends_ns is set and not after `now_ns`.
nlohmann::json webhook_payload(const AlertNotification& notification, uint64_t now_ns);

struct WebhookStats {
  uint64_t delivered_total = 0;
  uint64_t rejected_total = 0;  // answered 4xx (not 429): not retried
  uint64_t gave_up_total = 0;   // max_attempts failed
  uint64_t dropped_total = 0;   // queue full
  uint64_t failed_attempts_total = 0;
  uint64_t queue_length = 0;
};

// Thread-safe AlertSink; deliver() only queues, one sender thread POSTs in
// order (delivery::SendWorker), retried after delivery::classify with
// delivery::Backoff. Metrics (on the registry given to the constructor):
//   vigie_collector_webhook_notifications_total{webhook,result="delivered"|"rejected"|"gave_up"|"queue_full"|"stopped"}
//   vigie_collector_webhook_failed_attempts_total{webhook}
//   vigie_collector_webhook_queue_length{webhook}
class WebhookSink : public AlertSink {
 public:
  // Throws std::invalid_argument on a bad URL.
  explicit WebhookSink(WebhookOptions options, prometheus::Registry* registry = nullptr);
  ~WebhookSink() override;  // stops the sender; what is still queued is dropped (result stopped)
  WebhookSink(const WebhookSink&) = delete;
  WebhookSink& operator=(const WebhookSink&) = delete;

  void deliver(const AlertNotification& notification) override;

  WebhookStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigie::collector
