#include "vigie/collector/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "sample_batch.h"
#include "vigie/collector/handler.h"
#include "vigie/collector/sqlite_store.h"
#include "vigie/protocol/codec.h"
#include "vigie/uplink/http_client.h"

namespace vigie::collector {
namespace {

using nlohmann::json;
using testing::sample_batch;

constexpr const char* kToken = "server-test-token";

// A collector on 127.0.0.1, ephemeral port, talked to with the agents' own client.
class CollectorServerTest : public ::testing::Test {
 protected:
  CollectorServerTest() : store_((dir_.path() / "collector.db").string()) {
    config_.listen_address = "127.0.0.1";
    config_.port = 0;
    config_.threads = 2;
    config_.body_limit_bytes = 1 << 20;
    config_.agent_tokens = {{sha256(kToken), "", ""}};
    handler_ = std::make_unique<Handler>(config_, store_, metrics_);
    server_ = std::make_unique<Server>(config_, *handler_);
    server_->start();
    endpoint_.host = "127.0.0.1";
    endpoint_.port = std::to_string(server_->port());
  }

  uplink::HttpResponse post(const std::string& body, const std::string& token = kToken) {
    uplink::HttpRequest request;
    request.method = "POST";
    request.target = "/api/v1/ingest";
    request.headers = {{"Authorization", "Bearer " + token},
                       {"Content-Type", "application/x-protobuf"},
                       {"Content-Encoding", "zstd"}};
    request.body = body;
    return uplink::send(endpoint_, request, std::chrono::seconds(20));
  }

  uplink::HttpResponse get(const std::string& target) {
    uplink::HttpRequest request;
    request.target = target;
    return uplink::send(endpoint_, request);
  }

  testing::TempDir dir_;
  Config config_;
  SqliteStore store_;
  Metrics metrics_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<Server> server_;
  uplink::Endpoint endpoint_;
};

TEST_F(CollectorServerTest, IngestsOverHttpAndStoresADuplicateOnce) {
  ASSERT_NE(server_->port(), 0);
  const std::string body = protocol::encode_batch(sample_batch(1));
  const auto first = post(body);
  ASSERT_EQ(first.status, 200) << first.error << first.body;
  EXPECT_EQ(json::parse(first.body).at("status"), "stored");
  const auto second = post(body);
  ASSERT_EQ(second.status, 200) << second.error;
  EXPECT_EQ(json::parse(second.body).at("status"), "duplicate");

  const auto events = get("/api/v1/events?host=node1");
  ASSERT_EQ(events.status, 200) << events.error;
  EXPECT_EQ(json::parse(events.body).at("events").size(), 3u);
}

TEST_F(CollectorServerTest, RefusesBadRequestsAndKeepsServing) {
  const std::string body = protocol::encode_batch(sample_batch(1));
  EXPECT_EQ(post(body, "wrong-token").status, 401);

  const auto garbage = post("definitely not a zstd frame");
  EXPECT_EQ(garbage.status, 400);
  EXPECT_NE(json::parse(garbage.body).at("error").get<std::string>().find("bad batch"),
            std::string::npos);

  const auto oversized = post(std::string(config_.body_limit_bytes * 3, 'x'));
  EXPECT_EQ(oversized.status, 413) << oversized.error;
  EXPECT_NE(oversized.body.find("exceeds the limit"), std::string::npos);

  // The next request on a new connection is served normally.
  EXPECT_EQ(post(body).status, 200);
  EXPECT_EQ(get("/api/v1/nope").status, 404);
  EXPECT_EQ(get("/api/v1/ingest").status, 405);
  EXPECT_EQ(get("/api/v1/events?kind=nope").status, 400);

  const auto metrics = get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  for (const char* line :
       {R"(vigie_collector_rejections_total{reason="unauthorized"} 1)",
        R"(vigie_collector_rejections_total{reason="not_zstd"} 1)",
        R"(vigie_collector_rejections_total{reason="body_too_large"} 1)",
        R"(vigie_collector_rejections_total{reason="bad_query"} 1)",
        "vigie_collector_ingest_batches_total 1", "vigie_collector_ingest_events_total 3",
        "vigie_collector_ingest_alerts_total 1",
        R"(vigie_collector_http_requests_total{code="413",path="/api/v1/ingest"} 1)",
        "vigie_collector_http_request_duration_seconds_bucket"}) {
    EXPECT_NE(metrics.body.find(line), std::string::npos) << line << "\n" << metrics.body;
  }
}

TEST_F(CollectorServerTest, ServesConcurrentAgents) {
  std::vector<std::thread> agents;
  std::atomic<int> stored{0};
  for (int a = 0; a < 4; ++a) {
    agents.emplace_back([&, a] {
      for (uint64_t sequence = 1; sequence <= 5; ++sequence) {
        if (post(protocol::encode_batch(sample_batch(sequence, "node" + std::to_string(a))))
                .status == 200)
          ++stored;
      }
    });
  }
  for (auto& agent : agents) agent.join();
  EXPECT_EQ(stored, 20);
  EXPECT_EQ(json::parse(get("/api/v1/agents").body).at("agents").size(), 4u);
  EXPECT_EQ(json::parse(get("/api/v1/events?limit=1000").body).at("events").size(), 60u);
}

// Sends `raw` bytes on a fresh connection and returns all the server answers.
std::string exchange_raw(uint16_t port, const std::string& raw) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      write(fd, raw.data(), raw.size()) == static_cast<ssize_t>(raw.size())) {
    char buffer[4096];
    for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) answer.append(buffer, n);
  }
  close(fd);
  return answer;
}

TEST_F(CollectorServerTest, AnswersMalformedHttpWithA4xx) {
  EXPECT_EQ(exchange_raw(server_->port(), "NOT HTTP AT ALL\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  const std::string huge_header =
      "GET / HTTP/1.1\r\nX-Filler: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
  EXPECT_EQ(exchange_raw(server_->port(), huge_header).rfind("HTTP/1.1 431", 0), 0u);
  // Keep-alive: two requests on one connection, two answers.
  const std::string twice =
      "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::string answers = exchange_raw(server_->port(), twice);
  EXPECT_NE(answers.find("HTTP/1.1 200"), answers.rfind("HTTP/1.1 200")) << answers;
  EXPECT_EQ(get("/metrics").status, 200);
  EXPECT_NE(
      get("/metrics").body.find(R"(vigie_collector_rejections_total{reason="malformed_http"} 1)"),
      std::string::npos);
}

TEST_F(CollectorServerTest, StopsCleanly) {
  server_->stop();
  server_->stop();
  EXPECT_EQ(get("/metrics").status, 0);
}

}  // namespace
}  // namespace vigie::collector
