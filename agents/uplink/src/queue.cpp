#include "queue.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>

namespace vigie::uplink {

namespace {

// UplinkStats::batches_dropped_by_reason's keys.
constexpr const char* kDropReasons[] = {"queue_full", "spool_full", "disk_full", "corrupt",
                                        "stopped"};
// Drops and write errors are logged at most this often per reason, with totals.
constexpr auto kLogInterval = std::chrono::minutes(1);

}  // namespace

Queue::Queue(const UplinkOptions& options) {
  for (const char* reason : kDropReasons) stats.batches_dropped_by_reason[reason] = 0;
  stats.queue_batches_limit = options.max_queue_batches;
  stats.queue_events_limit = options.max_queue_events;
  stats.queue_bytes_limit = options.max_queue_bytes;
  stats.pending_events_limit = options.max_batch_events;
}

std::deque<Sealed>::iterator Queue::find_locked(uint64_t sequence) {
  auto it = std::lower_bound(sealed.begin(), sealed.end(), sequence,
                             [](const Sealed& b, uint64_t s) { return b.sequence < s; });
  return it != sealed.end() && it->sequence == sequence ? it : sealed.end();
}

void Queue::insert_locked(Sealed batch) {
  auto at = sealed.end();
  while (at != sealed.begin() && std::prev(at)->sequence > batch.sequence) --at;
  sealed.insert(at, std::move(batch));
}

void Queue::count_lost_locked(const Sealed& batch) {
  stats.events_dropped_total += batch.events;
  stats.alerts_dropped_total += batch.alerts;
  stats.energy_records_dropped_total += batch.energy_records;
}

void Queue::drop_locked(const Sealed& batch, const char* reason) {
  const uint64_t so_far = ++stats.batches_dropped_by_reason[reason];
  count_lost_locked(batch);
  if (log_due_locked(reason)) {
    spdlog::warn("uplink dropped batch {} with {} events ({}): {} batches dropped for {} so far",
                 batch.sequence, batch.events, reason, so_far, reason);
  }
}

bool Queue::pending_empty_locked() const {
  return pending.events.empty() && pending.alerts.empty() && pending.zone_energy.empty() &&
         pending.workload_energy.empty() && pending.workload_ends.empty();
}

bool Queue::log_due_locked(const std::string& key) {
  const auto now = Clock::now();
  auto& next = next_log_[key];
  if (now < next) return false;
  next = now + kLogInterval;
  return true;
}

void Queue::hold_locked(const Sealed& batch) {
  ++held_batches;
  held_events += batch.events;
  held_bytes += batch.body->size();
}

void Queue::release_locked(const Sealed& batch) {
  --held_batches;
  held_events -= batch.events;
  held_bytes -= batch.body->size();
}

}  // namespace vigie::uplink
