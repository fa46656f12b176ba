#include "vigie/power/power_sampler.h"

#include <algorithm>

#include "vigie/workload/layout.h"

namespace vigie::power {
namespace {

std::string counter_key(const protocol::Workload& w) {
  std::string key(protocol::to_string(w.kind));
  key += '\0';
  key += w.id;
  key += '\0';
  key += w.cgroup_path;
  return key;
}

}  // namespace

PowerSampler::PowerSampler(PowerSamplerOptions options, std::unique_ptr<RaplSource> rapl,
                           workload::Resolver resolver)
    : options_(std::move(options)),
      rapl_(std::move(rapl)),
      resolver_(std::move(resolver)),
      estimate_(options_.model) {}

std::unique_ptr<PowerSampler> PowerSampler::create(PowerSamplerOptions options,
                                                   std::string& rapl_error) {
  auto rapl = RaplSource::open(rapl_error);
  workload::Resolver resolver(workload::detect_layout("/sys/fs/cgroup", options.proc_root),
                              {.proc_root = options.proc_root});
  return std::make_unique<PowerSampler>(std::move(options), std::move(rapl), std::move(resolver));
}

// A counter absent from the previous scan, or one that went backwards, belongs
// to a cgroup created (or re-created) during the interval: all its time is
// new, bounded by the node's busy time. A workload that vanished takes the
// CPU time it used since the previous scan with it: that goes to the host.
std::vector<WorkloadCpuDelta> PowerSampler::workload_deltas(std::vector<workload::WorkloadCpu> now,
                                                            double node_busy_usec) {
  std::unordered_map<std::string, uint64_t> next;
  std::vector<WorkloadCpuDelta> deltas;
  deltas.reserve(now.size());
  for (auto& w : now) {
    std::string key = counter_key(w.workload);
    auto last = last_workload_usec_.find(key);
    double delta = last != last_workload_usec_.end() && w.cpu_usec >= last->second
                       ? static_cast<double>(w.cpu_usec - last->second)
                       : std::min(static_cast<double>(w.cpu_usec), node_busy_usec);
    next[std::move(key)] = w.cpu_usec;
    deltas.push_back({std::move(w.workload), delta, w.allocated_cpus});
  }
  last_workload_usec_ = std::move(next);
  return deltas;
}

std::optional<PowerSample> PowerSampler::sample() {
  auto cpu = read_proc_stat(options_.proc_root);
  if (!cpu) {
    ++stats_.proc_stat_errors;
    return std::nullopt;
  }
  const uint64_t wall_ns = protocol::wall_clock_ns();
  const auto steady = std::chrono::steady_clock::now();
  RaplReading rapl;
  if (rapl_) {
    rapl = rapl_->read();
    stats_.rapl_read_errors += rapl.errors;
    stats_.rapl_wraps += rapl.wraps;
  }
  auto scan = resolver_.scan_cpu();
  stats_.cgroup_errors += scan.errors;

  if (!last_cpu_) {
    workload_deltas(std::move(scan.workloads), 0);
    last_cpu_ = cpu;
    last_wall_ns_ = wall_ns;
    last_steady_ = steady;
    return std::nullopt;
  }

  PowerSample s;
  s.start_ns = last_wall_ns_;
  s.end_ns = wall_ns;
  s.interval_seconds = std::chrono::duration<double>(steady - last_steady_).count();
  s.source = source();
  const double dt = s.interval_seconds;
  auto watts = [dt](double joules) { return dt > 0 ? joules / dt : 0; };
  auto zone = [&](std::string name, double joules, bool in_node_total) {
    protocol::ZoneEnergy z{s.start_ns,
                           s.end_ns,
                           std::move(name),
                           s.source,
                           s.source == protocol::EnergySource::kEstimate,
                           joules,
                           in_node_total};
    s.zones.push_back({std::move(z), watts(joules)});
  };
  if (rapl_) {
    for (auto& z : rapl.zones) {
      if (z.in_node_total) s.node_energy_joules += z.energy_joules;
      zone(std::move(z.zone), z.energy_joules, z.in_node_total);
    }
  } else {
    s.node_energy_joules = estimate_.energy_joules(*last_cpu_, *cpu, dt);
    zone("node", s.node_energy_joules, true);
  }
  s.node_power_watts = watts(s.node_energy_joules);
  s.node_carbon_gco2e = carbon_gco2e(s.node_energy_joules, options_.carbon);

  const double busy_usec = cpu->busy_ticks >= last_cpu_->busy_ticks
                               ? ticks_to_usec(cpu->busy_ticks - last_cpu_->busy_ticks)
                               : 0;
  AttributionInput input{.node_energy_joules = s.node_energy_joules,
                         .interval_seconds = dt,
                         .idle_watts = options_.model.idle_watts,
                         .node_busy_usec = busy_usec,
                         .idle_policy = options_.idle_policy,
                         .node_cpus = cpu->cpus};
  for (auto& a : attribute(input, workload_deltas(std::move(scan.workloads), busy_usec))) {
    protocol::WorkloadEnergy e{s.start_ns,
                               s.end_ns,
                               std::move(a.workload),
                               a.cpu_usec / 1e6,
                               a.energy_joules,
                               carbon_gco2e(a.energy_joules, options_.carbon),
                               s.source == protocol::EnergySource::kEstimate};
    s.workloads.push_back({std::move(e), watts(a.energy_joules)});
  }

  last_cpu_ = cpu;
  last_wall_ns_ = wall_ns;
  last_steady_ = steady;
  ++stats_.samples;
  return s;
}

}  // namespace vigie::power
