// Resolver and scan_cpu() against this machine's real cgroup hierarchies (run as root):
// a forked child is moved into a Slurm-like job cgroup and burns CPU.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "vigie/workload/layout.h"
#include "vigie/workload/resolver.h"

namespace vigie::workload {
namespace {

namespace fs = std::filesystem;
using protocol::WorkloadKind;

constexpr const char* kJob = "4242";

// Creates the job's cgroups, owns the burning child, and undoes everything.
class SlurmLikeJob {
 public:
  explicit SlurmLikeJob(const CgroupMounts& mounts) {
    if (!mounts.v2_root.empty())
      v2_step_ = make(mounts.v2_root,
                      "/system.slice/slurmstepd.scope/job_" + std::string(kJob) + "/step_0");
    if (auto it = mounts.v1.find("cpuacct"); it != mounts.v1.end())
      v1_step_ = make(it->second, "/slurm/uid_0/job_" + std::string(kJob) + "/step_0");
    if (auto it = mounts.v1.find("cpuset"); it != mounts.v1.end() && !v1_step_.empty()) {
      // As task/cgroup does: v1 cpusets start empty, each level takes its
      // parent's CPUs and memory nodes, the job its allocation (CPU 0).
      std::string rel = "/slurm/uid_0/job_" + std::string(kJob);
      std::string dir = make(it->second, rel);
      for (std::string parent = it->second, level = parent; level != dir; parent = level) {
        level = dir.substr(0, dir.find('/', level.size() + 1));
        for (const char* file : {"/cpuset.mems", "/cpuset.cpus"}) {
          std::ifstream in(parent + file);
          std::string value;
          std::getline(in, value);
          std::ofstream(level + file) << value << std::endl;
        }
      }
      std::ofstream cpus(dir + "/cpuset.cpus");
      cpus << "0" << std::endl;
      if (cpus.good()) v1_cpuset_job_ = dir;
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      volatile uint64_t x = 0;
      for (;;) x = x + 1;  // burn CPU until killed
    }
  }
  ~SlurmLikeJob() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    // A cgroup can be removed once its last (dead) task is released: retry briefly.
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
      for (int i = 0; i < 100 && ::rmdir(it->c_str()) != 0 && errno == EBUSY; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  bool enter(const std::string& step_dir) const {
    std::ofstream procs(step_dir + "/cgroup.procs");
    procs << pid_ << std::endl;
    return procs.good();
  }
  pid_t pid() const { return pid_; }
  const std::string& v2_step() const { return v2_step_; }
  const std::string& v1_step() const { return v1_step_; }
  const std::string& v1_cpuset_job() const { return v1_cpuset_job_; }

 private:
  std::string make(const std::string& root, const std::string& rel) {
    std::string dir = root;
    size_t start = 1;
    while (start <= rel.size()) {
      size_t end = std::min(rel.find('/', start), rel.size());
      dir += "/" + rel.substr(start, end - start);
      if (::mkdir(dir.c_str(), 0755) == 0) created_.push_back(dir);
      start = end + 1;
    }
    return dir;
  }

  std::vector<std::string> created_;
  std::string v2_step_, v1_step_, v1_cpuset_job_;
  pid_t pid_ = -1;
};

const WorkloadCpu* find_job(const CpuScan& scan) {
  for (const auto& w : scan.workloads)
    if (w.workload.kind == WorkloadKind::kSlurmJob && w.workload.id == kJob) return &w;
  return nullptr;
}

TEST(WorkloadRealCgroup, SlurmLikeJobIsResolvedAndItsCpuTimeGrows) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root";
  CgroupMounts mounts = detect_layout();
  ASSERT_NE(mounts.layout, CgroupLayout::kNone);
  SlurmLikeJob job(mounts);
  ASSERT_GT(job.pid(), 0);
  if (!job.v2_step().empty()) {
    ASSERT_TRUE(job.enter(job.v2_step())) << job.v2_step();
  }
  if (!job.v1_step().empty()) {
    ASSERT_TRUE(job.enter(job.v1_step())) << job.v1_step();
  }
  ASSERT_FALSE(job.v2_step().empty() && job.v1_step().empty());

  Resolver resolver(mounts);
  const uint32_t pid = static_cast<uint32_t>(job.pid());
  if (!job.v2_step().empty()) {
    struct stat st {};
    ASSERT_EQ(::stat(job.v2_step().c_str(), &st), 0);
    auto w = resolver.resolve(st.st_ino, pid);  // the id bpf_get_current_cgroup_id() gives
    EXPECT_EQ(w.kind, WorkloadKind::kSlurmJob);
    EXPECT_EQ(w.id, kJob);
    EXPECT_EQ(w.user, "root");
    EXPECT_EQ(w.cgroup_path, "/system.slice/slurmstepd.scope/job_4242/step_0");
  }
  if (!job.v1_step().empty()) {
    // As on a hybrid node whose Slurm uses cgroup/v1 only: the v2 id says "root".
    struct stat root {};
    ASSERT_EQ(::stat(mounts.v2_root.empty() ? "/" : mounts.v2_root.c_str(), &root), 0);
    auto w = resolver.resolve(mounts.v2_root.empty() ? 0 : root.st_ino, pid);
    EXPECT_EQ(w.kind, WorkloadKind::kSlurmJob);
    EXPECT_EQ(w.id, kJob);
    EXPECT_EQ(w.user, "root");
    EXPECT_EQ(w.cgroup_path, "/slurm/uid_0/job_4242/step_0");
  }

  auto first = resolver.scan_cpu();
  const WorkloadCpu* before = find_job(first);
  ASSERT_NE(before, nullptr);
  EXPECT_EQ(before->workload.user, "root");
  uint64_t before_usec = before->cpu_usec;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto second = resolver.scan_cpu();
  const WorkloadCpu* after = find_job(second);
  ASSERT_NE(after, nullptr);
  EXPECT_GT(after->cpu_usec, before_usec + 10'000) << "the child burnt < 10 ms in 500 ms";
  if (!job.v1_cpuset_job().empty()) {
    EXPECT_EQ(after->allocated_cpus, 1u) << job.v1_cpuset_job();
  }
  int jobs = 0;
  for (const auto& w : second.workloads) jobs += w.workload.id == kJob;
  EXPECT_EQ(jobs, 1) << "job counted once across hierarchies and steps";
}

// The counters scan_cpu() keeps open belong to one cgroup: a job cgroup removed
// and made again at the same path (a new kernfs node) is read afresh, and the
// removed one's open file answers ENODEV, the end the scan relies on.
TEST(WorkloadRealCgroup, JobRecreatedAtTheSamePathIsReadAfresh) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root";
  CgroupMounts mounts = detect_layout();
  auto cpuacct = mounts.v1.find("cpuacct");
  ASSERT_TRUE(cpuacct != mounts.v1.end() || !mounts.v2_root.empty())
      << "no cgroup v1 cpuacct nor cgroup v2 hierarchy mounted";
  const bool v1 = cpuacct != mounts.v1.end();
  const std::string root = v1 ? cpuacct->second : mounts.v2_root;
  const std::string base = root + "/vigie-recreate-" + std::to_string(::getpid());
  const std::string job = base + "/slurm/uid_0/job_" + std::string(kJob);
  for (const std::string& dir : {base, base + "/slurm", base + "/slurm/uid_0", job})
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir;
  CgroupMounts only{v1 ? CgroupLayout::kV1 : CgroupLayout::kV2, v1 ? "" : base, {}};
  if (v1) only.v1["cpuacct"] = base;

  // A child burns CPU in the job, then leaves it so that it can be removed.
  pid_t pid = ::fork();
  if (pid == 0) {
    volatile uint64_t x = 0;
    for (;;) x = x + 1;
  }
  std::ofstream(job + "/cgroup.procs") << pid << std::endl;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Resolver resolver(only);
  auto first = resolver.scan_cpu();
  ASSERT_NE(find_job(first), nullptr);
  EXPECT_GT(find_job(first)->cpu_usec, 10'000u);
  EXPECT_EQ(resolver.stats().cgroups_watched, 4u);  // base, slurm, uid_0, job
  std::ofstream(base + "/cgroup.procs") << pid << std::endl;
  const std::string counter = job + (v1 ? "/cpuacct.usage" : "/cpu.stat");
  int stale = ::open(counter.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(stale, 0);
  ASSERT_EQ(::rmdir(job.c_str()), 0);
  char buf[64];
  EXPECT_EQ(::pread(stale, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, ENODEV);
  ::close(stale);
  ASSERT_EQ(::mkdir(job.c_str(), 0755), 0);

  auto second = resolver.scan_cpu();
  ASSERT_NE(find_job(second), nullptr);
  EXPECT_LT(find_job(second)->cpu_usec, find_job(first)->cpu_usec) << "the new cgroup's counter";
  ::rmdir(job.c_str());
  auto third = resolver.scan_cpu();
  EXPECT_EQ(find_job(third), nullptr);
  EXPECT_EQ(resolver.stats().cgroups_watched, 3u);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  for (const std::string& dir : {base + "/slurm/uid_0", base + "/slurm", base})
    for (int i = 0; i < 100 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace
}  // namespace vigie::workload
