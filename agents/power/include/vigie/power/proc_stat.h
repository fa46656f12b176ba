// Node-wide CPU time from /proc/stat.
#pragma once

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

// USER_HZ ticks -> µs (sysconf(_SC_CLK_TCK), 100 on Linux).
double ticks_to_usec(uint64_t ticks);

}  // namespace vigie::power
