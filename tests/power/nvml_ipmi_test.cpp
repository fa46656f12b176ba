// NVML through the real dlopen path against a fake libnvidia-ml built by the
// tests (same symbols and signatures), and IPMI DCMI response parsing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "vigie/power/ipmi_dcmi.h"
#include "vigie/power/nvml_source.h"
#include "vigie/power/power_sampler.h"

namespace vigie::power {
namespace {

namespace fs = std::filesystem;

class NvmlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vigie-nvml-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    ::setenv("FAKE_NVML_STATE", (dir_ + "/state").c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("FAKE_NVML_STATE");
    fs::remove_all(dir_);
  }
  void state(const std::string& text) { std::ofstream(dir_ + "/state") << text; }
  std::string dir_;
};

TEST_F(NvmlTest, CounterDeltasAndProcessesPerGpu) {
  // GPU 0 has the energy counter; GPU 1 (pre-Volta) only power.
  state("1000000 250000 4242:1073741824 77:0\n- 100000\n");
  std::string error;
  auto nvml = NvmlSource::open(error, FAKE_NVML_LIBRARY);
  ASSERT_NE(nvml, nullptr) << error;
  EXPECT_EQ(nvml->gpu_count(), 2u);
  EXPECT_TRUE(nvml->read().gpus.empty());  // primes
  state("1250500 250000 4242:1073741824 77:0\n- 300000\n");
  auto r = nvml->read();
  ASSERT_EQ(r.gpus.size(), 2u);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.gpus[0].zone, "gpu-0");
  EXPECT_DOUBLE_EQ(r.gpus[0].energy_joules, 250.5);  // mJ counter difference
  EXPECT_FALSE(r.gpus[0].integrated);
  ASSERT_EQ(r.gpus[0].processes.size(), 2u);
  EXPECT_EQ(r.gpus[0].processes[0].pid, 4242u);
  EXPECT_EQ(r.gpus[0].processes[0].used_memory_bytes, 1073741824u);
  EXPECT_TRUE(r.gpus[1].integrated);
  EXPECT_GT(r.gpus[1].energy_joules, 0);  // (100 W + 300 W) / 2 x the elapsed time
  EXPECT_TRUE(r.gpus[1].processes.empty());
  // Driver reloaded: the counter restarts; its new value is the interval's energy.
  state("2000 250000\n- 300000\n");
  r = nvml->read();
  EXPECT_DOUBLE_EQ(r.gpus[0].energy_joules, 2.0);
}

TEST_F(NvmlTest, ClearErrors) {
  std::string error;
  EXPECT_EQ(NvmlSource::open(error, "/nonexistent/libnvidia-ml.so.1"), nullptr);
  EXPECT_NE(error.find("no NVML: "), std::string::npos) << error;
  state("init_error\n");
  EXPECT_EQ(NvmlSource::open(error, FAKE_NVML_LIBRARY), nullptr);
  EXPECT_EQ(error, "no NVML: nvmlInit_v2: Driver Not Loaded");
  state("");
  EXPECT_EQ(NvmlSource::open(error, FAKE_NVML_LIBRARY), nullptr);
  EXPECT_EQ(error, "no NVML: no GPU");
  EXPECT_EQ(NvmlSource::open(error, VIGIE_BINARY_DIR "/tests/power/libfake_nvml_broken.so"),
            nullptr);
}

// GPU energy goes to the workload whose process holds the GPU: this test
// process, in a Slurm-like cgroup of a fake tree, is the holder.
TEST_F(NvmlTest, SamplerChargesGpuEnergyToTheHoldingWorkload) {
  const std::string cg = dir_ + "/cg", proc = dir_ + "/proc";
  const std::string job = "/system.slice/slurmstepd.scope/job_55";
  fs::create_directories(cg + job);
  std::ofstream(cg + job + "/cpu.stat") << "usage_usec 0\n";
  fs::create_directories(proc + "/4242");
  std::ofstream(proc + "/4242/cgroup") << "0::" << job << "/step_0\n";
  auto stat = [&](int busy) {
    std::ofstream(proc + "/stat") << "cpu  " << busy << " 0 0 100 0 0 0 0 0 0\ncpu0 0\n";
  };
  stat(0);
  state("0 0 4242:0\n");
  std::string error;
  PowerSources sources;
  sources.nvml = NvmlSource::open(error, FAKE_NVML_LIBRARY);
  ASSERT_NE(sources.nvml, nullptr) << error;
  PowerSamplerOptions options;
  options.proc_root = proc;
  PowerSampler s(options, std::move(sources),
                 workload::Resolver({workload::CgroupLayout::kV2, cg, {}}, {.proc_root = proc}));
  ASSERT_FALSE(s.sample());
  state("90000 0 4242:0\n");
  stat(10);
  auto r = s.sample();
  ASSERT_TRUE(r);
  const WorkloadSample* holder = nullptr;
  double sum = 0;
  for (const auto& w : r->workloads) {
    sum += w.energy.energy_joules;
    if (w.energy.workload.id == "55") holder = &w;
  }
  ASSERT_NE(holder, nullptr);
  EXPECT_DOUBLE_EQ(holder->energy.gpu_joules, 90);
  EXPECT_NEAR(sum, r->node_energy_joules, 1e-9);
  bool gpu_zone = false;
  for (const auto& z : r->zones)
    if (z.energy.zone == "gpu-0") {
      gpu_zone = true;
      EXPECT_EQ(z.energy.source, protocol::EnergySource::kNvml);
      EXPECT_DOUBLE_EQ(z.energy.energy_joules, 90);
    }
  EXPECT_TRUE(gpu_zone);
}

std::vector<uint8_t> dcmi_response(uint16_t current, uint8_t state = 0x40) {
  // cmd, completion, group, current, min, max, avg, timestamp, period, state
  return {0x02,
          0x00,
          0xDC,
          static_cast<uint8_t>(current),
          static_cast<uint8_t>(current >> 8),
          0x64,
          0x00,
          0x2C,
          0x01,
          0xC8,
          0x00,
          0x78,
          0x56,
          0x34,
          0x12,
          0xE8,
          0x03,
          0x00,
          0x00,
          state};
}

TEST(PowerIpmi, ParsesDcmiPowerReading) {
  std::string error;
  auto r = parse_dcmi_power_reading(dcmi_response(0x0155), error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->current_watts, 341);
  EXPECT_EQ(r->minimum_watts, 100);
  EXPECT_EQ(r->maximum_watts, 300);
  EXPECT_EQ(r->average_watts, 200);
  EXPECT_EQ(r->timestamp, 0x12345678u);
  EXPECT_EQ(r->statistics_period_ms, 1000u);
  EXPECT_TRUE(r->active);

  EXPECT_FALSE(parse_dcmi_power_reading(dcmi_response(1, 0x00), error));
  EXPECT_EQ(error, "DCMI power reading: power measurement is not active on this BMC");
  EXPECT_FALSE(parse_dcmi_power_reading(std::vector<uint8_t>{0x02, 0xC1}, error));
  EXPECT_EQ(error, "DCMI power reading: completion code 0xc1");
  auto shorter = dcmi_response(1);
  shorter.resize(10);
  EXPECT_FALSE(parse_dcmi_power_reading(shorter, error));
  EXPECT_EQ(error, "DCMI power reading: response of 10 bytes, expected 20");
  auto group = dcmi_response(1);
  group[2] = 0x00;
  EXPECT_FALSE(parse_dcmi_power_reading(group, error));
  EXPECT_EQ(error, "DCMI power reading: group extension 0x00");
  EXPECT_FALSE(parse_dcmi_power_reading(std::vector<uint8_t>{}, error));
}

TEST(PowerIpmi, WallSourceIntegratesAndCountsFailures) {
  std::vector<std::optional<std::vector<uint8_t>>> replies = {dcmi_response(200), std::nullopt,
                                                              dcmi_response(400)};
  size_t next = 0;
  DcmiWallSource wall([&](uint8_t, std::span<const uint8_t>,
                          std::string& error) -> std::optional<std::vector<uint8_t>> {
    auto r = replies[next++];
    if (!r) error = "IPMI: timeout";
    return r;
  });
  auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  std::string error;
  EXPECT_FALSE(wall.read(t0, error));  // primes
  EXPECT_FALSE(wall.read(t0 + std::chrono::seconds(1), error));
  EXPECT_EQ(error, "IPMI: timeout");
  EXPECT_EQ(wall.errors(), 1u);
  auto e = wall.read(t0 + std::chrono::seconds(2), error);  // bridges the failed read
  ASSERT_TRUE(e);
  EXPECT_DOUBLE_EQ(e->energy_joules, 600);  // (200 + 400) / 2 W x 2 s
  EXPECT_DOUBLE_EQ(e->power_watts, 400);
}

TEST(PowerIpmi, RealInbandProbeReadsPowerOrSaysWhy) {
  // The real freeipmi in-band probe: where a BMC answers (a server), two reads
  // give a power figure; where none does (a VM), a clear error, never a crash.
  std::string error;
  auto transport = open_freeipmi_inband(error);
  if (!transport) {
    EXPECT_EQ(error.rfind("no IPMI: ", 0), 0u) << error;
    return;
  }
  DcmiWallSource wall(std::move(transport));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(wall.read(t0, error));  // primes
  ASSERT_TRUE(error.empty()) << error;
  const auto e = wall.read(t0 + std::chrono::seconds(1), error);
  ASSERT_TRUE(e) << error;
  EXPECT_GE(e->power_watts, 0);
}

}  // namespace
}  // namespace vigie::power
