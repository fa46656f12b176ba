// A Slurm-like job for tests that run real processes in one (needs root):
// the cgroups slurmstepd makes, without Slurm.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace vigie::integration {

namespace fs = std::filesystem;

// A Slurm-like job: step_0 cgroups under Slurm's cgroup v1 layout
// (slurm/uid_U/job_J/step_0 in each v1 controller) and its v2 layout
// (system.slice/slurmstepd.scope/job_J/step_0), as TESTING.md describes.
class SlurmJobCgroups {
 public:
  SlurmJobCgroups(uint32_t uid, uint32_t job_id) {
    const fs::path root = "/sys/fs/cgroup";
    const std::string v1_rel =
        "slurm/uid_" + std::to_string(uid) + "/job_" + std::to_string(job_id) + "/step_0";
    const std::string v2_rel =
        "system.slice/slurmstepd.scope/job_" + std::to_string(job_id) + "/step_0";
    if (fs::exists(root / "cgroup.controllers")) {  // pure cgroup v2
      add(root / v2_rel, uid);
      return;
    }
    for (const char* controller : {"cpu,cpuacct", "cpuacct", "memory", "pids"}) {
      const fs::path mount = root / controller;
      if (fs::exists(mount / "cgroup.procs") && !fs::is_symlink(mount)) add(mount / v1_rel, uid);
    }
    if (fs::exists(root / "unified" / "cgroup.procs")) add(root / "unified" / v2_rel, uid);
  }
  ~SlurmJobCgroups() {
    // Deepest first; the processes that were inside have exited by now.
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) ::rmdir(it->c_str());
  }
  // Called in the child between fork and exec.
  void enter() const {
    for (const auto& d : dirs_) {
      const int fd = ::open((d / "cgroup.procs").c_str(), O_WRONLY);
      if (fd < 0) ::_exit(120);
      const std::string pid = std::to_string(::getpid());
      if (::write(fd, pid.data(), pid.size()) < 0) ::_exit(121);
      ::close(fd);
    }
  }
  bool empty() const { return dirs_.empty(); }

 private:
  void add(const fs::path& dir, uint32_t uid) {
    std::vector<fs::path> missing;  // the directories this test creates, outermost first
    for (fs::path p = dir; !fs::exists(p); p = p.parent_path()) missing.insert(missing.begin(), p);
    created_.insert(created_.end(), missing.begin(), missing.end());
    fs::create_directories(dir);
    // slurmstepd hands the job's cgroups to the job's user.
    ::chown(dir.parent_path().c_str(), uid, uid);
    ::chown(dir.c_str(), uid, uid);
    dirs_.push_back(dir);
  }
  std::vector<fs::path> dirs_;
  std::vector<fs::path> created_;
};

}  // namespace vigie::integration
