#include "vigie/sensor/process_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <memory>

#include "vigie/workload/procfs.h"

namespace vigie::sensor {
namespace {

bool parse_pid(std::string_view text, uint32_t& pid) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  return ec == std::errc() && end == text.data() + text.size() && pid != 0;
}

bool same_start(uint64_t a, uint64_t b) {
  return a == 0 || b == 0 || (a > b ? a - b : b - a) <= ProcessTable::kStartToleranceNs;
}

// Field 22 of /proc/PID/stat, counted from the fields after "(comm)": the
// state is field 3, so starttime is the 20th token of `rest`.
uint64_t start_ticks(std::string_view rest) {
  for (int field = 3; field < 22; ++field) {
    size_t space = rest.find(' ');
    if (space == std::string_view::npos) return 0;
    rest.remove_prefix(space + 1);
  }
  uint64_t ticks = 0;
  std::from_chars(rest.data(), rest.data() + rest.size(), ticks);
  return ticks;
}

}  // namespace

ProcessTable::ProcessTable(std::string proc_root, size_t max_entries)
    : proc_root_(std::move(proc_root)), max_entries_(max_entries > 0 ? max_entries : 1) {}

std::optional<ProcessInfo> ProcessTable::read_proc(const std::string& proc_root, uint32_t pid,
                                                   int64_t boot_to_wall_ns) {
  const std::string dir = proc_root + "/" + std::to_string(pid);
  // stat: "pid (comm) state ppid ..."; comm may hold spaces and ')', so parse
  // after the last ')'.
  auto stat = workload::read_file(dir + "/stat", 1024);
  if (!stat) return std::nullopt;
  size_t close = stat->rfind(')');
  if (close == std::string::npos || close + 4 > stat->size()) return std::nullopt;
  std::string_view rest = std::string_view(*stat).substr(close + 4);  // skip ") S "
  ProcessInfo info;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), info.ppid);
  if (ec != std::errc()) return std::nullopt;
  if (uint64_t ticks = start_ticks(std::string_view(*stat).substr(close + 2)); ticks != 0) {
    static const long hz = ::sysconf(_SC_CLK_TCK);
    info.start_ns = ticks * (1'000'000'000ull / static_cast<uint64_t>(hz > 0 ? hz : 100)) +
                    static_cast<uint64_t>(boot_to_wall_ns);
  }

  char exe[4096];
  ssize_t n = ::readlink((dir + "/exe").c_str(), exe, sizeof(exe));
  if (n > 0) info.image.assign(exe, static_cast<size_t>(n));

  if (auto cmdline = workload::read_file(dir + "/cmdline", kCommandLineMaxBytes)) {
    while (!cmdline->empty() && cmdline->back() == '\0') cmdline->pop_back();
    for (char& c : *cmdline) {
      if (c == '\0') c = ' ';
    }
    info.command_line = std::move(*cmdline);
  }
  return info;
}

size_t ProcessTable::seed() {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(proc_root_.c_str()), ::closedir);
  if (!dir) return 0;
  size_t inserted = 0;
  while (const dirent* entry = ::readdir(dir.get())) {
    uint32_t pid;
    if (!parse_pid(entry->d_name, pid)) continue;
    if (auto info = read_proc(proc_root_, pid, boot_to_wall_ns_)) {
      upsert(pid, std::move(*info));
      ++inserted;
    }
  }
  return inserted;
}

const ProcessInfo* ProcessTable::find(uint32_t pid, uint64_t start_ns) {
  if (auto it = entries_.find(pid); it != entries_.end()) {
    if (same_start(it->second.info.start_ns, start_ns)) return &it->second.info;
    erase(pid);  // a previous process of this pid
  }
  auto info = read_proc(proc_root_, pid, boot_to_wall_ns_);
  if (!info || !same_start(info->start_ns, start_ns)) return nullptr;
  upsert(pid, std::move(*info));
  return &entries_.at(pid).info;
}

std::vector<protocol::Ancestor> ProcessTable::ancestry(uint32_t ppid, uint64_t start_ns,
                                                       size_t depth) {
  std::vector<protocol::Ancestor> chain;
  uint32_t pid = ppid;
  uint64_t child_start = start_ns;
  while (chain.size() < depth && pid != 0) {
    const ProcessInfo* info = find(pid);
    if (info == nullptr) break;
    // Started after its child: the pid was reused since the child was born.
    if (child_start != 0 && info->start_ns > child_start + kStartToleranceNs) break;
    chain.push_back({pid, info->start_ns, info->image, info->command_line});
    if (pid == 1) break;
    child_start = info->start_ns;
    pid = info->ppid;
  }
  return chain;
}

void ProcessTable::upsert(uint32_t pid, ProcessInfo info) {
  if (auto it = entries_.find(pid); it != entries_.end()) {
    it->second.info = std::move(info);
    order_.splice(order_.end(), order_, it->second.order);
    return;
  }
  if (entries_.size() >= max_entries_) {
    entries_.erase(order_.front());
    order_.pop_front();
    ++evictions_;
  }
  order_.push_back(pid);
  entries_.emplace(pid, Entry{std::move(info), std::prev(order_.end())});
}

void ProcessTable::erase(uint32_t pid) {
  auto it = entries_.find(pid);
  if (it == entries_.end()) return;
  order_.erase(it->second.order);
  entries_.erase(it);
}

}  // namespace vigie::sensor
