// The dashboard against a collector that needs an API token, driven in
// headless Chromium by tests/dashboards/token_prompt_check.mjs: the token
// form on 401, the token sent as a bearer token and kept in localStorage,
// a 403 shown as an error.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "support/browser_check.h"
#include "support/footprint_fixture.h"
#include "support/loopback_collector.h"

namespace vigie::collector {
namespace {

namespace fs = std::filesystem;
using testing::run;

TEST(CollectorDashboardToken, AsksForATokenOn401AndKeepsIt) {
  if (const std::string missing = testing::browser_missing(VIGIE_SOURCE_DIR); !missing.empty())
    FAIL() << missing;
  constexpr const char* kToken = "alice-dashboard-token";
  testing::LoopbackCollector collector([](Config& config) {
    config.dashboard_dir = std::string(VIGIE_SOURCE_DIR) + "/dashboards/web";
    config.api.anonymous.reset();
    config.api.tokens = {{sha256(kToken), *parse_role("user:alice")}};
  });
  auto batch = testing::agent_batch("node1", 1);
  batch.workload_energy = {testing::job_energy("42", 100, 300, 2.0, false)};
  batch.workload_ends = {{100'000'000'000, 101'000'000'000, batch.workload_energy[0].workload}};
  ASSERT_EQ(collector.store().store_batch(batch, 1).status, StoreOutcome::Status::kStored);

  const auto [status, output] =
      run("node " + std::string(VIGIE_SOURCE_DIR) + "/tests/dashboards/token_prompt_check.mjs " +
          collector.url() + " 42 " + kToken + " " + (collector.dir() / "token").string());
  EXPECT_EQ(status, 0) << output;
}

}  // namespace
}  // namespace vigie::collector
