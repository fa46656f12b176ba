#include "vigie/collector/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "loopback_collector.h"
#include "sample_batch.h"
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
    protocol::HttpRequest request;
    request.method = "POST";
    request.target = "/api/v1/ingest";
    request.headers = {{"Authorization", "Bearer " + token},
                       {"Content-Type", "application/x-protobuf"},
                       {"Content-Encoding", "zstd"}};
    request.body = body;
    return protocol::send(endpoint_, request, std::chrono::seconds(20));
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

TEST_F(CollectorServerTest, RefusesAnUnauthenticatedIngestBeforeItsBody) {
  // 10 MiB is within this server's body limit: only the token check stops it.
  const auto server = another_server([](Config& c) { c.body_limit_bytes = 16u << 20; });
  for (const std::string authorization : {"", "Authorization: Bearer wrong-token\r\n"}) {
    const int fd = connect_raw(server->port());
    ASSERT_TRUE(send_raw(fd, "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\n" + authorization +
                                 "Content-Type: application/x-protobuf\r\n"
                                 "Content-Encoding: zstd\r\nContent-Length: 10485760\r\n\r\n"));
    // Not a byte of the body is sent, yet the answer comes and the server closes.
    bool closed = false;
    const std::string answer = read_all(fd, &closed);
    EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0u) << authorization << answer;
    EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
    EXPECT_TRUE(closed);
  }
  // An agent with a token is still served on that server.
  protocol::HttpRequest request;
  request.method = "POST";
  request.target = "/api/v1/ingest";
  request.headers = {{"Authorization", std::string("Bearer ") + kToken},
                     {"Content-Type", "application/x-protobuf"},
                     {"Content-Encoding", "zstd"}};
  request.body = protocol::encode_batch(sample_batch(1));
  protocol::Endpoint endpoint = endpoint_;
  endpoint.port = std::to_string(server->port());
  EXPECT_EQ(protocol::send(endpoint, request).status, 200);
}

TEST_F(CollectorServerTest, DropsAClientWhoseHeadersTakeTooLong) {
  const auto server = another_server([](Config& c) { c.header_timeout = std::chrono::seconds(1); });
  const auto start = std::chrono::steady_clock::now();
  const int slow = connect_raw(server->port());
  ASSERT_TRUE(send_raw(slow, "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\n"));
  // A keep-alive client whose next request stalls half-way gets the same.
  const int stalled = connect_raw(server->port());
  ASSERT_TRUE(send_raw(stalled,
                       "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\n"));
  // Meanwhile another client is served.
  EXPECT_EQ(get("/api/v1/agents", server->port()).status, 200);

  bool closed = false;
  EXPECT_EQ(read_all(slow, &closed), "");
  EXPECT_TRUE(closed) << "still open after the header timeout";
  const std::string answers = read_all(stalled, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(answers.rfind("HTTP/1.1 200", 0), 0u) << answers;
  EXPECT_EQ(answers.find("HTTP/1.1", 1), std::string::npos) << answers;
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, std::chrono::milliseconds(900));
  EXPECT_LT(elapsed, std::chrono::seconds(4));
}

TEST_F(CollectorServerTest, AnswersConnectionsOverTheCapWith503) {
  const auto server = another_server([](Config& c) { c.max_connections = 2; });
  const int first = connect_raw(server->port());
  const int second = connect_raw(server->port());
  bool closed = false;
  const std::string answer = read_all(connect_raw(server->port()), &closed);
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
  EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;
  EXPECT_NE(answer.find("too many connections"), std::string::npos) << answer;
  EXPECT_TRUE(closed);

  // Slots free up once the server sees its clients go.
  close(first);
  close(second);
  protocol::HttpResponse metrics;
  for (int i = 0; i < 100 && metrics.status != 200; ++i) {
    metrics = get("/metrics", server->port());
    if (metrics.status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(metrics.status, 200);
  const std::string line = R"(vigie_collector_rejections_total{reason="too_many_connections"} )";
  const auto at = metrics.body.find(line);
  ASSERT_NE(at, std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body[at + line.size()], '0') << metrics.body;
}

TEST_F(CollectorServerTest, AnswersMalformedHttpWithA4xx) {
  EXPECT_EQ(exchange_raw(collector_.port(), "NOT HTTP AT ALL\r\n\r\n").rfind("HTTP/1.1 400", 0),
            0u);
  const std::string huge_header =
      "GET / HTTP/1.1\r\nX-Filler: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
  EXPECT_EQ(exchange_raw(collector_.port(), huge_header).rfind("HTTP/1.1 431", 0), 0u);
  // Keep-alive: two requests on one connection, two answers.
  const std::string twice =
      "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::string answers = exchange_raw(collector_.port(), twice);
  EXPECT_NE(answers.find("HTTP/1.1 200"), answers.rfind("HTTP/1.1 200")) << answers;
  EXPECT_EQ(get("/metrics").status, 200);
  EXPECT_NE(
      get("/metrics").body.find(R"(vigie_collector_rejections_total{reason="malformed_http"} 1)"),
      std::string::npos);
}

TEST_F(CollectorServerTest, StopsCleanly) {
  collector_.server().stop();
  collector_.server().stop();
  EXPECT_EQ(get("/metrics").status, 0);
}

}  // namespace
}  // namespace vigie::collector
