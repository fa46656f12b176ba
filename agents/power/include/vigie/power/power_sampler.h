// Once a second: node energy per zone (RAPL, NVML, IPMI DCMI, else the Green
// Algorithms estimate), attributed to workloads per domain, with carbon, and
// the workloads that ended.
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
#include "vigie/power/ipmi_dcmi.h"
#include "vigie/power/nvml_source.h"
#include "vigie/power/proc_stat.h"
#include "vigie/power/rapl_source.h"
#include "vigie/protocol/event.h"
#include "vigie/workload/resolver.h"

namespace vigie::power {

struct PowerSamplerOptions {
  std::string proc_root = "/proc";
  // The estimate where no CPU sensor exists (neither RAPL nor IPMI). Its
  // idle_watts is also, with a sensor, the idle power set apart in the CPU
  // domain before the active energy is split by CPU time.
  EstimateModel estimate;
  IdlePolicy idle_policy = IdlePolicy::kUnattributed;
  CarbonModel carbon;
};

// The energy sources of a node; any may be absent.
struct PowerSources {
  std::unique_ptr<RaplSource> rapl;
  std::unique_ptr<NvmlSource> nvml;
  std::unique_ptr<DcmiWallSource> wall;  // IPMI DCMI node wall power
};

struct ZoneSample {
  protocol::ZoneEnergy energy;
  double power_watts = 0;  // energy / interval
};

struct WorkloadSample {
  protocol::WorkloadEnergy energy;  // breakdown, carbon_gco2e and embodied_gco2e filled
  double power_watts = 0;
};

struct PowerSample {
  uint64_t start_ns = 0;  // wall clock, ns since the epoch
  uint64_t end_ns = 0;
  double interval_seconds = 0;  // measured on the monotonic clock
  bool estimated = false;       // CPU and DRAM energy come from the estimate
  // IPMI wall energy when measured; else RAPL packages + dram (or the
  // estimate) + GPUs. The workloads' energies sum to it.
  double node_energy_joules = 0;
  double node_power_watts = 0;
  double node_carbon_gco2e = 0;    // operational
  double node_embodied_gco2e = 0;  // the interval's share of the server's embodied carbon
  std::vector<ZoneSample> zones;
  std::vector<WorkloadSample> workloads;
  std::vector<protocol::WorkloadEnd> ended;  // workloads whose cgroup went away
};

struct PowerSamplerStats {
  uint64_t samples = 0;
  uint64_t proc_stat_errors = 0;  // /proc/stat unreadable: tick skipped, energy kept for the next
  uint64_t meminfo_errors = 0;    // /proc/meminfo unreadable: DRAM energy stays unattributed
  uint64_t rapl_read_errors = 0;
  uint64_t rapl_wraps = 0;
  uint64_t nvml_errors = 0;
  uint64_t ipmi_errors = 0;
  uint64_t wall_below_components = 0;  // IPMI read less than RAPL + GPUs: components scaled down
  uint64_t carbon_series_misses = 0;   // a grid intensity or PUE series had no value then
  uint64_t cgroup_errors = 0;  // unreadable cgroup CPU files (workload missing this interval)
};

// Not thread-safe; call sample() from one thread, about once a second.
class PowerSampler {
 public:
  PowerSampler(PowerSamplerOptions options, PowerSources sources, workload::Resolver resolver);

  // The interval since the previous call; nullopt on the first (priming) call
  // and when /proc/stat cannot be read (counted; the next call covers the gap).
  std::optional<PowerSample> sample();

  // Where CPU energy comes from: kRapl, kIpmi, or kEstimate.
  protocol::EnergySource source() const;
  bool has_gpus() const { return sources_.nvml != nullptr; }
  const PowerSamplerStats& stats() const { return stats_; }

 private:
  struct Live {
    uint64_t start_ns = 0;
    uint64_t cpu_usec = 0;
    uint64_t scan = 0;  // the last sample() whose scan met it
    protocol::Workload workload;
  };
  std::vector<WorkloadUsage> workload_usage(std::vector<workload::WorkloadCpu> now,
                                            double node_busy_usec, uint64_t wall_ns,
                                            std::vector<protocol::WorkloadEnd>& ended);

  PowerSamplerOptions options_;
  PowerSources sources_;
  workload::Resolver resolver_;
  PowerSamplerStats stats_;
  std::optional<CpuTimes> last_cpu_;
  std::unordered_map<std::string, Live> live_;  // counter key -> workload seen in the last scan
  std::string key_;                             // counter key buffer, reused
  uint64_t scans_ = 0;
  uint64_t last_wall_ns_ = 0;
  std::chrono::steady_clock::time_point last_steady_{};
};

}  // namespace vigie::power
