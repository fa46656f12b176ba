#include "vigie/collector/alerting_config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "alerting/alert_router.h"
#include "http_url.h"
#include "vigie/config/yaml.h"

namespace vigie::collector {
namespace {

using ::vigie::config::check_keys;
using ::vigie::config::fail;
using ::vigie::config::scalar;

std::vector<std::string> strings(const std::string& path, const YAML::Node& node,
                                 const std::string& key) {
  if (!node.IsSequence()) fail(path, node, "'" + key + "' must be a list");
  std::vector<std::string> out;
  for (const auto& item : node) out.push_back(scalar<std::string>(path, item, key + "[]"));
  return out;
}

// A positive number of seconds (fractions allowed) as milliseconds.
std::chrono::milliseconds seconds(const std::string& path, const YAML::Node& node,
                                  const std::string& key, bool zero_ok = false) {
  const double value = scalar<double>(path, node, key);
  if (!(value > 0 || (zero_ok && value == 0)) || value > 1e7)
    fail(path, node, "'" + key + "' must be a number of seconds" + (zero_ok ? " >= 0" : " > 0"));
  return std::chrono::milliseconds(static_cast<int64_t>(value * 1000));
}

std::size_t positive(const std::string& path, const YAML::Node& node, const std::string& key) {
  const auto value = scalar<std::size_t>(path, node, key);
  if (value == 0) fail(path, node, "'" + key + "' must be > 0");
  return value;
}

void check_url(const std::string& path, const YAML::Node& node, const std::string& url) {
  if (const auto parsed = parse_http_url(url); !parsed) fail(path, node, parsed.error());
}

std::string secret_file(const std::string& path, const YAML::Node& node, const std::string& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) fail(path, node, "cannot read " + file);
  std::string secret = text.str();
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back())))
    secret.pop_back();
  if (secret.empty()) fail(path, node, file + " is empty");
  return secret;
}

CorrelationOptions parse_rules(const std::string& path, const YAML::Node& node) {
  check_keys(path, node, "rules.",
             {"paths", "ioc_lists", "threshold_paths", "evaluation_seconds", "reload_seconds",
              "queue_batches", "max_groups", "max_series"});
  CorrelationOptions o;
  if (node["paths"])
    for (const auto& p : strings(path, node["paths"], "rules.paths"))
      o.sources.rule_paths.push_back(p);
  if (const auto iocs = node["ioc_lists"]) {
    if (!iocs.IsMap()) fail(path, iocs, "'rules.ioc_lists' must map list names to files");
    for (const auto& entry : iocs)
      o.sources.iocs.push_back({entry.first.as<std::string>(),
                                scalar<std::string>(path, entry.second, "rules.ioc_lists")});
  }
  if (node["threshold_paths"])
    for (const auto& p : strings(path, node["threshold_paths"], "rules.threshold_paths"))
      o.threshold_paths.push_back(p);
  if (o.sources.rule_paths.empty() && o.threshold_paths.empty())
    fail(path, node, "'rules' needs paths or threshold_paths");
  if (node["evaluation_seconds"])
    o.evaluation_interval = seconds(path, node["evaluation_seconds"], "rules.evaluation_seconds");
  if (node["reload_seconds"])
    o.reload_interval = seconds(path, node["reload_seconds"], "rules.reload_seconds", true);
  if (node["queue_batches"])
    o.queue_batches = positive(path, node["queue_batches"], "rules.queue_batches");
  if (node["max_groups"]) o.max_groups = positive(path, node["max_groups"], "rules.max_groups");
  if (node["max_series"]) o.max_series = positive(path, node["max_series"], "rules.max_series");
  return o;
}

AlertRouterOptions parse_alerts(const std::string& path, const YAML::Node& node) {
  check_keys(path, node, "alerts.", {"site", "default_tlp", "agent_alert_seconds"});
  AlertRouterOptions o;
  if (node["site"]) o.site = scalar<std::string>(path, node["site"], "alerts.site");
  if (node["default_tlp"]) {
    const auto tlp =
        parse_tlp(scalar<std::string>(path, node["default_tlp"], "alerts.default_tlp"));
    if (!tlp)
      fail(path, node["default_tlp"],
           "'alerts.default_tlp' must be red, amber+strict, amber, green or clear");
    o.default_tlp = *tlp;
  }
  if (node["agent_alert_seconds"])
    o.agent_alert_ns =
        static_cast<uint64_t>(
            seconds(path, node["agent_alert_seconds"], "alerts.agent_alert_seconds").count()) *
        1'000'000;
  return o;
}

AlertmanagerOptions parse_alertmanager(const std::string& path, const YAML::Node& node) {
  check_keys(path, node, "alertmanager.",
             {"urls", "resend_seconds", "timeout_seconds", "queue_size", "max_active",
              "generator_url", "tls_ca_file"});
  AlertmanagerOptions o;
  if (!node["urls"]) fail(path, node, "'alertmanager.urls' is required");
  o.urls = strings(path, node["urls"], "alertmanager.urls");
  if (o.urls.empty()) fail(path, node["urls"], "'alertmanager.urls' is empty");
  for (const auto& url : o.urls) check_url(path, node["urls"], url);
  if (node["resend_seconds"])
    o.resend_interval = seconds(path, node["resend_seconds"], "alertmanager.resend_seconds");
  if (node["timeout_seconds"])
    o.timeout = seconds(path, node["timeout_seconds"], "alertmanager.timeout_seconds");
  if (node["queue_size"])
    o.queue_size = positive(path, node["queue_size"], "alertmanager.queue_size");
  if (node["max_active"])
    o.max_active = positive(path, node["max_active"], "alertmanager.max_active");
  if (node["generator_url"])
    o.generator_url =
        scalar<std::string>(path, node["generator_url"], "alertmanager.generator_url");
  if (node["tls_ca_file"])
    o.tls_ca_file = scalar<std::string>(path, node["tls_ca_file"], "alertmanager.tls_ca_file");
  return o;
}

WebhookOptions parse_webhook(const std::string& path, const YAML::Node& node) {
  const std::string c = "webhooks[].";
  check_keys(path, node, c,
             {"url", "name", "hmac_secret_file", "signature_header", "timeout_seconds",
              "queue_size", "max_attempts", "tls_ca_file"});
  WebhookOptions o;
  if (!node["url"]) fail(path, node, "'webhooks[].url' is required");
  o.url = scalar<std::string>(path, node["url"], c + "url");
  check_url(path, node["url"], o.url);
  if (node["name"]) o.name = scalar<std::string>(path, node["name"], c + "name");
  if (node["hmac_secret_file"])
    o.hmac_secret =
        secret_file(path, node["hmac_secret_file"],
                    scalar<std::string>(path, node["hmac_secret_file"], c + "hmac_secret_file"));
  if (node["signature_header"])
    o.signature_header =
        scalar<std::string>(path, node["signature_header"], c + "signature_header");
  if (node["timeout_seconds"])
    o.timeout = seconds(path, node["timeout_seconds"], c + "timeout_seconds");
  if (node["queue_size"]) o.queue_size = positive(path, node["queue_size"], c + "queue_size");
  if (node["max_attempts"])
    o.max_attempts =
        static_cast<unsigned>(positive(path, node["max_attempts"], c + "max_attempts"));
  if (node["tls_ca_file"])
    o.tls_ca_file = scalar<std::string>(path, node["tls_ca_file"], c + "tls_ca_file");
  return o;
}

}  // namespace

AlertingConfig parse_alerting_config(const std::string& path, const YAML::Node& root) {
  AlertingConfig config;
  if (!root.IsDefined() || !root.IsMap()) return config;
  if (const auto rules = root["rules"]) config.rules = parse_rules(path, rules);
  if (const auto alerts = root["alerts"]) config.alerts = parse_alerts(path, alerts);
  if (const auto am = root["alertmanager"]) config.alertmanager = parse_alertmanager(path, am);
  if (const auto webhooks = root["webhooks"]) {
    if (!webhooks.IsSequence()) fail(path, webhooks, "'webhooks' must be a list");
    for (const auto& entry : webhooks) config.webhooks.push_back(parse_webhook(path, entry));
  }
  return config;
}

}  // namespace vigie::collector
