// Splits one interval's node energy among workloads (DESIGN.md "Energy attribution").
#pragma once

#include <string_view>
#include <vector>

#include "vigie/protocol/event.h"

namespace vigie::power {

enum class IdlePolicy {
  // Idle energy goes to one kUnattributed entry (default).
  kUnattributed,
  // Idle energy is charged to Slurm jobs by the cores allocated to them (HPC
  // exclusive allocation): a job gets idle x allocated_cpus / node_cpus, over
  // the sum of the jobs' allocations instead when it exceeds node_cpus
  // (oversubscribed cores). The idle energy of unallocated cores stays
  // unattributed, as does all of it when no job's cpuset is known
  // (allocated_cpus 0: the cpuset controller is off) or node_cpus is 0.
  kAllocatedCores,
};

// "unattributed" | "allocated_cores" (configuration key idle_policy); false otherwise.
bool parse_idle_policy(std::string_view text, IdlePolicy& policy);

struct WorkloadCpuDelta {
  protocol::Workload workload;
  double cpu_usec = 0;          // CPU time used in the interval; negative or non-finite counts as 0
  uint32_t allocated_cpus = 0;  // Slurm jobs: CPUs in the job's cpuset (0: unknown); else ignored
};

struct AttributionInput {
  double node_energy_joules = 0;  // measured or estimated; negative / non-finite counts as 0
  double interval_seconds = 0;
  double idle_watts = 0;      // node idle power
  double node_busy_usec = 0;  // busy CPU time of the whole node (/proc/stat)
  IdlePolicy idle_policy = IdlePolicy::kUnattributed;
  uint32_t node_cpus = 0;  // online CPUs of the node (/proc/stat cpu<N> lines); 0: unknown
};

struct Attribution {
  protocol::Workload workload;  // a workload, the host, or kUnattributed ("unattributed")
  double cpu_usec = 0;
  double energy_joules = 0;
};

// E = node energy, idle I = min(E, idle_watts x interval), active A = E - I.
// Each workload gets A x its CPU share; CPU shares are taken over
// max(node_busy_usec, sum of workloads), the remainder node_busy_usec - sum
// being the host's (processes outside any workload). Active energy with no CPU
// time at all (e.g. uncore or DRAM activity) stays unattributed. Idle energy
// follows `idle_policy` (a job may then get energy without CPU time). Entries
// with neither CPU time nor energy are left out.
// Invariant: the energies of the result sum to E (to rounding).
std::vector<Attribution> attribute(const AttributionInput& input,
                                   const std::vector<WorkloadCpuDelta>& workloads);

}  // namespace vigie::power
