// The CSIRT API, under /api/v1/csirt/, roles csirt and admin (others 403,
// before anything else is read). Bodies are JSON (csirt/json.h gives every
// shape), at most csirt::kMaxBodyBytes; errors are {"error": "<message>"}.
//
//   POST  /incidents                     IncidentDraft → 201 incident, ETag, Location
//   GET   /incidents?state=&open=1&limit= → {"incidents":[incident…]} newest first
//   GET   /incidents/{id}                → incident (id or uuid), ETag: "<version>"
//   PATCH /incidents/{id}                IncidentPatch, If-Match: "<version>" required →
//                                         200 incident + ETag; 428 without If-Match, 412 stale,
//                                         409 a state change the machine does not allow
//   POST  /incidents/{id}/timeline       entry body → 201 entry
//   GET   /incidents/{id}/timeline       → {"timeline":[entry…]}: entries in time order; an
//                                         alert entry carries "alerts":[alert…] (GET /alerts shape)
//   POST  /incidents/{id}/indicators     indicator(s) → 201 {"indicators":[linked…],
//                                         "retrohunt": retrohunt | null} (a retro-hunt of them)
//   GET   /incidents/{id}/indicators     → {"indicators":[linked…]}
//   GET   /incidents/{id}/sightings      → {"sightings":[sighting…]} of its indicators
//   GET   /incidents/{id}/scope          → scope (below)
//   POST  /indicators                    indicator(s) → 201 {"indicators":[indicator…], "retrohunt"}
//   GET   /indicators?type=&value=&deleted=1&limit= → {"indicators":[indicator…]}
//   GET   /indicators/{uuid}             → indicator
//   GET   /indicators/{uuid}/sightings   → {"indicator": indicator, "sightings":[sighting…]}
//   POST  /retrohunt                     RetrohuntRequest → 202 retrohunt; 409 while one runs
//   GET   /retrohunt/{id}                → retrohunt
//
// Exchange (exchange_api.cpp; csirt/misp.h, csirt/stix.h):
//   POST  /import?format=misp|stix       a MISP event, event list or {"response"}, or a STIX
//                                         bundle (format guessed when not given) → 201 report:
//                                         {"id","format","imported_ns","by","counts":{"added",
//                                         "updated","revoked","skipped","unsupported","invalid"},
//                                         "invalid":[reason…],"context":[item…],"events":[{"uuid",
//                                         "timestamp"}],"sightings","relationships","retrohunt"};
//                                         400 for a document refused whole (nothing stored)
//   GET   /imports?limit=                → {"imports":[report…]} newest first, without context
//   GET   /imports/{id}                  → report, with the context items it kept
//   POST  /import/plan                   a MISP feed's manifest.json → {"fetch":[uuid…],
//                                         "unchanged"}: the events new or changed since last
//                                         imported
//   GET   /incidents/{id}/export?format=misp|stix&tlp=&local=1 → the MISP event or STIX
//                                         bundle for a destination cleared for `tlp` (default
//                                         the incident's); local=1: for this site only (names of
//                                         hosts, users, jobs in an AMBER+STRICT or RED one);
//                                         403 when the incident's TLP exceeds the clearance
//   GET   /sites/incidents?limit=        → {"incidents":[{"site","received_ns","incident":{"id",
//                                         "name","tlp"},"counts","sightings"}]}: what sites below
//                                         shared (federation.h: each site's uplink), newest first
//   GET   /headsups/answers?limit=       → {"answers":[{"site","event","state","indicators":
//                                         {uuid: count},"total","hunted_ns","received_ns"}]}: what
//                                         each site's retro-hunt of this collector's incidents
//                                         (its MISP feed, read by the sites below) found
// The ban list (ban_api.cpp; csirt/ban.h, ban_service.h):
//   GET   /bans                          → {"site","lists":[list…]}: the own list first, then
//                                         those received from upstream
//   POST  /bans                          ban draft → 201 entry (the own list's serial + 1)
//   POST  /bans/{id}/lift                {"reason"} → 200 entry; 404 none, 409 lifted already
//   GET   /bans/status                   → {"serial","sites":[{"site","state","reached_serial",
//                                         "applied_serial","lag","applied_ns","received_ns",
//                                         "failures"}]}: each site's acknowledgement
//   POST  /bans/applied                  {"serials":{origin: serial},"failures":[…]} → 200: what
//                                         this site's renderers applied (vigie ban render --ack)
// The MISP feed (route auth: a token is optional; misp_feed()):
//   GET   /feeds/misp/manifest.json, /feeds/misp/{uuid}.json, /feeds/misp/hashes.csv
//         one event per incident: CLEAR and GREEN ones without a token, AMBER ones too for the
//         API tokens or sites (with their site token) csirt.feed_amber_peers names; never
//         AMBER+STRICT or RED; plus one event of the indicators that belong to no incident
//         (each with its own TLP). Sites read it as heads-ups (federation.h)
//
// scope: {"incident": id, "sites":[…], "hosts":[…], "users":[…], "accounts":[…],
//         "jobs":[{"job_id","user","account","hosts":[…],"ended","energy_joules",
//                  "operational_gco2e","embodied_gco2e","carbon_gco2e"}],
//         "energy_joules","carbon_gco2e"}: from its alerts and its indicators' sightings;
//         a job's hosts and energy from its footprint (every node it ran on).
#pragma once

#include <string_view>

#include "vigie/csirt/incident.h"

#include "http/request.h"
#include "vigie/collector/access.h"

namespace vigie::collector {

class CsirtService;

// Thread-safe; `service` outlives it.
class CsirtApi {
 public:
  explicit CsirtApi(CsirtService& service) : service_(service) {}

  // `path` is the full request path (it starts with /api/v1/csirt/), `query`
  // its query string; the caller has authenticated `principal` and checked
  // its role. Throws StoreError (the handler answers 500).
  Response handle(const Request& request, std::string_view path, std::string_view query,
                  const Principal& principal);
  // The MISP feed under /api/v1/csirt/feeds/misp/: `principal` is null for a
  // caller without a token (the caller has refused an unknown one).
  Response misp_feed(std::string_view path, const Principal* principal,
                     const std::string& site = "");
  // A ban list acknowledgement from `site` (authenticated by its site token).
  Response ban_ack(const std::string& site, std::string_view body);
  // An incident `site` shares (POST /api/v1/distribution/incidents, its site
  // token): a STIX 2.1 bundle whose indicators and sightings go to the IOC
  // store (sightings as the site's counts) and which is kept whole.
  Response site_incident(const std::string& site, std::string_view body);
  // A site's answer to a heads-up (POST /api/v1/distribution/headsups/answer):
  // {"event": uuid, "state": "done"|"failed", "indicators": {uuid: count}, "hunted_ns"}.
  Response headsup_answer(const std::string& site, std::string_view body);

 private:
  struct Call {
    const Request& request;
    std::string_view query;
    const Principal& principal;
    uint64_t now_ns;
  };
  Response create_incident(const Call& call);
  Response list_incidents(const Call& call);
  Response get_incident(const Call& call, const std::string& id);
  Response patch_incident(const Call& call, const std::string& id);
  Response add_entry(const Call& call, const std::string& id);
  Response get_timeline(const Call& call, const std::string& id);
  Response add_indicators(const Call& call, const std::string* incident_id);
  Response incident_indicators(const Call& call, const std::string& id);
  Response incident_sightings(const Call& call, const std::string& id);
  Response scope(const Call& call, const std::string& id);
  Response list_indicators(const Call& call);
  // exchange_api.cpp
  Response import_document(const Call& call);
  Response list_imports(const Call& call);
  Response get_import(const Call& call, const std::string& id);
  Response plan_feed(const Call& call);
  Response export_incident(const Call& call, const std::string& id);
  Response site_incidents(const Call& call);
  Response headsup_answers(const Call& call);
  // ban_api.cpp
  Response list_bans(const Call& call);
  Response add_ban(const Call& call);
  Response lift_ban(const Call& call, const std::string& id);
  Response ban_status(const Call& call);
  Response bans_applied(const Call& call);
  Response get_indicator(const Call& call, const std::string& uuid, bool with_sightings);
  Response start_retrohunt(const Call& call);
  Response get_retrohunt(const Call& call, const std::string& id);
  // The incident with its SEC01 steps as of now, and its ETag header.
  Response incident_response(int status, const csirt::Incident& incident);

  CsirtService& service_;
};

}  // namespace vigie::collector
