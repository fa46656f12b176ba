#include "alerting/alert_router.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <cctype>

namespace vigie::collector {

Tlp tlp_from_tags(const std::vector<std::string>& tags, Tlp fallback) {
  for (const std::string& tag : tags) {
    if (tag.size() < 4) continue;
    const std::string prefix = tag.substr(0, 4);
    if (prefix != "tlp." && prefix != "TLP." && prefix != "Tlp.") continue;
    if (auto tlp = parse_tlp(tag)) return *tlp;
  }
  return fallback;
}

namespace {

// Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]* (Alertmanager refuses others).
std::string label_name(std::string_view name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out.front()))) out.insert(0, "_");
  return out;
}

}  // namespace

std::map<std::string, std::string> alert_labels(const AlertNotification& n) {
  std::map<std::string, std::string> labels;
  auto set = [&labels](const std::string& name, const std::string& value) {
    if (!value.empty()) labels.emplace(name, value);  // emplace: the first one wins
  };
  set("alertname", n.alert.rule_title.empty() ? n.alert.rule_id : n.alert.rule_title);
  set("rule_id", n.alert.rule_id);
  set("severity", n.alert.level);
  set("site", n.site);
  set("host", n.host);
  set("tlp", std::string(to_string(n.tlp)));
  for (const auto& [name, value] : n.labels) set(label_name(name), value);
  return labels;
}

std::string label_fingerprint(const std::map<std::string, std::string>& labels) {
  // prometheus/common model/fnv.go: FNV-1a 64 (offset 14695981039346656037, prime 1099511628211).
  uint64_t hash = 14695981039346656037ull;
  auto add = [&hash](std::string_view text) {
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ull;
    }
  };
  auto add_byte = [&hash](unsigned char c) {
    hash ^= c;
    hash *= 1099511628211ull;
  };
  for (const auto& [name, value] : labels) {  // std::map: sorted by name, as Prometheus sorts
    add(name);
    add_byte(0xff);
    add(value);
    add_byte(0xff);
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(16, '0');
  for (int i = 15; i >= 0; --i, hash >>= 4) hex[i] = kDigits[hash & 0xf];
  return hex;
}

AlertRouter::AlertRouter(AlertRouterOptions options) : options_(std::move(options)) {}
AlertRouter::~AlertRouter() = default;

void AlertRouter::add_sink(AlertSink& sink) {
  std::lock_guard lock(mutex_);
  sinks_.push_back(&sink);
}

void AlertRouter::route(AlertNotification notification, bool tlp_from_rule) {
  if (tlp_from_rule)
    notification.tlp = tlp_from_tags(notification.alert.tags, options_.default_tlp);
  notification.fingerprint = label_fingerprint(alert_labels(notification));
  std::vector<AlertSink*> sinks;
  {
    std::lock_guard lock(mutex_);
    sinks = sinks_;
  }
  for (AlertSink* sink : sinks) sink->deliver(notification);
  ++routed_total_;
  prometheus::Counter* counter = notification.origin == "agent"       ? routed_agent_.load()
                                 : notification.origin == "collector" ? routed_collector_.load()
                                                                      : routed_federation_.load();
  if (counter != nullptr) counter->Increment();
}

void AlertRouter::on_stored(const protocol::Batch& batch, uint64_t received_ns) {
  for (const protocol::Alert& alert : batch.alerts) {
    AlertNotification n;
    n.origin = "agent";
    n.site = batch.site;
    n.host = batch.host;
    n.alert = alert;
    // The event's time, unless the agent's clock is ahead of ours: Alertmanager
    // would otherwise hold an alert that starts in the future.
    n.starts_ns =
        alert.event.time_ns != 0 ? std::min(alert.event.time_ns, received_ns) : received_ns;
    n.ends_ns = n.starts_ns + options_.agent_alert_ns;
    route(std::move(n));
  }
}

void AlertRouter::register_metrics(prometheus::Registry& registry) {
  auto& family = prometheus::BuildCounter()
                     .Name("vigie_collector_alerts_routed_total")
                     .Help(
                         "Alerts handed to the alert sinks (Alertmanager, webhooks, federation), "
                         "by origin")
                     .Register(registry);
  routed_agent_ = &family.Add({{"origin", "agent"}});
  routed_collector_ = &family.Add({{"origin", "collector"}});
  routed_federation_ = &family.Add({{"origin", "federation"}});
}

}  // namespace vigie::collector
