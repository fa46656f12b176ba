// Backpressure: when storage lags the collector answers 429 with
// Retry-After, counted as rejections{reason="storage_busy"}, instead of
// queueing without bound; the queue depth is a gauge. Driven through the
// handler and through the real server with the agents' HTTP client.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "http/handler.h"
#include "http/server.h"
#include "storage/sqlite_store.h"
#include "support/sample_batch.h"
#include "vigie/protocol/codec.h"
#include "vigie/protocol/http_client.h"

namespace vigie::collector {
namespace {

using nlohmann::json;
using testing::sample_batch;

constexpr const char* kToken = "backpressure-test-token";

bool wait_for(const std::function<bool()>& done,
              std::chrono::milliseconds limit = std::chrono::milliseconds(4000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A real SqliteStore whose store_batch waits until the test opens the gate:
// storage that lags, as a slow disk or a long checkpoint makes it.
class GatedStore final : public Store {
 public:
  explicit GatedStore(const std::string& path) : store_(path) {}

  StoreOutcome store_batch(const protocol::Batch& batch, uint64_t received_ns) override {
    {
      std::unique_lock lock(mutex_);
      ++waiting_;
      opened_.wait(lock, [&] { return open_; });
      --waiting_;
    }
    return store_.store_batch(batch, received_ns);
  }
  std::vector<StoredAlert> alerts(const AlertQuery& q) override { return store_.alerts(q); }
  std::vector<protocol::Event> events(const EventQuery& q) override { return store_.events(q); }
  EnergyReport energy(const EnergyQuery& q) override { return store_.energy(q); }
  std::vector<AgentRecord> agents() override { return store_.agents(); }
  std::optional<JobFootprint> job_footprint(const std::string& id) override {
    return store_.job_footprint(id);
  }
  void store_alerts(const std::string& origin, const std::string& site, const std::string& host,
                    const std::vector<protocol::Alert>& alerts, uint64_t received_ns) override {
    store_.store_alerts(origin, site, host, alerts, received_ns);
  }
  csirt::CsirtStore* csirt_store() override { return store_.csirt_store(); }
  void set_indicator_matcher(std::shared_ptr<const csirt::IndicatorMatcher> matcher) override {
    store_.set_indicator_matcher(std::move(matcher));
  }
  RetentionOutcome apply_retention(const RetentionPolicy& policy, uint64_t now_ns) override {
    return store_.apply_retention(policy, now_ns);
  }

  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    opened_.notify_all();
  }
  int waiting() {
    std::lock_guard lock(mutex_);
    return waiting_;
  }

 private:
  SqliteStore store_;
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
  int waiting_ = 0;
};

// Runs `f` at scope exit, also when an ASSERT returns early: threads that
// use the test's locals are joined before the locals go.
struct AtExit {
  std::function<void()> f;
  ~AtExit() { f(); }
};

Request ingest(const protocol::Batch& batch) {
  return {"POST",
          "/api/v1/ingest",
          std::string("Bearer ") + kToken,
          "application/x-protobuf",
          "zstd",
          {},
          protocol::encode_batch(batch)};
}

std::string header(const Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers)
    if (key == name) return value;
  return {};
}

// The value of an unlabelled sample, or of the rejections counter for `reason`.
std::string sample(const Metrics& metrics, const std::string& name) {
  const std::string text = metrics.exposition();
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return "absent";
  const auto start = at + name.size() + 2;
  return text.substr(start, text.find('\n', start) - start);
}

class BackpressureTest : public ::testing::Test {
 protected:
  BackpressureTest() : store_((dir_.path() / "collector.db").string()) {
    config_.agent_tokens = {{sha256(kToken), "", "", true}};
    config_.max_pending_batches = 2;
  }
  void release() {
    store_.open();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }

  testing::TempDir dir_;
  GatedStore store_;
  Config config_;
  Metrics metrics_;
  std::vector<std::thread> threads_;
};

TEST_F(BackpressureTest, HandlerAnswers429WhileTooManyBatchesWaitOnTheStore) {
  Handler handler(config_, store_, metrics_);
  std::vector<Response> first(2);
  AtExit join{[&] { release(); }};
  for (int i = 0; i < 2; ++i) {
    threads_.emplace_back(
        [&, i] { first[i] = handler.handle(ingest(sample_batch(1, "node" + std::to_string(i)))); });
  }
  ASSERT_TRUE(wait_for([&] { return store_.waiting() == 2; })) << "the store never got 2 batches";
  EXPECT_EQ(sample(metrics_, "vigie_collector_ingest_pending_batches"), "2");

  const auto refused = handler.handle(ingest(sample_batch(1, "node2")));
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(header(refused, "Retry-After"), "1");
  EXPECT_NE(json::parse(refused.body)["error"].get<std::string>().find("storage is lagging"),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(sample(metrics_, "vigie_collector_rejections_total{reason=\"storage_busy\"}"), "1");
  EXPECT_EQ(store_.waiting(), 2) << "a refused batch must not reach the store";

  release();
  for (const auto& response : first) EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(sample(metrics_, "vigie_collector_ingest_pending_batches"), "0");
  // The agent retries the refused batch: stored, once.
  const auto retried = handler.handle(ingest(sample_batch(1, "node2")));
  EXPECT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(json::parse(retried.body)["status"], "stored");
  EXPECT_EQ(store_.agents().size(), 3u);
}

TEST_F(BackpressureTest, TheDefaultLimitIsTheThreadCount) {
  config_.max_pending_batches = 0;
  config_.threads = 2;  // so at most 2 ingest requests wait on the store
  Handler handler(config_, store_, metrics_);
  AtExit join{[&] { release(); }};
  for (int i = 0; i < 2; ++i) {
    threads_.emplace_back(
        [&, i] { handler.handle(ingest(sample_batch(1, "node" + std::to_string(i)))); });
  }
  ASSERT_TRUE(wait_for([&] { return store_.waiting() == 2; }));
  EXPECT_EQ(handler.handle(ingest(sample_batch(1, "node2"))).status, 429);
}

TEST_F(BackpressureTest, AFullStoreQueueIs429OverHttp) {
  // The real server and store; SQLite's write lock held from outside so
  // that the store's queue (one batch at most) fills.
  const std::string path = (dir_.path() / "queue.db").string();
  SqliteStore store(path, SqliteWriteQueueLimits{.max_batches = 1, .max_bytes = 64u << 20});
  config_.max_pending_batches = 8;
  config_.threads = 4;
  config_.port = 0;
  config_.listen_address = "127.0.0.1";
  Handler handler(config_, store, metrics_);
  Server server(config_, handler);
  server.start();
  protocol::Endpoint endpoint{"127.0.0.1", std::to_string(server.port())};
  auto post = [&](const protocol::Batch& batch) {
    return protocol::send(endpoint, protocol::ingest_request(kToken, protocol::encode_batch(batch)),
                          std::chrono::seconds(20));
  };

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::vector<protocol::HttpResponse> accepted(2);
  AtExit join{[&] {
    if (other != nullptr) {
      sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
      sqlite3_close(other);
    }
    release();
  }};
  threads_.emplace_back([&] { accepted[0] = post(sample_batch(1, "a")); });
  ASSERT_TRUE(wait_for([&] { return store.write_queue_stats().writing_batches == 1; }));
  threads_.emplace_back([&] { accepted[1] = post(sample_batch(1, "b")); });
  ASSERT_TRUE(wait_for([&] { return store.write_queue_stats().queued_batches == 1; }));

  const auto refused = post(sample_batch(1, "c"));
  EXPECT_EQ(refused.status, 429) << refused.error << refused.body;
  EXPECT_NE(refused.body.find("write queue is full"), std::string::npos) << refused.body;
  EXPECT_EQ(sample(metrics_, "vigie_collector_rejections_total{reason=\"storage_busy\"}"), "1");

  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  other = nullptr;
  release();
  for (const auto& response : accepted) EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(post(sample_batch(1, "c")).status, 200);
  EXPECT_EQ(store.agents().size(), 3u);
  server.stop();
}

}  // namespace
}  // namespace vigie::collector
