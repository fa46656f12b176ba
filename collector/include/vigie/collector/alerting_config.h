// Configuration of the collector's alerting: the `rules:` (correlation and
// threshold/absence rules), `alerts:` (routing: TLP default, site),
// `alertmanager:` and `webhooks:` sections of deploy/config/vigie-collector.yaml.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vigie/collector/pipeline.h"
#include "vigie/rules/rule_set.h"

namespace YAML {
class Node;
}

namespace vigie::collector {

// The alert router (alerting/alert_router.h).
struct AlertRouterOptions {
  std::string site;                           // site of collector-raised alerts
  Tlp default_tlp = Tlp::kAmber;              // for rules without a tlp.* tag
  uint64_t agent_alert_ns = 300'000'000'000;  // how long an agent detection stays active (5 min)
};

// Collector-side correlation and threshold rules (alerting/correlation.h).
struct CorrelationOptions {
  rules::RuleSources sources;  // Sigma detection + correlation rules, IOC lists
  std::vector<std::filesystem::path> threshold_paths;  // files of `threshold_rules:`
  std::chrono::milliseconds evaluation_interval{std::chrono::seconds(15)};
  std::chrono::milliseconds reload_interval{std::chrono::seconds(30)};  // 0: never reload
  std::size_t queue_batches = 4096;  // batches waiting; more are dropped (counted)
  std::size_t max_groups = 100'000;  // correlation windows (Correlator)
  std::size_t max_series = 100'000;  // threshold series (ThresholdEvaluator)
  bool start_thread = true;          // false: the caller drives run_once() (tests)
};

// Prometheus Alertmanager (alerting/alertmanager.h).
struct AlertmanagerOptions {
  // Every Alertmanager of the cluster, "http://host:9093" (a path prefix is
  // kept: "http://host/alertmanager"); alerts go to each of them.
  std::vector<std::string> urls;
  std::chrono::milliseconds resend_interval{std::chrono::minutes(1)};
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};  // per POST
  // Backoff after a failed POST to one Alertmanager (delivery::BackoffPolicy:
  // full jitter, at least its Retry-After, up to max).
  std::chrono::milliseconds initial_backoff{std::chrono::seconds(1)};
  std::chrono::milliseconds max_backoff{std::chrono::minutes(1)};
  std::chrono::milliseconds resolved_retention{std::chrono::minutes(15)};
  std::size_t queue_size = 10'000;  // notifications waiting for the sender
  std::size_t max_active = 50'000;  // alerts kept for re-sending
  std::size_t max_alerts_per_post = 500;
  std::string generator_url;  // the collector's external URL; empty: no generatorURL
  std::string tls_ca_file;    // https: PEM CA bundle (default: the system store)
};

// One webhook (alerting/webhook.h).
struct WebhookOptions {
  std::string url;          // "http[s]://host:port/path?query"
  std::string name;         // `webhook` label of its metrics; default: host:port/path
  std::string hmac_secret;  // empty: unsigned
  std::string signature_header = "X-Vigie-Signature-256";
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};  // per POST
  std::size_t queue_size = 10'000;
  unsigned max_attempts = 5;  // per notification, then given up (counted)
  std::chrono::milliseconds initial_backoff{std::chrono::seconds(1)};
  std::chrono::milliseconds max_backoff{std::chrono::minutes(1)};
  std::string tls_ca_file;  // https: PEM CA bundle (default: the system store)
};

struct AlertingConfig {
  std::optional<CorrelationOptions> rules;          // unset: no collector-side rules
  AlertRouterOptions alerts;                        // site empty: federation.site
  std::optional<AlertmanagerOptions> alertmanager;  // unset: no Alertmanager
  std::vector<WebhookOptions> webhooks;
};

// Parses those four sections of `root` (the whole YAML document of file
// `path`; absent sections keep their defaults) and reads the webhooks'
// hmac_secret_file. Throws std::runtime_error naming the file, line and key
// on any error; unknown keys are errors.
AlertingConfig parse_alerting_config(const std::string& path, const YAML::Node& root);

}  // namespace vigie::collector
