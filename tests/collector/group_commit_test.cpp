// SqliteStore's group commit: concurrent store_batch calls share
// transactions, each caller gets its own outcome, a failing batch fails
// alone, and a full write queue answers kBusy. Groups are made deterministic
// by holding SQLite's write lock from a second connection (as another
// process would) while the callers queue up.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "storage/sqlite_store.h"
#include "support/sample_batch.h"

namespace vigie::collector {
namespace {

using Status = StoreOutcome::Status;
using testing::kBaseNs;
using testing::kSecondNs;
using testing::sample_batch;

// Polls `done` until it holds; false after `limit` (well below the store's
// 5 s busy timeout, which the callers blocked on the write lock are in).
bool wait_for(const std::function<bool()>& done,
              std::chrono::milliseconds limit = std::chrono::milliseconds(4000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A second connection to the database: SQL for setting up and checking, and
// the write lock held from outside the store.
class Connection {
 public:
  explicit Connection(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("open " + path);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Connection() { sqlite3_close(db_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      const std::string error = message ? message : "?";
      sqlite3_free(message);
      throw std::runtime_error(sql + ": " + error);
    }
  }
  int64_t count(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK)
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    const int64_t value =
        sqlite3_step(statement) == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : -1;
    sqlite3_finalize(statement);
    return value;
  }

 private:
  sqlite3* db_ = nullptr;
};

class GroupCommitTest : public ::testing::Test {
 protected:
  std::string path() const { return (dir_.path() / "collector.db").string(); }

  // Runs store_batch(batch) on a new thread; its outcome lands in `out`.
  void store_async(SqliteStore& store, protocol::Batch batch, StoreOutcome& out) {
    threads_.emplace_back([&store, &out, batch = std::move(batch)] {
      out = store.store_batch(batch, kBaseNs + 20 * kSecondNs);
    });
  }
  void join() {
    for (auto& thread : threads_) thread.join();
    threads_.clear();
  }
  ~GroupCommitTest() override { join(); }

  testing::TempDir dir_;
  std::vector<std::thread> threads_;
};

TEST_F(GroupCommitTest, ConcurrentWritersStoreEveryBatchExactlyOnce) {
  SqliteStore store(path());
  constexpr int kThreads = 24, kBatchesEach = 12;
  // Each thread sends its host's batches in order, every third one twice;
  // two threads also race on one shared batch.
  std::atomic<int> stored{0}, duplicates{0}, other{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      const std::string host = "node" + std::to_string(t);
      for (int i = 1; i <= kBatchesEach; ++i) {
        const auto batch = sample_batch(i, host, kBaseNs + i * 10 * kSecondNs);
        for (int repeat = 0; repeat < (i % 3 == 0 ? 2 : 1); ++repeat) {
          const auto outcome = store.store_batch(batch, kBaseNs);
          if (outcome.status == Status::kStored) {
            ++stored;
          } else if (outcome.status == Status::kDuplicate) {
            ++duplicates;
          } else {
            ++other;
            ADD_FAILURE() << host << " batch " << i << ": " << outcome.error;
          }
        }
      }
      if (t < 2) {
        const auto outcome = store.store_batch(sample_batch(1, "shared"), kBaseNs);
        (outcome.status == Status::kStored ? stored : duplicates)++;
      }
    });
  }
  for (auto& writer : writers) writer.join();

  EXPECT_EQ(other, 0);
  EXPECT_EQ(stored, kThreads * kBatchesEach + 1);
  EXPECT_EQ(duplicates, kThreads * (kBatchesEach / 3) + 1);
  Connection db(path());
  EXPECT_EQ(db.count("SELECT COUNT(*) FROM batches"), kThreads * kBatchesEach + 1);
  EXPECT_EQ(db.count("SELECT COUNT(*) FROM events"), 3 * (kThreads * kBatchesEach + 1));
  EXPECT_EQ(db.count("SELECT COUNT(*) FROM zone_energy"), 3 * (kThreads * kBatchesEach + 1));
  EXPECT_EQ(db.count("SELECT COUNT(*) FROM alerts"), kThreads * kBatchesEach + 1);
  EXPECT_EQ(db.count("SELECT COUNT(*) FROM agent_status"), kThreads + 1);
  EXPECT_EQ(db.count("SELECT MIN(last_sequence) FROM agent_status WHERE host != 'shared'"),
            kBatchesEach);
  const auto stats = store.write_queue_stats();
  EXPECT_EQ(stats.batches_committed, static_cast<uint64_t>(stored + duplicates));
  EXPECT_LE(stats.transactions_committed, stats.batches_committed);
  EXPECT_EQ(stats.queued_batches, 0u);
  EXPECT_EQ(stats.queued_bytes, 0u);
}

TEST_F(GroupCommitTest, BatchesQueuedDuringACommitShareTheNextTransaction) {
  SqliteStore store(path());
  Connection other(path());
  other.exec("BEGIN IMMEDIATE");  // the store's writer now waits for the lock
  constexpr int kBatches = 16;
  std::vector<StoreOutcome> outcomes(kBatches);
  for (int i = 0; i < kBatches; ++i)
    store_async(store, sample_batch(1, "node" + std::to_string(i)), outcomes[i]);
  ASSERT_TRUE(wait_for([&] {
    const auto stats = store.write_queue_stats();
    return stats.queued_batches + stats.writing_batches == kBatches;
  })) << "the writers did not all queue";
  other.exec("COMMIT");
  join();

  for (int i = 0; i < kBatches; ++i)
    EXPECT_EQ(outcomes[i].status, Status::kStored) << i << ": " << outcomes[i].error;
  const auto stats = store.write_queue_stats();
  // The first writer's group (what had queued when it started), then all the rest.
  EXPECT_GE(stats.transactions_committed, 1u);
  EXPECT_LE(stats.transactions_committed, 2u);
  EXPECT_EQ(stats.batches_committed, static_cast<uint64_t>(kBatches));
  EXPECT_EQ(other.count("SELECT COUNT(*) FROM events"), 3 * kBatches);
}

TEST_F(GroupCommitTest, AFailingBatchFailsAloneInItsGroup) {
  SqliteStore store(path());
  Connection other(path());
  other.exec(
      "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.image = '/poison' "
      "BEGIN SELECT RAISE(ABORT, 'poisoned event'); END");
  other.exec("BEGIN IMMEDIATE");
  StoreOutcome first;
  store_async(store, sample_batch(1, "first"), first);
  ASSERT_TRUE(wait_for([&] { return store.write_queue_stats().writing_batches == 1; }));

  constexpr int kGood = 7;
  std::vector<StoreOutcome> good(kGood);
  for (int i = 0; i < kGood; ++i)
    store_async(store, sample_batch(1, "good" + std::to_string(i)), good[i]);
  auto poisoned = sample_batch(1, "poisoned");
  std::get<protocol::ProcessExec>(poisoned.events[0].body).image = "/poison";
  StoreOutcome bad;
  store_async(store, poisoned, bad);
  ASSERT_TRUE(wait_for([&] { return store.write_queue_stats().queued_batches == kGood + 1; }));
  other.exec("COMMIT");
  join();

  EXPECT_EQ(first.status, Status::kStored) << first.error;
  for (int i = 0; i < kGood; ++i) EXPECT_EQ(good[i].status, Status::kStored) << good[i].error;
  EXPECT_EQ(bad.status, Status::kFailed);
  EXPECT_NE(bad.error.find("poisoned event"), std::string::npos) << bad.error;
  EXPECT_EQ(store.write_queue_stats().transactions_committed, 2u);
  // Nothing of the failed batch, not even its batches row: a retry can store it.
  EXPECT_EQ(other.count("SELECT COUNT(*) FROM batches WHERE host = 'poisoned'"), 0);
  EXPECT_EQ(other.count("SELECT COUNT(*) FROM zone_energy WHERE host = 'poisoned'"), 0);
  EXPECT_EQ(other.count("SELECT COUNT(*) FROM agent_status WHERE host = 'poisoned'"), 0);
  EXPECT_EQ(other.count("SELECT COUNT(*) FROM events"), 3 * (kGood + 1));
  other.exec("DROP TRIGGER poison");
  EXPECT_EQ(store.store_batch(poisoned, kBaseNs).status, Status::kStored);
  EXPECT_EQ(other.count("SELECT COUNT(*) FROM events WHERE host = 'poisoned'"), 3);
}

TEST_F(GroupCommitTest, ATransactionRolledBackFailsItsWholeGroupAndNothingIsLost) {
  SqliteStore store(path());
  Connection other(path());
  // RAISE(ROLLBACK) ends the whole transaction, as SQLITE_FULL or an I/O error would.
  other.exec(
      "CREATE TRIGGER doom BEFORE INSERT ON alerts WHEN NEW.rule_id = 'doom' "
      "BEGIN SELECT RAISE(ROLLBACK, 'transaction doomed'); END");
  other.exec("BEGIN IMMEDIATE");
  StoreOutcome first;
  store_async(store, sample_batch(1, "first"), first);
  ASSERT_TRUE(wait_for([&] { return store.write_queue_stats().writing_batches == 1; }));
  constexpr int kGood = 5;
  std::vector<protocol::Batch> batches;
  for (int i = 0; i < kGood; ++i) batches.push_back(sample_batch(1, "good" + std::to_string(i)));
  batches.push_back(sample_batch(1, "doomed"));
  batches.back().alerts[0].rule_id = "doom";
  std::vector<StoreOutcome> outcomes(batches.size());
  for (std::size_t i = 0; i < batches.size(); ++i) store_async(store, batches[i], outcomes[i]);
  ASSERT_TRUE(wait_for([&] { return store.write_queue_stats().queued_batches == batches.size(); }));
  other.exec("COMMIT");
  join();

  EXPECT_EQ(first.status, Status::kStored) << first.error;
  for (const auto& outcome : outcomes) {
    EXPECT_EQ(outcome.status, Status::kFailed);
    EXPECT_NE(outcome.error.find("transaction doomed"), std::string::npos) << outcome.error;
  }
  EXPECT_EQ(other.count("SELECT COUNT(*) FROM batches"), 1);
  // The agents retry: every batch but the doomed one is stored, none twice.
  other.exec("DROP TRIGGER doom");
  for (const auto& batch : batches)
    EXPECT_EQ(store.store_batch(batch, kBaseNs).status, Status::kStored) << batch.host;
  EXPECT_EQ(other.count("SELECT COUNT(*) FROM batches"), 1 + kGood + 1);
  EXPECT_EQ(other.count("SELECT COUNT(*) FROM events"), 3 * (1 + kGood + 1));
}

TEST_F(GroupCommitTest, AFullQueueAnswersBusyAndWritesNothing) {
  SqliteStore store(path(), SqliteWriteQueueLimits{.max_batches = 2, .max_bytes = 64u << 20});
  Connection other(path());
  other.exec("BEGIN IMMEDIATE");
  StoreOutcome first, second, third;
  store_async(store, sample_batch(1, "a"), first);
  ASSERT_TRUE(wait_for([&] { return store.write_queue_stats().writing_batches == 1; }));
  store_async(store, sample_batch(1, "b"), second);
  store_async(store, sample_batch(1, "c"), third);
  ASSERT_TRUE(wait_for([&] { return store.write_queue_stats().queued_batches == 2; }));

  const auto busy = store.store_batch(sample_batch(1, "d"), kBaseNs);
  EXPECT_EQ(busy.status, Status::kBusy);
  EXPECT_NE(busy.error.find("write queue is full (2 batches"), std::string::npos) << busy.error;
  other.exec("COMMIT");
  join();
  EXPECT_EQ(first.status, Status::kStored);
  EXPECT_EQ(second.status, Status::kStored);
  EXPECT_EQ(third.status, Status::kStored);
  EXPECT_EQ(store.write_queue_stats().batches_refused_busy, 1u);
  EXPECT_EQ(other.count("SELECT COUNT(*) FROM batches WHERE host = 'd'"), 0);
  // Retried once the queue has drained, it is stored.
  EXPECT_EQ(store.store_batch(sample_batch(1, "d"), kBaseNs).status, Status::kStored);
}

TEST_F(GroupCommitTest, TheQueueIsBoundedInBytesToo) {
  // Any batch is over one byte: with one queued, the next is refused; an
  // empty queue always takes one, however large.
  SqliteStore store(path(), SqliteWriteQueueLimits{.max_batches = 100, .max_bytes = 1});
  Connection other(path());
  other.exec("BEGIN IMMEDIATE");
  StoreOutcome first, second;
  store_async(store, sample_batch(1, "a"), first);
  ASSERT_TRUE(wait_for([&] { return store.write_queue_stats().writing_batches == 1; }));
  store_async(store, sample_batch(1, "b"), second);
  ASSERT_TRUE(wait_for([&] { return store.write_queue_stats().queued_batches == 1; }));
  EXPECT_GT(store.write_queue_stats().queued_bytes, 1u);
  EXPECT_EQ(store.store_batch(sample_batch(1, "c"), kBaseNs).status, Status::kBusy);
  other.exec("COMMIT");
  join();
  EXPECT_EQ(first.status, Status::kStored);
  EXPECT_EQ(second.status, Status::kStored);
}

}  // namespace
}  // namespace vigie::collector
