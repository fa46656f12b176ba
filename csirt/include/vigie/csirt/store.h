// Where incidents, their timelines, indicators and sightings are kept: an
// interface the collector's stores implement (SQLite and PostgreSQL, in the
// same database as the events, so that a retro-hunt and a scope read what
// ingest wrote). Thread-safe; every call is one transaction: it writes all
// or nothing. Backend failures throw (the collector's StoreError).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vigie/csirt/incident.h"
#include "vigie/csirt/indicator.h"
#include "vigie/csirt/timeline.h"
#include "vigie/protocol/event.h"

namespace vigie::csirt {

struct IncidentQuery {
  std::optional<State> state;  // unset: every state
  bool open_only = false;
  std::size_t limit = 100;
};

// The outcome of a compare-and-set write.
enum class WriteOutcome : uint8_t {
  kWritten,
  kNotFound,  // no such incident (404)
  kStale,     // its version is no longer the one the caller read (412)
};

struct IndicatorQuery {
  std::optional<ObservableType> type;
  std::string value;  // normalised; empty: any
  bool include_deleted = false;
  std::size_t limit = 100;
};

// An indicator linked to an incident.
struct LinkedIndicator {
  Indicator indicator;
  LinkRole role = LinkRole::kObserved;
  uint64_t linked_ns = 0;
};

// One group of stored observables a retro-hunt found.
struct ObservableHit {
  std::string site, host, workload_kind, workload_id, user;
  uint64_t first_ns = 0, last_ns = 0;
  uint64_t count = 0;
};

// A stored alert as the CSIRT sees it (the collector's alerts table).
struct AlertRecord {
  int64_t id = 0;
  std::string site;
  std::string host;
  protocol::Alert alert;  // with its event: user, workload (job), command line
};

// A retro-hunt: its request and, once finished, its outcome.
struct Retrohunt {
  std::string id;  // uuid
  std::vector<std::string> indicators;  // uuids searched
  uint64_t since_ns = 0;                // the window searched: observables at or after
  std::string state = "queued";         // "queued", "running", "done", "failed"
  uint64_t requested_ns = 0, started_ns = 0, finished_ns = 0;
  std::string requested_by;
  uint64_t rows_scanned = 0;    // stored observables read
  uint64_t sightings = 0;       // sighting rows recorded or updated
  bool truncated = false;       // an indicator had more rows than the request's bound
  std::string error;            // "failed": why
};

class CsirtStore {
 public:
  virtual ~CsirtStore() = default;

  // Stores a new incident: assigns its id (the next number of its first
  // site and the year of created_ns, incident_id()), version 1, and writes
  // `first_entry` (its id and incident id assigned) to its timeline.
  virtual Incident create_incident(Incident incident, TimelineEntry first_entry) = 0;
  // By readable id or uuid.
  virtual std::optional<Incident> incident(const std::string& id) = 0;
  // Newest first (created_ns).
  virtual std::vector<Incident> incidents(const IncidentQuery& query) = 0;
  // Writes `incident` (its version + 1) and appends `entries`, only if the
  // stored version is still `expected_version`.
  virtual WriteOutcome update_incident(const Incident& incident, uint64_t expected_version,
                                       const std::vector<TimelineEntry>& entries) = 0;

  // Appends one entry (id assigned, returned); kNotFound for no incident.
  // Entries that stop a SEC01 clock (closure report) go through
  // update_incident instead, with the incident.
  virtual std::optional<TimelineEntry> append_entry(TimelineEntry entry) = 0;
  // In order of occurred_ns, then recording.
  virtual std::vector<TimelineEntry> timeline(const std::string& incident_id) = 0;

  // Adds or updates the indicator of the same (type, value, source): TLP,
  // to_ids, tags, comment, valid_until and deleted are replaced; the uuid
  // and created_ns of an existing one are kept. Otherwise, an indicator
  // whose uuid is stored replaces that one, type and value included (a MISP
  // attribute edited in place keeps its uuid). Returns it as stored.
  virtual Indicator put_indicator(Indicator indicator) = 0;
  virtual std::optional<Indicator> indicator(const std::string& uuid) = 0;
  virtual std::vector<Indicator> indicators(const IndicatorQuery& query) = 0;
  // Every indicator that may match (not deleted, to_ids), for the matcher.
  virtual std::vector<Indicator> detection_indicators() = 0;
  // Links (or relinks with a new role) an indicator to an incident; false
  // when either does not exist.
  virtual bool link_indicator(const std::string& incident_id, const std::string& indicator_uuid,
                              LinkRole role, uint64_t now_ns) = 0;
  virtual std::vector<LinkedIndicator> incident_indicators(const std::string& incident_id) = 0;

  // Merges each sighting into the row of its (indicator, site, host,
  // workload, user, source): first/last widened, alert_id replaced when set,
  // count added, except for sources "retrohunt" and "exchange", whose count
  // is the largest seen (a retro-hunt counts stored events, another team's
  // document its own total: running it again or importing the document
  // again must not count them twice); the indicator's first/last seen widened.
  virtual void record_sightings(const std::vector<Sighting>& sightings) = 0;
  // By last_ns, newest first.
  virtual std::vector<Sighting> sightings(const std::string& indicator_uuid,
                                          std::size_t limit) = 0;

  // Stored observables of `type` with a key in `range` at or after
  // `since_ns`, grouped by site, host, workload and user. Reads at most
  // `max_rows` rows (+1, to tell whether there were more: `truncated`).
  virtual std::vector<ObservableHit> find_observables(ObservableType type, const KeyRange& range,
                                                      uint64_t since_ns, std::size_t max_rows,
                                                      uint64_t& rows_read, bool& truncated) = 0;

  // Alerts by id (those that exist), for timelines and scopes.
  virtual std::vector<AlertRecord> alerts_by_id(const std::vector<int64_t>& ids) = 0;

  virtual void put_retrohunt(const Retrohunt& retrohunt) = 0;  // insert or replace by id
  virtual std::optional<Retrohunt> retrohunt(const std::string& id) = 0;

  // Exchange bookkeeping: small JSON documents by (kind, key), replaced
  // whole: "misp-event" (key: event uuid; what a feed import last read of
  // it), "import" (key: import id; an import's report and the context items
  // it kept). Kinds and keys are 1 to 256 bytes.
  virtual void put_document(const std::string& kind, const std::string& key,
                            const std::string& body, uint64_t updated_ns) = 0;
  virtual std::optional<std::string> document(const std::string& kind,
                                              const std::string& key) = 0;
  // (key, body) of `kind`, most recently updated first.
  virtual std::vector<std::pair<std::string, std::string>> documents(const std::string& kind,
                                                                     std::size_t limit) = 0;

  // True exactly once per (incident, step key) over the store's life, so
  // that an overdue step raises one alert even with several collectors.
  virtual bool claim_overdue(const std::string& incident_id, const std::string& step_key,
                             uint64_t now_ns) = 0;
};

}  // namespace vigie::csirt
