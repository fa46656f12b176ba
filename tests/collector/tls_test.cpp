// TLS end to end on loopback: the collector's server (server.cpp) and the
// shared HTTP client (protocol/http_client.cpp), with a CA and certificates
// made at test time (test_pki.h): ingest and API over https, and every way a
// connection must be refused.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/loopback_collector.h"
#include "support/sample_batch.h"
#include "support/test_pki.h"
#include "vigie/protocol/codec.h"
#include "vigie/protocol/http_client.h"

namespace vigie::collector {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kAgentToken = "tls-agent-token";
constexpr const char* kAdminToken = "tls-admin-token";

// Polls `done` until it holds or 10 s pass (a guard against a hang, not a
// timing assertion).
template <typename F>
bool eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

class CollectorTlsTest : public ::testing::Test {
 protected:
  CollectorTlsTest() : pki_(dir_.path()), server_cert_(pki_.server()) {}

  // A collector serving TLS with `server_cert_` (adjusted by `configure`).
  std::unique_ptr<testing::LoopbackCollector> start(
      const std::function<void(Config&)>& configure = {}) {
    return std::make_unique<testing::LoopbackCollector>([&](Config& config) {
      config.api.anonymous.reset();
      config.api.tokens = {{sha256(kAdminToken), *parse_role("admin")}};
      config.agent_tokens = {{sha256(kAgentToken), "", "", true}};
      config.tls.cert_file = server_cert_.cert;
      config.tls.key_file = server_cert_.key;
      if (configure) configure(config);
    });
  }

  protocol::Endpoint endpoint(const testing::LoopbackCollector& collector,
                              const std::string& host = "127.0.0.1") {
    const auto endpoint = protocol::Endpoint::parse(
        "https://" + host + ":" + std::to_string(collector.port()), {.ca_file = pki_.ca_file()});
    EXPECT_TRUE(endpoint) << endpoint.error();
    return endpoint.value_or(protocol::Endpoint{});
  }

  static protocol::HttpResponse get(const protocol::Endpoint& endpoint, const std::string& target,
                                    const std::string& token = kAdminToken) {
    protocol::HttpRequest request;
    request.target = target;
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    return protocol::send(endpoint, request, 5s);
  }

  static protocol::HttpResponse ingest(const protocol::Endpoint& endpoint, uint64_t sequence) {
    return protocol::send(endpoint,
                          protocol::ingest_request(
                              kAgentToken, protocol::encode_batch(testing::sample_batch(sequence))),
                          5s);
  }

  // The value of vigie_collector_rejections_total{reason}, read from the
  // handler's metrics without going through the network.
  static double rejections(testing::LoopbackCollector& collector, const std::string& reason) {
    Request request;
    request.method = "GET";
    request.target = "/metrics";
    request.authorization = std::string("Bearer ") + kAdminToken;
    const std::string text = collector.handler().handle(request).body;
    const std::string key = "vigie_collector_rejections_total{reason=\"" + reason + "\"} ";
    const auto at = text.find(key);
    return at == std::string::npos ? -1 : std::stod(text.substr(at + key.size()));
  }

  testing::TempDir dir_;
  testing::TestPki pki_;
  testing::CertFiles server_cert_;
};

TEST_F(CollectorTlsTest, IngestAndApiOverTls) {
  auto collector = start();
  const auto https = endpoint(*collector);
  EXPECT_EQ(collector->url().rfind("https://", 0), 0u);

  const auto stored = ingest(https, 1);
  ASSERT_EQ(stored.status, 200) << stored.error << stored.body;
  EXPECT_EQ(json::parse(stored.body)["status"], "stored");
  EXPECT_EQ(json::parse(ingest(https, 1).body)["status"], "duplicate");

  const auto events = get(https, "/api/v1/events");
  ASSERT_EQ(events.status, 200) << events.error << events.body;
  EXPECT_EQ(json::parse(events.body)["events"].size(), 3u);
  EXPECT_EQ(get(https, "/api/v1/events", "").status, 401);  // TLS does not replace the token
  EXPECT_EQ(get(https, "/api/v1/events", "wrong").status, 401);

  // By name: SNI and DNS subjectAltName checked through the resolver.
  const auto by_name = get(endpoint(*collector, "localhost"), "/api/v1/agents");
  EXPECT_EQ(by_name.status, 200) << by_name.error;

  // Several requests on one server, each a new connection and handshake.
  for (uint64_t sequence = 2; sequence <= 5; ++sequence)
    EXPECT_EQ(ingest(https, sequence).status, 200) << sequence;
  EXPECT_EQ(rejections(*collector, "tls_handshake_failed"), 0);
}

TEST_F(CollectorTlsTest, ServerSignedByAnotherCaIsRefused) {
  auto collector = start();
  testing::TempDir other_dir;
  testing::TestPki other(other_dir.path(), "Another CA");
  auto https = endpoint(*collector);
  https.tls.ca_file = other.ca_file();
  const auto response = get(https, "/api/v1/agents");
  EXPECT_EQ(response.status, 0);
  EXPECT_NE(response.error.find("certificate verify failed"), std::string::npos) << response.error;
  EXPECT_NE(response.error.find("unable to get local issuer certificate"), std::string::npos)
      << response.error;
  // The system store does not know the test CA either.
  https.tls.ca_file.clear();
  EXPECT_EQ(get(https, "/api/v1/agents").status, 0);
  // The server saw both handshakes fail.
  EXPECT_TRUE(eventually([&] { return rejections(*collector, "tls_handshake_failed") == 2; }))
      << rejections(*collector, "tls_handshake_failed");
}

TEST_F(CollectorTlsTest, ExpiredCertificateIsRefused) {
  server_cert_ = pki_.issue("expired", {"IP:127.0.0.1"}, -7200, -3600);
  auto collector = start();
  const auto response = get(endpoint(*collector), "/api/v1/agents");
  EXPECT_EQ(response.status, 0);
  EXPECT_NE(response.error.find("certificate has expired"), std::string::npos) << response.error;
}

TEST_F(CollectorTlsTest, HostnameMismatchIsRefused) {
  server_cert_ = pki_.issue("elsewhere", {"DNS:collector.example.org", "IP:192.0.2.1"});
  auto collector = start();
  const auto by_ip = get(endpoint(*collector), "/api/v1/agents");
  EXPECT_EQ(by_ip.status, 0);
  EXPECT_NE(by_ip.error.find("IP address mismatch"), std::string::npos) << by_ip.error;
  const auto by_name = get(endpoint(*collector, "localhost"), "/api/v1/agents");
  EXPECT_EQ(by_name.status, 0);
  EXPECT_NE(by_name.error.find("hostname mismatch"), std::string::npos) << by_name.error;
}

TEST_F(CollectorTlsTest, PlainHttpToTheTlsPortIsAnsweredAndCounted) {
  auto collector = start();
  const auto plain =
      protocol::Endpoint::parse("http://127.0.0.1:" + std::to_string(collector->port()));
  ASSERT_TRUE(plain);
  const auto response = get(*plain, "/api/v1/agents");
  EXPECT_EQ(response.status, 400) << response.error;
  EXPECT_EQ(json::parse(response.body)["error"], "this port speaks TLS only; use https://");
  // An ingest with its body: refused without a reset, the body drained.
  const auto batch = ingest(*plain, 1);
  EXPECT_EQ(batch.status, 400) << batch.error;
  EXPECT_EQ(rejections(*collector, "plain_http_on_tls"), 2);
  EXPECT_EQ(collector->store().events({}).size(), 0u);
  // The server keeps serving TLS.
  EXPECT_EQ(get(endpoint(*collector), "/api/v1/agents").status, 200);
}

TEST_F(CollectorTlsTest, HandshakeIsBoundedInTime) {
  auto collector = start([](Config& config) { config.tls.handshake_timeout = 1s; });
  // A client that connects and says nothing is closed by the server.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(collector->port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  timeval guard{30, 0};  // the test's own guard against a hang
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
  char byte = 0;
  EXPECT_EQ(::recv(fd, &byte, 1, 0), 0);  // orderly close, no data
  ::close(fd);
  EXPECT_TRUE(eventually([&] { return rejections(*collector, "tls_handshake_failed") == 1; }));
  // A TLS ClientHello that stops half-way is bounded the same way.
  const int half = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(half, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ::setsockopt(half, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
  const unsigned char record_header[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01};
  ASSERT_EQ(::send(half, record_header, sizeof record_header, 0),
            static_cast<ssize_t>(sizeof record_header));
  EXPECT_LE(::recv(half, &byte, 1, 0), 0);
  ::close(half);
  EXPECT_TRUE(eventually([&] { return rejections(*collector, "tls_handshake_failed") == 2; }));
  EXPECT_EQ(get(endpoint(*collector), "/api/v1/agents").status, 200);
}

TEST_F(CollectorTlsTest, ClientCertificatesWhenRequired) {
  auto collector = start([&](Config& config) { config.tls.client_ca_file = pki_.ca_file(); });
  auto https = endpoint(*collector);
  const auto without = get(https, "/api/v1/agents");
  EXPECT_EQ(without.status, 0) << without.body;

  const auto client = pki_.client("agent-node1");
  https.tls.cert_file = client.cert;
  https.tls.key_file = client.key;
  const auto with = get(https, "/api/v1/agents");
  EXPECT_EQ(with.status, 200) << with.error;
  EXPECT_EQ(ingest(https, 1).status, 200);

  // A client certificate from another CA is refused too.
  testing::TempDir other_dir;
  testing::TestPki other(other_dir.path(), "Rogue CA");
  const auto rogue = other.client("rogue");
  https.tls.cert_file = rogue.cert;
  https.tls.key_file = rogue.key;
  EXPECT_EQ(get(https, "/api/v1/agents").status, 0);
  EXPECT_TRUE(eventually([&] { return rejections(*collector, "tls_handshake_failed") >= 2; }));
}

TEST_F(CollectorTlsTest, Tls13Only) {
  auto collector = start([](Config& config) { config.tls.tls13_only = true; });
  EXPECT_EQ(get(endpoint(*collector), "/api/v1/agents").status, 200);
}

TEST_F(CollectorTlsTest, BadFilesAreClearErrors) {
  // Server: a key that does not match the certificate.
  const auto other = pki_.issue("other", {"IP:127.0.0.1"});
  try {
    start([&](Config& config) { config.tls.key_file = other.key; });
    ADD_FAILURE() << "started with a mismatched key";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("mismatch"), std::string::npos) << e.what();
  }
  // Client: an unreadable CA file, a certificate without its key.
  auto collector = start();
  auto https = endpoint(*collector);
  https.tls.ca_file = (dir_.path() / "missing.pem").string();
  auto response = get(https, "/api/v1/agents");
  EXPECT_EQ(response.status, 0);
  EXPECT_NE(response.error.find("missing.pem"), std::string::npos) << response.error;
  https = endpoint(*collector);
  https.tls.cert_file = other.cert;
  response = get(https, "/api/v1/agents");
  EXPECT_EQ(response.status, 0);
  EXPECT_NE(response.error.find("both cert_file and key_file"), std::string::npos)
      << response.error;
}

TEST(HttpsEndpoint, Parses) {
  auto e = protocol::Endpoint::parse("https://collector.example.org");
  ASSERT_TRUE(e) << e.error();
  EXPECT_TRUE(e->https);
  EXPECT_EQ(e->port, "443");
  EXPECT_EQ(e->url(), "https://collector.example.org:443");
  e = protocol::Endpoint::parse("https://[::1]:9800/");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->url(), "https://[::1]:9800");
  e = protocol::Endpoint::parse("http://127.0.0.1:9800", {.ca_file = "/etc/vigie/ca.pem"});
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->https);
  EXPECT_EQ(e->port, "9800");
  EXPECT_EQ(e->tls.ca_file, "/etc/vigie/ca.pem");
  e = protocol::Endpoint::parse("ftp://127.0.0.1:21");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find("unsupported scheme"), std::string::npos);
}

}  // namespace
}  // namespace vigie::collector
