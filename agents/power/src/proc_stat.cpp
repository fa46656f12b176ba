#include "vigie/power/proc_stat.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "vigie/workload/procfs.h"

namespace vigie::power {

std::optional<CpuTimes> parse_proc_stat(std::string_view text) {
  uint32_t cpus = 0;
  for (std::string_view rest = text; !rest.empty();) {
    auto line = rest.substr(0, rest.find('\n'));
    rest.remove_prefix(std::min(rest.size(), line.size() + 1));
    if (line.size() > 3 && line.starts_with("cpu") && line[3] >= '0' && line[3] <= '9') ++cpus;
  }
  if (!text.starts_with("cpu ")) {
    size_t pos = text.find("\ncpu ");
    if (pos == std::string_view::npos) return std::nullopt;
    text.remove_prefix(pos + 1);
  }
  size_t eol = text.find('\n');
  text = text.substr(4, eol == std::string_view::npos ? std::string_view::npos : eol - 4);
  // user nice system idle iowait irq softirq [steal guest guest_nice]
  std::array<uint64_t, 7> v{};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (auto& field : v) {
    while (p < end && *p == ' ') ++p;
    auto [next, ec] = std::from_chars(p, end, field);
    if (ec != std::errc()) return std::nullopt;
    p = next;
  }
  return CpuTimes{v[0] + v[1] + v[2] + v[5] + v[6], v[3] + v[4], cpus};
}

std::optional<CpuTimes> read_proc_stat(const std::string& proc_root) {
  // The aggregate line, one line per CPU, then intr (long with many IRQs)
  // and a few more; at most 1 MiB.
  auto text = workload::read_file(proc_root + "/stat", 1 << 20);
  if (!text) return std::nullopt;
  return parse_proc_stat(*text);
}

std::optional<MemInfo> parse_meminfo(std::string_view text) {
  std::optional<uint64_t> total, available;
  for (std::string_view rest = text; !rest.empty();) {
    auto line = rest.substr(0, rest.find('\n'));
    rest.remove_prefix(std::min(rest.size(), line.size() + 1));
    auto field = [&](std::string_view key, std::optional<uint64_t>& out) {
      if (!line.starts_with(key)) return;
      auto value = line.substr(key.size());
      if (value.ends_with(" kB")) value.remove_suffix(3);
      auto kib = workload::parse_u64(value);
      if (kib && *kib <= UINT64_MAX / 1024) out = *kib * 1024;
    };
    field("MemTotal:", total);
    field("MemAvailable:", available);
  }
  if (!total || !available) return std::nullopt;
  return MemInfo{*total, *available};
}

std::optional<MemInfo> read_meminfo(const std::string& proc_root) {
  auto text = workload::read_file(proc_root + "/meminfo", 1 << 16);
  return text ? parse_meminfo(*text) : std::nullopt;
}

double ticks_to_usec(uint64_t ticks) {
  static const long hz = [] {
    long v = ::sysconf(_SC_CLK_TCK);
    return v > 0 ? v : 100;
  }();
  return static_cast<double>(ticks) * 1e6 / static_cast<double>(hz);
}

}  // namespace vigie::power
