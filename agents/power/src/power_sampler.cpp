#include "vigie/power/power_sampler.h"

#include <algorithm>
#include <map>

namespace vigie::power {
namespace {

// A workload's counter identity: kind, id and the cgroup measured, built in `key`.
void counter_key(const protocol::Workload& w, std::string& key) {
  key.assign(protocol::to_string(w.kind));
  key += '\0';
  key += w.id;
  key += '\0';
  key += w.cgroup_path;
}

}  // namespace

PowerSampler::PowerSampler(PowerSamplerOptions options, PowerSources sources,
                           workload::Resolver resolver)
    : options_(std::move(options)), sources_(std::move(sources)), resolver_(std::move(resolver)) {}

protocol::EnergySource PowerSampler::source() const {
  if (sources_.rapl) return protocol::EnergySource::kRapl;
  if (sources_.wall) return protocol::EnergySource::kIpmi;
  return protocol::EnergySource::kEstimate;
}

// A counter absent from the previous scan, or one that went backwards, belongs
// to a cgroup created (or re-created) during the interval: all its time is
// new, bounded by the node's busy time. A workload that vanished takes the
// CPU time it used since the previous scan with it: that goes to the host,
// and the workload is reported ended.
std::vector<WorkloadUsage> PowerSampler::workload_usage(std::vector<workload::WorkloadCpu> now,
                                                        double node_busy_usec, uint64_t wall_ns,
                                                        std::vector<protocol::WorkloadEnd>& ended) {
  ++scans_;
  std::vector<WorkloadUsage> usage;
  usage.reserve(now.size());
  for (auto& w : now) {
    counter_key(w.workload, key_);
    auto last = live_.find(key_);
    double delta = 0;
    if (last == live_.end()) {
      delta = std::min(static_cast<double>(w.cpu_usec), node_busy_usec);
      live_.emplace(key_, Live{wall_ns, w.cpu_usec, scans_, w.workload});
    } else {
      Live& live = last->second;
      delta = w.cpu_usec >= live.cpu_usec
                  ? static_cast<double>(w.cpu_usec - live.cpu_usec)
                  : std::min(static_cast<double>(w.cpu_usec), node_busy_usec);
      live.cpu_usec = w.cpu_usec;
      live.scan = scans_;
    }
    usage.push_back({std::move(w.workload), delta, w.allocated_cpus, w.memory_bytes});
  }
  std::erase_if(live_, [&](auto& entry) {
    if (entry.second.scan == scans_) return false;
    ended.push_back({entry.second.start_ns, wall_ns, std::move(entry.second.workload)});
    return true;
  });
  return usage;
}

std::optional<PowerSample> PowerSampler::sample() {
  auto cpu = read_proc_stat(options_.proc_root);
  if (!cpu) {
    ++stats_.proc_stat_errors;
    return std::nullopt;
  }
  auto mem = read_meminfo(options_.proc_root);
  if (!mem) ++stats_.meminfo_errors;
  const uint64_t wall_ns = protocol::wall_clock_ns();
  const auto steady = std::chrono::steady_clock::now();
  RaplReading rapl;
  if (sources_.rapl) {
    rapl = sources_.rapl->read();
    stats_.rapl_read_errors += rapl.errors;
    stats_.rapl_wraps += rapl.wraps;
  }
  GpuReading gpus;
  if (sources_.nvml) {
    gpus = sources_.nvml->read();
    stats_.nvml_errors += gpus.errors;
  }
  std::optional<WallEnergy> wall;
  if (sources_.wall) {
    std::string why;
    wall = sources_.wall->read(steady, why);
    stats_.ipmi_errors = sources_.wall->errors();
  }
  auto scan = resolver_.scan_cpu();
  stats_.cgroup_errors += scan.errors;

  PowerSample s;
  const bool primed = last_cpu_.has_value();
  const double busy_usec = primed && cpu->busy_ticks >= last_cpu_->busy_ticks
                               ? ticks_to_usec(cpu->busy_ticks - last_cpu_->busy_ticks)
                               : 0;
  auto usage = workload_usage(std::move(scan.workloads), busy_usec, wall_ns, s.ended);
  if (!primed) {
    last_cpu_ = cpu;
    last_wall_ns_ = wall_ns;
    last_steady_ = steady;
    return std::nullopt;
  }

  s.start_ns = last_wall_ns_;
  s.end_ns = wall_ns;
  s.interval_seconds = std::chrono::duration<double>(steady - last_steady_).count();
  const double dt = s.interval_seconds;
  auto watts = [dt](double joules) { return dt > 0 ? joules / dt : 0; };
  auto zone = [&](std::string name, protocol::EnergySource source, double joules,
                  bool in_node_total) {
    protocol::ZoneEnergy z{s.start_ns,
                           s.end_ns,
                           std::move(name),
                           source,
                           source == protocol::EnergySource::kEstimate,
                           joules,
                           in_node_total};
    s.zones.push_back({std::move(z), watts(joules)});
  };

  AttributionInput input{.interval_seconds = dt,
                         .idle_policy = options_.idle_policy,
                         .node_cpus = cpu->cpus,
                         .idle_watts = options_.estimate.idle_watts,
                         .node_busy_usec = busy_usec,
                         .node_memory_bytes = mem ? mem->total_bytes : 0,
                         .used_memory_bytes = mem ? mem->used_bytes() : 0};
  const bool measured_wall = wall.has_value();
  if (sources_.rapl) {
    for (auto& z : rapl.zones) {
      if (z.domain == RaplDomain::kPackage) input.cpu_joules += z.energy_joules;
      if (z.domain == RaplDomain::kDram) input.dram_joules += z.energy_joules;
      zone(std::move(z.zone), protocol::EnergySource::kRapl, z.energy_joules,
           z.in_node_total && !sources_.wall);
    }
  } else if (!sources_.wall) {
    s.estimated = true;
    input.cpu_joules = estimate_cpu_joules(options_.estimate, dt, busy_usec / 1e6);
    input.dram_joules = estimate_memory_joules(options_.estimate, dt, mem ? mem->total_bytes : 0);
    zone("node", protocol::EnergySource::kEstimate, input.cpu_joules + input.dram_joules, true);
  }
  // GPU holders: the workload of each process NVML lists.
  std::map<std::pair<protocol::WorkloadKind, std::string>, size_t> index;
  for (size_t i = 0; i < usage.size() && !gpus.gpus.empty(); ++i)
    index.emplace(std::pair{usage[i].workload.kind, usage[i].workload.id}, i);
  double gpu_joules = 0;
  for (auto& g : gpus.gpus) {
    GpuUse use{g.energy_joules, {}};
    for (const auto& p : g.processes) {
      auto w = resolver_.resolve(0, p.pid);
      resolver_.forget(p.pid);  // GPU pids are polled, never told of their exit
      auto it = index.find({w.kind, w.id});
      use.holders.push_back(
          {it == index.end() ? kHostHolder : it->second, static_cast<double>(p.used_memory_bytes)});
    }
    gpu_joules += g.energy_joules;
    input.gpus.push_back(std::move(use));
    zone(std::move(g.zone), protocol::EnergySource::kNvml, g.energy_joules, !sources_.wall);
  }
  if (measured_wall) {
    // The wall meter measures everything: the rest of it (fans, disks, PSU
    // losses) joins the CPU domain; a wall reading below its parts (the
    // sensors' timing differs) scales the parts to it.
    const double parts = input.cpu_joules + input.dram_joules + gpu_joules;
    if (wall->energy_joules >= parts) {
      input.cpu_joules += wall->energy_joules - parts;
    } else {
      ++stats_.wall_below_components;
      const double f = parts > 0 ? wall->energy_joules / parts : 0;
      input.cpu_joules *= f;
      input.dram_joules *= f;
      for (auto& g : input.gpus) g.energy_joules *= f;
    }
    zone("node", protocol::EnergySource::kIpmi, wall->energy_joules, true);
  }
  // A failed IPMI read leaves the wall's share of this interval to the next
  // good reading, which integrates over the whole gap (see DcmiWallSource).
  s.node_energy_joules = input.cpu_joules + input.dram_joules;
  for (const auto& g : input.gpus) s.node_energy_joules += g.energy_joules;
  s.node_power_watts = watts(s.node_energy_joules);

  const CarbonFactors factors =
      carbon_factors(options_.carbon, (s.start_ns / 2 + s.end_ns / 2) / 1'000'000'000);
  if (factors.series_miss) ++stats_.carbon_series_misses;
  s.node_carbon_gco2e = carbon_gco2e(s.node_energy_joules, factors);
  s.node_embodied_gco2e = embodied_gco2e(options_.carbon, dt);

  auto attributed = attribute(input, usage);
  for (auto& a : attributed) {
    const auto cpu_d = static_cast<size_t>(Domain::kCpu);
    const auto dram_d = static_cast<size_t>(Domain::kDram);
    const auto gpu_d = static_cast<size_t>(Domain::kGpu);
    const double energy = a.energy_joules();
    protocol::WorkloadEnergy e;
    e.start_ns = s.start_ns;
    e.end_ns = s.end_ns;
    e.workload = std::move(a.workload);
    e.cpu_seconds = a.cpu_usec / 1e6;
    e.energy_joules = energy;
    e.carbon_gco2e = carbon_gco2e(energy, factors);
    e.estimated = s.estimated;
    e.cpu_joules = a.joules[cpu_d] - a.idle_joules[cpu_d];
    e.dram_joules = a.joules[dram_d] - a.idle_joules[dram_d];
    e.gpu_joules = a.joules[gpu_d] - a.idle_joules[gpu_d];
    e.idle_joules = a.idle_total();
    // Embodied carbon follows the energy share: what uses the node bears its manufacture.
    e.embodied_gco2e =
        s.node_energy_joules > 0 ? s.node_embodied_gco2e * energy / s.node_energy_joules : 0;
    s.workloads.push_back({std::move(e), watts(energy)});
  }

  last_cpu_ = cpu;
  last_wall_ns_ = wall_ns;
  last_steady_ = steady;
  ++stats_.samples;
  return s;
}

}  // namespace vigie::power
