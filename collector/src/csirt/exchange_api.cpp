// The CSIRT API's exchange routes (api.h): MISP and STIX 2.1 documents into
// the IOC store, incidents out, and the MISP feed served to other teams.
#include <algorithm>

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
constexpr std::size_t kMaxSightingsPerIndicator = 10000;

json counts_json(const csirt::ImportCounts& c) {
  return {{"added", c.added},     {"updated", c.updated},         {"revoked", c.revoked},
          {"skipped", c.skipped}, {"unsupported", c.unsupported}, {"invalid", c.invalid}};
}

json context_json(const csirt::ContextItem& item) {
  return {{"type", item.type},
          {"value", item.value},
          {"tlp", csirt::to_string(item.tlp)},
          {"source", item.source},
          {"comment", item.comment}};
}

// A STIX document is a JSON object with a "type" (a bundle or a lone object,
// "spec_version" 2.1); anything else is read as MISP.
bool looks_like_stix(std::string_view body) {
  const json parsed = json::parse(body, nullptr, false);
  return parsed.is_object() && parsed.contains("type") && parsed["type"].is_string() &&
         !parsed.contains("Event") && !parsed.contains("response");
}

// Whether the store holds `indicator.uuid`, or its (type, value, source), before it is put.
bool already_stored(csirt::CsirtStore& store, const csirt::Indicator& indicator) {
  if (!indicator.uuid.empty() && store.indicator(indicator.uuid)) return true;
  csirt::IndicatorQuery query;
  query.type = indicator.type;
  query.value = indicator.value;
  query.include_deleted = true;
  query.limit = 1000;
  const auto same = store.indicators(query);
  return std::any_of(same.begin(), same.end(),
                     [&](const csirt::Indicator& i) { return i.source == indicator.source; });
}

// The ExportRequest of `incident` for a destination cleared for `clearance`.
csirt::ExportRequest export_request(csirt::CsirtStore& store, const csirt::Incident& incident,
                                    const std::string& site, csirt::Tlp clearance, bool local,
                                    uint64_t now_ns) {
  csirt::ExportRequest request;
  request.incident = incident;
  request.indicators = store.incident_indicators(incident.id);
  for (const auto& linked : request.indicators) {
    auto seen = store.sightings(linked.indicator.uuid, kMaxSightingsPerIndicator);
    request.sightings.insert(request.sightings.end(), seen.begin(), seen.end());
  }
  request.site = site;
  request.clearance = clearance;
  request.local = local;
  request.now_ns = now_ns;
  return request;
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

  csirt::CsirtStore& store = service_.csirt();
  csirt::ImportCounts counts = imported->counts;
  std::vector<std::string> hunt;
  for (auto indicator : imported->indicators) {
    const bool existed = already_stored(store, indicator);
    indicator.created_ns = indicator.updated_ns = call.now_ns;
    indicator = store.put_indicator(indicator);
    if (indicator.deleted || !indicator.to_ids) continue;  // counted by the importer
    ++(existed ? counts.updated : counts.added);
    hunt.push_back(indicator.uuid);
  }
  // Other teams' sightings of indicators now stored: who saw it, how often.
  std::vector<csirt::Sighting> sightings;
  for (const auto& seen : imported->sightings) {
    if (!store.indicator(seen.indicator_uuid)) continue;
    csirt::Sighting s;
    s.indicator_uuid = seen.indicator_uuid;
    s.site = seen.where.empty() ? format : seen.where;
    s.first_ns = seen.first_ns;
    s.last_ns = seen.last_ns;
    s.count = seen.count;
    s.source = "exchange";
    sightings.push_back(std::move(s));
  }
  if (!sightings.empty()) store.record_sightings(sightings);
  for (const auto& event : imported->events)
    store.put_document("misp-event", event.uuid, json{{"timestamp", event.timestamp}}.dump(),
                       call.now_ns);
  service_.refresh_matcher();
  std::optional<csirt::Retrohunt> retrohunt;
  if (!hunt.empty()) retrohunt = service_.request_retrohunt(hunt, 0, call.principal.name);

  json report = {{"id", csirt::new_uuid()},
                 {"format", format},
                 {"imported_ns", call.now_ns},
                 {"by", call.principal.name},
                 {"counts", counts_json(counts)},
                 {"invalid", imported->invalid},
                 {"events", json::array()},
                 {"sightings", sightings.size()},
                 {"relationships", imported->relationships.size()}};
  for (const auto& event : imported->events)
    report["events"].push_back({{"uuid", event.uuid}, {"timestamp", event.timestamp}});
  json context = json::array();
  for (const auto& item : imported->context) context.push_back(context_json(item));
  report["context"] = std::move(context);
  store.put_document("import", report["id"], report.dump(), call.now_ns);
  report["retrohunt"] = retrohunt ? csirt::to_json(*retrohunt) : json(nullptr);
  return json_response(201, report);
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
  const auto request = export_request(service_.csirt(), *incident, service_.site(), clearance,
                                      local == 1, call.now_ns);
  auto document = *format == "misp" ? csirt::export_misp(request) : csirt::export_stix(request);
  if (!document) return error(403, document.error());
  Response response = json_response(200, *document);
  response.headers.emplace_back(
      "Content-Disposition", "attachment; filename=\"" + incident->id + "." + *format + ".json\"");
  return response;
}

Response CsirtApi::misp_feed(std::string_view path, const Principal* principal) {
  const auto& peers = service_.config().feed_amber_peers;
  const bool amber =
      principal != nullptr && std::find(peers.begin(), peers.end(), principal->name) != peers.end();
  const csirt::Tlp clearance = amber ? csirt::Tlp::kAmber : csirt::Tlp::kGreen;
  const std::string_view item = path.substr(std::min(path.size(), kFeedPrefix.size()));
  csirt::CsirtStore& store = service_.csirt();
  // An incident's event: its timestamp is the incident's last change, so
  // that a feed reader fetches it again only when it changed.
  auto event_of = [&](const csirt::Incident& incident) {
    return csirt::export_misp(
        export_request(store, incident, service_.site(), clearance, false, incident.updated_ns));
  };
  if (item != "manifest.json" && item != "hashes.csv") {
    const std::string_view uuid =
        item.substr(0, item.size() - std::min<std::size_t>(5, item.size()));
    const auto incident = item.ends_with(".json") && uuid.size() == 36
                              ? store.incident(std::string(uuid))
                              : std::nullopt;
    // Not there and not for this caller answer alike: the feed does not say what it withholds.
    if (!incident || incident->uuid != uuid || !csirt::may_receive(incident->tlp, clearance))
      return error(404, "no such feed item: " + std::string(item));
    auto event = event_of(*incident);
    if (!event) return error(404, "no such feed item: " + std::string(item));
    return json_response(200, *event);
  }
  csirt::IncidentQuery query;
  query.limit = kMaxFeedEvents;
  std::vector<json> events;
  for (const auto& incident : store.incidents(query)) {
    if (!csirt::may_receive(incident.tlp, clearance)) continue;
    if (auto event = event_of(incident)) events.push_back(std::move(*event));
  }
  if (item == "manifest.json") return json_response(200, csirt::misp_manifest(events));
  return {200, "text/csv", csirt::misp_hashes_csv(events), {}};
}

}  // namespace vigie::collector
