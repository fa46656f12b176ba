// Where the cgroup hierarchies of this node are mounted, and which layout they form.
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace vigie::workload {

enum class CgroupLayout {
  kNone,    // no cgroup filesystem found: every process resolves to the host workload
  kV2,      // unified only (systemd's default since v247; /sys/fs/cgroup is cgroup2)
  kHybrid,  // v1 controllers under <root>/<controller>, cgroup2 at <root>/unified
  kV1,      // v1 controllers only
};

struct CgroupMounts {
  CgroupLayout layout = CgroupLayout::kNone;
  std::string v2_root;                    // absolute path of the cgroup2 mount, empty if none
  std::map<std::string, std::string> v1;  // v1 controller ("cpuacct", "memory", "name=systemd")
                                          // -> absolute mount path
};

// Detects the layout of the running system. Uses statfs(2) magic numbers
// (CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC) on `cgroup_root` and its
// subdirectories; when that finds nothing (cgroups mounted elsewhere), parses
// `<proc_root>/self/mountinfo`. Never fails: kNone when no cgroup fs is mounted.
CgroupMounts detect_layout(const std::string& cgroup_root = "/sys/fs/cgroup",
                           const std::string& proc_root = "/proc");

// Parses proc_pid_mountinfo(5) text. The first mount of each hierarchy wins;
// malformed lines are skipped. Layout: cgroup2 and v1 -> kHybrid, only one of
// them -> kV2 / kV1, neither -> kNone.
CgroupMounts parse_mountinfo(std::string_view mountinfo);

}  // namespace vigie::workload
