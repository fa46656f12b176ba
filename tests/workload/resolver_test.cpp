// Resolver and scan_cpu() on fake cgroup and proc trees in a temporary directory.
#include "vigie/workload/resolver.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace vigie::workload {
namespace {

namespace fs = std::filesystem;
using protocol::WorkloadKind;

const std::string kHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

class WorkloadFakeTree : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vigie-workload-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string path(const std::string& rel) const { return root_ + rel; }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories(fs::path(path(rel)).parent_path());
    std::ofstream(path(rel)) << text;
  }
  void cgroup_v2(const std::string& rel, uint64_t usage_usec) {
    write(rel + "/cpu.stat",
          "usage_usec " + std::to_string(usage_usec) + "\nuser_usec 1\nsystem_usec 2\n");
  }
  void cgroup_v1(const std::string& rel, uint64_t usage_ns) {
    write(rel + "/cpuacct.usage", std::to_string(usage_ns) + "\n");
  }
  void process(uint32_t pid, uint32_t uid, const std::string& cgroup) {
    std::string u = std::to_string(uid);
    write("/proc/" + std::to_string(pid) + "/status",
          "Name:\tjob\nUmask:\t0022\nUid:\t" + u + "\t" + u + "\t" + u + "\t" + u + "\n");
    write("/proc/" + std::to_string(pid) + "/cgroup", cgroup);
  }
  uint64_t ino(const std::string& rel) const {
    struct stat st {};
    EXPECT_EQ(::stat(path(rel).c_str(), &st), 0) << rel;
    return st.st_ino;
  }
  ResolverOptions options(std::chrono::milliseconds rebuild = std::chrono::milliseconds(0)) const {
    return {root_ + "/proc", rebuild};
  }

  std::string root_;
};

std::string name_of(uint32_t uid) {
  passwd* pw = ::getpwuid(uid);
  return pw ? pw->pw_name : std::to_string(uid);
}

const WorkloadCpu* find(const CpuScan& scan, WorkloadKind kind, const std::string& id) {
  for (const auto& w : scan.workloads)
    if (w.workload.kind == kind && w.workload.id == id) return &w;
  return nullptr;
}

TEST_F(WorkloadFakeTree, V2SlurmJobOwnerFromItsProcessesAndCache) {
  const std::string task = "/v2/system.slice/slurmstepd.scope/job_77/step_0/user/task_0";
  fs::create_directories(path(task));
  write("/v2/system.slice/slurmstepd.scope/job_77/step_0/slurm/cgroup.procs", "1\n");
  write(task + "/cgroup.procs", "1234\n");
  process(1, 0, "0::/system.slice/slurmstepd.scope/job_77/step_0/slurm\n");
  process(1234, 65534, "0::/system.slice/slurmstepd.scope/job_77/step_0/user/task_0\n");
  Resolver r({CgroupLayout::kV2, path("/v2"), {}}, options());

  auto w = r.resolve(ino(task), 1234);
  EXPECT_EQ(w.kind, WorkloadKind::kSlurmJob);
  EXPECT_EQ(w.id, "77");
  EXPECT_EQ(w.user, name_of(65534));
  EXPECT_EQ(w.cgroup_path, "/system.slice/slurmstepd.scope/job_77/step_0/user/task_0");
  // slurmstepd (root) in the same job still gets the job owner.
  EXPECT_EQ(r.resolve(ino("/v2/system.slice/slurmstepd.scope/job_77/step_0/slurm"), 1).user,
            name_of(65534));
  EXPECT_EQ(r.resolve(ino(task), 1234), w);
  EXPECT_EQ(r.stats().cache_hits, 1u);
  EXPECT_EQ(r.stats().index_rebuilds, 1u);
  EXPECT_EQ(r.stats().proc_fallbacks, 0u);

  auto unit = r.resolve(ino("/v2/system.slice"), 0);
  EXPECT_EQ(unit.kind, WorkloadKind::kHost);
  EXPECT_EQ(unit.cgroup_path, "/system.slice");
}

TEST_F(WorkloadFakeTree, V2IndexRebuildsOnMissAtMostOncePerInterval) {
  fs::create_directories(path("/v2/system.slice/a.service"));
  Resolver slow({CgroupLayout::kV2, path("/v2"), {}}, options(std::chrono::hours(1)));
  Resolver fast({CgroupLayout::kV2, path("/v2"), {}}, options());
  EXPECT_EQ(slow.resolve(ino("/v2/system.slice/a.service"), 0).id, "a.service");
  EXPECT_EQ(fast.resolve(ino("/v2/system.slice/a.service"), 0).id, "a.service");

  fs::create_directories(path("/v2/system.slice/b.service"));
  EXPECT_EQ(fast.resolve(ino("/v2/system.slice/b.service"), 0).id, "b.service");
  EXPECT_EQ(fast.stats().index_rebuilds, 2u);
  auto missed = slow.resolve(ino("/v2/system.slice/b.service"), 0);
  EXPECT_EQ(missed.kind, WorkloadKind::kHost);
  EXPECT_EQ(slow.stats().index_rebuilds, 1u);
  // Unknown ids never crash and resolve to the host.
  EXPECT_EQ(fast.resolve(0xdeadbeefcafeULL, 0).kind, WorkloadKind::kHost);
}

TEST_F(WorkloadFakeTree, HybridFallsBackToProcCgroupPreferringCpuacct) {
  fs::create_directories(path("/h/unified"));
  fs::create_directories(path("/h/cpuacct/slurm/uid_1000/job_9/step_0"));
  fs::create_directories(path("/h/memory"));
  CgroupMounts mounts{CgroupLayout::kHybrid,
                      path("/h/unified"),
                      {{"cpuacct", path("/h/cpuacct")}, {"memory", path("/h/memory")}}};
  process(555, 1000,
          "12:name=systemd:/user.slice/user-1000.slice/session-1.scope\n"
          "4:memory:/process_api/abc\n"
          "2:cpuacct:/slurm/uid_1000/job_9/step_0\n"
          "0::/\n");
  process(556, 0, "4:memory:/slurm/uid_0/job_10/step_0\n2:cpuacct:/\n0::/\n");
  process(557, 0, "garbage\n::\n1:cpuacct\n0::relative\n");
  Resolver r(mounts, options());
  auto root_id = ino("/h/unified");

  auto w = r.resolve(root_id, 555);
  EXPECT_EQ(w.kind, WorkloadKind::kSlurmJob);
  EXPECT_EQ(w.id, "9");
  EXPECT_EQ(w.user, name_of(1000));
  EXPECT_EQ(w.cgroup_path, "/slurm/uid_1000/job_9/step_0");
  EXPECT_EQ(r.resolve(root_id, 556).id, "10");  // cpuacct says host, memory knows the job
  EXPECT_EQ(r.resolve(root_id, 557).kind, WorkloadKind::kHost);
  EXPECT_EQ(r.resolve(root_id, 999).kind, WorkloadKind::kHost);  // exited process
  EXPECT_EQ(r.stats().proc_fallbacks, 3u);
  EXPECT_EQ(r.stats().read_errors, 1u);
  EXPECT_EQ(r.stats().cache_hits, 0u);  // the v2 root says nothing: never cached

  Resolver v1({CgroupLayout::kV1, "", {{"cpuacct", path("/h/cpuacct")}}}, options());
  EXPECT_EQ(v1.resolve(0, 555).id, "9");
}

TEST_F(WorkloadFakeTree, ProcAnswersAreKeptPerPidUntilForgotten) {
  fs::create_directories(path("/h/unified"));
  fs::create_directories(path("/h/cpuacct/slurm/uid_1000/job_9/step_0"));
  CgroupMounts mounts{CgroupLayout::kHybrid, path("/h/unified"), {{"cpuacct", path("/h/cpuacct")}}};
  process(555, 1000, "2:cpuacct:/slurm/uid_1000/job_9/step_0\n0::/\n");
  Resolver r(mounts, options());
  const auto root_id = ino("/h/unified");
  EXPECT_EQ(r.resolve(root_id, 555).id, "9");
  // The process exits: /proc/555 is gone, its exit event still names its job.
  fs::remove_all(path("/proc/555"));
  EXPECT_EQ(r.resolve(root_id, 555).id, "9");
  EXPECT_EQ(r.stats().proc_fallbacks, 1u);
  EXPECT_EQ(r.stats().pid_cache_hits, 1u);
  // After forget(), pid 555 is a new process (here, outside any job).
  r.forget(555);
  process(555, 0, "2:cpuacct:/\n0::/\n");
  EXPECT_EQ(r.resolve(root_id, 555).kind, WorkloadKind::kHost);
}

TEST_F(WorkloadFakeTree, ScanV2CountsEachWorkloadOnce) {
  cgroup_v2("/v2/system.slice", 100000);
  cgroup_v2("/v2/system.slice/slurmstepd.scope", 6000);
  cgroup_v2("/v2/system.slice/slurmstepd.scope/job_77", 5000);
  cgroup_v2("/v2/system.slice/slurmstepd.scope/job_77/step_0", 3000);
  cgroup_v2("/v2/system.slice/slurmstepd.scope/job_77/step_1", 2000);
  cgroup_v2("/v2/system.slice/slurmstepd.scope/job_78", 7000);  // more than its parent
  cgroup_v2("/v2/system.slice/sshd.service", 300);
  cgroup_v2("/v2/system.slice/docker-" + kHex + ".scope", 100);
  cgroup_v2("/v2/system.slice/docker-" + kHex + ".scope/inner", 50);
  cgroup_v2("/v2/user.slice/user-1000.slice/session-3.scope", 40);
  write("/v2/system.slice/broken.service/cpu.stat", "usage_usec -3\n");
  fs::create_directories(path("/v2/system.slice/gone.service"));
  Resolver r({CgroupLayout::kV2, path("/v2"), {}}, options());

  auto scan = r.scan_cpu();
  EXPECT_EQ(scan.errors, 2u);
  ASSERT_EQ(scan.workloads.size(), 6u);
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "77")->cpu_usec, 5000u);
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "77")->workload.cgroup_path,
            "/system.slice/slurmstepd.scope/job_77");
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "78")->cpu_usec, 7000u);
  EXPECT_EQ(find(scan, WorkloadKind::kSystemdUnit, "slurmstepd.scope")->cpu_usec, 0u);
  EXPECT_EQ(find(scan, WorkloadKind::kSystemdUnit, "sshd.service")->cpu_usec, 300u);
  EXPECT_EQ(find(scan, WorkloadKind::kContainer, kHex)->cpu_usec, 100u);
  auto session = find(scan, WorkloadKind::kSystemdUnit, "session-3.scope");
  EXPECT_EQ(session->cpu_usec, 40u);
  EXPECT_EQ(session->workload.user, name_of(1000));
}

TEST_F(WorkloadFakeTree, ScanHybridPrefersCpuacctAndAddsWhatOnlyV2Has) {
  cgroup_v1("/h/cpuacct/slurm/uid_0/job_9", 2'500'000);
  cgroup_v1("/h/cpuacct/slurm/uid_0/job_9/step_0", 2'000'000);
  cgroup_v1("/h/cpuacct/slurm/uid_0", 9'000'000);
  cgroup_v2("/h/unified/system.slice/slurmstepd.scope/job_9", 2400);
  cgroup_v2("/h/unified/system.slice/sshd.service", 77);
  Resolver r({CgroupLayout::kHybrid,
              path("/h/unified"),
              {{"cpuacct", path("/h/cpuacct")}, {"cpu", path("/h/cpuacct")}}},
             options());
  auto scan = r.scan_cpu();
  EXPECT_EQ(scan.errors, 1u);  // slurmstepd.scope has no cpu.stat
  ASSERT_EQ(scan.workloads.size(), 2u);
  auto job = find(scan, WorkloadKind::kSlurmJob, "9");
  EXPECT_EQ(job->cpu_usec, 2500u);
  EXPECT_EQ(job->workload.user, name_of(0));
  EXPECT_EQ(job->workload.cgroup_path, "/slurm/uid_0/job_9");
  EXPECT_EQ(find(scan, WorkloadKind::kSystemdUnit, "sshd.service")->cpu_usec, 77u);
}

TEST_F(WorkloadFakeTree, V2JobOwnerIsReadOncePerJobCgroupAndForgottenWithTheJob) {
  const std::string job = "/v2/system.slice/slurmstepd.scope/job_77";
  cgroup_v2(job, 5000);
  write(job + "/step_0/cgroup.procs", "1234\n");
  process(1234, 65534, "0::/system.slice/slurmstepd.scope/job_77/step_0\n");
  // The account comes from the job's environment, read on the node.
  write("/proc/1234/environ", std::string("PATH=/bin\0SLURM_JOB_ACCOUNT=chem42\0X=1", 39));
  cgroup_v2("/v2/system.slice/slurmstepd.scope/job_78", 100);  // no process yet: root's
  Resolver r({CgroupLayout::kV2, path("/v2"), {}}, options());

  auto scan = r.scan_cpu();
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "77")->workload.user, name_of(65534));
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "77")->workload.account, "chem42");
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "78")->workload.account, "");
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "78")->workload.user, name_of(0));
  EXPECT_EQ(r.cached_job_owners(), 1u);  // only a user's process settles the owner

  // The next scans use the cached owner: the process is no longer read.
  fs::remove(path("/proc/1234/status"));
  write("/v2/system.slice/slurmstepd.scope/job_78/cgroup.procs", "4321\n");
  process(4321, 1000, "0::/system.slice/slurmstepd.scope/job_78\n");
  scan = r.scan_cpu();
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "77")->workload.user, name_of(65534));
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "78")->workload.user, name_of(1000));
  EXPECT_EQ(r.cached_job_owners(), 2u);
  auto resolved = r.resolve(ino(job + "/step_0"), 1234);
  EXPECT_EQ(resolved.user, name_of(65534));
  EXPECT_EQ(resolved.account, "chem42");  // from the cache: the process was not read again
  EXPECT_EQ(resolved.step, "0");

  // A new job at the same path (another inode) is read again.
  fs::create_directories(path("/v2/next"));
  cgroup_v2("/v2/next", 10);
  write("/v2/next/cgroup.procs", "4321\n");
  fs::remove_all(path(job));
  fs::rename(path("/v2/next"), path(job));
  scan = r.scan_cpu();
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "77")->workload.user, name_of(1000));

  // Jobs that vanished are forgotten at the next scan.
  fs::remove_all(path(job));
  scan = r.scan_cpu();
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "77"), nullptr);
  EXPECT_EQ(r.cached_job_owners(), 1u);
  fs::remove_all(path("/v2/system.slice/slurmstepd.scope/job_78"));
  r.scan_cpu();
  EXPECT_EQ(r.cached_job_owners(), 0u);
}

TEST_F(WorkloadFakeTree, ScanReportsTheCpusOfEachJobsCpuset) {
  const std::string jobs = "/v2/system.slice/slurmstepd.scope";
  cgroup_v2(jobs + "/job_1", 10);
  write(jobs + "/job_1/cpuset.cpus.effective", "0-3,8,10-11\n");
  cgroup_v2(jobs + "/job_2", 10);  // cpuset controller not enabled: no file
  cgroup_v2(jobs + "/job_3", 10);
  write(jobs + "/job_3/cpuset.cpus.effective", "3-1\n");  // malformed
  cgroup_v2(jobs + "/job_4", 10);
  write(jobs + "/job_4/cpuset.cpus.effective", "\n");
  cgroup_v2(jobs + "/job_5", 10);
  write(jobs + "/job_5/cpuset.cpus.effective", "0-18446744073709551615\n");
  cgroup_v2("/v2/system.slice/sshd.service", 10);
  write("/v2/system.slice/sshd.service/cpuset.cpus.effective", "0-1\n");  // not a job
  cgroup_v1("/h/cpuacct/slurm/uid_0/job_9", 1000);
  write("/h/cpuset/slurm/uid_0/job_9/cpuset.cpus", "2,5\n");
  cgroup_v1("/h/cpuacct/slurm/uid_0/job_10", 1000);
  Resolver r({CgroupLayout::kHybrid,
              path("/v2"),
              {{"cpuacct", path("/h/cpuacct")}, {"cpuset", path("/h/cpuset")}}},
             options());
  auto scan = r.scan_cpu();
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "1")->allocated_cpus, 7u);
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "2")->allocated_cpus, 0u);
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "3")->allocated_cpus, 0u);
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "4")->allocated_cpus, 0u);
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "5")->allocated_cpus, 0u);
  EXPECT_EQ(find(scan, WorkloadKind::kSystemdUnit, "sshd.service")->allocated_cpus, 0u);
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "9")->allocated_cpus, 2u);
  EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "10")->allocated_cpus, 0u);

  Resolver no_cpuset({CgroupLayout::kV1, "", {{"cpuacct", path("/h/cpuacct")}}}, options());
  EXPECT_EQ(find(no_cpuset.scan_cpu(), WorkloadKind::kSlurmJob, "9")->allocated_cpus, 0u);
}

TEST_F(WorkloadFakeTree, MemoryIsReadAtTheFirstScanThenEveryNScans) {
  const std::string job = "/v2/system.slice/slurmstepd.scope/job_5";
  cgroup_v2(job, 10);
  write(job + "/memory.current", "100\n");
  ResolverOptions opts = options();
  opts.memory_every_scans = 3;
  Resolver r({CgroupLayout::kV2, path("/v2"), {}}, opts);
  std::vector<uint64_t> seen;
  for (uint64_t i = 1; i <= 5; ++i) {
    cgroup_v2(job, 10 * i);
    write(job + "/memory.current", std::to_string(100 * i) + "\n");
    auto scan = r.scan_cpu();
    EXPECT_EQ(find(scan, WorkloadKind::kSlurmJob, "5")->cpu_usec, 10 * i);  // every scan
    seen.push_back(find(scan, WorkloadKind::kSlurmJob, "5")->memory_bytes);
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{100, 100, 100, 400, 400}));
}

// With no file descriptor to spare, every scan opens and reads: same answers.
TEST_F(WorkloadFakeTree, ScanWithoutOpenFilesGivesTheSameAnswers) {
  const std::string jobs = "/v2/system.slice/slurmstepd.scope";
  cgroup_v2(jobs + "/job_1", 10);
  write(jobs + "/job_1/memory.current", "4096\n");
  write(jobs + "/job_1/cpuset.cpus.effective", "0-3\n");
  cgroup_v2("/v2/system.slice/sshd.service", 20);
  ResolverOptions none = options();
  none.max_open_files = 1;
  Resolver open_each_scan({CgroupLayout::kV2, path("/v2"), {}}, none);
  Resolver kept_open({CgroupLayout::kV2, path("/v2"), {}}, options());
  for (uint64_t usec : {10u, 30u}) {
    cgroup_v2(jobs + "/job_1", usec);
    auto a = open_each_scan.scan_cpu();
    auto b = kept_open.scan_cpu();
    ASSERT_EQ(a.workloads.size(), 2u);
    ASSERT_EQ(b.workloads.size(), 2u);
    for (auto* scan : {&a, &b}) {
      auto job = find(*scan, WorkloadKind::kSlurmJob, "1");
      EXPECT_EQ(job->cpu_usec, usec);
      EXPECT_EQ(job->memory_bytes, 4096u);
      EXPECT_EQ(job->allocated_cpus, 4u);
      EXPECT_EQ(find(*scan, WorkloadKind::kSystemdUnit, "sshd.service")->cpu_usec, 20u);
    }
  }
  EXPECT_EQ(open_each_scan.stats().cgroups_watched, 0u);
  // /, system.slice, job_1, sshd; not the scope: no cpu.stat to keep open
  EXPECT_EQ(kept_open.stats().cgroups_watched, 4u);
}

TEST_F(WorkloadFakeTree, MissingHierarchiesAreErrorsNotCrashes) {
  Resolver r({CgroupLayout::kHybrid, path("/nope"), {{"cpuacct", path("/nope2")}}}, options());
  EXPECT_EQ(r.scan_cpu().errors, 2u);
  EXPECT_EQ(r.resolve(42, 42).kind, WorkloadKind::kHost);
  Resolver none({}, options());
  EXPECT_TRUE(none.scan_cpu().workloads.empty());
  EXPECT_EQ(none.resolve(1, 1).kind, WorkloadKind::kHost);
}

}  // namespace
}  // namespace vigie::workload
