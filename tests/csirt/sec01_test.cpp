#include "vigie/csirt/sec01.h"

#include <gtest/gtest.h>

#include <ctime>

namespace vigie::csirt {
namespace {

// "2025-03-04T10:05:00Z" → ns.
uint64_t utc(const char* text) {
  std::tm tm{};
  EXPECT_NE(strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm), nullptr) << text;
  return static_cast<uint64_t>(timegm(&tm)) * 1'000'000'000ull;
}

const Step* find(const std::vector<Step>& steps, const std::string& key) {
  for (const Step& step : steps) {
    if (step.key == key) return &step;
  }
  return nullptr;
}

TEST(Sec01, ReportWithinFourHoursAndContainWithinOneDayOfDiscovery) {
  Incident incident;
  incident.times.discovered_ns = utc("2025-03-04T10:05:00Z");
  const auto steps = sec01_steps(incident, WorkingCalendar{}, utc("2025-03-04T10:06:00Z"));
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].key, "report");
  EXPECT_EQ(steps[0].sec01_step, 1);
  EXPECT_EQ(steps[0].due_ns, utc("2025-03-04T14:05:00Z"));
  EXPECT_EQ(steps[1].key, "contain");
  EXPECT_EQ(steps[1].due_ns, utc("2025-03-05T10:05:00Z"));
  EXPECT_EQ(steps[0].status, StepStatus::kOk);
}

TEST(Sec01, StatusOkDueSoonOverdueAndDoneWithLateness) {
  Incident incident;
  incident.times.discovered_ns = utc("2025-03-04T10:05:00Z");
  auto report = [&](const char* now) {
    return *find(sec01_steps(incident, WorkingCalendar{}, utc(now)), "report");
  };
  EXPECT_EQ(report("2025-03-04T13:04:00Z").status, StepStatus::kOk);       // 61 min left of 240
  EXPECT_EQ(report("2025-03-04T13:05:00Z").status, StepStatus::kDueSoon);  // a quarter left
  EXPECT_EQ(report("2025-03-04T14:05:00Z").status, StepStatus::kOverdue);
  incident.times.reported_ns = utc("2025-03-04T15:05:00Z");
  const Step done = report("2025-03-05T00:00:00Z");
  EXPECT_EQ(done.status, StepStatus::kDone);
  EXPECT_EQ(done.late_ns, 3600'000'000'000ull);
}

TEST(Sec01, EgiRequestOnFridayAfternoonIsDueMondayNoonInParis) {
  WorkingCalendar calendar;  // Europe/Paris, 09-17, Monday to Friday
  // Friday 2025-03-07 16:00 in Paris is 15:00Z (CET, UTC+1).
  const uint64_t friday = utc("2025-03-07T15:00:00Z");
  EXPECT_EQ(add_working_hours(calendar, friday, 4), utc("2025-03-10T11:00:00Z"));  // Mon 12:00 CET

  Incident incident;
  incident.times.discovered_ns = friday;
  incident.requests = {{"e1", friday, 0}};
  const auto steps = sec01_steps(incident, calendar, friday);
  const Step* request = find(steps, "request:e1");
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(request->sec01_step, 5);
  EXPECT_EQ(request->due_ns, utc("2025-03-10T11:00:00Z"));
}

TEST(Sec01, WorkingHoursSkipHolidaysStartAtOpeningAndFollowDaylightSaving) {
  WorkingCalendar calendar;
  calendar.holidays = {"2025-03-10"};
  // Friday 16:00 → 1 h on Friday, Monday is a holiday, 3 h on Tuesday: 12:00 CET.
  EXPECT_EQ(add_working_hours(calendar, utc("2025-03-07T15:00:00Z"), 4),
            utc("2025-03-11T11:00:00Z"));
  // Saturday night: counting starts Monday 09:00.
  calendar.holidays.clear();
  EXPECT_EQ(add_working_hours(calendar, utc("2025-03-08T22:00:00Z"), 4),
            utc("2025-03-10T12:00:00Z"));  // Mon 13:00 CET
  // Across the change to summer time (Sunday 2025-03-30): Friday 16:00 CET
  // → Monday 12:00 CEST = 10:00Z.
  EXPECT_EQ(add_working_hours(calendar, utc("2025-03-28T15:00:00Z"), 4),
            utc("2025-03-31T10:00:00Z"));
  // Another zone and hours: New York 08-18, a request at 17:00 EST.
  WorkingCalendar ny{"America/New_York", 8, 18, {1, 2, 3, 4, 5}, {}};
  EXPECT_EQ(add_working_hours(ny, utc("2025-01-14T22:00:00Z"), 4),  // Tue 17:00 EST
            utc("2025-01-15T16:00:00Z"));                           // Wed 11:00 EST
}

TEST(Sec01, CalendarsAreChecked) {
  EXPECT_TRUE(check(WorkingCalendar{}));
  EXPECT_FALSE(check(WorkingCalendar{"Mars/Olympus", 9, 17, {1}, {}}));
  EXPECT_FALSE(check(WorkingCalendar{"UTC", 17, 9, {1}, {}}));
  EXPECT_FALSE(check(WorkingCalendar{"UTC", 9, 17, {}, {}}));
  EXPECT_FALSE(check(WorkingCalendar{"UTC", 9, 17, {8}, {}}));
  EXPECT_FALSE(check(WorkingCalendar{"UTC", 9, 17, {1}, {"2025-02-30"}}));
  EXPECT_THROW(add_working_hours(WorkingCalendar{"UTC", 9, 17, {}, {}}, 0, 4),
               std::invalid_argument);
}

TEST(Sec01, ClosureReportDueOneMonthAfterResolutionClampedToTheMonthsEnd) {
  // Resolved 31 January 10:00 Paris → due 28 February (29 in a leap year), same local time.
  EXPECT_EQ(add_months("Europe/Paris", utc("2025-01-31T09:00:00Z"), 1),
            utc("2025-02-28T09:00:00Z"));
  EXPECT_EQ(add_months("Europe/Paris", utc("2024-01-31T09:00:00Z"), 1),
            utc("2024-02-29T09:00:00Z"));
  EXPECT_EQ(add_months("Europe/Paris", utc("2025-03-15T09:00:00Z"), 1),
            utc("2025-04-15T08:00:00Z"));  // 10:00 CET → 10:00 CEST

  Incident incident;
  incident.state = State::kClosed;
  incident.times.discovered_ns = utc("2025-01-20T09:00:00Z");
  incident.times.reported_ns = utc("2025-01-20T10:00:00Z");
  incident.times.resolved_ns = utc("2025-01-31T09:00:00Z");
  const auto steps = sec01_steps(incident, WorkingCalendar{}, utc("2025-03-01T00:00:00Z"));
  const Step* closure = find(steps, "closure_report");
  ASSERT_NE(closure, nullptr);
  EXPECT_EQ(closure->sec01_step, 6);
  EXPECT_EQ(closure->due_ns, utc("2025-02-28T09:00:00Z"));
  EXPECT_EQ(closure->status, StepStatus::kOverdue);  // still owed once closed
  EXPECT_NE(find(steps, "report"), nullptr);         // done steps stay
  EXPECT_EQ(find(steps, "contain"), nullptr);        // open steps stop at close
}

TEST(Sec01, DowntimeClockStartsAtIsolation) {
  Incident incident;
  incident.times.discovered_ns = utc("2025-03-04T10:05:00Z");
  EXPECT_EQ(find(sec01_steps(incident, {}, utc("2025-03-04T11:00:00Z")), "downtime"), nullptr);
  incident.times.isolated_ns = utc("2025-03-04T12:00:00Z");
  const auto steps = sec01_steps(incident, {}, utc("2025-03-04T13:00:00Z"));
  const Step* downtime = find(steps, "downtime");
  ASSERT_NE(downtime, nullptr);
  EXPECT_EQ(downtime->due_ns, utc("2025-03-05T12:00:00Z"));
}

TEST(Sec01, FalsePositiveOrMergedOwesNothing) {
  Incident incident;
  incident.times.discovered_ns = utc("2025-03-04T10:05:00Z");
  incident.state = State::kFalsePositive;
  EXPECT_TRUE(sec01_steps(incident, {}, utc("2025-04-01T00:00:00Z")).empty());
  incident.state = State::kMerged;
  EXPECT_TRUE(sec01_steps(incident, {}, utc("2025-04-01T00:00:00Z")).empty());
}

TEST(Sec01, ClosureReportOnlyAsAmberOrRed) {
  EXPECT_TRUE(check_closure_report_tlp(Tlp::kAmber));
  EXPECT_TRUE(check_closure_report_tlp(Tlp::kAmberStrict));
  EXPECT_TRUE(check_closure_report_tlp(Tlp::kRed));
  const auto green = check_closure_report_tlp(Tlp::kGreen);
  ASSERT_FALSE(green);
  EXPECT_NE(green.error().find("TLP:green"), std::string::npos);
  EXPECT_FALSE(check_closure_report_tlp(Tlp::kClear));
}

}  // namespace
}  // namespace vigie::csirt
