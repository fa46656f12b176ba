// The state the uplink's three roles share (sealer.h, spool_writer.h,
// sender.h): what is pending, the queue of sealed batches in sequence order,
// the batch in flight, the memory bounds and the counters, under one mutex.
// Lock order: the spool writer's spool mutex before Queue::mutex; nothing
// waits on the spool mutex while holding Queue::mutex (add_*() never waits
// on disk).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "vigie/protocol/event.h"
#include "vigie/uplink/uplink.h"

namespace vigie::uplink {

using Clock = std::chrono::steady_clock;

// A sealed batch, encoded once, with what it holds for the drop counters.
struct Sealed {
  uint64_t sequence = 0;
  // encode_batch(); shared with the spool writer while it writes it; null
  // while the batch waits spooled (read back from disk to be sent).
  std::shared_ptr<const std::string> body;
  std::size_t events = 0;
  std::size_t alerts = 0;
  std::size_t energy_records = 0;
  bool spooled = false;       // its file is in the spool
  bool writing = false;       // the spool writer is writing it
  bool written = false;       // written, waiting for its group's directory fsync
  bool write_failed = false;  // a write failed: sendable from memory, retried at retry_at
  uint64_t file_bytes = 0;    // when spooled or written
  Clock::time_point retry_at{};
};

struct Queue {
  explicit Queue(const UplinkOptions& options);

  // The batch of this sequence in `sealed`, or sealed.end().
  std::deque<Sealed>::iterator find_locked(uint64_t sequence);
  // Inserts in sequence order: two threads may seal at once (a full batch,
  // the flush timer), and delivery stays ordered.
  void insert_locked(Sealed batch);
  // Counts `batch` as dropped for `reason` (UplinkStats::batches_dropped_by_reason),
  // logged at most once a minute per reason.
  void drop_locked(const Sealed& batch, const char* reason);
  // Adds what `batch` held to the events/alerts/energy dropped totals.
  void count_lost_locked(const Sealed& batch);
  // Whether anything waits to be sealed.
  bool pending_empty_locked() const;
  // Logs a warning for `key` unless one was logged within the last minute.
  bool log_due_locked(const std::string& key);
  // Moves `batch` in or out of what the max_queue_* bounds count (held in memory).
  void hold_locked(const Sealed& batch);
  void release_locked(const Sealed& batch);

  mutable std::mutex mutex;
  std::condition_variable sender_wake;  // a batch to send, or stop
  std::condition_variable spool_wake;   // a batch to write, or stop
  std::condition_variable sealer_wake;  // stop

  protocol::Batch pending;
  std::size_t sealing_events = 0;   // events of batches being encoded (still pending in stats)
  std::deque<Sealed> sealed;        // by sequence, waiting
  std::optional<Sealed> in_flight;  // taken by the sender
  // Batches of `sealed` held in memory (not spooled), their events and
  // encoded bytes: what max_queue_* bound.
  std::size_t held_batches = 0;
  std::size_t held_events = 0;
  std::size_t held_bytes = 0;
  std::set<uint64_t> unspooled;  // sequences in `sealed` with no file yet (with a spool)
  UplinkStats stats;
  bool stopping = false;
  Clock::time_point stop_deadline{};

 private:
  std::map<std::string, Clock::time_point> next_log_;
};

}  // namespace vigie::uplink
