// Resolves (cgroup id, pid) to a workload and measures the CPU time of every workload.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "vigie/protocol/event.h"
#include "vigie/workload/layout.h"
#include "vigie/workload/procfs.h"
#include "vigie/workload/user_cache.h"

namespace vigie::workload {

struct ResolverOptions {
  std::string proc_root = "/proc";
  // Least time between two rebuilds of the cgroup id index triggered by misses.
  std::chrono::milliseconds min_rebuild_interval{1000};
  // Most cgroup counter files scan_cpu() keeps open between scans (two per
  // workload: CPU time and memory); 0: half of RLIMIT_NOFILE's soft limit at
  // construction. Beyond it, workloads are read with open/read/close each scan.
  size_t max_open_files = 0;
  // scan_cpu() reads a workload's memory counter at its first scan and then
  // every this many scans (≥ 1), keeping the last value in between. Memory only
  // splits the DRAM domain's energy between workloads; a job's memory
  // footprint moves with its allocation phases (seconds to minutes), not
  // between two 1 Hz samples, while its CPU time must be read every scan. At
  // 1 Hz the default, 10, halves the reads per workload (power_sampler_bench).
  uint32_t memory_every_scans = 10;
};

// Cumulative CPU time of one workload since its cgroup was created.
struct WorkloadCpu {
  protocol::Workload workload;  // cgroup_path: the cgroup measured (a Slurm job's job_<J> dir)
  uint64_t cpu_usec = 0;
  // Slurm jobs: the CPUs of the job's cpuset (cgroup2 cpuset.cpus.effective,
  // absent unless the cpuset controller is enabled there; v1: cpuset.cpus at
  // the same path in the cpuset hierarchy). 0 when unknown, and for other workloads.
  uint32_t allocated_cpus = 0;
  // Memory charged to the cgroup (cgroup2 memory.current, v1 memory.usage_in_bytes,
  // page cache included), bytes; 0 when the memory controller does not cover it.
  uint64_t memory_bytes = 0;
};

struct CpuScan {
  std::vector<WorkloadCpu> workloads;
  uint64_t errors = 0;  // cgroup files that could not be read or parsed in this scan
};

struct ResolverStats {
  uint64_t cache_hits = 0;        // resolve() answered from the cgroup id cache
  uint64_t index_rebuilds = 0;    // walks of the cgroup2 hierarchy
  uint64_t proc_fallbacks = 0;    // resolve() answered from /proc/<pid>/cgroup
  uint64_t pid_cache_hits = 0;    // resolve() answered from an earlier /proc read
  uint64_t read_errors = 0;       // unreadable or malformed cgroup / proc files
  uint64_t cgroups_watched = 0;   // cgroups whose counter files are open now (see scan_cpu())
  uint64_t cgroups_vanished = 0;  // listed by a scan, removed before their files were read
};

// Not thread-safe: use one per thread (the sensor pipeline and the power
// sampler each own one).
class Resolver {
 public:
  explicit Resolver(CgroupMounts mounts, ResolverOptions options = {});

  // cgroup_id: the cgroup2 id that bpf_get_current_cgroup_id() returns, equal to
  // st_ino of the cgroup's directory in the cgroup2 mount (0 if unknown).
  // pid: the tgid, used when the cgroup2 path says nothing (pure v1, or hybrid
  // with the job only in v1 controllers): /proc/<pid>/cgroup, preferring the
  // cpuacct hierarchy, then memory, then any other. Never fails: kHost when
  // nothing is known. Slurm users are names (getpwuid_r), or the uid in decimal;
  // a Slurm job's account is SLURM_JOB_ACCOUNT from a job process's environment.
  // A /proc answer is kept per pid until forget(pid): a process's later events
  // (connects, its exit, when /proc/<pid> is already gone) cost no read.
  protocol::Workload resolve(uint64_t cgroup_id, uint32_t pid);

  // Drops what resolve() remembers of `pid`: call it at exec (the process may
  // have moved to its job's cgroup since its last event) and after its exit
  // (the pid will be reused).
  void forget(uint32_t pid) { by_pid_.erase(pid); }

  // Lists the workloads that exist now with their cumulative CPU time (µs):
  // cgroup2 cpu.stat usage_usec, v1 cpuacct.usage (ns / 1000). Each workload
  // is counted once: a Slurm job at its job_<J> directory (all its steps), a
  // container at its outermost cgroup; a systemd unit gets its own usage minus
  // that of the workloads nested in it; slices and the root are not counted
  // (their remainder is the host's, from /proc/stat). On a hybrid layout the v1
  // cpuacct hierarchy is preferred and cgroup2 adds the workloads v1 lacks.
  // A job's owner (cgroup/v2: from its processes; v1: uid_<U>) and account
  // (SLURM_JOB_ACCOUNT in the environment of a user process of the job) are
  // read once per job cgroup (path and inode) and kept while the job shows up
  // in the scans. Units and pods count their own memory and CPU time minus
  // those of the workloads nested in them.
  CpuScan scan_cpu();

  const CgroupMounts& mounts() const { return mounts_; }
  const ResolverStats& stats() const { return stats_; }
  size_t cached_job_owners() const { return job_owners_.size(); }

 private:
  void rebuild_index();
  protocol::Workload from_proc(uint32_t pid, const std::string& v2_path);
  void fill_user(protocol::Workload& workload, const std::string& hierarchy_root, uint32_t pid);
  void scan_hierarchy(const std::string& root, bool v2, CpuScan& scan);
  struct Usage {
    uint64_t cpu_usec = 0;
    uint64_t memory_bytes = 0;
  };

  // A cgroup directory met by scan_cpu(), with what does not change while it lives.
  struct Watched {
    uint64_t inode = 0;                // of the directory, from readdir
    uint64_t scan = 0;                 // the last scan_cpu() that met it
    bool host = false;                 // a slice or the root: only the workloads below it count
    bool container_of_others = false;  // a unit or pod: its nested workloads are subtracted
    UniqueFd usage;                    // cpu.stat / cpuacct.usage
    UniqueFd memory;                   // memory.current / memory.usage_in_bytes; none if absent
    uint32_t allocated_cpus = 0;
    uint64_t memory_bytes = 0;  // as last read
    uint64_t memory_scan = 0;   // the scan that read it; 0: never
    protocol::Workload workload;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // dir: the directory's absolute path (root_len: that of its hierarchy's
  // mount), used as a buffer the walk appends to and truncates.
  Usage scan_dir(std::string& dir, size_t root_len, uint64_t inode, bool v2, int depth,
                 CpuScan& scan);
  Watched watch(const std::string& dir, size_t root_len, uint64_t inode, bool v2);
  uint32_t allocated_cpus(const std::string& root, const std::string& rel, bool v2) const;
  std::string memory_file(const std::string& root, const std::string& rel, bool v2) const;

  struct JobOwner {
    uint64_t inode = 0;  // of the job_<J> directory: a new job at the same path differs
    uint32_t uid = 0;
    uint64_t scan = 0;    // the last scan_cpu() that met the job
    std::string account;  // SLURM_JOB_ACCOUNT of its user's process; empty if unset
  };

  CgroupMounts mounts_;
  ResolverOptions options_;
  ResolverStats stats_;
  std::unordered_map<uint64_t, std::string> index_;          // cgroup2 id -> path
  std::unordered_map<uint64_t, protocol::Workload> cache_;   // cgroup2 id -> workload
  std::unordered_map<uint32_t, protocol::Workload> by_pid_;  // /proc answers, see forget()
  UserCache users_{1 << 16};
  // job_<J> dir -> owner
  std::unordered_map<std::string, JobOwner, StringHash, std::equal_to<>> job_owners_;
  // absolute cgroup dir -> its open counters
  std::unordered_map<std::string, Watched, StringHash, std::equal_to<>> watched_;
  size_t max_watched_ = 0;
  uint64_t scans_ = 0;
  std::chrono::steady_clock::time_point last_rebuild_{};
  bool indexed_ = false;
};

}  // namespace vigie::workload
