// Batching and delivery of agent data to the collector (DESIGN.md "Protocol"):
// events, alerts and energy are gathered into vigie.v1 batches, numbered per
// agent, and POSTed in order to /api/v1/ingest with retry and backoff, failing
// over between several collectors (DESIGN.md "Storage and scale").
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "vigie/delivery/sequence.h"
#include "vigie/delivery/spool.h"
#include "vigie/protocol/event.h"
#include "vigie/protocol/http_client.h"

namespace vigie::uplink {

struct UplinkOptions {
  // The preferred collector, then the others, tried in this order when the
  // current one fails. A batch keeps its (agent id, sequence) whichever
  // collector it goes to, so collectors that share one store (PostgreSQL)
  // recognise a retry of a batch another one already stored as a duplicate.
  protocol::Endpoint endpoint;
  std::vector<protocol::Endpoint> failover_endpoints;
  // Failover policy: the uplink sticks to the collector that works; a
  // retryable failure (transport error, 429, 5xx) moves the batch to the next
  // collector at once, and the backoff below is waited each time a whole
  // round of collectors has failed in a row. While away from the preferred
  // collector, the uplink goes back to it after this long (a failed try moves
  // on again); 0: never goes back.
  std::chrono::milliseconds failback_interval{std::chrono::minutes(5)};
  std::string token;  // sent as "Authorization: Bearer <token>"
  std::string agent_id;
  std::string site;
  std::string host;
  std::string sequence_state_path;  // delivery::SequenceAllocator; empty = time based
  std::chrono::milliseconds flush_interval{1000};  // seal a batch at least this often
  std::size_t max_batch_events = 1000;             // seal early when reached
  // Sealed batches wait encoded (zstd), bounded by count, events and encoded
  // bytes (memory while the collector is unreachable); beyond any of them, the
  // oldest waiting batch is dropped and counted.
  // With a spool, these bound only what waits in memory without a file
  // (sealed but not yet written, or not writable); spooled batches wait on
  // disk, bounded by spool_max_bytes.
  std::size_t max_queue_batches = 600;
  std::size_t max_queue_events = 100000;
  std::size_t max_queue_bytes = 32 << 20;
  // On-disk spool (delivery/spool.h), empty: memory only. Every sealed batch is
  // written there by a spool writer thread (never the caller of add_*(), so a
  // sensor thread never waits on fsync), its body is then freed from memory
  // and read back from disk to be sent; it is removed once acknowledged or
  // rejected. At construction the spooled batches are queued first, in
  // sequence order, and new sequences start above them. Bounds: before a
  // write, the oldest spooled batches (never the one in flight) are evicted
  // while spool bytes + the new file exceed spool_max_bytes (reason
  // "spool_full"); a write failing with ENOSPC/EDQUOT evicts the oldest and
  // retries (reason "disk_full"); a batch that still cannot be written stays
  // in memory under the max_queue_* bounds (spool_write_errors_total). At
  // stop(), what is undelivered stays spooled for the next start and is not
  // counted as dropped.
  std::string spool_dir;
  uint64_t spool_max_bytes = 1ull << 30;
  bool spool_sync = true;  // SpoolOptions::sync
  std::chrono::milliseconds request_timeout{10000};
  // Backoff after a round of failures (delivery::BackoffPolicy); a collector's
  // Retry-After (its 429 when storage lags) is waited at least, up to
  // max_backoff.
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{30000};
};

// Delivery counters of one collector of UplinkOptions.
struct CollectorStats {
  std::string address;               // "host:port" ("[v6]:port"), the metrics label
  uint64_t batches_sent_total = 0;   // acknowledged by this collector
  uint64_t send_failures_total = 0;  // failed attempts to it (retried or not)
  uint64_t switches_total = 0;       // times the uplink switched to it
  bool active = false;               // the collector the uplink sends to now
};

// Counters exported by the agent as Prometheus metrics.
struct UplinkStats {
  uint64_t batches_sent_total = 0;
  uint64_t batches_rejected_total = 0;  // non-retryable 4xx: dropped, counted
  uint64_t batches_dropped_total = 0;   // the sum of batches_dropped_by_reason (stats())
  // Why: "queue_full" (max_queue_* in memory), "spool_full" (spool_max_bytes),
  // "disk_full" (ENOSPC/EDQUOT), "corrupt" (a spooled file failed its CRC),
  // "stopped" (undelivered at stop without a spool). Every reason is present, 0 or not.
  std::map<std::string, uint64_t> batches_dropped_by_reason;
  // What dropped and rejected batches held.
  uint64_t events_dropped_total = 0;
  uint64_t alerts_dropped_total = 0;
  uint64_t energy_records_dropped_total = 0;  // zone and workload energy records
  uint64_t send_failures_total = 0;           // every failed attempt, retried or not
  std::size_t queue_batches = 0;              // sealed batches waiting, incl. the one in flight
  std::size_t queue_events = 0;               // events in those batches
  std::size_t queue_bytes = 0;                // their encoded size
  std::size_t pending_events = 0;             // events not yet sealed into a batch
  // The bounds (UplinkOptions), exported next to their use.
  std::size_t queue_batches_limit = 0;
  std::size_t queue_events_limit = 0;
  std::size_t queue_bytes_limit = 0;
  std::size_t pending_events_limit = 0;  // max_batch_events
  // Spool (all 0 without one): batches and file bytes on disk now, its bound,
  // failed writes (batch kept in memory), batches found at start.
  std::size_t spool_batches = 0;
  uint64_t spool_bytes = 0;
  uint64_t spool_bytes_limit = 0;
  uint64_t spool_write_errors_total = 0;
  uint64_t spool_replayed_batches_total = 0;
  // Per collector, in UplinkOptions order (endpoint, then failover_endpoints).
  std::vector<CollectorStats> collectors;
};

// Thread-safe: add_*() from any thread; background threads seal (every
// flush_interval), spool and send.
class Uplink {
 public:
  // `status` is called when a batch is sealed, to stamp the agent's health.
  // Throws std::invalid_argument when a collector is listed twice.
  Uplink(UplinkOptions options, std::function<protocol::AgentStatus()> status);
  ~Uplink();  // stops; see stop()
  Uplink(const Uplink&) = delete;
  Uplink& operator=(const Uplink&) = delete;

  void add_event(protocol::Event event);
  void add_alert(protocol::Alert alert);
  void add_energy(std::vector<protocol::ZoneEnergy> zones,
                  std::vector<protocol::WorkloadEnergy> workloads);
  // Workloads that ended (the collector totals a Slurm job's footprint on these).
  void add_workload_ends(std::vector<protocol::WorkloadEnd> ends);

  // Seals what is pending and tries to deliver everything queued for at most
  // `grace`, then stops the sender thread. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  UplinkStats stats() const;

 private:
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
    std::chrono::steady_clock::time_point retry_at{};
  };

  void run();
  // The seal timer: seals what is pending every flush_interval, whatever the
  // sender is doing (a send hanging until request_timeout, a backoff), so
  // that events reach the spool within flush_interval during any outage.
  void run_sealer();
  // The spool writer thread: writes sealed batches, oldest first.
  void run_spooler();
  // Writes queued batches to the spool, evicting older spooled ones for
  // spool_max_bytes and on a full disk, then fsyncs the directory once for
  // all (group commit) before any of them counts as spooled. A batch that
  // could not be written stays in memory and is retried later. Called with
  // no lock held.
  void spool_group(const std::vector<uint64_t>& sequences);
  // A batch is taken by the sender once spooled, or once its write failed.
  bool sendable_locked(const Sealed& batch) const;
  std::deque<Sealed>::iterator find_locked(uint64_t sequence);
  void insert_locked(Sealed batch);
  void drop_locked(const Sealed& batch, const char* reason);
  // Removes a delivered or rejected batch's file. Called with no lock held.
  void unspool(uint64_t sequence);
  void publish_spool_stats();  // under spool_mutex_
  // Seals what is pending: numbered under the lock, encoded with the lock
  // released (callers never hold the sensor up with zstd), queued in order.
  void seal(std::unique_lock<std::mutex>& lk);
  bool pending_empty_locked() const;
  void count_lost_locked(const Sealed& batch);
  // Makes endpoints_[index] the collector batches go to.
  void switch_locked(std::size_t index, std::chrono::steady_clock::time_point now);

  UplinkOptions options_;
  std::vector<protocol::Endpoint> endpoints_;  // options_.endpoint, then the failover ones
  std::function<protocol::AgentStatus()> status_;
  delivery::SequenceAllocator sequences_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  protocol::Batch pending_;
  std::size_t sealing_events_ = 0;   // events of batches being encoded (still pending in stats)
  std::deque<Sealed> queue_;         // sealed, by sequence, waiting
  std::optional<Sealed> in_flight_;  // taken by the sender thread
  // Batches of queue_ held in memory (not spooled), their events and
  // encoded bytes: what max_queue_* bound.
  std::size_t queue_batches_ = 0;
  std::size_t queue_events_ = 0;
  std::size_t queue_bytes_ = 0;
  std::set<uint64_t> unspooled_;  // sequences in queue_ with no file yet (with a spool)
  std::map<std::string, std::chrono::steady_clock::time_point> next_drop_log_;
  UplinkStats stats_;
  std::size_t current_ = 0;  // index in endpoints_ of the collector in use
  std::chrono::steady_clock::time_point failback_at_{};  // when current_ != 0
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};
  std::thread sender_;
  std::condition_variable seal_wake_;  // with mutex_: stop
  std::thread sealer_;

  // The spool (null without one). Lock order: spool_mutex_ before mutex_;
  // never wait on spool_mutex_ while holding mutex_ (add_*() never waits on disk).
  std::mutex spool_mutex_;
  std::unique_ptr<delivery::Spool> spool_;
  std::condition_variable spool_wake_;  // with mutex_: a batch to write, or stop
  bool spooler_stopping_ = false;
  std::atomic<std::size_t> spool_batches_{0};
  std::atomic<uint64_t> spool_bytes_{0};
  std::thread spooler_;
};

}  // namespace vigie::uplink
