#include "vigie/uplink/uplink.h"

#include <spdlog/spdlog.h>

#include <set>
#include <stdexcept>

#include "queue.h"
#include "sealer.h"
#include "sender.h"
#include "spool_writer.h"

namespace vigie::uplink {

namespace {

// "host:port", IPv6 hosts in brackets (RFC 3986 authority).
std::string address_of(const protocol::Endpoint& endpoint) {
  const bool v6 = endpoint.host.find(':') != std::string::npos;
  return (v6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" + endpoint.port;
}

// options.endpoint, then the failover ones; throws when one is listed twice.
std::vector<protocol::Endpoint> endpoints_of(const UplinkOptions& options) {
  std::vector<protocol::Endpoint> endpoints{options.endpoint};
  endpoints.insert(endpoints.end(), options.failover_endpoints.begin(),
                   options.failover_endpoints.end());
  std::set<std::string> seen;
  for (const auto& endpoint : endpoints) {
    if (!seen.insert(address_of(endpoint)).second) {
      throw std::invalid_argument("collector " + address_of(endpoint) + " is listed twice");
    }
  }
  return endpoints;
}

}  // namespace

// The three roles over one queue; members in construction order.
struct Uplink::Impl {
  Impl(UplinkOptions o, std::function<protocol::AgentStatus()> status)
      : options(std::move(o)), queue(options), sealer(queue, options, std::move(status)) {
    std::vector<protocol::Endpoint> endpoints = endpoints_of(options);
    for (const auto& endpoint : endpoints) queue.stats.collectors.push_back({address_of(endpoint)});
    queue.stats.collectors.front().active = true;
    if (!options.spool_dir.empty()) {
      spool = std::make_unique<SpoolWriter>(queue, options);
      sealer.skip_past(spool->last_recovered());
    }
    sender = std::make_unique<Sender>(queue, options, std::move(endpoints), sealer, spool.get());
    sender->start();
    sealer.start();
    if (spool) spool->start();
  }

  void stop(std::chrono::milliseconds grace);

  const UplinkOptions options;
  Queue queue;
  Sealer sealer;
  std::unique_ptr<SpoolWriter> spool;  // null without a spool_dir
  std::unique_ptr<Sender> sender;
};

Uplink::Uplink(UplinkOptions options, std::function<protocol::AgentStatus()> status)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(status))) {}

Uplink::~Uplink() { stop(); }

void Uplink::add_event(protocol::Event event) { impl_->sealer.add_event(std::move(event)); }

void Uplink::add_alert(protocol::Alert alert) { impl_->sealer.add_alert(std::move(alert)); }

void Uplink::add_energy(std::vector<protocol::ZoneEnergy> zones,
                        std::vector<protocol::WorkloadEnergy> workloads) {
  impl_->sealer.add_energy(std::move(zones), std::move(workloads));
}

void Uplink::add_workload_ends(std::vector<protocol::WorkloadEnd> ends) {
  impl_->sealer.add_workload_ends(std::move(ends));
}

void Uplink::stop(std::chrono::milliseconds grace) { impl_->stop(grace); }

void Uplink::Impl::stop(std::chrono::milliseconds grace) {
  {
    std::lock_guard lk(queue.mutex);
    if (!queue.stopping) {
      queue.stopping = true;
      queue.stop_deadline = Clock::now() + grace;
    }
  }
  queue.sealer_wake.notify_all();
  sealer.stop_timer();
  queue.sender_wake.notify_all();
  sender->join();
  if (spool) spool->stop_thread();
  std::unique_lock lk(queue.mutex);
  if (queue.in_flight) {
    Sealed batch = std::move(*queue.in_flight);
    queue.in_flight.reset();
    if (batch.spooled) {
      batch.body.reset();  // its file stays for the next start
    } else {
      queue.hold_locked(batch);
      if (spool) queue.unspooled.insert(batch.sequence);
    }
    queue.insert_locked(std::move(batch));
  }
  if (spool) {
    // Sealed but not on disk yet (just sealed, or a write that failed): one
    // more try each, so that a clean stop loses nothing the disk can take.
    const std::vector<uint64_t> left(queue.unspooled.begin(), queue.unspooled.end());
    lk.unlock();
    spool->write_group(left);
    lk.lock();
  }
  std::size_t spooled = 0, lost = 0, lost_events = 0;
  for (const auto& b : queue.sealed) {
    if (b.spooled) {
      ++spooled;
      continue;
    }
    ++lost;
    lost_events += b.events;
    ++queue.stats.batches_dropped_by_reason["stopped"];
    queue.count_lost_locked(b);
  }
  if (lost > 0) {
    spdlog::warn("stopping with {} undelivered batches ({} events) lost", lost, lost_events);
  }
  if (spooled > 0) {
    spdlog::info("stopping with {} undelivered batches kept in the spool {} for the next start",
                 spooled, spool->directory());
  }
  queue.sealed.clear();
  queue.unspooled.clear();
  queue.held_batches = 0;
  queue.held_events = 0;
  queue.held_bytes = 0;
}

UplinkStats Uplink::stats() const {
  const Queue& q = impl_->queue;
  std::lock_guard lk(q.mutex);
  UplinkStats s = q.stats;
  for (const auto& [reason, batches] : s.batches_dropped_by_reason) {
    s.batches_dropped_total += batches;
  }
  const auto& in_flight = q.in_flight;
  s.queue_batches = q.held_batches + (in_flight ? 1 : 0);
  s.queue_events = q.held_events + (in_flight ? in_flight->events : 0);
  s.queue_bytes = q.held_bytes + (in_flight && in_flight->body ? in_flight->body->size() : 0);
  s.pending_events = q.pending.events.size() + q.sealing_events;
  if (impl_->spool) {
    s.spool_batches = impl_->spool->batches();
    s.spool_bytes = impl_->spool->bytes();
  }
  return s;
}

}  // namespace vigie::uplink
