// Hot reload of edge rules: rules::RuleSetReloader (compile aside, atomic
// swap, a broken file keeps the old set), then the agent end to end through
// its /metrics (file change and SIGHUP picked up, failures counted).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "support/exposition.h"
#include "vigie/agent/agent.h"
#include "vigie/rules/rule_set.h"

namespace vigie {
namespace {

using vigie::integration::find_sample;

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A fresh directory under the test's temporary directory, removed at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("vigie_rules_reload_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// Writes `text` and moves the file's mtime forward: file times have the
// kernel's tick granularity, and two writes within one tick of the same size
// would otherwise look unchanged (an editor's save is seconds apart).
void write(const fs::path& path, const std::string& text) {
  static int bump = 0;
  std::ofstream(path) << text;
  fs::last_write_time(path, fs::file_time_type::clock::now() + std::chrono::seconds(++bump));
}

std::string exec_rule(const std::string& id, const std::string& image_suffix) {
  return "title: Exec of " + image_suffix + "\nid: " + id +
         "\nlevel: high\nlogsource: {product: linux, category: process_creation}\n"
         "detection:\n  selection:\n    Image|endswith: '" +
         image_suffix + "'\n  condition: selection\n";
}

protocol::Event exec_event(const std::string& image) {
  protocol::ProcessExec exec;
  exec.image = image;
  protocol::Event event;
  event.body = std::move(exec);
  return event;
}

bool fires(const rules::RuleSet& set, const protocol::Event& event) {
  std::vector<protocol::Alert> alerts;
  set.engine->evaluate(event, alerts);
  return !alerts.empty();
}

TEST(RulesReload, ChangedFileIsCompiledAsideAndSwappedIn) {
  TempDir dir;
  write(dir.path / "VERSION", "1.0\n");
  write(dir.path / "miner.yml", exec_rule("r-miner", "/xmrig"));
  rules::RuleSetReloader reloader({{dir.path}, {}});
  const auto first = reloader.current();
  EXPECT_EQ(first->engine->pack_version(), "1.0");
  EXPECT_TRUE(fires(*first, exec_event("/tmp/xmrig")));
  EXPECT_FALSE(fires(*first, exec_event("/tmp/evil")));
  EXPECT_FALSE(reloader.reload_if_changed().has_value());  // nothing changed yet

  write(dir.path / "evil.yml", exec_rule("r-evil", "/evil"));
  write(dir.path / "VERSION", "1.1\n");
  const auto outcome = reloader.reload_if_changed();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->swapped);
  EXPECT_TRUE(outcome->errors.empty());
  EXPECT_EQ(reloader.generation(), 1u);
  EXPECT_EQ(reloader.reloads_total(), 1u);
  const auto second = reloader.current();
  EXPECT_EQ(second, outcome->active);
  EXPECT_EQ(second->engine->rules().size(), 2u);
  EXPECT_EQ(second->engine->pack_version(), "1.1");
  EXPECT_TRUE(fires(*second, exec_event("/tmp/evil")));
  // A reader holding the old set keeps a working, unchanged set.
  EXPECT_FALSE(fires(*first, exec_event("/tmp/evil")));
  EXPECT_TRUE(fires(*first, exec_event("/tmp/xmrig")));
  EXPECT_FALSE(reloader.reload_if_changed().has_value());
}

TEST(RulesReload, BrokenFileKeepsTheOldSetAndSaysWhere) {
  TempDir dir;
  write(dir.path / "miner.yml", exec_rule("r-miner", "/xmrig"));
  rules::RuleSetReloader reloader({{dir.path}, {}});
  const auto good = reloader.current();

  // A rule with a field Vigie does not know, then a file that is not YAML.
  write(dir.path / "miner.yml",
        exec_rule("r-miner", "/xmrig") + "---\n" +
            "title: t\nid: r2\nlevel: low\nlogsource: {product: linux, category: "
            "process_creation}\ndetection:\n  sel:\n    NoSuchField: x\n  condition: sel\n");
  auto outcome = reloader.reload_if_changed();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_FALSE(outcome->swapped);
  ASSERT_EQ(outcome->errors.size(), 1u);
  EXPECT_EQ(outcome->errors[0].file, (dir.path / "miner.yml").string());
  EXPECT_GT(outcome->errors[0].line, 1);
  EXPECT_NE(outcome->errors[0].message.find("NoSuchField"), std::string::npos);
  EXPECT_EQ(reloader.current(), good);
  EXPECT_EQ(reloader.failures_total(), 1u);
  EXPECT_EQ(reloader.generation(), 0u);

  write(dir.path / "miner.yml", "title: [unclosed\n");
  const rules::ReloadOutcome forced = reloader.reload();
  EXPECT_FALSE(forced.swapped);
  ASSERT_FALSE(forced.errors.empty());
  EXPECT_EQ(forced.errors[0].file, (dir.path / "miner.yml").string());
  EXPECT_EQ(reloader.current(), good);
  EXPECT_EQ(reloader.failures_total(), 2u);

  // Fixed: swapped in.
  write(dir.path / "miner.yml", exec_rule("r-miner2", "/minerd"));
  outcome = reloader.reload_if_changed();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->swapped);
  EXPECT_TRUE(fires(*reloader.current(), exec_event("/usr/bin/minerd")));
  EXPECT_EQ(reloader.failures_total(), 2u);
}

TEST(RulesReload, DiagnosticsTheActiveSetAlreadyHadDoNotBlockReloads) {
  TempDir dir;
  write(dir.path / "refused.yml", exec_rule("r-x", "/x") + "  other:\n    NoSuchField: x\n");
  write(dir.path / "miner.yml", exec_rule("r-miner", "/xmrig"));
  rules::RuleSetReloader reloader({{dir.path}, {}});
  ASSERT_FALSE(reloader.current()->diagnostics.empty());  // refused at start, logged then
  write(dir.path / "evil.yml", exec_rule("r-evil", "/evil"));
  const auto outcome = reloader.reload_if_changed();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->swapped);
  EXPECT_TRUE(fires(*reloader.current(), exec_event("/evil")));

  // Removing every rule is refused: an empty set is never swapped in silently.
  fs::remove(dir.path / "miner.yml");
  fs::remove(dir.path / "evil.yml");
  fs::remove(dir.path / "refused.yml");
  const auto emptied = reloader.reload_if_changed();
  ASSERT_TRUE(emptied.has_value());
  EXPECT_FALSE(emptied->swapped);
  EXPECT_TRUE(fires(*reloader.current(), exec_event("/evil")));
}

TEST(RulesReload, IocListChangesAreReloadedToo) {
  TempDir dir;
  write(dir.path / "pools.csv", "type,value\nip,192.0.2.7\n");
  write(dir.path / "pool.yml",
        "title: Pool\nid: r-pool\nlevel: high\n"
        "logsource: {product: linux, category: network_connection}\n"
        "detection:\n  sel:\n    DestinationIp|ioc: pools\n  condition: sel\n");
  rules::RuleSetReloader reloader({{dir.path / "pool.yml"}, {{"pools", dir.path / "pools.csv"}}});
  protocol::NetworkConnect connect;
  connect.destination_ip = "198.51.100.9";
  protocol::Event event;
  event.body = connect;
  EXPECT_FALSE(fires(*reloader.current(), event));
  write(dir.path / "pools.csv", "type,value\nip,192.0.2.7\ncidr,198.51.100.0/24\n");
  const auto outcome = reloader.reload_if_changed();
  ASSERT_TRUE(outcome.has_value());
  EXPECT_TRUE(outcome->swapped);
  EXPECT_TRUE(fires(*reloader.current(), event));
  // A bad IOC line is a new diagnostic: refused, the old lists stay.
  write(dir.path / "pools.csv", "type,value\nip,not-an-address\n");
  EXPECT_FALSE(reloader.reload_if_changed()->swapped);
  EXPECT_TRUE(fires(*reloader.current(), event));
}

TEST(RulesReload, CorrelationOnlyRulesAreNotReported) {
  const auto set = rules::build_rule_set(
      {{fs::path(VIGIE_SOURCE_DIR) / "rules/packs/hpc-csirt/net_connection_outbound_attempt.yml"},
       {}});
  ASSERT_EQ(set->engine->rules().size(), 1u);
  ASSERT_EQ(set->correlations.size(), 1u);
  // Referenced by name by the port-scan correlation, which does not generate it.
  EXPECT_FALSE(set->reports("300bbc2a-ac0b-5f0d-a77d-2b72d2eef0a0"));
  EXPECT_TRUE(set->reports("bc1ca010-513c-565d-88b9-9a0f92b1be43"));  // the correlation's own

  const auto generating = rules::build_rule_set(
      {{fs::path(VIGIE_SOURCE_DIR) / "rules/packs/hpc-csirt/proc_creation_exec_hidden_dir_tmp.yml"},
       {}});
  for (const auto& info : generating->engine->rules()) EXPECT_TRUE(generating->reports(info.id));
}

// --- The agent end to end: its /metrics follow the reloads. ---

uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string http_get_metrics(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string body;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      char buffer[8192];
      for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) body.append(buffer, n);
    }
  }
  ::close(fd);
  return body;
}

// Polls /metrics until `done` holds; a deadline guards against a hang, it is
// not a timing assertion.
bool wait_for(uint16_t port, const std::function<bool(const std::string&)>& done,
              std::string& last) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    last = http_get_metrics(port);
    if (done(last)) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST(RulesReload, AgentSwapsOnFileChangeAndOnSighupAndCountsFailures) {
  TempDir dir;
  fs::create_directories(dir.path / "pack");
  write(dir.path / "pack" / "VERSION", "7\n");
  write(dir.path / "pack" / "miner.yml", exec_rule("r-miner", "/xmrig"));
  agent::Config config;
  config.agent_id = config.host = "reload-test";
  config.collector_url = "http://127.0.0.1:1";  // nothing listens: the uplink retries, harmless
  config.token = "t";
  config.state_dir = (dir.path / "state").string();
  const uint16_t port = free_port();
  config.metrics_listen = "127.0.0.1:" + std::to_string(port);
  config.sensor.enabled = false;
  config.power.enabled = false;
  config.rules_paths = {(dir.path / "pack").string()};
  config.rules_reload_interval_ms = 100;
  agent::Agent agent(config);
  std::atomic<bool> stop{false};
  std::thread runner([&] { agent.run(stop); });

  std::string text;
  EXPECT_TRUE(wait_for(
      port, [](const std::string& t) { return find_sample(t, "vigie_rules_loaded") == 1.0; }, text))
      << text;
  EXPECT_NE(text.find("vigie_rules_pack_info{version=\"7\"} 1"), std::string::npos)
      << "pack version not exported as read: " << text;

  write(dir.path / "pack" / "evil.yml", exec_rule("r-evil", "/evil"));
  EXPECT_TRUE(wait_for(
      port,
      [](const std::string& t) {
        return find_sample(t, "vigie_rules_loaded") == 2.0 &&
               find_sample(t, "vigie_rules_reloads_total") == 1.0;
      },
      text))
      << text;

  write(dir.path / "pack" / "evil.yml", "detection: [unclosed\n");
  EXPECT_TRUE(wait_for(
      port,
      [](const std::string& t) {
        return find_sample(t, "vigie_rules_reload_failures_total") == 1.0;
      },
      text))
      << text;
  EXPECT_EQ(find_sample(text, "vigie_rules_loaded"), 2.0) << "the old set must stay";

  // SIGHUP retries now, even without a change: refused again, counted again.
  ::kill(::getpid(), SIGHUP);
  EXPECT_TRUE(wait_for(
      port,
      [](const std::string& t) {
        return find_sample(t, "vigie_rules_reload_failures_total") == 2.0;
      },
      text))
      << text;
  EXPECT_EQ(find_sample(text, "vigie_rules_loaded"), 2.0);

  stop = true;
  runner.join();
}

}  // namespace
}  // namespace vigie
