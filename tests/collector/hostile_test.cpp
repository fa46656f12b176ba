// Hostile clients against a real collector (Server + Handler + SQLite store)
// on 127.0.0.1, while a well-behaved agent keeps ingesting batches and
// reading the API: slowloris and slow bodies are closed at their timeouts
// and counted, oversized, malformed and unauthenticated requests get their
// 4xx (before their body is read where the headers suffice), zstd bombs are
// refused without blowing memory, connections over the cap get 503; every
// request of the good client succeeds throughout. Also: every bounded
// resource of a fully configured collector is exported with its use.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zstd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "support/exposition.h"
#include "support/loopback_collector.h"
#include "support/sample_batch.h"
#include "vigie/collector/service.h"
#include "vigie/protocol/codec.h"
#include "vigie/protocol/http_client.h"

namespace vigie::collector {
namespace {

using nlohmann::json;
using testing::sample_batch;
using namespace std::chrono_literals;
using namespace std::string_literals;

constexpr const char* kAgentToken = "hostile-test-agent";  // any host
constexpr const char* kNodeToken = "hostile-test-node-a";  // host node-a only
constexpr const char* kApiToken = "hostile-test-reader";
constexpr std::size_t kBodyLimit = 1u << 20;
constexpr std::size_t kHeaderLimit = 8u << 10;

// A raw TCP connection to 127.0.0.1 (closed with its owner), for what no
// well-behaved client sends. Reads and writes give up after 10 s.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) reset();
  }
  ~RawConnection() { reset(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Writes all of `bytes`; false when the peer closed or a write timed out.
  bool send(std::string_view bytes) {
    while (fd_ >= 0 && !bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return fd_ >= 0;
  }
  // Everything the server sends until it closes (`closed`) or a read times
  // out, then closes this end.
  std::string read_all(bool* closed = nullptr) {
    std::string answer;
    char buffer[4096];
    ssize_t n = 0;
    while (fd_ >= 0 && (n = ::recv(fd_, buffer, sizeof buffer, 0)) > 0) answer.append(buffer, n);
    if (closed != nullptr) *closed = fd_ >= 0 && (n == 0 || errno == ECONNRESET);
    reset();
    return answer;
  }
  // Whether the server has sent something or closed, within `wait`.
  bool readable(std::chrono::milliseconds wait) const {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, static_cast<int>(wait.count())) > 0;
  }

 private:
  void reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int fd_;
};

// Sends `raw` on a fresh connection; all the server answers until it closes.
std::string exchange(uint16_t port, std::string_view raw, bool* closed = nullptr) {
  RawConnection connection(port);
  if (!connection.send(raw)) return {};
  return connection.read_all(closed);
}

// The JSON body of a raw HTTP/1.1 answer (after the blank line).
json json_body(const std::string& answer) {
  const auto at = answer.find("\r\n\r\n");
  if (at == std::string::npos) return json();
  return json::parse(answer.substr(at + 4), nullptr, false);
}

// The value of the sample `series` (name and labels exactly as exposed) in a
// Prometheus text exposition; -1 when absent.
double sample(const std::string& exposition, const std::string& series) {
  return vigie::integration::find_sample(exposition, series).value_or(-1);
}

std::string rejections(const char* reason) {
  return std::string("vigie_collector_rejections_total{reason=\"") + reason + "\"}";
}

// A well-behaved agent and API reader: in its own thread, until stopped,
// POSTs a batch of its own (new sequence number each time) and reads it back
// through /api/v1/events and /api/v1/agents. Every answer must be a 200.
class GoodClient {
 public:
  explicit GoodClient(uint16_t port) {
    endpoint_.host = "127.0.0.1";
    endpoint_.port = std::to_string(port);
  }
  ~GoodClient() { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Requests that did not get a 200, with why.
  std::vector<std::string> failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
  }
  uint64_t batches_stored() const { return stored_; }
  uint64_t requests() const { return requests_; }
  // Waits until the client has made `n` more requests (at most 60 s).
  void wait_for_requests(uint64_t n) const {
    const uint64_t target = requests_ + n;
    for (int i = 0; i < 6000 && requests_ < target; ++i) std::this_thread::sleep_for(10ms);
  }

  static constexpr const char* kHost = "good-node";

 private:
  void check(const char* what, const protocol::HttpResponse& response) {
    ++requests_;
    if (response.status == 200) return;
    std::lock_guard lock(mutex_);
    failures_.push_back(std::string(what) + ": " + std::to_string(response.status) + " " +
                        response.error + " " + response.body);
  }

  void run() {
    uint64_t sequence = 0;
    while (!stopping_) {
      const auto stored =
          protocol::send(endpoint_,
                         protocol::ingest_request(
                             kAgentToken, protocol::encode_batch(sample_batch(++sequence, kHost))),
                         30s);
      check("ingest", stored);
      if (stored.status == 200 && stored.body.find("\"stored\"") != std::string::npos) ++stored_;
      for (const char* target :
           {"/api/v1/events?host=good-node&limit=5", "/api/v1/agents", "/api/v1/alerts?limit=5"}) {
        protocol::HttpRequest get;
        get.target = target;
        get.headers = {{"Authorization", std::string("Bearer ") + kApiToken}};
        check(target, protocol::send(endpoint_, get, 30s));
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  protocol::Endpoint endpoint_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> stored_{0};
  std::atomic<uint64_t> requests_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> failures_;
};

void configure(Config& config) {
  config.threads = 4;
  config.body_limit_bytes = kBodyLimit;
  config.header_limit_bytes = kHeaderLimit;
  config.max_connections = 256;
  config.header_timeout = 1s;
  config.read_timeout = 2s;
  config.idle_timeout = 5s;
  config.agent_tokens = {{sha256(kAgentToken), "", "", true},
                         {sha256(kNodeToken), "site-a", "node-a", false}};
  config.api.anonymous.reset();
  config.api.tokens = {{sha256(kApiToken), Principal{Role::kAdmin, "reader", {}}}};
}

class HostileTest : public ::testing::Test {
 protected:
  HostileTest() : collector_(configure), good_(collector_.port()) {}

  void SetUp() override {
    good_.start();
    good_.wait_for_requests(4);
  }

  void TearDown() override {
    // The good client went on through whatever the test did.
    good_.wait_for_requests(4);
    good_.stop();
    EXPECT_TRUE(good_.failures().empty()) << good_.failures().front();
    EXPECT_GT(good_.batches_stored(), 0u);
    EventQuery query;
    query.host = GoodClient::kHost;
    query.limit = Handler::kMaxLimit;
    EXPECT_EQ(collector_.store().events(query).size(), 3 * good_.batches_stored());
  }

  std::string metrics() {
    protocol::Endpoint endpoint;
    endpoint.port = std::to_string(collector_.port());
    protocol::HttpRequest get;
    get.target = "/metrics";
    get.headers = {{"Authorization", std::string("Bearer ") + kApiToken}};
    const auto response = protocol::send(endpoint, get);
    EXPECT_EQ(response.status, 200) << response.error;
    return response.body;
  }

  // POSTs `body` as a batch with `token`; the answer.
  protocol::HttpResponse ingest(const std::string& body, const std::string& token = kAgentToken) {
    protocol::Endpoint endpoint;
    endpoint.port = std::to_string(collector_.port());
    return protocol::send(endpoint, protocol::ingest_request(token, body), 60s);
  }

  static std::string ingest_headers(const std::string& extra) {
    return std::string("POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ") +
           kAgentToken + "\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: zstd\r\n" +
           extra + "\r\n";
  }

  uint16_t port() const { return collector_.port(); }

  testing::LoopbackCollector collector_;
  GoodClient good_;
};

// Opens `n` connections that each send `head` and then trickle `trickle`
// one byte every 100 ms (starting over at its end) until the server closes
// them; returns how many the server closed without answering a byte. Gives
// up after 30 s (each should be closed within its timeout, 1 or 2 s).
// `during` runs once all are open.
template <typename During>
std::size_t trickle_until_closed(uint16_t port, std::size_t n, const std::string& head,
                                 const std::string& trickle, During during) {
  std::vector<std::unique_ptr<RawConnection>> open;
  for (std::size_t i = 0; i < n; ++i) {
    auto connection = std::make_unique<RawConnection>(port);
    if (!connection->connected() || !connection->send(head)) return 0;
    open.push_back(std::move(connection));
  }
  during();
  std::size_t closed_silently = 0, at = 0;
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (!open.empty() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(100ms);
    const char byte = trickle[at++ % trickle.size()];
    for (auto it = open.begin(); it != open.end();) {
      auto& c = **it;
      if (c.readable(0ms)) {
        char buffer[256];
        const ssize_t got = ::recv(c.fd(), buffer, sizeof buffer, MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno == ECONNRESET)) ++closed_silently;
        it = open.erase(it);  // closed, or answered: either way done
        continue;
      }
      (void)::send(c.fd(), &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      ++it;
    }
  }
  return closed_silently;
}

TEST_F(HostileTest, SlowlorisConnectionsAreClosedAtTheHeaderTimeoutAndCounted) {
  constexpr std::size_t kSlow = 100;  // well under max_connections (256)
  // A keep-alive client whose second request stalls half-way: answered once, then closed.
  RawConnection stalled(port());
  ASSERT_TRUE(stalled.send("GET /api/v1/agents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "s +
                           kApiToken + "\r\n\r\nGET /api/v1/agents HTTP/1.1\r\nHost: x\r\n"));
  std::string during_metrics;
  const std::size_t closed = trickle_until_closed(
      port(), kSlow, "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\n", "X-Slow: a\r\n", [&] {
        // Accepted by the kernel is not yet by the server: look again.
        for (int i = 0; i < 25; ++i) {
          during_metrics = metrics();
          if (sample(during_metrics, "vigie_collector_connections") >= double{kSlow}) break;
          std::this_thread::sleep_for(20ms);
        }
      });
  EXPECT_EQ(closed, kSlow) << "slowloris connections still open or answered";
  bool stalled_closed = false;
  const std::string answers = stalled.read_all(&stalled_closed);
  EXPECT_EQ(answers.rfind("HTTP/1.1 200", 0), 0u) << answers;
  EXPECT_EQ(answers.find("HTTP/1.1", 1), std::string::npos) << answers;
  EXPECT_TRUE(stalled_closed);
  // While they were open the connection gauge counted them.
  EXPECT_GE(sample(during_metrics, "vigie_collector_connections"), double{kSlow});
  EXPECT_EQ(sample(during_metrics, "vigie_collector_connections_limit"), 256);
  const std::string after = metrics();
  EXPECT_EQ(sample(after, rejections("header_timeout")), double{kSlow + 1}) << after;
  EXPECT_EQ(sample(after, rejections("read_timeout")), 0);
}

TEST_F(HostileTest, SlowBodiesAreClosedAtTheReadTimeoutAndCounted) {
  constexpr std::size_t kSlow = 20;
  const std::size_t closed =
      trickle_until_closed(port(), kSlow, ingest_headers("Content-Length: 100000\r\n"), "x", [] {});
  EXPECT_EQ(closed, kSlow) << "slow bodies still open or answered";
  const std::string after = metrics();
  EXPECT_EQ(sample(after, rejections("read_timeout")), double{kSlow}) << after;
  EXPECT_EQ(sample(after, rejections("header_timeout")), 0);
}

TEST_F(HostileTest, OversizedBodiesGet413BeforeTheyAreRead) {
  // By Content-Length: refused on the headers alone, not a byte of body sent.
  {
    RawConnection connection(port());
    ASSERT_TRUE(connection.send(ingest_headers("Content-Length: 1073741824\r\n")));
    bool closed = false;
    const std::string answer = connection.read_all(&closed);
    EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
    EXPECT_NE(json_body(answer).value("error", "").find("exceeds the limit"), std::string::npos)
        << answer;
    EXPECT_TRUE(closed);
  }
  // Chunked: no length to refuse on; the answer comes once the limit is
  // passed, while the body is still going.
  {
    RawConnection connection(port());
    ASSERT_TRUE(connection.send(ingest_headers("Transfer-Encoding: chunked\r\n")));
    const std::string chunk = "10000\r\n" + std::string(0x10000, 'z') + "\r\n";
    std::size_t sent = 0;
    // Socket buffers on loopback hold a few MiB besides what the server read.
    constexpr std::size_t kGiveUp = 32 * kBodyLimit;
    while (sent < kGiveUp && !connection.readable(0ms) && connection.send(chunk)) sent += 0x10000;
    ASSERT_TRUE(connection.readable(10s)) << "no answer after " << sent << " body bytes";
    EXPECT_LT(sent, kGiveUp) << "the server read on far past its limit";
    const std::string answer = connection.read_all();
    EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
    EXPECT_TRUE(json_body(answer).contains("error")) << answer;
  }
  const std::string after = metrics();
  EXPECT_EQ(sample(after, rejections("body_too_large")), 2);
  EXPECT_EQ(sample(after, "vigie_collector_request_body_bytes_limit"), double{kBodyLimit});
}

TEST_F(HostileTest, OversizedHeadersGet431) {
  // One huge header, and many small ones adding up.
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "X-Header-" + std::to_string(i) + ": value\r\n";
  for (const std::string& headers :
       {"X-Filler: " + std::string(2 * kHeaderLimit, 'a') + "\r\n", many}) {
    bool closed = false;
    const std::string answer =
        exchange(port(), "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n", &closed);
    EXPECT_EQ(answer.rfind("HTTP/1.1 431", 0), 0u) << answer.substr(0, 200);
    EXPECT_NE(json_body(answer).value("error", "").find("request headers exceed"),
              std::string::npos)
        << answer;
    EXPECT_TRUE(closed);
  }
  const std::string after = metrics();
  EXPECT_EQ(sample(after, rejections("header_too_large")), 2);
  EXPECT_EQ(sample(after, "vigie_collector_request_header_bytes_limit"), double{kHeaderLimit});
}

TEST_F(HostileTest, MalformedHttpGets400) {
  const std::vector<std::string> malformed = {
      "NOT HTTP AT ALL\r\n\r\n",
      "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\nNo colon in this header\r\n\r\n",
      "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n"s,
      "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
      "GET /api/v1/agents HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      // An authenticated ingest whose chunked body is broken.
      ingest_headers("Transfer-Encoding: chunked\r\n") + "zz\r\nhello\r\n0\r\n\r\n",
  };
  for (const std::string& raw : malformed) {
    bool closed = false;
    const std::string answer = exchange(port(), raw, &closed);
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << raw << "\n" << answer;
    EXPECT_NE(json_body(answer).value("error", "").find("malformed HTTP request"),
              std::string::npos)
        << answer;
    EXPECT_TRUE(closed) << raw;
  }
  EXPECT_EQ(sample(metrics(), rejections("malformed_http")), double(malformed.size()));
}

// A zstd frame of `size` zero bytes, compressed in 1 MiB steps (the test
// never holds it whole); its header declares the size when `declare`.
std::string zstd_of_zeros(std::size_t size, bool declare) {
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (declare) ZSTD_CCtx_setPledgedSrcSize(cctx.get(), size);
  const std::string zeros(1u << 20, '\0');
  std::string out;
  std::string buffer(ZSTD_CStreamOutSize(), '\0');
  for (std::size_t done = 0; done < size;) {
    const std::size_t n = std::min(zeros.size(), size - done);
    done += n;
    ZSTD_inBuffer in{zeros.data(), n, 0};
    const auto mode = done == size ? ZSTD_e_end : ZSTD_e_continue;
    std::size_t left = 0;
    do {
      ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
      left = ZSTD_compressStream2(cctx.get(), &o, &in, mode);
      if (ZSTD_isError(left)) return {};
      out.append(buffer.data(), o.pos);
    } while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
  }
  return out;
}

// A protobuf field header (field `number`, length-delimited) and its length.
std::string length_delimited(int number, std::size_t length) {
  std::string out;
  for (uint64_t v : {uint64_t(number) << 3 | 2, uint64_t(length)}) {
    for (; v >= 0x80; v >>= 7) out += static_cast<char>((v & 0x7f) | 0x80);
    out += static_cast<char>(v);
  }
  return out;
}

// A zstd frame of a vigie.v1.Batch that is valid on the wire: agent_id,
// host and sequence, then `prefix`, then `count` copies of `entry`,
// compressed in 1 MiB steps: a few KiB standing for millions of records.
std::string zstd_batch(const std::string& prefix, const std::string& entry, std::size_t count) {
  std::string step;
  while (step.size() < (1u << 20)) step += entry;
  const std::size_t per_step = step.size() / entry.size();
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  std::string out, buffer(ZSTD_CStreamOutSize(), '\0');
  auto feed = [&](std::string_view data, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    std::size_t left = 0;
    do {
      ZSTD_outBuffer o{buffer.data(), buffer.size(), 0};
      left = ZSTD_compressStream2(cctx.get(), &o, &in, mode);
      if (ZSTD_isError(left)) return false;
      out.append(buffer.data(), o.pos);
    } while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
    return true;
  };
  // agent_id "agent", host "node", sequence 1
  const std::string head = "\x0a\x05"s + "agent" + "\x1a\x04"s + "node" + "\x20\x01"s;
  if (!feed(head + prefix, ZSTD_e_continue)) return {};
  for (std::size_t done = 0; done < count;) {
    const std::size_t n = std::min(per_step, count - done);
    done += n;
    if (!feed(std::string_view(step).substr(0, n * entry.size()), ZSTD_e_continue)) return {};
  }
  if (!feed({}, ZSTD_e_end)) return {};
  return out;
}

// 12 million empty events (events { process_exit {} }, 5 bytes each).
std::string events_bomb() {
  return zstd_batch({}, length_delimited(6, 3) + "\x8a\x01\x00"s, 12'000'000);
}

// One exec event with 20 million empty argv strings
// (events { process_exec { argv: "" x 20M } }, 2 bytes each).
std::string argv_bomb() {
  constexpr std::size_t kArgs = 20'000'000;
  const std::string exec_head = length_delimited(16, 2 * kArgs);
  return zstd_batch(length_delimited(6, exec_head.size() + 2 * kArgs) + exec_head, "\x12\x00"s,
                    kArgs);
}

// The peak resident set of this process (VmHWM), bytes.
std::size_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

TEST_F(HostileTest, BadBatchesGet4xxWithAJsonErrorAndZstdBombsDoNotBlowMemory) {
  const std::string good = protocol::encode_batch(sample_batch(1, "node-x"));
  std::string corrupt = good;
  for (std::size_t i = 8; i < corrupt.size(); ++i) corrupt[i] = static_cast<char>(i * 131);
  protocol::Batch anonymous = sample_batch(2, "node-x");
  anonymous.agent_id.clear();

  struct Case {
    std::string name, body;
    int status;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"not zstd", "definitely not a zstd frame", 400, "not_zstd"},
      {"corrupt zstd", corrupt, 400, "corrupt"},
      {"truncated zstd", good.substr(0, good.size() / 2), 400, "corrupt"},
      {"malformed protobuf",
       [] {
         const std::string junk = "\xff\xff\xff\xff\x0f garbage that is no protobuf";
         std::string out(ZSTD_compressBound(junk.size()), '\0');
         out.resize(ZSTD_compress(out.data(), out.size(), junk.data(), junk.size(), 3));
         return out;
       }(),
       400, "bad_protobuf"},
      {"invalid batch", protocol::encode_batch(anonymous), 400, "invalid"},
      // Bombs: 1 GiB of zeros in tens of KiB, with and without its size declared.
      {"declared zstd bomb", zstd_of_zeros(std::size_t{1} << 30, true), 413, "decoded_too_large"},
      {"streamed zstd bomb", zstd_of_zeros(std::size_t{1} << 30, false), 413, "decoded_too_large"},
      // Under the decoded-size bound, yet gigabytes once parsed: 12 million
      // empty events (5 bytes each on the wire: events { process_exit {} }),
      // and one exec event with 20 million empty argv strings.
      {"events bomb", events_bomb(), 413, "decoded_too_large"},
      {"argv bomb", argv_bomb(), 413, "decoded_too_large"},
  };
  // After making the cases: what the collector's decoding adds to the peak.
  const std::size_t rss_before = peak_rss_bytes();
  for (const auto& c : cases) {
    ASSERT_FALSE(c.body.empty()) << c.name;
    ASSERT_LE(c.body.size(), kBodyLimit) << c.name;
    const auto response = ingest(c.body);
    EXPECT_EQ(response.status, c.status) << c.name << ": " << response.error << response.body;
    const json error = json::parse(response.body, nullptr, false);
    EXPECT_TRUE(error.is_object() && error.contains("error")) << c.name << ": " << response.body;
  }
  // A bomb costs at most the decoded-batch bound, never what it claims to hold.
  EXPECT_LT(peak_rss_bytes() - rss_before, std::size_t{512} << 20);
  const std::string after = metrics();
  std::map<std::string, int> want;
  for (const auto& c : cases) ++want[c.reason];
  for (const auto& [reason, n] : want)
    EXPECT_EQ(sample(after, rejections(reason.c_str())), n) << reason << "\n" << after;
  EXPECT_EQ(sample(after, "vigie_collector_ingest_decoded_batch_bytes_limit"),
            double{protocol::kMaxDecodedBatchBytes});
}

TEST_F(HostileTest, UnauthenticatedRequestsAreRefusedBeforeTheirBody) {
  // 512 KiB is within the body limit: only the token check stops it.
  const std::string headers =
      "Content-Type: application/x-protobuf\r\nContent-Encoding: zstd\r\n"
      "Content-Length: 524288\r\n\r\n";
  for (const std::string& authorization :
       {std::string(), std::string("Authorization: Bearer wrong-token\r\n"),
        std::string("Authorization: Basic YTpi\r\n")}) {
    RawConnection connection(port());
    ASSERT_TRUE(
        connection.send("POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\n" + authorization + headers));
    // Not a byte of the body is sent, yet the answer comes and the server closes.
    bool closed = false;
    const std::string answer = connection.read_all(&closed);
    EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0u) << authorization << answer;
    EXPECT_NE(answer.find("WWW-Authenticate: Bearer"), std::string::npos) << answer;
    EXPECT_TRUE(json_body(answer).contains("error")) << answer;
    EXPECT_TRUE(closed);
  }
  // The API without (or with an agent's) token: 401, also before a body.
  for (const std::string& authorization :
       {std::string(), std::string("Authorization: Bearer ") + kAgentToken + "\r\n"}) {
    RawConnection connection(port());
    ASSERT_TRUE(connection.send("GET /api/v1/events HTTP/1.1\r\nHost: x\r\n" + authorization +
                                "Content-Length: 524288\r\n\r\n"));
    const std::string answer = connection.read_all();
    EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0u) << authorization << answer;
  }
  // A node's token writing for another node: 403. The host is in the batch,
  // so this one is known only once the body is decoded; nothing is stored.
  const auto forged = ingest(protocol::encode_batch(sample_batch(1, "node-b")), kNodeToken);
  EXPECT_EQ(forged.status, 403) << forged.body;
  EXPECT_NE(json::parse(forged.body).value("error", "").find("may not write"), std::string::npos);
  EXPECT_EQ(ingest(protocol::encode_batch(sample_batch(1, "node-a")), kNodeToken).status, 200);
  EventQuery query;
  query.host = "node-b";
  EXPECT_TRUE(collector_.store().events(query).empty());
  const std::string after = metrics();
  EXPECT_EQ(sample(after, rejections("unauthorized")), 5);
  EXPECT_EQ(sample(after, rejections("forbidden")), 1);
}

TEST_F(HostileTest, ConnectionsOverTheCapGet503AndOthersAreStillServed) {
  // A second server over the same handler and store, capped at 4.
  Config capped = collector_.config();
  capped.max_connections = 4;
  Server server(capped, collector_.handler());
  server.start();
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<RawConnection>(server.port()));
    ASSERT_TRUE(idle.back()->connected());
  }
  // Accepted in order: once a 5th is refused, the first 4 are counted.
  for (int i = 0; i < 3; ++i) {
    bool closed = false;
    const std::string answer = exchange(server.port(), "", &closed);
    EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
    EXPECT_NE(answer.find("Retry-After: 1"), std::string::npos) << answer;
    EXPECT_NE(json_body(answer).value("error", "").find("too many connections"), std::string::npos)
        << answer;
    EXPECT_TRUE(closed);
  }
  // Slots free up once the server sees its clients go.
  idle.clear();
  protocol::Endpoint endpoint;
  endpoint.port = std::to_string(server.port());
  protocol::HttpRequest get;
  get.target = "/api/v1/agents";
  get.headers = {{"Authorization", std::string("Bearer ") + kApiToken}};
  protocol::HttpResponse answer;
  int refused = 3;
  for (int i = 0; i < 500 && answer.status != 200; ++i) {
    answer = protocol::send(endpoint, get);
    if (answer.status == 503) ++refused;
    if (answer.status != 200) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(answer.status, 200) << answer.error << answer.body;
  EXPECT_EQ(sample(metrics(), rejections("too_many_connections")), refused);
}

// Every bound of a collector with every component configured is exported as
// `<name>_limit` next to its use `<name>` (same labels), with the configured value.
TEST(CollectorBounds, EveryLimitIsExportedWithItsUseAndItsConfiguredValue) {
  testing::TempDir dir;
  Config config = default_config();
  config.port = 0;
  config.database_path = (dir.path() / "collector.db").string();
  config.api.public_metrics = true;
  config.body_limit_bytes = 1'000'001;
  config.header_limit_bytes = 9'001;
  config.max_connections = 77;
  config.max_pending_batches = 3;
  // Receivers that are never there: their queues exist all the same.
  const std::string nowhere = "http://127.0.0.1:9";
  CorrelationOptions rules;
  rules.sources.rule_paths = {std::filesystem::path(VIGIE_SOURCE_DIR) / "rules/packs/starter"};
  rules.queue_batches = 111;
  rules.max_groups = 222;
  rules.max_series = 333;
  config.alerting.rules = rules;
  AlertmanagerOptions alertmanager;
  alertmanager.urls = {nowhere};
  alertmanager.queue_size = 444;
  alertmanager.max_active = 555;
  config.alerting.alertmanager = alertmanager;
  WebhookOptions webhook;
  webhook.url = nowhere + "/hook";
  webhook.name = "pager";
  webhook.queue_size = 666;
  config.alerting.webhooks = {webhook};
  remote_write::EndpointConfig remote;
  remote.url = nowhere + "/api/v1/write";
  remote.name = "prom";
  remote.queue_capacity_samples = 777;
  config.remote_write = {remote};
  config.federation.site = "site-a";
  config.federation.name = "collector-1";
  config.federation.max_queue_batches = 888;
  config.federation.state_dir = (dir.path() / "federation").string();
  FederationPeer peer;
  peer.name = "national";
  peer.url = nowhere;
  peer.token = "site-token";
  config.federation.peers = {peer};

  Service service(config);
  service.start();
  protocol::Endpoint endpoint;
  endpoint.port = std::to_string(service.port());
  protocol::HttpRequest get;
  get.target = "/metrics";
  const auto response = protocol::send(endpoint, get);
  ASSERT_EQ(response.status, 200) << response.error << response.body;
  const std::string& text = response.body;

  // Every `_limit` sample has its use series.
  const std::regex limit_line(R"(^([a-z_]+)_limit(\{[^}]*\})? )");
  std::map<std::string, double> limits;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, limit_line)) continue;
    const std::string series = m[1].str() + "_limit" + m[2].str();
    limits[series] = sample(text, series);
    EXPECT_GE(sample(text, m[1].str() + m[2].str()), 0)
        << series << " has no use series " << m[1] << m[2];
  }
  const std::map<std::string, double> want = {
      {"vigie_collector_connections_limit", 77},
      {"vigie_collector_ingest_pending_batches_limit", 3},
      {"vigie_collector_request_body_bytes_limit", 1'000'001},
      {"vigie_collector_request_header_bytes_limit", 9'001},
      {"vigie_collector_ingest_decoded_batch_bytes_limit", protocol::kMaxDecodedBatchBytes},
      {"vigie_collector_sqlite_write_queue_batches_limit", SqliteWriteQueueLimits{}.max_batches},
      {"vigie_collector_sqlite_write_queue_bytes_limit", SqliteWriteQueueLimits{}.max_bytes},
      {"vigie_collector_sqlite_page_cache_bytes_limit", SqliteStore::kPageCacheBytes},
      {"vigie_collector_correlation_queue_length_limit", 111},
      {"vigie_collector_correlation_groups_limit", 222},
      {"vigie_collector_threshold_series_limit", 333},
      {"vigie_collector_alertmanager_queue_length_limit", 444},
      {"vigie_collector_alertmanager_active_alerts_limit", 555},
      {R"(vigie_collector_webhook_queue_length_limit{webhook="pager"})", 666},
      {R"(vigie_collector_remote_write_queue_samples_limit{remote_name="prom"})", 777},
      {R"(vigie_federation_queue_batches_limit{peer="national"})", 888},
  };
  EXPECT_EQ(limits, want) << text;
  // The scrape itself is an open connection whose headers are held while it is answered.
  EXPECT_GE(sample(text, "vigie_collector_connections"), 1);
  EXPECT_GT(sample(text, "vigie_collector_request_header_bytes"), 0);
  service.stop();
}

}  // namespace
}  // namespace vigie::collector
