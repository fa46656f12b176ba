// The sender: takes sealed batches in sequence order (with a spool, once on
// disk or once their write failed), POSTs each to /api/v1/ingest and fails
// over between collectors. A batch keeps its (agent id, sequence) whichever
// collector it goes to. Outcome per delivery::classify: delivered (its file
// goes), rejected (4xx: dropped and counted, never retried), or retryable
// (transport error, 429, 5xx): the batch moves to the next collector at once,
// and the backoff (delivery::BackoffPolicy, honouring Retry-After) is waited
// each time a whole round of collectors has failed in a row. While away from
// the preferred collector, the sender goes back to it after
// failback_interval.
#pragma once

#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

#include "queue.h"
#include "vigie/protocol/http_client.h"

namespace vigie::uplink {

class Sealer;
class SpoolWriter;

class Sender {
 public:
  // `endpoints`: the preferred collector first; their stats are
  // Queue::stats.collectors, in the same order. `spool` may be null.
  Sender(Queue& queue, const UplinkOptions& options, std::vector<protocol::Endpoint> endpoints,
         Sealer& sealer, SpoolWriter* spool);
  ~Sender();  // joins the thread (join())

  void start();
  // Joins the thread, which ends once Queue::stopping is set and the queue is
  // delivered or Queue::stop_deadline passed.
  void join();

 private:
  void run();
  // A batch is taken once spooled, or once its write failed.
  bool sendable_locked(const Sealed& batch) const;
  // Makes endpoints_[index] the collector batches go to.
  void switch_locked(std::size_t index, Clock::time_point now);
  // Done with the batch in flight (delivered or rejected): its file goes too.
  void finish_in_flight(std::unique_lock<std::mutex>& lk);

  Queue& queue_;
  const UplinkOptions& options_;
  std::vector<protocol::Endpoint> endpoints_;
  Sealer& sealer_;
  SpoolWriter* spool_;
  std::size_t current_ = 0;                  // index in endpoints_ of the collector in use
  Clock::time_point failback_at_{};          // when current_ != 0
  std::thread thread_;
};

}  // namespace vigie::uplink
