// `vigie` against a collector that needs an API token and speaks TLS:
// --token-file / VIGIE_TOKEN_FILE / --token, --ca-file, https:// URLs.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "support/loopback_collector.h"
#include "support/sample_batch.h"
#include "support/test_pki.h"

namespace vigie::collector {
namespace {

using cli::testing::Run;
using nlohmann::json;

constexpr const char* kCsirtToken = "cli-csirt-token";
constexpr const char* kUserToken = "cli-user-token";
constexpr const char* kAliceToken = "cli-alice-token";

Run run(const std::string& arguments, const std::string& environment = "") {
  return cli::testing::run_command(environment + " " + VIGIE_CLI_PATH + " " + arguments);
}

class VigieCliSecurityTest : public ::testing::Test {
 protected:
  VigieCliSecurityTest()
      : pki_(dir_.path()), server_(pki_.server()), loopback_([this](Config& config) {
          config.api.anonymous.reset();
          config.api.tokens = {{sha256(kCsirtToken), *parse_role("csirt")},
                               {sha256(kUserToken), *parse_role("user:nobody-else")},
                               {sha256(kAliceToken), *parse_role("user:alice")}};
          config.tls.cert_file = server_.cert;
          config.tls.key_file = server_.key;
        }) {
    // Alice's job 42 ends: its footprint exists, for her and the sustainability officer.
    auto batch = testing::sample_batch(1);
    const auto& job = batch.workload_energy.front();
    batch.workload_ends = {{job.start_ns, job.end_ns, job.workload}};
    EXPECT_EQ(loopback_.store().store_batch(batch, 1).status, StoreOutcome::Status::kStored);
    token_file_ = (dir_.path() / "api.token").string();
    std::ofstream(token_file_) << kCsirtToken << "\n";
  }

  testing::TempDir dir_;
  testing::TestPki pki_;
  testing::CertFiles server_;
  testing::LoopbackCollector loopback_;
  std::string token_file_;
  const std::string https_ = "--collector " + loopback_.url() + " --ca-file " + pki_.ca_file();
};

TEST_F(VigieCliSecurityTest, ReadsOverHttpsWithAToken) {
  ASSERT_EQ(loopback_.url().rfind("https://", 0), 0u);
  auto result = run(https_ + " --token-file " + token_file_ + " --json events");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(json::parse(result.output)["events"].size(), 3u);
  // The same from the environment, and inline.
  result = run(https_ + " alerts", "VIGIE_TOKEN_FILE=" + token_file_);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("Download and execute with curl"), std::string::npos)
      << result.output;
  result = run(https_ + " --token " + kCsirtToken + " agents");
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(VigieCliSecurityTest, SaysWhyItIsRefused) {
  auto result = run(https_ + " events");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("401"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("--token-file"), std::string::npos) << result.output;

  result = run(https_ + " --token-file " + token_file_ + " energy");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("403: role 'csirt' may not read energy"), std::string::npos)
      << result.output;

  // Another user's job: not found, exactly like a missing one; hers is there.
  result = run(https_ + " --token " + kUserToken + " job 42");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("404: no footprint for job 42"), std::string::npos) << result.output;
  result = run(https_ + " --token " + kAliceToken + " --json job 42");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(json::parse(result.output)["user"], "alice");

  result = run(https_ + " --token-file " + (dir_.path() / "missing").string() + " events");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("cannot read --token-file"), std::string::npos) << result.output;
}

TEST_F(VigieCliSecurityTest, VerifiesTheCollectorsCertificate) {
  // No --ca-file: the system store does not know the test CA.
  auto result = run("--collector " + loopback_.url() + " --token-file " + token_file_ + " events");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("certificate verify failed"), std::string::npos) << result.output;
  // Plain http:// to the TLS port.
  result = run("--collector http://127.0.0.1:" + std::to_string(loopback_.port()) +
               " --token-file " + token_file_ + " events");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("use https://"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace vigie::collector
