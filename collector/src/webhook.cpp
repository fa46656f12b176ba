#include "vigie/collector/webhook.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "http_url.h"
#include "vigie/collector/alert_router.h"
#include "vigie/collector/alertmanager.h"
#include "vigie/collector/json.h"
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

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<AlertNotification> queue;
  bool stopping = false;

  std::atomic<uint64_t> delivered{0}, rejected{0}, gave_up{0}, dropped{0}, failed_attempts{0},
      queue_length{0};
  prometheus::Counter* delivered_counter = nullptr;
  prometheus::Counter* rejected_counter = nullptr;
  prometheus::Counter* gave_up_counter = nullptr;
  prometheus::Counter* dropped_counter = nullptr;
  prometheus::Counter* failed_counter = nullptr;
  prometheus::Gauge* queue_gauge = nullptr;
  std::thread sender;

  static void bump(std::atomic<uint64_t>& value, prometheus::Counter* counter) {
    ++value;
    if (counter) counter->Increment();
  }

  void set_queue_length(std::size_t n) {
    queue_length = n;
    if (queue_gauge) queue_gauge->Set(static_cast<double>(n));
  }

  // Sleeps up to `delay`; false when stopping.
  bool pause(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex);
    return !wake.wait_for(lock, delay, [this] { return stopping; });
  }

  void send_one(const AlertNotification& n) {
    std::chrono::milliseconds backoff = options.initial_backoff;
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
      if (response.ok()) {
        bump(delivered, delivered_counter);
        return;
      }
      bump(failed_attempts, failed_counter);
      const bool retryable =
          response.status == 0 || response.status == 429 || response.status >= 500;
      const std::string why =
          response.status == 0 ? response.error : std::to_string(response.status);
      if (!retryable) {
        spdlog::warn("webhook {}: alert {} refused ({}), not retried", options.name, n.fingerprint,
                     why);
        bump(rejected, rejected_counter);
        return;
      }
      if (attempt >= options.max_attempts) {
        spdlog::warn("webhook {}: alert {} given up after {} attempts ({})", options.name,
                     n.fingerprint, attempt, why);
        bump(gave_up, gave_up_counter);
        return;
      }
      if (!pause(backoff)) return;
      backoff = std::min(options.max_backoff, backoff * 2);
    }
  }

  void run() {
    while (true) {
      AlertNotification n;
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [this] { return stopping || !queue.empty(); });
        if (stopping) return;
        n = std::move(queue.front());
        queue.pop_front();
        set_queue_length(queue.size());
      }
      send_one(n);
    }
  }
};

WebhookSink::WebhookSink(WebhookOptions options, prometheus::Registry* registry)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  std::string error, path;
  impl_->endpoint.tls.ca_file = impl_->options.tls_ca_file;
  if (!parse_http_url(impl_->options.url, impl_->endpoint, path, error))
    throw std::invalid_argument("webhook: " + error);
  impl_->target = path.empty() ? "/" : path;
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
  impl_->sender = std::thread([impl = impl_.get()] { impl->run(); });
}

WebhookSink::~WebhookSink() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->sender.join();
}

void WebhookSink::deliver(const AlertNotification& notification) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->queue.size() >= impl_->options.queue_size) {
      Impl::bump(impl_->dropped, impl_->dropped_counter);
      return;
    }
    impl_->queue.push_back(notification);
    impl_->set_queue_length(impl_->queue.size());
  }
  impl_->wake.notify_one();
}

WebhookStats WebhookSink::stats() const {
  return {impl_->delivered.load(), impl_->rejected.load(),        impl_->gave_up.load(),
          impl_->dropped.load(),   impl_->failed_attempts.load(), impl_->queue_length.load()};
}

}  // namespace vigie::collector
