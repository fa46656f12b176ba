#include "vigie/uplink/uplink.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "vigie/protocol/codec.h"

namespace vigie::uplink {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using protocol::Endpoint;
using protocol::HttpResponse;

// What a scripted collector does with a request it received in full, decoded
// and kept as if stored, then the connection closed with no answer: a
// collector killed between its commit and its response.
constexpr int kStoreThenHangUp = -1;

// A scripted collector on 127.0.0.1: answers the i-th request with statuses[i]
// (the last status repeats), with `retry_after` as its Retry-After on a 429
// when not empty, and records every batch it accepts (2xx, or
// kStoreThenHangUp) and when each request arrived.
class ScriptedCollector {
 public:
  explicit ScriptedCollector(std::vector<int> statuses, uint16_t port = 0,
                             std::string retry_after = {})
      : statuses_(std::move(statuses)),
        retry_after_(std::move(retry_after)),
        acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), port}) {
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedCollector() {
    stop_ = true;
    beast::error_code ec;
    tcp::socket poke(ioc_);
    poke.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  Endpoint endpoint() const {
    return {"127.0.0.1", std::to_string(acceptor_.local_endpoint().port())};
  }
  std::vector<protocol::Batch> batches() {
    std::lock_guard lk(mu_);
    return batches_;
  }
  std::vector<std::string> authorizations() {
    std::lock_guard lk(mu_);
    return authorizations_;
  }
  int requests() const { return requests_; }
  std::vector<std::chrono::steady_clock::time_point> arrivals() {
    std::lock_guard lk(mu_);
    return arrivals_;
  }

 private:
  void serve() {
    while (!stop_) {
      tcp::socket socket(ioc_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) continue;
      beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) continue;
      const int n = requests_++;
      const int status = statuses_[std::min<std::size_t>(n, statuses_.size() - 1)];
      {
        std::lock_guard lk(mu_);
        arrivals_.push_back(std::chrono::steady_clock::now());
        authorizations_.emplace_back(req[http::field::authorization]);
        protocol::Batch b;
        if ((status / 100 == 2 || status == kStoreThenHangUp) &&
            protocol::decode_batch(req.body(), b).ok()) {
          batches_.push_back(std::move(b));
        }
      }
      if (status == kStoreThenHangUp) continue;  // the socket closes unanswered
      http::response<http::string_body> res{static_cast<http::status>(status), 11};
      if (status == 429 && !retry_after_.empty()) res.set(http::field::retry_after, retry_after_);
      res.body() = "scripted";
      res.prepare_payload();
      http::write(socket, res, ec);
    }
  }

  std::vector<int> statuses_;
  std::string retry_after_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::vector<protocol::Batch> batches_;
  std::vector<std::string> authorizations_;
  std::vector<std::chrono::steady_clock::time_point> arrivals_;
};

protocol::Event exec_event(uint32_t pid) {
  protocol::Event e;
  e.pid = pid;
  e.body = protocol::ProcessExec{"/bin/true", {"/bin/true"}, false, "/bin/true", "", ""};
  return e;
}

UplinkOptions options(const Endpoint& endpoint) {
  UplinkOptions o;
  o.endpoint = endpoint;
  o.token = "secret-token";
  o.agent_id = "agent-1";
  o.site = "site-a";
  o.host = "node001";
  o.flush_interval = 50ms;
  o.initial_backoff = 10ms;
  o.max_backoff = 50ms;
  return o;
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

TEST(Uplink, DeliversInOrderWithToken) {
  ScriptedCollector collector({200});
  Uplink uplink(options(collector.endpoint()), [] { return protocol::AgentStatus{7, 0, 0, "p"}; });
  for (uint32_t i = 1; i <= 3; ++i) {
    uplink.add_event(exec_event(i));
    std::this_thread::sleep_for(80ms);  // one batch per flush interval
  }
  ASSERT_TRUE(eventually([&] {
    std::size_t n = 0;
    for (const auto& b : collector.batches()) n += b.events.size();
    return n == 3;
  }));
  const auto batches = collector.batches();
  uint32_t expected_pid = 1;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    EXPECT_EQ(batches[i].agent_id, "agent-1");
    EXPECT_EQ(batches[i].host, "node001");
    EXPECT_EQ(batches[i].status.ringbuf_drops_total, 7u);
    if (i > 0) {
      EXPECT_GT(batches[i].sequence, batches[i - 1].sequence);
    }
    for (const auto& e : batches[i].events) EXPECT_EQ(e.pid, expected_pid++);
  }
  EXPECT_EQ(collector.authorizations().front(), "Bearer secret-token");
  // The collector holds the batch before the uplink has read its answer.
  EXPECT_TRUE(eventually([&] { return uplink.stats().batches_sent_total == batches.size(); }));
}

TEST(Uplink, RetriesServerErrorsAndTooManyRequests) {
  ScriptedCollector collector({503, 429, 500, 200});
  Uplink uplink(options(collector.endpoint()), {});
  uplink.add_event(exec_event(99));
  ASSERT_TRUE(eventually([&] { return collector.batches().size() == 1; }));
  EXPECT_EQ(collector.requests(), 4);
  EXPECT_EQ(collector.batches()[0].events[0].pid, 99u);
  ASSERT_TRUE(eventually([&] { return uplink.stats().batches_sent_total == 1; }));
  const auto stats = uplink.stats();
  EXPECT_EQ(stats.send_failures_total, 3u);
  EXPECT_EQ(stats.batches_sent_total, 1u);
  EXPECT_EQ(stats.batches_rejected_total, 0u);
}

// A collector whose storage lags answers 429 with Retry-After: the uplink
// waits at least that long (its own backoff here is 10-50 ms), never more
// than max_backoff.
TEST(Uplink, WaitsTheCollectorsRetryAfter) {
  ScriptedCollector collector({429, 200}, 0, "1");
  UplinkOptions o = options(collector.endpoint());
  o.max_backoff = 5s;
  Uplink uplink(o, {});
  uplink.add_event(exec_event(1));
  ASSERT_TRUE(eventually([&] { return collector.batches().size() == 1; }));
  const auto arrivals = collector.arrivals();
  ASSERT_EQ(arrivals.size(), 2u);
  EXPECT_GE(arrivals[1] - arrivals[0], 1s);
}

TEST(Uplink, CapsTheCollectorsRetryAfterAtMaxBackoff) {
  ScriptedCollector collector({429, 200}, 0, "3600");
  Uplink uplink(options(collector.endpoint()), {});  // max_backoff 50 ms
  uplink.add_event(exec_event(1));
  ASSERT_TRUE(eventually([&] { return collector.batches().size() == 1; }, 30s))
      << "the uplink waited the hour the collector asked for";
}

TEST(Uplink, NeverRetriesClientErrors) {
  ScriptedCollector collector({400, 200});
  Uplink uplink(options(collector.endpoint()), {});
  uplink.add_event(exec_event(1));
  ASSERT_TRUE(eventually([&] { return uplink.stats().batches_rejected_total == 1; }));
  uplink.add_event(exec_event(2));  // the next batch still goes through
  ASSERT_TRUE(eventually([&] { return collector.batches().size() == 1; }));
  EXPECT_EQ(collector.batches()[0].events[0].pid, 2u);
  EXPECT_EQ(collector.requests(), 2);
  EXPECT_EQ(uplink.stats().events_dropped_total, 1u);
}

uint16_t free_port() {
  net::io_context ioc;
  tcp::acceptor a(ioc, {net::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

TEST(Uplink, RetriesWhileCollectorIsDownThenDelivers) {
  const uint16_t port = free_port();  // nothing listens: connections are refused
  Uplink uplink(options({"127.0.0.1", std::to_string(port)}), {});
  uplink.add_event(exec_event(5));
  ASSERT_TRUE(eventually([&] { return uplink.stats().send_failures_total >= 2; }));
  EXPECT_EQ(uplink.stats().queue_batches, 1u);
  ScriptedCollector collector({200}, port);  // the collector comes back
  ASSERT_TRUE(eventually([&] { return collector.batches().size() == 1; }));
  EXPECT_EQ(collector.batches()[0].events[0].pid, 5u);
  // The collector holds the batch before the uplink has read its answer.
  EXPECT_TRUE(eventually([&] { return uplink.stats().queue_batches == 0; }));
  EXPECT_EQ(uplink.stats().batches_dropped_total, 0u);
}

// A collector that never answers: the kernel completes the handshake and
// takes the request into the socket's buffer, nobody accepts or replies, so
// a POST hangs until the request timeout. Pending events must still be
// sealed every flush interval meanwhile (with a spool, that is what puts
// them on disk before a crash), not wait for the send to end.
TEST(Uplink, SealsEveryFlushIntervalWhileASendHangs) {
  net::io_context ioc;
  tcp::acceptor silent(ioc, {net::ip::make_address("127.0.0.1"), 0});  // listens, never accepts
  UplinkOptions o = options({"127.0.0.1", std::to_string(silent.local_endpoint().port())});
  o.request_timeout = 60s;
  Uplink uplink(o, {});
  uplink.add_event(exec_event(1));
  ASSERT_TRUE(eventually([&] { return uplink.stats().queue_batches == 1; }));  // in flight
  for (uint32_t pid = 2; pid <= 4; ++pid) {
    uplink.add_event(exec_event(pid));
    // Sealed while the first send still hangs (its timeout is a minute).
    ASSERT_TRUE(eventually([&] { return uplink.stats().queue_batches == pid; }, 10s))
        << "event " << pid << " still unsealed: sealing waits for the hanging send";
    EXPECT_EQ(uplink.stats().pending_events, 0u);
  }
  EXPECT_EQ(uplink.stats().send_failures_total, 0u);  // the first send has not ended yet
  silent.close();  // resets the queued connection: the hanging send fails now
  uplink.stop(0ms);
}

TEST(Uplink, UndeliveredBatchesAtStopAreCounted) {
  Uplink uplink(options({"127.0.0.1", std::to_string(free_port())}), {});
  uplink.add_event(exec_event(5));
  ASSERT_TRUE(eventually([&] { return uplink.stats().send_failures_total >= 1; }));
  uplink.stop(0ms);
  EXPECT_EQ(uplink.stats().batches_dropped_total, 1u);  // counted, never silent
  EXPECT_EQ(uplink.stats().events_dropped_total, 1u);
}

TEST(Uplink, FullQueueDropsOldestAndCountsEverythingItHeld) {
  auto o = options({"127.0.0.1", std::to_string(free_port())});  // collector down
  o.max_queue_batches = 2;
  o.max_batch_events = 1;  // every event seals a batch
  Uplink uplink(o, {});
  for (uint32_t i = 0; i < 5; ++i) {
    uplink.add_alert({"rule", "title", "high", {}, exec_event(i)});
    uplink.add_event(exec_event(i));
  }
  const auto stats = uplink.stats();
  // Two wait in the queue, at most one more is in the sender's hands.
  EXPECT_GE(stats.queue_batches, 2u);
  EXPECT_LE(stats.queue_batches, 3u);
  EXPECT_EQ(stats.batches_dropped_total + stats.queue_batches, 5u);
  EXPECT_EQ(stats.events_dropped_total, stats.batches_dropped_total);
  EXPECT_EQ(stats.alerts_dropped_total, stats.batches_dropped_total);
  uplink.stop(0ms);
  EXPECT_EQ(uplink.stats().events_dropped_total, 5u);  // nothing delivered, all counted
  EXPECT_EQ(uplink.stats().alerts_dropped_total, 5u);
}

TEST(Uplink, QueueIsBoundedInEvents) {
  auto o = options({"127.0.0.1", std::to_string(free_port())});
  o.max_queue_events = 10;
  o.max_batch_events = 4;
  Uplink uplink(o, {});
  for (uint32_t i = 0; i < 40; ++i) uplink.add_event(exec_event(i));
  const auto stats = uplink.stats();
  EXPECT_LE(stats.queue_events, 10u + 4u);  // the bound, plus one batch in flight
  EXPECT_EQ(stats.events_dropped_total + stats.queue_events, 40u);
  uplink.stop(0ms);
}

TEST(Uplink, QueueIsBoundedInEncodedBytes) {
  auto o = options({"127.0.0.1", std::to_string(free_port())});
  o.max_batch_events = 1;
  o.max_queue_bytes = 1;  // every sealed batch is over: only the newest stays
  Uplink uplink(o, {});
  for (uint32_t i = 0; i < 20; ++i) uplink.add_event(exec_event(i));
  const auto stats = uplink.stats();
  EXPECT_GT(stats.queue_bytes, 0u);
  EXPECT_LE(stats.queue_events, 2u);  // the newest batch, plus one in flight
  EXPECT_EQ(stats.events_dropped_total + stats.queue_events, 20u);
  uplink.stop(0ms);
}

TEST(Endpoint, Parses) {
  auto e = Endpoint::parse("http://127.0.0.1:9800");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, "9800");
  e = Endpoint::parse("http://[::1]:9800/");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "::1");
  EXPECT_FALSE(Endpoint::parse("http://host:99999"));
  EXPECT_FALSE(Endpoint::parse("http://host:99999999999999999999999"));
  e = Endpoint::parse("http://:80");
  ASSERT_FALSE(e);
  EXPECT_FALSE(e.error().empty());
}

// Failover between several collectors (UplinkOptions::failover_endpoints).

UplinkOptions failover_options(const Endpoint& preferred, const std::vector<Endpoint>& others) {
  UplinkOptions o = options(preferred);
  o.failover_endpoints = others;
  o.failback_interval = std::chrono::hours(1);  // no going back unless a test asks
  return o;
}

std::size_t events_in(const std::vector<protocol::Batch>& batches) {
  std::size_t n = 0;
  for (const auto& b : batches) n += b.events.size();
  return n;
}

std::string address(const Endpoint& e) { return e.host + ":" + e.port; }

// A retryable answer of the preferred collector (503, 429, 500) moves the
// batch to the next one, and the uplink then sticks to it.
class FailoverOnStatus : public ::testing::TestWithParam<int> {};

TEST_P(FailoverOnStatus, MovesToTheNextCollectorAndSticksToIt) {
  ScriptedCollector a({GetParam()});
  ScriptedCollector b({200});
  Uplink uplink(failover_options(a.endpoint(), {b.endpoint()}), {});
  uplink.add_event(exec_event(1));
  ASSERT_TRUE(eventually([&] { return events_in(b.batches()) == 1; }));
  uplink.add_event(exec_event(2));
  uplink.add_event(exec_event(3));
  ASSERT_TRUE(eventually([&] { return events_in(b.batches()) == 3; }));
  EXPECT_EQ(a.requests(), 1);  // never tried again while B works
  EXPECT_TRUE(a.batches().empty());
  const auto stats = uplink.stats();
  ASSERT_EQ(stats.collectors.size(), 2u);
  EXPECT_EQ(stats.collectors[0].address, address(a.endpoint()));
  EXPECT_EQ(stats.collectors[0].send_failures_total, 1u);
  EXPECT_EQ(stats.collectors[0].batches_sent_total, 0u);
  EXPECT_FALSE(stats.collectors[0].active);
  EXPECT_EQ(stats.collectors[1].address, address(b.endpoint()));
  EXPECT_EQ(stats.collectors[1].switches_total, 1u);
  EXPECT_EQ(stats.collectors[1].batches_sent_total, stats.batches_sent_total);
  EXPECT_TRUE(stats.collectors[1].active);
  EXPECT_EQ(stats.send_failures_total, 1u);
  EXPECT_EQ(stats.batches_dropped_total + stats.batches_rejected_total, 0u);
}

INSTANTIATE_TEST_SUITE_P(RetryableStatuses, FailoverOnStatus, ::testing::Values(429, 500, 503));

TEST(Failover, MovesOnWhenThePreferredCollectorIsUnreachable) {
  const Endpoint down{"127.0.0.1", std::to_string(free_port())};  // connections refused
  ScriptedCollector b({200});
  Uplink uplink(failover_options(down, {b.endpoint()}), {});
  uplink.add_event(exec_event(7));
  ASSERT_TRUE(eventually([&] { return events_in(b.batches()) == 1; }));
  EXPECT_EQ(b.batches()[0].events[0].pid, 7u);
  EXPECT_EQ(uplink.stats().collectors[0].send_failures_total, 1u);
  EXPECT_TRUE(uplink.stats().collectors[1].active);
}

TEST(Failover, RejectedBatchesDoNotMoveToAnotherCollector) {
  ScriptedCollector a({400, 200});  // a 4xx would be the same anywhere: never retried
  ScriptedCollector b({200});
  Uplink uplink(failover_options(a.endpoint(), {b.endpoint()}), {});
  uplink.add_event(exec_event(1));
  ASSERT_TRUE(eventually([&] { return uplink.stats().batches_rejected_total == 1; }));
  uplink.add_event(exec_event(2));
  ASSERT_TRUE(eventually([&] { return events_in(a.batches()) == 1; }));
  EXPECT_EQ(a.batches()[0].events[0].pid, 2u);
  EXPECT_EQ(b.requests(), 0);
  EXPECT_EQ(uplink.stats().collectors[1].switches_total, 0u);
  EXPECT_TRUE(uplink.stats().collectors[0].active);
}

// The race the shared store resolves: A stores the batch but never answers;
// the retry to B carries the very same (agent id, sequence) and content.
TEST(Failover, RetryToAnotherCollectorKeepsAgentIdAndSequence) {
  ScriptedCollector a({kStoreThenHangUp});
  ScriptedCollector b({200});
  Uplink uplink(failover_options(a.endpoint(), {b.endpoint()}), {});
  uplink.add_event(exec_event(42));
  ASSERT_TRUE(eventually([&] { return b.batches().size() == 1; }));
  ASSERT_EQ(a.batches().size(), 1u);
  const protocol::Batch stored = a.batches()[0];
  const protocol::Batch retried = b.batches()[0];
  EXPECT_EQ(retried.agent_id, stored.agent_id);
  EXPECT_EQ(retried.host, stored.host);
  EXPECT_EQ(retried.sequence, stored.sequence);
  EXPECT_EQ(retried.sent_ns, stored.sent_ns);  // the same encoded batch, not a new one
  ASSERT_EQ(retried.events.size(), 1u);
  EXPECT_EQ(retried.events[0].pid, 42u);
  EXPECT_TRUE(eventually([&] { return uplink.stats().batches_sent_total == 1; }));
}

// A collector dies mid-stream: every batch reaches one collector or the
// other, in sequence order, and none is dropped.
TEST(Failover, KeepsOrderAcrossASwitchMidStream) {
  ScriptedCollector b({200});
  auto a = std::make_unique<ScriptedCollector>(std::vector<int>{200});
  auto o = failover_options(a->endpoint(), {b.endpoint()});
  o.max_batch_events = 5;
  Uplink uplink(o, {});
  constexpr uint32_t kEvents = 200;
  for (uint32_t i = 0; i < kEvents; ++i) {
    uplink.add_event(exec_event(i));
    if (i == kEvents / 2) {
      ASSERT_TRUE(eventually([&] { return !a->batches().empty(); }));
      a.reset();  // A goes away: its port refuses connections from now on
    }
    if (i % 10 == 0) std::this_thread::sleep_for(5ms);
  }
  uplink.stop(10s);
  const auto stats = uplink.stats();
  EXPECT_EQ(stats.batches_dropped_total, 0u);
  EXPECT_EQ(stats.collectors[1].switches_total, 1u);
  EXPECT_GT(stats.collectors[0].batches_sent_total, 0u);
  EXPECT_GT(stats.collectors[1].batches_sent_total, 0u);
  EXPECT_EQ(stats.collectors[0].batches_sent_total + stats.collectors[1].batches_sent_total,
            stats.batches_sent_total);
  const auto at_b = b.batches();
  ASSERT_FALSE(at_b.empty());
  // B received the tail of the stream, in order, without a gap.
  uint32_t expected = at_b.front().events.front().pid;
  for (std::size_t i = 0; i < at_b.size(); ++i) {
    if (i > 0) {
      EXPECT_GT(at_b[i].sequence, at_b[i - 1].sequence);
    }
    for (const auto& e : at_b[i].events) EXPECT_EQ(e.pid, expected++);
  }
  EXPECT_EQ(expected, kEvents);
  EXPECT_EQ(stats.events_dropped_total, 0u);
}

TEST(Failover, GoesBackToThePreferredCollector) {
  ScriptedCollector a({503, 200});  // down once, then back
  ScriptedCollector b({200});
  auto o = failover_options(a.endpoint(), {b.endpoint()});
  o.failback_interval = 100ms;
  Uplink uplink(o, {});
  uplink.add_event(exec_event(1));
  ASSERT_TRUE(eventually([&] { return events_in(b.batches()) == 1; }));
  uint32_t pid = 2;
  ASSERT_TRUE(eventually([&] {
    uplink.add_event(exec_event(pid++));
    return !a.batches().empty();
  }));
  ASSERT_TRUE(eventually([&] { return uplink.stats().collectors[0].active; }));
  const auto stats = uplink.stats();
  EXPECT_EQ(stats.collectors[0].switches_total, 1u);
  EXPECT_EQ(stats.collectors[1].switches_total, 1u);
  EXPECT_EQ(stats.batches_dropped_total, 0u);
}

TEST(Failover, NeverGoesBackWhenFailbackIsOff) {
  ScriptedCollector a({503, 200});
  ScriptedCollector b({200});
  auto o = failover_options(a.endpoint(), {b.endpoint()});
  o.failback_interval = 0ms;
  Uplink uplink(o, {});
  for (uint32_t pid = 1; pid <= 20; ++pid) {
    uplink.add_event(exec_event(pid));
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(eventually([&] { return events_in(b.batches()) == 20; }));
  EXPECT_EQ(a.requests(), 1);
  EXPECT_EQ(uplink.stats().collectors[0].switches_total, 0u);
}

TEST(Failover, AllCollectorsDownAreTriedInTurnUntilOneComesBack) {
  const uint16_t port_a = free_port();
  const uint16_t port_b = free_port();
  const Endpoint a{"127.0.0.1", std::to_string(port_a)};
  const Endpoint b{"127.0.0.1", std::to_string(port_b)};
  Uplink uplink(failover_options(a, {b}), {});
  uplink.add_event(exec_event(9));
  ASSERT_TRUE(eventually([&] { return uplink.stats().send_failures_total >= 6; }));
  const auto stats = uplink.stats();
  // Round robin: neither collector is tried twice before the other.
  EXPECT_LE(stats.collectors[0].send_failures_total, stats.collectors[1].send_failures_total + 1);
  EXPECT_LE(stats.collectors[1].send_failures_total, stats.collectors[0].send_failures_total);
  EXPECT_EQ(stats.queue_batches, 1u);
  ScriptedCollector back({200}, port_b);
  ASSERT_TRUE(eventually([&] { return back.batches().size() == 1; }));
  EXPECT_EQ(back.batches()[0].events[0].pid, 9u);
  // The collector holds the batch before the uplink has read its answer.
  ASSERT_TRUE(eventually([&] { return uplink.stats().collectors[1].batches_sent_total == 1; }));
  EXPECT_EQ(uplink.stats().batches_dropped_total, 0u);
}

TEST(Failover, ACollectorListedTwiceIsRefused) {
  const Endpoint a{"127.0.0.1", "9800"};
  EXPECT_THROW(Uplink(failover_options(a, {{"127.0.0.1", "9801"}, a}), {}), std::invalid_argument);
}

TEST(Failover, OneCollectorHasStatsToo) {
  ScriptedCollector a({200});
  Uplink uplink(options(a.endpoint()), {});
  uplink.add_event(exec_event(1));
  ASSERT_TRUE(eventually([&] { return uplink.stats().batches_sent_total == 1; }));
  const auto stats = uplink.stats();
  ASSERT_EQ(stats.collectors.size(), 1u);
  EXPECT_TRUE(stats.collectors[0].active);
  EXPECT_EQ(stats.collectors[0].batches_sent_total, 1u);
  EXPECT_EQ(stats.collectors[0].switches_total, 0u);
}

}  // namespace
}  // namespace vigie::uplink
