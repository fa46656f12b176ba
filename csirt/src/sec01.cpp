#include "vigie/csirt/sec01.h"

#include <date/tz.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <stdexcept>

namespace vigie::csirt {

using protocol::fail;
using std::chrono::nanoseconds;
using SysNs = date::sys_time<nanoseconds>;
using LocalNs = date::local_time<nanoseconds>;

namespace {

const date::time_zone* zone_of(const std::string& name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    throw std::invalid_argument("unknown time zone '" + name + "'");
  }
}

std::optional<date::local_days> parse_date(const std::string& text) {
  int y = 0;
  unsigned m = 0, d = 0;
  char tail = 0;
  if (text.size() != 10 || std::sscanf(text.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &tail) != 3)
    return std::nullopt;
  const date::year_month_day ymd{date::year{y}, date::month{m}, date::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return date::local_days{ymd};
}

SysNs to_sys(const date::time_zone* zone, LocalNs local) {
  // A local time skipped by a daylight-saving change maps to the change itself.
  return zone->to_sys(local, date::choose::earliest);
}

SysNs sys_ns(uint64_t ns) { return SysNs{nanoseconds{static_cast<int64_t>(ns)}}; }
uint64_t to_ns(SysNs t) { return static_cast<uint64_t>(t.time_since_epoch().count()); }

}  // namespace

protocol::Result<void> check(const WorkingCalendar& calendar) {
  try {
    zone_of(calendar.time_zone);
  } catch (const std::invalid_argument& e) {
    return fail(e.what());
  }
  if (calendar.start_hour < 0 || calendar.end_hour > 24 || calendar.start_hour >= calendar.end_hour)
    return fail("working hours must satisfy 0 <= start < end <= 24, got " +
                std::to_string(calendar.start_hour) + "-" + std::to_string(calendar.end_hour));
  if (calendar.weekdays.empty()) return fail("a calendar needs at least one working day");
  for (int day : calendar.weekdays) {
    if (day < 1 || day > 7)
      return fail("working days are ISO weekdays 1 (Monday) to 7 (Sunday), got " +
                  std::to_string(day));
  }
  for (const std::string& holiday : calendar.holidays) {
    if (!parse_date(holiday)) return fail("a holiday is a date YYYY-MM-DD, got '" + holiday + "'");
  }
  return {};
}

uint64_t add_working_hours(const WorkingCalendar& calendar, uint64_t start_ns, int hours) {
  if (auto checked = check(calendar); !checked) throw std::invalid_argument(checked.error());
  const date::time_zone* zone = zone_of(calendar.time_zone);
  std::set<date::local_days> holidays;
  for (const std::string& holiday : calendar.holidays) holidays.insert(*parse_date(holiday));
  nanoseconds remaining = std::chrono::hours(std::max(hours, 0));
  SysNs t = sys_ns(start_ns);
  // A calendar has a working day every week; 4 working hours never need
  // more than a few weeks, unless holidays cover years.
  for (int day = 0; day < 3660; ++day) {
    const auto local = zone->to_local(t);
    const auto today = date::floor<date::days>(local);
    const unsigned iso = date::weekday{today}.iso_encoding();
    const bool working =
        std::find(calendar.weekdays.begin(), calendar.weekdays.end(), static_cast<int>(iso)) !=
            calendar.weekdays.end() &&
        holidays.count(today) == 0;
    if (working) {
      const SysNs open = to_sys(zone, LocalNs{today} + std::chrono::hours(calendar.start_hour));
      const SysNs close = to_sys(zone, LocalNs{today} + std::chrono::hours(calendar.end_hour));
      if (t < open) t = open;
      if (t < close) {
        if (remaining <= close - t) return to_ns(t + remaining);
        remaining -= close - t;
      }
    }
    t = to_sys(zone, LocalNs{today + date::days{1}});
  }
  throw std::invalid_argument("the calendar has no working hour in ten years");
}

uint64_t add_months(const std::string& time_zone, uint64_t start_ns, int months) {
  const date::time_zone* zone = zone_of(time_zone);
  const auto local = zone->to_local(sys_ns(start_ns));
  const auto day = date::floor<date::days>(local);
  const auto time_of_day = local - day;
  const date::year_month_day ymd{day};
  const date::year_month month = date::year_month{ymd.year(), ymd.month()} + date::months{months};
  const date::day last = date::year_month_day_last{month.year(), date::month_day_last{month.month()}}.day();
  const date::year_month_day target{month.year(), month.month(), std::min(ymd.day(), last)};
  return to_ns(to_sys(zone, LocalNs{date::local_days{target}} + time_of_day));
}

std::string_view to_string(StepStatus status) {
  switch (status) {
    case StepStatus::kOk:
      return "ok";
    case StepStatus::kDueSoon:
      return "due_soon";
    case StepStatus::kOverdue:
      return "overdue";
    case StepStatus::kDone:
      break;
  }
  return "done";
}

std::vector<Step> sec01_steps(const Incident& incident, const WorkingCalendar& calendar,
                              uint64_t now_ns) {
  std::vector<Step> steps;
  if (incident.state == State::kFalsePositive || incident.state == State::kMerged) return steps;
  const bool open = is_open(incident.state);
  auto add = [&](std::string key, std::string title, int number, uint64_t started, uint64_t due,
                 uint64_t done, bool owed_after_close = false) {
    if (!open && done == 0 && !owed_after_close) return;
    Step step{std::move(key), std::move(title), number, started, due, done};
    if (done != 0) {
      step.status = StepStatus::kDone;
      step.late_ns = done > due ? done - due : 0;
    } else if (now_ns >= due) {
      step.status = StepStatus::kOverdue;
    } else if (due - now_ns <= (due - started) / 4) {
      step.status = StepStatus::kDueSoon;
    }
    steps.push_back(std::move(step));
  };
  const auto ns = [](auto duration) {
    return static_cast<uint64_t>(std::chrono::duration_cast<nanoseconds>(duration).count());
  };
  const Sec01Times& t = incident.times;
  if (t.discovered_ns != 0) {
    add("report", "Report to EGI CSIRT (abuse@egi.eu)", 1, t.discovered_ns,
        t.discovered_ns + ns(kReportWithin), t.reported_ns);
    add("contain", "Contain and isolate, preserving evidence", 2, t.discovered_ns,
        t.discovered_ns + ns(kContainWithin), t.contained_ns);
  }
  if (t.isolated_ns != 0) {
    add("downtime", "Announce the downtime of isolated services", 4, t.isolated_ns,
        t.isolated_ns + ns(kDowntimeWithin), t.downtime_announced_ns);
  }
  std::vector<EgiRequest> by_time = incident.requests;
  std::stable_sort(by_time.begin(), by_time.end(), [](const EgiRequest& a, const EgiRequest& b) {
    return a.requested_ns < b.requested_ns;
  });
  for (const EgiRequest& request : by_time) {
    add("request:" + request.entry_id, "Answer the EGI CSIRT request", 5, request.requested_ns,
        add_working_hours(calendar, request.requested_ns, kRequestWorkingHours),
        request.answered_ns);
  }
  if (t.resolved_ns != 0) {
    add("closure_report", "Send the closure report (TLP:AMBER or RED)", 6, t.resolved_ns,
        add_months(calendar.time_zone, t.resolved_ns, kClosureReportMonths), t.closure_report_ns,
        true);
  }
  return steps;
}

protocol::Result<void> check_closure_report_tlp(Tlp tlp) {
  if (tlp == Tlp::kGreen || tlp == Tlp::kClear)
    return fail("SEC01 step 6: the closure report is sent as TLP:AMBER or TLP:RED, not TLP:" +
                std::string(to_string(tlp)));
  return {};
}

}  // namespace vigie::csirt
