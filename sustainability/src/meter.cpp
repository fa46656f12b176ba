#include "vigie/sustainability/meter.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <utility>

namespace vigie::sustainability {
namespace {

// The rows of Annex II (Commission Delegated Regulation (EU) 2024/1364) that
// are metered; WIN-FRESH is ISO/IEC 30134-9's, kept for the WUE of sites that
// report it.
const std::vector<QuantityInfo> kQuantities = {
    {Quantity::kEdc, "EDC", "EDC", "Total energy consumption", "kWh", "Annex II 1(d)", true},
    {Quantity::kEdcBg, "EDC-BG", "EDC-BG", "Total energy consumption from back-up generators",
     "kWh", "Annex II 1(d)", true},
    {Quantity::kEit, "EIT", "EIT", "Total energy consumption of information technology equipment",
     "kWh", "Annex II 1(e)", true},
    {Quantity::kCbtg, "CBTG", "CBtG", "Average battery capacity", "kW", "Annex II 1(g)", false},
    {Quantity::kWin, "WIN", "WIN", "Total water input", "m3", "Annex II 1(h)", true},
    {Quantity::kWinPot, "WIN-POT", "WIN-POT", "Total potable water input", "m3", "Annex II 1(i)",
     true},
    {Quantity::kWinFresh, "WIN-FRESH", "WIN-FRESH", "Total fresh water input", "m3",
     "ISO/IEC 30134-9", true},
    {Quantity::kEreuse, "EREUSE", "EREUSE", "Waste heat reused", "kWh", "Annex II 1(j)", true},
    {Quantity::kTwh, "TWH", "TWH", "Average waste heat temperature", "degC", "Annex II 1(k)",
     false},
    {Quantity::kTinSetpoint, "TIN-SETPOINT", "TIN",
     "Average setpoint information technology equipment intake air temperature", "degC",
     "Annex II 1(l)", false},
    {Quantity::kCdd, "CDD", "CDD", "Cooling degree days", "degree-days", "Annex II 1(n)", true},
    {Quantity::kEresGoo, "ERES-GOO", "ERES-GOO",
     "Total renewable energy consumption from Guarantees of Origin", "kWh", "Annex II 1(p)", true},
    {Quantity::kEresPpa, "ERES-PPA", "ERES-PPA",
     "Total renewable energy consumption from Power Purchasing Agreements", "kWh", "Annex II 1(q)",
     true},
    {Quantity::kEresOs, "ERES-OS", "ERES-OS",
     "Total renewable energy consumption from on-site renewables", "kWh", "Annex II 1(r)", true},
    {Quantity::kBin, "BIN", "BIN", "Incoming traffic bandwidth", "GB/s", "Annex II 3(a)", false},
    {Quantity::kBout, "BOUT", "BOUT", "Outgoing traffic bandwidth", "GB/s", "Annex II 3(b)", false},
    {Quantity::kTinTraffic, "TIN-TRAFFIC", "TIN", "Incoming data traffic", "EB", "Annex II 3(c)",
     true},
    {Quantity::kTout, "TOUT", "TOUT", "Outgoing data traffic", "EB", "Annex II 3(d)", true},
};

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

struct UnitFactor {
  std::string_view unit;
  double factor;  // to the report unit
};

// Factors to each report unit.
const std::map<std::string_view, std::vector<UnitFactor>>& unit_table() {
  static const std::map<std::string_view, std::vector<UnitFactor>> table = {
      {"kWh",
       {{"J", 1 / 3.6e6},
        {"kJ", 1 / 3.6e3},
        {"MJ", 1 / 3.6},
        {"GJ", 1e3 / 3.6},
        {"Wh", 1e-3},
        {"kWh", 1},
        {"MWh", 1e3},
        {"GWh", 1e6}}},
      {"m3", {{"m3", 1}, {"m³", 1}, {"L", 1e-3}, {"l", 1e-3}}},
      {"kW", {{"W", 1e-3}, {"kW", 1}, {"MW", 1e3}}},
      {"degC", {{"degC", 1}, {"C", 1}, {"°C", 1}}},
      {"GB/s", {{"GB/s", 1}, {"Gbit/s", 1.0 / 8}, {"Gb/s", 1.0 / 8}}},
      {"EB", {{"B", 1e-18}, {"GB", 1e-9}, {"TB", 1e-6}, {"PB", 1e-3}, {"EB", 1}}},
      {"degree-days", {{"degree-days", 1}, {"DD", 1}}},
  };
  return table;
}

int rank(Quality q) { return static_cast<int>(q); }

Quality quality_of(Basis basis) {
  switch (basis) {
    case Basis::kMeasured:
      return Quality::kMeasured;
    case Basis::kBill:
      return Quality::kBill;
    case Basis::kEstimated:
      return Quality::kEstimated;
  }
  return Quality::kEstimated;
}

// Cumulative indexes of one (quantity, meter) → intervals; a decrease is a reset.
void add_cumulative(std::vector<Reading> indexes, std::vector<Reading>& intervals,
                    std::vector<MeterReset>& resets) {
  std::stable_sort(indexes.begin(), indexes.end(),
                   [](const Reading& a, const Reading& b) { return a.end_s < b.end_s; });
  for (std::size_t i = 1; i < indexes.size(); ++i) {
    const Reading& before = indexes[i - 1];
    const Reading& after = indexes[i];
    if (after.end_s == before.end_s) continue;  // the same index read twice
    if (after.value < before.value) {
      resets.push_back({after.quantity, after.meter, after.end_s});
      continue;
    }
    Reading interval = after;
    interval.cumulative = false;
    interval.start_s = before.end_s;
    interval.value = after.value - before.value;
    interval.basis = std::max(before.basis, after.basis);
    intervals.push_back(std::move(interval));
  }
}

}  // namespace

const std::vector<QuantityInfo>& quantities() { return kQuantities; }

const QuantityInfo& info(Quantity quantity) {
  return kQuantities.at(static_cast<std::size_t>(quantity));
}

std::optional<Quantity> parse_quantity(std::string_view id) {
  for (const auto& q : kQuantities) {
    if (iequal(q.id, id)) return q.quantity;
  }
  return std::nullopt;
}

double to_report_unit(Quantity quantity, double value, std::string_view unit) {
  const QuantityInfo& q = info(quantity);
  const auto& factors = unit_table().at(q.unit);
  for (const auto& f : factors) {
    if (f.unit == unit) return value * f.factor;
  }
  for (const auto& f : factors) {  // case-insensitively when unambiguous (kwh, mwh)
    if (iequal(f.unit, unit) && f.unit != "l") return value * f.factor;
  }
  throw InputError("unit '" + std::string(unit) + "' is not one of " + std::string(q.id) +
                   " (report unit " + std::string(q.unit) + ")");
}

std::string_view to_string(Basis basis) {
  switch (basis) {
    case Basis::kMeasured:
      return "measured";
    case Basis::kBill:
      return "bill";
    case Basis::kEstimated:
      return "estimated";
  }
  return "estimated";
}

std::optional<Basis> parse_basis(std::string_view text) {
  for (Basis b : {Basis::kMeasured, Basis::kBill, Basis::kEstimated}) {
    if (iequal(to_string(b), text)) return b;
  }
  return std::nullopt;
}

std::string_view to_string(Quality quality) {
  switch (quality) {
    case Quality::kDeclared:
      return "declared";
    case Quality::kMeasured:
      return "measured";
    case Quality::kBill:
      return "bill";
    case Quality::kProrated:
      return "prorated";
    case Quality::kEstimated:
      return "estimated";
    case Quality::kIncomplete:
      return "incomplete";
    case Quality::kMissing:
      return "missing";
  }
  return "missing";
}

void check(const Reading& r) {
  const QuantityInfo& q = info(r.quantity);
  if (!std::isfinite(r.value)) throw InputError(std::string(q.id) + ": the value is not a number");
  if (q.additive && r.value < 0) {
    throw InputError(std::string(q.id) + ": a negative value (" + std::to_string(r.value) +
                     ") for a quantity summed over time");
  }
  if (!r.cumulative && r.end_s <= r.start_s) {
    throw InputError(std::string(q.id) + ": the interval must end after it starts");
  }
  if (r.cumulative && !q.additive) {
    throw InputError(std::string(q.id) + ": an averaged quantity has no cumulative index");
  }
}

const Consolidated& Consolidation::at(Quantity quantity) const {
  return quantities.at(static_cast<std::size_t>(quantity));
}

Consolidation consolidate(const std::vector<Reading>& readings, Span period) {
  if (period.end_s <= period.start_s) throw InputError("the period must end after it starts");
  Consolidation out;
  std::vector<std::vector<Reading>> intervals(kQuantities.size());
  std::map<std::pair<Quantity, std::string>, std::vector<Reading>> indexes;
  for (const Reading& r : readings) {
    check(r);
    if (r.cumulative) {
      indexes[{r.quantity, r.meter}].push_back(r);
    } else {
      intervals[static_cast<std::size_t>(r.quantity)].push_back(r);
    }
  }
  for (auto& [key, list] : indexes) {
    add_cumulative(std::move(list), intervals[static_cast<std::size_t>(key.first)], out.resets);
  }
  const auto length = static_cast<double>(period.end_s - period.start_s);
  for (const QuantityInfo& q : kQuantities) {
    auto& list = intervals[static_cast<std::size_t>(q.quantity)];
    std::stable_sort(list.begin(), list.end(),
                     [](const Reading& a, const Reading& b) { return a.start_s < b.start_s; });
    Consolidated c{.quantity = q.quantity};
    double sum = 0;
    double weighted_seconds = 0;
    int64_t covered_until = period.start_s;  // the kept readings cover up to here
    int64_t kept_end = INT64_MIN;
    Span kept_span;
    Quality worst = Quality::kMeasured;
    bool prorated = false;
    double covered = 0;
    for (const Reading& r : list) {
      if (r.start_s < kept_end) {
        out.overlaps.push_back({q.quantity, kept_span, {r.start_s, r.end_s}, r.meter});
        continue;
      }
      kept_end = r.end_s;
      kept_span = {r.start_s, r.end_s};
      const int64_t from = std::max(r.start_s, period.start_s);
      const int64_t to = std::min(r.end_s, period.end_s);
      if (to <= from) continue;
      ++c.readings_used;
      if (from > covered_until) c.gaps.push_back({covered_until, from});
      covered_until = to;
      const auto inside = static_cast<double>(to - from);
      covered += inside;
      const auto duration = static_cast<double>(r.end_s - r.start_s);
      if (inside < duration) prorated = true;
      if (q.additive) {
        const double part = r.value * inside / duration;
        sum += part;
        c.pieces.push_back({{from, to}, part});
      } else {
        sum += r.value * inside;
        weighted_seconds += inside;
      }
      worst = std::max(worst, quality_of(r.basis),
                       [](Quality a, Quality b) { return rank(a) < rank(b); });
    }
    if (c.readings_used > 0) {
      if (covered_until < period.end_s) c.gaps.push_back({covered_until, period.end_s});
      c.value = q.additive ? sum : sum / weighted_seconds;
      c.coverage = covered / length;
      c.quality = worst;
      if (prorated && rank(worst) < rank(Quality::kProrated)) c.quality = Quality::kProrated;
      if (!c.gaps.empty()) c.quality = Quality::kIncomplete;
    } else {
      c.gaps.push_back(period);
    }
    out.quantities.push_back(std::move(c));
  }
  return out;
}

}  // namespace vigie::sustainability
