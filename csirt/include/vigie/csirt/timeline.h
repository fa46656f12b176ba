// An incident's timeline: append-only entries, each with the time it
// happened and the time it was recorded. A correction is a new entry
// (`corrects` names the one it corrects); nothing is ever edited or deleted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/csirt/incident.h"
#include "vigie/csirt/tlp.h"
#include "vigie/protocol/result.h"

namespace vigie::csirt {

enum class EntryKind : uint8_t {
  kNote,           // what someone found or thinks
  kAction,         // what someone did (isolated a node, suspended an account)
  kCommunication,  // a message sent or received; `answers` a request when it replies to one
  kEgiRequest,     // a request from EGI CSIRT: starts a 4-working-hour clock (SEC01 step 5)
  kAlert,          // an alert attached to the incident (references.alerts)
  kSighting,       // an indicator seen (references.indicators, hosts, jobs)
  kStateChange,    // written by the collector at every transition, with its reason
  kReport,         // a report sent; the closure report when `closure_report` is set
};
std::string_view to_string(EntryKind kind);  // "note", …, "egi_request", "state_change", "report"
std::optional<EntryKind> parse_entry_kind(std::string_view text);

// What an entry points at.
struct References {
  std::vector<int64_t> alerts;          // stored alert ids (GET /api/v1/alerts "id")
  std::vector<std::string> indicators;  // indicator uuids
  std::vector<std::string> hosts;
  std::vector<std::string> jobs;  // Slurm job ids
  bool operator==(const References&) const = default;
};

struct TimelineEntry {
  std::string id;                // uuid, assigned when recorded
  std::string incident_id;
  uint64_t occurred_ns = 0;      // when it happened (given, or the recording time)
  uint64_t recorded_ns = 0;      // when the collector recorded it
  EntryKind kind = EntryKind::kNote;
  std::string author;            // the API token's name that recorded it
  std::string source;            // where it comes from: "vigie", "egi-csirt", "site", a tool…
  std::string text;
  Tlp tlp = Tlp::kAmber;
  References references;
  std::string answers;           // kCommunication: the kEgiRequest entry id it answers
  std::string corrects;          // the entry id this one corrects
  bool closure_report = false;   // kReport: this is the SEC01 closure report
  bool operator==(const TimelineEntry&) const = default;
};

// Checks `entry` against the incident's TLP and the rules of its kind: its
// TLP never looser than `incident_tlp`; a closure report only as AMBER,
// AMBER+STRICT or RED and of kind report; `answers` only on a
// communication. The message says what is wrong.
protocol::Result<void> check_entry(const TimelineEntry& entry, Tlp incident_tlp);

// What a new entry changes in its incident, after check_entry(): an
// egi_request starts a request clock (SEC01 step 5), a communication that
// `answers` one stops it, a closure report sets times.closure_report_ns
// (SEC01 step 6) when not already set. Returns whether `incident` changed;
// an error (nothing changed) when `answers` names no request of the incident.
protocol::Result<bool> apply_entry(Incident& incident, const TimelineEntry& entry);

}  // namespace vigie::csirt
