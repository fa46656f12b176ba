#include "vigie/uplink/uplink.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <stdexcept>

#include "vigie/protocol/codec.h"

namespace vigie::uplink {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

Outcome classify(const protocol::HttpResponse& response) {
  if (response.ok()) return Outcome::kDelivered;
  if (response.status == 0 || response.status == 429 || response.status >= 500) {
    return Outcome::kRetry;
  }
  return Outcome::kRejected;
}

milliseconds backoff_delay(unsigned attempt, milliseconds initial, milliseconds max,
                           uint64_t random) {
  const unsigned shift = std::min(attempt, 30u);
  const auto cap = std::min<int64_t>(max.count(), initial.count() << shift);
  return milliseconds(cap <= 0 ? 0 : static_cast<int64_t>(random % (cap + 1)));
}

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

namespace {

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
  sender_ = std::thread([this] { run(); });
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
  Sealed sealed{
      batch.sequence,
      {},
      batch.events.size(),
      batch.alerts.size(),
      batch.zone_energy.size() + batch.workload_energy.size() + batch.workload_ends.size()};
  lk.unlock();
  sealed.body = protocol::encode_batch(batch);
  batch = {};  // free the decoded form before taking the lock again
  lk.lock();
  // Two threads may seal at once (a full batch, the flush timer): keep the
  // queue in sequence order so that delivery stays ordered.
  auto at = queue_.end();
  while (at != queue_.begin() && std::prev(at)->sequence > sealed.sequence) --at;
  queue_events_ += sealed.events;
  queue_bytes_ += sealed.body.size();
  queue_.insert(at, std::move(sealed));
  while (queue_.size() > 1 &&
         (queue_.size() > std::max<std::size_t>(options_.max_queue_batches, 1) ||
          queue_events_ > options_.max_queue_events || queue_bytes_ > options_.max_queue_bytes)) {
    const Sealed& oldest = queue_.front();
    ++stats_.batches_dropped_total;
    count_lost_locked(oldest);
    spdlog::warn(
        "uplink queue full ({} batches, {} events, {} bytes): dropped batch {} with {} events",
        queue_.size(), queue_events_, queue_bytes_, oldest.sequence, oldest.events);
    queue_events_ -= oldest.events;
    queue_bytes_ -= oldest.body.size();
    queue_.pop_front();
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
  auto next_seal = Clock::now() + options_.flush_interval;
  unsigned attempt = 0;
  auto next_rejection_log = Clock::time_point{};
  for (;;) {
    const auto now = Clock::now();
    if (stopping_ || now >= next_seal) {
      seal(lk);
      next_seal = now + options_.flush_interval;
    }
    if (stopping_ && ((!in_flight_ && queue_.empty()) || now >= stop_deadline_)) break;
    if (!in_flight_) {
      if (queue_.empty()) {
        wake_.wait_until(lk, next_seal);
        continue;
      }
      // The sender owns the batch from here; its body is not copied again.
      in_flight_ = std::move(queue_.front());
      queue_.pop_front();
      queue_events_ -= in_flight_->events;
      queue_bytes_ -= in_flight_->body.size();
      attempt = 0;
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
    const std::string& body = in_flight_->body;
    lk.unlock();
    protocol::HttpRequest request{"POST",
                                  "/api/v1/ingest",
                                  {{"Authorization", "Bearer " + options_.token},
                                   {"Content-Type", std::string(protocol::kContentType)},
                                   {"Content-Encoding", std::string(protocol::kContentEncoding)}},
                                  body};
    const protocol::HttpResponse response =
        protocol::send(endpoint, request, options_.request_timeout);
    const Outcome outcome = classify(response);
    lk.lock();
    if (outcome == Outcome::kDelivered) {
      ++stats_.batches_sent_total;
      ++stats_.collectors[collector].batches_sent_total;
      in_flight_.reset();
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
      in_flight_.reset();
      continue;
    }
    // Retryable: the batch moves to the next collector, if any. Only the first
    // failure in a row is a warning; collectors all down say it once.
    ++attempt;
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
    const auto delay = backoff_delay(static_cast<unsigned>(attempt / endpoints_.size() - 1),
                                     options_.initial_backoff, options_.max_backoff, random());
    const auto until = Clock::now() + delay;
    wake_.wait_until(lk, stopping_ ? std::min(until, stop_deadline_) : until,
                     [&] { return stopping_ && Clock::now() >= stop_deadline_; });
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
  wake_.notify_all();
  if (sender_.joinable()) sender_.join();
  std::lock_guard lk(mutex_);
  if (in_flight_) queue_.push_front(std::move(*in_flight_));
  in_flight_.reset();
  if (!queue_.empty()) {
    std::size_t events = 0;
    for (const auto& b : queue_) {
      events += b.events;
      count_lost_locked(b);
    }
    spdlog::warn("stopping with {} undelivered batches ({} events)", queue_.size(), events);
    stats_.batches_dropped_total += queue_.size();
    queue_.clear();
    queue_events_ = 0;
    queue_bytes_ = 0;
  }
}

UplinkStats Uplink::stats() const {
  std::lock_guard lk(mutex_);
  UplinkStats s = stats_;
  s.queue_batches = queue_.size() + (in_flight_ ? 1 : 0);
  s.queue_events = queue_events_ + (in_flight_ ? in_flight_->events : 0);
  s.queue_bytes = queue_bytes_ + (in_flight_ ? in_flight_->body.size() : 0);
  s.pending_events = pending_.events.size();
  return s;
}

}  // namespace vigie::uplink
