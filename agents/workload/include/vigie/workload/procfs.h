// Small, bounded readers for kernel pseudo-files (sysfs, cgroupfs, procfs),
// shared by the agent components that read them (workload, sensor, power).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace vigie::workload {

// Whole file, at most `max_bytes`; nullopt when it cannot be opened or read.
std::optional<std::string> read_file(const std::string& path, size_t max_bytes = 1 << 20);

// Parses a decimal unsigned integer that fills `text` (surrounding whitespace allowed).
std::optional<uint64_t> parse_u64(std::string_view text);

// An owned file descriptor (-1: none), closed with its owner. Movable, not copyable.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

}  // namespace vigie::workload
