#include "csirt/api.h"

#include <algorithm>
#include <set>

#include "csirt/csirt_service.h"
#include "http/query.h"
#include "json.h"
#include "vigie/csirt/json.h"

namespace vigie::collector {

using nlohmann::json;

namespace {

constexpr std::string_view kPrefix = "/api/v1/csirt";
// A time given by a client may be a little ahead of the collector's clock, not more.
constexpr uint64_t kClockSkewNs = 300ull * 1'000'000'000ull;
constexpr uint64_t kMaxLimit = 10000;
constexpr int kUpdateAttempts = 5;  // compare-and-set retries of a timeline append

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    if (slash != 0) out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// Ids and uuids in paths: letters, digits, '-', at most 128 bytes.
bool plain_id(const std::string& id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
}

std::string etag(const csirt::Incident& incident) {
  return "\"" + std::to_string(incident.version) + "\"";
}

// If-Match holds `tag` (a list, W/ prefixes and "*" understood, RFC 9110 13.1.1).
bool if_match(std::string_view header, const std::string& tag) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == "*" || item == tag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

Response method_not_allowed(std::string_view allow) {
  Response response = error(405, "method not allowed; use " + std::string(allow));
  response.headers.emplace_back("Allow", std::string(allow));
  return response;
}

json alert_json(const csirt::AlertRecord& record) {
  StoredAlert stored;
  stored.id = record.id;
  stored.alert = record.alert;
  json out = to_json(stored);
  out.erase("event");  // the timeline shows the alert, GET /alerts the whole event
  return out;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

Response CsirtApi::handle(const Request& request, std::string_view path, std::string_view query,
                          const Principal& principal) {
  const Call call{request, query, principal, protocol::wall_clock_ns()};
  const auto parts = split_path(path.substr(kPrefix.size()));
  const std::string& method = request.method;
  if (request.body.size() > csirt::kMaxBodyBytes)
    return error(413, "the body exceeds " + std::to_string(csirt::kMaxBodyBytes) + " bytes");
  if ((method == "POST" || method == "PATCH") && !request.content_type.empty() &&
      !request.content_type.starts_with("application/json"))
    return error(415, "expected Content-Type: application/json");
  for (std::size_t i = 1; i < parts.size(); i += 2) {
    if (!plain_id(parts[i])) return error(404, "no such resource: " + std::string(path));
  }
  const std::size_t n = parts.size();
  const std::string_view collection = n > 0 ? std::string_view(parts[0]) : std::string_view();
  if (collection == "incidents") {
    if (n == 1) {
      if (method == "POST") return create_incident(call);
      if (method == "GET") return list_incidents(call);
      return method_not_allowed("GET, POST");
    }
    const std::string& id = parts[1];
    if (n == 2) {
      if (method == "GET") return get_incident(call, id);
      if (method == "PATCH") return patch_incident(call, id);
      return method_not_allowed("GET, PATCH");
    }
    if (n == 3 && parts[2] == "timeline") {
      if (method == "POST") return add_entry(call, id);
      if (method == "GET") return get_timeline(call, id);
      return method_not_allowed("GET, POST");
    }
    if (n == 3 && parts[2] == "indicators") {
      if (method == "POST") return add_indicators(call, &id);
      if (method == "GET") return incident_indicators(call, id);
      return method_not_allowed("GET, POST");
    }
    if (n == 3 && parts[2] == "export") {
      return method == "GET" ? export_incident(call, id) : method_not_allowed("GET");
    }
    if (n == 3 && (parts[2] == "sightings" || parts[2] == "scope")) {
      if (method != "GET") return method_not_allowed("GET");
      return parts[2] == "scope" ? scope(call, id) : incident_sightings(call, id);
    }
  } else if (collection == "indicators") {
    if (n == 1) {
      if (method == "POST") return add_indicators(call, nullptr);
      if (method == "GET") return list_indicators(call);
      return method_not_allowed("GET, POST");
    }
    if (n == 2 || (n == 3 && parts[2] == "sightings")) {
      if (method != "GET") return method_not_allowed("GET");
      return get_indicator(call, parts[1], n == 3);
    }
  } else if (collection == "import" && (n == 1 || (n == 2 && parts[1] == "plan"))) {
    if (method != "POST") return method_not_allowed("POST");
    return n == 1 ? import_document(call) : plan_feed(call);
  } else if (collection == "imports") {
    if (method != "GET") return method_not_allowed("GET");
    if (n == 1) return list_imports(call);
    if (n == 2) return get_import(call, parts[1]);
  } else if (collection == "headsups" && n == 2 && parts[1] == "answers") {
    return method == "GET" ? headsup_answers(call) : method_not_allowed("GET");
  } else if (collection == "sites" && n == 2 && parts[1] == "incidents") {
    return method == "GET" ? site_incidents(call) : method_not_allowed("GET");
  } else if (collection == "bans") {
    if (n == 1) {
      if (method == "POST") return add_ban(call);
      if (method == "GET") return list_bans(call);
      return method_not_allowed("GET, POST");
    }
    if (n == 2 && (parts[1] == "status" || parts[1] == "applied")) {
      if (parts[1] == "status")
        return method == "GET" ? ban_status(call) : method_not_allowed("GET");
      return method == "POST" ? bans_applied(call) : method_not_allowed("POST");
    }
    if (n == 3 && parts[2] == "lift")
      return method == "POST" ? lift_ban(call, parts[1]) : method_not_allowed("POST");
  } else if (collection == "retrohunt") {
    if (n == 1) return method == "POST" ? start_retrohunt(call) : method_not_allowed("POST");
    if (n == 2) return method == "GET" ? get_retrohunt(call, parts[1]) : method_not_allowed("GET");
  }
  return error(404, "no such endpoint: " + std::string(path));
}

Response CsirtApi::incident_response(int status, const csirt::Incident& incident) {
  Response response = json_response(
      status, csirt::to_json(incident, csirt::sec01_steps(incident, service_.config().calendar,
                                                          protocol::wall_clock_ns())));
  response.headers.emplace_back("ETag", etag(incident));
  return response;
}

Response CsirtApi::create_incident(const Call& call) {
  auto draft = csirt::parse_incident_draft(call.request.body);
  if (!draft) return error(400, draft.error());
  csirt::CsirtStore& store = service_.csirt();
  csirt::Incident incident;
  incident.title = draft->title;
  incident.summary = draft->summary;
  incident.coordinator = draft->coordinator;
  incident.severity = draft->severity.value_or(csirt::Severity::kMedium);
  incident.tlp = draft->tlp.value_or(service_.default_tlp());
  incident.sites = draft->sites.empty() ? std::vector<std::string>{service_.site()} : draft->sites;
  incident.times.discovered_ns = draft->discovered_ns.value_or(call.now_ns);
  if (incident.times.discovered_ns > call.now_ns + kClockSkewNs)
    return error(400, "'discovered_ns' is in the future");
  incident.created_ns = incident.updated_ns = call.now_ns;

  csirt::TimelineEntry first;
  first.occurred_ns = incident.times.discovered_ns;
  first.recorded_ns = call.now_ns;
  first.author = call.principal.name;
  first.source = "vigie";
  first.tlp = incident.tlp;
  if (draft->alerts.empty()) {
    first.kind = csirt::EntryKind::kStateChange;
    first.text = "Opened as suspected by " + call.principal.name;
  } else {
    const auto alerts = store.alerts_by_id(draft->alerts);
    if (alerts.size() != std::set<int64_t>(draft->alerts.begin(), draft->alerts.end()).size())
      return error(400, "'alerts' names alerts that do not exist");
    first.kind = csirt::EntryKind::kAlert;
    std::set<std::string> titles, hosts, jobs;
    for (const auto& a : alerts) {
      titles.insert(a.alert.rule_title);
      hosts.insert(a.host);
      if (a.alert.event.workload.kind == protocol::WorkloadKind::kSlurmJob)
        jobs.insert(a.alert.event.workload.id);
    }
    first.references.alerts = draft->alerts;
    first.references.hosts.assign(hosts.begin(), hosts.end());
    first.references.jobs.assign(jobs.begin(), jobs.end());
    first.text = "Opened as suspected by " + call.principal.name + " from " +
                 std::to_string(alerts.size()) + " alert(s): " +
                 joined(std::vector<std::string>(titles.begin(), titles.end()));
  }
  const csirt::Incident stored = store.create_incident(std::move(incident), std::move(first));
  Response response = incident_response(201, stored);
  response.headers.emplace_back("Location", std::string(kPrefix) + "/incidents/" + stored.id);
  return response;
}

Response CsirtApi::list_incidents(const Call& call) {
  Query query;
  if (auto e = query.parse(call.query, {"state", "open", "limit"})) return error(400, *e);
  csirt::IncidentQuery q;
  uint64_t limit = 0, open = 0;
  if (auto e = query.number("limit", limit, 100, 1, kMaxLimit)) return error(400, *e);
  if (auto e = query.number("open", open, 0, 0, 1)) return error(400, *e);
  q.limit = limit;
  q.open_only = open == 1;
  if (const auto* state = query.get("state")) {
    q.state = csirt::parse_state(*state);
    if (!q.state) return error(400, "query parameter 'state' is not a state: '" + *state + "'");
  }
  json incidents = json::array();
  for (const auto& incident : service_.csirt().incidents(q))
    incidents.push_back(csirt::to_json(
        incident, csirt::sec01_steps(incident, service_.config().calendar, call.now_ns)));
  return json_response(200, {{"incidents", std::move(incidents)}});
}

Response CsirtApi::get_incident(const Call& call, const std::string& id) {
  if (auto e = Query().parse(call.query, {})) return error(400, *e);
  const auto incident = service_.csirt().incident(id);
  if (!incident) return error(404, "no incident " + id);
  return incident_response(200, *incident);
}

Response CsirtApi::patch_incident(const Call& call, const std::string& id) {
  if (call.request.if_match.empty())
    return error(428, "a PATCH needs If-Match: the ETag of the incident as last read");
  auto patch = csirt::parse_incident_patch(call.request.body);
  if (!patch) return error(400, patch.error());
  csirt::CsirtStore& store = service_.csirt();
  const auto current = store.incident(id);
  if (!current) return error(404, "no incident " + id);
  if (!if_match(call.request.if_match, etag(*current)))
    return error(412, "the incident changed since it was read (now version " +
                          std::to_string(current->version) + "); read it again");
  csirt::Incident next = *current;
  std::vector<std::string> changed;
  auto set = [&changed](auto& field, const auto& value, const char* name) {
    if (value && !(field == *value)) {
      field = *value;
      changed.push_back(name);
    }
  };
  set(next.title, patch->title, "title");
  set(next.summary, patch->summary, "summary");
  set(next.coordinator, patch->coordinator, "coordinator");
  set(next.severity, patch->severity, "severity");
  set(next.tlp, patch->tlp, "tlp");
  set(next.sites, patch->sites, "sites");
  csirt::Sec01Times& t = next.times;
  for (auto [value, field, name] :
       {std::tuple{patch->discovered_ns, &t.discovered_ns, "discovered_ns"},
        std::tuple{patch->reported_ns, &t.reported_ns, "reported_ns"},
        std::tuple{patch->contained_ns, &t.contained_ns, "contained_ns"},
        std::tuple{patch->isolated_ns, &t.isolated_ns, "isolated_ns"},
        std::tuple{patch->downtime_announced_ns, &t.downtime_announced_ns,
                   "downtime_announced_ns"}}) {
    if (value && *value > call.now_ns + kClockSkewNs)
      return error(400, "'" + std::string(name) + "' is in the future");
    set(*field, value, name);
  }
  std::vector<csirt::TimelineEntry> entries;
  auto entry = [&](csirt::EntryKind kind, std::string text) {
    csirt::TimelineEntry e;
    e.kind = kind;
    e.text = std::move(text);
    e.occurred_ns = e.recorded_ns = call.now_ns;
    e.author = call.principal.name;
    e.source = "vigie";
    e.tlp = next.tlp;
    entries.push_back(std::move(e));
  };
  if (!changed.empty()) entry(csirt::EntryKind::kAction, "Changed " + joined(changed));
  if (patch->state) {
    if (*patch->state == csirt::State::kMerged && !store.incident(patch->merged_into))
      return error(400, "'merged_into': no incident " + patch->merged_into);
    const csirt::State from = next.state;
    auto moved = csirt::transition(next, *patch->state, patch->reason, call.now_ns,
                                   patch->merged_into);
    if (!moved)
      return error(moved.error().code == csirt::TransitionError::Code::kNotAllowed ? 409 : 400,
                   moved.error().message);
    entry(csirt::EntryKind::kStateChange, std::string(to_string(from)) + " → " +
                                              std::string(to_string(next.state)) + ": " +
                                              patch->reason);
  }
  if (entries.empty()) return incident_response(200, *current);  // nothing changed
  next.updated_ns = call.now_ns;
  switch (store.update_incident(next, current->version, entries)) {
    case csirt::WriteOutcome::kWritten:
      next.version = current->version + 1;
      return incident_response(200, next);
    case csirt::WriteOutcome::kStale:
      return error(412, "the incident changed meanwhile; read it again");
    case csirt::WriteOutcome::kNotFound:
      break;
  }
  return error(404, "no incident " + id);
}

Response CsirtApi::add_entry(const Call& call, const std::string& id) {
  auto draft = csirt::parse_entry(call.request.body);
  if (!draft) return error(400, draft.error());
  csirt::CsirtStore& store = service_.csirt();
  csirt::TimelineEntry entry = std::move(draft->entry);
  entry.id = csirt::new_uuid();
  entry.incident_id = id;
  entry.recorded_ns = call.now_ns;
  if (entry.occurred_ns == 0) entry.occurred_ns = call.now_ns;
  if (entry.occurred_ns > call.now_ns + kClockSkewNs)
    return error(400, "'occurred_ns' is in the future");
  entry.author = call.principal.name;
  if (entry.source.empty()) entry.source = "site";
  if (!entry.references.alerts.empty()) {
    const std::set<int64_t> wanted(entry.references.alerts.begin(), entry.references.alerts.end());
    if (store.alerts_by_id(entry.references.alerts).size() != wanted.size())
      return error(400, "'references.alerts' names alerts that do not exist");
  }
  for (int attempt = 0; attempt < kUpdateAttempts; ++attempt) {
    const auto incident = store.incident(id);
    if (!incident) return error(404, "no incident " + id);
    entry.incident_id = incident->id;
    if (!draft->tlp) entry.tlp = incident->tlp;
    if (auto checked = csirt::check_entry(entry, incident->tlp); !checked)
      return error(400, checked.error());
    if (!entry.corrects.empty()) {
      const auto timeline = store.timeline(incident->id);
      if (std::none_of(timeline.begin(), timeline.end(),
                       [&](const csirt::TimelineEntry& e) { return e.id == entry.corrects; }))
        return error(400, "'corrects' names no entry of this incident");
    }
    csirt::Incident next = *incident;
    auto applied = csirt::apply_entry(next, entry);
    if (!applied) return error(400, applied.error());
    if (!*applied) {
      if (auto appended = store.append_entry(entry)) return json_response(201, csirt::to_json(*appended));
      return error(404, "no incident " + id);
    }
    next.updated_ns = call.now_ns;
    switch (store.update_incident(next, incident->version, {entry})) {
      case csirt::WriteOutcome::kWritten:
        return json_response(201, csirt::to_json(entry));
      case csirt::WriteOutcome::kNotFound:
        return error(404, "no incident " + id);
      case csirt::WriteOutcome::kStale:
        break;  // changed meanwhile: apply the entry to the new version
    }
  }
  return error(409, "the incident keeps changing; try again");
}

Response CsirtApi::get_timeline(const Call& call, const std::string& id) {
  if (auto e = Query().parse(call.query, {})) return error(400, *e);
  csirt::CsirtStore& store = service_.csirt();
  const auto incident = store.incident(id);
  if (!incident) return error(404, "no incident " + id);
  json timeline = json::array();
  for (const auto& entry : store.timeline(incident->id)) {
    json out = csirt::to_json(entry);
    if (!entry.references.alerts.empty()) {
      json alerts = json::array();
      for (const auto& record : store.alerts_by_id(entry.references.alerts))
        alerts.push_back(alert_json(record));
      out["alerts"] = std::move(alerts);
    }
    timeline.push_back(std::move(out));
  }
  return json_response(200, {{"timeline", std::move(timeline)}});
}

Response CsirtApi::add_indicators(const Call& call, const std::string* incident_id) {
  auto drafts = csirt::parse_indicators(call.request.body);
  if (!drafts) return error(400, drafts.error());
  csirt::CsirtStore& store = service_.csirt();
  std::optional<csirt::Incident> incident;
  if (incident_id != nullptr) {
    incident = store.incident(*incident_id);
    if (!incident) return error(404, "no incident " + *incident_id);
  }
  json stored = json::array();
  std::vector<std::string> hunt, values;
  for (auto& draft : *drafts) {
    csirt::Indicator& indicator = draft.indicator;
    if (!draft.has_tlp) indicator.tlp = incident ? incident->tlp : service_.default_tlp();
    indicator.created_ns = indicator.updated_ns = call.now_ns;
    indicator = store.put_indicator(indicator);
    if (!indicator.deleted) hunt.push_back(indicator.uuid);
    values.push_back(std::string(to_string(indicator.type)) + " " + indicator.value);
    if (incident) {
      store.link_indicator(incident->id, indicator.uuid, draft.role, call.now_ns);
      stored.push_back(csirt::to_json(csirt::LinkedIndicator{indicator, draft.role, call.now_ns}));
    } else {
      stored.push_back(csirt::to_json(indicator));
    }
  }
  service_.refresh_matcher();
  if (incident) {
    csirt::TimelineEntry entry;
    entry.incident_id = incident->id;
    entry.kind = csirt::EntryKind::kAction;
    entry.text = "Linked indicators: " + joined(values);
    entry.occurred_ns = entry.recorded_ns = call.now_ns;
    entry.author = call.principal.name;
    entry.source = "vigie";
    entry.tlp = incident->tlp;
    for (const auto& item : stored) entry.references.indicators.push_back(item["uuid"]);
    store.append_entry(entry);
  }
  // Where were they seen before? A retro-hunt over the stored observables.
  std::optional<csirt::Retrohunt> retrohunt;
  if (!hunt.empty()) retrohunt = service_.request_retrohunt(hunt, 0, call.principal.name);
  return json_response(201, {{"indicators", std::move(stored)},
                             {"retrohunt", retrohunt ? csirt::to_json(*retrohunt) : json(nullptr)}});
}

Response CsirtApi::incident_indicators(const Call& call, const std::string& id) {
  if (auto e = Query().parse(call.query, {})) return error(400, *e);
  const auto incident = service_.csirt().incident(id);
  if (!incident) return error(404, "no incident " + id);
  json out = json::array();
  for (const auto& linked : service_.csirt().incident_indicators(incident->id))
    out.push_back(csirt::to_json(linked));
  return json_response(200, {{"indicators", std::move(out)}});
}

Response CsirtApi::incident_sightings(const Call& call, const std::string& id) {
  if (auto e = Query().parse(call.query, {})) return error(400, *e);
  csirt::CsirtStore& store = service_.csirt();
  const auto incident = store.incident(id);
  if (!incident) return error(404, "no incident " + id);
  std::vector<csirt::Sighting> all;
  for (const auto& linked : store.incident_indicators(incident->id)) {
    auto sightings = store.sightings(linked.indicator.uuid, kMaxLimit);
    all.insert(all.end(), sightings.begin(), sightings.end());
  }
  std::sort(all.begin(), all.end(),
            [](const csirt::Sighting& a, const csirt::Sighting& b) { return a.last_ns > b.last_ns; });
  json out = json::array();
  for (const auto& s : all) out.push_back(csirt::to_json(s));
  return json_response(200, {{"sightings", std::move(out)}});
}

Response CsirtApi::scope(const Call& call, const std::string& id) {
  if (auto e = Query().parse(call.query, {})) return error(400, *e);
  csirt::CsirtStore& store = service_.csirt();
  const auto incident = store.incident(id);
  if (!incident) return error(404, "no incident " + id);
  std::set<std::string> sites(incident->sites.begin(), incident->sites.end()), hosts, users,
      accounts, jobs;
  std::vector<int64_t> alert_ids;
  for (const auto& entry : store.timeline(incident->id)) {
    alert_ids.insert(alert_ids.end(), entry.references.alerts.begin(),
                     entry.references.alerts.end());
    hosts.insert(entry.references.hosts.begin(), entry.references.hosts.end());
    jobs.insert(entry.references.jobs.begin(), entry.references.jobs.end());
  }
  auto add = [&](const std::string& site, const std::string& host, const std::string& user,
                 protocol::WorkloadKind kind, const std::string& workload_id) {
    if (!site.empty()) sites.insert(site);
    if (!host.empty()) hosts.insert(host);
    if (!user.empty()) users.insert(user);
    if (kind == protocol::WorkloadKind::kSlurmJob && !workload_id.empty()) jobs.insert(workload_id);
  };
  std::sort(alert_ids.begin(), alert_ids.end());
  alert_ids.erase(std::unique(alert_ids.begin(), alert_ids.end()), alert_ids.end());
  for (const auto& record : store.alerts_by_id(alert_ids)) {
    const auto& event = record.alert.event;
    add(record.site, record.host, event.user, event.workload.kind, event.workload.id);
    if (!event.workload.account.empty()) accounts.insert(event.workload.account);
  }
  for (const auto& linked : store.incident_indicators(incident->id)) {
    for (const auto& s : store.sightings(linked.indicator.uuid, kMaxLimit)) {
      protocol::WorkloadKind kind{};
      protocol::parse_workload_kind(s.workload_kind, kind);
      add(s.site, s.host, s.user, kind, s.workload_id);
    }
  }
  json job_list = json::array();
  double energy = 0, carbon = 0;
  for (const std::string& job : jobs) {
    json item = {{"job_id", job}, {"user", ""}, {"account", ""}, {"hosts", json::array()},
                 {"ended", false}, {"energy_joules", 0.0}, {"operational_gco2e", 0.0},
                 {"embodied_gco2e", 0.0}, {"carbon_gco2e", 0.0}};
    if (const auto footprint = service_.store().job_footprint(job)) {
      double joules = 0, operational = 0, embodied = 0;
      for (const auto& host : footprint->hosts) {
        item["hosts"].push_back(host.host);
        hosts.insert(host.host);
        joules += host.energy_joules;
        operational += host.operational_gco2e;
        embodied += host.embodied_gco2e;
      }
      if (!footprint->user.empty()) users.insert(footprint->user);
      if (!footprint->account.empty()) accounts.insert(footprint->account);
      item["user"] = footprint->user;
      item["account"] = footprint->account;
      item["ended"] = true;
      item["energy_joules"] = joules;
      item["operational_gco2e"] = operational;
      item["embodied_gco2e"] = embodied;
      item["carbon_gco2e"] = operational + embodied;
      energy += joules;
      carbon += operational + embodied;
    }
    job_list.push_back(std::move(item));
  }
  auto list = [](const std::set<std::string>& items) { return json(items); };
  return json_response(200, {{"incident", incident->id},
                             {"sites", list(sites)},
                             {"hosts", list(hosts)},
                             {"users", list(users)},
                             {"accounts", list(accounts)},
                             {"jobs", std::move(job_list)},
                             {"energy_joules", energy},
                             {"carbon_gco2e", carbon}});
}

Response CsirtApi::list_indicators(const Call& call) {
  Query query;
  if (auto e = query.parse(call.query, {"type", "value", "deleted", "limit"})) return error(400, *e);
  csirt::IndicatorQuery q;
  uint64_t limit = 0, deleted = 0;
  if (auto e = query.number("limit", limit, 100, 1, kMaxLimit)) return error(400, *e);
  if (auto e = query.number("deleted", deleted, 0, 0, 1)) return error(400, *e);
  q.limit = limit;
  q.include_deleted = deleted == 1;
  if (const auto* type = query.get("type")) {
    q.type = csirt::parse_observable_type(*type);
    if (!q.type) return error(400, "query parameter 'type' is not an indicator type: '" + *type + "'");
  }
  if (const auto* value = query.get("value")) {
    if (!q.type) return error(400, "query parameter 'value' needs 'type'");
    auto normalised = csirt::normalise(*q.type, *value);
    if (!normalised) return error(400, "query parameter 'value': " + normalised.error());
    q.value = *normalised;
  }
  json out = json::array();
  for (const auto& indicator : service_.csirt().indicators(q)) out.push_back(csirt::to_json(indicator));
  return json_response(200, {{"indicators", std::move(out)}});
}

Response CsirtApi::get_indicator(const Call& call, const std::string& uuid, bool with_sightings) {
  Query query;
  if (auto e = query.parse(call.query, with_sightings ? std::initializer_list<std::string_view>{"limit"}
                                                      : std::initializer_list<std::string_view>{}))
    return error(400, *e);
  const auto indicator = service_.csirt().indicator(uuid);
  if (!indicator) return error(404, "no indicator " + uuid);
  if (!with_sightings) return json_response(200, csirt::to_json(*indicator));
  uint64_t limit = 0;
  if (auto e = query.number("limit", limit, 1000, 1, kMaxLimit)) return error(400, *e);
  json sightings = json::array();
  for (const auto& s : service_.csirt().sightings(uuid, limit)) sightings.push_back(csirt::to_json(s));
  return json_response(200, {{"indicator", csirt::to_json(*indicator)},
                             {"sightings", std::move(sightings)}});
}

Response CsirtApi::start_retrohunt(const Call& call) {
  auto request = csirt::parse_retrohunt(call.request.body);
  if (!request) return error(400, request.error());
  for (const auto& uuid : request->indicators) {
    if (!plain_id(uuid) || !service_.csirt().indicator(uuid))
      return error(400, "'indicators': no indicator " + uuid);
  }
  auto hunt = service_.request_retrohunt(request->indicators, request->since_ns.value_or(0),
                                         call.principal.name);
  if (!hunt) {
    Response response = error(429, "too many retro-hunts waiting; retry later");
    response.headers.emplace_back("Retry-After", "10");
    return response;
  }
  Response response = json_response(202, csirt::to_json(*hunt));
  response.headers.emplace_back("Location", std::string(kPrefix) + "/retrohunt/" + hunt->id);
  return response;
}

Response CsirtApi::get_retrohunt(const Call& call, const std::string& id) {
  if (auto e = Query().parse(call.query, {})) return error(400, *e);
  const auto hunt = service_.csirt().retrohunt(id);
  if (!hunt) return error(404, "no retro-hunt " + id);
  return json_response(200, csirt::to_json(*hunt));
}

}  // namespace vigie::collector
