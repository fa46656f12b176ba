#include "vigie/power/estimate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

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

TEST(PowerEstimate, CpuAndMemoryJoules) {
  EstimateModel m{.idle_watts = 50, .core_watts = 7.5};
  EXPECT_DOUBLE_EQ(estimate_cpu_joules(m, 2.0, 3.0), 50 * 2.0 + 7.5 * 3.0);
  EXPECT_DOUBLE_EQ(estimate_cpu_joules(m, -1, std::nan("")), 0.0);
  EXPECT_DOUBLE_EQ(estimate_memory_joules(m, 10, 16 * (1ull << 30)), 16 * 0.3725 * 10);
}

TEST(PowerEstimate, TdpTableLooksUpWholeModelNames) {
  auto gold = lookup_cpu_power("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz");
  ASSERT_TRUE(gold);
  EXPECT_EQ(gold->model, "Gold 6248");
  EXPECT_DOUBLE_EQ(gold->core_watts(), 150.0 / 20);
  EXPECT_EQ(lookup_cpu_power("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz")->model, "Gold 6248R");
  EXPECT_EQ(lookup_cpu_power("AMD EPYC 7763 64-Core Processor")->cores, 64u);
  EXPECT_FALSE(lookup_cpu_power("Intel(R) Xeon(R) Gold 62480 CPU"));
  EXPECT_FALSE(lookup_cpu_power("QEMU Virtual CPU version 2.5+"));
  EXPECT_EQ(parse_cpu_model_name("processor\t: 0\nvendor_id\t: AuthenticAMD\n"
                                 "model name\t: AMD EPYC 7742 64-Core Processor\nflags\t: x\n"),
            "AMD EPYC 7742 64-Core Processor");
  EXPECT_EQ(parse_cpu_model_name("processor : 0\n"), "");
}

TEST(PowerCarbon, KnownValue) {
  // 1 kWh x PUE 1.4 x 56 gCO2e/kWh = 78.4 gCO2e.
  EXPECT_DOUBLE_EQ(carbon_gco2e(3.6e6, CarbonModel{}), 78.4);
  EXPECT_DOUBLE_EQ(carbon_gco2e(1800, CarbonModel{.pue = 1.2, .grid_intensity_gco2e_per_kwh = 400}),
                   0.24);
  EXPECT_DOUBLE_EQ(carbon_gco2e(0, CarbonModel{}), 0.0);
}

TEST(PowerCarbon, EmbodiedAmortisedOverTheLifetime) {
  CarbonModel m;
  m.embodied_kgco2e = 1461;  // 1 kg a day over 4 years of 365.25 days
  m.lifetime_years = 4;
  EXPECT_NEAR(embodied_gco2e(m, 86400), 1000, 1e-9);
  EXPECT_DOUBLE_EQ(embodied_gco2e(m, 0), 0);
  m.lifetime_years = 0;
  EXPECT_DOUBLE_EQ(embodied_gco2e(m, 86400), 0);
}

TEST(PowerCarbon, GenericCsvSeriesIsAStepFunction) {
  auto s = TimeSeries::parse_csv(
      "time,gco2e_per_kwh\n"
      "2024-03-01T01:00:00Z,80\n"
      "1709251200,60\n"  // 2024-03-01T00:00:00Z
      "2024-03-01T02:00:00+00:00,40.5\n",
      "gco2e_per_kwh");
  ASSERT_EQ(s.points().size(), 3u);
  EXPECT_EQ(s.points()[0].time_s, 1709251200u);
  double v = 0;
  EXPECT_FALSE(s.at(1709251199, v));
  ASSERT_TRUE(s.at(1709251200 + 3599, v));
  EXPECT_DOUBLE_EQ(v, 60);
  ASSERT_TRUE(s.at(1709251200 + 3600, v));
  EXPECT_DOUBLE_EQ(v, 80);
  ASSERT_TRUE(s.at(1709251200 + 7200 + 86400, v));
  EXPECT_DOUBLE_EQ(v, 40.5);
  EXPECT_FALSE(s.at(1709251200 + 7200 + 3 * 86400, v));  // beyond the series: stale

  CarbonModel m;
  m.grid_intensity_series = std::make_shared<TimeSeries>(s);
  auto f = carbon_factors(m, 1709251200 + 10);
  EXPECT_DOUBLE_EQ(f.grid_intensity_gco2e_per_kwh, 60);
  EXPECT_FALSE(f.series_miss);
  f = carbon_factors(m, 100);
  EXPECT_DOUBLE_EQ(f.grid_intensity_gco2e_per_kwh, 56);  // the static fallback
  EXPECT_TRUE(f.series_miss);

  EXPECT_THROW(TimeSeries::parse_csv("when,value\n1,2\n", "value"), std::runtime_error);
  EXPECT_THROW(TimeSeries::parse_csv("time,pue\n1,x\n", "pue"), std::runtime_error);
  EXPECT_THROW(TimeSeries::parse_csv("time,pue\n", "pue"), std::runtime_error);
  try {
    TimeSeries::parse_csv("time;pue\n1;1.3\n2024-13-01T00:00;1.2\n", "pue");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  }
}

TEST(PowerCarbon, Eco2mixCsvInFrenchLegalTime) {
  // An excerpt in the layout of RTE's eCO2mix downloads (';' separated, French
  // local time, forecast rows without a CO2 rate).
  auto s = TimeSeries::parse_csv(
      "Périmètre;Nature;Date;Heures;Consommation;Taux de Co2\n"
      "France;Données temps réel;2024-01-15;00:00;70000;32\n"
      "France;Données temps réel;2024-07-15;14:30;45000;18\n"
      "France;Données temps réel;2024-07-15;14:45;45000;\n",
      "gco2e_per_kwh");
  ASSERT_EQ(s.points().size(), 2u);
  EXPECT_EQ(s.points()[0].time_s, 1705273200u);  // 2024-01-14T23:00:00Z (CET, UTC+1)
  EXPECT_EQ(s.points()[1].time_s, 1721046600u);  // 2024-07-15T12:30:00Z (CEST, UTC+2)
  // Summer time starts on the last Sunday of March at 01:00 UTC (2024-03-31).
  EXPECT_EQ(paris_local_to_utc(2024, 3, 31, 1, 0), 1711843200u);   // 00:00Z, still CET
  EXPECT_EQ(paris_local_to_utc(2024, 3, 31, 4, 0), 1711850400u);   // 02:00Z, CEST
  EXPECT_EQ(paris_local_to_utc(2024, 10, 27, 4, 0), 1729998000u);  // 03:00Z, CET again
}

TEST(PowerCarbon, PueSeriesFromAFacilityFeed) {
  std::string dir = (std::filesystem::temp_directory_path() / "vigie-pue-XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  std::ofstream(dir + "/pue.csv") << "timestamp,pue\n1700000000,1.25\n1700000900,1.31\n";
  CarbonModel m;
  m.pue_series = std::make_shared<TimeSeries>(TimeSeries::load_csv(dir + "/pue.csv", "pue"));
  EXPECT_THROW(TimeSeries::load_csv(dir + "/absent.csv", "pue"), std::runtime_error);
  std::filesystem::remove_all(dir);
  EXPECT_DOUBLE_EQ(carbon_factors(m, 1700000950).pue, 1.31);
  EXPECT_DOUBLE_EQ(carbon_gco2e(3.6e6, carbon_factors(m, 1700000100)), 1.25 * 56);
}

}  // namespace
}  // namespace vigie::power

namespace vigie::power {
namespace {

// What a hypervisor shows: a bare family name, and the "hypervisor" flag.
constexpr const char* kVmCpuinfo =
    "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n"
    "flags\t\t: fpu vme de pse tsc msr hypervisor lahf_lm\n\nprocessor\t: 1\n";

TEST(PowerEstimate, AVirtualMachineIsChargedPerVcpuWithNoServerIdlePower) {
  ASSERT_TRUE(cpuinfo_is_virtual(kVmCpuinfo));
  EXPECT_FALSE(cpuinfo_is_virtual("flags\t\t: fpu vme hypervisorx\n"));
  EXPECT_FALSE(cpuinfo_is_virtual("model name\t: Xeon\n"));
  const auto vm = choose_estimate(parse_cpu_model_name(kVmCpuinfo), true, 2, {});
  EXPECT_EQ(vm.model.idle_watts, 0);
  EXPECT_EQ(vm.model.core_watts, 4.55);  // Green Algorithms' EPYC median per core
  EXPECT_TRUE(vm.virtual_machine);
  EXPECT_NE(
      vm.basis.find("AMD EPYC median TDP per core = 4.55 W per vCPU; idle 0 W (virtual machine)"),
      std::string::npos)
      << vm.basis;
  // Two busy vCPUs for an hour: 9.1 Wh, where the node defaults charged 180 Wh.
  EXPECT_DOUBLE_EQ(estimate_cpu_joules(vm.model, 3600, 2 * 3600), 2 * 4.55 * 3600);
  // What the site configured still wins.
  const auto set = choose_estimate("AMD EPYC", true, 2, {.idle_watts = 10.0, .max_watts = 50.0});
  EXPECT_EQ(set.model.idle_watts, 10);
  EXPECT_EQ(set.model.core_watts, 20);  // (50 - 10) / 2
  EXPECT_EQ(choose_estimate("AMD EPYC", true, 2, {.core_watts = 3}).model.core_watts, 3);
  // Bare metal keeps the node's idle power.
  EXPECT_EQ(
      choose_estimate("Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz", false, 28, {}).model.idle_watts,
      60);
}

TEST(PowerEstimate, FamiliesFallBackToGreenAlgorithmsMedians) {
  EXPECT_EQ(lookup_cpu_family("AMD EPYC 7B13 64-Core Processor").family, "AMD EPYC");
  EXPECT_EQ(lookup_cpu_family("Intel Xeon Processor (Icelake)").core_watts, 9.4);
  EXPECT_EQ(lookup_cpu_family("Intel(R) Core(TM) i7-8665U CPU @ 1.90GHz").family, "Intel Core");
  EXPECT_EQ(lookup_cpu_family("AMD Ryzen 9 7950X").core_watts, 10.8);
  EXPECT_EQ(lookup_cpu_family("Neoverse-N1").family, "Any");
  EXPECT_EQ(lookup_cpu_family("").core_watts, 12.0);
  // An exact model still comes first.
  EXPECT_EQ(choose_estimate("AMD EPYC 7763 64-Core Processor", true, 8, {}).model.core_watts,
            280.0 / 64);
}

// Green Algorithms' CPU table (the corpus' TDP_cpu.csv): every model Vigie's
// table shares with it charges the same per-core power within 1 %, and the
// family medians are those of its rows.
TEST(PowerEstimate, ParityWithGreenAlgorithmsCpuTable) {
  std::ifstream in(std::string(VIGIE_SOURCE_DIR) +
                   "/../shared/corpus/sustainability/green-algorithms/TDP_cpu.csv");
  ASSERT_TRUE(in) << "the corpus' Green Algorithms table";
  std::string line;
  std::map<std::string, std::vector<double>> families;
  int shared = 0;
  for (int n = 0; std::getline(in, line); ++n) {
    if (n < 2) continue;  // two header lines
    std::vector<std::string> cells;
    std::stringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    if (cells.size() < 4 || cells[3].empty()) continue;
    const double per_core = std::stod(cells[3]);
    const std::string model = cells[0];
    if (const auto entry = lookup_cpu_power(model)) {
      ++shared;
      EXPECT_NEAR(entry->core_watts(), per_core, per_core * 0.01 + 0.05) << model;
    }
    const CpuFamilyPower family = lookup_cpu_family(model);
    if (family.family != "Any") families[std::string(family.family)].push_back(per_core);
  }
  EXPECT_GE(shared, 3);
  for (auto& [family, values] : families) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    const double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
    EXPECT_NEAR(lookup_cpu_family(family).core_watts, median, 1e-9) << family << " over " << n;
  }
  // Green Algorithms' eq. (1) on its own inputs: 12 cores of a Xeon E5-2683 v4
  // (7.5 W each) at 100 % for 12 h with 64 GB: (12 x 7.5 + 64 x 0.3725) x 12 h.
  const EstimateModel model =
      choose_estimate("Xeon E5-2683 v4", false, 12, {.idle_watts = 0.0}).model;
  const double joules = estimate_cpu_joules(model, 12 * 3600, 12 * 12 * 3600) +
                        estimate_memory_joules(model, 12 * 3600, 64 * (1ull << 30));
  EXPECT_NEAR(joules / 3.6e6, (12 * 7.5 + 64 * 0.3725) * 12 / 1000, 0.01 * 1.37);
}

}  // namespace
}  // namespace vigie::power
