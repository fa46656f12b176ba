#include "vigie/power/attribution.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <random>

namespace vigie::power {
namespace {

using protocol::WorkloadKind;

protocol::Workload job(const std::string& id) {
  protocol::Workload w;
  w.kind = WorkloadKind::kSlurmJob;
  w.id = id;
  return w;
}

double total(const std::vector<Attribution>& out) {
  double sum = 0;
  for (const auto& a : out) sum += a.energy_joules();
  return sum;
}

// CPU domain only: energy (J), interval (s), idle power (W), node busy time (µs).
AttributionInput cpu(double joules, double seconds, double idle_watts, double busy_usec,
                     IdlePolicy policy, uint32_t node_cpus = 0) {
  AttributionInput in;
  in.cpu_joules = joules;
  in.interval_seconds = seconds;
  in.idle_watts = idle_watts;
  in.node_busy_usec = busy_usec;
  in.idle_policy = policy;
  in.node_cpus = node_cpus;
  return in;
}

const Attribution* find(const std::vector<Attribution>& out, const std::string& id) {
  for (const auto& a : out)
    if (a.workload.id == id) return &a;
  return nullptr;
}

TEST(PowerAttribution, SplitsActiveByCpuShareAndKeepsIdleApart) {
  // E = 300 J over 1 s, idle 100 W: I = 100 J, A = 200 J. Node busy 1 s of CPU:
  // job 1 0.5 s, job 2 0.25 s, host 0.25 s.
  auto out = attribute(cpu(300, 1, 100, 1e6, IdlePolicy::kUnattributed),
                       {{job("1"), 5e5}, {job("2"), 2.5e5}});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules(), 100);
  EXPECT_DOUBLE_EQ(find(out, "2")->energy_joules(), 50);
  EXPECT_DOUBLE_EQ(find(out, "host")->energy_joules(), 50);
  EXPECT_EQ(find(out, "host")->workload.kind, WorkloadKind::kHost);
  EXPECT_DOUBLE_EQ(find(out, "host")->cpu_usec, 2.5e5);
  EXPECT_DOUBLE_EQ(find(out, "unattributed")->energy_joules(), 100);
  EXPECT_EQ(find(out, "unattributed")->workload.kind, WorkloadKind::kUnattributed);
}

TEST(PowerAttribution, AllocatedCoresChargesIdleToJobsByTheirCpusets) {
  // Same interval on 8 CPUs: job 1 holds 4 cores, job 2 holds 2 (and uses no
  // CPU this interval), job 3's cpuset is unknown; a unit's "allocation" is ignored.
  protocol::Workload unit;
  unit.kind = WorkloadKind::kSystemdUnit;
  unit.id = "sshd.service";
  const std::vector<WorkloadUsage> workloads = {
      {job("1"), 5e5, 4}, {job("2"), 0, 2}, {job("3"), 2.5e5, 0}, {unit, 0, 8}};
  auto out = attribute(cpu(300, 1, 100, 1e6, IdlePolicy::kAllocatedCores, 8), workloads);
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules(), 100 + 50);
  EXPECT_DOUBLE_EQ(find(out, "2")->energy_joules(), 25);
  EXPECT_DOUBLE_EQ(find(out, "2")->cpu_usec, 0);
  EXPECT_DOUBLE_EQ(find(out, "3")->energy_joules(), 50);
  EXPECT_DOUBLE_EQ(find(out, "host")->energy_joules(), 50);  // active share only
  EXPECT_EQ(find(out, "sshd.service"), nullptr);
  EXPECT_DOUBLE_EQ(find(out, "unattributed")->energy_joules(), 25);  // 2 free cores
  EXPECT_DOUBLE_EQ(total(out), 300);

  // The policy off, the node's CPU count unknown, or no cpuset known: idle stays unattributed.
  for (const AttributionInput& in : {cpu(300, 1, 100, 1e6, IdlePolicy::kUnattributed, 8),
                                     cpu(300, 1, 100, 1e6, IdlePolicy::kAllocatedCores, 0)}) {
    out = attribute(in, workloads);
    EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules(), 100);
    EXPECT_EQ(find(out, "2"), nullptr);
    EXPECT_DOUBLE_EQ(find(out, "unattributed")->energy_joules(), 100);
  }
  out = attribute(cpu(300, 1, 100, 1e6, IdlePolicy::kAllocatedCores, 8),
                  {{job("1"), 5e5}, {job("2"), 2.5e5}});
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules(), 100);
  EXPECT_DOUBLE_EQ(find(out, "unattributed")->energy_joules(), 100);

  // Oversubscribed cores (allocations above the node's): shares over their sum.
  out = attribute(cpu(300, 1, 100, 1e6, IdlePolicy::kAllocatedCores, 4),
                  {{job("1"), 5e5, 4}, {job("2"), 2.5e5, 4}});
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules(), 150);
  EXPECT_DOUBLE_EQ(find(out, "2")->energy_joules(), 100);
  EXPECT_EQ(find(out, "unattributed"), nullptr);

  // No CPU time at all: active energy unattributed, idle still charged by cores.
  out = attribute(cpu(250, 1, 100, 0, IdlePolicy::kAllocatedCores, 2), {{job("1"), 0, 1}});
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules(), 50);
  EXPECT_DOUBLE_EQ(find(out, "unattributed")->energy_joules(), 200);
}

TEST(PowerAttribution, EdgeCases) {
  // No CPU time and no allocation: everything unattributed, whatever the policy.
  for (auto policy : {IdlePolicy::kUnattributed, IdlePolicy::kAllocatedCores}) {
    auto out = attribute(cpu(250, 1, 100, 0, policy, 8), {{job("1"), 0}});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_DOUBLE_EQ(find(out, "unattributed")->energy_joules(), 250);
  }
  // Negative or NaN deltas (a vanished or reset cgroup) count as 0.
  auto out = attribute(cpu(200, 1, 0, 1e6, IdlePolicy::kUnattributed),
                       {{job("gone"), -5e5},
                        {job("nan"), std::numeric_limits<double>::quiet_NaN()},
                        {job("1"), 1e6}});
  EXPECT_EQ(find(out, "gone"), nullptr);
  EXPECT_EQ(find(out, "nan"), nullptr);
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules(), 200);
  EXPECT_EQ(find(out, "host"), nullptr);
  // Workloads above the node's busy time (counters read at slightly different
  // times): shares over their sum, host gets nothing.
  out =
      attribute(cpu(90, 1, 0, 1e6, IdlePolicy::kUnattributed), {{job("1"), 1e6}, {job("2"), 2e6}});
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules(), 30);
  EXPECT_DOUBLE_EQ(find(out, "2")->energy_joules(), 60);
  // Energy below idle power: all idle. Negative / NaN energy: nothing to share.
  out = attribute(cpu(50, 1, 100, 1e6, IdlePolicy::kUnattributed), {{job("1"), 1e6}});
  EXPECT_DOUBLE_EQ(find(out, "unattributed")->energy_joules(), 50);
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules(), 0);
  EXPECT_DOUBLE_EQ(total(attribute(cpu(-5, 1, 100, 1e6, IdlePolicy::kUnattributed), {})), 0);
  EXPECT_DOUBLE_EQ(
      total(attribute(cpu(std::nan(""), 1, 100, 1e6, IdlePolicy::kUnattributed), {{job("1"), 1}})),
      0);
  // No workload: the host takes the active energy.
  out = attribute(cpu(300, 1, 100, 5e5, IdlePolicy::kUnattributed), {});
  EXPECT_DOUBLE_EQ(find(out, "host")->energy_joules(), 200);
}

// Property: for random workloads, sensors and policies, in every interval and
// every domain, attributed (workloads + host) + unattributed = measured.
TEST(PowerAttribution, ConservationPerDomainPropertyOverRandomWorkloads) {
  std::mt19937_64 rng(20240611);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int interval = 0; interval < 20000; ++interval) {
    AttributionInput in;
    in.cpu_joules = unit(rng) < 0.05 ? 0 : unit(rng) * 2000;
    in.dram_joules = unit(rng) < 0.1 ? 0 : unit(rng) * 200;
    in.interval_seconds = 0.5 + unit(rng);
    in.idle_watts = unit(rng) * 400;
    in.node_busy_usec = unit(rng) < 0.05 ? 0 : unit(rng) * 64e6;
    in.idle_policy = unit(rng) < 0.5 ? IdlePolicy::kUnattributed : IdlePolicy::kAllocatedCores;
    in.node_cpus = unit(rng) < 0.1 ? 0 : 1 + static_cast<uint32_t>(unit(rng) * 256);
    in.node_memory_bytes = unit(rng) < 0.1 ? 0 : static_cast<uint64_t>(unit(rng) * 512e9);
    in.used_memory_bytes = static_cast<uint64_t>(unit(rng) * in.node_memory_bytes);
    std::vector<WorkloadUsage> workloads;
    int n = static_cast<int>(unit(rng) * 40);
    for (int i = 0; i < n; ++i) {
      double r = unit(rng);
      double usec = r < 0.05 ? -unit(rng) * 1e6 : r < 0.1 ? 0 : unit(rng) * in.node_busy_usec / 4;
      // Allocations unknown, within the node, or oversubscribing it.
      double a = unit(rng);
      auto cpus = a < 0.2 ? 0 : static_cast<uint32_t>(unit(rng) * (a < 0.6 ? 8 : 64));
      // Memory sums that may exceed MemTotal (page cache counted in cgroups).
      auto bytes = static_cast<uint64_t>(unit(rng) * 64e9);
      workloads.push_back({job(std::to_string(i)), usec, cpus, bytes});
    }
    int gpus = static_cast<int>(unit(rng) * 5);
    for (int g = 0; g < gpus; ++g) {
      GpuUse use{unit(rng) < 0.1 ? 0 : unit(rng) * 600, {}};
      int holders = static_cast<int>(unit(rng) * 4);
      for (int h = 0; h < holders; ++h) {
        double pick = unit(rng);
        size_t to = pick < 0.2    ? kHostHolder
                    : pick < 0.25 ? static_cast<size_t>(n) + 3  // stale index: ignored
                                  : static_cast<size_t>(unit(rng) * n);
        use.holders.push_back({to, unit(rng) < 0.3 ? 0 : unit(rng) * 8e9});
      }
      in.gpus.push_back(use);
    }
    auto out = attribute(in, workloads);
    std::array<double, kDomainCount> sum{};
    for (const auto& a : out) {
      ASSERT_GE(a.cpu_usec, 0) << interval;
      for (size_t d = 0; d < kDomainCount; ++d) {
        ASSERT_GE(a.joules[d], 0) << interval;
        ASSERT_GE(a.joules[d] + 1e-9, a.idle_joules[d]) << interval;
        sum[d] += a.joules[d];
      }
      if (a.workload.kind == WorkloadKind::kSlurmJob) {
        ASSERT_TRUE(a.cpu_usec > 0 || a.energy_joules() > 0) << interval;
      }
    }
    double gpu = 0;
    for (const auto& g : in.gpus) gpu += g.energy_joules;
    const std::array<double, kDomainCount> measured = {in.cpu_joules, in.dram_joules, gpu};
    for (size_t d = 0; d < kDomainCount; ++d)
      ASSERT_NEAR(sum[d], measured[d], 1e-9 * std::max(1.0, measured[d]))
          << "interval " << interval << " domain " << d;
  }
}

TEST(PowerAttribution, DramByMemoryShareAndGpuToItsHolders) {
  // 100 J of DRAM on a 100 GB node with 60 GB used: job 1 holds 30 GB, job 2
  // 10 GB, the host the other 20 GB used; 40 GB unused is idle.
  AttributionInput in;
  in.interval_seconds = 1;
  in.dram_joules = 100;
  in.node_memory_bytes = 100'000'000'000;
  in.used_memory_bytes = 60'000'000'000;
  in.node_cpus = 8;
  // GPU 0 (300 J): job 1 uses 3 GB, job 2 1 GB of its memory. GPU 1 (50 J): nobody.
  in.gpus = {{300, {{0, 3e9}, {1, 1e9}}}, {50, {}}};
  const std::vector<WorkloadUsage> workloads = {{job("1"), 0, 4, 30'000'000'000},
                                                {job("2"), 0, 2, 10'000'000'000}};
  auto out = attribute(in, workloads);
  const size_t dram = static_cast<size_t>(Domain::kDram), gpu = static_cast<size_t>(Domain::kGpu);
  EXPECT_DOUBLE_EQ(find(out, "1")->joules[dram], 30);
  EXPECT_DOUBLE_EQ(find(out, "2")->joules[dram], 10);
  EXPECT_DOUBLE_EQ(find(out, "host")->joules[dram], 20);
  EXPECT_DOUBLE_EQ(find(out, "unattributed")->joules[dram], 40);
  EXPECT_DOUBLE_EQ(find(out, "unattributed")->idle_joules[dram], 40);
  EXPECT_DOUBLE_EQ(find(out, "1")->joules[gpu], 225);
  EXPECT_DOUBLE_EQ(find(out, "2")->joules[gpu], 75);
  EXPECT_DOUBLE_EQ(find(out, "unattributed")->joules[gpu], 50);
  // allocated_cores: the unused memory's 40 J go to the jobs by their 6 of 8 cores.
  in.idle_policy = IdlePolicy::kAllocatedCores;
  out = attribute(in, workloads);
  EXPECT_DOUBLE_EQ(find(out, "1")->joules[dram], 30 + 40 * 4 / 8.0);
  EXPECT_DOUBLE_EQ(find(out, "1")->idle_joules[dram], 40 * 4 / 8.0);
  EXPECT_DOUBLE_EQ(find(out, "2")->joules[dram], 10 + 40 * 2 / 8.0);
  EXPECT_DOUBLE_EQ(find(out, "unattributed")->joules[dram], 40 * 2 / 8.0);
  // Equal weights when NVML gives no memory figure.
  in.gpus = {{300, {{0, 0}, {kHostHolder, 0}, {1, 0}}}};
  out = attribute(in, workloads);
  EXPECT_DOUBLE_EQ(find(out, "1")->joules[gpu], 100);
  EXPECT_DOUBLE_EQ(find(out, "host")->joules[gpu], 100);
}

TEST(PowerAttribution, ParsesIdlePolicy) {
  IdlePolicy p = IdlePolicy::kAllocatedCores;
  EXPECT_TRUE(parse_idle_policy("unattributed", p));
  EXPECT_EQ(p, IdlePolicy::kUnattributed);
  EXPECT_TRUE(parse_idle_policy("allocated_cores", p));
  EXPECT_EQ(p, IdlePolicy::kAllocatedCores);
  EXPECT_FALSE(parse_idle_policy("cores", p));
}

}  // namespace
}  // namespace vigie::power
