// The printable report page (reports.h report_html).
#include <cmath>
#include <sstream>

#include "reports/reports.h"
#include "vigie/sustainability/time.h"

namespace vigie::collector {
namespace {

namespace sus = vigie::sustainability;

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A figure with thousands separated (narrow no-break spaces) and `decimals`.
std::string figure(double v, int decimals) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(decimals);
  out << std::fabs(v);
  std::string s = out.str();
  const auto dot = s.find('.');
  std::string whole = s.substr(0, dot);
  const std::string rest = dot == std::string::npos ? "" : s.substr(dot);
  for (int i = static_cast<int>(whole.size()) - 3; i > 0; i -= 3)
    whole.insert(static_cast<std::size_t>(i), "\u202f");
  return (v < 0 ? "−" : "") + whole + rest;
}

std::string number(double v) {
  const double a = std::fabs(v);
  return figure(v, a >= 1000 ? 0 : a >= 10 ? 2 : a >= 0.01 ? 3 : 6);
}

std::string kwh(uint64_t joules) { return figure(static_cast<double>(joules) / 3.6e6, 1); }

std::string badge(sus::Quality q, double coverage) {
  std::string label(sus::to_string(q));
  if (q == sus::Quality::kIncomplete) label += " " + figure(coverage * 100, 1) + " %";
  return "<span class=\"q q-" + std::string(sus::to_string(q)) + "\">" + escape(label) + "</span>";
}

constexpr const char* kStyle = R"css(
body { font: 14px/1.45 system-ui, sans-serif; color: #1d2433; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ccd; }
.sub { color: #5b6475; margin-top: 0; }
.scope { display: flex; gap: 2rem; flex-wrap: wrap; background: #f3f5f9; padding: .75rem 1rem; border-radius: 6px; }
.scope div b { display: block; font-size: 1.1rem; }
table { border-collapse: collapse; width: 100%; margin-top: .5rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e3e6ee; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th { background: #eef1f6; font-weight: 600; }
tr.kpi td { background: #f7faf7; font-weight: 600; }
.q { font-size: .8rem; padding: .05rem .4rem; border-radius: 3px; white-space: nowrap; }
.q-declared { background: #eef1f6; } .q-measured { background: #d9f2e0; } .q-bill { background: #e0ecfa; } .q-prorated { background: #fff1c9; }
.q-estimated { background: #ffe0c2; } .q-incomplete { background: #ffd2cc; } .q-missing { background: #e4e4e4; color: #555; }
.warn { background: #fff4e5; border-left: 4px solid #e08a00; padding: .5rem 1rem; }
.notes { color: #5b6475; font-size: .85rem; }
footer { margin-top: 2rem; color: #5b6475; font-size: .8rem; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } tr { break-inside: avoid; } a { color: inherit; } }
)css";

void datacentre_section(std::string& out, const sus::DatacentreReport& r) {
  const std::string& tz = r.facility.time_zone;
  out += "<section id=\"scope\"><div class=\"scope\">";
  out += "<div>Installed IT power (PDIT)<b>" +
         (r.pdit_kw ? figure(*r.pdit_kw, 0) + " kW" : "unknown") + "</b></div>";
  out += "<div>Regulation (EU) 2024/1364 (Art. 1, ≥ 500 kW)<b>" +
         std::string(r.in_scope ? "in scope" : "not in scope") + "</b></div>";
  out += "<div>Annex IV size category<b>" +
         escape(r.size_category.empty() ? "below 100 kW" : r.size_category) + "</b></div>";
  out += "<div>Period<b>" +
         std::string(r.full_year ? "calendar year" : "interim (not a calendar year)") +
         "</b></div>";
  out += "</div></section>";
  if (!r.warnings.empty()) {
    out += "<section class=\"warn\" id=\"warnings\"><b>Warnings</b><ul>";
    for (const auto& w : r.warnings) out += "<li>" + escape(w) + "</li>";
    out += "</ul></section>";
  }
  out += "<h2 id=\"items\">Information and indicators (Annexes I–III, ISO/IEC 30134)</h2>";
  out +=
      "<table><thead><tr><th>Ref.</th><th>Symbol</th><th>Name</th><th>Value</th><th>Unit</th>"
      "<th>Quality</th><th>Notes</th></tr></thead><tbody>";
  for (const auto& i : r.items) {
    const bool kpi = i.ref.starts_with("Annex III") || i.ref.starts_with("ISO");
    out += kpi ? "<tr class=\"kpi\">" : "<tr>";
    out += "<td>" + escape(i.ref) + "</td><td>" + escape(i.symbol) + "</td><td>" + escape(i.name) +
           "</td>";
    if (!i.text.empty()) {
      out += "<td>" + escape(i.text) + "</td>";
    } else {
      out += "<td class=\"n\">" + (i.value ? number(*i.value) : "—") + "</td>";
    }
    out += "<td>" + escape(i.unit) + "</td><td>" + badge(i.quality, i.coverage) +
           "</td><td class=\"notes\">";
    for (std::size_t k = 0; k < i.notes.size(); ++k) out += (k ? "; " : "") + escape(i.notes[k]);
    out += "</td></tr>";
  }
  out += "</tbody></table>";
  std::string gaps;
  for (const auto& c : r.meters.quantities) {
    if (c.quality == sus::Quality::kMissing || c.gaps.empty()) continue;
    gaps += "<li>" + escape(sus::info(c.quantity).id) + ": ";
    for (std::size_t k = 0; k < c.gaps.size() && k < 5; ++k) {
      gaps += (k ? ", " : "") + escape(sus::local_time_text(c.gaps[k].start_s, tz)) + " → " +
              escape(sus::local_time_text(c.gaps[k].end_s, tz));
    }
    if (c.gaps.size() > 5) gaps += ", and " + std::to_string(c.gaps.size() - 5) + " more";
    gaps += "</li>";
  }
  if (!gaps.empty()) out += "<h2 id=\"gaps\">Gaps in the meter readings</h2><ul>" + gaps + "</ul>";
}

void communities_section(std::string& out, const sus::CommunityReport& c, const std::string& tz) {
  out += "<h2 id=\"communities\">Communities (by " + escape(c.group_by) + ")</h2>";
  out += "<table><thead><tr><th>" + escape(c.group_by == "project" ? "Project" : "Slurm account") +
         "</th><th>Node energy (kWh)</th><th>Facility energy (kWh)</th><th>Share of EDC</th>"
         "<th>CPU hours</th><th>Operational (kgCO2e)</th><th>Embodied "
         "(kgCO2e)</th></tr></thead><tbody>";
  const double total = static_cast<double>(c.facility_joules);
  const auto share = [&](uint64_t j) {
    return total > 0 ? figure(100.0 * static_cast<double>(j) / total, 1) + " %" : "—";
  };
  for (const auto& t : c.totals) {
    out += "<tr><td>" + escape(t.community) + "</td><td class=\"n\">" + kwh(t.node_joules) +
           "</td><td class=\"n\">" + kwh(t.facility_joules) + "</td><td class=\"n\">" +
           share(t.facility_joules) + "</td><td class=\"n\">" + figure(t.cpu_hours, 1) +
           "</td><td class=\"n\">" + (t.operational_kgco2e ? number(*t.operational_kgco2e) : "—") +
           "</td><td class=\"n\">" + number(t.embodied_kgco2e) + "</td></tr>";
  }
  if (total > 0) {
    out += "<tr><td><i>idle (no job)</i></td><td></td><td class=\"n\">" + kwh(c.idle_joules) +
           "</td><td class=\"n\">" + share(c.idle_joules) + "</td><td></td><td></td><td></td></tr>";
    out += "<tr><td><i>unallocated</i></td><td></td><td class=\"n\">" + kwh(c.unallocated_joules) +
           "</td><td class=\"n\">" + share(c.unallocated_joules) +
           "</td><td></td><td></td><td></td></tr>";
    out +=
        "<tr class=\"kpi\"><td>Total = EDC of the months distributed</td><td></td><td "
        "class=\"n\">" +
        kwh(c.facility_joules) + "</td><td class=\"n\">100 %</td><td></td><td></td><td></td></tr>";
  }
  out +=
      "</tbody></table><p class=\"notes\">Idle policy: " + escape(sus::to_string(c.policy)) + ". ";
  out +=
      "Each month's metered facility energy (EDC) is distributed over the node energy the agents "
      "measured "
      "for each community (facility factor = EDC / node energy); communities, idle and unallocated "
      "add up "
      "to EDC to the joule. Embodied carbon: the servers' manufacturing footprint over their "
      "lifetime, per "
      "core-hour used.</p>";
  if (!c.missing_months.empty()) {
    out += "<p class=\"warn\">Months without an EDC reading, not distributed: ";
    for (std::size_t k = 0; k < c.missing_months.size(); ++k) {
      out += (k ? ", " : "") + escape(c.missing_months[k]);
    }
    out += "</p>";
  }
  std::string notes;
  for (const auto& m : c.months) {
    for (const auto& n : m.notes) {
      notes +=
          "<li>" + escape(sus::local_time_text(m.span.start_s, tz)) + ": " + escape(n) + "</li>";
    }
  }
  if (!notes.empty()) out += "<ul class=\"notes\">" + notes + "</ul>";
}

}  // namespace

std::string report_html(const sus::Facility& f, sus::Span period,
                        const sus::DatacentreReport* report,
                        const sus::CommunityReport* communities) {
  std::string out = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">";
  out += "<title>" + escape(f.name) + " — energy performance report</title><style>";
  out += kStyle;
  out += "</style></head><body><header><h1>" + escape(f.name) + " — energy performance report</h1>";
  out += "<p class=\"sub\">" +
         escape(f.legal_entity.empty() ? f.id : f.legal_entity + " · " + f.id) + " · " +
         escape(sus::local_time_text(period.start_s, f.time_zone)) + " → " +
         escape(sus::local_time_text(period.end_s, f.time_zone)) + " (" + escape(f.time_zone) +
         ")</p></header>";
  if (report) datacentre_section(out, *report);
  if (communities) communities_section(out, *communities, f.time_zone);
  out +=
      "<h2 id=\"method\">Method</h2><ul class=\"notes\">"
      "<li>KPIs of Commission Delegated Regulation (EU) 2024/1364, Annex III: PUE = EDC / EIT; "
      "WUE = WIN / EIT with EIT in MWh (L/kWh); ERF = EREUSE / EDC; REF = ERES-TOT / EDC (capped "
      "at 1). "
      "ISO/IEC 30134-2, -9, -6, -3.</li>"
      "<li>CUE (ISO/IEC 30134-8) = kgCO2e of EDC / EIT: location-based from the grid series "
      "averaged over "
      "each EDC reading; market-based counts ERES-TOT as zero-emission.</li>"
      "<li>Readings are prorated by time at the period's boundaries; overlapping readings are "
      "reported and "
      "counted once; a quantity without any reading is missing, never zero.</li>"
      "<li>Quality: declared (entered by the operator), measured, bill, prorated, estimated, "
      "incomplete "
      "(the share of the period covered), missing.</li>"
      "</ul>";
  out += "<footer>Vigie · " + std::string(sus::DatacentreReport::kSchema) +
         " · print this page to PDF from the browser.</footer></body></html>";
  return out;
}

}  // namespace vigie::collector
