// `vigie facility`, `vigie grid import` and `vigie report` against a whole
// collector (Service) on loopback, as a sustainability officer would use
// them: a facility from its JSON, a month of readings from CSV (a bad file
// refused whole), an eCO2mix file, the coverage check, the report as a
// table, CSV and HTML, the communities and the federation aggregates.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "storage/sqlite_store.h"
#include "support/footprint_fixture.h"
#include "support/sample_batch.h"
#include "vigie/collector/service.h"

namespace vigie::collector {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class ReportCommandTest : public ::testing::Test {
 protected:
  ReportCommandTest() {
    config_.port = 0;
    config_.threads = 2;
    config_.database_path = (dir_.path() / "collector.db").string();
    config_.api.anonymous = Principal{Role::kSustainability, "anonymous", {}};
    {
      // Agents measured 300 kWh in January on site-a's node1: astro 200, idle 100.
      SqliteStore store(config_.database_path);
      auto batch = testing::agent_batch("node1", 1);
      auto astro = testing::job_energy("1", 1736900000, 200 * 3.6e6, 0, false);
      astro.workload.account = "astro";
      astro.cpu_seconds = 36000;
      auto idle = testing::job_energy("unattributed", 1736900000, 100 * 3.6e6, 0, false);
      idle.workload.kind = protocol::WorkloadKind::kUnattributed;
      idle.workload.account = "";
      batch.workload_energy = {astro, idle};
      EXPECT_EQ(store.store_batch(batch, 1).status, StoreOutcome::Status::kStored);
    }
    service_ = std::make_unique<Service>(config_);
    service_->start();
    write("meso.json", R"({"id": "meso", "name": "Mésocentre", "legal_entity": "Université X",
      "time_zone": "Europe/Paris", "installed_it_kw": [{"from": "2020-01-01", "kw": 450}],
      "sites": ["site-a"]})");
  }
  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_.path() / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }
  cli::testing::Run vigie(const std::string& arguments) {
    return cli::testing::run_command(
        std::string(VIGIE_CLI_PATH) +
        " --collector http://127.0.0.1:" + std::to_string(service_->port()) + " " + arguments);
  }
  testing::TempDir dir_;
  Config config_ = default_config();
  std::unique_ptr<Service> service_;
};

TEST_F(ReportCommandTest, AnOfficerFilesAMonthsReport) {
  const auto path = (dir_.path() / "meso.json").string();
  auto r = vigie("facility add " + path);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("created meso"), std::string::npos) << r.output;
  EXPECT_NE(vigie("facility add " + path).output.find("replaced meso"), std::string::npos);
  r = vigie("facility list");
  EXPECT_NE(r.output.find("Mésocentre"), std::string::npos) << r.output;

  // A file with a bad line is refused whole, saying which line and why.
  const auto bad = write("bad.csv",
                         "quantity,from,to,value,unit\nEDC,2025-01-01T00:00:00+01:00,2025-02-01T00:"
                         "00:00+01:00,450,MWh\n"
                         "EIT,2025-01-01,2025-02-01,-3,MWh\n");
  r = vigie("facility import meso " + bad);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("line 3: EIT: a negative value"), std::string::npos) << r.output;
  const auto good =
      write("january.csv",
            "quantity,from,to,value,unit,basis,meter\n"
            "EDC,2025-01-01T00:00:00+01:00,2025-02-01T00:00:00+01:00,450,MWh,bill,TGBT\n"
            "EIT,2025-01-01T00:00:00+01:00,2025-01-16T00:00:00+01:00,150,MWh,measured,UPS\n");
  r = vigie("facility import meso " + good);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 readings: 2 added, 0 replaced"), std::string::npos) << r.output;
  const auto eco2mix =
      write("eco2mix.xls",
            "Date\tHeures\tTaux de Co2\t\n2025-01-01\t00:00\t40\t\n2025-01-31\t23:45\t40\t\n");
  r = vigie("grid import FR " + eco2mix + " --basis life-cycle --source 'RTE eCO2mix'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 points of FR (life-cycle)"), std::string::npos) << r.output;

  r = vigie("facility check meso --from 2025-01 --to 2025-02");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("EIT"), std::string::npos);
  EXPECT_NE(r.output.find("incomplete"), std::string::npos) << r.output;

  r = vigie("report datacentre meso --from 2025-01 --to 2025-02");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* text :
       {"Mésocentre (meso)", "(interim)", "PDIT 450 kW, not in scope", "very small",
        "Annex II 1(d)", "450000.000", "bill", "Annex III (a)", "PUE"}) {
    EXPECT_NE(r.output.find(text), std::string::npos) << text << "\n" << r.output;
  }
  r = vigie("report datacentre meso --from 2025-01 --to 2025-02 --format csv");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.substr(0, r.output.find('\r')), "ref,symbol,name,unit,value,quality,notes");
  const auto html = (dir_.path() / "meso.html").string();
  r = vigie("report datacentre meso --from 2025-01 --to 2025-02 --format html -o " + html);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(html);
  const std::string page((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(page.find("<!DOCTYPE html>"), std::string::npos);
  EXPECT_NE(page.find("energy performance report"), std::string::npos);

  // January: 450 MWh over 300 kWh measured; astro used 200 of them.
  r = vigie("--json report communities meso --from 2025-01 --to 2025-02");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json c = json::parse(r.output);
  EXPECT_DOUBLE_EQ(c["totals"][0]["facility_kwh"].get<double>(), 300000);
  EXPECT_DOUBLE_EQ(c["idle_kwh"].get<double>(), 150000);
  r = vigie("report communities meso --from 2025-01 --to 2025-02");
  EXPECT_NE(r.output.find("astro"), std::string::npos) << r.output;
  r = vigie("report federation --year 2025");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("suppressed (< 3)"), std::string::npos) << r.output;
  EXPECT_NE(vigie("report datacentre meso --year 2025 --from 2025-01").exit_code, 0);
}

}  // namespace
}  // namespace vigie::collector
