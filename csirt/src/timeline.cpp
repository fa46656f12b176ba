#include "vigie/csirt/timeline.h"

#include <array>
#include <string>

#include "vigie/csirt/sec01.h"

namespace vigie::csirt {

using protocol::fail;

namespace {

constexpr std::array<std::pair<EntryKind, std::string_view>, 8> kKinds = {{
    {EntryKind::kNote, "note"},
    {EntryKind::kAction, "action"},
    {EntryKind::kCommunication, "communication"},
    {EntryKind::kEgiRequest, "egi_request"},
    {EntryKind::kAlert, "alert"},
    {EntryKind::kSighting, "sighting"},
    {EntryKind::kStateChange, "state_change"},
    {EntryKind::kReport, "report"},
}};

}  // namespace

std::string_view to_string(EntryKind kind) {
  for (const auto& [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "note";
}

std::optional<EntryKind> parse_entry_kind(std::string_view text) {
  for (const auto& [k, name] : kKinds) {
    if (name == text) return k;
  }
  return std::nullopt;
}

protocol::Result<void> check_entry(const TimelineEntry& entry, Tlp incident_tlp) {
  if (looser(entry.tlp, incident_tlp))
    return fail("an entry's TLP may not be looser than its incident's: TLP:" +
                std::string(to_string(entry.tlp)) + " on an incident marked TLP:" +
                std::string(to_string(incident_tlp)));
  if (entry.closure_report) {
    if (entry.kind != EntryKind::kReport) return fail("closure_report is for entries of kind report");
    if (auto tlp = check_closure_report_tlp(entry.tlp); !tlp) return tlp;
  }
  if (!entry.answers.empty() && entry.kind != EntryKind::kCommunication)
    return fail("answers is for entries of kind communication (the answer to an EGI CSIRT request)");
  return {};
}

protocol::Result<bool> apply_entry(Incident& incident, const TimelineEntry& entry) {
  if (!entry.answers.empty()) {
    for (EgiRequest& request : incident.requests) {
      if (request.entry_id != entry.answers) continue;
      if (request.answered_ns != 0) return false;  // answered already: the first answer counts
      request.answered_ns = entry.occurred_ns;
      return true;
    }
    return fail("answers names no EGI CSIRT request of this incident: '" + entry.answers + "'");
  }
  if (entry.kind == EntryKind::kEgiRequest) {
    incident.requests.push_back({entry.id, entry.occurred_ns, 0});
    return true;
  }
  if (entry.closure_report && incident.times.closure_report_ns == 0) {
    incident.times.closure_report_ns = entry.occurred_ns;
    return true;
  }
  return false;
}

}  // namespace vigie::csirt
