#include "alerting/alertmanager.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <optional>
#include <set>
#include <stdexcept>

#include "alerting/alert_router.h"
#include "http_url.h"
#include "json.h"
#include "vigie/delivery/retry.h"
#include "vigie/delivery/send_worker.h"
#include "vigie/protocol/http_client.h"

namespace vigie::collector {

std::string rfc3339(uint64_t ns) {
  const auto seconds = static_cast<std::time_t>(ns / 1'000'000'000ull);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[48];
  const std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  char fraction[16];
  std::snprintf(fraction, sizeof fraction, ".%09lluZ",
                static_cast<unsigned long long>(ns % 1'000'000'000ull));
  return std::string(buffer, n) + fraction;
}

namespace {

std::string event_summary(const protocol::Event& e, const std::string& kind) {
  std::string what;
  std::visit(
      [&what, &kind](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, protocol::ProcessExec> ||
                      std::is_same_v<T, protocol::FilelessExec>) {
          what = kind + " " + (body.command_line.empty() ? body.image : body.command_line);
        } else if constexpr (std::is_base_of_v<protocol::NetworkFlow, T>) {
          what = kind + " " + body.destination_ip + ":" + std::to_string(body.destination_port);
          if (!body.image.empty()) what += " by " + body.image;
        } else if constexpr (std::is_same_v<T, protocol::FileOpen>) {
          what = kind + " " + body.path;
          if (!body.image.empty()) what += " by " + body.image;
        } else {
          what = kind;
          if (!body.image.empty()) what += " by " + body.image;
        }
      },
      e.body);
  if (!e.user.empty()) what += ", user " + e.user;
  what += " (uid " + std::to_string(e.uid) + ", pid " + std::to_string(e.pid) + ")";
  if (e.workload.kind == protocol::WorkloadKind::kSlurmJob) what += ", job " + e.workload.id;
  if (!e.host.empty()) what += " on " + e.host;
  return what;
}

}  // namespace

bool has_event(const AlertNotification& n) {
  return n.alert.event.time_ns != 0 && n.alert.rule_id.rfind("threshold:", 0) != 0;
}

std::map<std::string, std::string> alert_annotations(const AlertNotification& n) {
  std::map<std::string, std::string> out;
  auto set = [&out](const std::string& name, const std::string& value) {
    if (!value.empty()) out[name] = value;
  };
  const protocol::Alert& alert = n.alert;
  const protocol::Event& e = alert.event;
  set("title", alert.rule_title);
  set("origin", n.origin);
  std::string tags;
  for (const std::string& tag : alert.tags) tags += (tags.empty() ? "" : ",") + tag;
  set("rule_tags", tags);
  if (has_event(n)) {
    const std::string kind(protocol::to_string(e.kind()));
    set("summary", event_summary(e, kind));
    set("event_kind", kind);
    set("event_time", rfc3339(e.time_ns));
    set("image", event_image(e));
    set("command_line", event_command_line(e));
    set("user", e.user);
    set("uid", std::to_string(e.uid));
    set("pid", std::to_string(e.pid));
    if (e.workload.kind == protocol::WorkloadKind::kSlurmJob) {
      set("job_id", e.workload.id);
      set("job_user", e.workload.user);
      set("job_account", e.workload.account);
    }
    std::visit(
        [&set](const auto& body) {
          using T = std::decay_t<decltype(body)>;
          if constexpr (std::is_base_of_v<protocol::NetworkFlow, T>) {
            if (!body.destination_ip.empty())
              set("destination", body.destination_ip + ":" + std::to_string(body.destination_port));
          } else if constexpr (std::is_same_v<T, protocol::FileOpen>) {
            set("path", body.path);
          }
        },
        e.body);
  }
  for (const auto& [name, value] : n.annotations) set(name, value);
  return out;
}

nlohmann::json postable_alert(const AlertNotification& n, uint64_t active_until_ns,
                              const std::string& generator_url) {
  nlohmann::json alert;
  alert["labels"] = alert_labels(n);
  alert["annotations"] = alert_annotations(n);
  alert["startsAt"] = rfc3339(n.starts_ns);
  alert["endsAt"] = rfc3339(n.ends_ns != 0 ? n.ends_ns : std::max(active_until_ns, n.starts_ns));
  if (!generator_url.empty()) {
    std::string url = generator_url;
    while (!url.empty() && url.back() == '/') url.pop_back();
    url += "/api/v1/alerts";
    if (!n.host.empty()) url += "?host=" + n.host;
    alert["generatorURL"] = url;
  }
  return alert;
}

namespace {

uint64_t now_ns() { return protocol::wall_clock_ns(); }

uint64_t to_ns(std::chrono::milliseconds d) { return static_cast<uint64_t>(d.count()) * 1'000'000; }

struct Target {
  std::string url;
  protocol::Endpoint endpoint;
  std::string path;             // "/prefix/api/v2/alerts"
  std::set<std::string> dirty;  // fingerprints not yet accepted since they changed
  uint64_t next_resend_ns = 0;  // full re-send of every kept alert
  uint64_t retry_at_ns = 0;     // backing off until then
  std::optional<delivery::Backoff> backoff;
  prometheus::Counter* sent = nullptr;
  prometheus::Counter* failed = nullptr;
};

}  // namespace

struct AlertmanagerClient::Impl {
  AlertmanagerOptions options;
  std::vector<Target> targets;  // sender thread only

  std::map<std::string, AlertNotification> kept;  // by fingerprint; sender thread only

  std::atomic<uint64_t> sent_total{0}, failed_total{0}, dropped_total{0}, queue_length{0},
      active_alerts{0};
  prometheus::Counter* dropped_queue = nullptr;
  prometheus::Counter* dropped_active = nullptr;
  prometheus::Counter* dropped_stopped = nullptr;
  prometheus::Gauge* queue_gauge = nullptr;
  prometheus::Gauge* active_gauge = nullptr;

  // Notifications waiting for the sender, at most queue_size (a new one
  // beyond is dropped, reason queue_full).
  delivery::SendWorker<AlertNotification> worker;

  explicit Impl(AlertmanagerOptions o)
      : options(std::move(o)),
        worker(
            {.max_items = options.queue_size}, {},
            [this](const AlertNotification&, std::string_view reason) {
              drop(reason == delivery::kDropQueueFull ? dropped_queue : dropped_stopped);
            },
            [this](const delivery::QueueSize& size) {
              queue_length = size.items;
              if (queue_gauge) queue_gauge->Set(static_cast<double>(size.items));
            }) {}

  void drop(prometheus::Counter* counter) {
    ++dropped_total;
    if (counter) counter->Increment();
  }

  // Merges a notification into `kept`, evicting (and counting) one when full.
  void keep(AlertNotification n) {
    auto it = kept.find(n.fingerprint);
    if (it == kept.end()) {
      if (kept.size() >= options.max_active) {
        // Evict the resolved alert that ended first, else the oldest active one.
        auto victim = std::min_element(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
          const bool ra = a.second.ends_ns != 0, rb = b.second.ends_ns != 0;
          if (ra != rb) return ra;
          return ra ? a.second.ends_ns < b.second.ends_ns : a.second.starts_ns < b.second.starts_ns;
        });
        kept.erase(victim);
        drop(dropped_active);
      }
      kept.emplace(n.fingerprint, std::move(n));
      return;
    }
    AlertNotification& old = it->second;
    const bool old_active = old.ends_ns == 0 || old.ends_ns >= n.starts_ns;
    const uint64_t starts = old_active ? std::min(old.starts_ns, n.starts_ns) : n.starts_ns;
    uint64_t ends = n.ends_ns;
    if (n.ends_ns != 0 && old.ends_ns != 0 && old_active) ends = std::max(old.ends_ns, n.ends_ns);
    old = std::move(n);
    old.starts_ns = starts;
    old.ends_ns = ends;
  }

  // POSTs `alerts` in chunks; the answer of the first chunk that failed, or
  // nullopt when every chunk was accepted.
  std::optional<protocol::HttpResponse> post(Target& target,
                                             const std::vector<const AlertNotification*>& alerts,
                                             uint64_t now) {
    const uint64_t active_until = now + 4 * to_ns(options.resend_interval);
    for (std::size_t first = 0; first < alerts.size(); first += options.max_alerts_per_post) {
      const std::size_t last = std::min(alerts.size(), first + options.max_alerts_per_post);
      nlohmann::json body = nlohmann::json::array();
      for (std::size_t i = first; i < last; ++i)
        body.push_back(postable_alert(*alerts[i], active_until, options.generator_url));
      protocol::HttpRequest request;
      request.method = "POST";
      request.target = target.path;
      request.headers = {{"Content-Type", "application/json"}};
      request.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      const protocol::HttpResponse response =
          protocol::send(target.endpoint, request, options.timeout, 1u << 20);
      if (delivery::classify(response) != delivery::Outcome::kDelivered) {
        ++failed_total;
        if (target.failed) target.failed->Increment();
        spdlog::warn("alertmanager {}: POST {} failed: {}", target.url, target.path,
                     response.status == 0
                         ? response.error
                         : std::to_string(response.status) + " " + response.body.substr(0, 200));
        return response;
      }
      sent_total += last - first;
      if (target.sent) target.sent->Increment(static_cast<double>(last - first));
    }
    return std::nullopt;
  }

  // Every notification is merged into `kept`; each Alertmanager gets the
  // changed alerts at once and every kept alert each resend_interval. A POST
  // that failed is retried after its target's backoff when delivery::classify
  // says so (no answer, 429, 5xx); one refused (another 4xx) is counted and
  // not retried before the next full re-send.
  void run() {
    while (true) {
      uint64_t now = now_ns();
      uint64_t deadline = UINT64_MAX;
      for (const Target& t : targets) {
        const uint64_t next =
            t.dirty.empty() ? std::max(t.next_resend_ns, t.retry_at_ns) : t.retry_at_ns;
        deadline = std::min(deadline, next);
      }
      const auto wait = std::chrono::nanoseconds(
          deadline > now ? std::min<uint64_t>(deadline - now, 3'600'000'000'000ull) : 0);
      std::vector<AlertNotification> batch = worker.take(std::chrono::steady_clock::now() + wait);
      if (worker.stopping()) return;

      for (AlertNotification& n : batch) {
        for (Target& t : targets) t.dirty.insert(n.fingerprint);
        keep(std::move(n));
      }
      now = now_ns();
      const uint64_t retention = to_ns(options.resolved_retention);
      for (auto it = kept.begin(); it != kept.end();) {
        const uint64_t ends = it->second.ends_ns;
        if (ends != 0 && ends + retention < now) {
          it = kept.erase(it);
        } else {
          ++it;
        }
      }
      active_alerts = kept.size();
      if (active_gauge) active_gauge->Set(static_cast<double>(kept.size()));

      for (Target& t : targets) {
        if (now < t.retry_at_ns) continue;
        const bool full = now >= t.next_resend_ns;
        if (!full && t.dirty.empty()) continue;
        std::vector<const AlertNotification*> alerts;
        if (full) {
          for (const auto& [fp, n] : kept) alerts.push_back(&n);
        } else {
          for (const std::string& fp : t.dirty) {
            if (auto it = kept.find(fp); it != kept.end()) alerts.push_back(&it->second);
          }
        }
        const std::optional<protocol::HttpResponse> failure =
            alerts.empty() ? std::nullopt : post(t, alerts, now);
        if (!failure || delivery::classify(*failure) == delivery::Outcome::kRejected) {
          t.dirty.clear();
          if (full) t.next_resend_ns = now + to_ns(options.resend_interval);
          t.backoff->reset();
          t.retry_at_ns = 0;
        } else {
          t.retry_at_ns = now_ns() + to_ns(t.backoff->next(*failure));
        }
      }
      worker.done();
    }
  }
};

AlertmanagerClient::AlertmanagerClient(AlertmanagerOptions options, prometheus::Registry* registry)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  if (impl_->options.urls.empty()) throw std::invalid_argument("alertmanager: no url");
  if (impl_->options.max_alerts_per_post == 0) impl_->options.max_alerts_per_post = 1;
  prometheus::Family<prometheus::Counter>* sent = nullptr;
  prometheus::Family<prometheus::Counter>* failed = nullptr;
  if (registry != nullptr) {
    sent = &prometheus::BuildCounter()
                .Name("vigie_collector_alertmanager_alerts_sent_total")
                .Help("Alerts accepted by an Alertmanager (POST /api/v2/alerts answered 2xx)")
                .Register(*registry);
    failed = &prometheus::BuildCounter()
                  .Name("vigie_collector_alertmanager_requests_failed_total")
                  .Help(
                      "POSTs to an Alertmanager that failed (transport error or non-2xx); "
                      "retried with backoff")
                  .Register(*registry);
    auto& dropped = prometheus::BuildCounter()
                        .Name("vigie_collector_alertmanager_alerts_dropped_total")
                        .Help("Alert notifications lost before delivery to Alertmanager, by reason")
                        .Register(*registry);
    impl_->dropped_queue = &dropped.Add({{"reason", "queue_full"}});
    impl_->dropped_active = &dropped.Add({{"reason", "max_active"}});
    impl_->dropped_stopped = &dropped.Add({{"reason", "stopped"}});
    impl_->queue_gauge = &prometheus::BuildGauge()
                              .Name("vigie_collector_alertmanager_queue_length")
                              .Help("Alert notifications waiting for the Alertmanager sender")
                              .Register(*registry)
                              .Add({});
    impl_->active_gauge = &prometheus::BuildGauge()
                               .Name("vigie_collector_alertmanager_active_alerts")
                               .Help(
                                   "Alerts kept and re-sent to Alertmanager (active, or "
                                   "resolved less than resolved_retention ago)")
                               .Register(*registry)
                               .Add({});
    prometheus::BuildGauge()
        .Name("vigie_collector_alertmanager_queue_length_limit")
        .Help("Alert notifications allowed to wait for the Alertmanager sender (queue_size)")
        .Register(*registry)
        .Add({})
        .Set(static_cast<double>(impl_->options.queue_size));
    prometheus::BuildGauge()
        .Name("vigie_collector_alertmanager_active_alerts_limit")
        .Help("Alerts kept for re-sending to Alertmanager (max_active)")
        .Register(*registry)
        .Add({})
        .Set(static_cast<double>(impl_->options.max_active));
  }
  for (const std::string& url : impl_->options.urls) {
    Target target;
    target.url = url;
    auto parsed = parse_http_url(url, {.ca_file = impl_->options.tls_ca_file});
    if (!parsed) throw std::invalid_argument("alertmanager: " + parsed.error());
    target.endpoint = std::move(parsed->endpoint);
    target.path = std::move(parsed->path);
    while (!target.path.empty() && target.path.back() == '/') target.path.pop_back();
    target.path += "/api/v2/alerts";
    if (sent) target.sent = &sent->Add({{"alertmanager", url}});
    if (failed) target.failed = &failed->Add({{"alertmanager", url}});
    target.backoff.emplace(
        delivery::BackoffPolicy{impl_->options.initial_backoff, impl_->options.max_backoff});
    impl_->targets.push_back(std::move(target));
  }
  impl_->worker.start([impl = impl_.get()] { impl->run(); });
}

AlertmanagerClient::~AlertmanagerClient() {
  impl_->worker.drop_all(impl_->worker.stop(std::chrono::milliseconds(0)), delivery::kDropStopped);
}

void AlertmanagerClient::deliver(const AlertNotification& notification) {
  impl_->worker.push(notification);
}

AlertmanagerStats AlertmanagerClient::stats() const {
  return {impl_->sent_total.load(), impl_->failed_total.load(), impl_->dropped_total.load(),
          impl_->queue_length.load(), impl_->active_alerts.load()};
}

}  // namespace vigie::collector
