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

}  // namespace

ProcessTable::ProcessTable(std::string proc_root, size_t max_entries)
    : proc_root_(std::move(proc_root)), max_entries_(max_entries > 0 ? max_entries : 1) {}

std::optional<ProcessInfo> ProcessTable::read_proc(const std::string& proc_root, uint32_t pid) {
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
    if (auto info = read_proc(proc_root_, pid)) {
      upsert(pid, std::move(*info));
      ++inserted;
    }
  }
  return inserted;
}

const ProcessInfo* ProcessTable::find(uint32_t pid) {
  if (auto it = entries_.find(pid); it != entries_.end()) return &it->second.info;
  auto info = read_proc(proc_root_, pid);
  if (!info) return nullptr;
  upsert(pid, std::move(*info));
  return &entries_.at(pid).info;
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
