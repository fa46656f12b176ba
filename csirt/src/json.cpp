#include "vigie/csirt/json.h"

#include <algorithm>
#include <limits>
#include <set>

namespace vigie::csirt {

using nlohmann::json;
using protocol::fail;
using protocol::Result;

namespace {

// Reads one JSON object strictly: each key at most once by construction,
// every key known, every value of its type and bounds. The first error wins;
// it names the key.
class Reader {
 public:
  Reader(const json& object, const std::set<std::string_view>& known) : object_(object) {
    for (const auto& [key, value] : object.items()) {
      if (!known.count(key)) {
        error_ = "unknown key '" + key + "'";
        break;
      }
    }
  }

  const std::string& error() const { return error_; }
  bool ok() const { return error_.empty(); }
  bool has(const char* key) const { return object_.contains(key); }

  std::optional<std::string> text(const char* key, std::size_t max_bytes, bool required = false,
                                  bool allow_empty = true) {
    const json* value = find(key, required);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) return wrong(key, "a string");
    std::string out = value->get<std::string>();
    if (out.size() > max_bytes) return wrong(key, "at most " + std::to_string(max_bytes) + " bytes");
    if (!allow_empty && out.find_first_not_of(" \t\r\n") == std::string::npos)
      return wrong(key, "a non-empty string");
    return out;
  }

  std::optional<uint64_t> time(const char* key) {
    const json* value = find(key, false);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number_unsigned() ||
        value->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return wrong(key, "a time in ns since the Unix epoch (a non-negative integer)");
    return value->get<uint64_t>();
  }

  std::optional<bool> boolean(const char* key) {
    const json* value = find(key, false);
    if (value == nullptr) return std::nullopt;
    if (!value->is_boolean()) return wrong(key, "true or false");
    return value->get<bool>();
  }

  std::optional<std::vector<std::string>> strings(const char* key, std::size_t max_bytes) {
    const json* value = find(key, false);
    if (value == nullptr) return std::nullopt;
    if (!value->is_array() || value->size() > kMaxListItems)
      return wrong(key, "an array of at most " + std::to_string(kMaxListItems) + " strings");
    std::vector<std::string> out;
    for (const json& item : *value) {
      if (!item.is_string() || item.get_ref<const std::string&>().empty() ||
          item.get_ref<const std::string&>().size() > max_bytes)
        return wrong(key, "an array of non-empty strings of at most " +
                              std::to_string(max_bytes) + " bytes");
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  std::optional<std::vector<int64_t>> ids(const char* key) {
    const json* value = find(key, false);
    if (value == nullptr) return std::nullopt;
    if (!value->is_array() || value->size() > kMaxListItems)
      return wrong(key, "an array of at most " + std::to_string(kMaxListItems) + " alert ids");
    std::vector<int64_t> out;
    for (const json& item : *value) {
      if (!item.is_number_integer() || item.get<int64_t>() <= 0)
        return wrong(key, "an array of alert ids (positive integers)");
      out.push_back(item.get<int64_t>());
    }
    return out;
  }

  // A string parsed by `parse` (parse_tlp, parse_state…); `what` lists the values.
  template <typename Parse>
  auto named(const char* key, Parse parse, const char* what, bool required = false)
      -> decltype(parse(std::string_view())) {
    const auto name = text(key, kMaxShortBytes, required);
    if (!name) return std::nullopt;
    auto value = parse(*name);
    if (!value) return wrong(key, std::string("one of ") + what + ", got '" + *name + "'");
    return value;
  }

  const json* find(const char* key, bool required) {
    if (!ok()) return nullptr;
    const auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) {
      if (required) error_ = "missing key '" + std::string(key) + "'";
      return nullptr;
    }
    return &*it;
  }

  std::nullopt_t wrong(const char* key, const std::string& expected) {
    if (ok()) error_ = "'" + std::string(key) + "' must be " + expected;
    return std::nullopt;
  }

 private:
  const json& object_;
  std::string error_;
};

constexpr const char* kTlpNames = "red, amber+strict, amber, green, clear";
constexpr const char* kSeverityNames = "low, medium, high, critical";
constexpr const char* kStateNames =
    "suspected, reported, contained, investigating, resolved, closed, false_positive, merged";

Result<json> parse_object(std::string_view body) {
  if (body.size() > kMaxBodyBytes)
    return fail("the body exceeds " + std::to_string(kMaxBodyBytes) + " bytes");
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return fail("the body is not JSON");
  if (!parsed.is_object()) return fail("the body must be a JSON object");
  return parsed;
}

auto tlp_of(std::string_view text) { return parse_tlp(text); }
auto severity_of(std::string_view text) { return parse_severity(text); }
auto state_of(std::string_view text) { return parse_state(text); }

Result<IndicatorDraft> read_indicator(const json& object) {
  if (!object.is_object()) return fail("an indicator must be a JSON object");
  Reader r(object, {"type", "value", "role", "tlp", "to_ids", "source", "tags", "comment",
                    "valid_until_ns", "deleted"});
  IndicatorDraft draft;
  Indicator& i = draft.indicator;
  const auto type = r.named(
      "type", [](std::string_view t) { return parse_observable_type(t); },
      "ip, domain, sha256, filename, user (or MISP's ip-dst, ip-src, hostname, target-user…)",
      true);
  const auto value = r.text("value", 1024, true, false);
  if (auto role = r.named(
          "role", [](std::string_view t) { return parse_link_role(t); },
          "observed, suspected, related"))
    draft.role = *role;
  if (auto tlp = r.named("tlp", tlp_of, kTlpNames)) {
    i.tlp = *tlp;
    draft.has_tlp = true;
  }
  i.to_ids = r.boolean("to_ids").value_or(true);
  i.source = r.text("source", kMaxShortBytes, false, false).value_or("site");
  i.tags = r.strings("tags", kMaxShortBytes).value_or(std::vector<std::string>{});
  i.comment = r.text("comment", kMaxTextBytes).value_or("");
  i.valid_until_ns = r.time("valid_until_ns").value_or(0);
  i.deleted = r.boolean("deleted").value_or(false);
  if (!r.ok()) return fail(r.error());
  auto normalised = normalise(*type, *value);
  if (!normalised) return fail("'value': " + normalised.error());
  i.type = *type;
  i.value = std::move(*normalised);
  return draft;
}

json ids_json(const std::vector<std::string>& items) { return items; }

}  // namespace

Result<IncidentDraft> parse_incident_draft(std::string_view body) {
  auto object = parse_object(body);
  if (!object) return fail(object.error());
  Reader r(*object, {"title", "summary", "severity", "tlp", "sites", "coordinator",
                     "discovered_ns", "alerts"});
  IncidentDraft draft;
  draft.title = r.text("title", kMaxShortBytes, true, false).value_or("");
  draft.summary = r.text("summary", kMaxTextBytes).value_or("");
  draft.severity = r.named("severity", severity_of, kSeverityNames);
  draft.tlp = r.named("tlp", tlp_of, kTlpNames);
  draft.sites = r.strings("sites", kMaxShortBytes).value_or(std::vector<std::string>{});
  draft.coordinator = r.text("coordinator", kMaxShortBytes).value_or("");
  draft.discovered_ns = r.time("discovered_ns");
  draft.alerts = r.ids("alerts").value_or(std::vector<int64_t>{});
  if (!r.ok()) return fail(r.error());
  return draft;
}

Result<IncidentPatch> parse_incident_patch(std::string_view body) {
  auto object = parse_object(body);
  if (!object) return fail(object.error());
  if (object->empty()) return fail("the body names nothing to change");
  Reader r(*object, {"title", "summary", "severity", "tlp", "sites", "coordinator", "state",
                     "reason", "merged_into", "discovered_ns", "reported_ns", "contained_ns",
                     "isolated_ns", "downtime_announced_ns"});
  IncidentPatch patch;
  patch.title = r.text("title", kMaxShortBytes, false, false);
  patch.summary = r.text("summary", kMaxTextBytes);
  patch.coordinator = r.text("coordinator", kMaxShortBytes);
  patch.severity = r.named("severity", severity_of, kSeverityNames);
  patch.tlp = r.named("tlp", tlp_of, kTlpNames);
  patch.sites = r.strings("sites", kMaxShortBytes);
  patch.state = r.named("state", state_of, kStateNames);
  patch.reason = r.text("reason", kMaxTextBytes).value_or("");
  patch.merged_into = r.text("merged_into", kMaxShortBytes).value_or("");
  patch.discovered_ns = r.time("discovered_ns");
  patch.reported_ns = r.time("reported_ns");
  patch.contained_ns = r.time("contained_ns");
  patch.isolated_ns = r.time("isolated_ns");
  patch.downtime_announced_ns = r.time("downtime_announced_ns");
  if (!r.ok()) return fail(r.error());
  if (patch.sites && patch.sites->empty()) return fail("'sites' must name at least one site");
  if (!patch.state && (!patch.reason.empty() || !patch.merged_into.empty()))
    return fail("'reason' and 'merged_into' go with 'state'");
  return patch;
}

Result<EntryDraft> parse_entry(std::string_view body) {
  auto object = parse_object(body);
  if (!object) return fail(object.error());
  Reader r(*object, {"kind", "text", "occurred_ns", "source", "tlp", "references", "answers",
                     "corrects", "closure_report"});
  TimelineEntry entry;
  const auto kind = r.named(
      "kind", [](std::string_view t) { return parse_entry_kind(t); },
      "note, action, communication, egi_request, report", true);
  entry.text = r.text("text", kMaxTextBytes, true, false).value_or("");
  entry.occurred_ns = r.time("occurred_ns").value_or(0);
  entry.source = r.text("source", kMaxShortBytes).value_or("");
  const auto tlp = r.named("tlp", tlp_of, kTlpNames);
  entry.answers = r.text("answers", kMaxShortBytes).value_or("");
  entry.corrects = r.text("corrects", kMaxShortBytes).value_or("");
  entry.closure_report = r.boolean("closure_report").value_or(false);
  if (const json* refs = r.find("references", false)) {
    if (!refs->is_object()) return fail("'references' must be an object");
    Reader rr(*refs, {"alerts", "indicators", "hosts", "jobs"});
    entry.references.alerts = rr.ids("alerts").value_or(std::vector<int64_t>{});
    entry.references.indicators = rr.strings("indicators", kMaxShortBytes).value_or(
        std::vector<std::string>{});
    entry.references.hosts = rr.strings("hosts", kMaxShortBytes).value_or(std::vector<std::string>{});
    entry.references.jobs = rr.strings("jobs", kMaxShortBytes).value_or(std::vector<std::string>{});
    if (!rr.ok()) return fail("'references': " + rr.error());
  }
  if (!r.ok()) return fail(r.error());
  if (*kind == EntryKind::kAlert || *kind == EntryKind::kSighting ||
      *kind == EntryKind::kStateChange)
    return fail("entries of kind '" + std::string(to_string(*kind)) +
                "' are written by the collector; attach alerts with references.alerts on a note");
  entry.kind = *kind;
  entry.tlp = tlp.value_or(Tlp::kRed);
  return EntryDraft{std::move(entry), tlp};
}

Result<std::vector<IndicatorDraft>> parse_indicators(std::string_view body) {
  auto object = parse_object(body);
  if (!object) return fail(object.error());
  std::vector<IndicatorDraft> out;
  if (object->contains("indicators")) {
    if (object->size() != 1) return fail("a list of indicators is {\"indicators\": [...]} alone");
    const json& list = (*object)["indicators"];
    if (!list.is_array() || list.empty() || list.size() > kMaxListItems)
      return fail("'indicators' must be an array of 1 to " + std::to_string(kMaxListItems) +
                  " indicators");
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto draft = read_indicator(list[i]);
      if (!draft) return fail("indicators[" + std::to_string(i) + "]: " + draft.error());
      out.push_back(std::move(*draft));
    }
    return out;
  }
  auto draft = read_indicator(*object);
  if (!draft) return fail(draft.error());
  out.push_back(std::move(*draft));
  return out;
}

Result<RetrohuntRequest> parse_retrohunt(std::string_view body) {
  auto object = parse_object(body);
  if (!object) return fail(object.error());
  Reader r(*object, {"indicators", "since_ns"});
  RetrohuntRequest request;
  request.indicators = r.strings("indicators", kMaxShortBytes).value_or(std::vector<std::string>{});
  request.since_ns = r.time("since_ns");
  if (!r.ok()) return fail(r.error());
  if (request.indicators.empty())
    return fail("'indicators' must name 1 to " + std::to_string(kMaxListItems) + " indicator uuids");
  return request;
}

json to_json(const Step& step) {
  return {{"key", step.key},         {"title", step.title},       {"sec01_step", step.sec01_step},
          {"started_ns", step.started_ns}, {"due_ns", step.due_ns}, {"done_ns", step.done_ns},
          {"status", to_string(step.status)}, {"late_ns", step.late_ns}};
}

json to_json(const Incident& incident, const std::vector<Step>& steps) {
  const Sec01Times& t = incident.times;
  json out = {{"id", incident.id},
              {"uuid", incident.uuid},
              {"title", incident.title},
              {"summary", incident.summary},
              {"state", to_string(incident.state)},
              {"severity", to_string(incident.severity)},
              {"tlp", to_string(incident.tlp)},
              {"sites", ids_json(incident.sites)},
              {"coordinator", incident.coordinator},
              {"merged_into", incident.merged_into},
              {"discovered_ns", t.discovered_ns},
              {"reported_ns", t.reported_ns},
              {"contained_ns", t.contained_ns},
              {"isolated_ns", t.isolated_ns},
              {"downtime_announced_ns", t.downtime_announced_ns},
              {"resolved_ns", t.resolved_ns},
              {"closure_report_ns", t.closure_report_ns},
              {"closed_ns", t.closed_ns},
              {"created_ns", incident.created_ns},
              {"updated_ns", incident.updated_ns},
              {"version", incident.version}};
  json requests = json::array();
  for (const EgiRequest& r : incident.requests)
    requests.push_back(
        {{"entry_id", r.entry_id}, {"requested_ns", r.requested_ns}, {"answered_ns", r.answered_ns}});
  out["requests"] = std::move(requests);
  json clocks = json::array();
  const Step* next = nullptr;
  for (const Step& step : steps) {
    clocks.push_back(to_json(step));
    if (step.status != StepStatus::kDone && (next == nullptr || step.due_ns < next->due_ns))
      next = &step;
  }
  out["sec01"] = std::move(clocks);
  out["next_deadline"] = next != nullptr ? to_json(*next) : json(nullptr);
  return out;
}

json to_json(const TimelineEntry& entry) {
  const References& r = entry.references;
  return {{"id", entry.id},
          {"incident_id", entry.incident_id},
          {"occurred_ns", entry.occurred_ns},
          {"recorded_ns", entry.recorded_ns},
          {"kind", to_string(entry.kind)},
          {"author", entry.author},
          {"source", entry.source},
          {"text", entry.text},
          {"tlp", to_string(entry.tlp)},
          {"references",
           {{"alerts", r.alerts},
            {"indicators", ids_json(r.indicators)},
            {"hosts", ids_json(r.hosts)},
            {"jobs", ids_json(r.jobs)}}},
          {"answers", entry.answers},
          {"corrects", entry.corrects},
          {"closure_report", entry.closure_report}};
}

json to_json(const Indicator& i) {
  return {{"uuid", i.uuid},
          {"type", to_string(i.type)},
          {"value", i.value},
          {"to_ids", i.to_ids},
          {"tlp", to_string(i.tlp)},
          {"first_seen_ns", i.first_seen_ns},
          {"last_seen_ns", i.last_seen_ns},
          {"valid_until_ns", i.valid_until_ns},
          {"source", i.source},
          {"tags", ids_json(i.tags)},
          {"comment", i.comment},
          {"deleted", i.deleted},
          {"created_ns", i.created_ns},
          {"updated_ns", i.updated_ns}};
}

json to_json(const LinkedIndicator& linked) {
  json out = to_json(linked.indicator);
  out["role"] = to_string(linked.role);
  out["linked_ns"] = linked.linked_ns;
  return out;
}

json to_json(const Sighting& s) {
  return {{"indicator", s.indicator_uuid},
          {"site", s.site},
          {"host", s.host},
          {"workload", {{"kind", s.workload_kind}, {"id", s.workload_id}}},
          {"user", s.user},
          {"first_ns", s.first_ns},
          {"last_ns", s.last_ns},
          {"count", s.count},
          {"source", s.source},
          {"alert_id", s.alert_id}};
}

json to_json(const Retrohunt& h) {
  return {{"id", h.id},
          {"state", h.state},
          {"indicators", ids_json(h.indicators)},
          {"since_ns", h.since_ns},
          {"requested_ns", h.requested_ns},
          {"started_ns", h.started_ns},
          {"finished_ns", h.finished_ns},
          {"requested_by", h.requested_by},
          {"rows_scanned", h.rows_scanned},
          {"sightings", h.sightings},
          {"truncated", h.truncated},
          {"error", h.error}};
}

namespace {
template <typename Enum, typename Parse>
Enum enum_at(const json& j, const char* key, Parse parse) {
  const auto value = parse(j.at(key).get<std::string>());
  if (!value) throw json::other_error::create(501, std::string("bad stored ") + key, &j);
  return *value;
}
}  // namespace

Incident incident_from_json(const json& j) {
  Incident i;
  i.id = j.at("id");
  i.uuid = j.at("uuid");
  i.title = j.at("title");
  i.summary = j.at("summary");
  i.state = enum_at<State>(j, "state", state_of);
  i.severity = enum_at<Severity>(j, "severity", severity_of);
  i.tlp = enum_at<Tlp>(j, "tlp", tlp_of);
  i.sites = j.at("sites").get<std::vector<std::string>>();
  i.coordinator = j.at("coordinator");
  i.merged_into = j.at("merged_into");
  Sec01Times& t = i.times;
  t.discovered_ns = j.at("discovered_ns");
  t.reported_ns = j.at("reported_ns");
  t.contained_ns = j.at("contained_ns");
  t.isolated_ns = j.at("isolated_ns");
  t.downtime_announced_ns = j.at("downtime_announced_ns");
  t.resolved_ns = j.at("resolved_ns");
  t.closure_report_ns = j.at("closure_report_ns");
  t.closed_ns = j.at("closed_ns");
  i.created_ns = j.at("created_ns");
  i.updated_ns = j.at("updated_ns");
  i.version = j.at("version");
  for (const json& r : j.at("requests"))
    i.requests.push_back({r.at("entry_id"), r.at("requested_ns"), r.at("answered_ns")});
  return i;
}

TimelineEntry entry_from_json(const json& j) {
  TimelineEntry e;
  e.id = j.at("id");
  e.incident_id = j.at("incident_id");
  e.occurred_ns = j.at("occurred_ns");
  e.recorded_ns = j.at("recorded_ns");
  e.kind = enum_at<EntryKind>(j, "kind", [](std::string_view t) { return parse_entry_kind(t); });
  e.author = j.at("author");
  e.source = j.at("source");
  e.text = j.at("text");
  e.tlp = enum_at<Tlp>(j, "tlp", tlp_of);
  const json& r = j.at("references");
  e.references.alerts = r.at("alerts").get<std::vector<int64_t>>();
  e.references.indicators = r.at("indicators").get<std::vector<std::string>>();
  e.references.hosts = r.at("hosts").get<std::vector<std::string>>();
  e.references.jobs = r.at("jobs").get<std::vector<std::string>>();
  e.answers = j.at("answers");
  e.corrects = j.at("corrects");
  e.closure_report = j.at("closure_report");
  return e;
}

Indicator indicator_from_json(const json& j) {
  Indicator i;
  i.uuid = j.at("uuid");
  i.type = enum_at<ObservableType>(j, "type",
                                   [](std::string_view t) { return parse_observable_type(t); });
  i.value = j.at("value");
  i.to_ids = j.at("to_ids");
  i.tlp = enum_at<Tlp>(j, "tlp", tlp_of);
  i.first_seen_ns = j.at("first_seen_ns");
  i.last_seen_ns = j.at("last_seen_ns");
  i.valid_until_ns = j.at("valid_until_ns");
  i.source = j.at("source");
  i.tags = j.at("tags").get<std::vector<std::string>>();
  i.comment = j.at("comment");
  i.deleted = j.at("deleted");
  i.created_ns = j.at("created_ns");
  i.updated_ns = j.at("updated_ns");
  return i;
}

Retrohunt retrohunt_from_json(const json& j) {
  Retrohunt h;
  h.id = j.at("id");
  h.state = j.at("state");
  h.indicators = j.at("indicators").get<std::vector<std::string>>();
  h.since_ns = j.at("since_ns");
  h.requested_ns = j.at("requested_ns");
  h.started_ns = j.at("started_ns");
  h.finished_ns = j.at("finished_ns");
  h.requested_by = j.at("requested_by");
  h.rows_scanned = j.at("rows_scanned");
  h.sightings = j.at("sightings");
  h.truncated = j.at("truncated");
  h.error = j.at("error");
  return h;
}

}  // namespace vigie::csirt
