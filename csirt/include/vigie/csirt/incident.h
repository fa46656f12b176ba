// Incidents: their states, the moves between them, and the times the EGI
// SEC01 procedure counts from (../shared/corpus/csirt/egi/sec01-facts.md).
// Pure: no storage, no clock; callers pass the time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/csirt/tlp.h"
#include "vigie/protocol/result.h"

namespace vigie::csirt {

// suspected → reported → contained → investigating → resolved → closed, one
// step at a time; false_positive and merged from any open state. Closed,
// false_positive and merged are final.
enum class State : uint8_t {
  kSuspected,
  kReported,
  kContained,
  kInvestigating,
  kResolved,
  kClosed,
  kFalsePositive,
  kMerged,
};
std::string_view to_string(State state);  // "suspected", …, "false_positive", "merged"
std::optional<State> parse_state(std::string_view text);
// Not closed, false_positive or merged.
bool is_open(State state);

// The incident's severity, as TheHive and DFIR-IRIS rate cases.
enum class Severity : uint8_t { kLow, kMedium, kHigh, kCritical };
std::string_view to_string(Severity severity);  // "low", "medium", "high", "critical"
std::optional<Severity> parse_severity(std::string_view text);

// The SEC01 times, ns since the Unix epoch (UTC); 0 = not yet.
struct Sec01Times {
  uint64_t discovered_ns = 0;          // clock of steps 1 (report) and 2 (contain)
  uint64_t reported_ns = 0;            // step 1 done: reported to EGI CSIRT (abuse@egi.eu)
  uint64_t contained_ns = 0;           // step 2 done
  uint64_t isolated_ns = 0;            // systems isolated: clock of step 4 (downtime)
  uint64_t downtime_announced_ns = 0;  // step 4 done
  uint64_t resolved_ns = 0;            // clock of step 6 (closure report)
  uint64_t closure_report_ns = 0;      // step 6 done: the closure report was sent
  uint64_t closed_ns = 0;
  bool operator==(const Sec01Times&) const = default;
};

// A request from EGI CSIRT (a timeline entry of kind egi_request) and when
// it was answered (a communication entry that `answers` it): SEC01 step 5.
struct EgiRequest {
  std::string entry_id;
  uint64_t requested_ns = 0;
  uint64_t answered_ns = 0;  // 0 while open
  bool operator==(const EgiRequest&) const = default;
};

struct Incident {
  std::string id;    // readable, per site and year: "<site>-<year>-<4+ digits>", e.g. "grif-2026-0007"
  std::string uuid;  // RFC 4122 version 4, lower case
  std::string title;
  std::string summary;
  State state = State::kSuspected;
  Severity severity = Severity::kMedium;
  Tlp tlp = Tlp::kAmber;
  std::vector<std::string> sites;  // sites involved; the first is the one that opened it
  std::string coordinator;         // who runs it (a name or e-mail address)
  Sec01Times times;
  std::vector<EgiRequest> requests;  // kept from the timeline by apply_entry()
  std::string merged_into;  // state merged: the incident id it was merged into
  uint64_t created_ns = 0;
  uint64_t updated_ns = 0;
  uint64_t version = 1;  // +1 at every change: the ETag of optimistic concurrency
  bool operator==(const Incident&) const = default;
};

// Why a state change was refused.
struct TransitionError {
  enum class Code : uint8_t {
    kNotAllowed,  // not a move of the state machine (HTTP 409)
    kBadRequest,  // no reason, or merged without a target (HTTP 400)
  };
  Code code = Code::kNotAllowed;
  std::string message;
};

// Whether the state machine allows `from` → `to` (the same state is not a move).
bool transition_allowed(State from, State to);

// Moves `incident` to `to` at `now_ns` for `reason`: sets the SEC01 time the
// new state marks when not already set (reported_ns on reported,
// contained_ns on contained, resolved_ns on resolved, closed_ns on closed),
// and merged_into for merged. `incident` is unchanged on error. The caller
// records the move in the timeline, with the reason.
protocol::Result<void, TransitionError> transition(Incident& incident, State to,
                                                   std::string_view reason, uint64_t now_ns,
                                                   std::string_view merged_into = {});

// The readable id of the `number`-th incident of `site` in `year`:
// "<site>-<year>-<number, 4 digits at least>", the site lower-cased and
// anything but [a-z0-9] turned into '-'.
std::string incident_id(std::string_view site, int year, uint64_t number);

// A random RFC 4122 version 4 UUID (getrandom(2)), lower case.
std::string new_uuid();

}  // namespace vigie::csirt
