#include "vigie/workload/layout.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace vigie::workload {
namespace {

// /proc/self/mountinfo of a Debian 12 VM booted with systemd.unified_cgroup_hierarchy=0.
constexpr const char* kHybrid =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup "
    "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";

TEST(WorkloadLayout, HybridFromMountinfo) {
  auto m = parse_mountinfo(kHybrid);
  EXPECT_EQ(m.layout, CgroupLayout::kHybrid);
  EXPECT_EQ(m.v2_root, "/sys/fs/cgroup/unified");
  EXPECT_EQ(m.v1.at("cpuacct"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(m.v1.at("cpu"), "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(m.v1.at("memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(m.v1.at("name=systemd"), "/sys/fs/cgroup/systemd");
  EXPECT_EQ(m.v1.count("xattr"), 0u);
  EXPECT_EQ(m.v1.count("rw"), 0u);
  EXPECT_EQ(m.v1.size(), 4u);
}

TEST(WorkloadLayout, PureV2FromMountinfo) {
  auto m = parse_mountinfo(
      "25 30 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
      "rw,nsdelegate,memory_recursiveprot\n");
  EXPECT_EQ(m.layout, CgroupLayout::kV2);
  EXPECT_EQ(m.v2_root, "/sys/fs/cgroup");
  EXPECT_TRUE(m.v1.empty());
}

TEST(WorkloadLayout, PureV1FromMountinfoWithEscapedMountPoint) {
  auto m = parse_mountinfo(
      "32 31 0:29 / /cg\\040v1/cpuacct rw - cgroup cgroup rw,cpuacct\n"
      "33 31 0:30 / /cg\\040v1/memory rw - cgroup cgroup rw,memory\n");
  EXPECT_EQ(m.layout, CgroupLayout::kV1);
  EXPECT_EQ(m.v1.at("cpuacct"), "/cg v1/cpuacct");
  EXPECT_TRUE(m.v2_root.empty());
}

TEST(WorkloadLayout, NoneAndGarbage) {
  EXPECT_EQ(parse_mountinfo("").layout, CgroupLayout::kNone);
  auto m = parse_mountinfo("garbage\n- cgroup2\n1 2 3 4 5 6 -\n1 2 3 4 5 6 - cgroup\n\\\\\\\n");
  EXPECT_EQ(m.layout, CgroupLayout::kNone);
  EXPECT_EQ(parse_mountinfo("22 1 0:20 / /proc rw - proc proc rw\n").layout, CgroupLayout::kNone);
}

TEST(WorkloadLayout, DetectOnThisMachineAgreesWithMountinfo) {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  auto from_mountinfo = parse_mountinfo(text.str());
  auto detected = detect_layout();
  ASSERT_NE(detected.layout, CgroupLayout::kNone);
  EXPECT_EQ(detected.layout, from_mountinfo.layout);
  EXPECT_EQ(detected.v2_root, from_mountinfo.v2_root);
  if (from_mountinfo.v1.count("cpuacct")) {
    EXPECT_EQ(detected.v1.at("cpuacct"), from_mountinfo.v1.at("cpuacct"));
  }
}

TEST(WorkloadLayout, DetectFallsBackToMountinfoWhenRootIsNoCgroupFs) {
  auto m = detect_layout("/nonexistent-cgroup-root", "/proc");
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(m.layout, parse_mountinfo(text.str()).layout);
  EXPECT_EQ(detect_layout("/nonexistent", "/nonexistent").layout, CgroupLayout::kNone);
}

}  // namespace
}  // namespace vigie::workload
