#include "vigie/sustainability/datacentre.h"

#include <gtest/gtest.h>

namespace vigie::sustainability {
namespace {

constexpr int64_t kYear2025Paris = 1735686000;  // 2025-01-01T00:00:00+01:00
constexpr int64_t kYear2026Paris = 1767222000;

Facility facility(double kw = 800) {
  Facility f;
  f.id = "dc1";
  f.name = "Mesocentre A";
  f.owner = "Université X";
  f.lau_code = "FR-34172";
  f.installed_it_kw = {{0, kw}};
  return f;
}

Reading reading(Quantity q, double value, Span span = {kYear2025Paris, kYear2026Paris}) {
  return {.quantity = q, .start_s = span.start_s, .end_s = span.end_s, .value = value};
}

std::vector<Reading> year_readings() {
  return {reading(Quantity::kEdc, 1'500'000),   reading(Quantity::kEit, 1'000'000),
          reading(Quantity::kWin, 1'800),       reading(Quantity::kEreuse, 150'000),
          reading(Quantity::kEresGoo, 600'000), reading(Quantity::kEresPpa, 300'000),
          reading(Quantity::kEresOs, 0)};
}

double value(const DatacentreReport& r, std::string_view symbol) {
  const ReportItem* item = r.find(symbol);
  EXPECT_NE(item, nullptr) << symbol;
  return item && item->value ? *item->value : -1;
}

TEST(Datacentre, AnnexIIIFormulasOnFixedInputs) {
  const auto r = build_report(facility(), year_readings(), {}, calendar_year(2025, "Europe/Paris"));
  EXPECT_TRUE(r.full_year);
  EXPECT_DOUBLE_EQ(value(r, "PUE"), 1.5);  // EDC / EIT
  EXPECT_DOUBLE_EQ(value(r, "WUE"), 1.8);  // 1 800 m3 / 1 000 MWh = 1.8 L/kWh
  EXPECT_DOUBLE_EQ(value(r, "ERF"), 0.1);  // EREUSE / EDC
  EXPECT_DOUBLE_EQ(value(r, "ERES-TOT"), 900'000);
  EXPECT_DOUBLE_EQ(value(r, "REF"), 0.6);  // ERES-TOT / EDC
  EXPECT_EQ(r.find("PUE")->quality, Quality::kMeasured);
  EXPECT_EQ(r.find("PUE")->inputs, (std::vector<std::string>{"EDC", "EIT"}));
  EXPECT_EQ(r.find("WUE")->unit, "L/kWh");
  EXPECT_TRUE(r.warnings.empty());
}

TEST(Datacentre, RenewablesAboveConsumptionCapREFAtOneWithAWarning) {
  auto readings = year_readings();
  readings.push_back(reading(Quantity::kEresOs, 700'000, {kYear2025Paris, kYear2025Paris + 10}));
  readings.erase(readings.begin() + 6);  // the 0 on-site reading
  const auto r = build_report(facility(), readings, {}, calendar_year(2025, "Europe/Paris"));
  EXPECT_DOUBLE_EQ(value(r, "REF"), 1);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("capped"), std::string::npos);
}

TEST(Datacentre, MissingWaterGivesANullWueFlaggedMissingNeverZero) {
  auto readings = year_readings();
  readings.erase(readings.begin() + 2);
  const auto r = build_report(facility(), readings, {}, calendar_year(2025, "Europe/Paris"));
  EXPECT_FALSE(r.find("WIN")->value.has_value());
  EXPECT_FALSE(r.find("WUE")->value.has_value());
  EXPECT_EQ(r.find("WUE")->quality, Quality::kMissing);
  const auto json = to_json(r);
  for (const auto& item : json["items"]) {
    if (item["symbol"] == "WUE") EXPECT_TRUE(item["value"].is_null());
  }
  EXPECT_NE(to_csv(r).find("Annex III (b),WUE,Water Usage Effectiveness,L/kWh,,missing"),
            std::string::npos);
}

TEST(Datacentre, AShortPeriodGivesAnInterimPue) {
  const Span q1{kYear2025Paris, kYear2025Paris + 90 * 86400};
  const auto r = build_report(
      facility(), {reading(Quantity::kEdc, 300, q1), reading(Quantity::kEit, 200, q1)}, {}, q1);
  EXPECT_FALSE(r.full_year);
  EXPECT_DOUBLE_EQ(value(r, "PUE"), 1.5);
  EXPECT_NE(r.find("PUE")->name.find("interim"), std::string::npos);
}

TEST(Datacentre, ScopeAndSizeCategoryAtTheEdges) {
  EXPECT_EQ(size_category(99.9), "");
  EXPECT_EQ(size_category(100), "very small");
  EXPECT_EQ(size_category(499.99), "very small");
  EXPECT_EQ(size_category(500), "small");
  EXPECT_EQ(size_category(1000), "medium");
  EXPECT_EQ(size_category(2000), "large");
  EXPECT_EQ(size_category(10000), "large");
  EXPECT_EQ(size_category(10000.5), "very large");
  const Span year = calendar_year(2025, "Europe/Paris");
  EXPECT_FALSE(build_report(facility(499.99), {}, {}, year).in_scope);
  EXPECT_TRUE(build_report(facility(500), {}, {}, year).in_scope);
}

TEST(Datacentre, InstalledPowerIsTheTimeWeightedAverage) {
  const Span year = calendar_year(2025, "Europe/Paris");
  // 400 kW, then 1 000 kW from the year's half-way point: 700 kW, in scope.
  Facility f = facility();
  f.installed_it_kw = {{0, 400}, {year.start_s + (year.end_s - year.start_s) / 2, 1000}};
  const auto r = build_report(f, {}, {}, year);
  EXPECT_NEAR(*r.pdit_kw, 700, 1e-6);
  EXPECT_TRUE(r.in_scope);
  EXPECT_EQ(r.size_category, "small");
  EXPECT_FALSE(average_pdit_kw({{year.end_s, 5}}, year).has_value());
}

TEST(Datacentre, CalendarPeriodsAreLocal) {
  const Span y = calendar_year(2025, "Europe/Paris");
  EXPECT_EQ(y.start_s, kYear2025Paris);
  EXPECT_EQ(y.end_s, kYear2026Paris);
  const auto months = months_of(y, "Europe/Paris");
  ASSERT_EQ(months.size(), 12u);
  EXPECT_EQ(months[2].end_s - months[2].start_s, 31 * 86400 - 3600);  // March: summer time starts
  EXPECT_EQ(months[9].end_s - months[9].start_s, 31 * 86400 + 3600);  // October: it ends
  EXPECT_EQ(months.back().end_s, y.end_s);
  EXPECT_THROW(calendar_year(2025, "Mars/Olympus"), InputError);
}

TEST(Datacentre, CueLocationAndMarketBasedAreTwoLabelledFigures) {
  const Span year = calendar_year(2025, "Europe/Paris");
  GridSeries grid{.zone = "FR", .source = "RTE eCO2mix", .version = "2025", .basis = "direct"};
  grid.points = {{year.start_s - 3600, 50}, {year.start_s + 86400 * 100, 50}};
  for (int64_t t = year.start_s; t < year.end_s; t += 3600) grid.points.push_back({t, 50});
  std::sort(grid.points.begin(), grid.points.end(),
            [](const GridPoint& a, const GridPoint& b) { return a.time_s < b.time_s; });
  const auto r = build_report(facility(),
                              {reading(Quantity::kEdc, 1000), reading(Quantity::kEit, 800),
                               reading(Quantity::kEresGoo, 400)},
                              grid, year);
  EXPECT_NEAR(value(r, "CUE-LOCATION"), 1000 * 0.050 / 800, 1e-12);
  EXPECT_NEAR(value(r, "CUE-MARKET"), 600 * 0.050 / 800, 1e-12);
  EXPECT_EQ(r.grid_source, "RTE eCO2mix 2025 (direct)");
  Facility supplier = facility();
  supplier.supplier_gco2e_per_kwh = 20;
  const auto s = build_report(supplier,
                              {reading(Quantity::kEdc, 1000), reading(Quantity::kEit, 800),
                               reading(Quantity::kEresGoo, 400)},
                              grid, year);
  EXPECT_NEAR(value(s, "CUE-MARKET"), 600 * 0.020 / 800, 1e-12);
  // No series: missing, never 0.
  const auto none = build_report(facility(), year_readings(), {}, year);
  EXPECT_EQ(none.find("CUE-LOCATION")->quality, Quality::kMissing);
  EXPECT_FALSE(none.find("CUE-LOCATION")->value.has_value());
}

TEST(Datacentre, TheGridAverageWeighsEachStepByItsTime) {
  GridSeries g;
  g.points = {{0, 100}, {30, 40}};
  const auto a = average_intensity(g, {0, 60});
  EXPECT_DOUBLE_EQ(*a.gco2e_per_kwh, 70);
  EXPECT_DOUBLE_EQ(a.coverage, 1);
  const auto before = average_intensity(g, {-60, 0});
  EXPECT_FALSE(before.gco2e_per_kwh.has_value());
}

TEST(Datacentre, CsvIsInTheRegulationsOrderAndQuoted) {
  Facility f = facility();
  f.refrigerants = {"R-134a", "R-1234ze"};
  const auto r = build_report(f, year_readings(), {}, calendar_year(2025, "Europe/Paris"));
  const std::string csv = to_csv(r);
  EXPECT_EQ(csv.substr(0, csv.find('\r')), "ref,symbol,name,unit,value,quality,notes");
  EXPECT_LT(csv.find("Annex I 1(a)"), csv.find("Annex II 1(a)"));
  EXPECT_LT(csv.find("Annex II 1(d),EDC"), csv.find("Annex II 1(e),EIT"));
  EXPECT_LT(csv.find("Annex II 3(d)"), csv.find("Annex III (a)"));
  EXPECT_NE(csv.find("\"R-134a, R-1234ze\""), std::string::npos);
  EXPECT_NE(csv.find("Annex II 1(d),EDC,Total energy consumption,kWh,1500000,measured,"),
            std::string::npos);
  EXPECT_EQ(to_json(r)["schema"], "vigie.datacentre-report/1");
}

TEST(Datacentre, FacilitiesAreReadStrictly) {
  const auto f = facility_from_json(nlohmann::json::parse(R"({
    "id": "dc-montpellier", "name": "Salle machine", "time_zone": "Europe/Paris",
    "installed_it_kw": [{"from": "2024-01-01", "kw": 450}, {"from": "2025-06-01T00:00:00Z", "kw": 900}],
    "floor_area_m2": 1200, "refrigerants": ["R-410A"], "sites": ["montpellier"]})"));
  EXPECT_EQ(f.installed_it_kw.size(), 2u);
  EXPECT_EQ(f.installed_it_kw[1].from_s, 1748736000);
  EXPECT_EQ(facility_from_json(to_json(f)).installed_it_kw[1].kw, 900);
  const auto refused = [](const char* text, const char* field) {
    try {
      facility_from_json(nlohmann::json::parse(text));
      ADD_FAILURE() << text;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  refused(R"({"name": "x"})", "id");
  refused(R"({"id": "A B", "name": "x"})", "id");
  refused(R"({"id": "a", "name": "x", "color": 1})", "color");
  refused(R"({"id": "a", "name": "x", "time_zone": "Nowhere/Here"})", "time_zone");
  refused(R"({"id": "a", "name": "x", "floor_area_m2": -3})", "floor_area_m2");
  refused(R"({"id": "a", "name": "x", "type": "hyperscale"})", "type");
  refused(R"({"id": "a", "name": "x", "installed_it_kw": [{"from": "tomorrow", "kw": 3}]})",
          "from");
}

DatacentreReport category_report(double kw, double edc, double eit) {
  const Span year = calendar_year(2025, "Europe/Paris");
  return build_report(facility(kw), {reading(Quantity::kEdc, edc), reading(Quantity::kEit, eit)},
                      {}, year);
}

TEST(Datacentre, AnnexIVAggregatesWeightedAndPooledDifferAndSmallCategoriesAreSuppressed) {
  // Three small facilities: PUE 2 (EDC 200), 1.25 (EDC 1 000), 1.5 (EDC 300).
  const std::vector<DatacentreReport> reports = {
      category_report(600, 200, 100), category_report(700, 1000, 800),
      category_report(900, 300, 200), category_report(5000, 10, 5), category_report(6000, 10, 5)};
  const auto agg = aggregate(reports);
  ASSERT_EQ(agg.size(), 2u);
  const CategoryAggregate& large = agg[0];
  EXPECT_EQ(large.category, "large");
  EXPECT_EQ(large.facilities, 2u);
  EXPECT_TRUE(large.suppressed);
  EXPECT_FALSE(large.pue_weighted.has_value());
  EXPECT_FALSE(large.edc_kwh.has_value());
  const CategoryAggregate& small = agg[1];
  EXPECT_FALSE(small.suppressed);
  EXPECT_DOUBLE_EQ(*small.pdit_kw, 2200);
  EXPECT_DOUBLE_EQ(*small.edc_kwh, 1500);
  // EDC-weighted average: (200x2 + 1000x1.25 + 300x1.5) / 1500 = 1.4.
  EXPECT_DOUBLE_EQ(*small.pue_weighted, 1.4);
  // Pooled: 1500 / 1100.
  EXPECT_DOUBLE_EQ(*small.pue_pooled, 1500.0 / 1100.0);
  const auto json = to_json(agg);
  EXPECT_FALSE(json[0].contains("totals"));
  EXPECT_TRUE(json[1]["edc_weighted_average"]["pue"].is_number());
}

}  // namespace
}  // namespace vigie::sustainability

namespace vigie::sustainability {
namespace {

TEST(Datacentre, PeriodBoundariesAreLocalMidnightsOrInstants) {
  EXPECT_EQ(local_start("2025", "Europe/Paris"), kYear2025Paris);
  EXPECT_EQ(local_start("2025-04", "Europe/Paris"), 1743458400);  // 2025-04-01T00:00+02:00
  EXPECT_EQ(local_start("2025-04-02", "Europe/Paris"), 1743544800);
  EXPECT_EQ(local_start("2025-04-01T00:00:00Z", "Europe/Paris"), 1743465600);
  EXPECT_THROW(local_start("2025-13", "Europe/Paris"), InputError);
  EXPECT_THROW(local_start("Q1", "Europe/Paris"), InputError);
}

}  // namespace
}  // namespace vigie::sustainability

namespace vigie::sustainability {
namespace {

// A year of EDC over the half-year EIT covers is not a PUE: the ratio is
// taken over the time both cover, and says so.
TEST(Datacentre, ARatioWithAGapIsTakenOverTheTimeBothCover) {
  const Span year = calendar_year(2025, "Europe/Paris");
  const int64_t half = year.start_s + (year.end_s - year.start_s) / 2;
  const auto r = build_report(facility(),
                              {reading(Quantity::kEdc, 1500, {year.start_s, half}),
                               reading(Quantity::kEdc, 2500, {half, year.end_s}),
                               reading(Quantity::kEit, 1000, {year.start_s, half})},
                              {}, year);
  const ReportItem& pue = *r.find("PUE");
  EXPECT_DOUBLE_EQ(*pue.value, 1.5);  // not 4000 / 1000
  EXPECT_EQ(pue.quality, Quality::kIncomplete);
  EXPECT_NEAR(pue.coverage, 0.5, 1e-9);
  EXPECT_NE(pue.notes.back().find("over the time both EDC and EIT readings cover"),
            std::string::npos);
  // Both complete: the plain ratio, no note.
  const auto full = build_report(facility(), year_readings(), {}, year);
  EXPECT_TRUE(full.find("PUE")->notes.empty());
}

}  // namespace
}  // namespace vigie::sustainability
