#include "vigie/power/proc_stat.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>

namespace vigie::power {

std::optional<CpuTimes> parse_proc_stat(std::string_view text) {
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
  return CpuTimes{v[0] + v[1] + v[2] + v[5] + v[6], v[3] + v[4]};
}

std::optional<CpuTimes> read_proc_stat(const std::string& proc_root) {
  int fd = ::open((proc_root + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  // The aggregate line comes first; 4 KiB holds it whatever the CPU count.
  char buf[4096];
  ssize_t n;
  do n = ::read(fd, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  return parse_proc_stat(std::string_view(buf, static_cast<size_t>(n)));
}

double ticks_to_usec(uint64_t ticks) {
  static const long hz = [] {
    long v = ::sysconf(_SC_CLK_TCK);
    return v > 0 ? v : 100;
  }();
  return static_cast<double>(ticks) * 1e6 / static_cast<double>(hz);
}

}  // namespace vigie::power
