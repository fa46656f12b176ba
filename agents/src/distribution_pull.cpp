#include "distribution_pull.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <stdexcept>
#include <thread>

namespace vigie::agent {

namespace dist = protocol::distribution;
namespace fs = std::filesystem;

DistributionPuller::DistributionPuller(const Config& config)
    : dir_(config.rules_pull.dir.empty() ? config.state_dir + "/distribution"
                                         : config.rules_pull.dir),
      packs_(config.rules_pull.packs),
      iocs_(config.rules_pull.iocs),
      interval_(config.rules_pull.interval_seconds) {
  const std::string url =
      config.rules_pull.url.empty() ? config.collector_urls.front() : config.rules_pull.url;
  auto endpoint = protocol::Endpoint::parse(url, {config.collector_ca_file,
                                                  config.collector_client_cert_file,
                                                  config.collector_client_key_file});
  if (!endpoint) throw std::runtime_error("rules.pull.url: " + endpoint.error());
  options_.endpoint = std::move(*endpoint);
  options_.token = config.token;
  for (const auto& pack : packs_) {
    if (!dist::valid_name(dist::Kind::kRules, pack))
      throw std::runtime_error("rules.pull.packs: invalid pack name '" + pack + "'");
  }
  for (const auto& ioc : iocs_) {
    if (!dist::valid_name(dist::Kind::kIocs, ioc))
      throw std::runtime_error("rules.pull.iocs: '" + ioc +
                               "' is not an IOC list file name (<name>.csv or <name>.json)");
  }
}

void DistributionPuller::add_sources(rules::RuleSources& sources) const {
  for (const auto& pack : packs_) sources.rule_paths.push_back(fs::path(dir_) / "rules" / pack);
  for (const auto& ioc : iocs_)
    sources.iocs.push_back({fs::path(ioc).stem().string(), fs::path(dir_) / "iocs" / ioc});
}

int DistributionPuller::pull_once() {
  int updated = 0;
  auto pull = [&](dist::Kind kind, const std::string& name) {
    const auto result = dist::pull_item(options_, dir_, kind, name);
    if (result.status == dist::PullResult::Status::kUpdated) {
      ++updated;
      ++updates_total_;
      spdlog::info("rules: pulled {}/{} (etag {})", dist::to_string(kind), name, result.etag);
    } else if (result.status == dist::PullResult::Status::kFailed) {
      ++failures_total_;
      spdlog::warn("rules: cannot pull {}/{}, keeping what is installed: {}", dist::to_string(kind),
                   name, result.error);
    }
  };
  for (const auto& pack : packs_) pull(dist::Kind::kRules, pack);
  for (const auto& ioc : iocs_) pull(dist::Kind::kIocs, ioc);
  return updated;
}

void DistributionPuller::run(const std::atomic<bool>& stop,
                             const std::function<void()>& on_update) {
  auto next = std::chrono::steady_clock::now() + interval_;
  while (!stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (std::chrono::steady_clock::now() < next) continue;
    next = std::chrono::steady_clock::now() + interval_;
    if (pull_once() > 0 && on_update) on_update();
  }
}

}  // namespace vigie::agent
