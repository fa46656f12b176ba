// Power sampling at 1 Hz with N Slurm jobs (cgroup v2 layout in a temporary
// tree, each with cpu.stat, memory.current and cpuset): CPU time one sample()
// costs, as % of one core at 1 Hz, and the resident memory after many
// samples, against a baseline of the same sampler with no workload, measured
// in the same run. /proc/stat is a copy (its counters do not move), so the
// node's busy time is 0 and attribution takes its no-CPU path. As root, the
// same again on real cgroup v1 hierarchies (cpuacct, memory: Slurm's
// cgroup/v1 layout slurm/uid_U/job_J), each job holding one sleeping process
// of an unprivileged user, as the kernel serves them in production.
// Usage: power_sampler_bench [workloads=500] [samples=200]
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

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

// CPU seconds per sample over `samples` samples; `advance(i)` moves counters between them.
template <typename Advance>
double measure(workload::CgroupMounts mounts, const std::string& proc_root, int workloads,
               int samples, Advance&& advance) {
  power::PowerSamplerOptions options;
  options.proc_root = proc_root;
  options.estimate = {.idle_watts = 100, .core_watts = 7.5};
  power::PowerSampler sampler(options, {},
                              workload::Resolver(std::move(mounts), {.proc_root = proc_root}));
  sampler.sample();
  double cpu = 0;
  for (int i = 0; i < samples; ++i) {
    advance(i);
    double t0 = cpu_seconds();
    auto s = sampler.sample();
    cpu += cpu_seconds() - t0;
    if (!s || s->workloads.size() < static_cast<size_t>(workloads) / 10) std::abort();
  }
  return cpu / samples;
}

double measure_tree(const std::string& root, int workloads, int samples) {
  return measure({workload::CgroupLayout::kV2, root + "/cg", {}}, root + "/proc", workloads,
                 samples, [&](int i) {
                   for (int j = 0; j < workloads; j += 50)  // some jobs progress between samples
                     std::ofstream(root + "/cg/system.slice/slurmstepd.scope/job_" +
                                   std::to_string(j) + "/cpu.stat")
                         << "usage_usec " << (i + 1) * 1000 << "\n";
                 });
}

// Real cgroup v1 jobs under /sys/fs/cgroup/{cpuacct,memory}/<name>; -1 when not possible.
double measure_real_v1(int n, int samples) {
  const std::string name = "vigie-power-bench-" + std::to_string(::getpid());
  workload::CgroupMounts mounts{workload::CgroupLayout::kV1, "", {}};
  for (const char* c : {"cpuacct", "memory"}) {
    std::error_code ec;
    if (::geteuid() != 0 ||
        !fs::create_directory("/sys/fs/cgroup/" + std::string(c) + "/" + name, ec))
      return -1;
    mounts.v1[c] = "/sys/fs/cgroup/" + std::string(c) + "/" + name;
  }
  std::vector<pid_t> pids;
  for (int j = 0; j < n; ++j) {
    pid_t pid = ::fork();
    if (pid == 0) {
      if (::setuid(65534) != 0) ::_exit(1);
      ::pause();
      ::_exit(0);
    }
    pids.push_back(pid);
    for (const auto& [c, dir] : mounts.v1) {
      std::string job = dir + "/slurm/uid_65534/job_" + std::to_string(j);
      fs::create_directories(job);
      std::ofstream(job + "/cgroup.procs") << pid << "\n";
    }
  }
  const double cost = measure(mounts, "/proc", n, samples, [](int) {});
  for (pid_t pid : pids) ::kill(pid, SIGKILL);
  for (pid_t pid : pids) ::waitpid(pid, nullptr, 0);
  for (const auto& [c, dir] : mounts.v1) {  // cgroupfs: rmdir, deepest first
    for (int j = 0; j < n; ++j) fs::remove(dir + "/slurm/uid_65534/job_" + std::to_string(j));
    fs::remove(dir + "/slurm/uid_65534");
    fs::remove(dir + "/slurm");
    fs::remove(dir);
  }
  return cost;
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
  const double base = measure_tree(empty, 0, samples);
  const long rss_base = rss_kib();
  for (int j = 0; j < n; ++j) {
    std::string dir = root + "/cg/system.slice/slurmstepd.scope/job_" + std::to_string(j);
    fs::create_directories(dir);
    std::ofstream(dir + "/cpu.stat") << "usage_usec 0\n";
    std::ofstream(dir + "/memory.current") << (j + 1) * 1048576 << "\n";
    std::ofstream(dir + "/cpuset.cpus.effective") << "0-1\n";
    std::ofstream(dir + "/cgroup.procs") << 100000 + j << "\n";
  }
  const double with = measure_tree(root, n, samples);
  const long rss_with = rss_kib();
  const double more = measure_tree(root, n, samples);  // memory stays bounded over more samples
  const long rss_after = rss_kib();
  fs::remove_all(root);
  const double real = measure_real_v1(n, samples);
  std::printf("power sampling at 1 Hz, %d samples each\n", samples);
  std::printf("  baseline (no workload): %.4f %% of one core\n", base * 100);
  std::printf("  %d workloads:           %.4f %% of one core (%.1fx baseline), %.3f ms/sample\n", n,
              with * 100, base > 0 ? with / base : 0.0, with * 1e3);
  std::printf("  again:                  %.4f %% of one core\n", more * 100);
  std::printf("  RSS: %ld KiB baseline, %ld KiB with %d workloads, %ld KiB after %d more samples\n",
              rss_base, rss_with, n, rss_after, samples);
  if (real < 0)
    std::printf(
        "  real cgroup v1 jobs: not measured (needs root and /sys/fs/cgroup/{cpuacct,memory})\n");
  else
    std::printf("  %d real cgroup v1 jobs:  %.4f %% of one core (%.1fx baseline), %.3f ms/sample\n",
                n, real * 100, base > 0 ? real / base : 0.0, real * 1e3);
  return 0;
}
