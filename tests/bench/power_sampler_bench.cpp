// Power sampling at 1 Hz with N Slurm jobs (cgroup v2 layout in a temporary
// tree, each with cpu.stat, memory.current and cpuset): CPU time one sample()
// costs, as % of one core at 1 Hz, and the resident memory after many
// samples, against a baseline of the same sampler with no workload, measured
// in the same run. /proc/stat is a copy (its counters do not move), so the
// node's busy time is 0 and attribution takes its no-CPU path. Usage: power_sampler_bench
// [workloads=500] [samples=200]
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "vigie/power/power_sampler.h"

namespace fs = std::filesystem;
using namespace vigie;

namespace {

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

// CPU seconds per sample over `samples` samples, the counters advancing between them.
double measure(const std::string& root, int workloads, int samples) {
  power::PowerSamplerOptions options;
  options.proc_root = root + "/proc";
  options.estimate = {.idle_watts = 100, .core_watts = 7.5};
  power::PowerSampler sampler(options, {},
                              workload::Resolver({workload::CgroupLayout::kV2, root + "/cg", {}},
                                                 {.proc_root = options.proc_root}));
  sampler.sample();
  double cpu = 0;
  for (int i = 0; i < samples; ++i) {
    for (int j = 0; j < workloads; j += 50)  // some jobs progress between samples
      std::ofstream(root + "/cg/system.slice/slurmstepd.scope/job_" + std::to_string(j) +
                    "/cpu.stat")
          << "usage_usec " << (i + 1) * 1000 << "\n";
    double t0 = cpu_seconds();
    auto s = sampler.sample();
    cpu += cpu_seconds() - t0;
    if (!s || s->workloads.size() < static_cast<size_t>(workloads) / 10) std::abort();
  }
  return cpu / samples;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 500;
  const int samples = argc > 2 ? std::atoi(argv[2]) : 200;
  std::string root = (fs::temp_directory_path() / "vigie-power-bench-XXXXXX").string();
  if (!::mkdtemp(root.data())) return 1;
  fs::create_directories(root + "/cg/system.slice/slurmstepd.scope");
  // A /proc with the real stat and meminfo, and one process per job owned by a
  // user (as real jobs are), so that each job's owner is read once and kept.
  auto fake_proc = [](const std::string& dir, int jobs) {
    fs::create_directories(dir + "/proc");
    for (const char* file : {"stat", "meminfo"})  // procfs files report size 0: stream them
      std::ofstream(dir + "/proc/" + file) << std::ifstream(std::string("/proc/") + file).rdbuf();
    for (int j = 0; j < jobs; ++j) {
      std::string p = dir + "/proc/" + std::to_string(100000 + j);
      fs::create_directories(p);
      std::ofstream(p + "/status") << "Name:\tjob\nUid:\t1000\t1000\t1000\t1000\n";
      std::ofstream(p + "/environ") << "HOME=/home/u" << '\0' << "SLURM_JOB_ACCOUNT=proj" << '\0';
    }
  };
  const std::string empty = root + "/empty";
  fs::create_directories(empty + "/cg");
  fake_proc(empty, 0);
  fake_proc(root, n);
  const double base = measure(empty, 0, samples);
  const long rss_base = rss_kib();
  for (int j = 0; j < n; ++j) {
    std::string dir = root + "/cg/system.slice/slurmstepd.scope/job_" + std::to_string(j);
    fs::create_directories(dir);
    std::ofstream(dir + "/cpu.stat") << "usage_usec 0\n";
    std::ofstream(dir + "/memory.current") << (j + 1) * 1048576 << "\n";
    std::ofstream(dir + "/cpuset.cpus.effective") << "0-1\n";
    std::ofstream(dir + "/cgroup.procs") << 100000 + j << "\n";
  }
  const double with = measure(root, n, samples);
  const long rss_with = rss_kib();
  const double more = measure(root, n, samples);  // memory stays bounded over more samples
  const long rss_after = rss_kib();
  fs::remove_all(root);
  std::printf("power sampling at 1 Hz, %d samples each\n", samples);
  std::printf("  baseline (no workload): %.4f %% of one core\n", base * 100);
  std::printf("  %d workloads:           %.4f %% of one core (%.1fx baseline), %.3f ms/sample\n", n,
              with * 100, base > 0 ? with / base : 0.0, with * 1e3);
  std::printf("  again:                  %.4f %% of one core\n", more * 100);
  std::printf("  RSS: %ld KiB baseline, %ld KiB with %d workloads, %ld KiB after %d more samples\n",
              rss_base, rss_with, n, rss_after, samples);
  return 0;
}
