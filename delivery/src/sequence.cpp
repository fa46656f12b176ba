#include "vigie/delivery/sequence.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include "vigie/protocol/event.h"

namespace vigie::delivery {

SequenceAllocator::SequenceAllocator(std::string state_path, uint64_t block)
    : state_path_(std::move(state_path)), block_(std::max<uint64_t>(block, 1)) {
  if (state_path_.empty()) {
    next_ = protocol::wall_clock_ns() / 1000;  // microseconds
    reserved_end_ = UINT64_MAX;
    return;
  }
  std::ifstream in(state_path_);
  if (in) {
    uint64_t saved = 0;
    if (!(in >> saved)) {
      throw std::runtime_error("sequence state file " + state_path_ + " is not a number");
    }
    next_ = std::max<uint64_t>(saved, 1);
  }
  reserve();
}

void SequenceAllocator::reserve() {
  const uint64_t end = next_ + block_;
  const std::string tmp = state_path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write sequence state " + tmp);
  const std::string text = std::to_string(end) + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), state_path_.c_str()) != 0) {
    throw std::runtime_error("cannot write sequence state " + state_path_);
  }
  reserved_end_ = end;
}

uint64_t SequenceAllocator::next() {
  if (next_ >= reserved_end_) reserve();
  return next_++;
}

void SequenceAllocator::skip_past(uint64_t sequence) {
  if (sequence == UINT64_MAX || sequence < next_) return;
  next_ = sequence + 1;
  if (next_ >= reserved_end_) reserve();
}

}  // namespace vigie::delivery
