// The sustainability reports in the collector: the FacilityStore conformance
// suite on both backends (SQLite and a real PostgreSQL); a synthetic year of
// meter readings, grid intensity and agent energy giving the same reports
// from both; the routes with every role; the printable page in headless
// Chromium (tests/dashboards/report_page_check.mjs).
#include "reports/reports.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "http/handler.h"
#include "metrics.h"
#include "reports/report_metrics.h"
#include "storage/postgres_store.h"
#include "storage/sqlite_store.h"
#include "support/browser_check.h"
#include "support/exposition.h"
#include "support/footprint_fixture.h"
#include "support/postgres_instance.h"
#include "support/sample_batch.h"
#include "vigie/collector/service.h"
#include "vigie/protocol/http_client.h"
#include "vigie/sustainability/time.h"

namespace vigie::collector {
namespace {

namespace fs = std::filesystem;
namespace sus = vigie::sustainability;
using nlohmann::json;
using testing::PostgresInstance;

constexpr int64_t k2025 = 1735686000;  // 2025-01-01T00:00:00+01:00
constexpr int64_t k2026 = 1767222000;
constexpr int64_t kDay = 86400;

sus::Facility facility() {
  return sus::facility_from_json(json::parse(R"({
    "id": "meso", "name": "Mésocentre <Sud>", "legal_entity": "Université X",
    "owner": "Université X, dsi@univ-x.fr", "operator": "Mésocentre", "lau_code": "34172",
    "entry_into_operation": "2012-09", "redundancy_electrical": "2N", "redundancy_cooling": "N+1",
    "time_zone": "Europe/Paris", "grid_zone": "FR", "floor_area_m2": 900,
    "computer_room_area_m2": 400, "installed_it_kw": [{"from": "2020-01-01", "kw": 620}],
    "refrigerants": ["R-1234ze"], "wue_category": "1", "sites": ["site-a"]})"));
}

// A year: daily EDC and EIT (EIT missing 1-10 August), monthly cumulative
// water indexes, monthly reused heat, yearly Guarantees of Origin; no
// potable water reading at all.
std::vector<sus::Reading> year_readings() {
  std::vector<sus::Reading> out;
  for (int64_t t = k2025; t < k2026; t += kDay) {
    const double season = 1.0 + 0.2 * ((t - k2025) / kDay % 7) / 6.0;
    out.push_back({.quantity = sus::Quantity::kEdc,
                   .start_s = t,
                   .end_s = t + kDay,
                   .value = 12000 * season,
                   .meter = "TGBT"});
    const bool august_gap = t >= 1754001000 && t < 1754001000 + 10 * kDay;
    if (!august_gap) {
      out.push_back({.quantity = sus::Quantity::kEit,
                     .start_s = t,
                     .end_s = t + kDay,
                     .value = 9000 * season,
                     .meter = "UPS"});
    }
  }
  const auto months = sus::months_of({k2025, k2026}, "Europe/Paris");
  double index = 5000;
  out.push_back({.quantity = sus::Quantity::kWin,
                 .end_s = k2025,
                 .value = index,
                 .cumulative = true,
                 .meter = "water"});
  for (const auto& m : months) {
    index += 150;
    out.push_back({.quantity = sus::Quantity::kWin,
                   .end_s = m.end_s,
                   .value = index,
                   .cumulative = true,
                   .basis = sus::Basis::kBill,
                   .meter = "water"});
    out.push_back({.quantity = sus::Quantity::kEreuse,
                   .start_s = m.start_s,
                   .end_s = m.end_s,
                   .value = 20000,
                   .meter = "heat"});
  }
  out.push_back({.quantity = sus::Quantity::kEresGoo,
                 .start_s = k2025,
                 .end_s = k2026,
                 .value = 1'500'000,
                 .basis = sus::Basis::kBill,
                 .source = "GO registry"});
  return out;
}

sus::GridSeries grid() {
  sus::GridSeries g{
      .zone = "FR", .source = "RTE eCO2mix", .version = "2025-consolidated", .basis = "life-cycle"};
  for (int64_t t = k2025 - 3600; t < k2026; t += 3600) {
    g.points.push_back({t, 30 + static_cast<double>((t / 3600) % 24)});
  }
  return g;
}

// Every month, on site-a's node1 and node2 and on site-b's node9 (not in
// the facility): astro, bio and what no job used.
void store_agent_year(Store& store) {
  uint64_t sequence = 1;
  const auto months = sus::months_of({k2025, k2026}, "Europe/Paris");
  for (std::size_t m = 0; m < months.size(); ++m) {
    for (const auto& [site, host] :
         {std::pair{"site-a", "node1"}, {"site-a", "node2"}, {"site-b", "node9"}}) {
      auto batch = testing::agent_batch(host, sequence++);
      batch.site = site;
      const uint64_t mid = static_cast<uint64_t>((months[m].start_s + months[m].end_s) / 2);
      for (const auto& [account, kwh] :
           {std::pair{"astro", 60000.0 + 1000.0 * static_cast<double>(m)},
            {"bio", 40000.0},
            {"", 50000.0}}) {
        auto e = testing::job_energy(std::string(account) + "-" + std::to_string(m), mid,
                                     kwh * 3.6e6, 0, false);
        e.workload.account = account;
        if (*account == '\0') e.workload.kind = protocol::WorkloadKind::kUnattributed;
        e.cpu_seconds = kwh * 10;
        batch.workload_energy.push_back(e);
      }
      ASSERT_EQ(store.store_batch(batch, 1).status, StoreOutcome::Status::kStored);
    }
  }
}

enum class Backend { kSqlite, kPostgres };

class FacilityStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kPostgres) {
      postgres_.emplace();
      store_ = std::make_unique<PostgresStore>(postgres_->create_database());
    } else {
      store_ = std::make_unique<SqliteStore>((dir_.path() / "collector.db").string());
    }
    facilities_ = store_->facility_store();
    ASSERT_NE(facilities_, nullptr);
  }
  testing::TempDir dir_;
  std::optional<PostgresInstance> postgres_;
  std::unique_ptr<Store> store_;
  FacilityStore* facilities_ = nullptr;
};

TEST_P(FacilityStoreTest, FacilitiesAreCreatedReplacedAndListed) {
  auto f = facility();
  facilities_->put_facility(f, 1);
  f.name = "Renamed";
  facilities_->put_facility(f, 2);
  auto other = facility();
  other.id = "annex";
  facilities_->put_facility(other, 3);
  ASSERT_EQ(facilities_->facilities().size(), 2u);
  EXPECT_EQ(facilities_->facilities()[0].id, "annex");
  EXPECT_EQ(facilities_->facility("meso")->name, "Renamed");
  EXPECT_EQ(facilities_->facility("meso")->installed_it_kw[0].kw, 620);
  EXPECT_FALSE(facilities_->facility("nowhere").has_value());
}

TEST_P(FacilityStoreTest, ReadingsImportedTwiceAreStoredOnce) {
  const auto readings = year_readings();
  EXPECT_EQ(facilities_->add_readings("meso", readings, 1), readings.size());
  EXPECT_EQ(facilities_->add_readings("meso", readings, 2), 0u);
  // A corrected value replaces the stored one.
  auto corrected = readings[0];
  corrected.value = 1;
  EXPECT_EQ(facilities_->add_readings("meso", {corrected}, 3), 0u);
  const auto january = facilities_->readings("meso", k2025, k2025 + kDay);
  const auto edc = std::find_if(january.begin(), january.end(), [](const sus::Reading& r) {
    return r.quantity == sus::Quantity::kEdc && !r.cumulative;
  });
  ASSERT_NE(edc, january.end());
  EXPECT_EQ(edc->value, 1);
  EXPECT_EQ(edc->meter, "TGBT");
  // Cumulative indexes around the period come with it, to make its intervals.
  const auto water = std::count_if(january.begin(), january.end(),
                                   [](const sus::Reading& r) { return r.cumulative; });
  EXPECT_EQ(water, 13);
  EXPECT_TRUE(facilities_->readings("other", k2025, k2026).empty());
}

TEST_P(FacilityStoreTest, GridPointsAreUpsertedAndReadWithThePointBefore) {
  auto g = grid();
  facilities_->put_grid_points(g);
  g.points = {{k2025 + 7200, 99}};
  g.version = "2025-corrected";
  facilities_->put_grid_points(g);
  const auto read = facilities_->grid_series("FR", "life-cycle", k2025 + 1800, k2025 + 3 * 3600);
  ASSERT_EQ(read.points.size(), 3u);
  EXPECT_EQ(read.points[0].time_s, k2025);  // the point in force at the start
  EXPECT_EQ(read.points[2].gco2e_per_kwh, 99);
  EXPECT_EQ(read.version, "2025-corrected");
  EXPECT_TRUE(facilities_->grid_series("FR", "direct", k2025, k2026).points.empty());
}

TEST_P(FacilityStoreTest, AccountEnergyIsSummedPerSiteHostAndAccount) {
  store_agent_year(*store_);
  const auto rows = facilities_->account_energy(static_cast<uint64_t>(k2025) * 1'000'000'000,
                                                static_cast<uint64_t>(k2026) * 1'000'000'000);
  ASSERT_EQ(rows.size(), 9u);  // 3 hosts x (astro, bio, "")
  EXPECT_EQ(rows[0].site, "site-a");
  EXPECT_EQ(rows[0].host, "node1");
  EXPECT_EQ(rows[0].account, "");
  EXPECT_DOUBLE_EQ(rows[0].joules, 12 * 50000.0 * 3.6e6);
  EXPECT_DOUBLE_EQ(rows[2].cpu_seconds, 12 * 40000.0 * 10);
}

INSTANTIATE_TEST_SUITE_P(Backends, FacilityStoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) {
                           return info.param == Backend::kSqlite ? "SQLite" : "PostgreSQL";
                         });

void load_year(Store& store) {
  FacilityStore& f = *store.facility_store();
  f.put_facility(facility(), 1);
  f.add_readings("meso", year_readings(), 1);
  f.put_grid_points(grid());
  store_agent_year(store);
}

TEST(Reports, ASyntheticYearGivesTheSameReportsOnSqliteAndPostgres) {
  testing::TempDir dir;
  SqliteStore sqlite((dir.path() / "collector.db").string());
  PostgresInstance pg;
  PostgresStore postgres(pg.create_database());
  json reports[2];
  int i = 0;
  for (Store* store : std::initializer_list<Store*>{&sqlite, &postgres}) {
    load_year(*store);
    ReportBuilder builder(*store->facility_store(), {.projects = {{"astro", "universe"}}});
    const auto f = *store->facility_store()->facility("meso");
    const sus::Span year = sus::calendar_year(2025, f.time_zone);
    const auto datacentre = builder.datacentre(f, year);
    const auto communities = builder.communities(f, year, "account", sus::IdlePolicy::kSeparate);
    reports[i++] = {{"datacentre", sus::to_json(datacentre)},
                    {"communities", sus::to_json(communities)},
                    {"projects", sus::to_json(builder.communities(
                                     f, year, "project", sus::IdlePolicy::kProportional))}};
  }
  EXPECT_EQ(reports[0].dump(), reports[1].dump());

  const json& d = reports[0]["datacentre"];
  std::map<std::string, json> by_symbol;
  for (const auto& item : d["items"]) {
    if (!item["symbol"].get<std::string>().empty()) by_symbol[item["symbol"]] = item;
  }
  EXPECT_TRUE(d["calendar_year"]);
  EXPECT_TRUE(d["scope"]["in_scope_2024_1364"]);
  EXPECT_EQ(d["scope"]["size_category"], "small");
  EXPECT_EQ(by_symbol["EDC"]["quality"], "measured");
  EXPECT_EQ(by_symbol["EIT"]["quality"], "incomplete");  // the August gap
  EXPECT_NEAR(by_symbol["EIT"]["coverage"].get<double>(), 355.0 / 365, 1e-9);
  EXPECT_EQ(by_symbol["PUE"]["quality"], "incomplete");
  EXPECT_NEAR(by_symbol["WIN"]["value"].get<double>(), 12 * 150, 1e-9);
  EXPECT_EQ(by_symbol["WIN"]["quality"], "bill");
  EXPECT_TRUE(by_symbol["WIN-POT"]["value"].is_null());
  EXPECT_EQ(by_symbol["WIN-POT"]["quality"], "missing");
  EXPECT_NEAR(by_symbol["ERF"]["value"].get<double>(),
              12 * 20000 / by_symbol["EDC"]["value"].get<double>(), 1e-12);
  EXPECT_TRUE(by_symbol["CUE-LOCATION"]["value"].is_number());
  EXPECT_EQ(d["grid_source"], "RTE eCO2mix 2025-consolidated (life-cycle)");

  // Each month: communities + idle + unallocated = EDC, to the joule; site-b's
  // node9 counts nowhere.
  const json& c = reports[0]["communities"];
  ASSERT_EQ(c["months"].size(), 12u);
  for (std::size_t m = 0; m < 12; ++m) {
    const json& month = c["months"][m];
    uint64_t sum =
        month["idle_joules"].get<uint64_t>() + month["unallocated_joules"].get<uint64_t>();
    for (const auto& row : month["communities"]) sum += row["facility_joules"].get<uint64_t>();
    EXPECT_EQ(sum, month["facility_joules"].get<uint64_t>()) << month["from"];
    EXPECT_NEAR(month["node_kwh"].get<double>(), 2 * (60000 + 40000 + 50000) + 2000.0 * m, 1e-6);
    EXPECT_GT(month["facility_factor"].get<double>(), 1.2);
    EXPECT_LT(month["facility_factor"].get<double>(), 1.5);
  }
  ASSERT_EQ(c["totals"].size(), 2u);
  EXPECT_EQ(c["totals"][0]["community"], "astro");
  EXPECT_EQ(reports[0]["projects"]["totals"][1]["community"], "universe");
  EXPECT_EQ(reports[0]["projects"]["idle_kwh"], 0);
}

// The year to date as gauges, for Grafana; a facility removed takes its
// series with it.
TEST(Reports, TheYearToDateIsExportedAsGauges) {
  testing::TempDir dir;
  SqliteStore store((dir.path() / "collector.db").string());
  load_year(store);
  ReportBuilder builder(*store.facility_store(), {});
  prometheus::Registry registry;
  ReportMetrics gauges(builder, *store.facility_store(), registry, std::chrono::seconds(0));
  const auto exposition = [&] {
    return prometheus::TextSerializer().Serialize(registry.Collect());
  };
  ASSERT_TRUE(gauges.refresh(k2026 - 1));
  const std::string text = exposition();
  using integration::find_sample;
  const auto pue = find_sample(text, R"(vigie_facility_kpi{facility="meso",kpi="pue"})");
  ASSERT_TRUE(pue) << text;
  EXPECT_GT(*pue, 1.2);
  EXPECT_TRUE(find_sample(text, R"(vigie_facility_kpi{facility="meso",kpi="cue_location"})"));
  EXPECT_FALSE(find_sample(text, R"(vigie_facility_kpi{facility="meso",kpi="wue_potable"})"));
  EXPECT_NEAR(
      *find_sample(text, R"(vigie_facility_report_coverage{facility="meso",quantity="EIT"})"),
      355.0 / 365, 1e-4);
  const double edc =
      *find_sample(text, R"(vigie_facility_energy_kwh{facility="meso",quantity="EDC"})");
  const double shares =
      *integration::sum_samples(text, "vigie_community_energy_kwh", R"(facility="meso")");
  EXPECT_NEAR(shares, edc, 1e-6 * edc);  // communities + idle + unallocated = EDC
  EXPECT_TRUE(find_sample(
      text, R"(vigie_community_co2e_kg{community="astro",facility="meso",scope="embodied"})"));
  // The Grafana dashboard: the classic model's rules, a unit on every panel,
  // and every metric it queries exported here.
  std::ifstream file(std::string(VIGIE_SOURCE_DIR) +
                     "/dashboards/grafana/vigie-sustainability.json");
  const json dashboard = json::parse(file);
  EXPECT_TRUE(dashboard["id"].is_null());
  EXPECT_EQ(dashboard["uid"], "vigie-sustainability");
  EXPECT_FALSE(dashboard.contains("__inputs"));
  EXPECT_EQ(dashboard["templating"]["list"][0]["type"], "datasource");
  int queries = 0;
  for (const auto& panel : dashboard["panels"]) {
    if (panel["type"] == "row") continue;
    EXPECT_FALSE(panel["fieldConfig"]["defaults"].value("unit", "").empty()) << panel["title"];
    for (const auto& target : panel["targets"]) {
      const std::string expr = target["expr"];
      EXPECT_EQ(target["datasource"]["uid"], "${datasource}") << expr;
      const auto name = expr.substr(expr.find("vigie_"), expr.find('{') - expr.find("vigie_"));
      EXPECT_NE(text.find("\n" + name + "{"), std::string::npos) << name << " is not exported";
      ++queries;
    }
  }
  EXPECT_GE(queries, 10);

  // An hour into the year no job has run yet: the communities' series go.
  ASSERT_TRUE(gauges.refresh(k2025 + 3600));
  const std::string early = exposition();
  EXPECT_TRUE(find_sample(early, R"(vigie_facility_energy_kwh{facility="meso",quantity="EDC"})"));
  EXPECT_FALSE(find_sample(
      early, R"(vigie_community_co2e_kg{community="astro",facility="meso",scope="embodied"})"))
      << early;
}

// The routes, with every role, through the handler.
class ReportsApiTest : public ::testing::Test {
 protected:
  ReportsApiTest() {
    config_.database_path = (dir_.path() / "collector.db").string();
    for (const char* role :
         {"admin", "sustainability", "operator", "csirt", "user:1001", "project:astro"}) {
      auto principal = parse_role(role);
      principal->name = role;
      config_.api.tokens.push_back({sha256(std::string("t-") + role), *principal});
    }
    store_ = std::make_unique<SqliteStore>(config_.database_path);
    handler_ = std::make_unique<Handler>(config_, *store_, metrics_);
    builder_ = std::make_unique<ReportBuilder>(*store_->facility_store(), config_.reports);
    api_ = std::make_unique<ReportsApi>(*builder_, *store_->facility_store());
    handler_->set_reports(*api_);
  }
  Response call(const std::string& role, const std::string& method, const std::string& target,
                const std::string& body = "", const std::string& type = "application/json") {
    return handler_->handle({method, target, "Bearer t-" + role, type, "", "", body});
  }
  testing::TempDir dir_;
  Config config_ = default_config();
  std::unique_ptr<SqliteStore> store_;
  Metrics metrics_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<ReportBuilder> builder_;
  std::unique_ptr<ReportsApi> api_;
};

TEST_F(ReportsApiTest, EachRoleSeesOnlyWhatItMay) {
  ASSERT_EQ(
      call("sustainability", "POST", "/api/v1/facilities", sus::to_json(facility()).dump()).status,
      201);
  ASSERT_EQ(
      call("sustainability", "POST", "/api/v1/facilities", sus::to_json(facility()).dump()).status,
      200);
  store_agent_year(*store_);
  const std::string edc =
      "quantity,from,to,value,unit\nEDC,2025-01-01T00:00:00+01:00,2025-02-01T00:00:00+01:00,400,"
      "MWh\n";
  ASSERT_EQ(
      call("sustainability", "POST", "/api/v1/facilities/meso/readings", edc, "text/csv").status,
      200);
  const std::string datacentre = "/api/v1/reports/datacentre?facility=meso&from=2025-01&to=2025-02";
  const std::string communities =
      "/api/v1/reports/communities?facility=meso&from=2025-01&to=2025-02";
  for (const char* role : {"admin", "sustainability"}) {
    EXPECT_EQ(call(role, "GET", datacentre).status, 200) << role;
    EXPECT_EQ(call(role, "GET", communities).status, 200) << role;
    EXPECT_EQ(call(role, "GET", "/api/v1/facilities").status, 200) << role;
  }
  for (const char* role : {"operator", "csirt", "user:1001"}) {
    EXPECT_EQ(call(role, "GET", datacentre).status, 403) << role;
    EXPECT_EQ(call(role, "GET", communities).status, 403) << role;
    EXPECT_EQ(call(role, "GET", "/api/v1/facilities").status, 403) << role;
    EXPECT_EQ(call(role, "POST", "/api/v1/facilities/meso/readings", edc, "text/csv").status, 403)
        << role;
  }
  // project:astro: its own rows of the communities report, nothing else.
  EXPECT_EQ(call("project:astro", "GET", datacentre).status, 403);
  EXPECT_EQ(call("project:astro", "GET", "/api/v1/facilities").status, 403);
  EXPECT_EQ(call("project:astro", "GET", "/api/v1/reports/federation?year=2025").status, 403);
  const auto mine = call("project:astro", "GET", communities);
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(mine.body.find("bio"), std::string::npos);
  EXPECT_EQ(json::parse(mine.body)["totals"].size(), 1u);
  EXPECT_EQ(json::parse(mine.body)["idle_kwh"], 0);
  const auto page = call("project:astro", "GET", communities + "&format=html");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.body.find("Annex II 1(d)"), std::string::npos);  // not the facility's report
  EXPECT_EQ(page.body.find("bio"), std::string::npos);
  const auto all_response = call("sustainability", "GET", communities);
  const auto all = json::parse(all_response.body);

  EXPECT_EQ(all["totals"].size(), 2u);
  EXPECT_EQ(all["facility_kwh"], 400000);
}

TEST_F(ReportsApiTest, BadReadingsAreRefusedWholeWithEveryReason) {
  ASSERT_EQ(call("admin", "POST", "/api/v1/facilities", sus::to_json(facility()).dump()).status,
            201);
  const auto bad = call("admin", "POST", "/api/v1/facilities/meso/readings",
                        "quantity,from,to,value,unit\nEDC,2025-01-01,2025-01-02,10,kWh\n"
                        "EDC,2025-01-02,2025-01-01,10,kWh\nWIN,2025-01-01,2025-01-02,3,kWh\n",
                        "text/csv");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("line 3"), std::string::npos) << bad.body;
  EXPECT_NE(bad.body.find("line 4"), std::string::npos) << bad.body;
  EXPECT_TRUE(store_->readings("meso", 0, k2026).empty());
  const std::string good =
      R"({"readings": [{"quantity": "EDC", "from": "2025-01-01", "to": "2025-01-02", "value": 10}]})";
  EXPECT_EQ(
      json::parse(call("admin", "POST", "/api/v1/facilities/meso/readings", good).body)["added"],
      1);
  EXPECT_EQ(
      json::parse(call("admin", "POST", "/api/v1/facilities/meso/readings", good).body)["replaced"],
      1);
  EXPECT_EQ(call("admin", "POST", "/api/v1/facilities/nowhere/readings", good).status, 404);
  EXPECT_EQ(call("admin", "POST", "/api/v1/facilities", R"({"id": "x"})").status, 400);
  EXPECT_EQ(call("admin", "GET", "/api/v1/reports/datacentre?facility=meso").status, 400);
  EXPECT_EQ(
      call("admin", "GET", "/api/v1/reports/datacentre?facility=meso&year=2025&format=pdf").status,
      400);
  EXPECT_EQ(
      call("admin", "GET", "/api/v1/reports/datacentre?facility=meso&year=2025&colour=1").status,
      400);
  EXPECT_EQ(
      call("admin", "GET", "/api/v1/reports/communities?facility=meso&year=2025&idle=allocation")
          .status,
      400);
  EXPECT_EQ(call("admin", "DELETE", "/api/v1/facilities/meso").status, 405);
  const auto check =
      json::parse(call("admin", "GET", "/api/v1/facilities/meso/check?year=2025").body);
  EXPECT_EQ(check["quantities"][0]["quantity"], "EDC");
  EXPECT_EQ(check["quantities"][0]["quality"], "incomplete");
}

TEST_F(ReportsApiTest, GridSeriesImportFromEco2mixAndCsvAndTheFederationAggregates) {
  const std::string eco2mix =
      "P\xe9rim\xe8tre\tNature\tDate\tHeures\tTaux de "
      "Co2\t\nFrance\tDonn\xe9\x65s\t2025-01-01\t00:00\t31\t\n"
      "France\tDonn\xe9\x65s\t2025-01-01\t00:15\t33\t\n";
  const auto imported = call("admin", "POST", "/api/v1/grid/FR?basis=direct&source=RTE%20eCO2mix",
                             eco2mix, "text/csv");
  ASSERT_EQ(imported.status, 200) << imported.body;
  EXPECT_EQ(json::parse(imported.body)["from"], "2024-12-31T23:00:00Z");
  EXPECT_EQ(call("admin", "POST", "/api/v1/grid/FR", eco2mix, "text/csv").status, 400);  // basis
  EXPECT_EQ(
      call("admin", "POST", "/api/v1/grid/FR?basis=direct", "time,x\n1,2\n", "text/csv").status,
      400);
  const auto points =
      json::parse(call("admin", "GET", "/api/v1/grid/FR?basis=direct&from=2024&to=2026").body);
  EXPECT_EQ(points["points"].size(), 2u);
  EXPECT_EQ(points["source"], "RTE eCO2mix");
  // Three small facilities and one large: the large category is suppressed.
  for (const auto& [id, kw, edc] :
       {std::tuple{"a", 600, 1000}, {"b", 700, 2000}, {"c", 800, 3000}, {"d", 5000, 9000}}) {
    auto f = facility();
    f.id = id;
    f.installed_it_kw = {{0, static_cast<double>(kw)}};
    ASSERT_EQ(call("admin", "POST", "/api/v1/facilities", sus::to_json(f).dump()).status, 201);
    const json dated = {{"readings",
                         {{{"quantity", "EDC"},
                           {"from", "2024-12-31T23:00:00Z"},
                           {"to", "2025-12-31T23:00:00Z"},
                           {"value", edc}},
                          {{"quantity", "EIT"},
                           {"from", "2024-12-31T23:00:00Z"},
                           {"to", "2025-12-31T23:00:00Z"},
                           {"value", edc / 2}}}}};
    ASSERT_EQ(
        call("admin", "POST", std::string("/api/v1/facilities/") + id + "/readings", dated.dump())
            .status,
        200);
  }
  const auto fed =
      json::parse(call("sustainability", "GET", "/api/v1/reports/federation?year=2025").body);
  EXPECT_EQ(fed["facilities"], 4);
  ASSERT_EQ(fed["categories"].size(), 2u);
  EXPECT_EQ(fed["categories"][0]["size_category"], "large");
  EXPECT_TRUE(fed["categories"][0]["suppressed"]);
  EXPECT_FALSE(fed["categories"][0].contains("totals"));
  EXPECT_EQ(fed["categories"][1]["totals"]["edc_kwh"], 6000);
  EXPECT_DOUBLE_EQ(fed["categories"][1]["edc_weighted_average"]["pue"].get<double>(), 2.0);
}

// The printable page of the synthetic year, served by a whole collector and
// looked at in headless Chromium, printed to PDF as a user would.
TEST(ReportPage, TheYearsReportPrintsInABrowser) {
  if (const std::string missing = testing::browser_missing(VIGIE_SOURCE_DIR); !missing.empty())
    FAIL() << missing;
  testing::TempDir dir;
  const Config config = testing::page_config(dir.path(), VIGIE_SOURCE_DIR, "sustainability",
                                             "officer", "officer-token");
  {
    SqliteStore store(config.database_path);
    load_year(store);
  }
  Service service(config);
  service.start();
  const json spec = {
      {"url", "/api/v1/reports/datacentre?facility=meso&year=2025&format=html"},
      {"page", "/reports.html?kind=datacentre&facility=meso&from=2025&to=2026"},
      {"token", "officer-token"},
      {"title", "Mésocentre <Sud> — energy performance report"},
      {"texts",
       {"in scope", "small", "Annex II 1(d)", "PUE", "CUE-LOCATION", "incomplete", "missing",
        "astro", "bio", "idle (no job)", "Total = EDC", "Gaps in the meter readings",
        "EIT: 2025-08-01 01:00 → 2025-08-11 01:00", "2025-01-01 → 2026-01-01 (Europe/Paris)"}},
      {"badges", {"declared", "measured", "bill", "incomplete", "missing"}}};
  // The same report as JSON, kept next to the screenshot and the PDF.
  protocol::Endpoint endpoint;
  endpoint.port = std::to_string(service.port());
  const auto answer = protocol::send(endpoint,
                                     {"GET",
                                      "/api/v1/reports/datacentre?facility=meso&year=2025",
                                      {{"Authorization", "Bearer officer-token"}},
                                      ""},
                                     std::chrono::seconds(10));
  ASSERT_EQ(answer.status, 200) << answer.body;
  std::ofstream(std::string(VIGIE_BINARY_DIR) + "/report-page.json")
      << json::parse(answer.body).dump(2);
  EXPECT_EQ(testing::page_check_failure(VIGIE_SOURCE_DIR, VIGIE_BINARY_DIR, "report_page_check.mjs",
                                        service.port(), dir.path() / "report_page.json",
                                        spec.dump(2), "report-page"),
            "");
}

}  // namespace
}  // namespace vigie::collector
