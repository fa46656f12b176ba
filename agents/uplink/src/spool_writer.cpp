#include "spool_writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vigie::uplink {

using delivery::BatchCounts;
using delivery::Spool;
using delivery::SpoolEntry;
using delivery::SpoolOptions;
using delivery::SpoolWriteResult;

namespace {

// A batch the spool could not take is tried again after this long (disk
// space comes back as acknowledged batches are removed).
constexpr auto kRetryInterval = std::chrono::seconds(1);
// The spool writer writes up to this many sealed batches, then fsyncs the
// directory once for all of them (group commit). A batch is 1 s of events or
// 1,000 of them: a group is what an exec storm seals while one group is
// written.
constexpr std::size_t kGroupBatches = 64;

}  // namespace

SpoolWriter::SpoolWriter(Queue& queue, const UplinkOptions& options)
    : queue_(queue),
      options_(options),
      spool_(std::make_unique<Spool>(SpoolOptions{options.spool_dir, options.spool_sync})) {
  std::lock_guard lk(queue_.mutex);
  auto& stats = queue_.stats;
  stats.spool_bytes_limit = options_.spool_max_bytes;
  // Files whose header is gone: only the number of batches is known.
  stats.batches_dropped_by_reason["corrupt"] += spool_->corrupt_files();
  for (const SpoolEntry& entry : spool_->recovered()) {  // in sequence order
    Sealed batch;
    batch.sequence = entry.sequence;
    batch.events = entry.counts.events;
    batch.alerts = entry.counts.alerts;
    batch.energy_records = entry.counts.energy_records;
    batch.spooled = true;
    batch.file_bytes = entry.file_bytes;
    last_recovered_ = entry.sequence;
    queue_.sealed.push_back(std::move(batch));
  }
  stats.spool_replayed_batches_total = spool_->recovered().size();
  publish();
}

SpoolWriter::~SpoolWriter() { stop_thread(); }

void SpoolWriter::start() {
  thread_ = std::thread([this] { run(); });
}

void SpoolWriter::stop_thread() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lk(queue_.mutex);
    stopping_ = true;
  }
  queue_.spool_wake.notify_all();
  thread_.join();
}

void SpoolWriter::publish() {
  batches_ = spool_->batches();
  bytes_ = spool_->bytes();
}

std::optional<std::string> SpoolWriter::read(uint64_t sequence) {
  std::lock_guard sl(mutex_);
  auto body = spool_->read(sequence);
  publish();
  return body;
}

void SpoolWriter::remove(uint64_t sequence) {
  std::lock_guard sl(mutex_);
  spool_->remove(sequence);
  publish();
}

void SpoolWriter::write_group(const std::vector<uint64_t>& sequences) {
  struct Written {
    uint64_t sequence;
    uint64_t file_bytes;
    SpoolWriteResult result;
  };
  std::vector<Written> written;
  // The spool lock is taken batch by batch, so that the sender reads and
  // removes files between the group's writes rather than after all of them.
  for (const uint64_t sequence : sequences) {
    std::unique_lock sl(mutex_);
    std::unique_lock lk(queue_.mutex);
    auto it = queue_.find_locked(sequence);
    if (it == queue_.sealed.end() || it->spooled || it->writing || !it->body) continue;
    it->writing = true;
    const std::shared_ptr<const std::string> body = it->body;
    const BatchCounts counts{it->events, it->alerts, it->energy_records};
    const uint64_t file_bytes = Spool::kHeaderBytes + body->size();
    // The oldest batch on disk leaves the spool: spooled, or written earlier
    // in this group. The one in flight is not in the queue, and this one is
    // not written yet: neither is evicted.
    uint64_t projected = spool_->bytes();
    std::vector<uint64_t> evicted;
    auto evict_oldest = [&](const char* reason) {
      for (auto v = queue_.sealed.begin(); v != queue_.sealed.end(); ++v) {
        if (!v->spooled && !v->written) continue;
        projected -= std::min(projected, v->file_bytes);
        evicted.push_back(v->sequence);
        queue_.drop_locked(*v, reason);
        queue_.sealed.erase(v);
        return true;
      }
      return false;
    };
    while (projected + file_bytes > options_.spool_max_bytes && evict_oldest("spool_full")) {
    }
    const bool fits = projected + file_bytes <= options_.spool_max_bytes;
    lk.unlock();
    for (uint64_t v : evicted) spool_->remove(v);
    evicted.clear();
    SpoolWriteResult result;
    if (fits) {
      result = spool_->write(sequence, counts, *body, /*sync_directory=*/false);
      while (result.error == ENOSPC || result.error == EDQUOT) {
        lk.lock();
        const bool any = evict_oldest("disk_full");
        lk.unlock();
        if (!any) break;
        spool_->remove(evicted.back());
        evicted.clear();
        result = spool_->write(sequence, counts, *body, /*sync_directory=*/false);
      }
    } else {
      result = {EFBIG, "a batch of " + std::to_string(file_bytes) +
                           " bytes does not fit in spool_max_bytes " +
                           std::to_string(options_.spool_max_bytes) +
                           " with no older spooled batch left to evict"};
    }
    lk.lock();
    if (result.ok()) {
      it = queue_.find_locked(sequence);  // `writing`: still queued
      it->written = true;
      it->file_bytes = file_bytes;
    }
    written.push_back({sequence, file_bytes, std::move(result)});
  }
  std::unique_lock sl(mutex_);
  // Group commit: one directory fsync makes every rename of the group
  // durable (the files themselves were fsync'd one by one). Until then none
  // of them counts as spooled, so none is sent before it would survive a
  // power loss.
  if (options_.spool_sync &&
      std::any_of(written.begin(), written.end(), [](const Written& w) { return w.result.ok(); })) {
    if (const int error = spool_->sync_directory(); error != 0) {
      for (Written& w : written) {
        if (!w.result.ok()) continue;
        spool_->remove(w.sequence);  // the rename may not survive a crash: kept in memory
        w.result = {error, spool_->directory() + ": " + std::strerror(error)};
      }
    }
  }
  std::unique_lock lk(queue_.mutex);
  for (const Written& w : written) {
    auto it = queue_.find_locked(w.sequence);
    if (it == queue_.sealed.end()) continue;  // evicted by a later write of the group
    it->writing = false;
    it->written = false;
    if (w.result.ok()) {
      it->spooled = true;
      it->write_failed = false;
      it->file_bytes = w.file_bytes;
      queue_.release_locked(*it);
      it->body.reset();
      queue_.unspooled.erase(w.sequence);
      continue;
    }
    it->write_failed = true;
    it->retry_at = Clock::now() + kRetryInterval;
    const uint64_t errors = ++queue_.stats.spool_write_errors_total;
    if (queue_.log_due_locked("spool_write")) {
      spdlog::warn("spool: cannot write batch {}: {}; kept in memory ({} failed writes so far)",
                   w.sequence, w.result.message, errors);
    }
  }
  publish();
  lk.unlock();
  queue_.sender_wake.notify_all();
}

void SpoolWriter::run() {
  std::unique_lock lk(queue_.mutex);
  while (!stopping_) {
    const auto now = Clock::now();
    std::vector<uint64_t> group;
    auto wake_at = Clock::time_point::max();
    for (uint64_t sequence : queue_.unspooled) {  // oldest first
      auto it = queue_.find_locked(sequence);
      if (it == queue_.sealed.end() || it->writing) continue;
      if (it->retry_at <= now) {
        group.push_back(sequence);
        if (group.size() == kGroupBatches) break;
      } else {
        wake_at = std::min(wake_at, it->retry_at);
      }
    }
    if (group.empty()) {
      if (wake_at == Clock::time_point::max()) {
        queue_.spool_wake.wait(lk);
      } else {
        queue_.spool_wake.wait_until(lk, wake_at);
      }
      continue;
    }
    lk.unlock();
    write_group(group);
    lk.lock();
  }
}

}  // namespace vigie::uplink
