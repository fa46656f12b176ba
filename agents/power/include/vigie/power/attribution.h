// Splits one interval's node energy among workloads, per power domain
// (DESIGN.md "Energy attribution").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
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

// The power domains attributed separately.
enum class Domain : uint8_t {
  kCpu = 0,   // RAPL packages (cores, uncore), plus the rest of the node's wall power
              // (fans, disks, PSU losses) when IPMI measures it; estimate: cores
  kDram = 1,  // RAPL dram zones; estimate: memory
  kGpu = 2,   // NVML
};
inline constexpr size_t kDomainCount = 3;

struct WorkloadUsage {
  protocol::Workload workload;
  double cpu_usec = 0;          // CPU time used in the interval; negative or non-finite counts as 0
  uint32_t allocated_cpus = 0;  // Slurm jobs: CPUs in the job's cpuset (0: unknown); else ignored
  uint64_t memory_bytes = 0;    // memory charged to its cgroup at the end of the interval
};

// A GPU's energy and who holds it.
inline constexpr size_t kHostHolder = SIZE_MAX;  // processes outside any workload
struct GpuUse {
  double energy_joules = 0;
  struct Holder {
    size_t workload;  // index into the workloads, or kHostHolder
    double weight;    // GPU memory its processes use; all 0: equal shares
  };
  std::vector<Holder> holders;  // empty: nobody holds it, the energy stays unattributed
};

struct AttributionInput {
  double interval_seconds = 0;
  IdlePolicy idle_policy = IdlePolicy::kUnattributed;
  uint32_t node_cpus = 0;  // online CPUs of the node (/proc/stat cpu<N> lines); 0: unknown
  // kCpu
  double cpu_joules = 0;      // negative / non-finite counts as 0 (as do all energies)
  double idle_watts = 0;      // the domain's idle power
  double node_busy_usec = 0;  // busy CPU time of the whole node (/proc/stat)
  // kDram
  double dram_joules = 0;
  uint64_t node_memory_bytes = 0;  // MemTotal
  uint64_t used_memory_bytes = 0;  // MemTotal - MemAvailable (/proc/meminfo)
  // kGpu
  std::vector<GpuUse> gpus;
};

struct Attribution {
  protocol::Workload workload;  // a workload, the host, or kUnattributed ("unattributed")
  double cpu_usec = 0;
  std::array<double, kDomainCount> joules{};       // per Domain
  std::array<double, kDomainCount> idle_joules{};  // the idle charge inside `joules`
  double energy_joules() const { return joules[0] + joules[1] + joules[2]; }
  double idle_total() const { return idle_joules[0] + idle_joules[1] + idle_joules[2]; }
};

// Per domain, for the interval:
//  - kCpu: E, idle I = min(E, idle_watts x interval), active A = E - I. Each
//    workload gets A x its CPU share; shares are taken over
//    max(node_busy_usec, sum of workloads), the remainder node_busy_usec - sum
//    being the host's (processes outside any workload). Active energy with no
//    CPU time at all stays unattributed. I follows `idle_policy`.
//  - kDram: E x memory_bytes / M for each workload and E x (used - sum) / M for
//    the host, M = max(MemTotal, used, sum of workloads); the share of unused
//    memory is idle and follows `idle_policy`.
//  - kGpu: each GPU's energy to its holders by weight; a GPU nobody holds stays
//    unattributed.
// Entries with neither CPU time nor energy are left out.
// Invariant: per domain, the entries' joules sum to the domain's energy (to rounding).
std::vector<Attribution> attribute(const AttributionInput& input,
                                   const std::vector<WorkloadUsage>& workloads);

}  // namespace vigie::power
