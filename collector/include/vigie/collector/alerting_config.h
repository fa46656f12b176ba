// Configuration of the collector's alerting: the `rules:` (correlation and
// threshold/absence rules), `alerts:` (routing: TLP default, site),
// `alertmanager:` and `webhooks:` sections of deploy/config/vigie-collector.yaml.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "vigie/collector/alert_router.h"
#include "vigie/collector/alertmanager.h"
#include "vigie/collector/correlation.h"
#include "vigie/collector/webhook.h"

namespace YAML {
class Node;
}

namespace vigie::collector {

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
