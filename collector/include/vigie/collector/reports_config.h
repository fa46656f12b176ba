// The `reports:` section: how the sustainability reports (collector/src/reports/)
// group and charge communities. Every key is optional:
//
//   reports:
//     projects:                  # Slurm account -> project, for group_by=project
//       astro-lab: astrophysics
//       astro-hpc: astrophysics
//     grid_basis: life-cycle     # which imported grid series CUE and carbon use
//     metrics_interval_seconds: 3600  # year-to-date gauges in /metrics; 0: none
//     embodied:                  # the servers' manufacturing footprint
//       server_kgco2e: 1500      # per server (Boavizta, or the vendor's PCF sheet)
//       lifetime_years: 4
//       cores_per_server: 64
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "vigie/sustainability/communities.h"

namespace YAML {
class Node;
}

namespace vigie::collector {

struct ReportsConfig {
  // Accounts not listed are their own project.
  std::map<std::string, std::string, std::less<>> projects;
  std::string grid_basis = "life-cycle";  // "direct" or "life-cycle"
  // How often the year-to-date gauges (reports/report_metrics.h) are
  // recomputed; 0: never (no gauges). Each refresh builds every facility's
  // reports, seconds on a large site.
  std::chrono::seconds metrics_interval{3600};
  // Defaults as the agent's carbon model (power/carbon.h): 1 500 kgCO2e over
  // 4 years; 64 cores, a dual-socket node of 2 x 32 cores.
  sustainability::EmbodiedModel embodied{
      .server_kgco2e = 1500, .lifetime_years = 4, .cores_per_server = 64};
};

// Parses `reports:` (may be undefined) of the YAML file `path`; throws
// config::ConfigError naming the file, line and key.
ReportsConfig parse_reports_config(const std::string& path, const YAML::Node& node);

}  // namespace vigie::collector
