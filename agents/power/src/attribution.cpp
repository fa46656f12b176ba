#include "vigie/power/attribution.h"

#include <algorithm>
#include <cmath>

namespace vigie::power {
namespace {

double sane(double v) { return std::isfinite(v) && v > 0 ? v : 0; }

protocol::Workload named(protocol::WorkloadKind kind, const char* id) {
  protocol::Workload w;
  w.kind = kind;
  w.id = id;
  return w;
}

}  // namespace

bool parse_idle_policy(std::string_view text, IdlePolicy& policy) {
  if (text == "unattributed")
    policy = IdlePolicy::kUnattributed;
  else if (text == "allocated_cores")
    policy = IdlePolicy::kAllocatedCores;
  else
    return false;
  return true;
}

std::vector<Attribution> attribute(const AttributionInput& input,
                                   const std::vector<WorkloadCpuDelta>& workloads) {
  const double energy = sane(input.node_energy_joules);
  const double idle = std::min(energy, sane(input.idle_watts) * sane(input.interval_seconds));
  const double active = energy - idle;

  double workload_usec = 0;
  for (const auto& w : workloads) workload_usec += sane(w.cpu_usec);
  const double host_usec = std::max(0.0, sane(input.node_busy_usec) - workload_usec);
  const double total_usec = workload_usec + host_usec;

  // Idle energy per allocated CPU: the jobs' cores out of the node's, over
  // their sum when cores are oversubscribed.
  auto allocated_cpus = [](const WorkloadCpuDelta& w) {
    return w.workload.kind == protocol::WorkloadKind::kSlurmJob ? w.allocated_cpus : 0.0;
  };
  double allocated = 0;
  if (input.idle_policy == IdlePolicy::kAllocatedCores && input.node_cpus > 0)
    for (const auto& w : workloads) allocated += allocated_cpus(w);
  const double charged_fraction = std::min(1.0, allocated / std::max(1u, input.node_cpus));
  const double idle_per_cpu = allocated > 0 ? idle * charged_fraction / allocated : 0;
  const double unattributed = (total_usec > 0 ? 0 : active) + idle * (1 - charged_fraction);

  std::vector<Attribution> out;
  out.reserve(workloads.size() + 2);
  auto add = [&](const protocol::Workload& w, double usec, double idle_joules) {
    double joules = (total_usec > 0 ? active * (usec / total_usec) : 0) + idle_joules;
    if (usec > 0 || joules > 0) out.push_back({w, usec, joules});
  };
  for (const auto& w : workloads)
    add(w.workload, sane(w.cpu_usec), idle_per_cpu * allocated_cpus(w));
  add(named(protocol::WorkloadKind::kHost, "host"), host_usec, 0);
  if (unattributed > 0)
    out.push_back({named(protocol::WorkloadKind::kUnattributed, "unattributed"), 0, unattributed});
  return out;
}

}  // namespace vigie::power
