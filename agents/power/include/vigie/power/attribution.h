// Splits one interval's node energy among workloads (DESIGN.md "Energy attribution").
#pragma once

#include <string_view>
#include <vector>

#include "vigie/protocol/event.h"

namespace vigie::power {

enum class IdlePolicy {
  // Idle energy goes to one kUnattributed entry (default).
  kUnattributed,
  // Idle energy is charged to the workloads. Without allocation data from the
  // scheduler yet, it is split like the active energy, by CPU share (host
  // included); with no CPU time at all it stays unattributed.
  kAllocatedCores,
};

// "unattributed" | "allocated_cores" (configuration key idle_policy); false otherwise.
bool parse_idle_policy(std::string_view text, IdlePolicy& policy);

struct WorkloadCpuDelta {
  protocol::Workload workload;
  double cpu_usec = 0;  // CPU time used in the interval; negative or non-finite counts as 0
};

struct AttributionInput {
  double node_energy_joules = 0;  // measured or estimated; negative / non-finite counts as 0
  double interval_seconds = 0;
  double idle_watts = 0;      // node idle power
  double node_busy_usec = 0;  // busy CPU time of the whole node (/proc/stat)
  IdlePolicy idle_policy = IdlePolicy::kUnattributed;
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
// follows `idle_policy`. Entries with neither CPU time nor energy are left out.
// Invariant: the energies of the result sum to E (to rounding).
std::vector<Attribution> attribute(const AttributionInput& input,
                                   const std::vector<WorkloadCpuDelta>& workloads);

}  // namespace vigie::power
