#include "vigie/uplink/uplink.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <stdexcept>

#include "vigie/delivery/retry.h"
#include "vigie/protocol/codec.h"

namespace vigie::uplink {

using delivery::BatchCounts;
using delivery::Outcome;
using delivery::Spool;
using delivery::SpoolEntry;
using delivery::SpoolOptions;
using delivery::SpoolWriteResult;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

// UplinkStats::batches_dropped_by_reason's keys.
constexpr const char* kDropReasons[] = {"queue_full", "spool_full", "disk_full", "corrupt",
                                        "stopped"};
// A batch the spool could not take is tried again after this long (disk
// space comes back as acknowledged batches are removed).
constexpr auto kSpoolRetryInterval = std::chrono::seconds(1);
// The spool writer writes up to this many sealed batches, then fsyncs the
// directory once for all of them (group commit). A batch is 1 s of events or
// 1,000 of them: a group is what an exec storm seals while one group is
// written.
constexpr std::size_t kSpoolGroupBatches = 64;
// Drops and write errors are logged at most this often per reason, with totals.
constexpr auto kDropLogInterval = std::chrono::minutes(1);

// "host:port", IPv6 hosts in brackets (RFC 3986 authority).
std::string address_of(const protocol::Endpoint& endpoint) {
  const bool v6 = endpoint.host.find(':') != std::string::npos;
  return (v6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" + endpoint.port;
}

}  // namespace

Uplink::Uplink(UplinkOptions options, std::function<protocol::AgentStatus()> status)
    : options_(std::move(options)),
      status_(std::move(status)),
      sequences_(options_.sequence_state_path) {
  endpoints_.push_back(options_.endpoint);
  endpoints_.insert(endpoints_.end(), options_.failover_endpoints.begin(),
                    options_.failover_endpoints.end());
  std::set<std::string> seen;
  for (const auto& endpoint : endpoints_) {
    CollectorStats collector;
    collector.address = address_of(endpoint);
    if (!seen.insert(collector.address).second) {
      throw std::invalid_argument("collector " + collector.address + " is listed twice");
    }
    stats_.collectors.push_back(std::move(collector));
  }
  stats_.collectors.front().active = true;
  for (const char* reason : kDropReasons) stats_.batches_dropped_by_reason[reason] = 0;
  stats_.queue_batches_limit = options_.max_queue_batches;
  stats_.queue_events_limit = options_.max_queue_events;
  stats_.queue_bytes_limit = options_.max_queue_bytes;
  stats_.pending_events_limit = options_.max_batch_events;
  if (!options_.spool_dir.empty()) {
    spool_ = std::make_unique<Spool>(SpoolOptions{options_.spool_dir, options_.spool_sync});
    stats_.spool_bytes_limit = options_.spool_max_bytes;
    // Files whose header is gone: only the number of batches is known.
    stats_.batches_dropped_by_reason["corrupt"] += spool_->corrupt_files();
    for (const SpoolEntry& entry : spool_->recovered()) {
      Sealed batch;
      batch.sequence = entry.sequence;
      batch.events = entry.counts.events;
      batch.alerts = entry.counts.alerts;
      batch.energy_records = entry.counts.energy_records;
      batch.spooled = true;
      batch.file_bytes = entry.file_bytes;
      queue_.push_back(std::move(batch));  // recovered() is in sequence order
    }
    stats_.spool_replayed_batches_total = spool_->recovered().size();
    if (!queue_.empty()) sequences_.skip_past(queue_.back().sequence);
    publish_spool_stats();
  }
  sender_ = std::thread([this] { run(); });
  sealer_ = std::thread([this] { run_sealer(); });
  if (spool_) spooler_ = std::thread([this] { run_spooler(); });
}

Uplink::~Uplink() { stop(); }

void Uplink::add_event(protocol::Event event) {
  std::unique_lock lk(mutex_);
  pending_.events.push_back(std::move(event));
  if (pending_.events.size() >= options_.max_batch_events) {
    seal(lk);
    wake_.notify_one();
  }
}

void Uplink::add_alert(protocol::Alert alert) {
  std::lock_guard lk(mutex_);
  pending_.alerts.push_back(std::move(alert));
}

void Uplink::add_energy(std::vector<protocol::ZoneEnergy> zones,
                        std::vector<protocol::WorkloadEnergy> workloads) {
  std::lock_guard lk(mutex_);
  std::move(zones.begin(), zones.end(), std::back_inserter(pending_.zone_energy));
  std::move(workloads.begin(), workloads.end(), std::back_inserter(pending_.workload_energy));
}

void Uplink::add_workload_ends(std::vector<protocol::WorkloadEnd> ends) {
  std::lock_guard lk(mutex_);
  std::move(ends.begin(), ends.end(), std::back_inserter(pending_.workload_ends));
}

bool Uplink::pending_empty_locked() const {
  return pending_.events.empty() && pending_.alerts.empty() && pending_.zone_energy.empty() &&
         pending_.workload_energy.empty() && pending_.workload_ends.empty();
}

void Uplink::count_lost_locked(const Sealed& batch) {
  stats_.events_dropped_total += batch.events;
  stats_.alerts_dropped_total += batch.alerts;
  stats_.energy_records_dropped_total += batch.energy_records;
}

void Uplink::drop_locked(const Sealed& batch, const char* reason) {
  const uint64_t so_far = ++stats_.batches_dropped_by_reason[reason];
  count_lost_locked(batch);
  const auto now = Clock::now();
  auto& next_log = next_drop_log_[reason];
  if (now >= next_log) {
    spdlog::warn("uplink dropped batch {} with {} events ({}): {} batches dropped for {} so far",
                 batch.sequence, batch.events, reason, so_far, reason);
    next_log = now + kDropLogInterval;
  }
}

std::deque<Uplink::Sealed>::iterator Uplink::find_locked(uint64_t sequence) {
  auto it = std::lower_bound(queue_.begin(), queue_.end(), sequence,
                             [](const Sealed& b, uint64_t s) { return b.sequence < s; });
  return it != queue_.end() && it->sequence == sequence ? it : queue_.end();
}

void Uplink::insert_locked(Sealed batch) {
  // Two threads may seal at once (a full batch, the flush timer): keep the
  // queue in sequence order so that delivery stays ordered.
  auto at = queue_.end();
  while (at != queue_.begin() && std::prev(at)->sequence > batch.sequence) --at;
  queue_.insert(at, std::move(batch));
}

bool Uplink::sendable_locked(const Sealed& batch) const {
  return !spool_ || (!batch.writing && (batch.spooled || batch.write_failed));
}

void Uplink::seal(std::unique_lock<std::mutex>& lk) {
  if (pending_empty_locked()) return;
  protocol::Batch batch = std::move(pending_);
  pending_ = {};
  batch.agent_id = options_.agent_id;
  batch.site = options_.site;
  batch.host = options_.host;
  batch.sequence = sequences_.next();
  batch.sent_ns = protocol::wall_clock_ns();
  if (status_) batch.status = status_();
  Sealed sealed;
  sealed.sequence = batch.sequence;
  sealed.events = batch.events.size();
  sealed.alerts = batch.alerts.size();
  sealed.energy_records =
      batch.zone_energy.size() + batch.workload_energy.size() + batch.workload_ends.size();
  sealing_events_ += sealed.events;
  lk.unlock();
  sealed.body = std::make_shared<const std::string>(protocol::encode_batch(batch));
  batch = {};  // free the decoded form before taking the lock again
  lk.lock();
  sealing_events_ -= sealed.events;
  ++queue_batches_;
  queue_events_ += sealed.events;
  queue_bytes_ += sealed.body->size();
  if (spool_) unspooled_.insert(sealed.sequence);
  insert_locked(std::move(sealed));
  if (spool_) spool_wake_.notify_one();
  // The bounds of what waits in memory: the oldest batch held in memory goes
  // first (with a spool, never the one the spool writer holds).
  while (queue_batches_ > 1 &&
         (queue_batches_ > std::max<std::size_t>(options_.max_queue_batches, 1) ||
          queue_events_ > options_.max_queue_events || queue_bytes_ > options_.max_queue_bytes)) {
    auto victim = queue_.end();
    if (!spool_) {
      victim = queue_.begin();
    } else {
      for (uint64_t sequence : unspooled_) {
        auto it = find_locked(sequence);
        if (it != queue_.end() && !it->writing) {
          victim = it;
          break;
        }
      }
    }
    if (victim == queue_.end()) break;
    drop_locked(*victim, "queue_full");
    --queue_batches_;
    queue_events_ -= victim->events;
    queue_bytes_ -= victim->body->size();
    unspooled_.erase(victim->sequence);
    queue_.erase(victim);
  }
}

void Uplink::publish_spool_stats() {
  spool_batches_ = spool_->batches();
  spool_bytes_ = spool_->bytes();
}

void Uplink::unspool(uint64_t sequence) {
  std::lock_guard sl(spool_mutex_);
  spool_->remove(sequence);
  publish_spool_stats();
}

void Uplink::spool_group(const std::vector<uint64_t>& sequences) {
  struct Written {
    uint64_t sequence;
    uint64_t file_bytes;
    SpoolWriteResult result;
  };
  std::vector<Written> written;
  // The spool lock is taken batch by batch, so that the sender reads and
  // removes files between the group's writes rather than after all of them.
  for (const uint64_t sequence : sequences) {
    std::unique_lock sl(spool_mutex_);
    std::unique_lock lk(mutex_);
    auto it = find_locked(sequence);
    if (it == queue_.end() || it->spooled || it->writing || !it->body) continue;
    it->writing = true;
    const std::shared_ptr<const std::string> body = it->body;
    const BatchCounts counts{it->events, it->alerts, it->energy_records};
    const uint64_t file_bytes = Spool::kHeaderBytes + body->size();
    // The oldest batch on disk leaves the spool: spooled, or written earlier
    // in this group. The one in flight is not in queue_, and this one is not
    // written yet: neither is evicted.
    uint64_t projected = spool_->bytes();
    std::vector<uint64_t> evicted;
    auto evict_oldest = [&](const char* reason) {
      for (auto v = queue_.begin(); v != queue_.end(); ++v) {
        if (!v->spooled && !v->written) continue;
        projected -= std::min(projected, v->file_bytes);
        evicted.push_back(v->sequence);
        drop_locked(*v, reason);
        queue_.erase(v);
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
      it = find_locked(sequence);  // `writing`: still queued
      it->written = true;
      it->file_bytes = file_bytes;
    }
    written.push_back({sequence, file_bytes, std::move(result)});
  }
  std::unique_lock sl(spool_mutex_);
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
  std::unique_lock lk(mutex_);
  for (const Written& w : written) {
    auto it = find_locked(w.sequence);
    if (it == queue_.end()) continue;  // evicted by a later write of the group
    it->writing = false;
    it->written = false;
    if (w.result.ok()) {
      it->spooled = true;
      it->write_failed = false;
      it->file_bytes = w.file_bytes;
      --queue_batches_;
      queue_events_ -= it->events;
      queue_bytes_ -= it->body->size();
      it->body.reset();
      unspooled_.erase(w.sequence);
      continue;
    }
    it->write_failed = true;
    it->retry_at = Clock::now() + kSpoolRetryInterval;
    const uint64_t errors = ++stats_.spool_write_errors_total;
    const auto now = Clock::now();
    auto& next_log = next_drop_log_["spool_write"];
    if (now >= next_log) {
      spdlog::warn("spool: cannot write batch {}: {}; kept in memory ({} failed writes so far)",
                   w.sequence, w.result.message, errors);
      next_log = now + kDropLogInterval;
    }
  }
  publish_spool_stats();
  lk.unlock();
  wake_.notify_all();
}

void Uplink::run_spooler() {
  std::unique_lock lk(mutex_);
  while (!spooler_stopping_) {
    const auto now = Clock::now();
    std::vector<uint64_t> group;
    auto wake_at = Clock::time_point::max();
    for (uint64_t sequence : unspooled_) {  // oldest first
      auto it = find_locked(sequence);
      if (it == queue_.end() || it->writing) continue;
      if (it->retry_at <= now) {
        group.push_back(sequence);
        if (group.size() == kSpoolGroupBatches) break;
      } else {
        wake_at = std::min(wake_at, it->retry_at);
      }
    }
    if (group.empty()) {
      if (wake_at == Clock::time_point::max()) {
        spool_wake_.wait(lk);
      } else {
        spool_wake_.wait_until(lk, wake_at);
      }
      continue;
    }
    lk.unlock();
    spool_group(group);
    lk.lock();
  }
}

void Uplink::switch_locked(std::size_t index, Clock::time_point now) {
  if (index == current_) return;
  stats_.collectors[current_].active = false;
  stats_.collectors[index].active = true;
  ++stats_.collectors[index].switches_total;
  if (current_ == 0 && options_.failback_interval.count() > 0) {
    failback_at_ = now + options_.failback_interval;
  }
  current_ = index;
}

void Uplink::run() {
  std::mt19937_64 random(std::random_device{}());
  std::unique_lock lk(mutex_);
  unsigned attempt = 0;
  // The longest Retry-After of the collectors that failed in this round.
  milliseconds retry_after{0};
  auto next_rejection_log = Clock::time_point{};
  // Done with the batch in flight (delivered or rejected): its file goes too.
  auto finish_in_flight = [&] {
    const bool spooled = in_flight_->spooled;
    const uint64_t sequence = in_flight_->sequence;
    in_flight_.reset();
    if (spooled) {
      lk.unlock();
      unspool(sequence);
      lk.lock();
    }
  };
  for (;;) {
    if (stopping_) seal(lk);  // what the sealer left pending
    const auto now = Clock::now();
    if (stopping_ && ((!in_flight_ && queue_.empty()) || now >= stop_deadline_)) break;
    if (!in_flight_) {
      // With a spool, a batch is sent once on disk (or once it could not be
      // written): the spool writer wakes this thread.
      if (queue_.empty() || !sendable_locked(queue_.front())) {
        if (stopping_) {
          wake_.wait_until(lk, stop_deadline_);
        } else {
          wake_.wait(lk);
        }
        continue;
      }
      // The sender owns the batch from here; its body is not copied again.
      in_flight_ = std::move(queue_.front());
      queue_.pop_front();
      attempt = 0;
      retry_after = milliseconds(0);
      if (in_flight_->body) {
        --queue_batches_;
        queue_events_ -= in_flight_->events;
        queue_bytes_ -= in_flight_->body->size();
        unspooled_.erase(in_flight_->sequence);
      } else {  // spooled: read back from disk
        const uint64_t sequence = in_flight_->sequence;
        lk.unlock();
        std::optional<std::string> body;
        {
          std::lock_guard sl(spool_mutex_);
          body = spool_->read(sequence);
          publish_spool_stats();
        }
        lk.lock();
        if (!body) {  // the spool removed and logged the file
          drop_locked(*in_flight_, "corrupt");
          in_flight_.reset();
          continue;
        }
        in_flight_->body = std::make_shared<const std::string>(std::move(*body));
      }
    }
    if (current_ != 0 && options_.failback_interval.count() > 0 && now >= failback_at_) {
      spdlog::info("uplink going back to the preferred collector {} (was on {})",
                   stats_.collectors[0].address, stats_.collectors[current_].address);
      switch_locked(0, now);
    }
    const std::size_t collector = current_;
    const protocol::Endpoint& endpoint = endpoints_[collector];
    const uint64_t sequence = in_flight_->sequence;
    const std::size_t events = in_flight_->events;
    const std::shared_ptr<const std::string> body = in_flight_->body;
    lk.unlock();
    const protocol::HttpResponse response = protocol::send(
        endpoint, protocol::ingest_request(options_.token, *body), options_.request_timeout);
    const Outcome outcome = delivery::classify(response);
    lk.lock();
    if (outcome == Outcome::kDelivered) {
      ++stats_.batches_sent_total;
      ++stats_.collectors[collector].batches_sent_total;
      finish_in_flight();
      continue;
    }
    ++stats_.send_failures_total;
    ++stats_.collectors[collector].send_failures_total;
    if (outcome == Outcome::kRejected) {
      ++stats_.batches_rejected_total;
      count_lost_locked(*in_flight_);
      // A wrong token rejects every batch: say it once a minute, with the count.
      const auto now = Clock::now();
      if (now >= next_rejection_log) {
        spdlog::error(
            "collector rejected batch {} ({} events) with HTTP {}: {} ({} rejected so far)",
            sequence, events, response.status, response.body, stats_.batches_rejected_total);
        next_rejection_log = now + std::chrono::minutes(1);
      }
      finish_in_flight();
      continue;
    }
    // Retryable: the batch moves to the next collector, if any. Only the first
    // failure in a row is a warning; collectors all down say it once.
    ++attempt;
    if (response.retry_after)
      retry_after = std::max<milliseconds>(retry_after, *response.retry_after);
    const std::size_t next = (collector + 1) % endpoints_.size();
    const std::string reason =
        response.status ? "HTTP " + std::to_string(response.status) : response.error;
    if (attempt == 1) {
      if (next == collector) {
        spdlog::warn("collector {} unavailable ({}), retrying with backoff",
                     stats_.collectors[collector].address, reason);
      } else {
        spdlog::warn("collector {} unavailable ({}), failing over to {}",
                     stats_.collectors[collector].address, reason, stats_.collectors[next].address);
      }
    } else if (next != collector) {
      spdlog::debug("collector {} unavailable ({}), trying {}",
                    stats_.collectors[collector].address, reason, stats_.collectors[next].address);
    }
    switch_locked(next, Clock::now());
    // Back off once every collector has failed in a row (with one collector:
    // after every failure, as remote_write does).
    if (attempt % endpoints_.size() != 0) continue;
    const delivery::BackoffPolicy backoff{options_.initial_backoff, options_.max_backoff};
    const auto delay = backoff.delay(static_cast<unsigned>(attempt / endpoints_.size() - 1),
                                     random(), retry_after);
    retry_after = milliseconds(0);
    const auto until = Clock::now() + delay;
    wake_.wait_until(lk, stopping_ ? std::min(until, stop_deadline_) : until,
                     [&] { return stopping_ && Clock::now() >= stop_deadline_; });
  }
}

void Uplink::run_sealer() {
  std::unique_lock lk(mutex_);
  for (;;) {
    const auto next_seal = Clock::now() + options_.flush_interval;
    if (seal_wake_.wait_until(lk, next_seal, [&] { return stopping_; })) return;
    seal(lk);
    wake_.notify_all();
  }
}

void Uplink::stop(milliseconds grace) {
  {
    std::lock_guard lk(mutex_);
    if (!stopping_) {
      stopping_ = true;
      stop_deadline_ = Clock::now() + grace;
    }
  }
  seal_wake_.notify_all();
  if (sealer_.joinable()) sealer_.join();
  wake_.notify_all();
  if (sender_.joinable()) sender_.join();
  if (spooler_.joinable()) {
    {
      std::lock_guard lk(mutex_);
      spooler_stopping_ = true;
    }
    spool_wake_.notify_all();
    spooler_.join();
  }
  std::unique_lock lk(mutex_);
  if (in_flight_) {
    Sealed batch = std::move(*in_flight_);
    in_flight_.reset();
    if (batch.spooled) {
      batch.body.reset();  // its file stays for the next start
    } else {
      ++queue_batches_;
      queue_events_ += batch.events;
      queue_bytes_ += batch.body->size();
      if (spool_) unspooled_.insert(batch.sequence);
    }
    insert_locked(std::move(batch));
  }
  if (spool_) {
    // Sealed but not on disk yet (just sealed, or a write that failed): one
    // more try each, so that a clean stop loses nothing the disk can take.
    const std::vector<uint64_t> left(unspooled_.begin(), unspooled_.end());
    lk.unlock();
    spool_group(left);
    lk.lock();
  }
  std::size_t spooled = 0, lost = 0, lost_events = 0;
  for (const auto& b : queue_) {
    if (b.spooled) {
      ++spooled;
      continue;
    }
    ++lost;
    lost_events += b.events;
    ++stats_.batches_dropped_by_reason["stopped"];
    count_lost_locked(b);
  }
  if (lost > 0) {
    spdlog::warn("stopping with {} undelivered batches ({} events) lost", lost, lost_events);
  }
  if (spooled > 0) {
    spdlog::info("stopping with {} undelivered batches kept in the spool {} for the next start",
                 spooled, spool_->directory());
  }
  queue_.clear();
  unspooled_.clear();
  queue_batches_ = 0;
  queue_events_ = 0;
  queue_bytes_ = 0;
}

UplinkStats Uplink::stats() const {
  std::lock_guard lk(mutex_);
  UplinkStats s = stats_;
  for (const auto& [reason, batches] : s.batches_dropped_by_reason) {
    s.batches_dropped_total += batches;
  }
  s.queue_batches = queue_batches_ + (in_flight_ ? 1 : 0);
  s.queue_events = queue_events_ + (in_flight_ ? in_flight_->events : 0);
  s.queue_bytes = queue_bytes_ + (in_flight_ && in_flight_->body ? in_flight_->body->size() : 0);
  s.pending_events = pending_.events.size() + sealing_events_;
  s.spool_batches = spool_batches_.load();
  s.spool_bytes = spool_bytes_.load();
  return s;
}

}  // namespace vigie::uplink
