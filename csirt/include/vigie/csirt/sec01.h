// The deadlines of the EGI CSIRT Security Incident Handling Procedure
// (SEC01; facts in ../shared/corpus/csirt/egi/sec01-facts.md, steps table):
//   step 1  report to EGI CSIRT         within 4 hours of discovery
//   step 2  contain                      within 1 day of discovery
//   step 4  announce downtime            within 1 day of isolation
//   step 5  answer an EGI CSIRT request  within 4 working hours of the request
//   step 6  send the closure report      within 1 month of resolution, as TLP
//           AMBER or RED (AMBER+STRICT is a form of AMBER)
// Pure: the caller passes the time ("now") and the calendar.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "vigie/csirt/incident.h"
#include "vigie/protocol/result.h"

namespace vigie::csirt {

inline constexpr std::chrono::hours kReportWithin{4};
inline constexpr std::chrono::hours kContainWithin{24};
inline constexpr std::chrono::hours kDowntimeWithin{24};
inline constexpr int kRequestWorkingHours = 4;
inline constexpr int kClosureReportMonths = 1;

// When the site works: the clock of step 5. Configured under
// `csirt.calendar` in the collector's file.
struct WorkingCalendar {
  std::string time_zone = "Europe/Paris";  // IANA name, read from the system's tzdata
  int start_hour = 9;                      // working hours [start_hour, end_hour) local time
  int end_hour = 17;
  std::vector<int> weekdays{1, 2, 3, 4, 5};  // ISO: 1 = Monday … 7 = Sunday
  std::vector<std::string> holidays;         // local dates "YYYY-MM-DD", no work all day
};

// Checks a calendar: a known time zone, 0 <= start_hour < end_hour <= 24,
// weekdays in 1..7 and at least one, holidays as YYYY-MM-DD dates.
protocol::Result<void> check(const WorkingCalendar& calendar);

// The instant `hours` working hours after `start_ns` under `calendar`: the
// time counts only inside working hours of working days that are not
// holidays, in the calendar's time zone (daylight saving included). A
// request made outside working hours starts counting at the next opening.
// Throws std::invalid_argument for a calendar check() refuses.
uint64_t add_working_hours(const WorkingCalendar& calendar, uint64_t start_ns, int hours);

// `months` calendar months after `start_ns`, same local time of day in
// `time_zone`; the day clamped to the month's last (31 January + 1 month =
// 28 February, 29 in a leap year). Throws std::invalid_argument for an
// unknown time zone.
uint64_t add_months(const std::string& time_zone, uint64_t start_ns, int months);

enum class StepStatus : uint8_t {
  kOk,       // open, not due soon
  kDueSoon,  // open, less than a quarter of the step's allowed time left
  kOverdue,  // open, past due
  kDone,     // done (on time or not: late_ns says)
};
std::string_view to_string(StepStatus status);  // "ok", "due_soon", "overdue", "done"

// One clock of one incident.
struct Step {
  std::string key;    // "report", "contain", "downtime", "request:<entry id>", "closure_report"
  std::string title;  // for people: "Report to EGI CSIRT (abuse@egi.eu)"
  int sec01_step = 0; // the SEC01 steps table's number
  uint64_t started_ns = 0;  // what the clock counts from
  uint64_t due_ns = 0;
  uint64_t done_ns = 0;     // 0 while open
  StepStatus status = StepStatus::kOk;
  uint64_t late_ns = 0;     // done after due: by how much
};

// Every clock of `incident` as of `now_ns`, in SEC01 step order (its
// requests by time). A clock appears once it has started: report and
// contain with discovered_ns, downtime with isolated_ns, one per request,
// closure_report with resolved_ns. An incident that is no longer open stops
// its clocks: its open steps are left out, except closure_report, still
// owed after close. A false positive or a merged incident owes nothing.
std::vector<Step> sec01_steps(const Incident& incident, const WorkingCalendar& calendar,
                              uint64_t now_ns);

// The closure report's marking: TLP:AMBER, AMBER+STRICT or RED (SEC01 step
// 6); an error saying so for CLEAR or GREEN.
protocol::Result<void> check_closure_report_tlp(Tlp tlp);

}  // namespace vigie::csirt
