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
                                   const std::vector<WorkloadUsage>& workloads) {
  const size_t n = workloads.size();
  const size_t host = n, unattributed = n + 1;
  std::vector<Attribution> all(n + 2);
  for (size_t i = 0; i < n; ++i) {
    all[i].workload = workloads[i].workload;
    all[i].cpu_usec = sane(workloads[i].cpu_usec);
  }
  all[host].workload = named(protocol::WorkloadKind::kHost, "host");
  all[unattributed].workload = named(protocol::WorkloadKind::kUnattributed, "unattributed");

  // Idle charge by allocated cores: the jobs' cores out of the node's, over
  // their sum when cores are oversubscribed; the rest stays unattributed.
  auto allocated_cpus = [&](size_t i) -> double {
    return workloads[i].workload.kind == protocol::WorkloadKind::kSlurmJob
               ? workloads[i].allocated_cpus
               : 0;
  };
  double allocated = 0;
  if (input.idle_policy == IdlePolicy::kAllocatedCores && input.node_cpus > 0)
    for (size_t i = 0; i < n; ++i) allocated += allocated_cpus(i);
  const double charged = std::min(1.0, allocated / std::max(1u, input.node_cpus));
  auto charge_idle = [&](Domain d, double idle) {
    const auto k = static_cast<size_t>(d);
    for (size_t i = 0; allocated > 0 && i < n; ++i) {
      double share = idle * charged * allocated_cpus(i) / allocated;
      all[i].joules[k] += share;
      all[i].idle_joules[k] += share;
    }
    double rest = idle * (1 - charged);
    all[unattributed].joules[k] += rest;
    all[unattributed].idle_joules[k] += rest;
  };

  // kCpu
  {
    const size_t k = static_cast<size_t>(Domain::kCpu);
    const double energy = sane(input.cpu_joules);
    const double idle = std::min(energy, sane(input.idle_watts) * sane(input.interval_seconds));
    const double active = energy - idle;
    double workload_usec = 0;
    for (size_t i = 0; i < n; ++i) workload_usec += all[i].cpu_usec;
    all[host].cpu_usec = std::max(0.0, sane(input.node_busy_usec) - workload_usec);
    const double total_usec = workload_usec + all[host].cpu_usec;
    if (total_usec > 0) {
      for (size_t i = 0; i <= host; ++i)
        all[i].joules[k] += active * (all[i].cpu_usec / total_usec);
    } else {
      all[unattributed].joules[k] += active;
    }
    charge_idle(Domain::kCpu, idle);
  }
  // kDram
  {
    const size_t k = static_cast<size_t>(Domain::kDram);
    const double energy = sane(input.dram_joules);
    double sum = 0;
    for (const auto& w : workloads) sum += static_cast<double>(w.memory_bytes);
    const double host_bytes = std::max(0.0, static_cast<double>(input.used_memory_bytes) - sum);
    const double total = std::max({static_cast<double>(input.node_memory_bytes), sum + host_bytes});
    if (total > 0) {
      for (size_t i = 0; i < n; ++i)
        all[i].joules[k] += energy * static_cast<double>(workloads[i].memory_bytes) / total;
      all[host].joules[k] += energy * host_bytes / total;
      charge_idle(Domain::kDram, energy * (total - sum - host_bytes) / total);
    } else {
      charge_idle(Domain::kDram, energy);
    }
  }
  // kGpu
  {
    const size_t k = static_cast<size_t>(Domain::kGpu);
    for (const auto& gpu : input.gpus) {
      const double energy = sane(gpu.energy_joules);
      double weights = 0;
      size_t valid = 0;
      for (const auto& h : gpu.holders) {
        if (h.workload != kHostHolder && h.workload >= n) continue;
        weights += sane(h.weight);
        ++valid;
      }
      if (valid == 0) {
        all[unattributed].joules[k] += energy;
        continue;
      }
      for (const auto& h : gpu.holders) {
        if (h.workload != kHostHolder && h.workload >= n) continue;
        size_t to = h.workload == kHostHolder ? host : h.workload;
        all[to].joules[k] += energy * (weights > 0 ? sane(h.weight) / weights : 1.0 / valid);
      }
    }
  }

  std::vector<Attribution> out;
  out.reserve(all.size());
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i].cpu_usec > 0 || all[i].energy_joules() > 0) out.push_back(std::move(all[i]));
  return out;
}

}  // namespace vigie::power
