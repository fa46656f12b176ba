#include "vigie/workload/layout.h"

#include <dirent.h>
#include <linux/magic.h>
#include <sys/vfs.h>

#include <vector>

#include "vigie/workload/procfs.h"

namespace vigie::workload {
namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '3' &&
        field[i + 2] >= '0' && field[i + 2] <= '7' && field[i + 3] >= '0' && field[i + 3] <= '7') {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

bool is_v1_controller_option(std::string_view opt) {
  static constexpr std::string_view kMountOptions[] = {
      "rw",       "ro",    "relatime",       "noatime",
      "nosuid",   "nodev", "noexec",         "clone_children",
      "noprefix", "xattr", "cpuset_v2_mode", "favordynmods",
      "none"};
  for (auto known : kMountOptions)
    if (opt == known) return false;
  return opt.find("release_agent=") != 0;
}

CgroupLayout layout_of(const CgroupMounts& m) {
  if (!m.v2_root.empty() && !m.v1.empty()) return CgroupLayout::kHybrid;
  if (!m.v2_root.empty()) return CgroupLayout::kV2;
  if (!m.v1.empty()) return CgroupLayout::kV1;
  return CgroupLayout::kNone;
}

}  // namespace

CgroupMounts parse_mountinfo(std::string_view mountinfo) {
  CgroupMounts mounts;
  for (auto line : split(mountinfo, '\n')) {
    auto fields = split(line, ' ');
    size_t dash = 0;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    // 6 mandatory fields before "-", then fstype, source, super options.
    if (dash < 6 || dash + 1 >= fields.size()) continue;
    std::string_view fstype = fields[dash + 1];
    std::string mount_point = unescape(fields[4]);
    if (fstype == "cgroup2") {
      if (mounts.v2_root.empty()) mounts.v2_root = mount_point;
    } else if (fstype == "cgroup" && dash + 3 < fields.size()) {
      for (auto opt : split(fields[dash + 3], ','))
        if (is_v1_controller_option(opt)) mounts.v1.try_emplace(std::string(opt), mount_point);
    }
  }
  mounts.layout = layout_of(mounts);
  return mounts;
}

CgroupMounts detect_layout(const std::string& cgroup_root, const std::string& proc_root) {
  CgroupMounts mounts;
  struct statfs fs {};
  if (::statfs(cgroup_root.c_str(), &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) {
    mounts.v2_root = cgroup_root;
    mounts.layout = CgroupLayout::kV2;
    return mounts;
  }
  if (DIR* dir = ::opendir(cgroup_root.c_str())) {
    // v1 mounts are named after their controllers ("cpu,cpuacct", "memory",
    // "systemd" for name=systemd); symlinks ("cpu" -> "cpu,cpuacct") resolve to the same.
    while (dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      std::string path = cgroup_root + "/" + name;
      if (::statfs(path.c_str(), &fs) != 0) continue;
      if (fs.f_type == CGROUP2_SUPER_MAGIC) {
        if (mounts.v2_root.empty() || name == "unified") mounts.v2_root = path;
      } else if (fs.f_type == CGROUP_SUPER_MAGIC) {
        for (auto controller : split(name, ','))
          mounts.v1.try_emplace(controller == "systemd" ? "name=systemd" : std::string(controller),
                                path);
      }
    }
    ::closedir(dir);
  }
  mounts.layout = layout_of(mounts);
  if (mounts.layout != CgroupLayout::kNone) return mounts;
  auto mountinfo = read_file(proc_root + "/self/mountinfo");
  return mountinfo ? parse_mountinfo(*mountinfo) : mounts;
}

}  // namespace vigie::workload
