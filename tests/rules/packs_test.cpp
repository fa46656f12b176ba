// Rules as data: every pack under rules/packs/ loads cleanly and every rule
// passes its fixtures (rules/packs/<pack>/fixtures/<rule-file-stem>.yml).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "vigie/rules/engine.h"
#include "vigie/rules/fixture.h"

namespace vigie::rules {
namespace {

namespace fs = std::filesystem;

const fs::path kPacks = fs::path(VIGIE_SOURCE_DIR) / "rules" / "packs";

TEST(RulesPacks, EveryRulePassesItsFixtures) {
  int packs = 0;
  for (const fs::directory_entry& pack : fs::directory_iterator(kPacks)) {
    if (!pack.is_directory()) continue;
    ++packs;
    SCOPED_TRACE("pack " + pack.path().string());
    const LoadResult result = load_rules(pack.path());
    for (const Diagnostic& d : result.diagnostics) ADD_FAILURE() << to_string(d);
    EXPECT_GT(result.rules_loaded, 0);

    std::set<fs::path> fixture_files;
    for (const RuleInfo& rule : result.engine->rules()) {
      const std::string name = "rule " + rule.id + " (" + rule.title + ")";
      const fs::path fixture_path =
          pack.path() / "fixtures" / fs::path(rule.file).filename().replace_extension(".yml");
      fixture_files.insert(fixture_path);
      if (!fs::exists(fixture_path)) {
        ADD_FAILURE() << name << " has no fixture file " << fixture_path;
        continue;
      }
      std::vector<Diagnostic> diagnostics;
      const auto fixture = load_fixture(fixture_path, diagnostics);
      for (const Diagnostic& d : diagnostics) ADD_FAILURE() << name << ": " << to_string(d);
      if (!fixture) continue;
      EXPECT_EQ(fixture->rule_id, rule.id) << fixture_path << " is not about " << name;
      EXPECT_GE(fixture->match.size(), 1u) << name << ": no 'match' event in " << fixture_path;
      EXPECT_GE(fixture->no_match.size(), 1u)
          << name << ": no 'no_match' event in " << fixture_path;
      for (const Diagnostic& failure : check_fixture(*result.engine, *fixture)) {
        ADD_FAILURE() << name << ": " << to_string(failure);
      }
    }
    for (const fs::directory_entry& file : fs::directory_iterator(pack.path() / "fixtures")) {
      EXPECT_TRUE(fixture_files.contains(file.path())) << "fixture without a rule: " << file.path();
    }
  }
  EXPECT_GT(packs, 0) << "no pack under " << kPacks;
}

// What the end-to-end test relies on (tests/integration): a miner-named copy of
// sleep raises the crypto-miner rule at high or critical, a connection to
// 127.0.0.1:3333 raises an alert, and harmless commands raise nothing.
TEST(RulesPacks, StarterPackEndToEndContract) {
  const LoadResult result = load_rules(kPacks / "starter");
  ASSERT_TRUE(result.diagnostics.empty());
  EXPECT_FALSE(result.engine->pack_version().empty());
  std::vector<protocol::Alert> alerts;

  auto exec = [](std::string image, std::vector<std::string> argv) {
    protocol::ProcessExec body;
    body.image = std::move(image);
    for (const std::string& arg : argv) {
      body.command_line += (body.command_line.empty() ? "" : " ") + arg;
    }
    body.argv = std::move(argv);
    body.parent_image = "/usr/bin/bash";
    body.parent_command_line = "bash";
    protocol::Event event;
    event.user = "root";
    event.body = std::move(body);
    return event;
  };
  const protocol::Event miner =
      exec("/tmp/vigie-e2e.QxZ3/xmrig", {"/tmp/vigie-e2e.QxZ3/xmrig", "30"});
  result.engine->evaluate(miner, alerts);
  EXPECT_TRUE(std::any_of(alerts.begin(), alerts.end(), [](const protocol::Alert& a) {
    return a.rule_id == "e1f6c124-1d63-485d-9340-d17098a037c7" &&
           (a.level == "high" || a.level == "critical");
  }));

  alerts.clear();
  protocol::Event connect;
  connect.body = protocol::NetworkConnect{protocol::Transport::kTcp, false, "127.0.0.1", 3333,
                                          "/tmp/vigie-e2e.QxZ3/xmrig"};
  result.engine->evaluate(connect, alerts);
  EXPECT_FALSE(alerts.empty());

  for (const auto& [image, argv] :
       {std::pair<std::string, std::vector<std::string>>{"/bin/true", {"/bin/true"}},
        {"/usr/bin/true", {"true"}},
        {"/usr/bin/ls", {"ls", "/"}},
        {"/bin/ls", {"/bin/ls", "/"}}}) {
    alerts.clear();
    result.engine->evaluate(exec(image, argv), alerts);
    EXPECT_TRUE(alerts.empty()) << image << " raised " << alerts.front().rule_title;
  }
}

}  // namespace
}  // namespace vigie::rules
