// A Slurm job's energy records and agents' batches, for the footprint tests
// of the collector and of `vigie job` / the Slurm epilog.
#pragma once

#include <cstdint>
#include <string>

#include "vigie/protocol/event.h"

namespace vigie::collector::testing {

// One second of job `id`'s energy from second `start_s` (alice's, account
// proj42): 3/4 CPU, 1/4 DRAM, 0.5 gCO2e embodied.
inline protocol::WorkloadEnergy job_energy(const std::string& id, uint64_t start_s, double joules,
                                           double gco2e, bool estimated) {
  protocol::WorkloadEnergy e;
  e.start_ns = start_s * 1'000'000'000;
  e.end_ns = (start_s + 1) * 1'000'000'000;
  e.workload.kind = protocol::WorkloadKind::kSlurmJob;
  e.workload.id = id;
  e.workload.user = "alice";
  e.workload.account = "proj42";
  e.workload.cgroup_path = "/slurm/uid_1001/job_" + id;
  e.cpu_seconds = 2;
  e.energy_joules = joules;
  e.cpu_joules = joules * 0.75;
  e.dram_joules = joules * 0.25;
  e.carbon_gco2e = gco2e;
  e.embodied_gco2e = 0.5;
  e.estimated = estimated;
  return e;
}

// An empty batch of `host`'s agent.
inline protocol::Batch agent_batch(const std::string& host, uint64_t sequence) {
  protocol::Batch b;
  b.agent_id = host;
  b.site = "site-a";
  b.host = host;
  b.sequence = sequence;
  b.sent_ns = 1;
  return b;
}

}  // namespace vigie::collector::testing
