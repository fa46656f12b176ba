#include "vigie/power/estimate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "vigie/power/carbon.h"
#include "vigie/power/proc_stat.h"

namespace vigie::power {
namespace {

// user nice system idle iowait irq softirq steal guest guest_nice
constexpr const char* kBefore =
    "cpu  1000 20 300 5000 100 10 20 500 40 0\ncpu0 500 10 150 2500 50 5 10 250 20 0\n";
constexpr const char* kAfter =
    "cpu  1200 30 360 5080 120 15 25 900 60 0\ncpu0 600 15 180 2540 60 7 12 450 30 0\n";

TEST(PowerProcStat, ParsesTheAggregateLine) {
  auto before = parse_proc_stat(kBefore);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->busy_ticks, 1000u + 20 + 300 + 10 + 20);  // steal and guest not added
  EXPECT_EQ(before->idle_ticks, 5100u);
  EXPECT_EQ(before->cpus, 1u);
  EXPECT_EQ(parse_proc_stat("cpu  1 2 3 4 5 6 7\ncpu0 1\ncpu1 1\ncpu17 1\nintr 1 cpu2\n")->cpus,
            3u);
  EXPECT_EQ(parse_proc_stat("cpu  1 2 3 4 5 6 7")->cpus, 0u);
  EXPECT_TRUE(parse_proc_stat("intr 1 2\ncpu  1 2 3 4 5 6 7\n"));
  EXPECT_FALSE(parse_proc_stat(""));
  EXPECT_FALSE(parse_proc_stat("cpu  1 2 3\n"));
  EXPECT_FALSE(parse_proc_stat("cpu  1 2 x 4 5 6 7\n"));
  EXPECT_FALSE(parse_proc_stat("cpu0 1 2 3 4 5 6 7\n"));
  EXPECT_FALSE(parse_proc_stat("cpu  99999999999999999999999 2 3 4 5 6 7\n"));
}

TEST(PowerProcStat, ReadsAProcRootAndTicksToUsec) {
  std::string dir = (std::filesystem::temp_directory_path() / "vigie-procstat-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  EXPECT_FALSE(read_proc_stat(dir));
  std::ofstream(dir + "/stat") << kAfter;
  auto t = read_proc_stat(dir);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->idle_ticks, 5200u);
  EXPECT_DOUBLE_EQ(ticks_to_usec(3), 3e6 / static_cast<double>(::sysconf(_SC_CLK_TCK)));
  auto real = read_proc_stat("/proc");
  ASSERT_TRUE(real);
  EXPECT_EQ(real->cpus, static_cast<uint32_t>(::sysconf(_SC_NPROCESSORS_ONLN)));
}

TEST(PowerEstimate, FakeProcStatPairGivesTheExpectedJoules) {
  auto before = *parse_proc_stat(kBefore);
  auto after = *parse_proc_stat(kAfter);
  // busy +300 ticks (200 user, 10 nice, 60 system, 5 irq, 5 softirq...), idle +100.
  const uint64_t busy = after.busy_ticks - before.busy_ticks;
  const uint64_t idle = after.idle_ticks - before.idle_ticks;
  ASSERT_EQ(busy, 280u);
  ASSERT_EQ(idle, 100u);
  const double u = 280.0 / 380.0;
  EXPECT_DOUBLE_EQ(CpuUtilisationEstimate::utilisation(before, after), u);
  CpuUtilisationEstimate estimate({.idle_watts = 90, .max_watts = 290});
  EXPECT_DOUBLE_EQ(estimate.energy_joules(before, after, 2.0), (90 + 200 * u) * 2.0);
  // Idle: P = idle_watts; fully busy: P = max_watts.
  CpuTimes t0{100, 100};
  EXPECT_DOUBLE_EQ(estimate.energy_joules(t0, CpuTimes{100, 200}, 1.0), 90.0);
  EXPECT_DOUBLE_EQ(estimate.energy_joules(t0, CpuTimes{300, 100}, 0.5), 145.0);
  // No tick elapsed, counters backwards, or no time: idle power or nothing, never negative.
  EXPECT_DOUBLE_EQ(estimate.energy_joules(t0, t0, 1.0), 90.0);
  EXPECT_DOUBLE_EQ(estimate.energy_joules(after, before, 1.0), 90.0);
  EXPECT_DOUBLE_EQ(estimate.energy_joules(before, after, 0), 0.0);
  EXPECT_DOUBLE_EQ(estimate.energy_joules(before, after, -1), 0.0);
}

TEST(PowerCarbon, KnownValue) {
  // 1 kWh x PUE 1.4 x 56 gCO2e/kWh = 78.4 gCO2e.
  EXPECT_DOUBLE_EQ(carbon_gco2e(3.6e6, CarbonModel{}), 78.4);
  EXPECT_DOUBLE_EQ(carbon_gco2e(1800, CarbonModel{.pue = 1.2, .grid_intensity_gco2e_per_kwh = 400}),
                   0.24);
  EXPECT_DOUBLE_EQ(carbon_gco2e(0, CarbonModel{}), 0.0);
}

}  // namespace
}  // namespace vigie::power
