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
#include <vector>

#include "vigie/protocol/event.h"

namespace vigie::sensor {

struct ProcessInfo {
  std::string image;         // executable path, empty for kernel threads or when unreadable
  std::string command_line;  // argv joined by single spaces, bounded like exec events
  uint32_t ppid = 0;
  // Process start, wall clock ns (0: unknown): with the pid it names one
  // process across pid reuse. From the kernel's start_boottime for processes
  // seen by events, from /proc/PID/stat starttime (clock ticks) when read there.
  uint64_t start_ns = 0;

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
  // nullptr when neither knows it. With start_ns != 0, an entry whose start
  // differs by more than kStartToleranceNs is a previous process of the same
  // pid: it is replaced by a fresh /proc read, and nullptr is returned when
  // /proc does not show that process either. The pointer is valid until the
  // next non-const call.
  const ProcessInfo* find(uint32_t pid, uint64_t start_ns = 0);

  // The ancestors of a process whose parent is `ppid`, parent first, at most
  // `depth` of them. Stops at pid 1, at an unknown process, and where a pid
  // was reused (an ancestor cannot have started after `start_ns`, the start
  // of the process itself, or after its own child in the chain).
  std::vector<protocol::Ancestor> ancestry(uint32_t ppid, uint64_t start_ns, size_t depth);

  void upsert(uint32_t pid, ProcessInfo info);  // exec: insert or replace
  void erase(uint32_t pid);                     // exit

  const std::string& proc_root() const { return proc_root_; }
  size_t size() const { return entries_.size(); }
  size_t max_entries() const { return max_entries_; }
  uint64_t evictions() const { return evictions_; }

  // Reads proc_root/<pid>/{stat,exe,cmdline}; nullopt when stat is unreadable
  // (no such process). The command line is cut at kCommandLineMaxBytes;
  // start_ns is stat's starttime converted with boot_to_wall_ns (see
  // decoder.h), 0 when stat has no such field.
  static std::optional<ProcessInfo> read_proc(const std::string& proc_root, uint32_t pid,
                                              int64_t boot_to_wall_ns = 0);
  static constexpr size_t kCommandLineMaxBytes = 1024;  // SENSOR_ARGS_MAX_BYTES
  // /proc's starttime has clock-tick resolution (10 ms at USER_HZ = 100):
  // start times closer than this name the same process.
  static constexpr uint64_t kStartToleranceNs = 20'000'000;

  // CLOCK_REALTIME - CLOCK_BOOTTIME used to convert /proc start times; the
  // owner refreshes it (it follows NTP steps of the wall clock).
  void set_boot_to_wall_ns(int64_t offset) { boot_to_wall_ns_ = offset; }

 private:
  struct Entry {
    ProcessInfo info;
    std::list<uint32_t>::iterator order;
  };
  std::string proc_root_;
  size_t max_entries_;
  uint64_t evictions_ = 0;
  int64_t boot_to_wall_ns_ = 0;
  std::unordered_map<uint32_t, Entry> entries_;
  std::list<uint32_t> order_;  // oldest write first
};

}  // namespace vigie::sensor
