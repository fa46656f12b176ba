// The spool writer (UplinkOptions::spool_dir): a thread of its own writes
// sealed batches to the on-disk spool, oldest first, so that the caller of
// add_*() (a sensor thread) never waits on fsync. Up to kGroupBatches are
// written, then the directory is fsync'd once for all of them (group commit)
// before any of them counts as spooled and may be sent. A written batch's
// body is freed from memory; the sender reads it back with read(). Bounds:
// spool_max_bytes ("spool_full") and a full disk ("disk_full") evict the
// oldest spooled batches; a batch that still cannot be written stays in
// memory, sendable, and is tried again a second later.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "queue.h"
#include "vigie/delivery/spool.h"

namespace vigie::uplink {

class SpoolWriter {
 public:
  // Opens the spool and queues the batches found there, in sequence order
  // (before anything new is sealed); corrupt files count as dropped.
  SpoolWriter(Queue& queue, const UplinkOptions& options);
  ~SpoolWriter();  // stops the thread (stop_thread())

  // The highest sequence recovered at open, 0 when none.
  uint64_t last_recovered() const { return last_recovered_; }
  void start();
  void stop_thread();

  // Writes these sealed batches (group commit). Called with no lock held.
  void write_group(const std::vector<uint64_t>& sequences);
  // A spooled batch's body, or nullopt when its file is corrupt (removed,
  // logged). Called with no lock held.
  std::optional<std::string> read(uint64_t sequence);
  // Removes a delivered or rejected batch's file. Called with no lock held.
  void remove(uint64_t sequence);

  std::size_t batches() const { return batches_.load(); }
  uint64_t bytes() const { return bytes_.load(); }
  const std::string& directory() const { return spool_->directory(); }

 private:
  void run();
  void publish();  // under mutex_

  Queue& queue_;
  const UplinkOptions& options_;
  std::mutex mutex_;  // the spool's; before Queue::mutex
  std::unique_ptr<delivery::Spool> spool_;
  uint64_t last_recovered_ = 0;
  bool stopping_ = false;  // under Queue::mutex
  std::atomic<std::size_t> batches_{0};
  std::atomic<uint64_t> bytes_{0};
  std::thread thread_;
};

}  // namespace vigie::uplink
