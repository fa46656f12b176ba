#include "sealer.h"

#include <algorithm>
#include <iterator>

#include "vigie/protocol/codec.h"

namespace vigie::uplink {

Sealer::Sealer(Queue& queue, const UplinkOptions& options,
               std::function<protocol::AgentStatus()> status)
    : queue_(queue),
      options_(options),
      status_(std::move(status)),
      sequences_(options.sequence_state_path) {}

Sealer::~Sealer() { stop_timer(); }

void Sealer::start() {
  timer_ = std::thread([this] { run(); });
}

void Sealer::stop_timer() {
  if (timer_.joinable()) timer_.join();
}

void Sealer::add_event(protocol::Event event) {
  std::unique_lock lk(queue_.mutex);
  queue_.pending.events.push_back(std::move(event));
  if (queue_.pending.events.size() >= options_.max_batch_events) {
    seal(lk);
    queue_.sender_wake.notify_one();
  }
}

void Sealer::add_alert(protocol::Alert alert) {
  std::lock_guard lk(queue_.mutex);
  queue_.pending.alerts.push_back(std::move(alert));
}

void Sealer::add_energy(std::vector<protocol::ZoneEnergy> zones,
                        std::vector<protocol::WorkloadEnergy> workloads) {
  std::lock_guard lk(queue_.mutex);
  auto& pending = queue_.pending;
  std::move(zones.begin(), zones.end(), std::back_inserter(pending.zone_energy));
  std::move(workloads.begin(), workloads.end(), std::back_inserter(pending.workload_energy));
}

void Sealer::add_workload_ends(std::vector<protocol::WorkloadEnd> ends) {
  std::lock_guard lk(queue_.mutex);
  std::move(ends.begin(), ends.end(), std::back_inserter(queue_.pending.workload_ends));
}

void Sealer::seal(std::unique_lock<std::mutex>& lk) {
  if (queue_.pending_empty_locked()) return;
  protocol::Batch batch = std::move(queue_.pending);
  queue_.pending = {};
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
  queue_.sealing_events += sealed.events;
  lk.unlock();
  sealed.body = std::make_shared<const std::string>(protocol::encode_batch(batch));
  batch = {};  // free the decoded form before taking the lock again
  lk.lock();
  queue_.sealing_events -= sealed.events;
  queue_.hold_locked(sealed);
  const bool spool = !options_.spool_dir.empty();
  if (spool) queue_.unspooled.insert(sealed.sequence);
  queue_.insert_locked(std::move(sealed));
  if (spool) queue_.spool_wake.notify_one();
  // The bounds of what waits in memory: the oldest batch held in memory goes
  // first (with a spool, never the one the spool writer holds).
  while (queue_.held_batches > 1 &&
         (queue_.held_batches > std::max<std::size_t>(options_.max_queue_batches, 1) ||
          queue_.held_events > options_.max_queue_events ||
          queue_.held_bytes > options_.max_queue_bytes)) {
    auto victim = queue_.sealed.end();
    if (!spool) {
      victim = queue_.sealed.begin();
    } else {
      for (uint64_t sequence : queue_.unspooled) {
        auto it = queue_.find_locked(sequence);
        if (it != queue_.sealed.end() && !it->writing) {
          victim = it;
          break;
        }
      }
    }
    if (victim == queue_.sealed.end()) break;
    queue_.drop_locked(*victim, "queue_full");
    queue_.release_locked(*victim);
    queue_.unspooled.erase(victim->sequence);
    queue_.sealed.erase(victim);
  }
}

void Sealer::run() {
  std::unique_lock lk(queue_.mutex);
  for (;;) {
    const auto next_seal = Clock::now() + options_.flush_interval;
    if (queue_.sealer_wake.wait_until(lk, next_seal, [&] { return queue_.stopping; })) return;
    seal(lk);
    queue_.sender_wake.notify_all();
  }
}

}  // namespace vigie::uplink
