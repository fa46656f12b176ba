#include "storage/postgres_store.h"

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <utility>

#include "json.h"
#include "storage/energy_report.h"
#include "storage/postgres_connection.h"
#include "storage/stored_form.h"

namespace vigie::collector {
namespace {

using postgres::to_db;
using postgres::to_db_bound;
using protocol::Batch;

// Schema migrations; entry i takes version i to i + 1. Every string from
// agents is bytea (kept byte for byte, compared and sorted bytewise as in
// SQLite); ns and uint64 counters are bigint (values up to 2^63 round-trip,
// as in SQLite). `event`, `tags` and `health` are CBOR (stored_form.h).
// `resolution_ns`: 0 for rows as sent, else the width of the minute or hour
// bucket the row sums (retention).
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE batches (
  host bytea NOT NULL, agent_id bytea NOT NULL, sequence bigint NOT NULL,
  site bytea NOT NULL, sent_ns bigint NOT NULL, received_ns bigint NOT NULL,
  PRIMARY KEY (host, agent_id, sequence));
CREATE INDEX batches_received ON batches (received_ns);
CREATE TABLE events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, agent_id bytea NOT NULL,
  time_ns bigint NOT NULL, site bytea NOT NULL, host bytea NOT NULL, kind bytea NOT NULL,
  pid bigint NOT NULL, ppid bigint NOT NULL, uid bigint NOT NULL, gid bigint NOT NULL,
  user_name bytea NOT NULL, cgroup_id bigint NOT NULL,
  workload_kind bytea NOT NULL, workload_id bytea NOT NULL, workload_user bytea NOT NULL,
  image bytea NOT NULL, command_line bytea NOT NULL, event bytea NOT NULL);
CREATE INDEX events_time ON events (time_ns);
CREATE INDEX events_host_time ON events (host, time_ns);
CREATE INDEX events_kind_time ON events (kind, time_ns);
CREATE TABLE alerts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, received_ns bigint NOT NULL,
  time_ns bigint NOT NULL, rule_id bytea NOT NULL, rule_title bytea NOT NULL,
  level bytea NOT NULL, tags bytea NOT NULL, site bytea NOT NULL, host bytea NOT NULL,
  agent_id bytea NOT NULL, pid bigint NOT NULL, user_name bytea NOT NULL, image bytea NOT NULL,
  command_line bytea NOT NULL, workload_kind bytea NOT NULL, workload_id bytea NOT NULL,
  workload_user bytea NOT NULL, event bytea NOT NULL);
CREATE INDEX alerts_time ON alerts (time_ns);
CREATE INDEX alerts_host_time ON alerts (host, time_ns);
CREATE TABLE zone_energy (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, agent_id bytea NOT NULL,
  site bytea NOT NULL, host bytea NOT NULL, start_ns bigint NOT NULL, end_ns bigint NOT NULL,
  zone bytea NOT NULL, source bytea NOT NULL, estimated boolean NOT NULL,
  energy_joules double precision NOT NULL, in_node_total boolean NOT NULL,
  resolution_ns bigint NOT NULL DEFAULT 0);
CREATE INDEX zone_energy_end ON zone_energy (end_ns);
CREATE INDEX zone_energy_host_end ON zone_energy (host, end_ns);
CREATE TABLE workload_energy (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, agent_id bytea NOT NULL,
  site bytea NOT NULL, host bytea NOT NULL, start_ns bigint NOT NULL, end_ns bigint NOT NULL,
  workload_kind bytea NOT NULL, workload_id bytea NOT NULL, workload_user bytea NOT NULL,
  workload_account bytea NOT NULL, cgroup_path bytea NOT NULL,
  cpu_seconds double precision NOT NULL, energy_joules double precision NOT NULL,
  carbon_gco2e double precision NOT NULL, cpu_joules double precision NOT NULL,
  dram_joules double precision NOT NULL, gpu_joules double precision NOT NULL,
  idle_joules double precision NOT NULL, embodied_gco2e double precision NOT NULL,
  estimated boolean NOT NULL, resolution_ns bigint NOT NULL DEFAULT 0);
CREATE INDEX workload_energy_end ON workload_energy (end_ns);
CREATE INDEX workload_energy_host_end ON workload_energy (host, end_ns);
CREATE INDEX workload_energy_workload ON workload_energy (workload_kind, workload_id);
CREATE TABLE agent_status (
  agent_id bytea NOT NULL, site bytea NOT NULL, host bytea NOT NULL,
  last_seen_ns bigint NOT NULL, last_sequence bigint NOT NULL, sent_ns bigint NOT NULL,
  ringbuf_drops_total bigint NOT NULL, events_total bigint NOT NULL,
  uplink_dropped_total bigint NOT NULL, rule_pack_version bytea NOT NULL, health bytea NOT NULL,
  PRIMARY KEY (host, agent_id));
CREATE TABLE job_footprint_hosts (
  job_id bytea NOT NULL, host bytea NOT NULL, user_name bytea NOT NULL, account bytea NOT NULL,
  start_ns bigint NOT NULL, end_ns bigint NOT NULL, cpu_seconds double precision NOT NULL,
  energy_joules double precision NOT NULL, cpu_joules double precision NOT NULL,
  dram_joules double precision NOT NULL, gpu_joules double precision NOT NULL,
  idle_joules double precision NOT NULL, carbon_gco2e double precision NOT NULL,
  embodied_gco2e double precision NOT NULL, estimated boolean NOT NULL,
  PRIMARY KEY (job_id, host));
)sql",
    // 2: the CSIRT (csirt/store.h), as SQLite's migration 5. Observables of
    // every event, for retro-hunts (type: csirt::ObservableType; key:
    // csirt::observable_key, bytea so that key ranges compare bytewise);
    // incidents, timeline entries, indicators and retro-hunts as their JSON
    // (csirt/json.h, text) beside the columns queries filter on; sightings one
    // row per (indicator, site, host, workload, user, source). Ids and names
    // are bytea like every other string here: they come from URLs and agents.
    R"sql(
CREATE TABLE observables (
  type smallint NOT NULL, key bytea NOT NULL, time_ns bigint NOT NULL, event_id bigint NOT NULL,
  site bytea NOT NULL, host bytea NOT NULL, workload_kind bytea NOT NULL,
  workload_id bytea NOT NULL, user_name bytea NOT NULL);
CREATE INDEX observables_key ON observables (type, key, time_ns);
CREATE INDEX observables_time ON observables (time_ns);
CREATE TABLE incident_numbers (
  site bytea NOT NULL, year integer NOT NULL, last bigint NOT NULL, PRIMARY KEY (site, year));
CREATE TABLE incidents (
  id bytea PRIMARY KEY, uuid bytea NOT NULL UNIQUE, state bytea NOT NULL,
  created_ns bigint NOT NULL, version bigint NOT NULL, body text NOT NULL);
CREATE INDEX incidents_created ON incidents (created_ns);
CREATE TABLE timeline (
  seq bigserial PRIMARY KEY, id bytea NOT NULL UNIQUE, incident_id bytea NOT NULL,
  occurred_ns bigint NOT NULL, body text NOT NULL);
CREATE INDEX timeline_incident ON timeline (incident_id, occurred_ns);
CREATE TABLE indicators (
  uuid bytea PRIMARY KEY, type smallint NOT NULL, value bytea NOT NULL, source bytea NOT NULL,
  deleted boolean NOT NULL, to_ids boolean NOT NULL, first_seen_ns bigint NOT NULL,
  last_seen_ns bigint NOT NULL, updated_ns bigint NOT NULL, body text NOT NULL,
  UNIQUE (type, value, source));
CREATE TABLE incident_indicators (
  incident_id bytea NOT NULL, indicator_uuid bytea NOT NULL, role bytea NOT NULL,
  linked_ns bigint NOT NULL, PRIMARY KEY (incident_id, indicator_uuid));
CREATE TABLE sightings (
  indicator_uuid bytea NOT NULL, site bytea NOT NULL, host bytea NOT NULL,
  workload_kind bytea NOT NULL, workload_id bytea NOT NULL, user_name bytea NOT NULL,
  source bytea NOT NULL, first_ns bigint NOT NULL, last_ns bigint NOT NULL,
  count bigint NOT NULL, alert_id bigint NOT NULL,
  PRIMARY KEY (indicator_uuid, site, host, workload_kind, workload_id, user_name, source));
CREATE TABLE retrohunts (id bytea PRIMARY KEY, requested_ns bigint NOT NULL, body text NOT NULL);
CREATE TABLE sec01_overdue (
  incident_id bytea NOT NULL, step bytea NOT NULL, claimed_ns bigint NOT NULL,
  PRIMARY KEY (incident_id, step));
)sql",
    // 2 → 3: CSIRT exchange bookkeeping (csirt/store.h documents).
    R"sql(
CREATE TABLE csirt_documents (
  kind bytea NOT NULL, key bytea NOT NULL, updated_ns bigint NOT NULL, body text NOT NULL,
  PRIMARY KEY (kind, key));
CREATE INDEX csirt_documents_updated ON csirt_documents (kind, updated_ns);
)sql",
    // 3 → 4: the sustainability reports (facility_store.h), as SQLite's migration 7.
    R"sql(
CREATE TABLE facilities (id bytea PRIMARY KEY, updated_ns bigint NOT NULL, body text NOT NULL);
CREATE TABLE facility_readings (
  facility bytea NOT NULL, quantity bytea NOT NULL, meter bytea NOT NULL,
  cumulative boolean NOT NULL, start_s bigint NOT NULL, end_s bigint NOT NULL,
  value double precision NOT NULL, basis bytea NOT NULL, source bytea NOT NULL,
  imported_ns bigint NOT NULL,
  PRIMARY KEY (facility, quantity, meter, cumulative, start_s, end_s));
CREATE INDEX facility_readings_end ON facility_readings (facility, end_s);
CREATE TABLE grid_points (
  zone bytea NOT NULL, basis bytea NOT NULL, time_s bigint NOT NULL,
  gco2e_per_kwh double precision NOT NULL, source bytea NOT NULL, version bytea NOT NULL,
  PRIMARY KEY (zone, basis, time_s));
)sql",
};
static_assert(std::size(kMigrations) == PostgresStore::kSchemaVersion);

// Serialises retention runs of all collectors on one database ("vigieret").
constexpr long long kRetentionLockKey = 0x7669676965726574;

std::string host_filter(const std::string& host) {
  return host.empty() ? std::string() : std::string(" AND host = $3");
}

constexpr const char* kEventColumns =
    "agent_id, time_ns, site, host, kind, pid, ppid, uid, gid, user_name, cgroup_id, "
    "workload_kind, workload_id, workload_user, image, command_line, event";
constexpr const char* kAlertColumns =
    "received_ns, time_ns, rule_id, rule_title, level, tags, site, host, agent_id, pid, "
    "user_name, image, command_line, workload_kind, workload_id, workload_user, event";

// COPY's target: `table (columns)`, with its id first when the rows have
// theirs (PostgresStore::reserve_ids).
std::string copy_target(const char* table, const char* columns, const CopyRows& rows) {
  return std::string(table) + (rows.has_prepended_column() ? " (id, " : " (") + columns + ")";
}

// The sightings of the alerts whose event `matcher` matches, as SQLite
// writes them; alert_id is the alert's index until its id is known.
std::vector<csirt::Sighting> sightings_of(const csirt::IndicatorMatcher* matcher,
                                          const std::vector<protocol::Alert>& alerts) {
  std::vector<csirt::Sighting> out;
  if (matcher == nullptr || matcher->size() == 0) return out;
  for (std::size_t i = 0; i < alerts.size(); ++i) {
    const auto& event = alerts[i].event;
    for (const auto& observable : csirt::observables_of(event)) {
      for (auto& uuid : matcher->match(observable)) {
        out.push_back({std::move(uuid), event.site, event.host,
                       std::string(protocol::to_string(event.workload.kind)), event.workload.id,
                       event.user, event.time_ns, event.time_ns, 1, "alert",
                       static_cast<int64_t>(i)});
      }
    }
  }
  return out;
}

// Once the alerts have their ids: those of their sightings.
std::vector<csirt::Sighting> with_alert_ids(std::vector<csirt::Sighting> sightings,
                                            const std::vector<int64_t>& alert_ids) {
  for (auto& s : sightings) s.alert_id = alert_ids[static_cast<std::size_t>(s.alert_id)];
  return sightings;
}

}  // namespace

PostgresStore::Lease::Lease(PostgresStore& store, std::unique_ptr<Connection> connection)
    : store_(store), connection_(std::move(connection)) {}

PostgresStore::Lease::~Lease() {
  std::lock_guard lock(store_.mutex_);
  if (connection_ && !connection_->broken()) {
    store_.idle_.push_back(std::move(connection_));
  } else {
    // Broken: the server restarted or went away, so the idle ones are too.
    // All are dropped; the next calls open new ones.
    store_.open_ -= 1 + store_.idle_.size();
    store_.idle_.clear();
  }
  store_.available_.notify_all();
}

PostgresStore::PoolStats PostgresStore::pool_stats() const {
  std::lock_guard lock(mutex_);
  return {open_, open_ - idle_.size(), waiting_};
}

PostgresStore::Lease PostgresStore::acquire() {
  std::unique_lock lock(mutex_);
  auto ready = [&] { return !idle_.empty() || open_ < pool_size_; };
  if (!ready()) {
    ++waiting_;
    available_.wait(lock, ready);
    --waiting_;
  }
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(connection));
  }
  ++open_;
  lock.unlock();
  try {
    return Lease(*this, std::make_unique<Connection>(conninfo_));
  } catch (...) {
    lock.lock();
    --open_;
    available_.notify_one();
    throw;
  }
}

PostgresStore::PostgresStore(const std::string& conninfo, std::size_t pool_size)
    : conninfo_(conninfo), pool_size_(std::max<std::size_t>(1, pool_size)) {
  auto lease = acquire();
  Connection& c = *lease;
  try {
    c.exec("BEGIN");
    c.query("SELECT pg_advisory_xact_lock($1)", Params(kMigrationLockKey));
    c.exec("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)");
    int version = 0;
    if (auto r = c.query("SELECT COALESCE(MAX(version), 0) FROM schema_version"); r.rows() > 0)
      version = static_cast<int>(r.integer(0, 0));
    if (version > kSchemaVersion) {
      throw StoreError("the PostgreSQL database has schema version " + std::to_string(version) +
                       ", newer than this binary's " + std::to_string(kSchemaVersion) +
                       ": upgrade vigie-collector");
    }
    for (; version < kSchemaVersion; ++version) c.exec(kMigrations[version]);
    c.exec("DELETE FROM schema_version");
    c.query("INSERT INTO schema_version VALUES ($1::bigint::integer)", Params(version));
    c.exec("COMMIT");
  } catch (...) {
    c.rollback();
    throw;
  }
}

PostgresStore::~PostgresStore() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [&] { return open_ == idle_.size(); });
  idle_.clear();
}

void PostgresStore::set_indicator_matcher(std::shared_ptr<const csirt::IndicatorMatcher> matcher) {
  std::lock_guard lock(matcher_mutex_);
  matcher_ = std::move(matcher);
}

std::shared_ptr<const csirt::IndicatorMatcher> PostgresStore::matcher() const {
  std::lock_guard lock(matcher_mutex_);
  return matcher_;
}

std::vector<int64_t> PostgresStore::reserve_ids(Connection& c, CopyRows& rows, const char* table) {
  const auto r = c.query(std::string("SELECT nextval(pg_get_serial_sequence('") + table +
                             "', 'id')) FROM generate_series(1, $1)",
                         Params(rows.rows()));
  std::vector<int64_t> ids;
  ids.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) ids.push_back(r.integer(i, 0));
  if (ids.size() != rows.rows())
    throw StoreError(std::string("PostgreSQL: fewer ids than rows from the sequence of ") + table);
  std::sort(ids.begin(), ids.end());  // rows in batch order, like those of COPY's default
  rows.prepend_column(ids);
  return ids;
}

StoreOutcome PostgresStore::store_batch(const Batch& batch, uint64_t received_ns) {
  // Rows encoded before a connection is taken, so that a connection is held
  // only for the round trips.
  CopyRows events, alerts, zones, workloads, observables;
  std::vector<std::size_t> observed_in;  // per observable row, its event's index
  std::vector<csirt::Sighting> sightings;
  try {
    for (std::size_t i = 0; i < batch.events.size(); ++i) {
      const auto& event = batch.events[i];
      events.row(batch.agent_id, to_db(event.time_ns), event.site, event.host,
                 protocol::to_string(event.kind()), event.pid, event.ppid, event.uid, event.gid,
                 event.user, to_db(event.cgroup_id), protocol::to_string(event.workload.kind),
                 event.workload.id, event.workload.user, event_image(event),
                 event_command_line(event), stored_form::encode_event(event));
      for (const auto& observable : csirt::observables_of(event)) {
        observables.row(static_cast<int16_t>(observable.type), observable.key,
                        to_db(event.time_ns), event.site, event.host,
                        protocol::to_string(event.workload.kind), event.workload.id, event.user);
        observed_in.push_back(i);
      }
    }
    for (const auto& alert : batch.alerts) {
      const auto& event = alert.event;
      alerts.row(to_db(received_ns), to_db(event.time_ns), alert.rule_id, alert.rule_title,
                 alert.level, stored_form::encode_tags(alert.tags), event.site, event.host,
                 batch.agent_id, event.pid, event.user, event_image(event),
                 event_command_line(event), protocol::to_string(event.workload.kind),
                 event.workload.id, event.workload.user, stored_form::encode_event(event));
    }
    for (const auto& zone : batch.zone_energy) {
      zones.row(batch.agent_id, batch.site, batch.host, to_db(zone.start_ns), to_db(zone.end_ns),
                zone.zone, protocol::to_string(zone.source),
                zone.estimated || zone.source == protocol::EnergySource::kEstimate,
                zone.energy_joules, zone.in_node_total);
    }
    for (const auto& e : batch.workload_energy) {
      workloads.row(batch.agent_id, batch.site, batch.host, to_db(e.start_ns), to_db(e.end_ns),
                    protocol::to_string(e.workload.kind), e.workload.id, e.workload.user,
                    e.workload.account, e.workload.cgroup_path, e.cpu_seconds, e.energy_joules,
                    e.carbon_gco2e, e.cpu_joules, e.dram_joules, e.gpu_joules, e.idle_joules,
                    e.embodied_gco2e, e.estimated);
    }
    sightings = sightings_of(matcher().get(), batch.alerts);
  } catch (const std::exception& e) {
    return {StoreOutcome::Status::kFailed, std::string("cannot encode the batch: ") + e.what()};
  }
  const auto health = stored_form::encode_health(batch.status);

  // Done again after a lost connection: the whole transaction was rolled
  // back by the server, or committed, and then the batch is a duplicate.
  auto write = [&](Connection& c) -> StoreOutcome {
    c.exec("BEGIN");
    const auto inserted = c.query(
        "INSERT INTO batches (agent_id, sequence, site, host, sent_ns, received_ns) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        Params(batch.agent_id, to_db(batch.sequence), batch.site, batch.host, to_db(batch.sent_ns),
               to_db(received_ns)));
    if (inserted.affected() == 0) {
      c.exec("ROLLBACK");
      return {StoreOutcome::Status::kDuplicate, {}};
    }
    if (observables.rows() > 0) {
      const auto event_ids = reserve_ids(c, events, "events");
      std::vector<int64_t> observed_ids;
      observed_ids.reserve(observed_in.size());
      for (const std::size_t i : observed_in) observed_ids.push_back(event_ids[i]);
      observables.prepend_column(std::move(observed_ids));
    }
    c.copy(copy_target("events", kEventColumns, events), events);
    c.copy(
        "observables (event_id, type, key, time_ns, site, host, workload_kind, workload_id, "
        "user_name)",
        observables);
    std::vector<int64_t> alert_ids;
    if (!sightings.empty()) alert_ids = reserve_ids(c, alerts, "alerts");
    c.copy(copy_target("alerts", kAlertColumns, alerts), alerts);
    if (!sightings.empty()) write_sightings(c, with_alert_ids(sightings, alert_ids));
    c.copy(
        "zone_energy (agent_id, site, host, start_ns, end_ns, zone, source, estimated, "
        "energy_joules, in_node_total)",
        zones);
    c.copy(
        "workload_energy (agent_id, site, host, start_ns, end_ns, workload_kind, workload_id, "
        "workload_user, workload_account, cgroup_path, cpu_seconds, energy_joules, carbon_gco2e, "
        "cpu_joules, dram_joules, gpu_joules, idle_joules, embodied_gco2e, estimated)",
        workloads);
    const auto& status = batch.status;
    c.query(
        "INSERT INTO agent_status AS a (agent_id, site, host, last_seen_ns, last_sequence, "
        "sent_ns, ringbuf_drops_total, events_total, uplink_dropped_total, rule_pack_version, "
        "health) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        "ON CONFLICT (host, agent_id) DO UPDATE SET "
        "last_seen_ns = GREATEST(a.last_seen_ns, EXCLUDED.last_seen_ns), "
        "site = CASE WHEN EXCLUDED.last_sequence > a.last_sequence THEN EXCLUDED.site "
        "ELSE a.site END, "
        "last_sequence = GREATEST(a.last_sequence, EXCLUDED.last_sequence), "
        "sent_ns = CASE WHEN EXCLUDED.last_sequence > a.last_sequence THEN EXCLUDED.sent_ns "
        "ELSE a.sent_ns END, "
        "ringbuf_drops_total = CASE WHEN EXCLUDED.last_sequence > a.last_sequence "
        "THEN EXCLUDED.ringbuf_drops_total ELSE a.ringbuf_drops_total END, "
        "events_total = CASE WHEN EXCLUDED.last_sequence > a.last_sequence "
        "THEN EXCLUDED.events_total ELSE a.events_total END, "
        "uplink_dropped_total = CASE WHEN EXCLUDED.last_sequence > a.last_sequence "
        "THEN EXCLUDED.uplink_dropped_total ELSE a.uplink_dropped_total END, "
        "rule_pack_version = CASE WHEN EXCLUDED.last_sequence > a.last_sequence "
        "THEN EXCLUDED.rule_pack_version ELSE a.rule_pack_version END, "
        "health = CASE WHEN EXCLUDED.last_sequence > a.last_sequence THEN EXCLUDED.health "
        "ELSE a.health END",
        Params(batch.agent_id, batch.site, batch.host, to_db(received_ns), to_db(batch.sequence),
               to_db(batch.sent_ns), to_db(status.ringbuf_drops_total), to_db(status.events_total),
               to_db(status.uplink_dropped_total), status.rule_pack_version, health));
    // After this batch's energy: a job's last records travel with or before its end.
    for (const auto& end : batch.workload_ends) {
      if (end.workload.kind != protocol::WorkloadKind::kSlurmJob) continue;
      c.query(
          "INSERT INTO job_footprint_hosts AS j (job_id, host, user_name, account, start_ns, "
          "end_ns, cpu_seconds, energy_joules, cpu_joules, dram_joules, gpu_joules, idle_joules, "
          "carbon_gco2e, embodied_gco2e, estimated) "
          "SELECT $1, host, (array_agg(workload_user ORDER BY workload_user DESC))[1], "
          "(array_agg(workload_account ORDER BY workload_account DESC))[1], MIN(start_ns), "
          "MAX(end_ns), SUM(cpu_seconds), SUM(energy_joules), SUM(cpu_joules), "
          "SUM(dram_joules), SUM(gpu_joules), SUM(idle_joules), SUM(carbon_gco2e), "
          "SUM(embodied_gco2e), bool_or(estimated) FROM workload_energy "
          "WHERE workload_kind = 'slurm_job'::bytea AND workload_id = $1 AND host = $2 "
          "GROUP BY host "
          "ON CONFLICT (job_id, host) DO UPDATE SET user_name = EXCLUDED.user_name, "
          "account = EXCLUDED.account, start_ns = EXCLUDED.start_ns, end_ns = EXCLUDED.end_ns, "
          "cpu_seconds = EXCLUDED.cpu_seconds, energy_joules = EXCLUDED.energy_joules, "
          "cpu_joules = EXCLUDED.cpu_joules, dram_joules = EXCLUDED.dram_joules, "
          "gpu_joules = EXCLUDED.gpu_joules, idle_joules = EXCLUDED.idle_joules, "
          "carbon_gco2e = EXCLUDED.carbon_gco2e, embodied_gco2e = EXCLUDED.embodied_gco2e, "
          "estimated = EXCLUDED.estimated",
          Params(end.workload.id, batch.host));
    }
    c.exec("COMMIT");
    return {StoreOutcome::Status::kStored, {}};
  };
  try {
    return with_connection(write);
  } catch (const std::exception& e) {
    return {StoreOutcome::Status::kFailed, e.what()};
  }
}

void PostgresStore::store_alerts(const std::string& origin, const std::string& site,
                                 const std::string& host,
                                 const std::vector<protocol::Alert>& alerts, uint64_t received_ns) {
  if (alerts.empty()) return;
  std::vector<protocol::Alert> placed = alerts;
  CopyRows rows;
  for (auto& alert : placed) {
    auto& event = alert.event;
    if (event.site.empty()) event.site = site;
    if (event.host.empty()) event.host = host;
    rows.row(to_db(received_ns), to_db(event.time_ns), alert.rule_id, alert.rule_title,
             alert.level, stored_form::encode_tags(alert.tags), event.site, event.host, origin,
             event.pid, event.user, event_image(event), event_command_line(event),
             protocol::to_string(event.workload.kind), event.workload.id, event.workload.user,
             stored_form::encode_event(event));
  }
  const auto sightings = sightings_of(matcher().get(), placed);
  // Not idempotent: done again only when its first call (BEGIN) failed.
  with_connection(
      [&](Connection& c) {
        c.exec("BEGIN");
        std::vector<int64_t> alert_ids;
        if (!sightings.empty()) alert_ids = reserve_ids(c, rows, "alerts");
        c.copy(copy_target("alerts", kAlertColumns, rows), rows);
        if (!sightings.empty()) write_sightings(c, with_alert_ids(sightings, alert_ids));
        c.exec("COMMIT");
      },
      false);
}

std::optional<JobFootprint> PostgresStore::job_footprint(const std::string& job_id) {
  return with_connection([&](Connection& c) -> std::optional<JobFootprint> {
    const auto r = c.query(
        "SELECT host, user_name, account, start_ns, end_ns, cpu_seconds, energy_joules, "
        "cpu_joules, dram_joules, gpu_joules, idle_joules, carbon_gco2e, embodied_gco2e, "
        "estimated FROM job_footprint_hosts WHERE job_id = $1 ORDER BY host",
        Params(job_id));
    JobFootprint f;
    f.job_id = job_id;
    for (int i = 0; i < r.rows(); ++i) {
      f.hosts.push_back({r.text(i, 0), r.unsigned_integer(i, 3), r.unsigned_integer(i, 4),
                         r.real(i, 5), r.real(i, 6), r.real(i, 7), r.real(i, 8), r.real(i, 9),
                         r.real(i, 10), r.real(i, 11), r.real(i, 12), r.boolean(i, 13)});
      if (f.user.empty()) f.user = r.text(i, 1);
      if (f.account.empty()) f.account = r.text(i, 2);
    }
    if (f.hosts.empty()) return std::nullopt;
    return f;
  });
}

std::vector<StoredAlert> PostgresStore::alerts(const AlertQuery& query) {
  return with_connection([&](Connection& c) {
    const auto r = c.query(
        "SELECT id, received_ns, agent_id, rule_id, rule_title, level, tags, event FROM alerts "
        "WHERE time_ns >= $1" +
            host_filter(query.host) + " ORDER BY time_ns DESC, id DESC LIMIT $2",
        Params(to_db_bound(query.since_ns), to_db_bound(query.limit), query.host));
    std::vector<StoredAlert> out;
    for (int i = 0; i < r.rows(); ++i) {
      StoredAlert stored;
      stored.id = r.integer(i, 0);
      stored.received_ns = r.unsigned_integer(i, 1);
      stored.agent_id = r.text(i, 2);
      stored.alert.rule_id = r.text(i, 3);
      stored.alert.rule_title = r.text(i, 4);
      stored.alert.level = r.text(i, 5);
      const std::string what = "alert " + std::to_string(stored.id);
      stored.alert.tags = stored_form::decode_tags(r.blob(i, 6), what);
      stored.alert.event = stored_form::decode_event(r.blob(i, 7), what);
      out.push_back(std::move(stored));
    }
    return out;
  });
}

std::vector<protocol::Event> PostgresStore::events(const EventQuery& query) {
  const std::string kind =
      query.kind ? std::string(protocol::to_string(*query.kind)) : std::string();
  std::string sql = "SELECT id, event FROM events WHERE time_ns >= $1";
  if (!query.host.empty()) sql += " AND host = $3";
  if (query.kind) sql += " AND kind = $4";
  sql += " ORDER BY time_ns DESC, id DESC LIMIT $2";
  return with_connection([&](Connection& c) {
    const auto r = c.query(
        sql, Params(to_db_bound(query.since_ns), to_db_bound(query.limit), query.host, kind));
    std::vector<protocol::Event> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i)
      out.push_back(
          stored_form::decode_event(r.blob(i, 1), "event " + std::to_string(r.integer(i, 0))));
    return out;
  });
}

EnergyReport PostgresStore::energy(const EnergyQuery& query) {
  const int64_t start = to_db_bound(query.start_ns), end = to_db_bound(query.end_ns);
  const std::string window = " WHERE end_ns BETWEEN $1 AND $2" + host_filter(query.host);
  const Params params(start, end, query.host, to_db(EnergyReportBuilder::bucket_ns(query)));

  return with_connection([&](Connection& c) {
    EnergyReportBuilder report(query);
    const auto zones = c.query(
        "SELECT host, (array_agg(site ORDER BY end_ns DESC))[1], zone, source, "
        "SUM(energy_joules), bool_or(estimated), in_node_total FROM zone_energy" +
            window + " GROUP BY host, zone, source, in_node_total ORDER BY host, zone, source",
        params);
    for (int i = 0; i < zones.rows(); ++i) {
      report.add_zone(zones.text(i, 0), zones.text(i, 1),
                      {zones.text(i, 2), zones.text(i, 3), zones.real(i, 4), 0, zones.boolean(i, 5),
                       zones.boolean(i, 6)});
    }
    // The latest interval of each host: its power now.
    const std::string latest =
        " JOIN (SELECT host AS h, MAX(end_ns) AS last_end FROM zone_energy" + window +
        " GROUP BY host) AS latest ON host = latest.h AND end_ns = latest.last_end";
    const auto latest_zones = c.query(
        "SELECT host, zone, source, SUM(energy_joules), MAX(end_ns - start_ns), in_node_total "
        "FROM zone_energy" +
            latest + " GROUP BY host, zone, source, in_node_total",
        params);
    for (int i = 0; i < latest_zones.rows(); ++i) {
      report.add_latest_zone(latest_zones.text(i, 0), latest_zones.text(i, 1),
                             latest_zones.text(i, 2), latest_zones.boolean(i, 5),
                             latest_zones.real(i, 3), latest_zones.unsigned_integer(i, 4));
    }

    const auto workloads = c.query(
        "SELECT host, (array_agg(site ORDER BY end_ns DESC))[1], workload_kind, workload_id, "
        "workload_user, SUM(energy_joules), SUM(cpu_seconds), SUM(carbon_gco2e), "
        "bool_or(estimated) FROM workload_energy" +
            window +
            " GROUP BY host, workload_kind, workload_id, workload_user "
            "ORDER BY host, SUM(energy_joules) DESC",
        params);
    for (int i = 0; i < workloads.rows(); ++i) {
      WorkloadSummary summary;
      summary.host = workloads.text(i, 0);
      summary.workload.id = workloads.text(i, 3);
      summary.workload.user = workloads.text(i, 4);
      summary.energy_joules = workloads.real(i, 5);
      summary.cpu_seconds = workloads.real(i, 6);
      summary.carbon_gco2e = workloads.real(i, 7);
      summary.estimated = workloads.boolean(i, 8);
      report.add_workload(workloads.text(i, 1), workloads.text(i, 2), std::move(summary));
    }
    const std::string latest_workload =
        " JOIN (SELECT host AS h, MAX(end_ns) AS last_end FROM workload_energy" + window +
        " GROUP BY host) AS latest ON host = latest.h AND end_ns = latest.last_end";
    const auto latest_workloads = c.query(
        "SELECT host, workload_kind, workload_id, workload_user, SUM(energy_joules), "
        "MAX(end_ns - start_ns) FROM workload_energy" +
            latest_workload + " GROUP BY host, workload_kind, workload_id, workload_user",
        params);
    for (int i = 0; i < latest_workloads.rows(); ++i) {
      report.add_latest_workload(latest_workloads.text(i, 0), latest_workloads.text(i, 1),
                                 latest_workloads.text(i, 2), latest_workloads.text(i, 3),
                                 latest_workloads.real(i, 4),
                                 latest_workloads.unsigned_integer(i, 5));
    }

    // Node power series: per interval the node-total zones' energy, then per bucket.
    const auto series = c.query(
        "SELECT host, MAX(end_ns), SUM(joules), SUM(end_ns - start_ns)::bigint FROM ("
        "SELECT host, start_ns, end_ns, SUM(energy_joules) AS joules FROM zone_energy" +
            window +
            " AND in_node_total GROUP BY host, start_ns, end_ns) AS intervals "
            "GROUP BY host, end_ns / $4 ORDER BY host, 2",
        params);
    for (int i = 0; i < series.rows(); ++i) {
      report.add_series_point(series.text(i, 0), series.unsigned_integer(i, 1), series.real(i, 2),
                              series.unsigned_integer(i, 3));
    }
    return std::move(report).finish();
  });
}

std::vector<AgentRecord> PostgresStore::agents() {
  return with_connection([&](Connection& c) {
    const auto r = c.query(
        "SELECT agent_id, site, host, last_seen_ns, last_sequence, sent_ns, ringbuf_drops_total, "
        "events_total, uplink_dropped_total, rule_pack_version, health FROM agent_status "
        "ORDER BY agent_id, host");
    std::vector<AgentRecord> out;
    for (int i = 0; i < r.rows(); ++i) {
      AgentRecord agent;
      agent.agent_id = r.text(i, 0);
      agent.site = r.text(i, 1);
      agent.host = r.text(i, 2);
      agent.last_seen_ns = r.unsigned_integer(i, 3);
      agent.last_sequence = r.unsigned_integer(i, 4);
      agent.sent_ns = r.unsigned_integer(i, 5);
      agent.status.ringbuf_drops_total = r.unsigned_integer(i, 6);
      agent.status.events_total = r.unsigned_integer(i, 7);
      agent.status.uplink_dropped_total = r.unsigned_integer(i, 8);
      agent.status.rule_pack_version = r.text(i, 9);
      stored_form::decode_health(r.blob(i, 10), agent.agent_id, agent.status);
      out.push_back(std::move(agent));
    }
    return out;
  });
}

RetentionOutcome PostgresStore::apply_retention(const RetentionPolicy& policy, uint64_t now_ns) {
  const auto cut = stored_form::retention_cutoffs(policy, now_ns);
  // Each step moves rows with DELETE ... RETURNING into the INSERT of their
  // sums, in one statement: a row is summed exactly once even when a batch
  // is stored meanwhile or another collector runs retention too.
  auto downsample = [](Connection& c, const std::string& table, const std::string& keys,
                       const std::vector<std::string>& sums, uint64_t resolution_ns,
                       uint64_t cutoff_ns, RetentionOutcome& out) {
    std::string columns, summed;
    for (const auto& column : sums) {
      columns += ", " + column;
      summed += ", SUM(" + column + ")";
    }
    const std::string sql = "WITH moved AS (DELETE FROM " + table +
                            " WHERE resolution_ns < $1 AND end_ns <= $2 RETURNING *), "
                            "written AS (INSERT INTO " +
                            table + " (" + keys + ", start_ns, end_ns, resolution_ns" + columns +
                            ") SELECT " + keys + ", MIN(start_ns), MAX(end_ns), $1" + summed +
                            " FROM moved GROUP BY " + keys +
                            ", (end_ns - 1) / $1 RETURNING 1) "
                            "SELECT (SELECT COUNT(*) FROM moved), (SELECT COUNT(*) FROM written)";
    const auto r = c.query(sql, Params(to_db(resolution_ns), to_db(cutoff_ns)));
    out.energy_rows_downsampled += r.unsigned_integer(0, 0);
    out.energy_rows_written += r.unsigned_integer(0, 1);
  };
  return with_connection([&](Connection& c) {
    RetentionOutcome out;
    c.exec("BEGIN");
    c.query("SELECT pg_advisory_xact_lock($1)", Params(kRetentionLockKey));
    if (cut.events_ns != 0) {
      out.events_deleted =
          c.query("DELETE FROM events WHERE time_ns < $1", Params(to_db(cut.events_ns))).affected();
      c.query("DELETE FROM observables WHERE time_ns < $1", Params(to_db(cut.events_ns)));
    }
    if (cut.alerts_ns != 0)
      out.alerts_deleted =
          c.query("DELETE FROM alerts WHERE time_ns < $1", Params(to_db(cut.alerts_ns))).affected();
    for (const auto& [resolution, cutoff] :
         {std::pair{stored_form::kMinuteNs, cut.minute_ns}, {stored_form::kHourNs, cut.hour_ns}}) {
      if (cutoff == 0) continue;
      downsample(c, "zone_energy", "agent_id, site, host, zone, source, estimated, in_node_total",
                 {"energy_joules"}, resolution, cutoff, out);
      downsample(c, "workload_energy",
                 "agent_id, site, host, workload_kind, workload_id, workload_user, "
                 "workload_account, cgroup_path, estimated",
                 {"cpu_seconds", "energy_joules", "carbon_gco2e", "cpu_joules", "dram_joules",
                  "gpu_joules", "idle_joules", "embodied_gco2e"},
                 resolution, cutoff, out);
    }
    if (cut.batches_ns != 0)
      out.batches_deleted =
          c.query("DELETE FROM batches WHERE received_ns < $1", Params(to_db(cut.batches_ns)))
              .affected();
    c.exec("COMMIT");
    return out;
  });
}

}  // namespace vigie::collector
