#include "alerting/webhook.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <optional>
#include <stdexcept>

#include "alerting/alert_router.h"
#include "alerting/alertmanager.h"
#include "http_url.h"
#include "json.h"
#include "vigie/delivery/retry.h"
#include "vigie/delivery/send_worker.h"
#include "vigie/protocol/http_client.h"

namespace vigie::collector {

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest,
           &size) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed in OpenSSL");
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    hex += kDigits[digest[i] >> 4];
    hex += kDigits[digest[i] & 0xf];
  }
  return hex;
}

nlohmann::json webhook_payload(const AlertNotification& n, uint64_t now_ns) {
  const bool resolved = n.ends_ns != 0 && n.ends_ns <= now_ns;
  nlohmann::json body;
  body["version"] = "vigie.alert.v1";
  body["status"] = resolved ? "resolved" : "firing";
  body["origin"] = n.origin;
  body["fingerprint"] = n.fingerprint;
  body["site"] = n.site;
  body["host"] = n.host;
  body["tlp"] = std::string(to_string(n.tlp));
  body["labels"] = alert_labels(n);
  body["annotations"] = alert_annotations(n);
  body["startsAt"] = rfc3339(n.starts_ns);
  body["endsAt"] = n.ends_ns != 0 ? nlohmann::json(rfc3339(n.ends_ns)) : nlohmann::json(nullptr);
  body["sentAt"] = rfc3339(now_ns);
  body["rule"] = {{"id", n.alert.rule_id},
                  {"title", n.alert.rule_title},
                  {"level", n.alert.level},
                  {"tags", n.alert.tags}};
  body["event"] = has_event(n) ? to_json(n.alert.event) : nlohmann::json(nullptr);
  return body;
}

struct WebhookSink::Impl {
  WebhookOptions options;
  protocol::Endpoint endpoint;
  std::string target;

  std::atomic<uint64_t> delivered{0}, rejected{0}, gave_up{0}, dropped{0}, failed_attempts{0},
      queue_length{0};
  prometheus::Counter* delivered_counter = nullptr;
  prometheus::Counter* rejected_counter = nullptr;
  prometheus::Counter* gave_up_counter = nullptr;
  prometheus::Counter* dropped_counter = nullptr;
  prometheus::Counter* stopped_counter = nullptr;
  prometheus::Counter* failed_counter = nullptr;
  prometheus::Gauge* queue_gauge = nullptr;

  // Notifications waiting, at most queue_size: a new one beyond is dropped
  // (queue_full), the queued ones keep their order.
  delivery::SendWorker<AlertNotification> worker;

  explicit Impl(WebhookOptions o)
      : options(std::move(o)),
        worker(
            {.max_items = options.queue_size}, {},
            [this](const AlertNotification&, std::string_view reason) {
              if (reason == delivery::kDropQueueFull) {
                bump(dropped, dropped_counter);
              } else if (stopped_counter) {
                stopped_counter->Increment();
              }
            },
            [this](const delivery::QueueSize& size) {
              queue_length = size.items;
              if (queue_gauge) queue_gauge->Set(static_cast<double>(size.items));
            }) {}

  static void bump(std::atomic<uint64_t>& value, prometheus::Counter* counter) {
    ++value;
    if (counter) counter->Increment();
  }

  // Sends one notification until delivered, refused or max_attempts failed;
  // false when the sink stops during a backoff.
  bool send_one(const AlertNotification& n) {
    delivery::Backoff backoff({options.initial_backoff, options.max_backoff});
    for (unsigned attempt = 1;; ++attempt) {
      protocol::HttpRequest request;
      request.method = "POST";
      request.target = target;
      request.body = webhook_payload(n, protocol::wall_clock_ns())
                         .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      request.headers = {{"Content-Type", "application/json"}};
      if (!options.hmac_secret.empty())
        request.headers.emplace_back(
            options.signature_header,
            "sha256=" + hmac_sha256_hex(options.hmac_secret, request.body));
      const protocol::HttpResponse response =
          protocol::send(endpoint, request, options.timeout, 1u << 20);
      const delivery::Outcome outcome = delivery::classify(response);
      if (outcome == delivery::Outcome::kDelivered) {
        bump(delivered, delivered_counter);
        return true;
      }
      bump(failed_attempts, failed_counter);
      const std::string why =
          response.status == 0 ? response.error : std::to_string(response.status);
      if (outcome == delivery::Outcome::kRejected) {
        spdlog::warn("webhook {}: alert {} refused ({}), not retried", options.name, n.fingerprint,
                     why);
        bump(rejected, rejected_counter);
        return true;
      }
      if (attempt >= options.max_attempts) {
        spdlog::warn("webhook {}: alert {} given up after {} attempts ({})", options.name,
                     n.fingerprint, attempt, why);
        bump(gave_up, gave_up_counter);
        return true;
      }
      if (!worker.pause(backoff.next(response))) {
        if (stopped_counter) stopped_counter->Increment();
        return false;
      }
    }
  }

  void run() {
    while (std::optional<AlertNotification> n = worker.take_one()) {
      if (!send_one(*n)) return;
      worker.done();
    }
  }
};

WebhookSink::WebhookSink(WebhookOptions options, prometheus::Registry* registry)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  auto url = parse_http_url(impl_->options.url, {.ca_file = impl_->options.tls_ca_file});
  if (!url) throw std::invalid_argument("webhook: " + url.error());
  impl_->endpoint = std::move(url->endpoint);
  impl_->target = url->path.empty() ? "/" : url->path;
  if (impl_->options.name.empty()) {
    // host:port/path without the query, which may hold a token.
    impl_->options.name = impl_->endpoint.host + ":" + impl_->endpoint.port +
                          impl_->target.substr(0, impl_->target.find('?'));
  }
  if (impl_->options.max_attempts == 0) impl_->options.max_attempts = 1;
  if (registry != nullptr) {
    const std::string& name = impl_->options.name;
    auto& notifications = prometheus::BuildCounter()
                              .Name("vigie_collector_webhook_notifications_total")
                              .Help("Alert notifications handled by a webhook, by result")
                              .Register(*registry);
    impl_->delivered_counter = &notifications.Add({{"webhook", name}, {"result", "delivered"}});
    impl_->rejected_counter = &notifications.Add({{"webhook", name}, {"result", "rejected"}});
    impl_->gave_up_counter = &notifications.Add({{"webhook", name}, {"result", "gave_up"}});
    impl_->dropped_counter = &notifications.Add({{"webhook", name}, {"result", "queue_full"}});
    impl_->stopped_counter = &notifications.Add({{"webhook", name}, {"result", "stopped"}});
    impl_->failed_counter = &prometheus::BuildCounter()
                                 .Name("vigie_collector_webhook_failed_attempts_total")
                                 .Help("Webhook POSTs that failed (transport error or non-2xx)")
                                 .Register(*registry)
                                 .Add({{"webhook", name}});
    impl_->queue_gauge = &prometheus::BuildGauge()
                              .Name("vigie_collector_webhook_queue_length")
                              .Help("Alert notifications waiting for a webhook's sender")
                              .Register(*registry)
                              .Add({{"webhook", name}});
    prometheus::BuildGauge()
        .Name("vigie_collector_webhook_queue_length_limit")
        .Help("Alert notifications allowed to wait for a webhook's sender (queue_size)")
        .Register(*registry)
        .Add({{"webhook", name}})
        .Set(static_cast<double>(impl_->options.queue_size));
  }
  impl_->worker.start([impl = impl_.get()] { impl->run(); });
}

WebhookSink::~WebhookSink() {
  impl_->worker.drop_all(impl_->worker.stop(std::chrono::milliseconds(0)), delivery::kDropStopped);
}

void WebhookSink::deliver(const AlertNotification& notification) {
  impl_->worker.push(notification);
}

WebhookStats WebhookSink::stats() const {
  return {impl_->delivered.load(), impl_->rejected.load(),        impl_->gave_up.load(),
          impl_->dropped.load(),   impl_->failed_attempts.load(), impl_->queue_length.load()};
}

}  // namespace vigie::collector
