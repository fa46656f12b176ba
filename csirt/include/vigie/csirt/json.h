// The CSIRT API's JSON: the bodies it accepts (parsed strictly: unknown
// keys, wrong types and out-of-range values are errors that name the key)
// and the shapes it answers. Times are ns since the Unix epoch (UTC), as in
// the rest of Vigie's API. Routes: collector/src/csirt/api.h.
//
// Answers:
//   incident   {"id","uuid","title","summary","state","severity","tlp","sites":[…],
//               "coordinator","merged_into","discovered_ns","reported_ns","contained_ns",
//               "isolated_ns","downtime_announced_ns","resolved_ns","closure_report_ns",
//               "closed_ns","created_ns","updated_ns","version",
//               "requests":[{"entry_id","requested_ns","answered_ns"}],
//               "sec01":[step…], "next_deadline": step | null}
//   step       {"key","title","sec01_step","started_ns","due_ns","done_ns","status","late_ns"}
//   entry      {"id","incident_id","occurred_ns","recorded_ns","kind","author","source","text",
//               "tlp","references":{"alerts":[id],"indicators":[uuid],"hosts":[…],"jobs":[…]},
//               "answers","corrects","closure_report"}  (+ "alerts":[alert…] in timelines)
//   indicator  {"uuid","type","value","to_ids","tlp","first_seen_ns","last_seen_ns",
//               "valid_until_ns","source","tags":[…],"comment","deleted","created_ns","updated_ns"}
//               (+ "role","linked_ns" under an incident)
//   sighting   {"indicator","site","host","workload":{"kind","id"},"user","first_ns","last_ns",
//               "count","source","alert_id"}
//   retrohunt  {"id","state","indicators":[uuid],"since_ns","requested_ns","started_ns",
//               "finished_ns","requested_by","rows_scanned","sightings","truncated","error"}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "vigie/csirt/incident.h"
#include "vigie/csirt/indicator.h"
#include "vigie/csirt/sec01.h"
#include "vigie/csirt/store.h"
#include "vigie/csirt/timeline.h"
#include "vigie/protocol/result.h"

namespace vigie::csirt {

// Every body is refused beyond this size, before parsing.
inline constexpr std::size_t kMaxBodyBytes = 1u << 20;
inline constexpr std::size_t kMaxTextBytes = 64u << 10;   // summary, entry text, comment
inline constexpr std::size_t kMaxShortBytes = 256;        // title is 1..256, names, sources, tags
inline constexpr std::size_t kMaxListItems = 1000;        // references, tags, sites, indicators

// POST /incidents: {"title" (required), "summary", "severity" (default
// medium), "tlp" (default: the site's), "sites" (default: [site]),
// "coordinator", "discovered_ns" (default: now), "alerts": [alert ids]}.
struct IncidentDraft {
  std::string title, summary, coordinator;
  std::optional<Severity> severity;
  std::optional<Tlp> tlp;
  std::vector<std::string> sites;
  std::optional<uint64_t> discovered_ns;
  std::vector<int64_t> alerts;
};
protocol::Result<IncidentDraft> parse_incident_draft(std::string_view body);

// PATCH /incidents/{id}: any of "title", "summary", "severity", "tlp",
// "sites", "coordinator"; "state" with "reason" (required with it) and
// "merged_into" (required for merged); the SEC01 times set by hand:
// "discovered_ns", "reported_ns", "contained_ns", "isolated_ns",
// "downtime_announced_ns" (a time in the future is refused by the route).
// At least one key.
struct IncidentPatch {
  std::optional<std::string> title, summary, coordinator;
  std::optional<Severity> severity;
  std::optional<Tlp> tlp;
  std::optional<std::vector<std::string>> sites;
  std::optional<State> state;
  std::string reason, merged_into;
  std::optional<uint64_t> discovered_ns, reported_ns, contained_ns, isolated_ns,
      downtime_announced_ns;
};
protocol::Result<IncidentPatch> parse_incident_patch(std::string_view body);

// POST /incidents/{id}/timeline: {"kind" (required; not alert, sighting or
// state_change, which the collector writes), "text" (required), "occurred_ns",
// "source", "tlp" (default: the incident's), "references", "answers",
// "corrects", "closure_report"}. id, author, times are set by the route.
struct EntryDraft {
  TimelineEntry entry;     // its tlp is meaningful only when `tlp` is set
  std::optional<Tlp> tlp;  // as given; unset: the incident's
};
protocol::Result<EntryDraft> parse_entry(std::string_view body);

// One indicator: {"type", "value" (both required), "role" (observed,
// suspected, related; default observed; under an incident only), "tlp",
// "to_ids" (default true), "source" (default "site"), "tags", "comment",
// "valid_until_ns", "deleted"}. POST /indicators and
// POST /incidents/{id}/indicators take one, or {"indicators": [one…]}.
struct IndicatorDraft {
  Indicator indicator;  // value normalised; tlp set only when given (has_tlp)
  bool has_tlp = false;
  LinkRole role = LinkRole::kObserved;
};
protocol::Result<std::vector<IndicatorDraft>> parse_indicators(std::string_view body);

// POST /retrohunt: {"indicators": [uuid…] (1 to 1000), "since_ns"}.
struct RetrohuntRequest {
  std::vector<std::string> indicators;
  std::optional<uint64_t> since_ns;
};
protocol::Result<RetrohuntRequest> parse_retrohunt(std::string_view body);

nlohmann::json to_json(const Step& step);
// With its SEC01 steps and the next open deadline.
nlohmann::json to_json(const Incident& incident, const std::vector<Step>& steps);
nlohmann::json to_json(const TimelineEntry& entry);
nlohmann::json to_json(const Indicator& indicator);
nlohmann::json to_json(const LinkedIndicator& linked);
nlohmann::json to_json(const Sighting& sighting);
nlohmann::json to_json(const Retrohunt& retrohunt);

// The stored form (the backends keep these JSON texts): the answers above,
// read back. Throws nlohmann::json::exception on a shape they never write.
Incident incident_from_json(const nlohmann::json& json);
TimelineEntry entry_from_json(const nlohmann::json& json);
Indicator indicator_from_json(const nlohmann::json& json);
Retrohunt retrohunt_from_json(const nlohmann::json& json);

}  // namespace vigie::csirt
