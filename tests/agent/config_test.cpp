#include "vigie/agent/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace vigie::agent {
namespace {

TEST(Config, DefaultsWhenEmpty) {
  const Config c = parse_config("", "/etc/vigie");
  EXPECT_EQ(c.collector_url, "http://127.0.0.1:9800");
  EXPECT_EQ(c.metrics_listen, "127.0.0.1:9810");
  EXPECT_TRUE(c.sensor.enabled);
  EXPECT_EQ(c.power.interval_ms, 1000u);
  EXPECT_EQ(c.power.source, "auto");
}

TEST(Config, ShippedExampleParses) {
  std::ifstream in(std::string(VIGIE_SOURCE_DIR) + "/deploy/config/vigie-agent.yaml");
  ASSERT_TRUE(in);
  const std::string text{std::istreambuf_iterator<char>(in), {}};
  const Config c = parse_config(text, "/etc/vigie");
  EXPECT_EQ(c.token_file, "/etc/vigie/agent.token");
  EXPECT_EQ(c.rules_paths, std::vector<std::string>{"/usr/share/vigie/rules/starter"});
  EXPECT_DOUBLE_EQ(c.power.pue, 1.4);
}

TEST(Config, ResolvesRelativePathsAgainstTheFile) {
  const Config c =
      parse_config("collector: {token_file: t}\nrules: {path: packs/starter}\n", "/etc/vigie");
  EXPECT_EQ(c.token_file, "/etc/vigie/t");
  EXPECT_EQ(c.rules_paths, std::vector<std::string>{"/etc/vigie/packs/starter"});
}

void expect_error(const std::string& yaml, const std::string& fragment) {
  try {
    parse_config(yaml, "/");
    FAIL() << "accepted: " << yaml;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "error '" << e.what() << "' does not mention '" << fragment << "'";
  }
}

TEST(Config, RulesPathTakesAListAndIocListsAndReloadInterval) {
  const Config c = parse_config(
      "rules:\n  path: [packs/a, /opt/b.yml]\n  ioc_lists: {pools: ioc/pools.csv}\n"
      "  reload_interval_ms: 2000\n",
      "/etc/vigie");
  EXPECT_EQ(c.rules_paths, (std::vector<std::string>{"/etc/vigie/packs/a", "/opt/b.yml"}));
  EXPECT_EQ(c.rules_ioc_lists.at("pools"), "/etc/vigie/ioc/pools.csv");
  EXPECT_EQ(c.rules_reload_interval_ms, 2000u);
  expect_error("rules: {ioc_lists: [a]}", "rules.ioc_lists");
  expect_error("rules: {reload_interval_ms: -1}", "rules.reload_interval_ms");
}

TEST(Config, CollectorUrlsListThePreferredCollectorFirst) {
  Config c = parse_config(
      "collector:\n  urls: [http://c1:9800, http://c2:9800]\n  failback_interval_ms: 60000\n", "/");
  EXPECT_EQ(c.collector_urls, (std::vector<std::string>{"http://c1:9800", "http://c2:9800"}));
  EXPECT_EQ(c.collector_url, "http://c1:9800");
  EXPECT_EQ(c.collector_failback_interval_ms, 60000u);
  c = parse_config("collector: {url: http://c1:9800}\n", "/");  // one URL is a list of one
  EXPECT_EQ(c.collector_urls, std::vector<std::string>{"http://c1:9800"});
  EXPECT_EQ(parse_config("", "/").collector_urls,
            std::vector<std::string>{"http://127.0.0.1:9800"});
  expect_error("collector: {url: http://a:1, urls: [http://b:1]}", "not both");
  expect_error("collector: {urls: []}", "collector.urls");
  expect_error("collector: {urls: http://a:1}", "collector.urls");
  expect_error("collector: {urls: [http://a:1, http://a:1]}", "twice");
  expect_error("collector: {failback_interval_ms: -5}", "collector.failback_interval_ms");
}

TEST(Config, RefusesBadInputWithTheKeyAtFault) {
  expect_error("colector: {url: x}", "unknown key 'colector'");
  expect_error("sensor: {ringbuff_bytes: 4096}", "unknown key 'sensor.ringbuff_bytes'");
  expect_error("sensor: {ringbuf_bytes: 5000}", "power of two");
  expect_error("sensor: {ringbuf_bytes: 65536, wakeup_bytes: 65536}", "wakeup_bytes");
  expect_error("sensor: {enabled: maybe}", "'sensor.enabled' has an invalid value");
  expect_error("power: {pue: 0.5}", "'power.pue' must be within");
  expect_error("power: {pue: .nan}", "'power.pue' must be within");
  expect_error("power: {grid_intensity_gco2e_per_kwh: .inf}", "must be within");
  expect_error("power: {source: nvml}", "'power.source'");
  expect_error("power: {idle_watts: 200, max_watts: 100}", "max_watts");
  expect_error("site: [a, b]", "'site' has an invalid value");
  expect_error("a: [", "invalid YAML");
  expect_error("site: x\nsensor:\n  bogus: 1\n", "line 3");
}

TEST(Config, LoadReadsTokenFileAndFillsHost) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("vigie-agent-config-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "agent.token") << "s3cret\n";
  std::ofstream(dir / "agent.yaml") << "collector: {token_file: agent.token}\n";
  const Config c = load_config((dir / "agent.yaml").string());
  EXPECT_EQ(c.token, "s3cret");
  EXPECT_FALSE(c.host.empty());
  EXPECT_EQ(c.agent_id, c.host);

  std::ofstream(dir / "none.yaml") << "site: x\n";
  EXPECT_THROW(load_config((dir / "none.yaml").string()), std::runtime_error);
  EXPECT_THROW(load_config((dir / "missing.yaml").string()), std::runtime_error);
  std::filesystem::remove_all(dir);
}

TEST(Config, SensorSection) {
  const Config c = parse_config(R"(
sensor:
  ptrace: false
  file_open: true
  watched_paths: [/etc/shadow, "*/.ssh/authorized_keys", "w:/etc/passwd"]
  hash_images: true
  hash_cache_entries: 128
  ancestry_depth: 3
  process_table_entries: 4096
)",
                                "");
  EXPECT_FALSE(c.sensor.ptrace);
  EXPECT_TRUE(c.sensor.file_open);
  EXPECT_TRUE(c.sensor.process_fork);  // default
  EXPECT_EQ(c.sensor.watched_paths,
            (std::vector<std::string>{"/etc/shadow", "*/.ssh/authorized_keys", "w:/etc/passwd"}));
  EXPECT_TRUE(c.sensor.hash_images);
  EXPECT_EQ(c.sensor.hash_cache_entries, 128u);
  EXPECT_EQ(c.sensor.ancestry_depth, 3u);
  EXPECT_EQ(c.sensor.process_table_entries, 4096u);
  EXPECT_THROW(parse_config("sensor: {watched_paths: [etc/shadow]}", ""), std::runtime_error);
  EXPECT_THROW(parse_config("sensor: {watched_paths: /etc/shadow}", ""), std::runtime_error);
  EXPECT_THROW(parse_config("sensor: {ancestry_depth: 1000}", ""), std::runtime_error);
}

TEST(Config, SpoolSection) {
  Config c = parse_config("", "/etc/vigie");
  EXPECT_TRUE(c.spool.enabled);
  EXPECT_EQ(c.spool.dir, "");  // the agent makes it <state_dir>/spool
  EXPECT_EQ(c.spool.max_bytes, 1ull << 30);
  EXPECT_TRUE(c.spool.sync);
  c = parse_config("spool:\n  enabled: false\n  dir: spool\n  max_bytes: 1048576\n  sync: false\n",
                   "/etc/vigie");
  EXPECT_FALSE(c.spool.enabled);
  EXPECT_EQ(c.spool.dir, "/etc/vigie/spool");  // relative: against the file's directory
  EXPECT_EQ(c.spool.max_bytes, 1u << 20);
  EXPECT_FALSE(c.spool.sync);
  EXPECT_EQ(parse_config("spool: {dir: /data/spool, max_bytes: 53687091200}", "/").spool.max_bytes,
            50ull << 30);
  expect_error("spool: {max_bytes: 1048575}", "'spool.max_bytes' must be within");
  expect_error("spool: {max_bytes: -1}", "'spool.max_bytes' must be within");
  expect_error("spool: {max_bytes: 1GiB}", "'spool.max_bytes' has an invalid value");
  expect_error("spool: {sync: sometimes}", "'spool.sync' has an invalid value");
  expect_error("spool: {enabled: 2}", "'spool.enabled' has an invalid value");
  expect_error("spool: {dir: [a]}", "'spool.dir' has an invalid value");
  expect_error("spool: {max_size: 1048576}", "unknown key 'spool.max_size'");
  expect_error("spool: [a]", "'spool.' must be a mapping");
}

}  // namespace
}  // namespace vigie::agent
