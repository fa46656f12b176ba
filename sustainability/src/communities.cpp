#include "vigie/sustainability/communities.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "text.h"
#include "vigie/sustainability/time.h"

namespace vigie::sustainability {
namespace {

using nlohmann::json;
constexpr double kJoulesPerKwh = 3.6e6;
constexpr double kHoursPerYear = 8760;

// Splits `total` joules in proportion to `weights` by the largest remainder
// method (Hamilton): each row gets the floor of its exact share, and the
// joules left by the floors go one each to the largest remainders (the first
// row on a tie). The parts add up to `total` exactly.
std::vector<uint64_t> apportion(uint64_t total, const std::vector<long double>& weights) {
  long double whole = 0;
  for (long double w : weights) whole += w;
  std::vector<uint64_t> parts(weights.size(), 0);
  if (weights.empty() || !(whole > 0)) return parts;
  std::vector<std::pair<long double, std::size_t>> remainders;
  uint64_t given = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const long double exact = static_cast<long double>(total) * weights[i] / whole;
    const long double floor = std::floor(exact);
    parts[i] = floor <= 0 ? 0 : static_cast<uint64_t>(floor);
    given += parts[i];
    remainders.emplace_back(exact - floor, i);
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  // Rounding in long double may leave the floors a joule above or below.
  for (std::size_t k = 0; given > total; k = (k + 1) % parts.size()) {
    const std::size_t i = remainders[parts.size() - 1 - k].second;
    if (parts[i] > 0) {
      --parts[i];
      --given;
    }
  }
  for (std::size_t k = 0; given < total; k = (k + 1) % parts.size()) {
    ++parts[remainders[k].second];
    ++given;
  }
  return parts;
}

std::string kwh_text(uint64_t joules) {
  return number_text(static_cast<double>(joules) / kJoulesPerKwh, 12);
}

json kwh(uint64_t joules) { return static_cast<double>(joules) / kJoulesPerKwh; }

json row_json(const CommunityMonth& c) {
  return {{"community", c.community},
          {"node_kwh", kwh(c.node_joules)},
          {"facility_kwh", kwh(c.facility_joules)},
          {"facility_joules", c.facility_joules},
          {"cpu_hours", c.cpu_hours},
          {"gpu_hours", c.gpu_hours},
          {"operational_kgco2e", c.operational_kgco2e ? json(*c.operational_kgco2e) : json()},
          {"embodied_kgco2e", c.embodied_kgco2e}};
}

void add(CommunityMonth& into, const CommunityMonth& c) {
  into.node_joules += c.node_joules;
  into.facility_joules += c.facility_joules;
  into.cpu_hours += c.cpu_hours;
  into.gpu_hours += c.gpu_hours;
  if (c.operational_kgco2e) {
    into.operational_kgco2e = into.operational_kgco2e.value_or(0) + *c.operational_kgco2e;
  }
  into.embodied_kgco2e += c.embodied_kgco2e;
}

}  // namespace

std::string_view to_string(IdlePolicy policy) {
  switch (policy) {
    case IdlePolicy::kSeparate:
      return "separate";
    case IdlePolicy::kProportional:
      return "proportional";
    case IdlePolicy::kAllocation:
      return "allocation";
  }
  return "separate";
}

std::optional<IdlePolicy> parse_idle_policy(std::string_view text) {
  for (IdlePolicy p : {IdlePolicy::kSeparate, IdlePolicy::kProportional, IdlePolicy::kAllocation}) {
    if (to_string(p) == text) return p;
  }
  return std::nullopt;
}

double EmbodiedModel::kg_per_core_hour() const {
  if (!(server_kgco2e > 0) || !(lifetime_years > 0) || !(cores_per_server > 0)) return 0;
  return server_kgco2e / (lifetime_years * kHoursPerYear * cores_per_server);
}

CommunityReport distribute(const std::vector<MonthInput>& months, IdlePolicy policy,
                           const EmbodiedModel& embodied, std::string group_by) {
  CommunityReport report{.policy = policy, .group_by = std::move(group_by)};
  std::map<std::string, CommunityMonth> totals;
  const double embodied_rate = embodied.kg_per_core_hour();
  for (const MonthInput& in : months) {
    MonthResult m{
        .span = in.span, .facility_joules = in.facility_joules, .node_joules = in.node_joules};
    std::map<std::string, CommunityUsage> usage;  // merged by name
    uint64_t attributed = 0;
    double allocated = 0;
    for (const auto& c : in.communities) {
      CommunityUsage& u = usage[c.community];
      u.community = c.community;
      u.node_joules += c.node_joules;
      u.cpu_hours += c.cpu_hours;
      u.gpu_hours += c.gpu_hours;
      u.allocated_core_hours += std::max(0.0, c.allocated_core_hours);
      attributed += c.node_joules;
    }
    for (const auto& [name, u] : usage) allocated += u.allocated_core_hours;
    if (attributed > in.node_joules) {
      throw InputError("month " + format_time(in.span.start_s) + ": communities' energy (" +
                       std::to_string(attributed) + " J) exceeds the node energy (" +
                       std::to_string(in.node_joules) + " J)");
    }
    const uint64_t idle = in.node_joules - attributed;
    // Each community's weight: its node joules plus its part of the idle
    // energy under the policy; the idle row keeps what no community takes.
    std::vector<const CommunityUsage*> rows;
    std::vector<long double> weights;
    long double handed = 0;  // idle joules handed to communities
    for (const auto& [name, u] : usage) {
      long double w = static_cast<long double>(u.node_joules);
      if (policy == IdlePolicy::kProportional && attributed > 0) {
        w += static_cast<long double>(idle) * u.node_joules / attributed;
      } else if (policy == IdlePolicy::kAllocation && allocated > 0) {
        w += static_cast<long double>(idle) * u.allocated_core_hours / allocated;
      }
      handed += w - static_cast<long double>(u.node_joules);
      rows.push_back(&u);
      weights.push_back(w);
    }
    if (policy == IdlePolicy::kAllocation && allocated == 0 && idle > 0) {
      m.notes.push_back("no allocated core-hours: idle energy kept apart");
    }
    weights.push_back(std::max<long double>(0, static_cast<long double>(idle) - handed));
    const std::optional<double> grid = in.grid_gco2e_per_kwh;
    const auto operational = [&](uint64_t joules) -> std::optional<double> {
      if (!grid) return std::nullopt;
      return static_cast<double>(joules) / kJoulesPerKwh * *grid / 1000;
    };
    const bool distributed = in.facility_joules && in.node_joules > 0;
    std::vector<uint64_t> parts(weights.size(), 0);
    if (distributed) {
      const uint64_t edc = *in.facility_joules;
      m.facility_factor = static_cast<double>(edc) / static_cast<double>(in.node_joules);
      if (*m.facility_factor < 1) {
        m.notes.push_back("facility factor " + number_text(*m.facility_factor) +
                          " below 1: the facility meter reads less than the nodes measured");
      }
      parts = apportion(edc, weights);
      m.idle_joules = parts.back();
    } else if (in.facility_joules) {
      m.unallocated_joules = *in.facility_joules;
      m.notes.push_back("no node energy measured: the whole facility energy is unallocated");
    } else {
      m.notes.push_back("no facility energy reading for the month: not distributed");
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const CommunityUsage& u = *rows[i];
      CommunityMonth row{.community = u.community,
                         .node_joules = u.node_joules,
                         .facility_joules = parts[i],
                         .cpu_hours = u.cpu_hours,
                         .gpu_hours = u.gpu_hours,
                         .embodied_kgco2e = u.cpu_hours * embodied_rate};
      if (distributed) row.operational_kgco2e = operational(row.facility_joules);
      m.communities.push_back(std::move(row));
    }
    if (in.facility_joules) {
      report.facility_joules += *in.facility_joules;
      report.idle_joules += m.idle_joules;
      report.unallocated_joules += m.unallocated_joules;
      for (const auto& row : m.communities) {
        CommunityMonth& t = totals[row.community];
        t.community = row.community;
        add(t, row);
      }
    } else {
      report.missing_months.push_back(format_time(in.span.start_s));
    }
    report.months.push_back(std::move(m));
  }
  for (auto& [name, t] : totals) report.totals.push_back(std::move(t));
  return report;
}

CommunityReport only(const CommunityReport& report, const std::vector<std::string>& communities) {
  const std::set<std::string, std::less<>> keep(communities.begin(), communities.end());
  CommunityReport out = report;
  const auto drop = [&](std::vector<CommunityMonth>& rows) {
    std::erase_if(rows, [&](const CommunityMonth& r) { return !keep.contains(r.community); });
  };
  drop(out.totals);
  for (auto& m : out.months) {
    drop(m.communities);
    m.idle_joules = 0;
    m.unallocated_joules = 0;
    m.node_joules = 0;
    m.facility_joules.reset();
    m.notes.clear();
  }
  out.facility_joules = 0;
  out.idle_joules = 0;
  out.unallocated_joules = 0;
  return out;
}

json to_json(const CommunityReport& r) {
  json months = json::array();
  for (const auto& m : r.months) {
    json rows = json::array();
    for (const auto& c : m.communities) rows.push_back(row_json(c));
    months.push_back({{"from", format_time(m.span.start_s)},
                      {"to", format_time(m.span.end_s)},
                      {"facility_kwh", m.facility_joules ? kwh(*m.facility_joules) : json()},
                      {"facility_joules", m.facility_joules ? json(*m.facility_joules) : json()},
                      {"node_kwh", kwh(m.node_joules)},
                      {"facility_factor", m.facility_factor ? json(*m.facility_factor) : json()},
                      {"communities", rows},
                      {"idle_kwh", kwh(m.idle_joules)},
                      {"idle_joules", m.idle_joules},
                      {"unallocated_kwh", kwh(m.unallocated_joules)},
                      {"unallocated_joules", m.unallocated_joules},
                      {"notes", m.notes}});
  }
  json totals = json::array();
  for (const auto& t : r.totals) totals.push_back(row_json(t));
  return {{"schema", r.kSchema},
          {"group_by", r.group_by},
          {"idle_policy", to_string(r.policy)},
          {"method",
           "each month's facility energy (EDC) distributed over the communities' measured node "
           "energy (facility factor = EDC / node energy); idle energy: " +
               std::string(to_string(r.policy)) +
               "; communities + idle + unallocated = EDC, to the joule"},
          {"facility_kwh", kwh(r.facility_joules)},
          {"idle_kwh", kwh(r.idle_joules)},
          {"unallocated_kwh", kwh(r.unallocated_joules)},
          {"totals", totals},
          {"months", months},
          {"missing_months", r.missing_months}};
}

std::string to_csv(const CommunityReport& r) {
  std::string out =
      "month,community,node_kwh,facility_kwh,cpu_hours,gpu_hours,operational_kgco2e,"
      "embodied_kgco2e\r\n";
  for (const auto& m : r.months) {
    // The month of its middle: a local month starts on the day before in UTC.
    const std::string month =
        format_time(m.span.start_s + (m.span.end_s - m.span.start_s) / 2).substr(0, 7);
    for (const auto& c : m.communities) {
      out += month + ',' + csv_field(c.community) + ',' + kwh_text(c.node_joules) + ',' +
             (m.facility_joules ? kwh_text(c.facility_joules) : "") + ',' +
             number_text(c.cpu_hours) + ',' + number_text(c.gpu_hours) + ',' +
             (c.operational_kgco2e ? number_text(*c.operational_kgco2e) : "") + ',' +
             number_text(c.embodied_kgco2e) + "\r\n";
    }
    if (m.facility_joules) {
      out += month + ",(idle),," + kwh_text(m.idle_joules) + ",,,,\r\n";
      out += month + ",(unallocated),," + kwh_text(m.unallocated_joules) + ",,,,\r\n";
    }
  }
  return out;
}

}  // namespace vigie::sustainability
