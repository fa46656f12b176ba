// PowerSampler with the CPU-utilisation estimate over a fake /proc and cgroup2 tree.
#include "vigie/power/power_sampler.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <span>

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
  void meminfo(uint64_t total_kib, uint64_t available_kib) {
    std::ofstream(root_ + "/proc/meminfo")
        << "MemTotal:       " << total_kib
        << " kB\nMemFree:  1 kB\nMemAvailable:   " << available_kib << " kB\n";
  }
  // The linear model of the earlier tests: 100 W idle, 200 W more at full
  // load on `cpus` CPUs, so 200 / cpus W per busy core.
  PowerSampler sampler(IdlePolicy idle_policy = IdlePolicy::kUnattributed,
                       PowerSources sources = {}, EstimateModel model = {}) {
    PowerSamplerOptions options;
    options.proc_root = root_ + "/proc";
    options.idle_policy = idle_policy;
    options.estimate = model;
    workload::Resolver resolver({workload::CgroupLayout::kV2, root_ + "/cg", {}},
                                {.proc_root = options.proc_root});
    return PowerSampler(options, std::move(sources), std::move(resolver));
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

constexpr EstimateModel kModel{.idle_watts = 100, .core_watts = 10};

TEST_F(PowerSamplerTest, EstimateAttributedToJobsThatComeAndGo) {
  stat(200, 800);
  job("1", 1'000'000);
  job("3", 50);
  auto s = sampler(IdlePolicy::kUnattributed, {}, kModel);
  EXPECT_EQ(s.source(), protocol::EnergySource::kEstimate);
  EXPECT_FALSE(s.sample());  // primes

  stat(600, 900);       // +400 busy ticks
  job("1", 2'000'000);  // +1 s of CPU
  job("2", 500'000);    // new during the interval: all of it counts
  remove_job("3");      // gone: what it used since the last scan is the host's
  auto r = s.sample();
  ASSERT_TRUE(r);
  const double dt = r->interval_seconds;
  const double busy_usec = ticks_to_usec(400);
  ASSERT_GT(dt, 0);
  EXPECT_LT(r->start_ns, r->end_ns);
  EXPECT_TRUE(r->estimated);
  const double active = 10 * busy_usec / 1e6;  // core_watts x busy CPU seconds
  EXPECT_NEAR(r->node_energy_joules, 100 * dt + active, 1e-9);
  EXPECT_NEAR(r->node_carbon_gco2e, carbon_gco2e(r->node_energy_joules, CarbonModel{}), 1e-12);
  EXPECT_NEAR(r->node_embodied_gco2e, embodied_gco2e(CarbonModel{}, dt), 1e-15);
  ASSERT_EQ(r->zones.size(), 1u);
  EXPECT_EQ(r->zones[0].energy.zone, "node");
  EXPECT_TRUE(r->zones[0].energy.estimated);
  EXPECT_EQ(r->zones[0].energy.source, protocol::EnergySource::kEstimate);
  EXPECT_EQ(r->zones[0].energy.start_ns, r->start_ns);

  auto* j1 = find(*r, "1");
  ASSERT_NE(j1, nullptr);
  EXPECT_EQ(j1->energy.workload.kind, WorkloadKind::kSlurmJob);
  EXPECT_DOUBLE_EQ(j1->energy.cpu_seconds, 1.0);
  EXPECT_NEAR(j1->energy.energy_joules, 10.0, 1e-9);  // 1 CPU-second x 10 W
  EXPECT_NEAR(j1->energy.cpu_joules, 10.0, 1e-9);
  EXPECT_DOUBLE_EQ(j1->energy.idle_joules, 0);
  EXPECT_NEAR(j1->energy.carbon_gco2e, carbon_gco2e(10.0, CarbonModel{}), 1e-15);
  EXPECT_NEAR(j1->energy.embodied_gco2e, r->node_embodied_gco2e * 10 / r->node_energy_joules,
              1e-15);
  EXPECT_TRUE(j1->energy.estimated);
  EXPECT_NEAR(find(*r, "2")->energy.energy_joules, 5.0, 1e-9);
  EXPECT_EQ(find(*r, "3"), nullptr);
  EXPECT_NEAR(find(*r, "host")->energy.cpu_seconds, (busy_usec - 1.5e6) / 1e6, 1e-9);
  EXPECT_NEAR(find(*r, "unattributed")->energy.energy_joules, 100 * dt, 1e-9);
  EXPECT_NEAR(find(*r, "unattributed")->energy.idle_joules, 100 * dt, 1e-9);
  expect_conserved(*r);
  ASSERT_EQ(r->ended.size(), 1u);  // job 3's cgroup went away
  EXPECT_EQ(r->ended[0].workload.id, "3");
  EXPECT_EQ(r->ended[0].end_ns, r->end_ns);
  EXPECT_LE(r->ended[0].start_ns, r->start_ns);

  stat(700, 1000);
  job("1", 300);  // re-created with the same path: its counter restarted
  r = s.sample();
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(find(*r, "1")->energy.cpu_seconds, 300e-6);
  EXPECT_EQ(find(*r, "2"), nullptr);  // no CPU time, no energy: left out
  EXPECT_TRUE(r->ended.empty());
  expect_conserved(*r);
  EXPECT_EQ(s.stats().samples, 2u);
  EXPECT_EQ(s.stats().meminfo_errors, 3u);  // no meminfo in this fake /proc
}

// Green Algorithms (Lannelongue et al. 2021, eq. 1): a job on n_c cores at
// utilisation u_c with n_m GB of memory for t hours uses
// E = t x (n_c x P_c x u_c + n_m x P_m) x PUE x 0.001 kWh. The estimated mode
// must give the job that energy within 1% from the same inputs.
TEST_F(PowerSamplerTest, EstimateMatchesGreenAlgorithmsFormula) {
  const auto cpu = lookup_cpu_power("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz");
  ASSERT_TRUE(cpu);
  const double p_c = cpu->core_watts();  // 150 W / 20 cores
  const double n_m = 24;                 // GB
  stat(1000, 1000, 40);
  meminfo(192ull << 20, 100ull << 20);  // 192 GiB, 100 GiB available
  job("7", 0);
  const std::string dir = root_ + "/cg/system.slice/slurmstepd.scope/job_7";
  std::ofstream(dir + "/memory.current") << static_cast<uint64_t>(n_m * (1ull << 30)) << "\n";
  CarbonModel carbon;
  carbon.pue = 1.67;
  carbon.grid_intensity_gco2e_per_kwh = 231.12;
  PowerSamplerOptions options;
  options.proc_root = root_ + "/proc";
  options.estimate = {.idle_watts = 0, .core_watts = p_c};
  options.carbon = carbon;
  PowerSampler s(options, {},
                 workload::Resolver({workload::CgroupLayout::kV2, root_ + "/cg", {}},
                                    {.proc_root = options.proc_root}));
  ASSERT_FALSE(s.sample());
  // The job ran 4 cores at 90% (3.6 CPU-seconds per second) for 12 simulated
  // seconds: 43.2 CPU-seconds; the node was busier (other processes).
  job("7", 43'200'000);
  stat(1000 + 6000, 1000 + 4000, 40);
  auto r = s.sample();
  ASSERT_TRUE(r);
  const WorkloadSample* j = find(*r, "7");
  ASSERT_NE(j, nullptr);
  EXPECT_TRUE(j->energy.estimated);
  // Memory energy accrues over the real interval t; CPU energy per CPU-second.
  const double t_h = r->interval_seconds / 3600;
  const double n_c_u_c = 43.2 / r->interval_seconds;  // cores x utilisation over t
  const double ga_kwh = t_h * (n_c_u_c * p_c + n_m * kMemoryWattsPerGb) * carbon.pue * 0.001;
  const double ours_kwh = j->energy.energy_joules / kJoulesPerKwh * carbon.pue;
  EXPECT_NEAR(ours_kwh, ga_kwh, 0.01 * ga_kwh);
  EXPECT_NEAR(j->energy.carbon_gco2e, ga_kwh * carbon.grid_intensity_gco2e_per_kwh,
              0.01 * ga_kwh * carbon.grid_intensity_gco2e_per_kwh);
  EXPECT_NEAR(j->energy.dram_joules, n_m * kMemoryWattsPerGb * r->interval_seconds, 1e-9);
  EXPECT_NEAR(j->energy.cpu_joules, 43.2 * p_c, 1e-9);
  expect_conserved(*r);
}

TEST_F(PowerSamplerTest, AllocatedCoresChargeIdleByTheJobsCpusets) {
  stat(200, 800, 4);
  job("1", 0);
  std::ofstream(root_ + "/cg/system.slice/slurmstepd.scope/job_1/cpuset.cpus.effective") << "0-1\n";
  job("2", 0);  // cpuset unknown
  auto s = sampler(IdlePolicy::kAllocatedCores, {}, kModel);
  EXPECT_FALSE(s.sample());
  stat(600, 900, 4);
  job("1", 1'000'000);
  job("2", 1'000'000);
  auto r = s.sample();
  ASSERT_TRUE(r);
  const double dt = r->interval_seconds;
  EXPECT_NEAR(find(*r, "1")->energy.energy_joules, 10 + 100 * dt * 2 / 4, 1e-9);
  EXPECT_NEAR(find(*r, "1")->energy.idle_joules, 100 * dt * 2 / 4, 1e-9);
  EXPECT_NEAR(find(*r, "2")->energy.energy_joules, 10, 1e-9);
  EXPECT_NEAR(find(*r, "unattributed")->energy.energy_joules, 100 * dt / 2, 1e-9);
  expect_conserved(*r);
}

// IPMI DCMI through an injected transport (no BMC here): the wall is the node
// energy, the rest of it beyond the estimate-free parts goes to the CPU domain.
TEST_F(PowerSamplerTest, IpmiWallPowerIsTheMeasuredNodeEnergy) {
  uint16_t watts = 400;
  auto transport = [&watts](uint8_t net_fn, std::span<const uint8_t> rq,
                            std::string&) -> std::optional<std::vector<uint8_t>> {
    if (net_fn != 0x2C || rq.size() < 2 || rq[0] != 0x02 || rq[1] != 0xDC) return std::nullopt;
    std::vector<uint8_t> r = {0x02, 0x00, 0xDC, static_cast<uint8_t>(watts & 0xff),
                              static_cast<uint8_t>(watts >> 8)};
    r.resize(19, 0);
    r.push_back(0x40);  // measurement active
    return r;
  };
  stat(100, 100, 2);
  job("1", 0);
  PowerSources sources;
  sources.wall = std::make_unique<DcmiWallSource>(transport);
  auto s = sampler(IdlePolicy::kUnattributed, std::move(sources), {.idle_watts = 100});
  EXPECT_EQ(s.source(), protocol::EnergySource::kIpmi);
  EXPECT_FALSE(s.sample());
  watts = 600;
  stat(300, 100, 2);
  job("1", 2'000'000);
  auto r = s.sample();
  ASSERT_TRUE(r);
  const double dt = r->interval_seconds;
  EXPECT_FALSE(r->estimated);
  EXPECT_NEAR(r->node_energy_joules, 500 * dt, 1e-9);  // trapezoid of 400 W and 600 W
  ASSERT_EQ(r->zones.size(), 1u);
  EXPECT_EQ(r->zones[0].energy.source, protocol::EnergySource::kIpmi);
  EXPECT_FALSE(r->zones[0].energy.estimated);
  EXPECT_NEAR(find(*r, "1")->energy.energy_joules, 400 * dt, 1e-9);  // all the active part
  EXPECT_NEAR(find(*r, "unattributed")->energy.energy_joules, 100 * dt, 1e-9);
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

}  // namespace
}  // namespace vigie::power
