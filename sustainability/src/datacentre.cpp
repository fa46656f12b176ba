#include "vigie/sustainability/datacentre.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "text.h"
#include "vigie/sustainability/time.h"

namespace vigie::sustainability {
namespace {

using nlohmann::json;

const date::time_zone* zone(std::string_view name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    throw InputError("time_zone: '" + std::string(name) + "' is not an IANA time zone");
  }
}

int64_t local_midnight(const date::time_zone* tz, date::year_month_day day) {
  const date::local_seconds local{date::local_days{day}};
  // Midnight exists in every zone Vigie's sites use; choose the earliest on a fold.
  return std::chrono::duration_cast<std::chrono::seconds>(
             tz->to_sys(local, date::choose::earliest).time_since_epoch())
      .count();
}

std::string text_field(const json& body, std::string_view key, bool required = false) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    if (required) throw InputError(std::string(key) + ": required");
    return {};
  }
  if (!it->is_string()) throw InputError(std::string(key) + ": must be a string");
  return it->get<std::string>();
}

std::optional<double> number_field(const json& body, std::string_view key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw InputError(std::string(key) + ": must be a number");
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < 0) throw InputError(std::string(key) + ": must be 0 or more");
  return v;
}

std::vector<std::string> list_field(const json& body, std::string_view key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_array()) throw InputError(std::string(key) + ": must be a list of strings");
  std::vector<std::string> out;
  for (const json& v : *it) {
    if (!v.is_string()) throw InputError(std::string(key) + ": must be a list of strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

json optional_number(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

ReportItem info_item(std::string ref, std::string name, std::string text) {
  ReportItem item{.ref = std::move(ref),
                  .name = std::move(name),
                  .unit = "",
                  .text = std::move(text),
                  .quality = Quality::kDeclared};
  if (item.text.empty()) {
    item.quality = Quality::kMissing;
    item.coverage = 0;
  }
  return item;
}

ReportItem attribute_item(std::string ref, std::string symbol, std::string name, std::string unit,
                          std::optional<double> value) {
  ReportItem item{.ref = std::move(ref),
                  .symbol = std::move(symbol),
                  .name = std::move(name),
                  .unit = std::move(unit),
                  .value = value,
                  .quality = Quality::kDeclared};
  if (!value) {
    item.quality = Quality::kMissing;
    item.coverage = 0;
  }
  return item;
}

ReportItem meter_item(const Consolidated& c) {
  const QuantityInfo& q = info(c.quantity);
  ReportItem item{.ref = std::string(q.ref),
                  .symbol = std::string(q.symbol),
                  .name = std::string(q.name),
                  .unit = std::string(q.unit),
                  .value = c.value,
                  .quality = c.quality,
                  .coverage = c.coverage,
                  .inputs = {std::string(q.id)}};
  if (c.quality == Quality::kIncomplete) {
    item.notes.push_back(std::to_string(c.gaps.size()) + " gap(s) in the readings");
  }
  return item;
}

// The worst quality and the smallest coverage of the inputs.
void combine(ReportItem& item, std::initializer_list<const ReportItem*> inputs) {
  item.quality = Quality::kMeasured;
  item.coverage = 1;
  for (const ReportItem* in : inputs) {
    item.quality = std::max(item.quality, in->quality);
    item.coverage = std::min(item.coverage, in->coverage);
    item.inputs.push_back(in->symbol);
  }
}

// The time an additive quantity's kept readings cover, merged and in order.
std::vector<Span> covered(const Consolidated& c) {
  std::vector<Span> out;
  for (const Piece& p : c.pieces) {
    if (!out.empty() && out.back().end_s >= p.span.start_s) {
      out.back().end_s = std::max(out.back().end_s, p.span.end_s);
    } else {
      out.push_back(p.span);
    }
  }
  return out;
}

std::vector<Span> intersect(const std::vector<Span>& a, const std::vector<Span>& b) {
  std::vector<Span> out;
  for (std::size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    const int64_t from = std::max(a[i].start_s, b[j].start_s);
    const int64_t to = std::min(a[i].end_s, b[j].end_s);
    if (from < to) out.push_back({from, to});
    (a[i].end_s < b[j].end_s ? i : j)++;
  }
  return out;
}

// What `c`'s readings give over `spans` (each reading's part spread evenly
// over its time, as consolidate() prorates).
double sum_over(const Consolidated& c, const std::vector<Span>& spans) {
  double sum = 0;
  for (const Piece& p : c.pieces) {
    const auto length = static_cast<double>(p.span.end_s - p.span.start_s);
    for (const Span& s : spans) {
      const int64_t from = std::max(p.span.start_s, s.start_s);
      const int64_t to = std::min(p.span.end_s, s.end_s);
      if (from < to) sum += p.value * static_cast<double>(to - from) / length;
    }
  }
  return sum;
}

// num / (den x den_scale). When both are metered quantities and one has gaps,
// over the time both cover only: a year of EDC over ten months of EIT is not
// a PUE. The note says which share of the period that is.
ReportItem ratio_item(std::string ref, std::string symbol, std::string name, std::string unit,
                      const ReportItem& num, const ReportItem& den, double den_scale = 1,
                      const Consolidated* num_meter = nullptr,
                      const Consolidated* den_meter = nullptr, int64_t period_seconds = 0) {
  ReportItem item{.ref = std::move(ref),
                  .symbol = std::move(symbol),
                  .name = std::move(name),
                  .unit = std::move(unit)};
  combine(item, {&num, &den});
  if (!num.value || !den.value || !(*den.value > 0)) {
    item.quality = Quality::kMissing;
    if (den.value && *den.value == 0) item.notes.push_back(den.symbol + " is 0");
    return item;
  }
  item.value = *num.value / (*den.value * den_scale);
  if (num_meter && den_meter && period_seconds > 0 && (num.coverage < 1 || den.coverage < 1)) {
    const auto both = intersect(covered(*num_meter), covered(*den_meter));
    int64_t seconds = 0;
    for (const Span& s : both) seconds += s.end_s - s.start_s;
    const double d = sum_over(*den_meter, both);
    if (seconds > 0 && d > 0) {
      item.value = sum_over(*num_meter, both) / (d * den_scale);
      item.coverage = static_cast<double>(seconds) / static_cast<double>(period_seconds);
      item.notes.push_back("over the time both " + num.symbol + " and " + den.symbol +
                           " readings cover");
    }
  }
  return item;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

}  // namespace

Facility facility_from_json(const json& body) {
  if (!body.is_object()) throw InputError("a facility is a JSON object");
  static const std::set<std::string, std::less<>> kKeys = {"id",
                                                           "name",
                                                           "legal_entity",
                                                           "owner",
                                                           "operator",
                                                           "lau_code",
                                                           "type",
                                                           "structure",
                                                           "entry_into_operation",
                                                           "redundancy_electrical",
                                                           "redundancy_cooling",
                                                           "time_zone",
                                                           "grid_zone",
                                                           "floor_area_m2",
                                                           "computer_room_area_m2",
                                                           "installed_it_kw",
                                                           "pdit_is_rated",
                                                           "grid_functions",
                                                           "refrigerants",
                                                           "wue_category",
                                                           "cserv",
                                                           "cstor_pb",
                                                           "supplier_gco2e_per_kwh",
                                                           "sites",
                                                           "hosts"};
  for (const auto& [key, value] : body.items()) {
    if (!kKeys.contains(key)) throw InputError(key + ": unknown key");
  }
  Facility f;
  f.id = text_field(body, "id", true);
  if (f.id.empty() || f.id.size() > 64 || !std::all_of(f.id.begin(), f.id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
      })) {
    throw InputError("id: 1 to 64 characters of a-z 0-9 . _ -");
  }
  f.name = text_field(body, "name", true);
  f.legal_entity = text_field(body, "legal_entity");
  f.owner = text_field(body, "owner");
  f.operator_name = text_field(body, "operator");
  f.lau_code = text_field(body, "lau_code");
  if (body.contains("type")) f.type = text_field(body, "type");
  if (f.type != "enterprise" && f.type != "colocation" && f.type != "co-hosting") {
    throw InputError("type: enterprise, colocation or co-hosting (Annex I 1(d))");
  }
  if (body.contains("structure")) f.structure = text_field(body, "structure");
  if (f.structure != "structure" && f.structure != "group of structures") {
    throw InputError("structure: 'structure' or 'group of structures' (Annex I 1(d))");
  }
  f.entry_into_operation = text_field(body, "entry_into_operation");
  f.redundancy_electrical = text_field(body, "redundancy_electrical");
  f.redundancy_cooling = text_field(body, "redundancy_cooling");
  if (body.contains("time_zone")) f.time_zone = text_field(body, "time_zone");
  zone(f.time_zone);
  if (body.contains("grid_zone")) f.grid_zone = text_field(body, "grid_zone");
  f.floor_area_m2 = number_field(body, "floor_area_m2");
  f.computer_room_area_m2 = number_field(body, "computer_room_area_m2");
  if (const auto it = body.find("installed_it_kw"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) throw InputError("installed_it_kw: a list of {from, kw}");
    for (const json& step : *it) {
      if (!step.is_object() || !step.contains("from")) {
        throw InputError("installed_it_kw: each step is {\"from\": time, \"kw\": number}");
      }
      const auto kw = number_field(step, "kw");
      if (!kw) throw InputError("installed_it_kw: kw is required");
      f.installed_it_kw.push_back({parse_json_time(step.at("from"), "installed_it_kw.from"), *kw});
    }
    std::stable_sort(f.installed_it_kw.begin(), f.installed_it_kw.end(),
                     [](const PowerStep& a, const PowerStep& b) { return a.from_s < b.from_s; });
  }
  if (const auto it = body.find("pdit_is_rated"); it != body.end()) {
    if (!it->is_boolean()) throw InputError("pdit_is_rated: must be true or false");
    f.pdit_is_rated = it->get<bool>();
  }
  f.grid_functions = text_field(body, "grid_functions");
  f.refrigerants = list_field(body, "refrigerants");
  f.wue_category = text_field(body, "wue_category");
  if (!f.wue_category.empty() && f.wue_category != "1" && f.wue_category != "2") {
    throw InputError("wue_category: \"1\" or \"2\" (EN 50600-4-9)");
  }
  f.cserv = number_field(body, "cserv");
  f.cstor_pb = number_field(body, "cstor_pb");
  f.supplier_gco2e_per_kwh = number_field(body, "supplier_gco2e_per_kwh");
  f.sites = list_field(body, "sites");
  f.hosts = list_field(body, "hosts");
  return f;
}

json to_json(const Facility& f) {
  json steps = json::array();
  for (const auto& s : f.installed_it_kw) {
    steps.push_back({{"from", format_time(s.from_s)}, {"kw", s.kw}});
  }
  return {{"id", f.id},
          {"name", f.name},
          {"legal_entity", f.legal_entity},
          {"owner", f.owner},
          {"operator", f.operator_name},
          {"lau_code", f.lau_code},
          {"type", f.type},
          {"structure", f.structure},
          {"entry_into_operation", f.entry_into_operation},
          {"redundancy_electrical", f.redundancy_electrical},
          {"redundancy_cooling", f.redundancy_cooling},
          {"time_zone", f.time_zone},
          {"grid_zone", f.grid_zone},
          {"floor_area_m2", optional_number(f.floor_area_m2)},
          {"computer_room_area_m2", optional_number(f.computer_room_area_m2)},
          {"installed_it_kw", steps},
          {"pdit_is_rated", f.pdit_is_rated},
          {"grid_functions", f.grid_functions},
          {"refrigerants", f.refrigerants},
          {"wue_category", f.wue_category},
          {"cserv", optional_number(f.cserv)},
          {"cstor_pb", optional_number(f.cstor_pb)},
          {"supplier_gco2e_per_kwh", optional_number(f.supplier_gco2e_per_kwh)},
          {"sites", f.sites},
          {"hosts", f.hosts}};
}

Span calendar_year(int year, std::string_view time_zone) {
  if (year < 1970 || year > 9999) throw InputError("year: out of range");
  const auto* tz = zone(time_zone);
  return {local_midnight(tz, date::year{year} / 1 / 1),
          local_midnight(tz, date::year{year + 1} / 1 / 1)};
}

int64_t local_start(std::string_view text, std::string_view time_zone) {
  const auto* tz = zone(time_zone);
  const std::string s(text);
  const auto digits = [&](std::size_t from, std::size_t n, int& out) {
    if (from + n > s.size()) return false;
    out = 0;
    for (std::size_t i = from; i < from + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y = 0, m = 1, d = 1;
  const bool ok = (s.size() == 4 && digits(0, 4, y)) ||
                  (s.size() == 7 && digits(0, 4, y) && s[4] == '-' && digits(5, 2, m)) ||
                  (s.size() == 10 && digits(0, 4, y) && s[4] == '-' && digits(5, 2, m) &&
                   s[7] == '-' && digits(8, 2, d));
  if (!ok) return parse_time(text, "period");
  const date::year_month_day day{date::year{y}, date::month{static_cast<unsigned>(m)},
                                 date::day{static_cast<unsigned>(d)}};
  if (!day.ok() || y < 1970) throw InputError("period: '" + s + "' is not a date");
  return local_midnight(tz, day);
}

std::string local_time_text(int64_t unix_s, std::string_view time_zone) {
  const auto local = zone(time_zone)->to_local(date::sys_seconds{std::chrono::seconds{unix_s}});
  const auto day = date::floor<date::days>(local);
  if (local == day) return date::format("%F", day);
  return date::format("%F %H:%M", date::floor<std::chrono::minutes>(local));
}

std::vector<Span> months_of(Span period, std::string_view time_zone) {
  const auto* tz = zone(time_zone);
  const auto local = tz->to_local(date::sys_seconds{std::chrono::seconds{period.start_s}});
  date::year_month ym{date::year_month_day{date::floor<date::days>(local)}.year(),
                      date::year_month_day{date::floor<date::days>(local)}.month()};
  std::vector<Span> out;
  for (int64_t start = period.start_s; start < period.end_s;) {
    const date::year_month next = ym + date::months{1};
    const int64_t end = std::min(period.end_s, local_midnight(tz, next / 1));
    out.push_back({start, end});
    start = end;
    ym = next;
  }
  return out;
}

std::optional<double> average_pdit_kw(const std::vector<PowerStep>& steps, Span period) {
  double weighted = 0;
  int64_t covered = 0;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const int64_t from = std::max(steps[i].from_s, period.start_s);
    const int64_t to =
        std::min(i + 1 < steps.size() ? steps[i + 1].from_s : period.end_s, period.end_s);
    if (to <= from) continue;
    weighted += steps[i].kw * static_cast<double>(to - from);
    covered += to - from;
  }
  if (covered == 0) return std::nullopt;
  return weighted / static_cast<double>(covered);
}

std::string_view size_category(double kw) {
  if (kw > 10000) return "very large";
  if (kw >= 2000) return "large";
  if (kw >= 1000) return "medium";
  if (kw >= 500) return "small";
  if (kw >= 100) return "very small";
  return "";
}

GridAverage average_intensity(const GridSeries& series, Span span) {
  constexpr int64_t kLastPointHolds = 3600;
  const auto& p = series.points;
  double weighted = 0;
  int64_t covered = 0;
  auto it = std::upper_bound(p.begin(), p.end(), span.start_s,
                             [](int64_t t, const GridPoint& g) { return t < g.time_s; });
  if (it != p.begin()) --it;
  for (; it != p.end() && it->time_s < span.end_s; ++it) {
    const int64_t until =
        std::next(it) != p.end() ? std::next(it)->time_s : it->time_s + kLastPointHolds;
    const int64_t from = std::max(it->time_s, span.start_s);
    const int64_t to = std::min(until, span.end_s);
    if (to <= from) continue;
    weighted += it->gco2e_per_kwh * static_cast<double>(to - from);
    covered += to - from;
  }
  GridAverage out;
  out.coverage = static_cast<double>(covered) / static_cast<double>(span.end_s - span.start_s);
  if (covered > 0) out.gco2e_per_kwh = weighted / static_cast<double>(covered);
  return out;
}

const ReportItem* DatacentreReport::find(std::string_view symbol) const {
  for (const auto& item : items) {
    if (item.symbol == symbol) return &item;
  }
  return nullptr;
}

DatacentreReport build_report(const Facility& f, const std::vector<Reading>& readings,
                              const GridSeries& grid, Span period) {
  DatacentreReport r;
  r.facility = f;
  r.period = period;
  r.meters = consolidate(readings, period);
  {
    const auto local =
        zone(f.time_zone)->to_local(date::sys_seconds{std::chrono::seconds{period.start_s}});
    const int year = static_cast<int>(date::year_month_day{date::floor<date::days>(local)}.year());
    const Span y = calendar_year(year, f.time_zone);
    r.full_year = y == period;
  }
  r.pdit_kw = average_pdit_kw(f.installed_it_kw, period);
  if (r.pdit_kw) {
    r.in_scope = *r.pdit_kw >= kInScopeKw;
    r.size_category = size_category(*r.pdit_kw);
  } else {
    r.warnings.push_back("no installed IT power demand for the period: scope and size unknown");
  }
  auto& items = r.items;
  // Annex I.
  items.push_back(info_item("Annex I 1(a)", "Data centre name", f.name));
  items.push_back(info_item("Annex I 1(b)", "Owner and operator of the data centre",
                            join({f.owner, f.operator_name}, " / ")));
  items.push_back(info_item("Annex I 1(c)", "Location of the data centre (LAU code)", f.lau_code));
  items.push_back(
      info_item("Annex I 1(d)", "Type of data centre", f.type + " data centre, " + f.structure));
  items.push_back(
      info_item("Annex I 1(e)", "Year and month of entry into operation", f.entry_into_operation));
  items.push_back(info_item("Annex I 2(a)", "Electrical infrastructure redundancy level",
                            f.redundancy_electrical));
  items.push_back(
      info_item("Annex I 2(b)", "Cooling infrastructure redundancy level", f.redundancy_cooling));
  // Annex II 1.
  ReportItem pdit = attribute_item(
      "Annex II 1(a)", "PDIT", "Installed information technology power demand", "kW", r.pdit_kw);
  pdit.notes.push_back(f.pdit_is_rated ? "rated IT power demand used"
                                       : "installed IT power demand");
  if (f.installed_it_kw.size() > 1) pdit.notes.push_back("time-weighted average over the period");
  items.push_back(std::move(pdit));
  items.push_back(attribute_item("Annex II 1(b)", "SDC", "Data centre total floor area", "m2",
                                 f.floor_area_m2));
  items.push_back(attribute_item("Annex II 1(c)", "SCR", "Data centre computer room floor area",
                                 "m2", f.computer_room_area_m2));
  const auto meter = [&](Quantity q) { items.push_back(meter_item(r.meters.at(q))); };
  meter(Quantity::kEdc);
  meter(Quantity::kEdcBg);
  meter(Quantity::kEit);
  items.push_back(info_item("Annex II 1(f)", "Electrical grid functions",
                            f.grid_functions.empty() ? "none" : f.grid_functions));
  meter(Quantity::kCbtg);
  meter(Quantity::kWin);
  if (!f.wue_category.empty()) items.back().notes.push_back("WUE category " + f.wue_category);
  meter(Quantity::kWinPot);
  meter(Quantity::kEreuse);
  meter(Quantity::kTwh);
  meter(Quantity::kTinSetpoint);
  items.push_back(info_item("Annex II 1(m)", "Types of refrigerants", join(f.refrigerants, ", ")));
  meter(Quantity::kCdd);
  // ERES-TOT = ERES-GOO + ERES-PPA + ERES-OS (Annex II 1(o)).
  {
    ReportItem tot{.ref = "Annex II 1(o)",
                   .symbol = "ERES-TOT",
                   .name = "Total renewable energy consumption",
                   .unit = "kWh"};
    std::vector<std::string> missing;
    double sum = 0;
    bool any = false;
    tot.quality = Quality::kMeasured;
    for (Quantity q : {Quantity::kEresGoo, Quantity::kEresPpa, Quantity::kEresOs}) {
      const Consolidated& c = r.meters.at(q);
      tot.inputs.emplace_back(info(q).symbol);
      if (!c.value) {
        missing.emplace_back(info(q).symbol);
        continue;
      }
      any = true;
      sum += *c.value;
      tot.quality = std::max(tot.quality, c.quality);
      tot.coverage = std::min(tot.coverage, c.coverage);
    }
    if (any) {
      tot.value = sum;
      if (!missing.empty())
        tot.notes.push_back("no reading of " + join(missing, ", ") + ": not counted");
    } else {
      tot.quality = Quality::kMissing;
      tot.coverage = 0;
    }
    items.push_back(std::move(tot));
  }
  meter(Quantity::kEresGoo);
  meter(Quantity::kEresPpa);
  meter(Quantity::kEresOs);
  // Annex II 2 and 3.
  items.push_back(attribute_item("Annex II 2(a)", "CSERV", "ICT capacity for servers",
                                 "SERT active state performance", f.cserv));
  items.push_back(attribute_item("Annex II 2(b)", "CSTOR", "ICT capacity for storage equipment",
                                 "PB", f.cstor_pb));
  meter(Quantity::kBin);
  meter(Quantity::kBout);
  meter(Quantity::kTinTraffic);
  meter(Quantity::kTout);
  // Annex III. Copies: the vector grows below.
  const ReportItem edc = *r.find("EDC");
  const ReportItem eit = *r.find("EIT");
  const ReportItem win = *r.find("WIN");
  const ReportItem ereuse = *r.find("EREUSE");
  const ReportItem eres = *r.find("ERES-TOT");
  const auto& m = r.meters;
  const int64_t length = period.end_s - period.start_s;
  ReportItem pue = ratio_item("Annex III (a)", "PUE", "Power Usage Effectiveness", "", edc, eit, 1,
                              &m.at(Quantity::kEdc), &m.at(Quantity::kEit), length);
  if (!r.full_year) {
    pue.name = "Power Usage Effectiveness (interim)";
    pue.notes.push_back("interim PUE: the period is not a calendar year (ISO/IEC 30134-2)");
  }
  items.push_back(std::move(pue));
  items.push_back(ratio_item("Annex III (b)", "WUE", "Water Usage Effectiveness", "L/kWh", win, eit,
                             1e-3, &m.at(Quantity::kWin), &m.at(Quantity::kEit), length));
  items.push_back(ratio_item("Annex III (c)", "ERF", "Energy Reuse Factor", "", ereuse, edc, 1,
                             &m.at(Quantity::kEreuse), &m.at(Quantity::kEdc), length));
  ReportItem ref = ratio_item("Annex III (d)", "REF", "Renewable Energy Factor", "", eres, edc);
  if (ref.value && *ref.value > 1) {
    ref.notes.push_back("capped at 1 from " + number_text(*ref.value));
    r.warnings.push_back("REF: renewables (" + number_text(*eres.value) +
                         " kWh) exceed EDC; REF capped at 1");
    ref.value = 1;
  }
  items.push_back(std::move(ref));
  // ISO/IEC 30134-8 CUE.
  {
    ReportItem loc{.ref = "ISO/IEC 30134-8",
                   .symbol = "CUE-LOCATION",
                   .name = "Carbon Usage Effectiveness, location-based",
                   .unit = "kgCO2e/kWh"};
    ReportItem market{.ref = "ISO/IEC 30134-8",
                      .symbol = "CUE-MARKET",
                      .name = "Carbon Usage Effectiveness, market-based",
                      .unit = "kgCO2e/kWh"};
    combine(loc, {&edc, &eit});
    combine(market, {&edc, &eit, &eres});
    if (!grid.points.empty()) {
      r.grid_source = grid.source + " " + grid.version + " (" + grid.basis + ")";
    }
    // kgCO2e of EDC at the grid's intensity, reading by reading.
    double kg = 0;
    double grid_kwh = 0;  // EDC whose time the series covers
    double uncovered_kwh = 0;
    for (const auto& piece : r.meters.at(Quantity::kEdc).pieces) {
      const GridAverage g = average_intensity(grid, piece.span);
      if (!g.gco2e_per_kwh) {
        uncovered_kwh += piece.value;
        continue;
      }
      kg += piece.value * *g.gco2e_per_kwh / 1000;
      grid_kwh += piece.value;
      if (g.coverage < 0.999) uncovered_kwh += piece.value * (1 - g.coverage);
    }
    // CUE = CO2 of EDC / EIT = (CO2 per kWh of EDC) x EDC/EIT, with EDC/EIT
    // as PUE takes it (over the time both readings cover).
    const ReportItem* pue_item = r.find("PUE");
    if (edc.value && *edc.value > 0 && pue_item && pue_item->value && grid_kwh > 0) {
      const double mean_g = kg * 1000 / grid_kwh;  // gCO2e/kWh over EDC's time
      const double edc_per_eit = *pue_item->value;
      loc.value = mean_g / 1000 * edc_per_eit;
      loc.notes.push_back("grid " + number_text(mean_g) + " gCO2e/kWh, " + r.grid_source);
      const double fossil_share = std::max(0.0, 1 - eres.value.value_or(0) / *edc.value);
      const double factor = f.supplier_gco2e_per_kwh.value_or(mean_g);
      market.value = fossil_share * factor / 1000 * edc_per_eit;
      market.notes.push_back(
          f.supplier_gco2e_per_kwh
              ? "supplier factor " + number_text(factor) +
                    " gCO2e/kWh for EDC not covered by ERES-TOT"
              : "grid factor for EDC not covered by ERES-TOT (no supplier factor configured)");
      if (uncovered_kwh > 0) {
        const double share = uncovered_kwh / *edc.value;
        loc.notes.push_back(number_text(share * 100) + " % of EDC outside the grid series");
        loc.quality = std::max(loc.quality, Quality::kIncomplete);
        market.quality = std::max(market.quality, Quality::kIncomplete);
      }
    } else {
      loc.quality = market.quality = Quality::kMissing;
      if (grid.points.empty()) {
        loc.notes.push_back("no grid carbon intensity series for zone " + f.grid_zone);
        market.notes.push_back(loc.notes.back());
      }
    }
    items.push_back(std::move(loc));
    items.push_back(std::move(market));
  }
  for (const auto& o : r.meters.overlaps) {
    r.warnings.push_back(std::string(info(o.quantity).id) + ": a reading [" +
                         format_time(o.dropped.start_s) + ", " + format_time(o.dropped.end_s) +
                         ") overlaps one already counted [" + format_time(o.kept.start_s) + ", " +
                         format_time(o.kept.end_s) + "): left out");
  }
  for (const auto& reset : r.meters.resets) {
    r.warnings.push_back(std::string(info(reset.quantity).id) + ": meter '" + reset.meter +
                         "' went down at " + format_time(reset.at_s) + " (reset or replaced)");
  }
  return r;
}

json to_json(const Consolidation& meters) {
  json quantities = json::array();
  for (const auto& c : meters.quantities) {
    const QuantityInfo& q = info(c.quantity);
    json gaps = json::array();
    for (const auto& g : c.gaps) gaps.push_back({format_time(g.start_s), format_time(g.end_s)});
    quantities.push_back({{"quantity", q.id},
                          {"symbol", q.symbol},
                          {"unit", q.unit},
                          {"value", optional_number(c.value)},
                          {"quality", to_string(c.quality)},
                          {"coverage", c.coverage},
                          {"readings", c.readings_used},
                          {"gaps", gaps}});
  }
  json overlaps = json::array();
  for (const auto& o : meters.overlaps) {
    overlaps.push_back({{"quantity", info(o.quantity).id},
                        {"kept", {format_time(o.kept.start_s), format_time(o.kept.end_s)}},
                        {"dropped", {format_time(o.dropped.start_s), format_time(o.dropped.end_s)}},
                        {"meter", o.dropped_meter}});
  }
  json resets = json::array();
  for (const auto& r : meters.resets) {
    resets.push_back(
        {{"quantity", info(r.quantity).id}, {"meter", r.meter}, {"at", format_time(r.at_s)}});
  }
  return {{"quantities", quantities}, {"overlaps", overlaps}, {"resets", resets}};
}

json to_json(const DatacentreReport& r) {
  json items = json::array();
  for (const auto& i : r.items) {
    json item = {{"ref", i.ref},
                 {"symbol", i.symbol},
                 {"name", i.name},
                 {"unit", i.unit},
                 {"quality", to_string(i.quality)},
                 {"coverage", i.coverage},
                 {"inputs", i.inputs},
                 {"notes", i.notes}};
    if (!i.text.empty()) {
      item["value"] = i.text;
    } else {
      item["value"] = optional_number(i.value);
    }
    items.push_back(std::move(item));
  }
  return {
      {"schema", r.kSchema},
      {"facility", to_json(r.facility)},
      {"period", {{"from", format_time(r.period.start_s)}, {"to", format_time(r.period.end_s)}}},
      {"calendar_year", r.full_year},
      {"scope",
       {{"pdit_kw", optional_number(r.pdit_kw)},
        {"in_scope_2024_1364", r.in_scope},
        {"threshold_kw", kInScopeKw},
        {"size_category", r.size_category}}},
      {"grid_source", r.grid_source},
      {"items", items},
      {"meters", to_json(r.meters)},
      {"warnings", r.warnings}};
}

std::string to_csv(const DatacentreReport& r) {
  std::string out = "ref,symbol,name,unit,value,quality,notes\r\n";
  for (const auto& i : r.items) {
    std::string value = !i.text.empty() ? i.text : i.value ? number_text(*i.value) : "";
    std::vector<std::string> notes = i.notes;
    if (i.quality == Quality::kIncomplete) {
      notes.insert(notes.begin(), "coverage " + number_text(i.coverage * 100) + " %");
    }
    out += csv_field(i.ref) + ',' + csv_field(i.symbol) + ',' + csv_field(i.name) + ',' +
           csv_field(i.unit) + ',' + csv_field(value) + ',' + csv_field(to_string(i.quality)) +
           ',' + csv_field(join(notes, "; ")) + "\r\n";
  }
  return out;
}

std::vector<CategoryAggregate> aggregate(const std::vector<DatacentreReport>& reports) {
  struct Sums {
    std::size_t n = 0;
    double pdit = 0, edc = 0, eit = 0, win = 0, ereuse = 0, eres = 0;
    // EDC-weighted sums of each indicator, and the EDC they weigh.
    double pue_w = 0, pue_edc = 0, wue_w = 0, wue_edc = 0, erf_w = 0, erf_edc = 0, ref_w = 0,
           ref_edc = 0;
    // Pooled: sums over the facilities that have both terms.
    double pue_num = 0, pue_den = 0, wue_num = 0, wue_den = 0, erf_num = 0, erf_den = 0,
           ref_num = 0, ref_den = 0;
  };
  std::map<std::string, Sums> by;
  const auto value = [](const DatacentreReport& r, std::string_view s) -> std::optional<double> {
    const ReportItem* i = r.find(s);
    return i ? i->value : std::nullopt;
  };
  for (const auto& r : reports) {
    Sums& s = by[r.size_category.empty() ? "below 100 kW" : r.size_category];
    ++s.n;
    s.pdit += r.pdit_kw.value_or(0);
    const auto edc = value(r, "EDC"), eit = value(r, "EIT"), win = value(r, "WIN"),
               ereuse = value(r, "EREUSE"), eres = value(r, "ERES-TOT");
    s.edc += edc.value_or(0);
    s.eit += eit.value_or(0);
    s.win += win.value_or(0);
    const auto add = [&](std::string_view kpi, double& w, double& wedc) {
      if (const auto v = value(r, kpi); v && edc) {
        w += *v * *edc;
        wedc += *edc;
      }
    };
    add("PUE", s.pue_w, s.pue_edc);
    add("WUE", s.wue_w, s.wue_edc);
    add("ERF", s.erf_w, s.erf_edc);
    add("REF", s.ref_w, s.ref_edc);
    const auto pool = [](std::optional<double> num, std::optional<double> den, double& n,
                         double& d) {
      if (num && den && *den > 0) {
        n += *num;
        d += *den;
      }
    };
    pool(edc, eit, s.pue_num, s.pue_den);
    pool(win, eit ? std::optional(*eit / 1000) : std::nullopt, s.wue_num, s.wue_den);
    pool(ereuse, edc, s.erf_num, s.erf_den);
    pool(eres ? std::optional(std::min(*eres, edc.value_or(*eres))) : std::nullopt, edc, s.ref_num,
         s.ref_den);
  }
  std::vector<CategoryAggregate> out;
  for (const auto& [category, s] : by) {
    CategoryAggregate a{.category = category, .facilities = s.n};
    a.suppressed = s.n < kMinFacilitiesPerCategory;
    if (!a.suppressed) {
      const auto ratio = [](double n, double d) {
        return d > 0 ? std::optional(n / d) : std::nullopt;
      };
      a.pdit_kw = s.pdit;
      a.edc_kwh = s.edc;
      a.eit_kwh = s.eit;
      a.win_m3 = s.win;
      a.pue_weighted = ratio(s.pue_w, s.pue_edc);
      a.wue_weighted = ratio(s.wue_w, s.wue_edc);
      a.erf_weighted = ratio(s.erf_w, s.erf_edc);
      a.ref_weighted = ratio(s.ref_w, s.ref_edc);
      a.pue_pooled = ratio(s.pue_num, s.pue_den);
      a.wue_pooled = ratio(s.wue_num, s.wue_den);
      a.erf_pooled = ratio(s.erf_num, s.erf_den);
      a.ref_pooled = ratio(s.ref_num, s.ref_den);
    }
    out.push_back(std::move(a));
  }
  return out;
}

json to_json(const std::vector<CategoryAggregate>& aggregates) {
  json out = json::array();
  for (const auto& a : aggregates) {
    json row = {
        {"size_category", a.category}, {"facilities", a.facilities}, {"suppressed", a.suppressed}};
    if (!a.suppressed) {
      row["totals"] = {{"pdit_kw", optional_number(a.pdit_kw)},
                       {"edc_kwh", optional_number(a.edc_kwh)},
                       {"eit_kwh", optional_number(a.eit_kwh)},
                       {"win_m3", optional_number(a.win_m3)}};
      row["edc_weighted_average"] = {{"pue", optional_number(a.pue_weighted)},
                                     {"wue", optional_number(a.wue_weighted)},
                                     {"erf", optional_number(a.erf_weighted)},
                                     {"ref", optional_number(a.ref_weighted)}};
      row["pooled_ratio"] = {{"pue", optional_number(a.pue_pooled)},
                             {"wue", optional_number(a.wue_pooled)},
                             {"erf", optional_number(a.erf_pooled)},
                             {"ref", optional_number(a.ref_pooled)}};
    }
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace vigie::sustainability
