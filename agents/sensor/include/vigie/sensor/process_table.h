// The node's live processes by pid (tgid), so that events carry the image and
// command line of processes the kernel record does not describe (the parent of
// an exec, the process of an exit or connect).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

namespace vigie::sensor {

struct ProcessInfo {
  std::string image;         // executable path, empty for kernel threads or when unreadable
  std::string command_line;  // argv joined by single spaces, bounded like exec events
  uint32_t ppid = 0;

  bool operator==(const ProcessInfo&) const = default;
};

// Bounded: beyond max_entries the oldest written entry is evicted (counted).
// Not thread-safe: owned by the one thread that polls the sensor.
class ProcessTable {
 public:
  // `proc_root` is procfs ("/proc"), or a fake tree in tests.
  explicit ProcessTable(std::string proc_root = "/proc", size_t max_entries = 65536);

  // Inserts every numeric directory of proc_root that can be read. Returns how
  // many processes were inserted. Unreadable entries (raced exits) are skipped.
  size_t seed();

  // The entry for `pid`, else read lazily from proc_root/<pid> and inserted;
  // nullptr when neither knows it. The pointer is valid until the next
  // non-const call.
  const ProcessInfo* find(uint32_t pid);

  void upsert(uint32_t pid, ProcessInfo info);  // exec: insert or replace
  void erase(uint32_t pid);                     // exit

  const std::string& proc_root() const { return proc_root_; }
  size_t size() const { return entries_.size(); }
  size_t max_entries() const { return max_entries_; }
  uint64_t evictions() const { return evictions_; }

  // Reads proc_root/<pid>/{stat,exe,cmdline}; nullopt when stat is unreadable
  // (no such process). The command line is cut at kCommandLineMaxBytes.
  static std::optional<ProcessInfo> read_proc(const std::string& proc_root, uint32_t pid);
  static constexpr size_t kCommandLineMaxBytes = 1024;  // SENSOR_ARGS_MAX_BYTES

 private:
  struct Entry {
    ProcessInfo info;
    std::list<uint32_t>::iterator order;
  };
  std::string proc_root_;
  size_t max_entries_;
  uint64_t evictions_ = 0;
  std::unordered_map<uint32_t, Entry> entries_;
  std::list<uint32_t> order_;  // oldest write first
};

}  // namespace vigie::sensor
