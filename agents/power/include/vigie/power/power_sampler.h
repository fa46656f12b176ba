// Once a second: node energy per zone (RAPL, else the CPU-utilisation estimate),
// attributed to workloads, with carbon.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "vigie/power/attribution.h"
#include "vigie/power/carbon.h"
#include "vigie/power/estimate.h"
#include "vigie/power/proc_stat.h"
#include "vigie/power/rapl_source.h"
#include "vigie/protocol/event.h"
#include "vigie/workload/resolver.h"

namespace vigie::power {

struct PowerSamplerOptions {
  std::string proc_root = "/proc";
  // The estimate's model where no RAPL exists; its idle_watts is also the idle
  // power that attribution sets apart (for RAPL: the node's measured idle power).
  LinearPowerModel model;
  IdlePolicy idle_policy = IdlePolicy::kUnattributed;
  CarbonModel carbon;
};

struct ZoneSample {
  protocol::ZoneEnergy energy;
  double power_watts = 0;  // energy / interval
};

struct WorkloadSample {
  protocol::WorkloadEnergy energy;  // carbon_gco2e filled
  double power_watts = 0;
};

struct PowerSample {
  uint64_t start_ns = 0;  // wall clock, ns since the epoch
  uint64_t end_ns = 0;
  double interval_seconds = 0;  // measured on the monotonic clock
  protocol::EnergySource source = protocol::EnergySource::kRapl;
  double node_energy_joules = 0;  // RAPL: sum of package and dram zones; estimate: "node"
  double node_power_watts = 0;
  double node_carbon_gco2e = 0;
  std::vector<ZoneSample> zones;
  std::vector<WorkloadSample> workloads;  // energies sum to node_energy_joules
};

struct PowerSamplerStats {
  uint64_t samples = 0;
  uint64_t proc_stat_errors = 0;  // /proc/stat unreadable: tick skipped, energy kept for the next
  uint64_t rapl_read_errors = 0;
  uint64_t rapl_wraps = 0;
  uint64_t cgroup_errors = 0;  // unreadable cgroup CPU files (workload missing this interval)
};

// Not thread-safe; call sample() from one thread, about once a second.
class PowerSampler {
 public:
  // rapl: nullptr selects the CPU-utilisation estimate.
  PowerSampler(PowerSamplerOptions options, std::unique_ptr<RaplSource> rapl,
               workload::Resolver resolver);

  // RAPL when present, else the estimate (`rapl_error` says why; the agent logs
  // it once at warn); cgroups from workload::detect_layout().
  static std::unique_ptr<PowerSampler> create(PowerSamplerOptions options, std::string& rapl_error);

  // The interval since the previous call; nullopt on the first (priming) call
  // and when /proc/stat cannot be read (counted; the next call covers the gap).
  std::optional<PowerSample> sample();

  protocol::EnergySource source() const {
    return rapl_ ? protocol::EnergySource::kRapl : protocol::EnergySource::kEstimate;
  }
  const PowerSamplerStats& stats() const { return stats_; }

 private:
  std::vector<WorkloadCpuDelta> workload_deltas(std::vector<workload::WorkloadCpu> now,
                                                double node_busy_usec);

  PowerSamplerOptions options_;
  std::unique_ptr<RaplSource> rapl_;
  workload::Resolver resolver_;
  CpuUtilisationEstimate estimate_;
  PowerSamplerStats stats_;
  std::optional<CpuTimes> last_cpu_;
  std::unordered_map<std::string, uint64_t> last_workload_usec_;  // counter key -> cpu_usec
  uint64_t last_wall_ns_ = 0;
  std::chrono::steady_clock::time_point last_steady_{};
};

}  // namespace vigie::power
