#include "vigie/power/attribution.h"

#include <gtest/gtest.h>

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
  for (const auto& a : out) sum += a.energy_joules;
  return sum;
}

const Attribution* find(const std::vector<Attribution>& out, const std::string& id) {
  for (const auto& a : out)
    if (a.workload.id == id) return &a;
  return nullptr;
}

TEST(PowerAttribution, SplitsActiveByCpuShareAndKeepsIdleApart) {
  // E = 300 J over 1 s, idle 100 W: I = 100 J, A = 200 J. Node busy 1 s of CPU:
  // job 1 0.5 s, job 2 0.25 s, host 0.25 s.
  auto out = attribute({300, 1, 100, 1e6, IdlePolicy::kUnattributed},
                       {{job("1"), 5e5}, {job("2"), 2.5e5}});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules, 100);
  EXPECT_DOUBLE_EQ(find(out, "2")->energy_joules, 50);
  EXPECT_DOUBLE_EQ(find(out, "host")->energy_joules, 50);
  EXPECT_EQ(find(out, "host")->workload.kind, WorkloadKind::kHost);
  EXPECT_DOUBLE_EQ(find(out, "host")->cpu_usec, 2.5e5);
  EXPECT_DOUBLE_EQ(find(out, "unattributed")->energy_joules, 100);
  EXPECT_EQ(find(out, "unattributed")->workload.kind, WorkloadKind::kUnattributed);
}

TEST(PowerAttribution, AllocatedCoresChargesIdleToJobsByTheirCpusets) {
  // Same interval on 8 CPUs: job 1 holds 4 cores, job 2 holds 2 (and uses no
  // CPU this interval), job 3's cpuset is unknown; a unit's "allocation" is ignored.
  protocol::Workload unit;
  unit.kind = WorkloadKind::kSystemdUnit;
  unit.id = "sshd.service";
  const std::vector<WorkloadCpuDelta> workloads = {
      {job("1"), 5e5, 4}, {job("2"), 0, 2}, {job("3"), 2.5e5, 0}, {unit, 0, 8}};
  auto out = attribute({300, 1, 100, 1e6, IdlePolicy::kAllocatedCores, 8}, workloads);
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules, 100 + 50);
  EXPECT_DOUBLE_EQ(find(out, "2")->energy_joules, 25);
  EXPECT_DOUBLE_EQ(find(out, "2")->cpu_usec, 0);
  EXPECT_DOUBLE_EQ(find(out, "3")->energy_joules, 50);
  EXPECT_DOUBLE_EQ(find(out, "host")->energy_joules, 50);  // active share only
  EXPECT_EQ(find(out, "sshd.service"), nullptr);
  EXPECT_DOUBLE_EQ(find(out, "unattributed")->energy_joules, 25);  // 2 free cores
  EXPECT_DOUBLE_EQ(total(out), 300);

  // The policy off, the node's CPU count unknown, or no cpuset known: idle stays unattributed.
  for (const AttributionInput& in :
       {AttributionInput{300, 1, 100, 1e6, IdlePolicy::kUnattributed, 8},
        AttributionInput{300, 1, 100, 1e6, IdlePolicy::kAllocatedCores, 0}}) {
    out = attribute(in, workloads);
    EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules, 100);
    EXPECT_EQ(find(out, "2"), nullptr);
    EXPECT_DOUBLE_EQ(find(out, "unattributed")->energy_joules, 100);
  }
  out = attribute({300, 1, 100, 1e6, IdlePolicy::kAllocatedCores, 8},
                  {{job("1"), 5e5}, {job("2"), 2.5e5}});
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules, 100);
  EXPECT_DOUBLE_EQ(find(out, "unattributed")->energy_joules, 100);

  // Oversubscribed cores (allocations above the node's): shares over their sum.
  out = attribute({300, 1, 100, 1e6, IdlePolicy::kAllocatedCores, 4},
                  {{job("1"), 5e5, 4}, {job("2"), 2.5e5, 4}});
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules, 150);
  EXPECT_DOUBLE_EQ(find(out, "2")->energy_joules, 100);
  EXPECT_EQ(find(out, "unattributed"), nullptr);

  // No CPU time at all: active energy unattributed, idle still charged by cores.
  out = attribute({250, 1, 100, 0, IdlePolicy::kAllocatedCores, 2}, {{job("1"), 0, 1}});
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules, 50);
  EXPECT_DOUBLE_EQ(find(out, "unattributed")->energy_joules, 200);
}

TEST(PowerAttribution, EdgeCases) {
  // No CPU time and no allocation: everything unattributed, whatever the policy.
  for (auto policy : {IdlePolicy::kUnattributed, IdlePolicy::kAllocatedCores}) {
    auto out = attribute({250, 1, 100, 0, policy, 8}, {{job("1"), 0}});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_DOUBLE_EQ(find(out, "unattributed")->energy_joules, 250);
  }
  // Negative or NaN deltas (a vanished or reset cgroup) count as 0.
  auto out = attribute({200, 1, 0, 1e6, IdlePolicy::kUnattributed},
                       {{job("gone"), -5e5},
                        {job("nan"), std::numeric_limits<double>::quiet_NaN()},
                        {job("1"), 1e6}});
  EXPECT_EQ(find(out, "gone"), nullptr);
  EXPECT_EQ(find(out, "nan"), nullptr);
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules, 200);
  EXPECT_EQ(find(out, "host"), nullptr);
  // Workloads above the node's busy time (counters read at slightly different
  // times): shares over their sum, host gets nothing.
  out = attribute({90, 1, 0, 1e6, IdlePolicy::kUnattributed}, {{job("1"), 1e6}, {job("2"), 2e6}});
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules, 30);
  EXPECT_DOUBLE_EQ(find(out, "2")->energy_joules, 60);
  // Energy below idle power: all idle. Negative / NaN energy: nothing to share.
  out = attribute({50, 1, 100, 1e6, IdlePolicy::kUnattributed}, {{job("1"), 1e6}});
  EXPECT_DOUBLE_EQ(find(out, "unattributed")->energy_joules, 50);
  EXPECT_DOUBLE_EQ(find(out, "1")->energy_joules, 0);
  EXPECT_DOUBLE_EQ(total(attribute({-5, 1, 100, 1e6, IdlePolicy::kUnattributed}, {})), 0);
  EXPECT_DOUBLE_EQ(
      total(attribute({std::nan(""), 1, 100, 1e6, IdlePolicy::kUnattributed}, {{job("1"), 1}})), 0);
  // No workload: the host takes the active energy.
  out = attribute({300, 1, 100, 5e5, IdlePolicy::kUnattributed}, {});
  EXPECT_DOUBLE_EQ(find(out, "host")->energy_joules, 200);
}

TEST(PowerAttribution, ConservationPropertyOverRandomIntervals) {
  std::mt19937_64 rng(20240611);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int interval = 0; interval < 20000; ++interval) {
    AttributionInput in;
    in.node_energy_joules = unit(rng) < 0.05 ? 0 : unit(rng) * 2000;
    in.interval_seconds = 0.5 + unit(rng);
    in.idle_watts = unit(rng) * 400;
    in.node_busy_usec = unit(rng) < 0.05 ? 0 : unit(rng) * 64e6;
    in.idle_policy = unit(rng) < 0.5 ? IdlePolicy::kUnattributed : IdlePolicy::kAllocatedCores;
    in.node_cpus = unit(rng) < 0.1 ? 0 : 1 + static_cast<uint32_t>(unit(rng) * 256);
    std::vector<WorkloadCpuDelta> workloads;
    int n = static_cast<int>(unit(rng) * 40);
    for (int i = 0; i < n; ++i) {
      double r = unit(rng);
      double usec = r < 0.05 ? -unit(rng) * 1e6 : r < 0.1 ? 0 : unit(rng) * in.node_busy_usec / 4;
      // Allocations unknown, within the node, or oversubscribing it.
      double a = unit(rng);
      auto cpus = a < 0.2 ? 0 : static_cast<uint32_t>(unit(rng) * (a < 0.6 ? 8 : 64));
      workloads.push_back({job(std::to_string(i)), usec, cpus});
    }
    auto out = attribute(in, workloads);
    double sum = 0;
    for (const auto& a : out) {
      ASSERT_GE(a.energy_joules, 0) << interval;
      ASSERT_GE(a.cpu_usec, 0) << interval;
      if (a.workload.kind == WorkloadKind::kSlurmJob) {
        ASSERT_TRUE(a.cpu_usec > 0 || a.energy_joules > 0) << interval;
      }
      sum += a.energy_joules;
    }
    ASSERT_NEAR(sum, in.node_energy_joules, 1e-9 * std::max(1.0, in.node_energy_joules))
        << "interval " << interval;
  }
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
