// The `csirt:` section: incidents, the EGI SEC01 clocks and retro-hunts
// (collector/src/csirt/). Every key is optional:
//
//   csirt:
//     site: GRIF                    # prefix of incident ids; default alerts.site, else federation.site
//     check_interval_seconds: 60    # how often SEC01 clocks are checked for overdue steps
//     calendar:                     # working hours of EGI CSIRT requests (SEC01 step 5)
//       time_zone: Europe/Paris
//       hours: [9, 17]              # [start, end) local time
//       weekdays: [1, 2, 3, 4, 5]   # ISO, 1 = Monday
//       holidays: ["2026-12-25"]
//     retrohunt:
//       max_rows_per_indicator: 100000  # observables read per indicator; beyond: truncated
//       max_queued: 8                   # retro-hunts waiting; more get 429
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "vigie/csirt/sec01.h"

namespace YAML {
class Node;
}

namespace vigie::collector {

struct CsirtConfig {
  std::string site;  // empty: alerts.site, else federation.site, else "site"
  // 0 (not from a file): no SEC01 thread; the caller drives check_sec01() (tests).
  std::chrono::milliseconds check_interval{std::chrono::seconds(60)};
  csirt::WorkingCalendar calendar;
  std::size_t max_rows_per_indicator = 100'000;
  std::size_t max_queued_retrohunts = 8;
  // Not from `csirt:`: federation.distribution_dir. When set, the active
  // indicators are published there as the IOC list "csirt.csv" at every
  // change, for the agents' rules (`|ioc: csirt`) to pull.
  std::string publish_dir;
  // Names of API tokens (api_tokens:) and of sites (their site tokens, as
  // the sites below read their heads-ups) that may read the TLP:AMBER events
  // of the MISP feed the collector serves (/api/v1/csirt/feeds/misp/);
  // without a token, or with another one, it serves CLEAR and GREEN only.
  std::vector<std::string> feed_amber_peers;
  // A site's map from federated subjects (X.509 DNs, VOMS FQANs, OIDC) to
  // its local users (csirt/ban.h parse_identity_map), so that bans of those
  // reach the agents' ban.users IOC set; empty: none.
  std::string identity_map;
};

// Parses `csirt:` (may be undefined) of the YAML file `path`; throws
// config::ConfigError naming the file, line and key.
CsirtConfig parse_csirt_config(const std::string& path, const YAML::Node& node);

}  // namespace vigie::collector
