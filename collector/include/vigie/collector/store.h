// Durable storage of agent batches and the queries the API serves.
// Backends: SQLite (sqlite_store.h, the embedded default) and PostgreSQL
// (postgres_store.h, for several collectors and HA); DESIGN "Storage and scale".
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "vigie/collector/facility_store.h"
#include "vigie/csirt/indicator.h"
#include "vigie/csirt/store.h"
#include "vigie/protocol/event.h"

namespace vigie::collector {

// A query failed in the backend (I/O error, corrupt file…). Retryable for
// the client: the API answers 500.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StoreOutcome {
  enum class Status : uint8_t {
    kStored,     // committed durably, every row of the batch written
    kDuplicate,  // (host, agent_id, sequence) already held; nothing written
    kFailed,     // nothing written; `error` says why; the agent should retry
    kBusy,       // nothing written: the store's write queue is full; retry later (429)
  };
  Status status = Status::kFailed;
  std::string error;
};

// An alert as stored, with where and when it was received.
struct StoredAlert {
  int64_t id = 0;
  uint64_t received_ns = 0;  // collector wall clock, ns since epoch
  std::string agent_id;
  protocol::Alert alert;
};

struct AlertQuery {
  uint64_t since_ns = 0;  // alert event time >= since_ns
  std::string host;       // empty: every host
  std::size_t limit = 100;
};

struct EventQuery {
  std::optional<protocol::EventKind> kind;  // unset: every kind
  std::string host;                         // empty: every host
  uint64_t since_ns = 0;                    // event time >= since_ns
  std::size_t limit = 100;
};

struct EnergyQuery {
  uint64_t start_ns = 0;  // intervals ending in [start_ns, end_ns]
  uint64_t end_ns = 0;
  std::string host;  // empty: every host
};

struct ZoneSummary {
  std::string zone;
  std::string source;        // "rapl", "estimate"
  double energy_joules = 0;  // over the window
  double power_watts = 0;    // over the node's latest interval
  bool estimated = false;
  bool in_node_total = true;  // counts in the node's energy and power
};

struct NodeEnergy {
  std::string site;
  std::string host;
  // Sum over the window of the zones with in_node_total (RAPL core and
  // uncore are inside their package and are not added again).
  double energy_joules = 0;
  double power_watts = 0;   // top-level zones over the latest interval
  double carbon_gco2e = 0;  // sum of the node's workloads (attributed + unattributed)
  bool estimated = false;   // any estimated zone or workload sample went in
  std::vector<ZoneSummary> zones;
};

struct WorkloadSummary {
  std::string host;
  protocol::Workload workload;  // cgroup_path left empty
  double energy_joules = 0;     // over the window
  double power_watts = 0;       // over the node's latest interval; 0 if absent from it
  double cpu_seconds = 0;
  double carbon_gco2e = 0;
  bool estimated = false;
};

// Node power over time, averaged per bucket (at most ~300 points per host).
struct PowerPoint {
  std::string host;
  uint64_t t_ns = 0;  // end of the bucket's last interval
  double power_watts = 0;
};

struct EnergyReport {
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  std::vector<NodeEnergy> nodes;           // by host
  std::vector<WorkloadSummary> workloads;  // by host, then energy, largest first
  std::vector<PowerPoint> series;          // by host, then time
};

// A Slurm job's footprint on one host: the sum of the job's WorkloadEnergy
// from that host, totalled when the host's agent reports the job ended.
struct HostFootprint {
  std::string host;
  uint64_t start_ns = 0;  // first and last interval of the job's energy records
  uint64_t end_ns = 0;
  double cpu_seconds = 0;
  double energy_joules = 0;  // = cpu + dram + gpu + idle
  double cpu_joules = 0;
  double dram_joules = 0;
  double gpu_joules = 0;
  double idle_joules = 0;
  double operational_gco2e = 0;  // energy x PUE x grid intensity, as the agent computed it
  double embodied_gco2e = 0;
  bool estimated = false;
};

// A Slurm job's footprint over every host it ran on.
struct JobFootprint {
  std::string job_id;
  std::string user;
  std::string account;
  std::vector<HostFootprint> hosts;  // by host
};

// Latest status of one agent (an agent is its host and agent id).
struct AgentRecord {
  std::string agent_id;
  std::string site;
  std::string host;
  uint64_t last_seen_ns = 0;   // collector clock at the last batch received
  uint64_t last_sequence = 0;  // highest sequence received
  uint64_t sent_ns = 0;        // agent clock, from the batch with last_sequence
  protocol::AgentStatus status;
};

// How long data is kept (DESIGN "Storage and scale"). A zero duration keeps
// forever. Energy is downsampled, never just deleted: per-interval rows older
// than raw_energy become one row per (host, zone or workload, minute), those
// older than minute_energy one row per hour; sums of energy, CPU time and
// carbon are preserved exactly, so totals over any window that covers whole
// buckets are unchanged. Job footprints are kept as long as hour energy.
struct RetentionPolicy {
  std::chrono::hours events{24 * 30};         // raw events
  std::chrono::hours alerts{24 * 365};        // alerts
  std::chrono::hours raw_energy{24 * 7};      // per-interval energy rows
  std::chrono::hours minute_energy{24 * 90};  // per-minute rows; hourly kept forever
};

struct RetentionOutcome {
  uint64_t events_deleted = 0;
  uint64_t alerts_deleted = 0;
  uint64_t energy_rows_downsampled = 0;  // rows replaced by minute or hour rows
  uint64_t energy_rows_written = 0;      // minute and hour rows written
  // Duplicate-detection keys forgotten: kept as long as the longest of
  // events, alerts and raw_energy (all three non-zero), else forever.
  uint64_t batches_deleted = 0;
};

// Thread-safe. Queries throw StoreError on backend failure; store_batch
// never throws and reports failure in its outcome.
class Store {
 public:
  virtual ~Store() = default;

  // Writes the whole batch in one transaction, or nothing. A batch whose
  // (host, agent_id, sequence) is already held is a duplicate and writes
  // nothing: agent ids are chosen by agents, hosts are bound to their tokens,
  // so one host's agent cannot suppress another's batches. Text is stored
  // byte for byte, UTF-8 or not. Returns only once the data is durable.
  virtual StoreOutcome store_batch(const protocol::Batch& batch, uint64_t received_ns) = 0;

  // Newest first (event time, then arrival).
  virtual std::vector<StoredAlert> alerts(const AlertQuery& query) = 0;
  virtual std::vector<protocol::Event> events(const EventQuery& query) = 0;
  virtual EnergyReport energy(const EnergyQuery& query) = 0;
  // By agent id, then host.
  virtual std::vector<AgentRecord> agents() = 0;
  // The footprint of Slurm job `job_id` as totalled at its WorkloadEnd
  // records (store_batch does it); nullopt when no host has reported it ended.
  virtual std::optional<JobFootprint> job_footprint(const std::string& job_id) = 0;

  // Stores alerts the collector raised itself (correlation, threshold and
  // absence rules), or that a federation received from a site, under the
  // pseudo agent id `origin`. Throws StoreError.
  virtual void store_alerts(const std::string& origin, const std::string& site,
                            const std::string& host, const std::vector<protocol::Alert>& alerts,
                            uint64_t received_ns) = 0;

  // Deletes and downsamples what `policy` no longer keeps raw, as of `now_ns`.
  // Idempotent; safe to run while batches are stored. Throws StoreError.
  // Observables (the retro-hunt index) go with the events they came from.
  virtual RetentionOutcome apply_retention(const RetentionPolicy& policy, uint64_t now_ns) = 0;

  // The CSIRT's incidents, indicators and sightings, in the same database
  // (csirt/store.h); nullptr for a store that keeps none.
  virtual csirt::CsirtStore* csirt_store() = 0;
  // Facilities, meter readings and grid series of the sustainability reports
  // (facility_store.h), in the same database; nullptr for a store that keeps none.
  virtual FacilityStore* facility_store() { return nullptr; }
  // The indicators stored alerts are matched against from now on: each
  // alert (of a batch or of store_alerts) whose event matches one becomes a
  // sighting (source "alert", with the alert's id), written in the alert's
  // own transaction, so that a sighting exists exactly when its alert does.
  // nullptr: match nothing. Thread-safe.
  virtual void set_indicator_matcher(std::shared_ptr<const csirt::IndicatorMatcher> matcher) = 0;
};

}  // namespace vigie::collector
