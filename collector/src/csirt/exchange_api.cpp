// The CSIRT API's exchange routes (api.h): MISP and STIX 2.1 documents into
// the IOC store, incidents out, and the MISP feed served to other teams.
#include <algorithm>
#include <set>

#include "csirt/api.h"
#include "csirt/csirt_service.h"
#include "http/query.h"
#include "vigie/csirt/json.h"
#include "vigie/csirt/misp.h"
#include "vigie/csirt/stix.h"

namespace vigie::collector {

using nlohmann::json;

namespace {

constexpr std::string_view kFeedPrefix = "/api/v1/csirt/feeds/misp/";
constexpr std::size_t kMaxImports = 1000;     // GET /imports?limit=
constexpr std::size_t kMaxFeedEvents = 1000;  // the newest incidents in the MISP feed
// The namespace of the uuid of the feed's event of indicators outside incidents.
constexpr std::string_view kFeedNamespace = "5a3d7e0c-1b52-4c1e-9f6a-2f0d8c4b7e31";

// A STIX document is a JSON object with a "type" (a bundle or a lone object,
// "spec_version" 2.1); anything else is read as MISP.
bool looks_like_stix(std::string_view body) {
  const json parsed = json::parse(body, nullptr, false);
  return parsed.is_object() && parsed.contains("type") && parsed["type"].is_string() &&
         !parsed.contains("Event") && !parsed.contains("response");
}

}  // namespace

Response CsirtApi::import_document(const Call& call) {
  Query query;
  if (auto e = query.parse(call.query, {"format"})) return error(400, *e);
  std::string format;
  if (const auto* given = query.get("format")) {
    if (*given != "misp" && *given != "stix")
      return error(400, "query parameter 'format' must be misp or stix");
    format = *given;
  } else {
    format = looks_like_stix(call.request.body) ? "stix" : "misp";
  }
  auto imported = format == "stix" ? csirt::import_stix(call.request.body)
                                   : csirt::import_misp(call.request.body, service_.default_tlp());
  if (!imported) return error(400, format + ": " + imported.error());

  return json_response(
      201, service_.store_import(std::move(*imported), call.principal.name, "", call.now_ns));
}

Response CsirtApi::list_imports(const Call& call) {
  Query query;
  if (auto e = query.parse(call.query, {"limit"})) return error(400, *e);
  uint64_t limit = 0;
  if (auto e = query.number("limit", limit, 100, 1, kMaxImports)) return error(400, *e);
  json out = json::array();
  for (const auto& [id, body] : service_.csirt().documents("import", limit)) {
    json report = json::parse(body, nullptr, false);
    if (report.is_discarded()) continue;
    report.erase("context");
    out.push_back(std::move(report));
  }
  return json_response(200, {{"imports", std::move(out)}});
}

Response CsirtApi::get_import(const Call& call, const std::string& id) {
  if (auto e = Query().parse(call.query, {})) return error(400, *e);
  const auto body = service_.csirt().document("import", id);
  if (!body) return error(404, "no import " + id);
  return {200, "application/json", *body, {}};
}

Response CsirtApi::plan_feed(const Call& call) {
  if (auto e = Query().parse(call.query, {})) return error(400, *e);
  auto manifest = csirt::parse_misp_manifest(call.request.body);
  if (!manifest) return error(400, "manifest.json: " + manifest.error());
  std::vector<csirt::EventStamp> known;
  for (const auto& entry : *manifest) {
    const auto body = service_.csirt().document("misp-event", entry.uuid);
    if (!body) continue;
    const json stored = json::parse(*body, nullptr, false);
    if (stored.is_object() && stored.contains("timestamp") &&
        stored["timestamp"].is_number_unsigned())
      known.push_back({entry.uuid, stored["timestamp"].get<uint64_t>()});
  }
  const auto fetch = csirt::events_to_fetch(*manifest, known);
  return json_response(200, {{"fetch", fetch}, {"unchanged", manifest->size() - fetch.size()}});
}

Response CsirtApi::export_incident(const Call& call, const std::string& id) {
  Query query;
  if (auto e = query.parse(call.query, {"format", "tlp", "local"})) return error(400, *e);
  const auto* format = query.get("format");
  if (format == nullptr || (*format != "misp" && *format != "stix"))
    return error(400, "query parameter 'format' must be misp or stix");
  uint64_t local = 0;
  if (auto e = query.number("local", local, 0, 0, 1)) return error(400, *e);
  const auto incident = service_.csirt().incident(id);
  if (!incident) return error(404, "no incident " + id);
  csirt::Tlp clearance = incident->tlp;
  if (const auto* tlp = query.get("tlp")) {
    const auto parsed = csirt::parse_tlp(*tlp);
    if (!parsed) return error(400, "query parameter 'tlp' is not a TLP 2.0 level: '" + *tlp + "'");
    clearance = *parsed;
  }
  if (local == 1) clearance = csirt::Tlp::kRed;
  const auto request = service_.export_request(*incident, clearance, local == 1, call.now_ns);
  auto document = *format == "misp" ? csirt::export_misp(request) : csirt::export_stix(request);
  if (!document) return error(403, document.error());
  Response response = json_response(200, *document);
  response.headers.emplace_back(
      "Content-Disposition", "attachment; filename=\"" + incident->id + "." + *format + ".json\"");
  return response;
}

Response CsirtApi::misp_feed(std::string_view path, const Principal* principal,
                             const std::string& site) {
  const auto& peers = service_.config().feed_amber_peers;
  const std::string& who = principal != nullptr ? principal->name : site;
  const bool amber = !who.empty() && std::find(peers.begin(), peers.end(), who) != peers.end();
  const csirt::Tlp clearance = amber ? csirt::Tlp::kAmber : csirt::Tlp::kGreen;
  const std::string_view item = path.substr(std::min(path.size(), kFeedPrefix.size()));
  csirt::CsirtStore& store = service_.csirt();
  // An incident's event: its timestamp is the last change of the incident,
  // its links or its sightings, so that a feed reader fetches it again
  // exactly when it changed.
  auto event_of = [](csirt::ExportRequest request) {
    request.now_ns = csirt::changed_ns(request);
    return csirt::export_misp(request);
  };
  // The indicators that belong to no incident (none of `linked`), as one
  // more event (its uuid derived from the site's name), so that they reach
  // the sites below and MISP instances too; its TLP is the caller's
  // clearance, each attribute keeps its own.
  const std::string standalone_uuid = csirt::uuid_v5(kFeedNamespace, service_.site());
  auto standalone = [&](const std::set<std::string>& linked) -> std::optional<json> {
    csirt::ExportRequest request;
    for (const auto& indicator : store.detection_indicators()) {
      if (linked.contains(indicator.uuid)) continue;
      csirt::LinkedIndicator l;
      l.indicator = indicator;
      l.linked_ns = indicator.created_ns;
      request.indicators.push_back(std::move(l));
    }
    if (request.indicators.empty()) return std::nullopt;
    request.incident.uuid = standalone_uuid;
    request.incident.id = service_.site() + "-indicators";
    request.incident.title = "Indicators of " + service_.site() + " outside incidents";
    request.incident.tlp = clearance;
    request.incident.state = csirt::State::kInvestigating;
    request.site = service_.site();
    request.clearance = clearance;
    request.now_ns = csirt::changed_ns(request);
    request.incident.times.discovered_ns = request.incident.created_ns = request.now_ns;
    auto event = csirt::export_misp(request);
    if (!event || (*event)["Event"]["Attribute"].empty()) return std::nullopt;
    return std::move(*event);
  };
  csirt::IncidentQuery query;
  query.limit = kMaxFeedEvents;
  if (item != "manifest.json" && item != "hashes.csv") {
    const std::string_view uuid =
        item.substr(0, item.size() - std::min<std::size_t>(5, item.size()));
    std::optional<json> event;
    if (item.ends_with(".json") && uuid == standalone_uuid) {
      std::set<std::string> linked;
      for (const auto& incident : store.incidents(query))
        for (const auto& l : store.incident_indicators(incident.id))
          linked.insert(l.indicator.uuid);
      event = standalone(linked);
    } else if (item.ends_with(".json") && uuid.size() == 36) {
      const auto incident = store.incident(std::string(uuid));
      if (incident && incident->uuid == uuid && csirt::may_receive(incident->tlp, clearance)) {
        if (auto found = event_of(service_.export_request(*incident, clearance, false, 0)))
          event = std::move(*found);
      }
    }
    // Not there and not for this caller answer alike: the feed does not say what it withholds.
    if (!event) return error(404, "no such feed item: " + std::string(item));
    return json_response(200, *event);
  }
  // Every incident's indicators are linked, whether this caller sees it or not.
  std::set<std::string> linked;
  std::vector<csirt::ExportRequest> visible;
  for (const auto& incident : store.incidents(query)) {
    if (csirt::may_receive(incident.tlp, clearance)) {
      visible.push_back(service_.export_request(incident, clearance, false, 0));
      for (const auto& l : visible.back().indicators) linked.insert(l.indicator.uuid);
    } else {
      for (const auto& l : store.incident_indicators(incident.id)) linked.insert(l.indicator.uuid);
    }
  }
  std::vector<json> events;
  for (const auto& request : visible) {
    if (auto event = event_of(request)) events.push_back(std::move(*event));
  }
  if (auto event = standalone(linked)) events.push_back(std::move(*event));
  if (item == "manifest.json") return json_response(200, csirt::misp_manifest(events));
  return {200, "text/csv", csirt::misp_hashes_csv(events), {}};
}

Response CsirtApi::site_incident(const std::string& site, std::string_view body) {
  auto imported = csirt::import_stix(body);
  if (!imported) return error(400, "stix: " + imported.error());
  // The bundle's incident object names what the site shares.
  const json bundle = json::parse(body, nullptr, false);
  json incident;
  for (const json& object : bundle.value("objects", json::array())) {
    if (object.is_object() && object.value("type", "") == "incident") incident = object;
  }
  if (!incident.is_object()) return error(400, "the bundle holds no incident object");
  const uint64_t now = protocol::wall_clock_ns();
  json report = service_.store_import(std::move(*imported), "site:" + site, site, now);
  json tlp = nullptr;
  for (const auto& ref : incident.value("object_marking_refs", json::array())) {
    if (const auto level =
            ref.is_string() ? csirt::tlp_of_marking(ref.get<std::string>()) : std::nullopt)
      tlp = csirt::to_string(*level);
  }
  const json kept = {
      {"site", site},
      {"received_ns", now},
      {"incident",
       {{"id", incident.value("id", "")}, {"name", incident.value("name", "")}, {"tlp", tlp}}},
      {"counts", report["counts"]},
      {"sightings", report["sightings"]},
      {"bundle", bundle}};
  service_.csirt().put_document("site-incident", site + "/" + incident.value("id", ""), kept.dump(),
                                now);
  return json_response(200, {{"site", site}, {"counts", report["counts"]}});
}

Response CsirtApi::site_incidents(const Call& call) {
  Query query;
  if (auto e = query.parse(call.query, {"limit"})) return error(400, *e);
  uint64_t limit = 0;
  if (auto e = query.number("limit", limit, 100, 1, kMaxImports)) return error(400, *e);
  json out = json::array();
  for (const auto& [key, text] : service_.csirt().documents("site-incident", limit)) {
    json kept = json::parse(text, nullptr, false);
    if (!kept.is_object()) continue;
    kept.erase("bundle");
    out.push_back(std::move(kept));
  }
  return json_response(200, {{"incidents", std::move(out)}});
}

Response CsirtApi::headsup_answer(const std::string& site, std::string_view body) {
  json answer = json::parse(body, nullptr, false);
  if (!answer.is_object() || !answer.contains("event") || !answer["event"].is_string() ||
      !answer.contains("indicators") || !answer["indicators"].is_object() ||
      answer["indicators"].size() > csirt::kMaxListItems)
    return error(400, "the body must be {\"event\": uuid, \"indicators\": {uuid: count}, ...}");
  uint64_t total = 0;
  for (const auto& [uuid, count] : answer["indicators"].items()) {
    if (!count.is_number_unsigned()) return error(400, "'indicators' maps uuids to counts");
    total += count.get<uint64_t>();
  }
  const std::string event = answer["event"];
  if (event.size() != 36) return error(400, "'event' is not a uuid");
  const uint64_t now = protocol::wall_clock_ns();
  const json kept = {{"site", site},
                     {"event", event},
                     {"state", answer.value("state", "done")},
                     {"indicators", answer["indicators"]},
                     {"total", total},
                     {"hunted_ns", answer.value("hunted_ns", uint64_t{0})},
                     {"received_ns", now}};
  service_.csirt().put_document("headsup-answer", event + "/" + site, kept.dump(), now);
  return json_response(200, {{"site", site}, {"total", total}});
}

Response CsirtApi::headsup_answers(const Call& call) {
  Query query;
  if (auto e = query.parse(call.query, {"limit"})) return error(400, *e);
  uint64_t limit = 0;
  if (auto e = query.number("limit", limit, 100, 1, kMaxImports)) return error(400, *e);
  json out = json::array();
  for (const auto& [key, text] : service_.csirt().documents("headsup-answer", limit)) {
    json kept = json::parse(text, nullptr, false);
    if (kept.is_object()) out.push_back(std::move(kept));
  }
  return json_response(200, {{"answers", std::move(out)}});
}

}  // namespace vigie::collector
