// The MISP core format (Internet-Draft draft-dulaunoy-misp-core-format-20,
// ../shared/corpus/csirt/misp/spec/): events in and out of the IOC store,
// and the MISP feed layout (manifest.json, <uuid>.json, hashes.csv) that
// MISP instances fetch.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "vigie/csirt/exchange.h"
#include "vigie/protocol/result.h"

namespace vigie::csirt {

// `body`: {"Event": {...}}, a bare event, {"response": [...]} (MISP's REST
// search answer), or a list of any of these. Lenient where real feeds are
// (org_id, distribution, deleted, to_ids, uuid may be absent), strict on
// what is present: a present field of the wrong type makes its attribute
// invalid (a reason in `invalid`), never a guess. For each attribute of the
// event and of its objects:
//   - of a type parse_observable_type knows (a "filename|sha256" gives one
//     indicator per part): an indicator, its value normalise()d (else invalid);
//       uuid      the attribute's (the sha256 part of a composite: uuid_v5 of
//                 the attribute's uuid and "sha256"), empty when absent
//       to_ids    the attribute's (MISP's "for detection"), default true
//       deleted   the attribute's soft delete: revoked, never matched
//       tlp       the attribute's own tlp:* tag, else the event's, else
//                 `fallback` (TLP 1.0's tlp:white read as CLEAR)
//       source    "misp:<event uuid>"; tags: the other tag names; comment
//   - of another type: a ContextItem.
// The event's Sighting list (MISP §2.6: attribute uuid, date_sighting,
// type "0" = seen; false positives and expirations are not sightings) and
// each event's uuid and timestamp are read too.
// An error for a body that is not JSON, holds no MISP event, exceeds
// csirt::kMaxBodyBytes (json.h) or 100,000 attributes.
protocol::Result<ExchangeImport> import_misp(std::string_view body, Tlp fallback);

// One MISP event for one incident (MISP core format §2.2–§2.6), {"Event": {...}}:
//   uuid         the incident's (stable across re-exports); id "0"; info its
//                id and title (one line, 256 bytes at most); date its discovery
//                day (UTC); timestamp request.now_ns in seconds (bumped on every
//                export); published false, publish_timestamp and first_publication "0";
//                analysis "1" (ongoing) or "2" (completed: resolved, or a final state);
//                threat_level_id from the severity (critical/high 1, medium 2, low 3);
//                distribution from the TLP (CLEAR "3" all communities,
//                GREEN "2" connected, AMBER and stricter "0" organisation only);
//                Org and Orgc the site (uuid_v5 of the site name in STIX 2.1's
//                §2.9 namespace)
//   Tag          one tlp:<level> tag (TLP 2.0 names)
//   Attribute    each linked indicator may_receive() at the clearance, uuid
//                kept, category and type from its observable type, to_ids,
//                deleted false (a revoked indicator is never exported, nor a
//                value that is not UTF-8), distribution from its own TLP, its
//                own tlp tag, every MUST field of §2.3
//   Sighting     in its attribute (as MISP and the draft's schema place it),
//                one per (indicator, site): uuid the attribute's (§2.6), type
//                "0", date_sighting the last time, source the site; when
//                names_allowed(), one per (indicator, site, host, user, job),
//                source "site/host/user/job"; never a name otherwise. MISP
//                has no count field: the count is not carried.
// Times are decimal seconds in JSON strings. An error when the incident's
// own TLP is stricter than the clearance, or its uuid is not a UUID.
protocol::Result<nlohmann::json> export_misp(const ExportRequest& request);

// A feed's manifest.json entry (MISP feed layout: an object keyed by event uuid).
struct MispFeedEntry {
  std::string uuid;
  std::string info;
  uint64_t timestamp = 0;  // seconds
  bool operator==(const MispFeedEntry&) const = default;
};
// Parses manifest.json: {"<uuid>": {"info", "timestamp" (string or number), ...}, ...};
// an error naming the entry for a key that is not a UUID or comes twice, an
// entry that is not an object, a missing or malformed timestamp (not an
// unsigned integer or a string of decimal digits) or an info that is not a
// string; other fields are ignored. Uuids lower-cased, sorted. Bounded by
// kMaxBodyBytes and 100,000 entries.
protocol::Result<std::vector<MispFeedEntry>> parse_misp_manifest(std::string_view body);
// Of `manifest`, the events to fetch: those unknown in `known` or whose
// timestamp differs.
std::vector<std::string> events_to_fetch(const std::vector<MispFeedEntry>& manifest,
                                         const std::vector<EventStamp>& known);

// The manifest.json of a feed of `events` (each {"Event": {...}} as export_misp writes):
// per event uuid its info, Orgc, analysis, timestamp, date, threat_level_id
// (the draft's "# Manifest" fields) as the event has them, and its Tag names
// and colours. Anything without a UUID "uuid" is left out.
nlohmann::json misp_manifest(const std::vector<nlohmann::json>& events);
// hashes.csv of a feed of `events`: one "<md5 of the attribute value>,<event uuid>"
// line per attribute of the event and of its objects, a composite value
// ("filename|sha256") one line per part (MISP feed layout, as PyMISP's feed
// generator writes it: MISPEvent.attributes_hashes("md5"), lower-case hex).
std::string misp_hashes_csv(const std::vector<nlohmann::json>& events);

}  // namespace vigie::csirt
