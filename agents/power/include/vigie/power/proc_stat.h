// Node-wide CPU time from /proc/stat.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigie::power {

// Cumulative CPU time of all CPUs, in USER_HZ ticks (proc_stat(5) "cpu" line).
struct CpuTimes {
  uint64_t busy_ticks = 0;  // user + nice + system + irq + softirq (guest time is inside user/nice)
  uint64_t idle_ticks = 0;  // idle + iowait
  // steal is left out of both: the hypervisor ran someone else on our CPUs.
  uint32_t cpus = 0;  // "cpu<N>" lines: the online CPUs (0 when the text has none)
};

// Parses the aggregate "cpu " line and counts the "cpu<N>" lines; nullopt when
// the aggregate line is absent or malformed.
std::optional<CpuTimes> parse_proc_stat(std::string_view text);

// Reads <proc_root>/stat; nullopt when unreadable or malformed.
std::optional<CpuTimes> read_proc_stat(const std::string& proc_root);

// Node memory from /proc/meminfo (proc_meminfo(5)), bytes.
struct MemInfo {
  uint64_t total_bytes = 0;      // MemTotal
  uint64_t available_bytes = 0;  // MemAvailable (Linux >= 3.14)
  uint64_t used_bytes() const { return total_bytes - std::min(available_bytes, total_bytes); }
};
// nullopt when MemTotal or MemAvailable is absent or malformed.
std::optional<MemInfo> parse_meminfo(std::string_view text);
std::optional<MemInfo> read_meminfo(const std::string& proc_root);

// USER_HZ ticks -> µs (sysconf(_SC_CLK_TCK), 100 on Linux).
double ticks_to_usec(uint64_t ticks);

}  // namespace vigie::power
