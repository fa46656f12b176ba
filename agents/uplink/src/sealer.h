// The sealer: gathers what add_*() hands the uplink into the pending batch,
// and seals it (numbers it per agent, encodes it once with zstd, queues it in
// sequence order) when max_batch_events is reached and every flush_interval,
// whatever the sender is doing (a send hanging until request_timeout, a
// backoff), so that events reach the spool within flush_interval during any
// outage. Sealing beyond the max_queue_* bounds drops the oldest batch held
// in memory ("queue_full").
#pragma once

#include <functional>
#include <mutex>
#include <thread>

#include "queue.h"
#include "vigie/delivery/sequence.h"

namespace vigie::uplink {

class Sealer {
 public:
  // `status` stamps each batch with the agent's health (may be empty).
  Sealer(Queue& queue, const UplinkOptions& options,
         std::function<protocol::AgentStatus()> status);
  ~Sealer();  // joins the timer thread (stop_timer())

  // Numbers start above `sequence` (batches recovered from the spool).
  void skip_past(uint64_t sequence) { sequences_.skip_past(sequence); }
  void start();  // the flush_interval timer thread

  void add_event(protocol::Event event);
  void add_alert(protocol::Alert alert);
  void add_energy(std::vector<protocol::ZoneEnergy> zones,
                  std::vector<protocol::WorkloadEnergy> workloads);
  void add_workload_ends(std::vector<protocol::WorkloadEnd> ends);

  // Seals what is pending: numbered under the lock, encoded with the lock
  // released (callers never hold the sensor up with zstd), queued in order.
  // `lk` holds Queue::mutex, and holds it again on return.
  void seal(std::unique_lock<std::mutex>& lk);
  // Joins the timer thread once Queue::stopping is set and sealer_wake notified.
  void stop_timer();

 private:
  void run();

  Queue& queue_;
  const UplinkOptions& options_;
  std::function<protocol::AgentStatus()> status_;
  delivery::SequenceAllocator sequences_;
  std::thread timer_;
};

}  // namespace vigie::uplink
