#include "vigie/collector/csirt_config.h"

#include <yaml-cpp/yaml.h>

#include "vigie/config/yaml.h"

namespace vigie::collector {

using ::vigie::config::check_keys;
using ::vigie::config::fail;
using ::vigie::config::scalar;

CsirtConfig parse_csirt_config(const std::string& path, const YAML::Node& node) {
  CsirtConfig out;
  if (!node.IsDefined() || node.IsNull()) return out;
  check_keys(path, node, "csirt.",
             {"site", "check_interval_seconds", "calendar", "retrohunt", "feed_amber_peers",
              "identity_map"});
  if (node["site"]) out.site = scalar<std::string>(path, node["site"], "csirt.site");
  if (const auto interval = node["check_interval_seconds"]) {
    const double seconds = scalar<double>(path, interval, "csirt.check_interval_seconds");
    if (!(seconds > 0) || seconds > 86400)
      fail(path, interval, "'csirt.check_interval_seconds' must be in (0, 86400]");
    out.check_interval = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  }
  if (const auto calendar = node["calendar"]) {
    check_keys(path, calendar, "csirt.calendar.", {"time_zone", "hours", "weekdays", "holidays"});
    csirt::WorkingCalendar& c = out.calendar;
    if (calendar["time_zone"])
      c.time_zone = scalar<std::string>(path, calendar["time_zone"], "csirt.calendar.time_zone");
    if (const auto hours = calendar["hours"]) {
      if (!hours.IsSequence() || hours.size() != 2)
        fail(path, hours, "'csirt.calendar.hours' must be [start, end], e.g. [9, 17]");
      c.start_hour = scalar<int>(path, hours[0], "csirt.calendar.hours[0]");
      c.end_hour = scalar<int>(path, hours[1], "csirt.calendar.hours[1]");
    }
    if (const auto weekdays = calendar["weekdays"]) {
      if (!weekdays.IsSequence()) fail(path, weekdays, "'csirt.calendar.weekdays' must be a list");
      c.weekdays.clear();
      for (const auto& day : weekdays)
        c.weekdays.push_back(scalar<int>(path, day, "csirt.calendar.weekdays[]"));
    }
    if (const auto holidays = calendar["holidays"]) {
      if (!holidays.IsSequence()) fail(path, holidays, "'csirt.calendar.holidays' must be a list");
      for (const auto& day : holidays)
        c.holidays.push_back(scalar<std::string>(path, day, "csirt.calendar.holidays[]"));
    }
    if (auto checked = csirt::check(c); !checked)
      fail(path, calendar, "csirt.calendar: " + checked.error());
  }
  if (const auto retrohunt = node["retrohunt"]) {
    check_keys(path, retrohunt, "csirt.retrohunt.", {"max_rows_per_indicator", "max_queued"});
    if (const auto rows = retrohunt["max_rows_per_indicator"]) {
      out.max_rows_per_indicator =
          scalar<std::size_t>(path, rows, "csirt.retrohunt.max_rows_per_indicator");
      if (out.max_rows_per_indicator == 0 || out.max_rows_per_indicator > 100'000'000)
        fail(path, rows, "'csirt.retrohunt.max_rows_per_indicator' must be in [1, 100000000]");
    }
    if (const auto queued = retrohunt["max_queued"]) {
      out.max_queued_retrohunts = scalar<std::size_t>(path, queued, "csirt.retrohunt.max_queued");
      if (out.max_queued_retrohunts == 0 || out.max_queued_retrohunts > 1000)
        fail(path, queued, "'csirt.retrohunt.max_queued' must be in [1, 1000]");
    }
  }
  if (node["identity_map"])
    out.identity_map = scalar<std::string>(path, node["identity_map"], "csirt.identity_map");
  if (const auto peers = node["feed_amber_peers"]) {
    if (!peers.IsSequence()) fail(path, peers, "'csirt.feed_amber_peers' must be a list of token names");
    for (const auto& peer : peers)
      out.feed_amber_peers.push_back(scalar<std::string>(path, peer, "csirt.feed_amber_peers[]"));
  }
  return out;
}

}  // namespace vigie::collector
