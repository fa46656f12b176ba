#include "reports/reports.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "http/query.h"
#include "vigie/sustainability/grid.h"
#include "vigie/sustainability/time.h"

namespace vigie::collector {
namespace {

using nlohmann::json;
namespace sus = vigie::sustainability;

constexpr double kJoulesPerKwh = 3.6e6;
constexpr uint64_t kNsPerS = 1'000'000'000;

bool hosted(const sus::Facility& f, const AccountEnergy& row) {
  if (f.sites.empty() && f.hosts.empty()) return true;
  return std::find(f.sites.begin(), f.sites.end(), row.site) != f.sites.end() ||
         std::find(f.hosts.begin(), f.hosts.end(), row.host) != f.hosts.end();
}

uint64_t ns(int64_t s) { return s <= 0 ? 0 : static_cast<uint64_t>(s) * kNsPerS; }

std::string percent(double share) {
  return std::to_string(static_cast<int>(std::lround(share * 1000)) / 10.0).substr(0, 5) + " %";
}

Response text_response(std::string content_type, std::string body,
                       const std::string& filename = {}) {
  Response r{200, std::move(content_type), std::move(body), {}};
  if (!filename.empty()) {
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + filename + "\"");
  }
  return r;
}

bool valid_id(std::string_view id, std::size_t max) {
  return !id.empty() && id.size() <= max && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// The period of a report's query: year=, or from= and to= (sus::local_start).
sus::Span period_of(const Query& q, const sus::Facility& f) {
  const std::string* year = q.get("year");
  const std::string* from = q.get("from");
  const std::string* to = q.get("to");
  if (year && (from || to)) throw sus::InputError("give year= or from= and to=, not both");
  if (year) {
    if (year->size() != 4 || !std::all_of(year->begin(), year->end(), ::isdigit))
      throw sus::InputError("year: four digits");
    return sus::calendar_year(std::stoi(*year), f.time_zone);
  }
  if (!from || !to) throw sus::InputError("give year=, or from= and to=");
  const sus::Span span{sus::local_start(*from, f.time_zone), sus::local_start(*to, f.time_zone)};
  if (span.end_s <= span.start_s) throw sus::InputError("to must come after from");
  if (span.end_s - span.start_s > 5LL * 366 * 86400)
    throw sus::InputError("a report covers at most five years");
  return span;
}

std::string format_of(const Query& q, std::initializer_list<std::string_view> allowed) {
  const std::string* format = q.get("format");
  std::string value = format ? *format : "json";
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end())
    throw sus::InputError("format: '" + value + "' is not offered here");
  return value;
}

}  // namespace

sus::GridSeries ReportBuilder::grid(const sus::Facility& f, sus::Span period) {
  return store_.grid_series(f.grid_zone, config_.grid_basis, period.start_s, period.end_s);
}

sus::DatacentreReport ReportBuilder::datacentre(const sus::Facility& f, sus::Span period) {
  const auto series = grid(f, period);
  auto report =
      sus::build_report(f, store_.readings(f.id, period.start_s, period.end_s), series, period);
  if (series.points.empty()) {
    report.warnings.push_back("no grid carbon intensity series imported for zone " + f.grid_zone +
                              " (" + config_.grid_basis + "): CUE missing");
  }
  return report;
}

std::string ReportBuilder::community_of(const std::string& account,
                                        const std::string& group_by) const {
  if (group_by == "account") return account;
  const auto it = config_.projects.find(account);
  return it == config_.projects.end() ? account : it->second;
}

sus::CommunityReport ReportBuilder::communities(const sus::Facility& f, sus::Span period,
                                                const std::string& group_by, sus::IdlePolicy idle) {
  if (group_by != "account" && group_by != "project")
    throw sus::InputError("group_by: account or project");
  if (idle == sus::IdlePolicy::kAllocation) {
    // The agents charge idle power by allocated cores themselves
    // (power.idle_policy: allocated_cores); the collector holds no allocations.
    throw sus::InputError(
        "idle=allocation needs each job's allocated cores, which the collector does not hold: "
        "set power.idle_policy: allocated_cores on the agents and use idle=separate");
  }
  const auto readings = store_.readings(f.id, period.start_s, period.end_s);
  const auto series = grid(f, period);
  std::vector<sus::MonthInput> months;
  std::vector<std::string> edc_notes;
  for (const sus::Span month : sus::months_of(period, f.time_zone)) {
    sus::MonthInput in{.span = month};
    const sus::Consolidation meters = sus::consolidate(readings, month);
    const sus::Consolidated& edc = meters.at(sus::Quantity::kEdc);
    if (edc.value)
      in.facility_joules = static_cast<uint64_t>(std::llround(*edc.value * kJoulesPerKwh));
    edc_notes.push_back(edc.quality == sus::Quality::kIncomplete
                            ? "EDC incomplete: readings cover " + percent(edc.coverage) +
                                  " of the month"
                            : std::string());
    std::map<std::string, double> joules;
    std::map<std::string, double> cpu_seconds;
    double node = 0;
    for (const AccountEnergy& row : store_.account_energy(ns(month.start_s), ns(month.end_s))) {
      if (!hosted(f, row)) continue;
      node += row.joules;
      if (row.account.empty()) continue;
      const std::string community = community_of(row.account, group_by);
      joules[community] += row.joules;
      cpu_seconds[community] += row.cpu_seconds;
    }
    uint64_t attributed = 0;
    for (const auto& [community, j] : joules) {
      const auto rounded = static_cast<uint64_t>(std::llround(std::max(0.0, j)));
      attributed += rounded;
      in.communities.push_back({.community = community,
                                .node_joules = rounded,
                                .cpu_hours = cpu_seconds[community] / 3600});
    }
    in.node_joules = std::max(attributed, static_cast<uint64_t>(std::llround(std::max(0.0, node))));
    in.grid_gco2e_per_kwh = sus::average_intensity(series, month).gco2e_per_kwh;
    months.push_back(std::move(in));
  }
  auto report = sus::distribute(months, idle, config_.embodied, group_by);
  for (std::size_t i = 0; i < report.months.size(); ++i) {
    if (!edc_notes[i].empty()) report.months[i].notes.push_back(edc_notes[i]);
  }
  return report;
}

Response ReportsApi::handle(const Request& request, std::string_view path, std::string_view query,
                            const Principal& principal, uint64_t now_ns) {
  try {
    constexpr std::string_view kReports = "/api/v1/reports/";
    constexpr std::string_view kFacilities = "/api/v1/facilities";
    constexpr std::string_view kGrid = "/api/v1/grid/";
    if (path.starts_with(kReports)) {
      if (request.method != "GET") return error(405, "method not allowed; use GET");
      return report(path.substr(kReports.size()), query, principal);
    }
    if (principal.role == Role::kProject) {
      return error(403, "a project token reads its community report only");
    }
    if (path.starts_with(kGrid)) return grid(request, path.substr(kGrid.size()), query);
    if (path == kFacilities || path.starts_with(std::string(kFacilities) + "/")) {
      return facilities(request, path.substr(std::min(path.size(), kFacilities.size() + 1)), query,
                        now_ns);
    }
    return error(404, "no such path");
  } catch (const sus::InputError& e) {
    return error(400, e.what());
  }
}

Response ReportsApi::facilities(const Request& request, std::string_view rest,
                                std::string_view query_text, uint64_t now_ns) {
  if (rest.empty()) {
    if (request.method == "GET") {
      json list = json::array();
      for (const auto& f : store_.facilities()) list.push_back(sus::to_json(f));
      return json_response(200, {{"facilities", list}});
    }
    if (request.method != "POST") return error(405, "method not allowed; use GET or POST");
    const json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded()) return error(400, "the body is not JSON");
    const sus::Facility facility = sus::facility_from_json(body);
    const bool existed = store_.facility(facility.id).has_value();
    store_.put_facility(facility, now_ns);
    return json_response(existed ? 200 : 201, sus::to_json(facility));
  }
  const auto slash = rest.find('/');
  const std::string id(rest.substr(0, slash));
  const std::string_view sub = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  const auto facility = valid_id(id, 64) ? store_.facility(id) : std::nullopt;
  if (!facility) return error(404, "no facility '" + id + "'");
  Query query;
  if (sub.empty()) {
    if (request.method != "GET") return error(405, "method not allowed; use GET");
    return json_response(200, sus::to_json(*facility));
  }
  if (sub == "readings") {
    if (request.method != "POST") return error(405, "method not allowed; use POST");
    const bool csv = request.content_type.starts_with("text/csv");
    const auto readings =
        csv ? sus::parse_readings_csv(request.body) : sus::parse_readings_json(request.body);
    const std::size_t added = store_.add_readings(id, readings, now_ns);
    return json_response(
        200,
        {{"received", readings.size()}, {"added", added}, {"replaced", readings.size() - added}});
  }
  if (sub == "check") {
    if (request.method != "GET") return error(405, "method not allowed; use GET");
    if (auto e = query.parse(query_text, {"year", "from", "to"})) return error(400, *e);
    const sus::Span period = period_of(query, *facility);
    const auto meters = sus::consolidate(store_.readings(id, period.start_s, period.end_s), period);
    json out = sus::to_json(meters);
    out["facility"] = id;
    out["period"] = {period.start_s, period.end_s};
    return json_response(200, out);
  }
  return error(404, "no such path");
}

Response ReportsApi::grid(const Request& request, std::string_view zone_text,
                          std::string_view query_text) {
  const std::string zone(zone_text);
  if (!valid_id(zone, 32)) return error(404, "a grid zone is 1 to 32 of A-Z a-z 0-9 . _ -");
  Query query;
  if (request.method == "POST") {
    if (auto e = query.parse(query_text, {"basis", "source", "version", "column"}))
      return error(400, *e);
    const std::string* basis = query.get("basis");
    if (!basis || (*basis != "direct" && *basis != "life-cycle"))
      return error(400, "basis: direct or life-cycle (required: a series says which it is)");
    const std::string* column = query.get("column");
    sus::TimeSeries parsed;
    try {
      parsed = sus::TimeSeries::parse_csv(request.body, column ? *column : "gco2e_per_kwh");
    } catch (const std::runtime_error& e) {
      return error(400, std::string("the grid series cannot be read: ") + e.what());
    }
    sus::GridSeries series{.zone = zone, .basis = *basis};
    const std::string* source = query.get("source");
    const std::string* version = query.get("version");
    series.source = source ? *source : "CSV import";
    series.version = version
                         ? *version
                         : sus::format_time(std::chrono::duration_cast<std::chrono::seconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count())
                               .substr(0, 10);
    for (const auto& p : parsed.points()) {
      series.points.push_back({static_cast<int64_t>(p.time_s), p.value});
    }
    store_.put_grid_points(series);
    return json_response(200, {{"zone", zone},
                               {"basis", *basis},
                               {"points", series.points.size()},
                               {"from", sus::format_time(series.points.front().time_s)},
                               {"to", sus::format_time(series.points.back().time_s)}});
  }
  if (request.method != "GET") return error(405, "method not allowed; use GET or POST");
  if (auto e = query.parse(query_text, {"basis", "from", "to"})) return error(400, *e);
  const std::string* basis = query.get("basis");
  const std::string* from = query.get("from");
  const std::string* to = query.get("to");
  if (!basis || !from || !to) return error(400, "give basis=, from= and to=");
  const auto series = store_.grid_series(zone, *basis, sus::local_start(*from, "UTC"),
                                         sus::local_start(*to, "UTC"));
  json points = json::array();
  for (const auto& p : series.points) points.push_back({p.time_s, p.gco2e_per_kwh});
  return json_response(200, {{"zone", zone},
                             {"basis", *basis},
                             {"source", series.source},
                             {"version", series.version},
                             {"points", points}});
}

Response ReportsApi::report(std::string_view name, std::string_view query_text,
                            const Principal& principal) {
  Query query;
  if (name == "federation") {
    if (principal.role == Role::kProject)
      return error(403, "a project token reads its community report only");
    if (auto e = query.parse(query_text, {"year", "format"})) return error(400, *e);
    format_of(query, {"json"});
    const std::string* year = query.get("year");
    if (!year) return error(400, "year: required");
    std::vector<sus::DatacentreReport> reports;
    std::size_t in_scope = 0;
    int y = 0;
    try {
      y = std::stoi(*year);
    } catch (const std::exception&) {
      return error(400, "year: four digits");
    }
    for (const auto& f : store_.facilities()) {
      reports.push_back(builder_.datacentre(f, sus::calendar_year(y, f.time_zone)));
      in_scope += reports.back().in_scope ? 1 : 0;
    }
    return json_response(
        200, {{"schema", "vigie.federation-report/1"},
              {"year", y},
              {"facilities", reports.size()},
              {"in_scope_2024_1364", in_scope},
              {"categories", sus::to_json(sus::aggregate(reports))},
              {"method",
               "Annex IV of Regulation (EU) 2024/1364: per size category, totals and "
               "EDC-weighted averages; the pooled ratios (sum EDC / sum EIT, ...) labelled apart; "
               "categories of fewer than 3 facilities suppressed"}});
  }
  const bool communities = name == "communities";
  if (!communities && name != "datacentre") return error(404, "no such report");
  if (!communities && principal.role == Role::kProject)
    return error(403, "a project token reads its community report only");
  if (communities) {
    if (auto e = query.parse(query_text,
                             {"facility", "year", "from", "to", "format", "group_by", "idle"}))
      return error(400, *e);
  } else if (auto e = query.parse(query_text, {"facility", "year", "from", "to", "format"})) {
    return error(400, *e);
  }
  const std::string format = format_of(query, {"json", "csv", "html"});
  const std::string* id = query.get("facility");
  if (!id) return error(400, "facility: required");
  const auto facility = valid_id(*id, 64) ? store_.facility(*id) : std::nullopt;
  if (!facility) return error(404, "no facility '" + *id + "'");
  const sus::Span period = period_of(query, *facility);
  const std::string stem = facility->id + "-" + sus::format_time(period.start_s).substr(0, 10);
  if (!communities) {
    const auto report = builder_.datacentre(*facility, period);
    if (format == "csv")
      return text_response("text/csv; charset=utf-8", sus::to_csv(report), stem + ".csv");
    if (format == "html") {
      std::optional<sus::CommunityReport> c;
      try {
        c = builder_.communities(*facility, period, "account", sus::IdlePolicy::kSeparate);
      } catch (const sus::InputError&) {
        // The page shows the report without the communities then.
      }
      return text_response("text/html; charset=utf-8",
                           report_html(*facility, period, &report, c ? &*c : nullptr));
    }
    return json_response(200, sus::to_json(report));
  }
  const std::string* group = query.get("group_by");
  const std::string group_by = group ? *group : "account";
  const std::string* idle_text = query.get("idle");
  const auto idle = sus::parse_idle_policy(idle_text ? *idle_text : "separate");
  if (!idle) return error(400, "idle: separate, proportional or allocation");
  auto report = builder_.communities(*facility, period, group_by, *idle);
  if (principal.role == Role::kProject) {
    report = sus::only(report, {builder_.community_of(principal.project, group_by)});
  }
  if (format == "csv") {
    return text_response("text/csv; charset=utf-8", sus::to_csv(report), stem + "-communities.csv");
  }
  if (format == "html") {
    // A project token sees its rows, not the facility's report.
    const auto datacentre = principal.role == Role::kProject
                                ? std::nullopt
                                : std::optional(builder_.datacentre(*facility, period));
    return text_response(
        "text/html; charset=utf-8",
        report_html(*facility, period, datacentre ? &*datacentre : nullptr, &report));
  }
  return json_response(200, sus::to_json(report));
}

}  // namespace vigie::collector
