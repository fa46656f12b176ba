#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/loopback_collector.h"
#include "support/sample_batch.h"
#include "vigie/protocol/codec.h"
#include "vigie/protocol/http_client.h"

namespace vigie::collector {
namespace {

using nlohmann::json;
using testing::sample_batch;

constexpr const char* kToken = "server-test-token";

// A collector on 127.0.0.1, ephemeral port, talked to with the agents' own client.
class CollectorServerTest : public ::testing::Test {
 protected:
  CollectorServerTest()
      : collector_([](Config& config) {
          config.listen_address = "127.0.0.1";
          config.threads = 2;
          config.body_limit_bytes = 1 << 20;
          config.agent_tokens = {{sha256(kToken), "", "", true}};
        }) {
    endpoint_.host = "127.0.0.1";
    endpoint_.port = std::to_string(collector_.port());
  }

  protocol::HttpResponse post(const std::string& body, const std::string& token = kToken) {
    return protocol::send(endpoint_, protocol::ingest_request(token, body),
                          std::chrono::seconds(20));
  }

  protocol::HttpResponse get(const std::string& target, uint16_t port = 0) {
    protocol::Endpoint endpoint = endpoint_;
    if (port != 0) endpoint.port = std::to_string(port);
    protocol::HttpRequest request;
    request.target = target;
    return protocol::send(endpoint, request);
  }

  // Another server over the same handler, with `change` applied to its configuration.
  template <typename Change>
  std::unique_ptr<Server> another_server(Change change) {
    Config config = collector_.config();
    change(config);
    auto server = std::make_unique<Server>(config, collector_.handler());
    server->start();
    return server;
  }

  testing::LoopbackCollector collector_;
  protocol::Endpoint endpoint_;
};

TEST_F(CollectorServerTest, IngestsOverHttpAndStoresADuplicateOnce) {
  ASSERT_NE(collector_.port(), 0);
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

  const auto oversized = post(std::string(collector_.config().body_limit_bytes * 3, 'x'));
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

// A connection to 127.0.0.1:`port` whose reads give up after 5 s; -1 on failure.
int connect_raw(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Everything the server sends on `fd` until it closes (`closed`) or a read
// times out; closes `fd`.
std::string read_all(int fd, bool* closed = nullptr) {
  std::string answer;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) answer.append(buffer, n);
  if (closed != nullptr) *closed = n == 0;
  close(fd);
  return answer;
}

bool send_raw(int fd, const std::string& raw) {
  return fd >= 0 && write(fd, raw.data(), raw.size()) == static_cast<ssize_t>(raw.size());
}

// Sends `raw` bytes on a fresh connection and returns all the server answers.
std::string exchange_raw(uint16_t port, const std::string& raw) {
  const int fd = connect_raw(port);
  if (!send_raw(fd, raw)) {
    if (fd >= 0) close(fd);
    return {};
  }
  return read_all(fd);
}

// Slow, oversized, malformed and unauthenticated requests, and connections
// over the cap: hostile_test.cpp.

TEST_F(CollectorServerTest, AnswersKeepAliveRequestsInTurn) {
  // Two requests on one connection, two answers.
  const std::string twice =
      "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::string answers = exchange_raw(collector_.port(), twice);
  EXPECT_EQ(answers.rfind("HTTP/1.1 200", 0), 0u) << answers;
  EXPECT_NE(answers.find("HTTP/1.1 200"), answers.rfind("HTTP/1.1 200")) << answers;
}

TEST_F(CollectorServerTest, StopsCleanly) {
  collector_.server().stop();
  collector_.server().stop();
  EXPECT_EQ(get("/metrics").status, 0);
}

}  // namespace
}  // namespace vigie::collector
