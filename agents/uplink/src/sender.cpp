#include "sender.h"

#include <spdlog/spdlog.h>

#include <random>

#include "sealer.h"
#include "spool_writer.h"
#include "vigie/delivery/retry.h"

namespace vigie::uplink {

using delivery::Outcome;
using std::chrono::milliseconds;

Sender::Sender(Queue& queue, const UplinkOptions& options,
               std::vector<protocol::Endpoint> endpoints, Sealer& sealer, SpoolWriter* spool)
    : queue_(queue),
      options_(options),
      endpoints_(std::move(endpoints)),
      sealer_(sealer),
      spool_(spool) {}

Sender::~Sender() { join(); }

void Sender::start() {
  thread_ = std::thread([this] { run(); });
}

void Sender::join() {
  if (thread_.joinable()) thread_.join();
}

bool Sender::sendable_locked(const Sealed& batch) const {
  return spool_ == nullptr || (!batch.writing && (batch.spooled || batch.write_failed));
}

void Sender::switch_locked(std::size_t index, Clock::time_point now) {
  if (index == current_) return;
  auto& collectors = queue_.stats.collectors;
  collectors[current_].active = false;
  collectors[index].active = true;
  ++collectors[index].switches_total;
  if (current_ == 0 && options_.failback_interval.count() > 0) {
    failback_at_ = now + options_.failback_interval;
  }
  current_ = index;
}

void Sender::finish_in_flight(std::unique_lock<std::mutex>& lk) {
  const bool spooled = queue_.in_flight->spooled;
  const uint64_t sequence = queue_.in_flight->sequence;
  queue_.in_flight.reset();
  if (spooled) {
    lk.unlock();
    spool_->remove(sequence);
    lk.lock();
  }
}

void Sender::run() {
  std::mt19937_64 random(std::random_device{}());
  std::unique_lock lk(queue_.mutex);
  auto& stats = queue_.stats;
  auto& in_flight = queue_.in_flight;
  unsigned attempt = 0;
  // The longest Retry-After of the collectors that failed in this round.
  milliseconds retry_after{0};
  for (;;) {
    if (queue_.stopping) sealer_.seal(lk);  // what the sealer's timer left pending
    const auto now = Clock::now();
    if (queue_.stopping &&
        ((!in_flight && queue_.sealed.empty()) || now >= queue_.stop_deadline)) {
      break;
    }
    if (!in_flight) {
      // With a spool, a batch is sent once on disk (or once it could not be
      // written): the spool writer wakes this thread.
      if (queue_.sealed.empty() || !sendable_locked(queue_.sealed.front())) {
        if (queue_.stopping) {
          queue_.sender_wake.wait_until(lk, queue_.stop_deadline);
        } else {
          queue_.sender_wake.wait(lk);
        }
        continue;
      }
      // The sender owns the batch from here; its body is not copied again.
      in_flight = std::move(queue_.sealed.front());
      queue_.sealed.pop_front();
      attempt = 0;
      retry_after = milliseconds(0);
      if (in_flight->body) {
        queue_.release_locked(*in_flight);
        queue_.unspooled.erase(in_flight->sequence);
      } else {  // spooled: read back from disk
        const uint64_t sequence = in_flight->sequence;
        lk.unlock();
        std::optional<std::string> body = spool_->read(sequence);
        lk.lock();
        if (!body) {  // the spool removed and logged the file
          queue_.drop_locked(*in_flight, "corrupt");
          in_flight.reset();
          continue;
        }
        in_flight->body = std::make_shared<const std::string>(std::move(*body));
      }
    }
    if (current_ != 0 && options_.failback_interval.count() > 0 && now >= failback_at_) {
      spdlog::info("uplink going back to the preferred collector {} (was on {})",
                   stats.collectors[0].address, stats.collectors[current_].address);
      switch_locked(0, now);
    }
    const std::size_t collector = current_;
    const protocol::Endpoint& endpoint = endpoints_[collector];
    const uint64_t sequence = in_flight->sequence;
    const std::size_t events = in_flight->events;
    const std::shared_ptr<const std::string> body = in_flight->body;
    lk.unlock();
    const protocol::HttpResponse response = protocol::send(
        endpoint, protocol::ingest_request(options_.token, *body), options_.request_timeout);
    const Outcome outcome = delivery::classify(response);
    lk.lock();
    if (outcome == Outcome::kDelivered) {
      ++stats.batches_sent_total;
      ++stats.collectors[collector].batches_sent_total;
      finish_in_flight(lk);
      continue;
    }
    ++stats.send_failures_total;
    ++stats.collectors[collector].send_failures_total;
    if (outcome == Outcome::kRejected) {
      ++stats.batches_rejected_total;
      queue_.count_lost_locked(*in_flight);
      // A wrong token rejects every batch: say it once a minute, with the count.
      if (queue_.log_due_locked("rejected")) {
        spdlog::error(
            "collector rejected batch {} ({} events) with HTTP {}: {} ({} rejected so far)",
            sequence, events, response.status, response.body, stats.batches_rejected_total);
      }
      finish_in_flight(lk);
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
                     stats.collectors[collector].address, reason);
      } else {
        spdlog::warn("collector {} unavailable ({}), failing over to {}",
                     stats.collectors[collector].address, reason, stats.collectors[next].address);
      }
    } else if (next != collector) {
      spdlog::debug("collector {} unavailable ({}), trying {}",
                    stats.collectors[collector].address, reason, stats.collectors[next].address);
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
    queue_.sender_wake.wait_until(
        lk, queue_.stopping ? std::min(until, queue_.stop_deadline) : until,
        [&] { return queue_.stopping && Clock::now() >= queue_.stop_deadline; });
  }
}

}  // namespace vigie::uplink
