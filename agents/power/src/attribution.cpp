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

  // Energy per CPU µs: active energy, plus idle energy when it is charged to workloads.
  const bool idle_charged = input.idle_policy == IdlePolicy::kAllocatedCores && total_usec > 0;
  const double shared = total_usec > 0 ? active + (idle_charged ? idle : 0) : 0;
  const double unattributed = energy - shared;

  std::vector<Attribution> out;
  out.reserve(workloads.size() + 2);
  auto add = [&](const protocol::Workload& w, double usec) {
    double joules = total_usec > 0 ? shared * (usec / total_usec) : 0;
    if (usec > 0 || joules > 0) out.push_back({w, usec, joules});
  };
  for (const auto& w : workloads) add(w.workload, sane(w.cpu_usec));
  add(named(protocol::WorkloadKind::kHost, "host"), host_usec);
  if (unattributed > 0)
    out.push_back({named(protocol::WorkloadKind::kUnattributed, "unattributed"), 0, unattributed});
  return out;
}

}  // namespace vigie::power
