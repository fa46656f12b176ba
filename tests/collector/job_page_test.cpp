// The job page (dashboards/web/job.html) served by a real collector on
// loopback and driven in headless Chromium by tests/dashboards/job_page_check.mjs:
// a stored footprint's figures and estimated flag, the form, the message for
// a job without a footprint (404) and for a refused id (400), and user names
// shown as text, never as HTML.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/browser_check.h"
#include "support/footprint_fixture.h"
#include "support/loopback_collector.h"

namespace vigie::collector {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::agent_batch;
using testing::job_energy;
using testing::run;

TEST(CollectorJobPage, ShowsFootprintEstimatedFlagAndMissingJobInABrowser) {
  if (const std::string missing = testing::browser_missing(VIGIE_SOURCE_DIR); !missing.empty())
    FAIL() << missing;

  testing::LoopbackCollector collector([](Config& config) {
    config.dashboard_dir = std::string(VIGIE_SOURCE_DIR) + "/dashboards/web";
    config.vendor_dir.clear();
  });
  SqliteStore& store = collector.store();

  // Job 42 on node1 (measured) and node2 (estimated), ended on both; job 43
  // on node3, whose user name is markup.
  auto a1 = agent_batch("node1", 1);
  a1.workload_energy = {job_energy("42", 100, 300, 2.0, false),
                        job_energy("42", 101, 100, 1.0, false)};
  a1.workload_ends = {{100'000'000'000, 102'000'000'000, a1.workload_energy[0].workload}};
  ASSERT_EQ(store.store_batch(a1, 1).status, StoreOutcome::Status::kStored);
  auto b1 = agent_batch("node2", 1);
  b1.workload_energy = {job_energy("42", 100, 600, 4.0, true)};
  b1.workload_ends = a1.workload_ends;
  ASSERT_EQ(store.store_batch(b1, 2).status, StoreOutcome::Status::kStored);
  const std::string hostile = "<img src=x onerror=\"window.__vigie_injected=1\"><b>bob</b>";
  auto c1 = agent_batch("node3", 1);
  c1.workload_energy = {job_energy("43", 200, 3.6e6, 99.5, false)};
  c1.workload_energy[0].workload.user = hostile;
  c1.workload_ends = {{200'000'000'000, 201'000'000'000, c1.workload_energy[0].workload}};
  ASSERT_EQ(store.store_batch(c1, 3).status, StoreOutcome::Status::kStored);

  // Job 42: 1000 J = 0.000278 kWh; 7 gCO2e operational + 1.5 embodied;
  // 750 J CPU, 250 J DRAM; 8.5 / 175 km, 8.5 / (11000 / 12) tree-months.
  const json cases = json::array({
      {{"id", "42"},
       {"status", "ok"},
       {"estimated", true},
       {"equal",
        {{"#job-id", "42"},
         {"#job-user", "alice"},
         {"#job-account", "proj42"},
         {"#job-cpu", "6 s"},
         {"#energy-kwh", "0.000278 kWh"},
         {"#energy-j", "1,000 J"},
         {"#carbon-total", "8.5 gCO2e"},
         {"#carbon-operational", "7 gCO2e"},
         {"#carbon-embodied", "1.5 gCO2e"},
         {"#breakdown tr[data-part=cpu]", "CPU 750 J 75 %"},
         {"#breakdown tr[data-part=dram]", "DRAM 250 J 25 %"},
         {"#breakdown tr[data-part=gpu]", "GPU 0 J 0 %"},
         {"#breakdown tr[data-part=idle]", "Idle 0 J 0 %"}}},
       {"contains",
        {{"#equivalent-car", "0.0486 km"},
         {"#equivalent-tree", "0.00927 months"},
         {"#equivalents-source", "Green Algorithms"},
         {"#equivalents-factors", "175 gCO2e per km"}}},
       {"hosts", json::array({json::array({"node1", "400 J", "4 gCO2e"}),
                              json::array({"node2", "estimated", "600 J", "4.5 gCO2e"})})}},
      {{"id", "43"},
       {"status", "ok"},
       {"estimated", false},
       {"equal",
        {{"#job-user", hostile},
         {"#energy-kwh", "1 kWh"},
         {"#energy-j", "3,600,000 J"},
         {"#carbon-total", "100 gCO2e"}}},
       {"hosts", json::array({json::array({"node3", "3,600,000 J", "100 gCO2e"})})},
       {"absent", json::array({"#footprint img", "#footprint b"})}},
      {{"id", "42"},
       {"via_form", true},
       {"status", "ok"},
       {"estimated", true},
       {"equal", {{"#job-id", "42"}}},
       {"hosts", json::array({json::array({"node1"}), json::array({"node2"})})}},
      {{"id", "999"},
       {"status", "notfound"},
       {"contains",
        {{"#message",
          "No footprint for job 999 yet. Footprints are computed when a job ends: "
          "the job may still be running, or the id is unknown to this collector."}}}},
      {{"id", "x;DROP"},
       {"status", "error"},
       {"contains", {{"#message", "1 to 20 decimal digits"}}}},
  });
  const fs::path cases_file = collector.dir() / "job_page_cases.json";
  std::ofstream(cases_file) << cases.dump(2);

  const std::string cmd = "node " + std::string(VIGIE_SOURCE_DIR) +
                          "/tests/dashboards/job_page_check.mjs " + collector.url() + " " +
                          cases_file.string() + " " + VIGIE_BINARY_DIR + "/job-page";
  const auto [status, output] = run(cmd);
  EXPECT_EQ(status, 0) << cmd << "\n" << output;
}

}  // namespace
}  // namespace vigie::collector
