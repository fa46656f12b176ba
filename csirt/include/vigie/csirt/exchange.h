// What Vigie exchanges with other CSIRTs' tools in the MISP core format
// (misp.h) and STIX 2.1 (stix.h): what an import reads, whichever format,
// and what an export of an incident is made of and may hold under TLP 2.0.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/csirt/incident.h"
#include "vigie/csirt/indicator.h"
#include "vigie/csirt/store.h"
#include "vigie/csirt/tlp.h"

namespace vigie::csirt {

// An item an import read but the engine cannot match (a URL, an e-mail
// subject, a STIX pattern beyond `=` comparisons…): kept as context, never
// matched.
struct ContextItem {
  std::string type;   // the source's: MISP attribute type, or "stix-pattern"
  std::string value;  // the attribute value, or the whole pattern
  Tlp tlp = Tlp::kAmber;
  std::string source;  // as Indicator::source
  std::string comment;
  bool operator==(const ContextItem&) const = default;
};

// A sighting another team reported (MISP Sighting, STIX sighting).
struct ExchangeSighting {
  std::string indicator_uuid;  // MISP: the attribute's uuid; STIX: the indicator id's uuid
  uint64_t first_ns = 0, last_ns = 0;
  uint64_t count = 1;
  std::string where;  // who saw it: a MISP source or org, STIX where_sighted_refs (comma-separated)
  bool operator==(const ExchangeSighting&) const = default;
};

// A STIX relationship (or MISP object reference) as read: ids as in the document.
struct ExchangeRelationship {
  std::string source_ref, relationship_type, target_ref;
  bool operator==(const ExchangeRelationship&) const = default;
};

// A MISP event read, for a feed's bookkeeping: only events whose timestamp
// changed are fetched again.
struct EventStamp {
  std::string uuid;
  uint64_t timestamp = 0;  // seconds since the Unix epoch, as MISP writes it
  bool operator==(const EventStamp&) const = default;
};

// What an import did, each item of the document counted once:
//   added        indicators new to the store, active
//   updated      indicators already there (same uuid, or same type, value and
//                source), active
//   revoked      items deleted in the document (MISP "deleted": true, STIX
//                "revoked": true): stored as deleted, never matched
//   skipped      items not for detection (MISP "to_ids": false): kept (as an
//                indicator or context), never matched
//   unsupported  items of a type or pattern the engine cannot match, for
//                detection: ExchangeImport::context
//   invalid      items refused: ExchangeImport::invalid
// The importers count the last four; the collector, as it stores, the first two.
struct ImportCounts {
  uint64_t added = 0, updated = 0, revoked = 0, skipped = 0, unsupported = 0, invalid = 0;
  bool operator==(const ImportCounts&) const = default;
};

// What one MISP or STIX document holds for the IOC store. Indicators keep
// the uuid of the document (MISP attribute uuid, STIX indicator id's uuid)
// so that re-exports and later updates address the same item. Deleted and
// to_ids: false indicators are in `indicators` (the store keeps them, never
// matched); `counts` counts them apart.
struct ExchangeImport {
  std::string format;  // "misp" or "stix"
  std::vector<Indicator> indicators;
  std::vector<ContextItem> context;  // kept, never matched
  std::vector<std::string> invalid;  // one reason per item refused
  std::vector<ExchangeSighting> sightings;
  std::vector<ExchangeRelationship> relationships;
  std::vector<EventStamp> events;  // MISP: the events read
  ImportCounts counts;             // added and updated: 0 until stored
};

// An export of one incident for one destination.
struct ExportRequest {
  Incident incident;
  std::vector<LinkedIndicator> indicators;
  std::vector<Sighting> sightings;  // of those indicators
  std::string site;                 // the exporting site: the STIX identity, the MISP Org
  // The most restricted TLP the destination may receive (TLP 2.0): a peer
  // allowed AMBER gets AMBER, GREEN and CLEAR items. A local export: kRed.
  Tlp clearance = Tlp::kClear;
  // An export for the exporting site's own use (not shared): with
  // clearance kRed, the only case in which host, user and job names of
  // sightings may be written, and only for an AMBER+STRICT or RED incident.
  bool local = false;
  uint64_t now_ns = 0;
};

// When anything `request` holds last changed: the incident, a link to an
// indicator, a sighting (ns). A feed's event timestamp and a site's uplink
// use it, so that a new indicator or sighting is sent again even when the
// incident itself did not change.
uint64_t changed_ns(const ExportRequest& request);

// Whether an item marked `item` may go to a destination of `clearance`.
constexpr bool may_receive(Tlp item, Tlp clearance) { return !looser(clearance, item); }
// Whether `request` may name hosts, users and jobs (see ExportRequest::local).
bool names_allowed(const ExportRequest& request);

// RFC 4122 §4.3 name-based UUID, version 5 (SHA-1): the same namespace and
// name always give the same UUID (STIX 2.1 §2.9 deterministic ids). An
// empty string for a namespace that is not a UUID.
std::string uuid_v5(std::string_view namespace_uuid, std::string_view name);

}  // namespace vigie::csirt
