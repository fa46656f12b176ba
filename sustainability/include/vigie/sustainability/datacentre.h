// The datacentre report a sustainability officer files every year: the
// information items of Annex I and the KPIs of Annex II of Commission
// Delegated Regulation (EU) 2024/1364 (for EU Energy Efficiency Directive
// 2023/1791 art. 12), the indicators of its Annex III, which are those of
// ISO/IEC 30134 (-2 PUE, -9 WUE, -6 ERF, -3 REF), and ISO/IEC 30134-8 CUE,
// location-based and market-based. Every figure carries its data quality and
// the inputs it came from.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/sustainability/meter.h"

namespace vigie::sustainability {

// Installed IT power demand from `from_s` on (Annex II 1(a)), kW.
struct PowerStep {
  int64_t from_s = 0;
  double kw = 0;
};

// A machine room or data centre.
struct Facility {
  std::string id;            // [a-z0-9._-], 1..64 characters
  std::string name;          // Annex I 1(a)
  std::string legal_entity;  // who reports (in France: per legal entity)
  std::string owner;         // Annex I 1(b), name and contact
  std::string operator_name;
  std::string lau_code;  // Annex I 1(c), Eurostat LAU code
  // Annex I 1(d): "enterprise", "colocation" or "co-hosting", and
  // "structure" or "group of structures".
  std::string type = "enterprise";
  std::string structure = "structure";
  std::string entry_into_operation;             // Annex I 1(e), "YYYY-MM"
  std::string redundancy_electrical;            // Annex I 2(a), "2N", "N+1 / 2N / N"...
  std::string redundancy_cooling;               // Annex I 2(b)
  std::string time_zone = "Europe/Paris";       // IANA; periods are local calendar ones
  std::string grid_zone = "FR";                 // which grid carbon intensity series
  std::optional<double> floor_area_m2;          // SDC, Annex II 1(b)
  std::optional<double> computer_room_area_m2;  // SCR, Annex II 1(c)
  std::vector<PowerStep> installed_it_kw;       // PDIT over time, ascending
  bool pdit_is_rated = false;  // the rated IT power demand is used instead (1(a) 2nd para.)
  std::string grid_functions;  // Annex II 1(f), free text ("" = none)
  std::vector<std::string> refrigerants;  // Annex II 1(m)
  std::string wue_category;               // "1" or "2" (EN 50600-4-9), 1(h)
  std::optional<double> cserv;            // Annex II 2(a), SERT active state performance
  std::optional<double> cstor_pb;         // Annex II 2(b), PB
  // Market-based CUE: the supplier's emission factor for the energy not
  // covered by renewables (gCO2e/kWh); the grid's when unset.
  std::optional<double> supplier_gco2e_per_kwh;
  std::vector<std::string> sites;  // the Vigie sites it hosts
  std::vector<std::string> hosts;  // or the hosts, when a site spans facilities
};

// Reads and writes a facility as the API's JSON (fields as above, snake_case;
// installed_it_kw as [{"from": RFC 3339 or Unix seconds, "kw": n}]). Throws
// InputError naming the field for a missing id or name, a wrong type, an
// unknown time zone, a negative area or power, or an unknown key.
Facility facility_from_json(const nlohmann::json& body);
nlohmann::json to_json(const Facility& facility);

// [Jan 1, next Jan 1) of `year` in `time_zone`, and [from, to) of any month
// or quarter. Throws InputError for an unknown zone.
Span calendar_year(int year, std::string_view time_zone);
// A period boundary in `time_zone`: "2025" (Jan 1), "2025-03" (March 1),
// "2025-03-15" (that day), each at local midnight, or an RFC 3339 instant.
// `to` is exclusive: from=2025-01&to=2025-04 is the first quarter. Throws
// InputError for anything else or an unknown zone.
int64_t local_start(std::string_view text, std::string_view time_zone);
// `unix_s` as a local date "2025-01-01" in `time_zone` when it is a local
// midnight, else "2025-08-01 01:00".
std::string local_time_text(int64_t unix_s, std::string_view time_zone);
// The calendar months that `period` meets, each clipped to it, in order.
std::vector<Span> months_of(Span period, std::string_view time_zone);

// Time-weighted average of the installed IT power demand over `period` (Annex
// II 1(a): "a weighted average shall be used"); nullopt with no step at or
// before the period's end.
std::optional<double> average_pdit_kw(const std::vector<PowerStep>& steps, Span period);

// Article 1: the regulation applies at an installed IT power demand of at
// least 500 kW.
inline constexpr double kInScopeKw = 500;
// Annex IV size categories: "very small" 100-500 kW, "small" 500-1 000 kW,
// "medium" 1-2 MW, "large" 2-10 MW, "very large" > 10 MW; "" below 100 kW.
// A boundary belongs to the upper category (500 kW is "small", as it is in
// scope), except 10 MW, which the Annex puts in "large".
std::string_view size_category(double pdit_kw);

// A grid carbon intensity series as stored (gCO2e/kWh), a step function: each
// point holds until the next, the last one for up to an hour.
struct GridPoint {
  int64_t time_s = 0;
  double gco2e_per_kwh = 0;
};
struct GridSeries {
  std::string zone;               // "FR"
  std::string source;             // "RTE eCO2mix", "Electricity Maps", ...
  std::string version;            // the file's own version or the import's date
  std::string basis;              // "direct" or "life-cycle"
  std::vector<GridPoint> points;  // ascending
};
// The average intensity over [from, to) and the part of it the series covers.
struct GridAverage {
  std::optional<double> gco2e_per_kwh;
  double coverage = 0;
};
GridAverage average_intensity(const GridSeries& series, Span span);

// One line of the report: an Annex I item (text), an Annex II KPI or an
// indicator (number).
struct ReportItem {
  std::string ref;     // "Annex II 1(d)", "ISO/IEC 30134-8"
  std::string symbol;  // "EDC"; "" for Annex I items
  std::string name;
  std::string unit;
  std::optional<double> value;  // numbers; nullopt when missing or textual
  std::string text;             // Annex I values, refrigerants...
  Quality quality = Quality::kMeasured;
  double coverage = 1;
  std::vector<std::string> inputs;  // symbols it was computed from
  std::vector<std::string> notes;
};

struct DatacentreReport {
  static constexpr std::string_view kSchema = "vigie.datacentre-report/1";
  Facility facility;
  Span period;
  bool full_year = false;  // a calendar year: the regulation's period
  std::optional<double> pdit_kw;
  bool in_scope = false;  // Article 1
  std::string size_category;
  std::vector<ReportItem> items;  // Annex I, II, III, then CUE, in that order
  Consolidation meters;
  std::string grid_source;  // the series used for CUE: "source version (basis)"
  std::vector<std::string> warnings;
  const ReportItem* find(std::string_view symbol) const;
};

// Builds the report of `facility` over `period` from its meter readings and
// the grid series of its zone (may be empty: CUE is then missing).
// PUE = EDC/EIT, WUE = WIN/EIT with EIT in MWh (L/kWh), ERF = EREUSE/EDC,
// REF = ERES-TOT/EDC (Annex III (a)-(d)); REF above 1 is capped at 1 with a
// warning (renewables counted beyond consumption); ERES-TOT = ERES-GOO +
// ERES-PPA + ERES-OS (Annex II 1(o)). CUE (ISO/IEC 30134-8) = kgCO2e of EDC /
// EIT: location-based with the grid intensity averaged over each EDC reading;
// market-based counting ERES-TOT as zero-emission and the rest at the
// supplier's factor (the grid's when unset). A period that is not a calendar
// year gives an "interim PUE" (ISO/IEC 30134-2 measures PUE over 12 months).
DatacentreReport build_report(const Facility& facility, const std::vector<Reading>& readings,
                              const GridSeries& grid, Span period);

// Per quantity: value, unit, quality, coverage and gaps; the overlaps and
// meter resets (what `vigie facility check` shows).
nlohmann::json to_json(const Consolidation& meters);
nlohmann::json to_json(const DatacentreReport& report);
// RFC 4180 CSV, the header `ref,symbol,name,unit,value,quality,notes`, one
// line per item in the regulation's order.
std::string to_csv(const DatacentreReport& report);

// Annex IV aggregates of several facilities' reports (the federation's
// view): per size category, the count, totals of PDIT, EDC, EIT and WIN, the
// EDC-weighted averages of PUE, WUE, ERF and REF, and the pooled ratios
// (sum EDC / sum EIT, ...), labelled apart: they differ and both are right. A
// category with fewer than three facilities is suppressed (its figures left
// out), as Annex IV publishes only categories of at least three.
struct CategoryAggregate {
  std::string category;
  std::size_t facilities = 0;
  bool suppressed = false;
  std::optional<double> pdit_kw, edc_kwh, eit_kwh, win_m3;
  std::optional<double> pue_weighted, wue_weighted, erf_weighted, ref_weighted;
  std::optional<double> pue_pooled, wue_pooled, erf_pooled, ref_pooled;
};
inline constexpr std::size_t kMinFacilitiesPerCategory = 3;
std::vector<CategoryAggregate> aggregate(const std::vector<DatacentreReport>& reports);
nlohmann::json to_json(const std::vector<CategoryAggregate>& aggregates);

}  // namespace vigie::sustainability
