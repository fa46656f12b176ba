// Batching and delivery of agent data to the collector (DESIGN.md "Protocol"):
// events, alerts and energy are gathered into vigie.v1 batches, numbered per
// agent, and POSTed in order to /api/v1/ingest with retry and backoff, failing
// over between several collectors (DESIGN.md "Storage and scale").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

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

// Thread-safe: add_*() from any thread. Three roles run behind it, each on
// its own thread (src/): the sealer numbers and encodes what is pending into
// batches every flush_interval or max_batch_events; the spool writer (with a
// spool_dir) writes sealed batches to disk; the sender delivers them in
// sequence order, failing over between collectors. They share one queue of
// sealed batches (src/queue.h).
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
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigie::uplink
