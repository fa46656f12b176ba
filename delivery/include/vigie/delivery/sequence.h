// Batch sequence numbers that keep increasing across restarts (DESIGN.md
// "Protocol"): the receiver relies on (sender id, sequence) to ignore a batch
// it already holds, so a number is never reused.
#pragma once

#include <cstdint>
#include <string>

namespace vigie::delivery {

// Blocks of `block` numbers are reserved by writing the block's end to
// `state_path` (fsync'd, then renamed) before any number in it is used, so a
// crash can skip numbers but never reuse one. Not thread-safe.
class SequenceAllocator {
 public:
  // `state_path` empty: numbers start from the wall clock in microseconds,
  // which still increases across restarts unless the clock goes back.
  // Throws std::runtime_error when the state file exists but cannot be read
  // or written (start-up time, a configuration error).
  explicit SequenceAllocator(std::string state_path, uint64_t block = 4096);
  uint64_t next();
  // Makes next() return more than `sequence` (batches recovered from a spool
  // at start were numbered by an earlier run).
  void skip_past(uint64_t sequence);

 private:
  void reserve();
  std::string state_path_;
  uint64_t block_;
  uint64_t next_ = 1;
  uint64_t reserved_end_ = 0;  // exclusive
};

}  // namespace vigie::delivery
