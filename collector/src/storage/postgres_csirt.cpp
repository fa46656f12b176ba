// PostgresStore's side of csirt::CsirtStore: incidents, timelines, indicators,
// sightings, retro-hunts and the SEC01 overdue claims (tables of migration 2),
// with sqlite_csirt.cpp's JSON bodies and results. What several collectors
// may race on is made atomic by PostgreSQL: an incident's number is an upsert
// of its (site, year) row, an update an UPDATE ... WHERE version = expected,
// an overdue claim an INSERT ... ON CONFLICT DO NOTHING.
#include <algorithm>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>
#include <utility>

#include "storage/csirt_form.h"
#include "storage/postgres_connection.h"
#include "storage/postgres_store.h"
#include "storage/stored_form.h"
#include "vigie/csirt/json.h"

namespace vigie::collector {
namespace {

using nlohmann::json;
using postgres::Text;
using postgres::to_db;
using postgres::to_db_bound;

// Serialises put_indicator's read of a (type, value, source) and its write
// across collectors ("vigieioc"), so that two puts of a new one make one.
constexpr long long kIndicatorLockKey = 0x7669676965696f63;

using csirt_form::dump;
using csirt_form::read_body;
using csirt_form::utc_year;

csirt::Incident incident_of(const Result& r, int row) {
  return read_body<csirt::Incident>(r.text(row, 0), csirt::incident_from_json, "an incident");
}

// The indicator of a row (body, first_seen_ns, last_seen_ns): the seen times
// are columns, widened by sightings without rewriting the body.
csirt::Indicator indicator_of(const Result& r, int row) {
  auto out =
      read_body<csirt::Indicator>(r.text(row, 0), csirt::indicator_from_json, "an indicator");
  out.first_seen_ns = r.unsigned_integer(row, 1);
  out.last_seen_ns = r.unsigned_integer(row, 2);
  return out;
}
constexpr const char* kIndicatorColumns = "body, first_seen_ns, last_seen_ns";

constexpr const char* kInsertEntry =
    "INSERT INTO timeline (id, incident_id, occurred_ns, body) VALUES ($1, $2, $3, $4)";

constexpr const char* kOpenStates =
    "state NOT IN ('closed'::bytea, 'false_positive'::bytea, 'merged'::bytea)";

}  // namespace

void PostgresStore::write_sightings(Connection& c, std::vector<csirt::Sighting> sightings) {
  // Rows are locked in one order by every writer (sightings by key, then
  // indicators by uuid), so that two collectors never wait for each other.
  auto key = [](const csirt::Sighting& s) {
    return std::tie(s.indicator_uuid, s.site, s.host, s.workload_kind, s.workload_id, s.user,
                    s.source);
  };
  std::stable_sort(sightings.begin(), sightings.end(),
                   [&](const auto& a, const auto& b) { return key(a) < key(b); });
  std::map<std::string, std::pair<uint64_t, uint64_t>> seen;  // uuid -> first, last
  for (const auto& s : sightings) {
    c.query(
        "INSERT INTO sightings AS s (indicator_uuid, site, host, workload_kind, workload_id, "
        "user_name, source, first_ns, last_ns, count, alert_id) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        "ON CONFLICT (indicator_uuid, site, host, workload_kind, workload_id, user_name, source) "
        "DO UPDATE SET first_ns = LEAST(s.first_ns, EXCLUDED.first_ns), "
        "last_ns = GREATEST(s.last_ns, EXCLUDED.last_ns), "
        "count = CASE WHEN EXCLUDED.source IN ('retrohunt'::bytea, 'exchange'::bytea) "
        "THEN GREATEST(s.count, EXCLUDED.count) ELSE s.count + EXCLUDED.count END, "
        "alert_id = CASE WHEN EXCLUDED.alert_id <> 0 THEN EXCLUDED.alert_id ELSE s.alert_id END",
        Params(s.indicator_uuid, s.site, s.host, s.workload_kind, s.workload_id, s.user, s.source,
               to_db(s.first_ns), to_db(s.last_ns), to_db(s.count), s.alert_id));
    auto [it, added] = seen.try_emplace(s.indicator_uuid, s.first_ns, s.last_ns);
    if (!added) {
      it->second.first = std::min(it->second.first, s.first_ns);
      it->second.second = std::max(it->second.second, s.last_ns);
    }
  }
  for (const auto& [uuid, times] : seen) {
    c.query(
        "UPDATE indicators SET first_seen_ns = CASE WHEN first_seen_ns = 0 OR "
        "first_seen_ns > $2 THEN $2 ELSE first_seen_ns END, "
        "last_seen_ns = GREATEST(last_seen_ns, $3) WHERE uuid = $1",
        Params(uuid, to_db(times.first), to_db(times.second)));
  }
}

csirt::Incident PostgresStore::create_incident(csirt::Incident incident,
                                               csirt::TimelineEntry first) {
  const std::string site = incident.sites.empty() ? std::string() : incident.sites.front();
  const int year = utc_year(incident.created_ns);
  if (incident.uuid.empty()) incident.uuid = csirt::new_uuid();
  incident.version = 1;
  if (first.id.empty()) first.id = csirt::new_uuid();
  return transaction(
      [&](Connection& c) {
        // Row-locked by the upsert: collectors creating incidents of one site
        // and year at once get consecutive numbers.
        const auto number = c.query(
            "INSERT INTO incident_numbers AS n (site, year, last) VALUES ($1, $2, 1) "
            "ON CONFLICT (site, year) DO UPDATE SET last = n.last + 1 RETURNING last",
            Params(site, year));
        csirt::Incident out = incident;
        out.id = csirt::incident_id(site, year, number.unsigned_integer(0, 0));
        c.query(
            "INSERT INTO incidents (id, uuid, state, created_ns, version, body) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            Params(out.id, out.uuid, to_string(out.state), to_db(out.created_ns),
                   to_db(out.version), Text{dump(to_json(out, {}))}));
        csirt::TimelineEntry entry = first;
        entry.incident_id = out.id;
        c.query(kInsertEntry, Params(entry.id, entry.incident_id, to_db(entry.occurred_ns),
                                     Text{dump(to_json(entry))}));
        return out;
      },
      false);
}

std::optional<csirt::Incident> PostgresStore::incident(const std::string& id) {
  return with_connection([&](Connection& c) -> std::optional<csirt::Incident> {
    const auto r = c.query("SELECT body FROM incidents WHERE id = $1 OR uuid = $1", Params(id));
    if (r.rows() == 0) return std::nullopt;
    return incident_of(r, 0);
  });
}

std::vector<csirt::Incident> PostgresStore::incidents(const csirt::IncidentQuery& query) {
  std::string sql = "SELECT body FROM incidents WHERE true";
  if (query.state) sql += " AND state = $2";
  if (query.open_only) sql += std::string(" AND ") + kOpenStates;
  sql += " ORDER BY created_ns DESC, id DESC LIMIT $1";
  return with_connection([&](Connection& c) {
    const auto r = c.query(sql, Params(to_db_bound(query.limit),
                                       query.state ? to_string(*query.state) : std::string_view()));
    std::vector<csirt::Incident> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(incident_of(r, i));
    return out;
  });
}

csirt::WriteOutcome PostgresStore::update_incident(
    const csirt::Incident& incident, uint64_t expected_version,
    const std::vector<csirt::TimelineEntry>& entries) {
  csirt::Incident stored = incident;
  stored.version = expected_version + 1;
  std::vector<csirt::TimelineEntry> appended = entries;
  for (auto& entry : appended) {
    entry.incident_id = incident.id;
    if (entry.id.empty()) entry.id = csirt::new_uuid();
  }
  return transaction(
      [&](Connection& c) {
        // A concurrent writer's UPDATE waits for this row's lock, then finds
        // the version changed: exactly one of them writes.
        const auto updated = c.query(
            "UPDATE incidents SET state = $2, version = $3, body = $4 "
            "WHERE id = $1 AND version = $5",
            Params(stored.id, to_string(stored.state), to_db(stored.version),
                   Text{dump(to_json(stored, {}))}, to_db(expected_version)));
        if (updated.affected() == 0) {
          const bool found =
              c.query("SELECT 1 FROM incidents WHERE id = $1", Params(stored.id)).rows() > 0;
          return found ? csirt::WriteOutcome::kStale : csirt::WriteOutcome::kNotFound;
        }
        for (const auto& entry : appended) {
          c.query(kInsertEntry, Params(entry.id, entry.incident_id, to_db(entry.occurred_ns),
                                       Text{dump(to_json(entry))}));
        }
        return csirt::WriteOutcome::kWritten;
      },
      false);
}

std::optional<csirt::TimelineEntry> PostgresStore::append_entry(csirt::TimelineEntry entry) {
  if (entry.id.empty()) entry.id = csirt::new_uuid();
  return transaction(
      [&](Connection& c) -> std::optional<csirt::TimelineEntry> {
        const auto inserted = c.query(
            "INSERT INTO timeline (id, incident_id, occurred_ns, body) SELECT $1, $2, $3, $4 "
            "WHERE EXISTS (SELECT 1 FROM incidents WHERE id = $2)",
            Params(entry.id, entry.incident_id, to_db(entry.occurred_ns),
                   Text{dump(to_json(entry))}));
        if (inserted.affected() == 0) return std::nullopt;
        return entry;
      },
      false);
}

std::vector<csirt::TimelineEntry> PostgresStore::timeline(const std::string& incident_id) {
  return with_connection([&](Connection& c) {
    const auto r = c.query(
        "SELECT body FROM timeline WHERE incident_id = $1 ORDER BY occurred_ns, seq",
        Params(incident_id));
    std::vector<csirt::TimelineEntry> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back(read_body<csirt::TimelineEntry>(r.text(i, 0), csirt::entry_from_json,
                                                    "a timeline entry"));
    }
    return out;
  });
}

csirt::Indicator PostgresStore::put_indicator(csirt::Indicator indicator) {
  if (indicator.uuid.empty()) indicator.uuid = csirt::new_uuid();
  return transaction(
      [&](Connection& c) {
        c.query("SELECT pg_advisory_xact_lock($1)", Params(kIndicatorLockKey));
        csirt::Indicator out = indicator;
        const auto existing =
            c.query(std::string("SELECT ") + kIndicatorColumns +
                        " FROM indicators WHERE type = $1 AND value = $2 AND source = $3",
                    Params(static_cast<int16_t>(out.type), out.value, out.source));
        std::optional<postgres::Result> by_uuid;  // an edit in place: its uuid kept, its value changed
        if (existing.rows() == 0)
          by_uuid.emplace(c.query(
              std::string("SELECT ") + kIndicatorColumns + " FROM indicators WHERE uuid = $1",
              Params(out.uuid)));
        const postgres::Result& found = by_uuid ? *by_uuid : existing;
        if (found.rows() > 0) {
          const csirt::Indicator old = indicator_of(found, 0);
          out.uuid = old.uuid;
          out.created_ns = old.created_ns;
          out.first_seen_ns = old.first_seen_ns;
          out.last_seen_ns = old.last_seen_ns;
        }
        c.query(
            "INSERT INTO indicators (uuid, type, value, source, deleted, to_ids, first_seen_ns, "
            "last_seen_ns, updated_ns, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
            "ON CONFLICT (uuid) DO UPDATE SET type = EXCLUDED.type, value = EXCLUDED.value, "
            "source = EXCLUDED.source, deleted = EXCLUDED.deleted, "
            "to_ids = EXCLUDED.to_ids, updated_ns = EXCLUDED.updated_ns, body = EXCLUDED.body",
            Params(out.uuid, static_cast<int16_t>(out.type), out.value, out.source, out.deleted,
                   out.to_ids, to_db(out.first_seen_ns), to_db(out.last_seen_ns),
                   to_db(out.updated_ns), Text{dump(to_json(out))}));
        return out;
      },
      true);
}

std::optional<csirt::Indicator> PostgresStore::indicator(const std::string& uuid) {
  return with_connection([&](Connection& c) -> std::optional<csirt::Indicator> {
    const auto r = c.query(
        std::string("SELECT ") + kIndicatorColumns + " FROM indicators WHERE uuid = $1",
        Params(uuid));
    if (r.rows() == 0) return std::nullopt;
    return indicator_of(r, 0);
  });
}

std::vector<csirt::Indicator> PostgresStore::indicators(const csirt::IndicatorQuery& query) {
  std::string sql = std::string("SELECT ") + kIndicatorColumns + " FROM indicators WHERE true";
  if (query.type) sql += " AND type = $2";
  if (!query.value.empty()) sql += " AND value = $3";
  if (!query.include_deleted) sql += " AND NOT deleted";
  sql += " ORDER BY updated_ns DESC, uuid LIMIT $1";
  return with_connection([&](Connection& c) {
    const auto r = c.query(
        sql, Params(to_db_bound(query.limit),
                    static_cast<int16_t>(query.type ? static_cast<int>(*query.type) : -1),
                    query.value));
    std::vector<csirt::Indicator> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(indicator_of(r, i));
    return out;
  });
}

std::vector<csirt::Indicator> PostgresStore::detection_indicators() {
  return with_connection([&](Connection& c) {
    const auto r = c.query(std::string("SELECT ") + kIndicatorColumns +
                           " FROM indicators WHERE NOT deleted AND to_ids");
    std::vector<csirt::Indicator> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(indicator_of(r, i));
    return out;
  });
}

bool PostgresStore::link_indicator(const std::string& incident_id,
                                   const std::string& indicator_uuid, csirt::LinkRole role,
                                   uint64_t now_ns) {
  return with_connection([&](Connection& c) {
    return c
               .query(
                   "INSERT INTO incident_indicators (incident_id, indicator_uuid, role, "
                   "linked_ns) SELECT i.id, n.uuid, $3, $4 FROM incidents i, indicators n "
                   "WHERE i.id = $1 AND n.uuid = $2 "
                   "ON CONFLICT (incident_id, indicator_uuid) DO UPDATE SET role = EXCLUDED.role",
                   Params(incident_id, indicator_uuid, to_string(role), to_db(now_ns)))
               .affected() > 0;
  });
}

std::vector<csirt::LinkedIndicator> PostgresStore::incident_indicators(
    const std::string& incident_id) {
  return with_connection([&](Connection& c) {
    const auto r = c.query(
        "SELECT n.body, n.first_seen_ns, n.last_seen_ns, l.role, l.linked_ns "
        "FROM incident_indicators l JOIN indicators n ON n.uuid = l.indicator_uuid "
        "WHERE l.incident_id = $1 ORDER BY l.linked_ns, n.uuid",
        Params(incident_id));
    std::vector<csirt::LinkedIndicator> out;
    for (int i = 0; i < r.rows(); ++i) {
      const auto role = csirt::parse_link_role(r.text(i, 3));
      if (!role) throw StoreError("an indicator link is corrupt in the database: role");
      out.push_back({indicator_of(r, i), *role, r.unsigned_integer(i, 4)});
    }
    return out;
  });
}

void PostgresStore::record_sightings(const std::vector<csirt::Sighting>& sightings) {
  transaction([&](Connection& c) { write_sightings(c, sightings); }, false);
}

std::vector<csirt::Sighting> PostgresStore::sightings(const std::string& indicator_uuid,
                                                      std::size_t limit) {
  return with_connection([&](Connection& c) {
    const auto r = c.query(
        "SELECT indicator_uuid, site, host, workload_kind, workload_id, user_name, first_ns, "
        "last_ns, count, source, alert_id FROM sightings WHERE indicator_uuid = $1 "
        "ORDER BY last_ns DESC LIMIT $2",
        Params(indicator_uuid, to_db_bound(limit)));
    std::vector<csirt::Sighting> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4),
                     r.text(i, 5), r.unsigned_integer(i, 6), r.unsigned_integer(i, 7),
                     r.unsigned_integer(i, 8), r.text(i, 9), r.integer(i, 10)});
    }
    return out;
  });
}

std::vector<csirt::ObservableHit> PostgresStore::find_observables(
    csirt::ObservableType type, const csirt::KeyRange& range, uint64_t since_ns,
    std::size_t max_rows, uint64_t& rows_read, bool& truncated) {
  // The inner LIMIT bounds what is read; one row more tells there was more.
  const uint64_t limit = std::min<uint64_t>(max_rows, std::numeric_limits<int64_t>::max() - 1) + 1;
  auto hits = with_connection([&](Connection& c) {
    const auto r = c.query(
        "SELECT site, host, workload_kind, workload_id, user_name, MIN(time_ns), MAX(time_ns), "
        "COUNT(*) FROM (SELECT site, host, workload_kind, workload_id, user_name, time_ns "
        "FROM observables WHERE type = $1 AND key BETWEEN $2 AND $3 AND time_ns >= $4 "
        "LIMIT $5) AS found GROUP BY site, host, workload_kind, workload_id, user_name",
        Params(static_cast<int16_t>(type), range.low, range.high, to_db_bound(since_ns),
               to_db(limit)));
    std::vector<csirt::ObservableHit> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4),
                     r.unsigned_integer(i, 5), r.unsigned_integer(i, 6),
                     r.unsigned_integer(i, 7)});
    }
    return out;
  });
  uint64_t read = 0;
  for (const auto& hit : hits) read += hit.count;
  truncated = read > max_rows;
  rows_read = std::min<uint64_t>(read, max_rows);
  return hits;
}

std::vector<csirt::AlertRecord> PostgresStore::alerts_by_id(const std::vector<int64_t>& ids) {
  if (ids.empty()) return {};
  return with_connection([&](Connection& c) {
    // In the order asked, as SQLite's one lookup per id.
    const auto r = c.query(
        "SELECT a.id, a.site, a.host, a.rule_id, a.rule_title, a.level, a.tags, a.event "
        "FROM unnest($1) WITH ORDINALITY AS wanted (id, n) JOIN alerts a ON a.id = wanted.id "
        "ORDER BY wanted.n",
        Params(ids));
    std::vector<csirt::AlertRecord> out;
    for (int i = 0; i < r.rows(); ++i) {
      csirt::AlertRecord record;
      record.id = r.integer(i, 0);
      record.site = r.text(i, 1);
      record.host = r.text(i, 2);
      record.alert.rule_id = r.text(i, 3);
      record.alert.rule_title = r.text(i, 4);
      record.alert.level = r.text(i, 5);
      const std::string what = "alert " + std::to_string(record.id);
      record.alert.tags = stored_form::decode_tags(r.blob(i, 6), what);
      record.alert.event = stored_form::decode_event(r.blob(i, 7), what);
      out.push_back(std::move(record));
    }
    return out;
  });
}

void PostgresStore::put_retrohunt(const csirt::Retrohunt& retrohunt) {
  with_connection([&](Connection& c) {
    c.query(
        "INSERT INTO retrohunts (id, requested_ns, body) VALUES ($1, $2, $3) "
        "ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body",
        Params(retrohunt.id, to_db(retrohunt.requested_ns), Text{dump(to_json(retrohunt))}));
  });
}

std::optional<csirt::Retrohunt> PostgresStore::retrohunt(const std::string& id) {
  return with_connection([&](Connection& c) -> std::optional<csirt::Retrohunt> {
    const auto r = c.query("SELECT body FROM retrohunts WHERE id = $1", Params(id));
    if (r.rows() == 0) return std::nullopt;
    return read_body<csirt::Retrohunt>(r.text(0, 0), csirt::retrohunt_from_json, "a retro-hunt");
  });
}

void PostgresStore::put_document(const std::string& kind, const std::string& key,
                                 const std::string& body, uint64_t updated_ns) {
  with_connection([&](Connection& c) {
    c.query(
        "INSERT INTO csirt_documents (kind, key, updated_ns, body) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (kind, key) DO UPDATE SET updated_ns = EXCLUDED.updated_ns, "
        "body = EXCLUDED.body",
        Params(kind, key, to_db(updated_ns), Text{body}));
  });
}

std::optional<std::string> PostgresStore::document(const std::string& kind,
                                                   const std::string& key) {
  return with_connection([&](Connection& c) -> std::optional<std::string> {
    const auto r = c.query("SELECT body FROM csirt_documents WHERE kind = $1 AND key = $2",
                           Params(kind, key));
    if (r.rows() == 0) return std::nullopt;
    return r.text(0, 0);
  });
}

std::vector<std::pair<std::string, std::string>> PostgresStore::documents(const std::string& kind,
                                                                          std::size_t limit) {
  return with_connection([&](Connection& c) {
    const auto r = c.query(
        "SELECT key, body FROM csirt_documents WHERE kind = $1 ORDER BY updated_ns DESC LIMIT $2",
        Params(kind, to_db_bound(limit)));
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.text(i, 0), r.text(i, 1));
    return out;
  });
}

bool PostgresStore::claim_overdue(const std::string& incident_id, const std::string& step_key,
                                  uint64_t now_ns) {
  return transaction(
      [&](Connection& c) {
        return c
                   .query(
                       "INSERT INTO sec01_overdue (incident_id, step, claimed_ns) "
                       "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                       Params(incident_id, step_key, to_db(now_ns)))
                   .affected() == 1;
      },
      false);
}

}  // namespace vigie::collector
