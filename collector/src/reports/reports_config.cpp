#include "vigie/collector/reports_config.h"

#include <yaml-cpp/yaml.h>

#include "vigie/config/yaml.h"

namespace vigie::collector {

using ::vigie::config::check_keys;
using ::vigie::config::fail;
using ::vigie::config::scalar;

ReportsConfig parse_reports_config(const std::string& path, const YAML::Node& node) {
  ReportsConfig out;
  if (!node.IsDefined() || node.IsNull()) return out;
  check_keys(path, node, "reports.",
             {"projects", "grid_basis", "embodied", "metrics_interval_seconds"});
  if (const auto interval = node["metrics_interval_seconds"]) {
    const auto seconds = scalar<int64_t>(path, interval, "reports.metrics_interval_seconds");
    if (seconds < 0 || seconds > 86400)
      fail(path, interval, "'reports.metrics_interval_seconds' must be in [0, 86400]");
    out.metrics_interval = std::chrono::seconds(seconds);
  }
  if (const auto projects = node["projects"]) {
    if (!projects.IsMap()) fail(path, projects, "'reports.projects' must map accounts to projects");
    for (const auto& entry : projects) {
      const auto account = entry.first.as<std::string>();
      out.projects[account] =
          scalar<std::string>(path, entry.second, "reports.projects." + account);
    }
  }
  if (const auto basis = node["grid_basis"]) {
    out.grid_basis = scalar<std::string>(path, basis, "reports.grid_basis");
    if (out.grid_basis != "direct" && out.grid_basis != "life-cycle")
      fail(path, basis, "'reports.grid_basis' must be direct or life-cycle");
  }
  if (const auto embodied = node["embodied"]) {
    check_keys(path, embodied, "reports.embodied.",
               {"server_kgco2e", "lifetime_years", "cores_per_server"});
    const auto positive = [&](const char* key, double& into) {
      if (const auto value = embodied[key]) {
        into = scalar<double>(path, value, std::string("reports.embodied.") + key);
        if (!(into > 0))
          fail(path, value, std::string("'reports.embodied.") + key + "' must be > 0");
      }
    };
    positive("server_kgco2e", out.embodied.server_kgco2e);
    positive("lifetime_years", out.embodied.lifetime_years);
    positive("cores_per_server", out.embodied.cores_per_server);
  }
  return out;
}

}  // namespace vigie::collector
