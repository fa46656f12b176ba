// Fuzzes the agent's cgroup readers (workload::Resolver) through their real
// file-reading code paths over a cgroupfs- and procfs-like tree built from
// each input in a temp dir (fuzz_tree.h format). Paths start with the
// hierarchy they belong to: unified/ (cgroup2: cpu.stat, memory.current,
// cpuset.cpus.effective, cgroup.procs), cpuacct/ (v1 cpuacct.usage,
// cgroup.procs), memory/ (memory.usage_in_bytes), cpuset/ (cpuset.cpus) and
// proc/ (<pid>/cgroup, <pid>/status, <pid>/environ). The first byte picks
// the layout (v2, hybrid or v1). Each input: scan_cpu(), resolve() of every
// cgroup2 directory and /proc pid, the "@2" files written, scan_cpu() again.
// Checks what resolver.h promises: resolve() never fails (a workload with an
// id, never kUnattributed), scanned workloads have an id and an absolute
// cgroup path, and each cgroup is listed once per scan.
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_tree.h"
#include "fuzz_util.h"
#include "vigie/workload/resolver.h"

using vigie::fuzz::check;
namespace protocol = vigie::protocol;
namespace workload = vigie::workload;
namespace fs = std::filesystem;

namespace {

fs::path g_root;  // a fresh temp dir, emptied before each input

void check_scan(const workload::CpuScan& scan) {
  std::set<std::pair<protocol::WorkloadKind, std::string>> seen;
  for (const auto& w : scan.workloads) {
    check(!w.workload.id.empty(), "scan_cpu: a workload without an id");
    check(w.workload.kind != protocol::WorkloadKind::kUnattributed, "scan_cpu: kUnattributed");
    check(!w.workload.cgroup_path.empty() && w.workload.cgroup_path.front() == '/',
          "scan_cpu: cgroup_path is not absolute: " + w.workload.cgroup_path);
    check(seen.emplace(w.workload.kind, w.workload.cgroup_path).second,
          "scan_cpu: workload listed twice: " + w.workload.cgroup_path);
  }
}

void check_resolved(const protocol::Workload& w) {
  check(!w.id.empty(), "resolve: a workload without an id");
  check(w.kind != protocol::WorkloadKind::kUnattributed, "resolve: kUnattributed");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // A tmpfs where there is one: on ext4 the churn of a tree per input spends
  // most of the time allocating inodes.
  std::error_code ec;
  const fs::path base =
      fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
  std::string pattern = (base / "vigie-fuzz-cgroup-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("fuzz_cgroup_readers: mkdtemp");
    std::exit(1);
  }
  g_root = pattern;
  // Removed at exit, including after a finding (abort skips atexit, so a
  // crashed run leaves its last tree to look at).
  std::atexit([] {
    std::error_code ignored;
    fs::remove_all(g_root, ignored);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t layout = data[0] % 3;
  const auto files =
      vigie::fuzz::parse_tree(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  vigie::fuzz::clear_tree(g_root);
  for (const char* dir : {"unified", "cpuacct", "memory", "cpuset", "proc"})
    fs::create_directories(g_root / dir);
  vigie::fuzz::write_first(g_root, files);

  workload::CgroupMounts mounts;
  if (layout != 2) mounts.v2_root = (g_root / "unified").string();
  if (layout != 0) {
    for (const char* controller : {"cpuacct", "memory", "cpuset"})
      mounts.v1[controller] = (g_root / controller).string();
  }
  mounts.layout = layout == 0   ? workload::CgroupLayout::kV2
                  : layout == 1 ? workload::CgroupLayout::kHybrid
                                : workload::CgroupLayout::kV1;
  workload::ResolverOptions options;
  options.proc_root = (g_root / "proc").string();
  options.min_rebuild_interval = std::chrono::milliseconds(0);
  options.max_open_files = 16;
  options.memory_every_scans = 1;
  workload::Resolver resolver(mounts, options);

  check_scan(resolver.scan_cpu());

  // Every cgroup2 directory by its id (st_ino), with every pid of proc/.
  std::vector<uint64_t> ids = {0};
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(g_root / "unified", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (it->is_directory(ec) && ::stat(it->path().c_str(), &st) == 0) ids.push_back(st.st_ino);
    if (ids.size() > 32) break;
  }
  std::vector<uint32_t> pids = {0};
  for (const auto& entry : fs::directory_iterator(g_root / "proc", ec)) {
    const std::string name = entry.path().filename().string();
    char* end = nullptr;
    const unsigned long pid = std::strtoul(name.c_str(), &end, 10);
    if (end != name.c_str() && *end == '\0' && pid <= UINT32_MAX)
      pids.push_back(static_cast<uint32_t>(pid));
    if (pids.size() > 8) break;
  }
  for (uint64_t id : ids) {
    for (uint32_t pid : pids) check_resolved(resolver.resolve(id, pid));
  }
  for (uint32_t pid : pids) resolver.forget(pid);

  vigie::fuzz::write_second(g_root, files);
  check_scan(resolver.scan_cpu());
  for (uint32_t pid : pids) check_resolved(resolver.resolve(ids.back(), pid));
  return 0;
}
