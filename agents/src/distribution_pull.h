// The agent's side of rule pack and IOC list distribution (DESIGN "Data
// flow": federation -> site collector -> agents): `rules.pull` items are
// fetched from the site collector with If-None-Match and installed
// atomically under rules.pull.dir (protocol/distribution.h), where the rule
// set's reloader finds them like any rule path or IOC list.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "vigie/agent/config.h"
#include "vigie/protocol/distribution.h"
#include "vigie/rules/rule_set.h"

namespace vigie::agent {

class DistributionPuller {
 public:
  // Resolves the url (default: the first collector url), token and dir
  // (default: <state_dir>/distribution). Throws std::runtime_error on a bad url.
  explicit DistributionPuller(const Config& config);

  bool enabled() const { return !packs_.empty() || !iocs_.empty(); }
  const std::string& dir() const { return dir_; }

  // Adds the pulled packs (<dir>/rules/<pack>) and IOC lists (<dir>/iocs/<file>,
  // set named by the file's stem) to `sources`, pulled yet or not.
  void add_sources(rules::RuleSources& sources) const;

  // Pulls every configured item once; returns how many changed. Failures
  // are logged and counted in failures_total(); what is installed stays.
  int pull_once();

  // Pulls every interval until `stop`; calls `on_update` after a round that
  // changed something (the agent then reloads its rule set).
  void run(const std::atomic<bool>& stop, const std::function<void()>& on_update);

  uint64_t failures_total() const { return failures_total_.load(); }
  uint64_t updates_total() const { return updates_total_.load(); }

 private:
  protocol::distribution::PullOptions options_;
  std::string dir_;
  std::vector<std::string> packs_;
  std::vector<std::string> iocs_;
  std::chrono::seconds interval_;
  std::atomic<uint64_t> failures_total_{0};
  std::atomic<uint64_t> updates_total_{0};
};

}  // namespace vigie::agent
