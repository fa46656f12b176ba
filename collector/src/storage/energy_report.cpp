#include "storage/energy_report.h"

#include <algorithm>
#include <utility>

namespace vigie::collector {

EnergyReportBuilder::EnergyReportBuilder(const EnergyQuery& query) {
  report_.start_ns = query.start_ns;
  report_.end_ns = query.end_ns;
}

uint64_t EnergyReportBuilder::bucket_ns(const EnergyQuery& query) {
  return std::max<uint64_t>(1'000'000'000, (query.end_ns - query.start_ns) / 300);
}

void EnergyReportBuilder::add_zone(const std::string& host, const std::string& site,
                                   ZoneSummary zone) {
  NodeEnergy& node = nodes_[host];
  node.host = host;
  node.site = site;
  if (zone.in_node_total) node.energy_joules += zone.energy_joules;
  node.estimated |= zone.estimated;
  node.zones.push_back(std::move(zone));
}

void EnergyReportBuilder::add_latest_zone(const std::string& host, const std::string& zone,
                                          const std::string& source, bool in_node_total,
                                          double joules, uint64_t duration_ns) {
  const double seconds = static_cast<double>(duration_ns) / 1e9;
  if (seconds <= 0) return;
  NodeEnergy& node = nodes_[host];
  const double watts = joules / seconds;
  for (ZoneSummary& z : node.zones) {
    if (z.zone == zone && z.source == source && z.in_node_total == in_node_total)
      z.power_watts = watts;
  }
  if (in_node_total) node.power_watts += watts;
}

void EnergyReportBuilder::add_workload(const std::string& site, const std::string& kind,
                                       WorkloadSummary summary) {
  if (!protocol::parse_workload_kind(kind, summary.workload.kind))
    throw StoreError("unknown workload kind '" + kind + "' in the database");
  NodeEnergy& node = nodes_[summary.host];
  if (node.host.empty()) {
    node.host = summary.host;
    node.site = site;
  }
  node.carbon_gco2e += summary.carbon_gco2e;
  node.estimated |= summary.estimated;
  workload_index_[{summary.host, kind, summary.workload.id, summary.workload.user}] =
      report_.workloads.size();
  report_.workloads.push_back(std::move(summary));
}

void EnergyReportBuilder::add_latest_workload(const std::string& host, const std::string& kind,
                                              const std::string& id, const std::string& user,
                                              double joules, uint64_t duration_ns) {
  const double seconds = static_cast<double>(duration_ns) / 1e9;
  const auto it = workload_index_.find({host, kind, id, user});
  if (seconds > 0 && it != workload_index_.end())
    report_.workloads[it->second].power_watts = joules / seconds;
}

void EnergyReportBuilder::add_series_point(const std::string& host, uint64_t t_ns, double joules,
                                           uint64_t covered_ns) {
  const double seconds = static_cast<double>(covered_ns) / 1e9;
  if (seconds > 0) report_.series.push_back({host, t_ns, joules / seconds});
}

EnergyReport EnergyReportBuilder::finish() && {
  for (auto& [host, node] : nodes_) report_.nodes.push_back(std::move(node));
  return std::move(report_);
}

}  // namespace vigie::collector
