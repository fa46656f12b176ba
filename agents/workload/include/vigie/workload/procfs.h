// Small, bounded readers for kernel pseudo-files (sysfs, cgroupfs, procfs),
// shared by the agent components that read them (workload, sensor, power).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigie::workload {

// Whole file, at most `max_bytes`; nullopt when it cannot be opened or read.
std::optional<std::string> read_file(const std::string& path, size_t max_bytes = 1 << 20);

// Parses a decimal unsigned integer that fills `text` (surrounding whitespace allowed).
std::optional<uint64_t> parse_u64(std::string_view text);

}  // namespace vigie::workload
