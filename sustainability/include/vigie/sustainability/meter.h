// What a facility's meters say over a period: the quantities of Annex II of
// Commission Delegated Regulation (EU) 2024/1364 that agents cannot measure
// (total facility energy EDC, IT energy at the UPS output EIT, renewables,
// reused heat, water, temperatures, traffic), read as interval or cumulative
// meter readings, consolidated over a reporting period: prorated at its
// boundaries, gaps and overlaps found and reported, never summed twice, and
// a quantity with no reading is missing (no value), never 0.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vigie::sustainability {

// A reading, a facility or a period that cannot be used: the message says
// which field and why.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The metered quantities, with the symbol and unit the regulation writes.
enum class Quantity : uint8_t {
  kEdc,          // Annex II 1(d): total energy consumption, kWh
  kEdcBg,        // 1(d): part of EDC from back-up generators, kWh
  kEit,          // 1(e): IT equipment energy (UPS output), kWh
  kCbtg,         // 1(g): average battery capacity offered to the grid, kW
  kWin,          // 1(h): total water input, m3
  kWinPot,       // 1(i): potable water input, m3
  kWinFresh,     // not in the Annex: fresh (non-potable, non-recycled) water input, m3
  kEreuse,       // 1(j): waste heat reused, kWh
  kTwh,          // 1(k): average waste heat temperature, degC
  kTinSetpoint,  // 1(l): average IT intake air setpoint, degC (symbol TIN)
  kCdd,          // 1(n): cooling degree days, base 21 degC
  kEresGoo,      // 1(p): renewable energy from Guarantees of Origin, kWh
  kEresPpa,      // 1(q): renewable energy from Power Purchasing Agreements, kWh
  kEresOs,       // 1(r): renewable energy from on-site renewables, kWh
  kBin,          // 3(a): incoming traffic bandwidth, GB/s
  kBout,         // 3(b): outgoing traffic bandwidth, GB/s
  kTinTraffic,   // 3(c): incoming data traffic, EB (symbol TIN, as published)
  kTout,         // 3(d): outgoing data traffic, EB
};

struct QuantityInfo {
  Quantity quantity;
  std::string_view id;      // the API's and the CSV's name: "EDC", "TIN-TRAFFIC", ...
  std::string_view symbol;  // as the regulation writes it ("TIN" twice)
  std::string_view name;
  std::string_view unit;  // the report's unit: kWh, m3, degC, kW, GB/s, EB, degree-days
  std::string_view ref;   // "Annex II 1(d)", ...
  // Summed over time (energy, water, traffic, degree-days), or a time-weighted
  // average (temperatures, bandwidths, battery capacity).
  bool additive;
};

const std::vector<QuantityInfo>& quantities();
const QuantityInfo& info(Quantity quantity);
// By id, case-insensitive; nullopt when unknown.
std::optional<Quantity> parse_quantity(std::string_view id);

// Converts `value` in `unit` to the quantity's report unit. Accepted: energy
// J kJ MJ GJ Wh kWh MWh GWh; water L m3; power W kW MW; temperature degC (also
// C, °C); bandwidth GB/s Gbit/s (8 bit a byte); traffic B GB TB PB EB (SI
// prefixes, as the regulation's exabytes); degree-days. Throws InputError for
// a unit of another dimension or an unknown one.
double to_report_unit(Quantity quantity, double value, std::string_view unit);

// How a reading was obtained, best first.
enum class Basis : uint8_t { kMeasured, kBill, kEstimated };
std::string_view to_string(Basis basis);
std::optional<Basis> parse_basis(std::string_view text);

// One meter reading, already in the quantity's report unit.
//  - interval: `value` over [start_s, end_s) (for an averaged quantity, the
//    average over that interval);
//  - cumulative: a meter index read at end_s (start_s ignored); consecutive
//    indexes of the same `meter` make the intervals.
struct Reading {
  Quantity quantity = Quantity::kEdc;
  int64_t start_s = 0;  // Unix seconds, UTC
  int64_t end_s = 0;
  double value = 0;
  bool cumulative = false;
  Basis basis = Basis::kMeasured;
  std::string meter;   // the meter or bill it came from ("" for one meter)
  std::string source;  // free text: "UPS A+B, Socomec Diris", "EDF bill 2025-03"
};

// Throws InputError when the reading cannot be used: a non-finite value, a
// negative one for an additive quantity, or an interval that does not end
// after it starts.
void check(const Reading& reading);

// The data quality of a value, worst last. `declared`: entered by the
// operator (Annex I information, floor areas, installed power); a value is
// `incomplete` when the readings cover less than the whole period,
// `prorated` when a reading was cut at a period boundary, `missing` when no
// reading covers any of it.
enum class Quality : uint8_t {
  kDeclared,
  kMeasured,
  kBill,
  kProrated,
  kEstimated,
  kIncomplete,
  kMissing
};
std::string_view to_string(Quality quality);

struct Span {
  int64_t start_s = 0;
  int64_t end_s = 0;
  bool operator==(const Span&) const = default;
};

// Two readings that cover the same time: the one kept and the one left out
// (the later-starting, or the later-listed at the same start).
struct Overlap {
  Quantity quantity;
  Span kept;
  Span dropped;
  std::string dropped_meter;
};

// A cumulative meter whose index went down (replaced or reset): the interval
// between the two indexes is a gap, not a negative consumption.
struct MeterReset {
  Quantity quantity;
  std::string meter;
  int64_t at_s = 0;
};

// The part of one kept reading inside the period, and its share of the value.
struct Piece {
  Span span;
  double value = 0;
};

// One quantity over a period.
struct Consolidated {
  Quantity quantity;
  std::optional<double> value;  // in the report unit; nullopt: missing
  Quality quality = Quality::kMissing;
  double coverage = 0;            // part of the period the kept readings cover, 0..1
  std::vector<Span> gaps;         // uncovered parts of the period, in order
  std::size_t readings_used = 0;  // readings that overlap the period
  std::vector<Piece> pieces;      // additive quantities: what each reading gave, in order
};

struct Consolidation {
  std::vector<Consolidated> quantities;  // every quantity, in enum order
  std::vector<Overlap> overlaps;
  std::vector<MeterReset> resets;
  const Consolidated& at(Quantity quantity) const;
};

// Consolidates `readings` (any order, any quantity) over [period.start_s,
// period.end_s): cumulative indexes turned into intervals per (quantity,
// meter); intervals sorted, a reading overlapping one already kept left out
// and reported; each kept reading counted for the part of it inside the
// period (value x overlap / duration for an additive quantity; a time-weighted
// average otherwise). Throws InputError for an empty period or an invalid
// reading (check()).
Consolidation consolidate(const std::vector<Reading>& readings, Span period);

// Readings as the API and `vigie facility import` take them. Every bad row
// is reported (its number and why) and none is taken then: a file is stored
// whole or not at all. Throws InputError with one line per bad row.
//  - JSON: {"readings": [...]} or a bare list, each {"quantity": "EDC",
//    "from": t, "to": t, "value": n, "unit": "kWh", "basis": "measured",
//    "meter": "", "source": ""}; a cumulative index: {"cumulative": true,
//    "at": t, ...}. Times RFC 3339 or Unix seconds. unit defaults to the
//    report unit, basis to measured.
//  - CSV (RFC 4180, ',' or ';'): a header naming quantity, value, and from
//    and to (interval) or at (cumulative index); optional unit, basis, meter,
//    source, kind ("interval" or "cumulative").
std::vector<Reading> parse_readings_json(std::string_view text);
std::vector<Reading> parse_readings_csv(std::string_view text);

// RFC 4180 fields of CSV text, line by line (quoted fields may hold the
// separator, quotes doubled, and line breaks); blank lines skipped. Throws
// InputError for an unterminated quote.
std::vector<std::vector<std::string>> parse_csv_rows(std::string_view text, char separator);

}  // namespace vigie::sustainability
