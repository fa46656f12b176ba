// `vigie rules lint | test | explain` run as a user would, on the shipped packs and on broken
// input.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Result {
  int status;
  std::string output;
};

Result vigie(const std::string& arguments) {
  const std::string command = std::string(VIGIE_CLI_PATH) + " " + arguments + " 2>&1";
  Result result{-1, {}};
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe)) result.output += buffer;
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

const std::string kPacks = std::string(VIGIE_SOURCE_DIR) + "/rules/packs";

TEST(CliRules, LintEndsWithTheLoadedCount) {
  const Result ok = vigie("rules lint " + kPacks + "/hpc-csirt " + kPacks + "/starter");
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_TRUE(ok.output.ends_with(" rules\n")) << ok.output;

  const fs::path bad = fs::path(::testing::TempDir()) / "vigie_cli_bad_rule.yml";
  std::ofstream(bad) << "title: t\nid: x\nlevel: high\nlogsource:\n  product: linux\n"
                        "  category: process_creation\ndetection:\n  sel:\n    Nope: 1\n"
                        "  condition: sel\n";
  const Result refused = vigie("rules lint " + bad.string());
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.output.find(bad.string() + ":9: unknown field 'Nope'"), std::string::npos)
      << refused.output;
  EXPECT_TRUE(refused.output.ends_with("loaded 0 of 1 rules\n")) << refused.output;
}

TEST(CliRules, TestRunsThePackFixtures) {
  const Result result = vigie("rules test " + kPacks + "/hpc-csirt");
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find(" 0 failed"), std::string::npos) << result.output;
}

TEST(CliRules, ExplainShowsSelections) {
  const fs::path event = fs::path(::testing::TempDir()) / "vigie_cli_event.yml";
  std::ofstream(event) << "kind: file_open\npath: /etc/shadow\nimage: /usr/bin/cat\n";
  const Result result = vigie("rules explain " + kPacks + "/hpc-csirt --event " + event.string());
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("MATCH    "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("Read of /etc/shadow"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("  selection: true"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("  filter_auth_stack: false"), std::string::npos) << result.output;
}

}  // namespace
