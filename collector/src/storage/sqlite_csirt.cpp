// SqliteStore's side of csirt::CsirtStore: incidents, timelines, indicators,
// sightings, retro-hunts and the SEC01 overdue claims (tables of migration 5).
#include <limits>
#include <nlohmann/json.hpp>

#include "storage/csirt_form.h"
#include "storage/sqlite_statements.h"
#include "storage/sqlite_store.h"
#include "storage/stored_form.h"
#include "vigie/csirt/json.h"

namespace vigie::collector {
namespace {

using nlohmann::json;
using sqlite::to_db;
using sqlite::to_db_bound;
using csirt_form::dump;
using csirt_form::read_body;
using csirt_form::utc_year;

csirt::Incident incident_of(const std::string& body) {
  return read_body<csirt::Incident>(body, csirt::incident_from_json, "an incident");
}

std::string incident_body(const csirt::Incident& incident) { return dump(to_json(incident, {})); }

constexpr const char* kOpenStates = "state NOT IN ('closed', 'false_positive', 'merged')";

}  // namespace

csirt::Incident SqliteStore::create_incident(csirt::Incident incident,
                                             csirt::TimelineEntry first) {
  return transaction([&] {
    const std::string site = incident.sites.empty() ? std::string() : incident.sites.front();
    const int year = utc_year(incident.created_ns);
    auto& number = statements_->cached(
        "INSERT INTO incident_numbers (site, year, last) VALUES (?1, ?2, 1) "
        "ON CONFLICT (site, year) DO UPDATE SET last = last + 1 RETURNING last");
    number.bind(site, year);
    if (!number.step()) throw StoreError("SQLite: no incident number returned");
    const auto n = number.unsigned_integer(0);
    number.bind();  // reset: the statement is done
    incident.id = csirt::incident_id(site, year, n);
    if (incident.uuid.empty()) incident.uuid = csirt::new_uuid();
    incident.version = 1;
    statements_
        ->cached("INSERT INTO incidents (id, uuid, state, created_ns, version, body) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind(incident.id, incident.uuid, to_string(incident.state), to_db(incident.created_ns),
              to_db(incident.version), incident_body(incident))
        .run();
    first.incident_id = incident.id;
    if (first.id.empty()) first.id = csirt::new_uuid();
    statements_
        ->cached("INSERT INTO timeline (id, incident_id, occurred_ns, body) VALUES (?1, ?2, ?3, ?4)")
        .bind(first.id, first.incident_id, to_db(first.occurred_ns), dump(to_json(first)))
        .run();
    return incident;
  });
}

std::optional<csirt::Incident> SqliteStore::incident(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached("SELECT body FROM incidents WHERE id = ?1 OR uuid = ?1");
  statement.bind(id);
  if (!statement.step()) return std::nullopt;
  auto out = incident_of(statement.text(0));
  statement.bind();
  return out;
}

std::vector<csirt::Incident> SqliteStore::incidents(const csirt::IncidentQuery& query) {
  std::lock_guard lock(mutex_);
  std::string sql = "SELECT body FROM incidents WHERE 1";
  if (query.state) sql += " AND state = ?2";
  if (query.open_only) sql += std::string(" AND ") + kOpenStates;
  sql += " ORDER BY created_ns DESC, id DESC LIMIT ?1";
  auto& statement = statements_->cached(sql);
  statement.bind(query.limit, query.state ? to_string(*query.state) : std::string_view());
  std::vector<csirt::Incident> out;
  while (statement.step()) out.push_back(incident_of(statement.text(0)));
  return out;
}

csirt::WriteOutcome SqliteStore::update_incident(const csirt::Incident& incident,
                                                 uint64_t expected_version,
                                                 const std::vector<csirt::TimelineEntry>& entries) {
  return transaction([&] {
    csirt::Incident stored = incident;
    stored.version = expected_version + 1;
    statements_
        ->cached("UPDATE incidents SET state = ?2, version = ?3, body = ?4 "
                 "WHERE id = ?1 AND version = ?5")
        .bind(incident.id, to_string(stored.state), to_db(stored.version), incident_body(stored),
              to_db(expected_version))
        .run();
    if (sqlite3_changes(db_) == 0) {
      auto& exists = statements_->cached("SELECT 1 FROM incidents WHERE id = ?1");
      const bool found = exists.bind(incident.id).step();
      exists.bind();
      return found ? csirt::WriteOutcome::kStale : csirt::WriteOutcome::kNotFound;
    }
    for (csirt::TimelineEntry entry : entries) {
      entry.incident_id = incident.id;
      if (entry.id.empty()) entry.id = csirt::new_uuid();
      statements_
          ->cached(
              "INSERT INTO timeline (id, incident_id, occurred_ns, body) VALUES (?1, ?2, ?3, ?4)")
          .bind(entry.id, entry.incident_id, to_db(entry.occurred_ns), dump(to_json(entry)))
          .run();
    }
    return csirt::WriteOutcome::kWritten;
  });
}

std::optional<csirt::TimelineEntry> SqliteStore::append_entry(csirt::TimelineEntry entry) {
  return transaction([&]() -> std::optional<csirt::TimelineEntry> {
    auto& exists = statements_->cached("SELECT 1 FROM incidents WHERE id = ?1");
    const bool found = exists.bind(entry.incident_id).step();
    exists.bind();
    if (!found) return std::nullopt;
    if (entry.id.empty()) entry.id = csirt::new_uuid();
    statements_
        ->cached("INSERT INTO timeline (id, incident_id, occurred_ns, body) VALUES (?1, ?2, ?3, ?4)")
        .bind(entry.id, entry.incident_id, to_db(entry.occurred_ns), dump(to_json(entry)))
        .run();
    return entry;
  });
}

std::vector<csirt::TimelineEntry> SqliteStore::timeline(const std::string& incident_id) {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached(
      "SELECT body FROM timeline WHERE incident_id = ?1 ORDER BY occurred_ns, seq");
  statement.bind(incident_id);
  std::vector<csirt::TimelineEntry> out;
  while (statement.step())
    out.push_back(read_body<csirt::TimelineEntry>(statement.text(0), csirt::entry_from_json,
                                                  "a timeline entry"));
  return out;
}

namespace {
// The indicator of a row (body, first_seen_ns, last_seen_ns): the seen times
// are columns, widened by sightings without rewriting the body.
csirt::Indicator indicator_of(const Statement& row) {
  auto out = read_body<csirt::Indicator>(row.text(0), csirt::indicator_from_json, "an indicator");
  out.first_seen_ns = row.unsigned_integer(1);
  out.last_seen_ns = row.unsigned_integer(2);
  return out;
}
constexpr const char* kIndicatorColumns = "body, first_seen_ns, last_seen_ns";
}  // namespace

csirt::Indicator SqliteStore::put_indicator(csirt::Indicator indicator) {
  return transaction([&] {
    auto& existing = statements_->cached(
        std::string("SELECT ") + kIndicatorColumns +
        " FROM indicators WHERE type = ?1 AND value = ?2 AND source = ?3");
    if (indicator.uuid.empty()) indicator.uuid = csirt::new_uuid();
    auto& same_uuid = statements_->cached(std::string("SELECT ") + kIndicatorColumns +
                                          " FROM indicators WHERE uuid = ?1");
    Statement* found = nullptr;
    if (existing.bind(static_cast<int>(indicator.type), indicator.value, indicator.source).step()) {
      found = &existing;
    } else if (same_uuid.bind(indicator.uuid).step()) {
      found = &same_uuid;  // an edit in place: its uuid kept, its value changed
    }
    if (found != nullptr) {
      const csirt::Indicator old = indicator_of(*found);
      indicator.uuid = old.uuid;
      indicator.created_ns = old.created_ns;
      indicator.first_seen_ns = old.first_seen_ns;
      indicator.last_seen_ns = old.last_seen_ns;
    }
    existing.bind();
    same_uuid.bind();
    statements_
        ->cached("INSERT INTO indicators (uuid, type, value, source, deleted, to_ids, "
                 "first_seen_ns, last_seen_ns, updated_ns, body) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                 "ON CONFLICT (uuid) DO UPDATE SET type = excluded.type, value = excluded.value, "
                 "source = excluded.source, deleted = excluded.deleted, "
                 "to_ids = excluded.to_ids, updated_ns = excluded.updated_ns, body = excluded.body")
        .bind(indicator.uuid, static_cast<int>(indicator.type), indicator.value, indicator.source,
              indicator.deleted, indicator.to_ids, to_db(indicator.first_seen_ns),
              to_db(indicator.last_seen_ns), to_db(indicator.updated_ns),
              dump(to_json(indicator)))
        .run();
    return indicator;
  });
}

std::optional<csirt::Indicator> SqliteStore::indicator(const std::string& uuid) {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached(std::string("SELECT ") + kIndicatorColumns +
                                        " FROM indicators WHERE uuid = ?1");
  if (!statement.bind(uuid).step()) return std::nullopt;
  auto out = indicator_of(statement);
  statement.bind();
  return out;
}

std::vector<csirt::Indicator> SqliteStore::indicators(const csirt::IndicatorQuery& query) {
  std::lock_guard lock(mutex_);
  std::string sql = std::string("SELECT ") + kIndicatorColumns + " FROM indicators WHERE 1";
  if (query.type) sql += " AND type = ?2";
  if (!query.value.empty()) sql += " AND value = ?3";
  if (!query.include_deleted) sql += " AND deleted = 0";
  sql += " ORDER BY updated_ns DESC, uuid LIMIT ?1";
  auto& statement = statements_->cached(sql);
  statement.bind(query.limit, query.type ? static_cast<int>(*query.type) : -1, query.value);
  std::vector<csirt::Indicator> out;
  while (statement.step()) out.push_back(indicator_of(statement));
  return out;
}

std::vector<csirt::Indicator> SqliteStore::detection_indicators() {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached(std::string("SELECT ") + kIndicatorColumns +
                                        " FROM indicators WHERE deleted = 0 AND to_ids = 1");
  statement.bind();
  std::vector<csirt::Indicator> out;
  while (statement.step()) out.push_back(indicator_of(statement));
  return out;
}

bool SqliteStore::link_indicator(const std::string& incident_id, const std::string& indicator_uuid,
                                 csirt::LinkRole role, uint64_t now_ns) {
  return transaction([&] {
    statements_
        ->cached("INSERT INTO incident_indicators (incident_id, indicator_uuid, role, linked_ns) "
                 "SELECT i.id, n.uuid, ?3, ?4 FROM incidents i, indicators n "
                 "WHERE i.id = ?1 AND n.uuid = ?2 "
                 "ON CONFLICT (incident_id, indicator_uuid) DO UPDATE SET role = excluded.role")
        .bind(incident_id, indicator_uuid, to_string(role), to_db(now_ns))
        .run();
    return sqlite3_changes(db_) > 0;
  });
}

std::vector<csirt::LinkedIndicator> SqliteStore::incident_indicators(
    const std::string& incident_id) {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached(
      "SELECT n.body, n.first_seen_ns, n.last_seen_ns, l.role, l.linked_ns "
      "FROM incident_indicators l JOIN indicators n ON n.uuid = l.indicator_uuid "
      "WHERE l.incident_id = ?1 ORDER BY l.linked_ns, n.uuid");
  statement.bind(incident_id);
  std::vector<csirt::LinkedIndicator> out;
  while (statement.step()) {
    const auto role = csirt::parse_link_role(statement.text(3));
    if (!role) throw StoreError("an indicator link is corrupt in the database: role");
    out.push_back({indicator_of(statement), *role, statement.unsigned_integer(4)});
  }
  return out;
}

void SqliteStore::record_sightings(const std::vector<csirt::Sighting>& sightings) {
  transaction([&] {
    for (const auto& s : sightings) {
      statements_->upsert_sighting
          .bind(s.indicator_uuid, s.site, s.host, s.workload_kind, s.workload_id, s.user, s.source,
                to_db(s.first_ns), to_db(s.last_ns), to_db(s.count), s.alert_id)
          .run();
      statements_->touch_indicator.bind(s.indicator_uuid, to_db(s.first_ns), to_db(s.last_ns))
          .run();
    }
  });
}

std::vector<csirt::Sighting> SqliteStore::sightings(const std::string& indicator_uuid,
                                                    std::size_t limit) {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached(
      "SELECT indicator_uuid, site, host, workload_kind, workload_id, user, first_ns, last_ns, "
      "count, source, alert_id FROM sightings WHERE indicator_uuid = ?1 "
      "ORDER BY last_ns DESC LIMIT ?2");
  statement.bind(indicator_uuid, limit);
  std::vector<csirt::Sighting> out;
  while (statement.step()) {
    out.push_back({statement.text(0), statement.text(1), statement.text(2), statement.text(3),
                   statement.text(4), statement.text(5), statement.unsigned_integer(6),
                   statement.unsigned_integer(7), statement.unsigned_integer(8), statement.text(9),
                   statement.integer(10)});
  }
  return out;
}

std::vector<csirt::ObservableHit> SqliteStore::find_observables(
    csirt::ObservableType type, const csirt::KeyRange& range, uint64_t since_ns,
    std::size_t max_rows, uint64_t& rows_read, bool& truncated) {
  std::lock_guard lock(mutex_);
  // The inner LIMIT bounds what is read; one row more tells there was more.
  auto& statement = statements_->cached(
      "SELECT site, host, workload_kind, workload_id, user, MIN(time_ns), MAX(time_ns), COUNT(*) "
      "FROM (SELECT site, host, workload_kind, workload_id, user, time_ns FROM observables "
      "WHERE type = ?1 AND key BETWEEN ?2 AND ?3 AND time_ns >= ?4 LIMIT ?5) "
      "GROUP BY site, host, workload_kind, workload_id, user");
  max_rows = std::min<std::size_t>(max_rows, std::numeric_limits<int64_t>::max() - 1);
  statement.bind(static_cast<int>(type), range.low, range.high, to_db_bound(since_ns),
                 max_rows + 1);
  std::vector<csirt::ObservableHit> out;
  uint64_t read = 0;
  while (statement.step()) {
    out.push_back({statement.text(0), statement.text(1), statement.text(2), statement.text(3),
                   statement.text(4), statement.unsigned_integer(5), statement.unsigned_integer(6),
                   statement.unsigned_integer(7)});
    read += out.back().count;
  }
  truncated = read > max_rows;
  rows_read = std::min<uint64_t>(read, max_rows);
  return out;
}

std::vector<csirt::AlertRecord> SqliteStore::alerts_by_id(const std::vector<int64_t>& ids) {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached(
      "SELECT id, site, host, rule_id, rule_title, level, tags, event FROM alerts WHERE id = ?1");
  std::vector<csirt::AlertRecord> out;
  for (const int64_t id : ids) {
    if (!statement.bind(id).step()) continue;
    csirt::AlertRecord record;
    record.id = statement.integer(0);
    record.site = statement.text(1);
    record.host = statement.text(2);
    record.alert.rule_id = statement.text(3);
    record.alert.rule_title = statement.text(4);
    record.alert.level = statement.text(5);
    const std::string what = "alert " + std::to_string(record.id);
    const auto tags = nlohmann::json::from_cbor(statement.blob(6), true, false);
    if (!tags.is_array()) throw StoreError(what + " is corrupt in the database: tags");
    for (const auto& tag : tags)
      record.alert.tags.push_back(tag.is_string() ? tag.get<std::string>() : tag.dump());
    record.alert.event = stored_form::decode_event(statement.blob(7), what);
    out.push_back(std::move(record));
  }
  statement.bind();
  return out;
}

void SqliteStore::put_retrohunt(const csirt::Retrohunt& retrohunt) {
  transaction([&] {
    statements_
        ->cached("INSERT INTO retrohunts (id, requested_ns, body) VALUES (?1, ?2, ?3) "
                 "ON CONFLICT (id) DO UPDATE SET body = excluded.body")
        .bind(retrohunt.id, to_db(retrohunt.requested_ns), dump(to_json(retrohunt)))
        .run();
  });
}

std::optional<csirt::Retrohunt> SqliteStore::retrohunt(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached("SELECT body FROM retrohunts WHERE id = ?1");
  if (!statement.bind(id).step()) return std::nullopt;
  auto out =
      read_body<csirt::Retrohunt>(statement.text(0), csirt::retrohunt_from_json, "a retro-hunt");
  statement.bind();
  return out;
}

void SqliteStore::put_document(const std::string& kind, const std::string& key,
                               const std::string& body, uint64_t updated_ns) {
  transaction([&] {
    statements_
        ->cached("INSERT INTO csirt_documents (kind, key, updated_ns, body) VALUES (?1, ?2, ?3, ?4) "
                 "ON CONFLICT (kind, key) DO UPDATE SET updated_ns = excluded.updated_ns, "
                 "body = excluded.body")
        .bind(kind, key, to_db(updated_ns), body)
        .run();
  });
}

std::optional<std::string> SqliteStore::document(const std::string& kind, const std::string& key) {
  std::lock_guard lock(mutex_);
  auto& statement =
      statements_->cached("SELECT body FROM csirt_documents WHERE kind = ?1 AND key = ?2");
  if (!statement.bind(kind, key).step()) return std::nullopt;
  std::string out = statement.text(0);
  statement.bind();
  return out;
}

std::vector<std::pair<std::string, std::string>> SqliteStore::documents(const std::string& kind,
                                                                        std::size_t limit) {
  std::lock_guard lock(mutex_);
  auto& statement = statements_->cached(
      "SELECT key, body FROM csirt_documents WHERE kind = ?1 ORDER BY updated_ns DESC LIMIT ?2");
  statement.bind(kind, to_db_bound(limit));
  std::vector<std::pair<std::string, std::string>> out;
  while (statement.step()) out.emplace_back(statement.text(0), statement.text(1));
  statement.bind();
  return out;
}

bool SqliteStore::claim_overdue(const std::string& incident_id, const std::string& step_key,
                                uint64_t now_ns) {
  return transaction([&] {
    statements_
        ->cached("INSERT INTO sec01_overdue (incident_id, step, claimed_ns) VALUES (?1, ?2, ?3) "
                 "ON CONFLICT DO NOTHING")
        .bind(incident_id, step_key, to_db(now_ns))
        .run();
    return sqlite3_changes(db_) == 1;
  });
}

}  // namespace vigie::collector
