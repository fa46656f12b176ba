// PowerSampler with the CPU-utilisation estimate over a fake /proc and cgroup2 tree.
#include "vigie/power/power_sampler.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace vigie::power {
namespace {

namespace fs = std::filesystem;
using protocol::WorkloadKind;

class PowerSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vigie-sampler-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ + "/proc");
  }
  void TearDown() override { fs::remove_all(root_); }

  void stat(uint64_t busy, uint64_t idle, int cpus = 0) {
    std::ofstream out(root_ + "/proc/stat");
    out << "cpu  " << busy << " 0 0 " << idle << " 0 0 0 0 0 0\n";
    for (int i = 0; i < cpus; ++i) out << "cpu" << i << " 0 0 0 0 0 0 0 0 0 0\n";
    out << "intr 0\n";
  }
  void job(const std::string& id, uint64_t usage_usec) {
    std::string dir = root_ + "/cg/system.slice/slurmstepd.scope/job_" + id;
    fs::create_directories(dir);
    std::ofstream(dir + "/cpu.stat") << "usage_usec " << usage_usec << "\n";
  }
  void remove_job(const std::string& id) {
    fs::remove_all(root_ + "/cg/system.slice/slurmstepd.scope/job_" + id);
  }
  PowerSampler sampler(IdlePolicy idle_policy = IdlePolicy::kUnattributed) {
    PowerSamplerOptions options;
    options.proc_root = root_ + "/proc";
    options.idle_policy = idle_policy;
    workload::Resolver resolver({workload::CgroupLayout::kV2, root_ + "/cg", {}},
                                {.proc_root = options.proc_root});
    return PowerSampler(options, nullptr, std::move(resolver));
  }

  std::string root_;
};

const WorkloadSample* find(const PowerSample& s, const std::string& id) {
  for (const auto& w : s.workloads)
    if (w.energy.workload.id == id) return &w;
  return nullptr;
}

void expect_conserved(const PowerSample& s) {
  double sum = 0;
  for (const auto& w : s.workloads) sum += w.energy.energy_joules;
  EXPECT_NEAR(sum, s.node_energy_joules, 1e-9 * std::max(1.0, s.node_energy_joules));
}

TEST_F(PowerSamplerTest, EstimateAttributedToJobsThatComeAndGo) {
  stat(200, 800);
  job("1", 1'000'000);
  job("3", 50);
  auto s = sampler();
  EXPECT_EQ(s.source(), protocol::EnergySource::kEstimate);
  EXPECT_FALSE(s.sample());  // primes

  stat(600, 900);       // +400 busy, +100 idle ticks: u = 0.8, P = 100 + 200 x 0.8
  job("1", 2'000'000);  // +1 s of CPU
  job("2", 500'000);    // new during the interval: all of it counts
  remove_job("3");      // gone: what it used since the last scan is the host's
  auto r = s.sample();
  ASSERT_TRUE(r);
  const double dt = r->interval_seconds;
  const double busy_usec = ticks_to_usec(400);
  ASSERT_GT(dt, 0);
  EXPECT_LT(r->start_ns, r->end_ns);
  EXPECT_EQ(r->source, protocol::EnergySource::kEstimate);
  EXPECT_NEAR(r->node_energy_joules, 260 * dt, 1e-9);
  EXPECT_NEAR(r->node_power_watts, 260, 1e-9);
  EXPECT_NEAR(r->node_carbon_gco2e, carbon_gco2e(260 * dt, CarbonModel{}), 1e-12);
  ASSERT_EQ(r->zones.size(), 1u);
  EXPECT_EQ(r->zones[0].energy.zone, "node");
  EXPECT_TRUE(r->zones[0].energy.estimated);
  EXPECT_EQ(r->zones[0].energy.source, protocol::EnergySource::kEstimate);
  EXPECT_EQ(r->zones[0].energy.start_ns, r->start_ns);

  const double active = 160 * dt;  // E - idle_watts x dt
  auto* j1 = find(*r, "1");
  ASSERT_NE(j1, nullptr);
  EXPECT_EQ(j1->energy.workload.kind, WorkloadKind::kSlurmJob);
  EXPECT_DOUBLE_EQ(j1->energy.cpu_seconds, 1.0);
  EXPECT_NEAR(j1->energy.energy_joules, active * 1e6 / busy_usec, 1e-9);
  EXPECT_NEAR(j1->power_watts, 160 * 1e6 / busy_usec, 1e-9);
  EXPECT_NEAR(j1->energy.carbon_gco2e, carbon_gco2e(j1->energy.energy_joules, CarbonModel{}),
              1e-15);
  EXPECT_TRUE(j1->energy.estimated);
  EXPECT_NEAR(find(*r, "2")->energy.energy_joules, active * 5e5 / busy_usec, 1e-9);
  EXPECT_EQ(find(*r, "3"), nullptr);
  EXPECT_NEAR(find(*r, "host")->energy.cpu_seconds, (busy_usec - 1.5e6) / 1e6, 1e-9);
  EXPECT_NEAR(find(*r, "unattributed")->energy.energy_joules, 100 * dt, 1e-9);
  expect_conserved(*r);

  stat(700, 1000);
  job("1", 300);  // re-created with the same path: its counter restarted
  r = s.sample();
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(find(*r, "1")->energy.cpu_seconds, 300e-6);
  EXPECT_EQ(find(*r, "2"), nullptr);  // no CPU time, no energy: left out
  expect_conserved(*r);
  EXPECT_EQ(s.stats().samples, 2u);
}

TEST_F(PowerSamplerTest, AllocatedCoresChargeIdleByTheJobsCpusets) {
  stat(200, 800, 4);
  job("1", 0);
  std::ofstream(root_ + "/cg/system.slice/slurmstepd.scope/job_1/cpuset.cpus.effective") << "0-1\n";
  job("2", 0);  // cpuset unknown
  auto s = sampler(IdlePolicy::kAllocatedCores);
  EXPECT_FALSE(s.sample());
  stat(600, 900, 4);
  job("1", 1'000'000);
  job("2", 1'000'000);
  auto r = s.sample();
  ASSERT_TRUE(r);
  const double dt = r->interval_seconds;
  const double active_per_job = 160 * dt * 1e6 / ticks_to_usec(400);
  EXPECT_NEAR(find(*r, "1")->energy.energy_joules, active_per_job + 100 * dt * 2 / 4, 1e-9);
  EXPECT_NEAR(find(*r, "2")->energy.energy_joules, active_per_job, 1e-9);
  EXPECT_NEAR(find(*r, "unattributed")->energy.energy_joules, 100 * dt / 2, 1e-9);
  expect_conserved(*r);
}

TEST_F(PowerSamplerTest, UnreadableProcStatSkipsTheTickAndIsCounted) {
  auto s = sampler();
  EXPECT_FALSE(s.sample());
  EXPECT_EQ(s.stats().proc_stat_errors, 1u);
  stat(0, 0);
  EXPECT_FALSE(s.sample());  // primes
  std::ofstream(root_ + "/proc/stat") << "garbage";
  EXPECT_FALSE(s.sample());
  EXPECT_EQ(s.stats().proc_stat_errors, 2u);
  stat(100, 100);
  auto r = s.sample();
  ASSERT_TRUE(r);
  expect_conserved(*r);
  EXPECT_EQ(s.stats().samples, 1u);
}

TEST(PowerSamplerCreate, FallsBackToTheEstimateWithoutRapl) {
  std::string why;
  auto s = PowerSampler::create({}, why);
  ASSERT_NE(s, nullptr);
  if (s->source() == protocol::EnergySource::kEstimate) {
    EXPECT_FALSE(why.empty());
  }
  EXPECT_FALSE(s->sample());
  auto r = s->sample();
  ASSERT_TRUE(r);
  expect_conserved(*r);
}

}  // namespace
}  // namespace vigie::power
