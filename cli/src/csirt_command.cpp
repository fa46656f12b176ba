#include "csirt_command.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "format.h"
#include "table.h"
#include "vigie/csirt/ban.h"
#include "vigie/protocol/event.h"
#include "vigie/protocol/http_client.h"

namespace vigie::cli {

using nlohmann::json;

namespace {

// The arguments of every CSIRT command; each command reads its own.
struct Values {
  std::string id;    // the incident, or the indicator of `ioc sightings`
  std::string file;    // `ioc import`, `csirt import`
  std::string format;  // `csirt import`, `incident export`
  std::string output;  // `incident export`
  bool local = false;  // `incident export`
  // `ban`
  std::string issuer, expires, identity_map, undo_output;
  std::vector<std::string> actions;
  bool ack = false;
  std::string title, summary, severity, tlp, coordinator, discovered;
  std::vector<std::string> sites;
  std::vector<int64_t> alerts;
  bool all = false;
  std::string state_filter;
  unsigned limit = 100;
  std::string text, kind = "note", answers, occurred;
  bool closure_report = false;
  std::string new_state, reason, merged_into;
  std::string type, value, role, source, comment, valid_until;
  std::vector<std::string> tags;
  bool no_ids = false, deleted = false;
  std::vector<std::string> uuids;
  std::string since = "7d";
  bool wait = false;

  // The TLP given, as the API names it (checked while parsing).
  std::string tlp_label() const;
};

// What a command runs with.
struct Context {
  const Api& api;
  bool json = false;
  std::chrono::seconds timeout;
  uint64_t now_ns = 0;
  std::ostream& out;
};

constexpr uint64_t kSecondNs = 1'000'000'000ull;
constexpr uint64_t kMinuteNs = 60 * kSecondNs;
constexpr std::chrono::milliseconds kPollInterval{500};
constexpr std::size_t kMaxTitleBytes = 256;      // csirt/json.h kMaxShortBytes
constexpr std::size_t kMaxTextBytes = 64 << 10;  // csirt/json.h kMaxTextBytes
constexpr std::size_t kMaxRetrohuntIndicators = 1000;

// The names the API takes (csirt/tlp.h, incident.h, timeline.h, indicator.h).
constexpr std::array<std::string_view, 5> kTlps = {"red", "amber+strict", "amber", "green",
                                                   "clear"};
constexpr std::array<std::string_view, 4> kSeverities = {"low", "medium", "high", "critical"};
constexpr std::array<std::string_view, 8> kStates = {"suspected",      "reported", "contained",
                                                     "investigating",  "resolved", "closed",
                                                     "false_positive", "merged"};
// Those a person writes; alert, sighting and state_change entries are the collector's.
constexpr std::array<std::string_view, 5> kEntryKinds = {"note", "action", "communication",
                                                         "egi_request", "report"};
constexpr std::array<std::string_view, 3> kRoles = {"observed", "suspected", "related"};
constexpr std::array<std::string_view, 2> kFormats = {"misp", "stix"};
constexpr std::array<std::string_view, 6> kSubjectTypes = {"user", "x509-dn", "voms-fqan",
                                                           "oidc", "ssh-key", "ip"};
constexpr std::array<std::string_view, 4> kActions = {"deny-login", "deny-submit", "deny-network",
                                                      "detect"};
constexpr std::array<std::string_view, 5> kRenderFormats = {"argus", "lcmaps", "slurm", "sshd",
                                                            "nftables"};
// Vigie's observable types, then the MISP attribute types that map to them.
constexpr std::array<std::string_view, 11> kIndicatorTypes = {
    "ip",     "domain",      "sha256",      "filename", "user",       "ip-dst",
    "ip-src", "ip-dst|port", "ip-src|port", "hostname", "target-user"};

template <std::size_t N>
std::string joined(const std::array<std::string_view, N>& names) {
  std::string out;
  for (const auto name : names) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

template <std::size_t N>
std::function<std::string(const std::string&)> one_of(
    const char* what, const std::array<std::string_view, N>& names) {
  return [what, &names](const std::string& value) -> std::string {
    if (std::find(names.begin(), names.end(), value) != names.end()) return {};
    return std::string(what) + " is one of " + joined(names) + ", not '" + value + "'";
  };
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// A TLP 2.0 label as the API names it, from "amber", "AMBER+STRICT",
// "TLP:GREEN" or "tlp.clear"; TLP 1.0's "white" is taken as its 2.0 successor CLEAR.
std::optional<std::string> tlp_name(const std::string& text) {
  std::string name = lower(text);
  if (name.rfind("tlp:", 0) == 0 || name.rfind("tlp.", 0) == 0) name.erase(0, 4);
  if (name == "white") name = "clear";
  if (std::find(kTlps.begin(), kTlps.end(), name) == kTlps.end()) return std::nullopt;
  return name;
}

// A time given on the command line: ns since the Unix epoch ("1714572187000000000"),
// or RFC 3339 ("2024-05-01T14:03:07Z", "2024-05-01T16:03:07.25+02:00").
std::optional<uint64_t> parse_time_ns(const std::string& text) {
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 20) return std::nullopt;
    try {
      return std::stoull(text);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  auto digits = [&](std::size_t at, std::size_t count, int& value) {
    if (at + count > text.size()) return false;
    value = 0;
    for (std::size_t i = at; i < at + count; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
      value = value * 10 + (text[i] - '0');
    }
    return true;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 20 || !digits(0, 4, year) || text[4] != '-' || !digits(5, 2, month) ||
      text[7] != '-' || !digits(8, 2, day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !digits(11, 2, hour) ||
      text[13] != ':' || !digits(14, 2, minute) || text[16] != ':' || !digits(17, 2, second)) {
    return std::nullopt;
  }
  std::size_t at = 19;
  uint64_t fraction_ns = 0;
  if (text[at] == '.') {
    uint64_t scale = 100'000'000;
    std::size_t end = ++at;
    for (; end < text.size() && std::isdigit(static_cast<unsigned char>(text[end])); ++end) {
      fraction_ns += static_cast<uint64_t>(text[end] - '0') * scale;
      scale /= 10;
    }
    if (end == at) return std::nullopt;
    at = end;
  }
  int64_t offset_s = 0;
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z') && at + 1 == text.size()) {
    offset_s = 0;
  } else if (at + 6 == text.size() && (text[at] == '+' || text[at] == '-') && text[at + 3] == ':') {
    int offset_hour = 0, offset_minute = 0;
    if (!digits(at + 1, 2, offset_hour) || !digits(at + 4, 2, offset_minute) || offset_hour > 23 ||
        offset_minute > 59) {
      return std::nullopt;
    }
    offset_s = (text[at] == '-' ? -1 : 1) * (offset_hour * 3600 + offset_minute * 60);
  } else {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1] ||
      (month == 2 && day == 29 && !leap) || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;  // 60, a leap second, counts as the next second's start (POSIX time)
  const int64_t seconds = static_cast<int64_t>(::timegm(&tm)) - offset_s;
  if (seconds < 0 || static_cast<uint64_t>(seconds) > UINT64_MAX / kSecondNs - 1)
    return std::nullopt;
  return static_cast<uint64_t>(seconds) * kSecondNs + fraction_ns;
}

std::string check_time(const std::string& text) {
  if (parse_time_ns(text)) return {};
  return "a time is RFC 3339 (2026-05-01T14:03:07Z, 2026-05-01T16:03:07.5+02:00) or ns since "
         "the Unix epoch, not '" +
         text + "'";
}

// Incident ids are "<site>-<year>-<number>" or a uuid: they go into paths unescaped.
std::string check_incident_id(const std::string& id) {
  if (!id.empty() && id.size() <= kMaxTitleBytes && std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      }))
    return {};
  return "an incident is named by its id (grif-2026-0007) or its uuid, not '" + id + "'";
}

// Stored alert ids (GET /api/v1/alerts "id") are positive 64-bit integers.
std::string check_alert_id(const std::string& id) {
  if (!id.empty() && id.size() <= 18 && id.find_first_not_of("0123456789") == std::string::npos &&
      id.find_first_not_of('0') != std::string::npos)
    return {};
  return "an alert id is a positive integer (the \"id\" of `vigie alerts --json`), not '" + id +
         "'";
}

std::string check_uuid(const std::string& uuid) {
  bool ok = uuid.size() == 36;
  for (std::size_t i = 0; ok && i < uuid.size(); ++i) {
    ok = (i == 8 || i == 13 || i == 18 || i == 23)
             ? uuid[i] == '-'
             : std::isxdigit(static_cast<unsigned char>(uuid[i])) != 0;
  }
  return ok ? std::string() : "a uuid is 36 characters, 8-4-4-4-12 hex digits, not '" + uuid + "'";
}

// Titles, indicator values: 1 to 256 bytes.
std::function<std::string(const std::string&)> short_text(const char* what) {
  return [what](const std::string& value) -> std::string {
    if (!value.empty() && value.size() <= kMaxTitleBytes) return {};
    return std::string(what) + " is 1 to " + std::to_string(kMaxTitleBytes) + " bytes";
  };
}

std::string check_text(const std::string& text) {
  if (!text.empty() && text.size() <= kMaxTextBytes) return {};
  return "a text is 1 to " + std::to_string(kMaxTextBytes) + " bytes";
}

// Fields read leniently: a missing or null member reads as empty or 0.
const json& member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  const auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// A string, or a number (ids are either) as text; "" otherwise.
std::string text(const json& object, const char* key) {
  const json& value = member(object, key);
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number()) return value.dump();
  return {};
}

uint64_t ns(const json& object, const char* key) {
  const json& value = member(object, key);
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() > 0) return value.get<uint64_t>();
  return 0;
}

double number(const json& object, const char* key) {
  const json& value = member(object, key);
  return value.is_number() ? value.get<double>() : 0;
}

bool flag(const json& object, const char* key) {
  const json& value = member(object, key);
  return value.is_boolean() && value.get<bool>();
}

// The strings of a list member, comma separated; `none` when there are none.
std::string list(const json& object, const char* key, const std::string& none = "") {
  std::string out;
  for (const auto& item : member(object, key)) {
    const std::string value = item.is_string() ? item.get<std::string>() : item.dump();
    out += (out.empty() ? "" : ", ") + value;
  }
  return out.empty() ? none : out;
}

// local_time(), "-" for 0 (not yet).
std::string time_or_dash(uint64_t time_ns) { return time_ns == 0 ? "-" : local_time(time_ns); }

std::string fixed(double value, int decimals) {
  char out[64];
  std::snprintf(out, sizeof out, "%.*f", decimals, value);
  return out;
}

std::string energy(double joules) {
  return joules < 360'000 ? fixed(joules, joules < 10 ? 2 : 0) + " J"
                          : fixed(joules / 3.6e6, 3) + " kWh";
}

std::string grams(double g) {
  return g >= 1000 ? fixed(g / 1000, 2) + " kgCO2e" : fixed(g, 1) + " gCO2e";
}

// A time span to read at a glance: "45m", "3h12m", "2d04h"; "<1m" under a minute.
std::string span(uint64_t span_ns) {
  const uint64_t minutes = span_ns / kMinuteNs;
  char out[48];
  if (minutes == 0) return "<1m";
  if (minutes >= 24 * 60) {
    std::snprintf(out, sizeof out, "%llud%02lluh",
                  static_cast<unsigned long long>(minutes / (24 * 60)),
                  static_cast<unsigned long long>(minutes / 60 % 24));
  } else if (minutes >= 60) {
    std::snprintf(out, sizeof out, "%lluh%02llum", static_cast<unsigned long long>(minutes / 60),
                  static_cast<unsigned long long>(minutes % 60));
  } else {
    std::snprintf(out, sizeof out, "%llum", static_cast<unsigned long long>(minutes));
  }
  return out;
}

// "in 3h12m" or "OVERDUE by 2h05m", as of `now_ns`; "" when the step has no due time.
std::string due_text(uint64_t due_ns, uint64_t now_ns) {
  if (due_ns == 0) return {};
  return due_ns > now_ns ? "in " + span(due_ns - now_ns) : "OVERDUE by " + span(now_ns - due_ns);
}

// An incident's next SEC01 deadline: "Report to EGI CSIRT (abuse@egi.eu) in 3h12m"; "-" for none.
std::string next_deadline(const json& step, uint64_t now_ns) {
  if (!step.is_object()) return "-";
  const std::string due = due_text(ns(step, "due_ns"), now_ns);
  return text(step, "title") + (due.empty() ? "" : " " + due);
}

// A clock's status: "in 3h12m", "due soon, in 40m", "OVERDUE by 2h05m", "done", "done, 1h05m late".
std::string clock_status(const json& step, uint64_t now_ns) {
  std::string status = text(step, "status");
  if (status == "done") {
    const uint64_t late_ns = ns(step, "late_ns");
    return late_ns ? "done, " + span(late_ns) + " late" : "done";
  }
  const std::string due = due_text(ns(step, "due_ns"), now_ns);
  if (due.empty()) return status;
  return status == "due_soon" && due.rfind("in ", 0) == 0 ? "due soon, " + due : due;
}

// A workload as the sightings and the timeline show it: the Slurm job id for
// slurm_job, else kind:id.
std::string job_text(const json& workload) {
  std::string kind = text(workload, "kind"), id = text(workload, "id");
  if (kind == "slurm_job") return id;
  if (kind.empty() || id.empty()) return kind;
  return kind + ":" + id;
}

void print_json(const json& body, std::ostream& out) {
  out << body.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
}

void print_fact(const char* label, const std::string& value, std::ostream& out) {
  char padded[32];
  std::snprintf(padded, sizeof padded, "  %-20s", label);
  out << padded << printable(value) << '\n';
}

void print_facts(const json& incident, std::ostream& out) {
  out << "Incident " << printable(text(incident, "id")) << ": "
      << printable(text(incident, "title")) << '\n';
  print_fact("uuid", text(incident, "uuid"), out);
  print_fact("state", text(incident, "state"), out);
  if (!text(incident, "merged_into").empty())
    print_fact("merged into", text(incident, "merged_into"), out);
  print_fact("severity", text(incident, "severity"), out);
  print_fact("TLP", "TLP:" + upper(text(incident, "tlp")), out);
  print_fact("sites", list(incident, "sites", "-"), out);
  print_fact("coordinator",
             text(incident, "coordinator").empty() ? "-" : text(incident, "coordinator"), out);
  static constexpr std::pair<const char*, const char*> kTimes[] = {
      {"discovered", "discovered_ns"},
      {"reported", "reported_ns"},
      {"contained", "contained_ns"},
      {"isolated", "isolated_ns"},
      {"downtime announced", "downtime_announced_ns"},
      {"resolved", "resolved_ns"},
      {"closure report", "closure_report_ns"},
      {"closed", "closed_ns"}};
  for (const auto& [label, key] : kTimes) {
    if (ns(incident, key) != 0) print_fact(label, time_or_dash(ns(incident, key)), out);
  }
  print_fact("created", time_or_dash(ns(incident, "created_ns")), out);
  print_fact(
      "updated",
      time_or_dash(ns(incident, "updated_ns")) + " (version " + text(incident, "version") + ")", out);
  const std::string summary = text(incident, "summary");
  if (!summary.empty()) {
    out << "\n";
    std::size_t start = 0;
    while (start <= summary.size()) {
      const std::size_t end = std::min(summary.find('\n', start), summary.size());
      out << "  " << printable(summary.substr(start, end - start)) << '\n';
      start = end + 1;
    }
  }
}

void print_clocks(const json& incident, uint64_t now_ns, std::ostream& out) {
  out << "\nSEC01 clocks\n";
  Table table({"STEP", "CLOCK", "STATUS", "DUE", "DONE"});
  for (const auto& step : member(incident, "sec01")) {
    std::string title = text(step, "title");
    // A request's clock names its timeline entry: `note --answers` wants it.
    if (const std::string key = text(step, "key"); key.rfind("request:", 0) == 0)
      title += " (" + key.substr(8) + ")";
    table.add({text(step, "sec01_step"), title, clock_status(step, now_ns),
               time_or_dash(ns(step, "due_ns")), time_or_dash(ns(step, "done_ns"))});
  }
  table.print(out, "no clock running");
}

void print_timeline(const json& timeline, std::ostream& out) {
  out << "\nTimeline\n";
  Table table({"TIME", "KIND", "AUTHOR", "TLP", "TEXT"});
  for (const auto& entry : member(timeline, "timeline")) {
    std::string marks;
    if (text(entry, "kind") == "egi_request") marks += "[request " + text(entry, "id") + "] ";
    if (flag(entry, "closure_report")) marks += "[closure report] ";
    if (!text(entry, "answers").empty()) marks += "[answers " + text(entry, "answers") + "] ";
    if (!text(entry, "corrects").empty()) marks += "[corrects " + text(entry, "corrects") + "] ";
    table.add({time_or_dash(ns(entry, "occurred_ns")), text(entry, "kind"), text(entry, "author"),
               upper(text(entry, "tlp")), marks + text(entry, "text")});
    // An alert entry: what each alert saw, a row each for its rule, where and what ran.
    for (const auto& alert : member(entry, "alerts")) {
      const json& workload = member(alert, "workload");
      std::string where = "host " + text(alert, "host") + ", user " + text(alert, "user");
      if (const std::string job = job_text(workload); !job.empty()) {
        where += text(workload, "kind") == "slurm_job" ? ", job " + job : ", " + job;
      }
      const std::string command_line =
          text(alert, "command_line").empty() ? text(alert, "image") : text(alert, "command_line");
      table.add({"", "", "", "",
                 "  alert " + text(alert, "id") + " (" + text(alert, "level") + ") " +
                     text(alert, "rule_title")});
      table.add({"", "", "", "", "    " + where});
      table.add({"", "", "", "", "    " + command_line});
    }
  }
  table.print(out, "no timeline entries");
}

void print_incidents(const json& body, uint64_t now_ns, std::ostream& out) {
  Table table({"ID", "STATE", "SEVERITY", "TLP", "TITLE", "NEXT DEADLINE"});
  for (const auto& incident : body.at("incidents")) {
    table.add({text(incident, "id"), text(incident, "state"), text(incident, "severity"),
               upper(text(incident, "tlp")), text(incident, "title"),
               next_deadline(member(incident, "next_deadline"), now_ns)});
  }
  table.print(out, "no incidents");
}

void print_indicators(const json& indicators, bool linked, uint64_t now_ns, std::ostream& out) {
  std::vector<std::string> header = {"UUID", "TYPE", "VALUE", "TLP", "IDS", "SOURCE", "LAST SEEN"};
  if (linked) header.insert(header.begin() + 3, "ROLE");
  header.push_back("TAGS");
  header.push_back("");
  Table table(header);
  for (const auto& indicator : indicators) {
    const uint64_t valid_until_ns = ns(indicator, "valid_until_ns");
    std::string state = flag(indicator, "deleted")                        ? "deleted"
                        : valid_until_ns != 0 && valid_until_ns <= now_ns ? "expired"
                                                                          : "";
    std::vector<std::string> row = {
        text(indicator, "uuid"),
        text(indicator, "type"),
        text(indicator, "value"),
        upper(text(indicator, "tlp")),
        flag(indicator, "to_ids") ? "yes" : "no",
        text(indicator, "source"),
        ns(indicator, "last_seen_ns") ? time_or_dash(ns(indicator, "last_seen_ns")) : "never"};
    if (linked) row.insert(row.begin() + 3, text(indicator, "role"));
    row.push_back(list(indicator, "tags"));
    row.push_back(state);
    table.add(std::move(row));
  }
  table.print(out, "no indicators");
}

// A retro-hunt's state and, once done, what it read and found.
void print_retrohunt(const json& hunt, std::ostream& out) {
  const std::size_t count = member(hunt, "indicators").size();
  out << "Retro-hunt " << text(hunt, "id") << ": " << text(hunt, "state") << ", " << count
      << " indicator" << (count == 1 ? "" : "s") << " since " << time_or_dash(ns(hunt, "since_ns"))
      << '\n';
  const std::string state = text(hunt, "state");
  if (state == "done") {
    out << "  rows scanned  " << ns(hunt, "rows_scanned") << '\n'
        << "  sightings     " << ns(hunt, "sightings") << '\n'
        << "  truncated     "
        << (flag(hunt, "truncated") ? "yes: more matches than a retro-hunt keeps" : "no") << '\n';
  } else if (state == "failed") {
    out << "  error         " << printable(text(hunt, "error")) << '\n';
  }
}

void print_sightings(const json& body, std::ostream& out) {
  const json& indicator = member(body, "indicator");
  if (indicator.is_object()) {
    out << "Indicator " << printable(text(indicator, "type")) << ' '
        << printable(text(indicator, "value")) << " (TLP:" << upper(text(indicator, "tlp")) << ", "
        << printable(text(indicator, "uuid")) << ")\n";
  }
  Table table({"SITE", "HOST", "JOB", "USER", "FIRST", "LAST", "COUNT", "SOURCE"});
  for (const auto& sighting : body.at("sightings")) {
    table.add({text(sighting, "site"), text(sighting, "host"),
               job_text(member(sighting, "workload")), text(sighting, "user"),
               time_or_dash(ns(sighting, "first_ns")), time_or_dash(ns(sighting, "last_ns")),
               std::to_string(ns(sighting, "count")), text(sighting, "source")});
  }
  table.print(out, "no sightings");
}

void print_scope(const json& scope, std::ostream& out) {
  out << "Scope of incident " << printable(text(scope, "incident")) << '\n';
  print_fact("sites", list(scope, "sites", "-"), out);
  print_fact("hosts", list(scope, "hosts", "-"), out);
  print_fact("users", list(scope, "users", "-"), out);
  print_fact("accounts", list(scope, "accounts", "-"), out);
  out << '\n';
  Table table({"JOB", "USER", "ACCOUNT", "HOSTS", "ENERGY", "CARBON"});
  for (const auto& job : scope.at("jobs")) {
    table.add({text(job, "job_id") + (flag(job, "ended") ? "" : " (running)"), text(job, "user"),
               text(job, "account"), list(job, "hosts"), energy(number(job, "energy_joules")),
               grams(number(job, "carbon_gco2e"))});
  }
  table.print(out, "no jobs");
  out << "\nTotal: " << energy(number(scope, "energy_joules")) << ", "
      << grams(number(scope, "carbon_gco2e")) << '\n';
}

protocol::HttpRequest get(const std::string& target) {
  protocol::HttpRequest request;
  request.target = target;
  return request;
}

protocol::HttpRequest with_body(const char* method, const std::string& target, const json& body) {
  protocol::HttpRequest request;
  request.method = method;
  request.target = target;
  request.headers.emplace_back("Content-Type", "application/json");
  // Arguments that are not UTF-8 are sent with U+FFFD in their place, never refused.
  request.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return request;
}

std::string incident_path(const std::string& id) { return "/api/v1/csirt/incidents/" + id; }

// A time option's value, checked while parsing.
uint64_t time_ns(const std::string& time) { return parse_time_ns(time).value_or(0); }

std::string Values::tlp_label() const { return tlp_name(tlp).value_or(tlp); }

int create_incident(const Values& v, const Context& c) {
  json body = {{"title", v.title}};
  if (!v.summary.empty()) body["summary"] = v.summary;
  if (!v.severity.empty()) body["severity"] = v.severity;
  if (!v.tlp.empty()) body["tlp"] = v.tlp_label();
  if (!v.sites.empty()) body["sites"] = v.sites;
  if (!v.coordinator.empty()) body["coordinator"] = v.coordinator;
  if (!v.discovered.empty()) body["discovered_ns"] = time_ns(v.discovered);
  if (!v.alerts.empty()) body["alerts"] = v.alerts;
  const json incident = c.api(with_body("POST", "/api/v1/csirt/incidents", body), {}).body;
  if (c.json) {
    print_json(incident, c.out);
    return 0;
  }
  c.out << "Opened incident " << printable(text(incident, "id")) << ": "
        << printable(text(incident, "title")) << " (" << text(incident, "state") << ", "
        << text(incident, "severity") << ", TLP:" << upper(text(incident, "tlp")) << ")\n"
        << "  next deadline: "
        << printable(next_deadline(member(incident, "next_deadline"), c.now_ns)) << '\n';
  return 0;
}

int list_incidents(const Values& v, const Context& c) {
  // A state asked for is looked up among all incidents: closed ones are not open.
  const bool open_only = !v.all && v.state_filter.empty();
  const json body =
      c.api(get("/api/v1/csirt/incidents" + query({{"state", v.state_filter},
                                                   {"open", open_only ? "1" : ""},
                                                   {"limit", std::to_string(v.limit)}})),
            {})
          .body;
  if (c.json) {
    print_json(body, c.out);
  } else {
    print_incidents(body, c.now_ns, c.out);
  }
  return 0;
}

int show_incident(const Values& v, const Context& c) {
  const json incident = c.api(get(incident_path(v.id)), {}).body;
  const json timeline = c.api(get(incident_path(v.id) + "/timeline"), {}).body;
  if (c.json) {
    print_json({{"incident", incident}, {"timeline", member(timeline, "timeline")}}, c.out);
  } else {
    print_facts(incident, c.out);
    print_clocks(incident, c.now_ns, c.out);
    print_timeline(timeline, c.out);
  }
  return 0;
}

// What the collector would refuse anyway (csirt/timeline.h check_entry), said
// in the options' terms; "" when the entry may be sent.
std::string entry_mistake(const Values& v) {
  if (v.closure_report && v.kind != "report")
    return "--closure-report marks a report: give --kind report";
  const std::string tlp = v.tlp_label();
  if (v.closure_report && !v.tlp.empty() && tlp != "red" && tlp != "amber+strict" && tlp != "amber")
    return "a closure report is TLP:AMBER, AMBER+STRICT or RED (SEC01 step 6), not TLP:" +
           upper(tlp);
  if (!v.answers.empty() && v.kind != "communication")
    return "--answers names the request a communication answers: give --kind communication";
  return {};
}

int add_entry(const Values& v, const Context& c) {
  if (const std::string mistake = entry_mistake(v); !mistake.empty()) {
    std::cerr << "vigie: " << mistake << '\n';
    return kExitError;
  }
  json body = {{"kind", v.kind}, {"text", v.text}};
  if (!v.occurred.empty()) body["occurred_ns"] = time_ns(v.occurred);
  if (!v.tlp.empty()) body["tlp"] = v.tlp_label();
  if (!v.answers.empty()) body["answers"] = lower(v.answers);
  if (v.closure_report) body["closure_report"] = true;
  const json entry = c.api(with_body("POST", incident_path(v.id) + "/timeline", body), {}).body;
  if (c.json) {
    print_json(entry, c.out);
    return 0;
  }
  c.out << "Recorded " << text(entry, "kind") << ' ' << printable(text(entry, "id"))
        << " in incident " << v.id << " (" << time_or_dash(ns(entry, "occurred_ns"))
        << ", TLP:" << upper(text(entry, "tlp")) << ")\n";
  return 0;
}

// Reads the incident's version, then PATCHes it If-Match that version: the
// change applies to the incident as read here or not at all (412). The
// version is the ETag (csirt/incident.h: the server's ETag is "<version>").
int change_state(const Values& v, const Context& c) {
  if (v.new_state == "merged" && v.merged_into.empty()) {
    std::cerr << "vigie: a merged incident names the one it is merged into: give --merged-into "
                 "ID\n";
    return kExitError;
  }
  if (v.new_state != "merged" && !v.merged_into.empty()) {
    std::cerr << "vigie: --merged-into goes with the state merged\n";
    return kExitError;
  }
  const json current = c.api(get(incident_path(v.id)), {}).body;
  const std::string version = text(current, "version");
  if (version.empty()) {
    std::cerr << "vigie: the collector's incident " << v.id << " has no version\n";
    return kExitError;
  }
  json body = {{"state", v.new_state}, {"reason", v.reason}};
  if (!v.merged_into.empty()) body["merged_into"] = v.merged_into;
  auto patch = with_body("PATCH", incident_path(v.id), body);
  patch.headers.emplace_back("If-Match", "\"" + version + "\"");
  const ApiAnswer answer = c.api(std::move(patch), {409, 412});
  if (answer.status == 412) {
    std::cerr << "vigie: incident " << v.id << " changed meanwhile (version " << version
              << " is no longer the latest): check it with `vigie incident show " << v.id
              << "` and retry\n";
    return kExitError;
  }
  if (answer.status == 409) {
    std::cerr << "vigie: incident " << v.id << " cannot go from " << text(current, "state")
              << " to " << v.new_state << ": " << printable(text(answer.body, "error")) << '\n';
    return kExitError;
  }
  if (c.json) {
    print_json(answer.body, c.out);
    return 0;
  }
  c.out << "Incident " << printable(text(answer.body, "id")) << ": " << text(current, "state")
        << " → " << text(answer.body, "state") << '\n'
        << "  next deadline: "
        << printable(next_deadline(member(answer.body, "next_deadline"), c.now_ns)) << '\n';
  return 0;
}

// The indicators an add or a link stored, and the retro-hunt of them if one started.
void print_added(const json& body, bool linked, const Context& c) {
  print_indicators(body.at("indicators"), linked, c.now_ns, c.out);
  if (member(body, "retrohunt").is_object()) print_retrohunt(member(body, "retrohunt"), c.out);
}

int link_indicator(const Values& v, const Context& c) {
  json body = {{"type", v.type}, {"value", v.value}};
  if (!v.role.empty()) body["role"] = v.role;
  if (!v.tlp.empty()) body["tlp"] = v.tlp_label();
  const json linked = c.api(with_body("POST", incident_path(v.id) + "/indicators", body), {}).body;
  if (c.json) {
    print_json(linked, c.out);
  } else {
    print_added(linked, true, c);
  }
  return 0;
}

int show_scope(const Values& v, const Context& c) {
  const json scope = c.api(get(incident_path(v.id) + "/scope"), {}).body;
  if (c.json) {
    print_json(scope, c.out);
  } else {
    print_scope(scope, c.out);
  }
  return 0;
}

int add_indicator(const Values& v, const Context& c) {
  json body = {{"type", v.type}, {"value", v.value}};
  if (!v.tlp.empty()) body["tlp"] = v.tlp_label();
  if (v.no_ids) body["to_ids"] = false;
  if (!v.source.empty()) body["source"] = v.source;
  if (!v.tags.empty()) body["tags"] = v.tags;
  if (!v.comment.empty()) body["comment"] = v.comment;
  if (!v.valid_until.empty()) body["valid_until_ns"] = time_ns(v.valid_until);
  const json added = c.api(with_body("POST", "/api/v1/csirt/indicators", body), {}).body;
  if (c.json) {
    print_json(added, c.out);
  } else {
    print_added(added, false, c);
  }
  return 0;
}

// Where a MISP feed's files come from: a directory, or an http(s) URL.
using FeedReader = std::function<std::optional<std::string>(const std::string& name)>;

FeedReader feed_reader(const std::string& where, std::chrono::seconds timeout) {
  const auto scheme = where.find("://");
  if (scheme == std::string::npos) {
    return [where](const std::string& name) -> std::optional<std::string> {
      std::ifstream in(std::filesystem::path(where) / name, std::ios::binary);
      if (!in) return std::nullopt;
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
  }
  const auto slash = where.find('/', scheme + 3);
  std::string base = slash == std::string::npos ? "" : where.substr(slash);
  while (!base.empty() && base.back() == '/') base.pop_back();
  auto endpoint = protocol::Endpoint::parse(where);
  if (!endpoint) {
    std::cerr << "vigie: " << where << ": " << endpoint.error() << '\n';
    return {};
  }
  return [endpoint = *endpoint, base, where, timeout](const std::string& name)
             -> std::optional<std::string> {
    protocol::HttpRequest request;
    request.target = base + "/" + name;
    const auto response = protocol::send(endpoint, request, timeout);
    if (!response.ok()) {
      std::cerr << "vigie: " << where << "/" << name << ": "
                << (response.status == 0 ? response.error
                                         : "HTTP " + std::to_string(response.status))
                << '\n';
      return std::nullopt;
    }
    return response.body;
  };
}

protocol::HttpRequest post_document(const std::string& target, std::string body) {
  protocol::HttpRequest request;
  request.method = "POST";
  request.target = target;
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = std::move(body);
  return request;
}

constexpr const char* kCountNames[] = {"added", "updated", "revoked", "skipped", "unsupported",
                                       "invalid"};

void print_import(const std::string& what, const json& report, std::ostream& out) {
  out << printable(what) << " (" << text(report, "format") << "):";
  const json& counts = member(report, "counts");
  for (const char* name : kCountNames) out << ' ' << ns(counts, name) << ' ' << name;
  out << '\n';
  for (const auto& reason : member(report, "invalid"))
    out << "  invalid: " << printable(reason.get<std::string>()) << '\n';
  if (member(report, "retrohunt").is_object()) print_retrohunt(member(report, "retrohunt"), out);
}

// A MISP event (or list, or REST answer) or a STIX 2.1 bundle from a file, or
// a MISP feed from a directory or URL (manifest.json, then only the events
// the collector has not imported at their current timestamp).
int import_exchange(const Values& v, const Context& c) {
  const std::string format = v.format.empty() ? "" : "?format=" + v.format;
  const bool feed = v.file.find("://") != std::string::npos || std::filesystem::is_directory(v.file);
  if (!feed) {
    std::ifstream in(v.file, std::ios::binary);
    if (!in) {
      std::cerr << "vigie: cannot read " << v.file << '\n';
      return kExitError;
    }
    const json report = c.api(post_document("/api/v1/csirt/import" + format,
                                             std::string(std::istreambuf_iterator<char>(in), {})),
                              {})
                            .body;
    if (c.json) {
      print_json(report, c.out);
    } else {
      print_import(v.file, report, c.out);
    }
    return 0;
  }
  const FeedReader read = feed_reader(v.file, c.timeout);
  const auto manifest = read ? read("manifest.json") : std::nullopt;
  if (!manifest) {
    std::cerr << "vigie: no readable manifest.json in " << v.file << '\n';
    return kExitError;
  }
  const json plan = c.api(post_document("/api/v1/csirt/import/plan", *manifest), {}).body;
  json reports = json::array();
  int status = 0;
  for (const auto& uuid : member(plan, "fetch")) {
    const std::string name = uuid.get<std::string>() + ".json";
    const auto event = read(name);
    if (!event) {
      status = kExitError;  // said on stderr; the others are still imported
      continue;
    }
    const ApiAnswer answer =
        c.api(post_document("/api/v1/csirt/import?format=misp", *event), {400});
    if (answer.status == 400) {
      std::cerr << "vigie: " << name << ": " << text(answer.body, "error") << '\n';
      status = kExitError;
      continue;
    }
    if (!c.json) print_import(name, answer.body, c.out);
    reports.push_back(answer.body);
  }
  if (c.json) {
    print_json({{"fetched", reports.size()}, {"unchanged", member(plan, "unchanged")},
                {"imports", reports}},
               c.out);
  } else {
    c.out << reports.size() << " event(s) imported, " << ns(plan, "unchanged")
          << " unchanged since the last import\n";
  }
  return status;
}

// An incident as a MISP event or a STIX 2.1 bundle, on standard output or in a file.
int export_incident(const Values& v, const Context& c) {
  const std::string target =
      incident_path(v.id) + "/export" +
      query({{"format", v.format}, {"tlp", v.tlp_label()}, {"local", v.local ? "1" : ""}});
  const json document = c.api(get(target), {}).body;
  if (v.output.empty()) {
    print_json(document, c.out);
    return 0;
  }
  std::ofstream out(v.output, std::ios::binary | std::ios::trunc);
  out << document.dump(2) << '\n';
  if (!out.flush()) {
    std::cerr << "vigie: cannot write " << v.output << '\n';
    return kExitError;
  }
  c.out << "Wrote " << printable(v.output) << '\n';
  return 0;
}

// The ban list (csirt/ban.h): what this collector bans, what it received
// from upstream, and the files a site runs to enforce them.
std::string ban_state(const json& entry, uint64_t now_ns) {
  if (ns(entry, "lifted_ns") != 0) return "lifted";
  const uint64_t expires = ns(entry, "expires_ns");
  if (expires != 0 && expires <= now_ns) return "expired";
  return "active";
}

std::string joined_list(const json& list) {
  std::string out;
  for (const auto& item : list) out += (out.empty() ? "" : ",") + item.get<std::string>();
  return out;
}

int add_ban(const Values& v, const Context& c) {
  json body = {{"type", v.type}, {"value", v.value}, {"reason", v.reason}};
  if (!v.issuer.empty()) body["issuer"] = v.issuer;
  if (!v.actions.empty()) body["actions"] = v.actions;
  if (!v.sites.empty()) body["sites"] = v.sites;
  if (!v.id.empty()) body["incident"] = v.id;
  if (!v.tlp.empty()) body["tlp"] = v.tlp_label();
  if (!v.expires.empty()) body["expires_ns"] = time_ns(v.expires);
  const json entry = c.api(with_body("POST", "/api/v1/csirt/bans", body), {}).body;
  if (c.json) {
    print_json(entry, c.out);
    return 0;
  }
  c.out << "Banned " << text(entry, "type") << " " << printable(text(entry, "value")) << " ("
        << joined_list(member(entry, "actions")) << ", "
        << (member(entry, "sites").empty() ? "every site" : joined_list(member(entry, "sites")))
        << ", TLP:" << upper(text(entry, "tlp")) << "): " << text(entry, "id") << '\n';
  return 0;
}

int lift_ban(const Values& v, const Context& c) {
  const json entry =
      c.api(with_body("POST", "/api/v1/csirt/bans/" + v.id + "/lift", {{"reason", v.reason}}), {})
          .body;
  if (c.json) {
    print_json(entry, c.out);
  } else {
    c.out << "Lifted " << text(entry, "type") << " " << printable(text(entry, "value")) << '\n';
  }
  return 0;
}

int list_bans(const Values& v, const Context& c) {
  const json body = c.api(get("/api/v1/csirt/bans"), {}).body;
  if (c.json) {
    print_json(body, c.out);
    return 0;
  }
  Table table({"ID", "ORIGIN", "SERIAL", "TYPE", "VALUE", "ACTIONS", "SITES", "TLP", "STATE"});
  for (const auto& list : member(body, "lists")) {
    for (const auto& entry : member(list, "entries")) {
      const std::string state = ban_state(entry, c.now_ns);
      if (!v.all && state != "active") continue;
      std::string value = text(entry, "value");
      if (!text(entry, "issuer").empty()) value = text(entry, "issuer") + " " + value;
      table.add({text(entry, "id"), text(list, "origin"), std::to_string(ns(list, "serial")),
                 text(entry, "type"), value, joined_list(member(entry, "actions")),
                 member(entry, "sites").empty() ? "all" : joined_list(member(entry, "sites")),
                 upper(text(entry, "tlp")), state});
    }
  }
  table.print(c.out, v.all ? "no bans" : "no active bans");
  return 0;
}

bool write_text(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (out.flush()) return true;
  std::cerr << "vigie: cannot write " << path << '\n';
  return false;
}

// Every list this site holds (its own and those from upstream), rendered
// in one file; --ack tells the collector which serials are now applied.
int render_ban_list(const Values& v, const Context& c) {
  const json body = c.api(get("/api/v1/csirt/bans"), {}).body;
  csirt::BanList all;
  std::map<std::string, uint64_t> serials;
  for (const auto& item : member(body, "lists")) {
    auto list = csirt::parse_ban_list(item.dump());
    if (!list) {
      std::cerr << "vigie: the collector sent a ban list Vigie cannot read: " << list.error()
                << '\n';
      return kExitError;
    }
    serials[list->origin] = list->serial;
    all.serial = std::max(all.serial, list->serial);
    all.entries.insert(all.entries.end(), list->entries.begin(), list->entries.end());
  }
  for (const auto& [origin, serial] : serials)
    all.origin += (all.origin.empty() ? "" : "+") + origin + "#" + std::to_string(serial);
  csirt::IdentityMap identities;
  if (!v.identity_map.empty()) {
    std::ifstream in(v.identity_map, std::ios::binary);
    auto parsed = csirt::parse_identity_map(std::string(std::istreambuf_iterator<char>(in), {}));
    if (!in || !parsed) {
      std::cerr << "vigie: " << v.identity_map << ": "
                << (in ? parsed.error() : std::string("cannot read it")) << '\n';
      return kExitError;
    }
    identities = std::move(*parsed);
  }
  const std::string site = text(body, "site");
  const auto rendered =
      csirt::render_bans(all, *csirt::parse_render_format(v.format), site, identities, c.now_ns);
  std::vector<std::string> failures;
  if (v.output.empty()) {
    c.out << rendered.text;
  } else if (!write_text(v.output, rendered.text)) {
    failures.push_back(v.format + ": cannot write " + v.output);
  }
  if (!v.undo_output.empty() && !write_text(v.undo_output, rendered.undo))
    failures.push_back(v.format + ": cannot write " + v.undo_output);
  // What could not be rendered goes to stderr, so that stdout stays the file.
  for (const auto& note : rendered.notes) std::cerr << "vigie: " << printable(note) << '\n';
  if (rendered.unmapped != 0)
    std::cerr << "vigie: " << rendered.unmapped
              << " federated subject(s) with no local user in the identity map\n";
  if (v.ack) {
    json applied = {{"serials", serials}, {"failures", failures}};
    c.api(with_body("POST", "/api/v1/csirt/bans/applied", applied), {});
  }
  return failures.empty() ? 0 : kExitError;
}

int ban_status(const Values&, const Context& c) {
  const json body = c.api(get("/api/v1/csirt/bans/status"), {}).body;
  if (c.json) {
    print_json(body, c.out);
    return 0;
  }
  c.out << "ban list serial " << ns(body, "serial") << '\n';
  Table table({"SITE", "STATE", "REACHED", "APPLIED", "LAG", "APPLIED AT", "FAILURES"});
  for (const auto& site : member(body, "sites")) {
    table.add({text(site, "site"), text(site, "state"), std::to_string(ns(site, "reached_serial")),
               std::to_string(ns(site, "applied_serial")), std::to_string(ns(site, "lag")),
               ns(site, "applied_ns") == 0 ? "-" : local_time(ns(site, "applied_ns")),
               joined_list(member(site, "failures"))});
  }
  table.print(c.out, "no site has reported");
  return 0;
}

int list_indicators(const Values& v, const Context& c) {
  const json body =
      c.api(get("/api/v1/csirt/indicators" + query({{"type", v.type},
                                                    {"value", v.value},
                                                    {"deleted", v.deleted ? "1" : ""},
                                                    {"limit", std::to_string(v.limit)}})),
            {})
          .body;
  if (c.json) {
    print_json(body, c.out);
  } else {
    print_indicators(body.at("indicators"), false, c.now_ns, c.out);
  }
  return 0;
}

int show_sightings(const Values& v, const Context& c) {
  const json body = c.api(get("/api/v1/csirt/indicators/" + lower(v.id) + "/sightings"), {}).body;
  if (c.json) {
    print_json(body, c.out);
  } else {
    print_sightings(body, c.out);
  }
  return 0;
}

// Polls a retro-hunt every kPollInterval until it is done or failed, for ten
// times --timeout at most: its last state, or nothing when it did not finish.
std::optional<json> wait_for(json hunt, const Context& c) {
  const std::string id = text(hunt, "id");
  const auto limit = std::chrono::steady_clock::now() + 10 * c.timeout;
  while (text(hunt, "state") != "done" && text(hunt, "state") != "failed") {
    if (id.empty() || std::chrono::steady_clock::now() + kPollInterval > limit) {
      std::cerr << "vigie: retro-hunt " << id << " is still " << text(hunt, "state") << " after "
                << (10 * c.timeout).count()
                << " s (ten times --timeout); it goes on in the collector\n";
      return std::nullopt;
    }
    std::this_thread::sleep_for(kPollInterval);
    hunt = c.api(get("/api/v1/csirt/retrohunt/" + id), {}).body;
  }
  return hunt;
}

int start_retrohunt(const Values& v, const Context& c) {
  if (v.uuids.size() > kMaxRetrohuntIndicators) {
    std::cerr << "vigie: a retro-hunt takes at most " << kMaxRetrohuntIndicators << " indicators\n";
    return kExitError;
  }
  json uuids = json::array();
  for (const auto& uuid : v.uuids) uuids.push_back(lower(uuid));
  const uint64_t since_ns = parse_duration_ns(v.since).value_or(0);
  const json body = {{"indicators", uuids},
                     {"since_ns", since_ns > c.now_ns ? 0 : c.now_ns - since_ns}};
  json hunt = c.api(with_body("POST", "/api/v1/csirt/retrohunt", body), {}).body;
  if (v.wait) {
    auto finished = wait_for(std::move(hunt), c);
    if (!finished) return kExitError;
    hunt = std::move(*finished);
  }
  if (c.json) {
    print_json(hunt, c.out);
  } else {
    print_retrohunt(hunt, c.out);
  }
  return text(hunt, "state") == "failed" ? kExitError : 0;
}

using Command = int (*)(const Values&, const Context&);

}  // namespace

struct CsirtCommands::Arguments {
  Values values;
  std::vector<std::pair<CLI::App*, Command>> commands;  // each leaf subcommand, what it runs
};

CsirtCommands::CsirtCommands(CLI::App& app) : args_(std::make_unique<Arguments>()) {
  Values& v = args_->values;
  auto command = [this](CLI::App* parent, const char* name, const char* help, Command run) {
    CLI::App* cmd = parent->add_subcommand(name, help);
    args_->commands.emplace_back(cmd, run);
    return cmd;
  };
  auto add_tlp = [&v](CLI::App* cmd, const char* help) {
    cmd->add_option("--tlp", v.tlp, help)->check([](const std::string& value) -> std::string {
      if (tlp_name(value)) return {};
      return "a TLP is one of " + joined(kTlps) + " (TLP 2.0), not '" + value + "'";
    });
  };
  auto add_incident_id = [&v](CLI::App* cmd) {
    cmd->add_option("id", v.id, "incident id (grif-2026-0007) or uuid")
        ->required()
        ->check(check_incident_id);
  };
  auto add_indicator_options = [&v](CLI::App* cmd) {
    cmd->add_option("--type", v.type, joined(kIndicatorTypes))
        ->required()
        ->check(one_of("an indicator type", kIndicatorTypes));
    cmd->add_option("--value", v.value, "the indicator's value")
        ->required()
        ->check(short_text("an indicator value"));
  };

  auto* incident =
      app.add_subcommand("incident", "CSIRT incidents, their SEC01 clocks and timeline");
  incident->require_subcommand(1);

  auto* create = command(incident, "create", "open an incident", create_incident);
  create->add_option("--title", v.title, "what happened, in a line")
      ->required()
      ->check(short_text("a title"));
  create->add_option("--summary", v.summary, "what is known so far")->check(check_text);
  create->add_option("--severity", v.severity, "low, medium (the default), high or critical")
      ->check(one_of("a severity", kSeverities));
  add_tlp(create, "red, amber+strict, amber, green or clear (default: the site's)");
  create->add_option("--coordinator", v.coordinator, "who runs it (a name or e-mail address)");
  create->add_option("--site", v.sites, "a site involved, repeatable (default: this one)");
  create->add_option("--alert", v.alerts, "a stored alert id to attach, repeatable")
      ->check(check_alert_id);
  create->add_option("--discovered", v.discovered, "when it was discovered (default: now)")
      ->check(check_time);

  auto* list =
      command(incident, "list", "incidents, newest first (open ones unless --all)", list_incidents);
  list->add_flag("--all", v.all, "closed, false positive and merged ones too");
  list->add_option("--state", v.state_filter, "only this state (any, open or not)")
      ->check(one_of("a state", kStates));
  list->add_option("--limit", v.limit, "at most this many")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();

  add_incident_id(
      command(incident, "show", "an incident: facts, SEC01 clocks, timeline", show_incident));

  auto* note = command(incident, "note", "add an entry to an incident's timeline", add_entry);
  add_incident_id(note);
  note->add_option("--text", v.text, "what happened, was done or said")
      ->required()
      ->check(check_text);
  note->add_option("--kind", v.kind, "note, action, communication, egi_request or report")
      ->check(one_of("a timeline entry kind", kEntryKinds))
      ->capture_default_str();
  add_tlp(note, "red, amber+strict, amber, green or clear (default: the incident's)");
  note->add_flag("--closure-report", v.closure_report,
                 "this report is the SEC01 closure report (--kind report)");
  note->add_option("--answers", v.answers, "the egi_request entry this communication answers")
      ->check(check_uuid);
  note->add_option("--occurred", v.occurred, "when it happened (default: now)")->check(check_time);

  auto* state = command(incident, "state", "move an incident to another state", change_state);
  add_incident_id(state);
  state->add_option("new_state", v.new_state, joined(kStates))
      ->required()
      ->check(one_of("a state", kStates));
  state->add_option("--reason", v.reason, "why (recorded in the timeline)")
      ->required()
      ->check(check_text);
  state->add_option("--merged-into", v.merged_into, "the incident it is merged into (merged)")
      ->check(check_incident_id);

  auto* link = command(incident, "link", "link an indicator to an incident (and retro-hunt it)",
                       link_indicator);
  add_incident_id(link);
  add_indicator_options(link);
  link->add_option("--role", v.role, "observed (the default), suspected or related")
      ->check(one_of("a role", kRoles));
  add_tlp(link, "red, amber+strict, amber, green or clear");

  add_incident_id(command(incident, "scope", "the sites, hosts, users and jobs an incident touches",
                          show_scope));

  auto* ioc = app.add_subcommand("ioc", "the CSIRT's indicators of compromise");
  ioc->require_subcommand(1);
  auto* add = command(ioc, "add", "add an indicator (and retro-hunt it)", add_indicator);
  add_indicator_options(add);
  add_tlp(add, "red, amber+strict, amber, green or clear");
  add->add_option("--source", v.source, "where it comes from (default: site)");
  add->add_option("--tag", v.tags, "a tag, repeatable");
  add->add_option("--comment", v.comment, "a comment")->check(check_text);
  add->add_flag("--no-ids", v.no_ids, "keep it, never match it (MISP to_ids false)");
  add->add_option("--valid-until", v.valid_until, "when it stops matching")->check(check_time);

  command(ioc, "import", "import a MISP or STIX document's indicators (vigie csirt import)",
          import_exchange)
      ->add_option("file", v.file, "a MISP event or STIX 2.1 bundle in JSON")
      ->required()
      ->check(CLI::ExistingFile);

  auto* iocs = command(ioc, "list", "indicators", list_indicators);
  iocs->add_option("--type", v.type, "only this type")
      ->check(one_of("an indicator type", kIndicatorTypes));
  iocs->add_option("--value", v.value, "only this value");
  iocs->add_flag("--deleted", v.deleted, "revoked ones too");
  iocs->add_option("--limit", v.limit, "at most this many")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();

  command(ioc, "sightings", "where an indicator was seen", show_sightings)
      ->add_option("uuid", v.id, "the indicator's uuid")
      ->required()
      ->check(check_uuid);

  auto* exchange = app.add_subcommand("csirt", "exchange with other CSIRTs: MISP and STIX 2.1");
  exchange->require_subcommand(1);
  auto* import = command(exchange, "import",
                         "import a MISP event, a STIX 2.1 bundle, or a MISP feed (each indicator "
                         "keeps its TLP; a feed fetches only new or changed events)",
                         import_exchange);
  import->add_option("source", v.file, "a file, a MISP feed directory, or a feed's http(s) URL")
      ->required();
  import->add_option("--format", v.format, "misp or stix (default: guessed)")
      ->check(one_of("a format", kFormats));

  auto* out = command(incident, "export", "an incident as a MISP event or a STIX 2.1 bundle",
                      export_incident);
  add_incident_id(out);
  out->add_option("--format", v.format, "misp or stix")
      ->required()
      ->check(one_of("a format", kFormats));
  add_tlp(out, "the most restricted TLP the destination may receive (default: the incident's)");
  out->add_flag("--local", v.local,
                "for this site only: names hosts, users and jobs of an AMBER+STRICT or RED incident");
  out->add_option("-o,--output", v.output, "write it to this file (default: standard output)");

  auto* ban = app.add_subcommand("ban", "the CSIRT's ban list: suspended identities, every site");
  ban->require_subcommand(1);
  auto* ban_add = command(ban, "add", "suspend an identity (the list's serial goes up)", add_ban);
  ban_add->add_option("--type", v.type, joined(kSubjectTypes))
      ->required()
      ->check(one_of("a subject type", kSubjectTypes));
  ban_add
      ->add_option("--value", v.value, "the user, DN, FQAN, OIDC sub, key fingerprint or address")
      ->required();
  ban_add->add_option("--issuer", v.issuer, "the OIDC issuer (--type oidc)");
  ban_add
      ->add_option("--action", v.actions,
                   "deny-login, deny-submit, deny-network, detect; "
                   "repeatable (default: detect)")
      ->check(one_of("an action", kActions));
  ban_add->add_option("--site", v.sites, "a site it applies to, repeatable (default: all)");
  ban_add->add_option("--incident", v.id, "the incident it contains")->check(check_incident_id);
  ban_add->add_option("--reason", v.reason, "why (kept with the entry)")
      ->required()
      ->check(check_text);
  add_tlp(ban_add, "red, amber+strict (never leave this collector), amber, green or clear");
  ban_add->add_option("--expires", v.expires, "when it ends by itself")->check(check_time);

  auto* ban_lift = command(ban, "lift", "lift a ban (the list's serial goes up)", lift_ban);
  ban_lift->add_option("id", v.id, "the ban's id")->required()->check(check_uuid);
  ban_lift->add_option("--reason", v.reason, "why")->required()->check(check_text);

  command(ban, "list", "the bans this collector holds, its own and upstream's", list_bans)
      ->add_flag("--all", v.all, "lifted and expired ones too");

  auto* render = command(ban, "render",
                         "the file a site runs to enforce the bans (Argus policy, LCMAPS ban file, "
                         "sacctmgr commands, sshd include, nftables script)",
                         render_ban_list);
  render->add_option("--format", v.format, joined(kRenderFormats))
      ->required()
      ->check(one_of("a format", kRenderFormats));
  render
      ->add_option("--identity-map", v.identity_map,
                   "federated subjects to local users: '<type> <user> <subject>' per line")
      ->check(CLI::ExistingFile);
  render->add_option("-o,--output", v.output, "write it to this file (default: standard output)");
  render->add_option("--undo", v.undo_output,
                     "slurm: write the commands that lift the limits of lifted bans here");
  render->add_flag("--ack", v.ack,
                   "tell the collector these serials are applied (it reports them upstream)");

  command(ban, "status", "each site's acknowledgement of this collector's ban list", ban_status);

  auto* retrohunt =
      command(&app, "retrohunt", "search the stored events for indicators", start_retrohunt);
  retrohunt->add_option("uuids", v.uuids, "indicator uuids")->required()->check(check_uuid);
  retrohunt->add_option("--since", v.since, "how far back: DURATION (90s, 10m, 2h, 7d)")
      ->check([](const std::string& value) -> std::string {
        if (parse_duration_ns(value)) return {};
        return "a duration is a number and a unit, such as 90s, 10m, 2h or 7d, not '" + value + "'";
      })
      ->capture_default_str();
  retrohunt->add_flag("--wait", v.wait, "wait until it is done and print what it found");
}

CsirtCommands::~CsirtCommands() = default;

bool CsirtCommands::parsed() const {
  return std::any_of(args_->commands.begin(), args_->commands.end(),
                     [](const auto& command) { return command.first->parsed(); });
}

int CsirtCommands::run(const Api& api, bool json_output, std::chrono::seconds timeout,
                       std::ostream& out) const {
  const Context context{api, json_output, timeout, protocol::wall_clock_ns(), out};
  for (const auto& [cmd, command] : args_->commands) {
    if (!cmd->parsed()) continue;
    try {
      return command(args_->values, context);
    } catch (const nlohmann::json::exception& e) {
      std::cerr << "vigie: unexpected answer from the collector: " << e.what() << '\n';
      return kExitError;
    }
  }
  return 0;
}

}  // namespace vigie::cli
