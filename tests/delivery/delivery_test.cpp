// The delivery layer (vigie/delivery/): the classification of an answer and
// the backoff every sender uses, sequence numbers, the on-disk spool (real
// files, real directory fsyncs), and the bounded sender worker.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "support/sample_batch.h"
#include "support/spool_files.h"
#include "vigie/delivery/retry.h"
#include "vigie/delivery/send_worker.h"
#include "vigie/delivery/sequence.h"
#include "vigie/delivery/spool.h"

namespace vigie::delivery {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace vigie::testing;
using collector::testing::TempDir;
using protocol::HttpResponse;

using Clock = std::chrono::steady_clock;

// One classification for every sender: remote_write 1.0's rules.
TEST(Classify, FollowsRemoteWriteRules) {
  for (int status : {200, 201, 202, 204, 299})
    EXPECT_EQ(classify(status), Outcome::kDelivered) << status;
  for (int status : {0, 429, 500, 502, 503, 504, 599})
    EXPECT_EQ(classify(status), Outcome::kRetry) << status;
  for (int status : {100, 301, 304, 400, 401, 403, 404, 409, 413, 422, 600})
    EXPECT_EQ(classify(status), Outcome::kRejected) << status;
  EXPECT_EQ(classify(HttpResponse{0, "", "connection refused"}), Outcome::kRetry);
  EXPECT_EQ(classify(HttpResponse{204, "", ""}), Outcome::kDelivered);
}

TEST(Backoff, FullJitterGrowsAndIsCapped) {
  const BackoffPolicy policy{100ms, 5000ms};
  for (unsigned attempt = 0; attempt < 40; ++attempt) {
    const auto cap =
        std::min<std::chrono::milliseconds>(5000ms, 100ms * (1ull << std::min(attempt, 20u)));
    const uint64_t draw = 0x9e3779b97f4a7c15ull * (attempt + 1);
    EXPECT_EQ(policy.delay(attempt, draw).count(), static_cast<int64_t>(draw % (cap.count() + 1)))
        << attempt;
    EXPECT_LE(policy.delay(attempt, UINT64_MAX), cap);
  }
  EXPECT_EQ(policy.delay(3, 800), 800ms);  // cap 800: the largest random draw
  EXPECT_EQ(policy.delay(3, 801), 0ms);    // uniform over [0, cap]
  EXPECT_EQ(policy.delay(0, 0), 0ms);
}

TEST(Backoff, HonoursRetryAfterUpToTheCap) {
  const BackoffPolicy policy{100ms, 5000ms};
  EXPECT_EQ(policy.delay(0, 0, 2000ms), 2000ms);     // the server's wait beats the jitter
  EXPECT_EQ(policy.delay(0, 0, 60'000ms), 5000ms);   // but never beyond max
  EXPECT_EQ(policy.delay(5, 3000, 1000ms), 3000ms);  // the jitter when longer

  Backoff backoff(policy);
  HttpResponse too_many{429, "", ""};
  too_many.retry_after = std::chrono::seconds(3);
  EXPECT_EQ(backoff.next(too_many), 3000ms);
  EXPECT_EQ(backoff.failures(), 1u);
  for (int i = 0; i < 50; ++i) EXPECT_LE(backoff.next(), 5000ms);
  backoff.reset();
  EXPECT_EQ(backoff.failures(), 0u);
  EXPECT_LE(backoff.next(), 100ms);  // attempt 0 again after a success
}

TEST(SequenceAllocator, KeepsIncreasingAcrossRestarts) {
  const auto path =
      std::filesystem::temp_directory_path() / ("vigie-seq-" + std::to_string(::getpid()));
  std::filesystem::remove(path);
  uint64_t last = 0;
  {
    SequenceAllocator a(path.string(), 4);
    for (int i = 0; i < 10; ++i) {
      const uint64_t s = a.next();
      EXPECT_GT(s, last);
      last = s;
    }
  }
  SequenceAllocator restarted(path.string(), 4);  // a "crash" after 10 numbers
  EXPECT_GT(restarted.next(), last);
  std::filesystem::remove(path);
}

TEST(SequenceAllocator, RefusesCorruptState) {
  const auto path =
      std::filesystem::temp_directory_path() / ("vigie-seq-bad-" + std::to_string(::getpid()));
  std::ofstream(path) << "not-a-number";
  EXPECT_THROW(SequenceAllocator(path.string()), std::runtime_error);
  std::filesystem::remove(path);
}

// ---------------------------------------------------------------- Spool

TEST(Spool, WritesReadsAndRemovesWithByteAccounting) {
  TempDir dir;
  Spool spool({dir.str("a/b/spool"), true});  // parents created
  EXPECT_EQ(fs::status(dir.str("a/b/spool")).permissions() & fs::perms::all, fs::perms::owner_all);
  const std::string b1 = encoded_batch(7, 0, 3), b2 = encoded_batch(8, 3, 5);
  ASSERT_TRUE(spool.write(7, {3, 1, 2}, b1).ok());
  ASSERT_TRUE(spool.write(8, {5, 0, 0}, b2).ok());
  EXPECT_EQ(spool.batches(), 2u);
  EXPECT_EQ(spool.bytes(), 2 * Spool::kHeaderBytes + b1.size() + b2.size());
  EXPECT_EQ(fs::file_size(dir.path() / "a/b/spool" / spool_name(7)),
            Spool::kHeaderBytes + b1.size());
  EXPECT_EQ(spool.read(7), b1);
  EXPECT_EQ(spool.read(8), b2);
  spool.remove(7);
  spool.remove(7);   // twice: fine
  spool.remove(99);  // never written: fine
  EXPECT_EQ(spool.batches(), 1u);
  EXPECT_EQ(spool.bytes(), Spool::kHeaderBytes + b2.size());
  EXPECT_EQ(batch_files(dir.path() / "a/b/spool"), std::vector<std::string>{spool_name(8)});
  EXPECT_EQ(spool.corrupt_files(), 0u);
}

TEST(Spool, ReopenRecoversInSequenceOrderWithCounts) {
  TempDir dir;
  std::map<uint64_t, std::string> bodies;
  {
    Spool spool({dir.str(), true});
    for (uint64_t s : {500ull, 3ull, 42ull, 10000000000000000000ull}) {
      bodies[s] = encoded_batch(s, 0, s % 7 + 1);
      ASSERT_TRUE(spool.write(s, {s % 7 + 1, s % 3, s % 5}, bodies[s]).ok());
    }
  }
  Spool reopened({dir.str(), true});
  const auto& r = reopened.recovered();
  ASSERT_EQ(r.size(), 4u);
  uint64_t total = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(r[i - 1].sequence, r[i].sequence);
    }
    const uint64_t s = r[i].sequence;
    ASSERT_TRUE(bodies.count(s)) << s;
    EXPECT_EQ(r[i].counts.events, s % 7 + 1);
    EXPECT_EQ(r[i].counts.alerts, s % 3);
    EXPECT_EQ(r[i].counts.energy_records, s % 5);
    EXPECT_EQ(r[i].file_bytes, Spool::kHeaderBytes + bodies[s].size());
    EXPECT_EQ(reopened.read(s), bodies[s]);
    total += r[i].file_bytes;
  }
  EXPECT_EQ(r.front().sequence, 3u);
  EXPECT_EQ(reopened.bytes(), total);
  EXPECT_EQ(reopened.batches(), 4u);
  EXPECT_EQ(reopened.corrupt_files(), 0u);
}

TEST(Spool, LeftoverTmpIsRemovedAndOtherFilesAreLeftAlone) {
  TempDir dir;
  {
    Spool spool({dir.str(), true});
    ASSERT_TRUE(spool.write(1, {1, 0, 0}, encoded_batch(1, 0, 1)).ok());
  }
  // A crash between the write of the .tmp and its rename.
  fs::copy_file(dir.path() / spool_name(1), dir.path() / (spool_name(2) + ".tmp"));
  std::ofstream(dir.path() / "README") << "not a batch";
  Spool reopened({dir.str(), true});
  EXPECT_EQ(reopened.recovered().size(), 1u);
  EXPECT_EQ(reopened.corrupt_files(), 0u);
  EXPECT_FALSE(fs::exists(dir.path() / (spool_name(2) + ".tmp")));
  EXPECT_TRUE(fs::exists(dir.path() / "README"));
}

TEST(Spool, CorruptFilesAreRemovedAndCounted) {
  TempDir dir;
  std::map<uint64_t, std::string> bodies;
  {
    Spool spool({dir.str(), true});
    for (uint64_t s = 1; s <= 7; ++s) {
      bodies[s] = encoded_batch(s, 0, 20);
      ASSERT_TRUE(spool.write(s, {20, 0, 0}, bodies[s]).ok());
    }
  }
  const fs::path d = dir.path();
  flip_byte(d / spool_name(1), 0);   // magic
  flip_byte(d / spool_name(2), 20);  // events count: header CRC fails
  flip_byte(d / spool_name(3), 70);  // body: the body CRC fails (found at read)
  fs::resize_file(d / spool_name(4), fs::file_size(d / spool_name(4)) - 1);  // truncated body
  fs::resize_file(d / spool_name(5), 30);                                    // truncated header
  fs::rename(d / spool_name(6), d / spool_name(66));  // sequence differs from its name
  Spool reopened({dir.str(), true});
  // 1, 2, 4, 5 and 66 go at open; 3's header is sound.
  EXPECT_EQ(reopened.corrupt_files(), 5u);
  ASSERT_EQ(reopened.recovered().size(), 2u);
  EXPECT_EQ(reopened.recovered()[0].sequence, 3u);
  EXPECT_EQ(reopened.recovered()[1].sequence, 7u);
  EXPECT_EQ(batch_files(d), (std::vector<std::string>{spool_name(3), spool_name(7)}));
  EXPECT_EQ(reopened.bytes(), 2 * Spool::kHeaderBytes + bodies[3].size() + bodies[7].size());
  EXPECT_EQ(reopened.read(3), std::nullopt);  // body CRC
  EXPECT_EQ(reopened.corrupt_files(), 6u);
  EXPECT_FALSE(fs::exists(d / spool_name(3)));
  EXPECT_EQ(reopened.bytes(), Spool::kHeaderBytes + bodies[7].size());
  EXPECT_EQ(reopened.read(7), bodies[7]);
  fs::remove(d / spool_name(7));
  EXPECT_EQ(reopened.read(7), std::nullopt);  // gone from under the spool
  EXPECT_EQ(reopened.corrupt_files(), 7u);
  EXPECT_EQ(reopened.batches(), 0u);
  EXPECT_EQ(reopened.bytes(), 0u);
}

TEST(Spool, RefusesADirectoryItCannotUse) {
  TempDir dir;
  std::ofstream(dir.path() / "file") << "x";
  EXPECT_THROW(Spool({dir.str("file"), true}), std::runtime_error);
  EXPECT_THROW(Spool({dir.str("file/sub"), true}), std::runtime_error);
  EXPECT_THROW(Spool({"", true}), std::runtime_error);
}

TEST(Spool, AFailedWriteLeavesNothingAndKeepsErrno) {
  TempDir dir;
  Spool spool({dir.str("s"), true});
  fs::remove_all(dir.path() / "s");  // the directory vanished under the agent
  const auto result = spool.write(1, {1, 0, 0}, "body");
  EXPECT_EQ(result.error, ENOENT);
  EXPECT_NE(result.message.find(dir.str("s")), std::string::npos) << result.message;
  EXPECT_EQ(spool.batches(), 0u);
  EXPECT_EQ(spool.bytes(), 0u);
}

// The cost of crash safety: batches/s through Spool::write with fsync of
// each file and of the directory per batch, with the directory fsync'd once
// per group of 64 batches (the Uplink's group commit), and without fsync, on
// this machine's disk; printed with ratios to the first, no timing assertion.
// Rounds alternate the three modes so that a disk's changing speed weighs
// on all three alike.
TEST(Spool, WriterThroughputIsMeasured) {
  TempDir dir;
  const std::string body = encoded_batch(1, 0, 100);
  constexpr int kBatches = 128, kGroup = 64, kRounds = 3;
  enum Mode { kPerBatch, kGrouped, kNoSync };
  const char* names[] = {"fsync per batch", "directory fsync per 64 batches", "no fsync"};
  double seconds[3] = {0, 0, 0};
  for (int round = 0; round < kRounds; ++round) {
    for (const Mode mode : {kPerBatch, kGrouped, kNoSync}) {
      Spool spool(
          {dir.str("r" + std::to_string(round) + "m" + std::to_string(mode)), mode != kNoSync});
      const auto start = Clock::now();
      for (int i = 0; i < kBatches; ++i) {
        ASSERT_TRUE(spool.write(i + 1, {100, 0, 0}, body, mode == kPerBatch).ok());
        if (mode == kGrouped && (i + 1) % kGroup == 0) {
          ASSERT_EQ(spool.sync_directory(), 0);
        }
      }
      seconds[mode] += std::chrono::duration<double>(Clock::now() - start).count();
      EXPECT_EQ(spool.batches(), static_cast<std::size_t>(kBatches));
    }
  }
  for (const Mode mode : {kPerBatch, kGrouped, kNoSync}) {
    std::cout << "spool writes, " << names[mode] << ": " << kRounds * kBatches / seconds[mode]
              << " batches/s of " << body.size() + Spool::kHeaderBytes << " bytes ("
              << seconds[kPerBatch] / seconds[mode] << "x fsync per batch)\n";
  }
}

// ---------------------------------------------------------------- SendWorker

// What the worker dropped, by reason, as its OnDrop callback saw it.
struct Drops {
  std::map<std::string, std::vector<int>, std::less<>> items;
  SendWorker<int>::OnDrop callback() {
    return [this](const int& item, std::string_view reason) {
      items[std::string(reason)].push_back(item);  // under the worker's lock already
    };
  }
};

TEST(SendWorker, DropsTheNewestBeyondItsItemBound) {
  Drops drops;
  SendWorker<int> worker({.max_items = 3}, {}, drops.callback());
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(worker.push(i), i <= 3) << i;
  EXPECT_EQ(worker.size().items, 3u);
  EXPECT_EQ(worker.dropped(kDropQueueFull), 2u);
  EXPECT_EQ(drops.items[std::string(kDropQueueFull)], (std::vector<int>{4, 5}));
  EXPECT_EQ(worker.take(Clock::now()), (std::vector<int>{1, 2, 3}));  // order kept
}

TEST(SendWorker, DropsTheOldestBeyondItsByteBound) {
  Drops drops;
  SendWorker<int> worker(
      {.max_bytes = 10, .overflow = QueueLimits::Overflow::kDropOldest},
      [](const int& item) { return static_cast<std::size_t>(item); }, drops.callback());
  for (int item : {4, 3, 2, 5}) EXPECT_TRUE(worker.push(item));
  // 4 + 3 + 2 + 5 = 14 > 10: the oldest (4) goes, 3 + 2 + 5 = 10 stays.
  EXPECT_EQ(worker.size().bytes, 10u);
  EXPECT_EQ(drops.items[std::string(kDropQueueFull)], std::vector<int>{4});
  // take() stops before max_bytes, but always takes one.
  EXPECT_EQ(worker.take(Clock::now(), SIZE_MAX, 6), (std::vector<int>{3, 2}));
  EXPECT_EQ(worker.size().items, 1u);  // one queued, two in flight
  EXPECT_EQ(worker.size().in_flight_items, 2u);
  EXPECT_EQ(worker.size().in_flight_bytes, 5u);
  worker.done();
  EXPECT_EQ(worker.take(Clock::now(), SIZE_MAX, 1), std::vector<int>{5});
}

TEST(SendWorker, RetriedItemGoesBackFirstAndTheSenderWaitsItsBackoff) {
  SendWorker<int> worker({.max_items = 10});
  std::vector<int> sent;
  std::atomic<int> attempts{0};
  worker.start([&] {
    Backoff backoff({1ms, 4ms});
    while (auto item = worker.take_one()) {
      if (*item == 2 && attempts++ < 3) {  // fails three times, then goes
        worker.push_front(*item);
        if (!worker.pause(backoff.next())) return;
        continue;
      }
      backoff.reset();
      sent.push_back(*item);
      worker.done();
    }
  });
  for (int i = 1; i <= 4; ++i) worker.push(i);
  ASSERT_TRUE(worker.wait_idle(10s));
  EXPECT_TRUE(worker.stop(1s).empty());
  EXPECT_EQ(sent, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(attempts.load(), 4);
}

TEST(SendWorker, StopGivesTheSenderItsDeadlineThenHandsBackWhatIsLeft) {
  Drops drops;
  SendWorker<int> worker({.max_items = 100}, {}, drops.callback());
  std::atomic<bool> paused_false{false};
  std::atomic<bool> pausing{false};
  worker.start([&] {
    // A receiver that is always down: the sender backs off until stopped.
    while (auto item = worker.take_one()) {
      worker.push_front(*item);
      pausing = true;
      if (!worker.pause(1h)) {
        paused_false = true;
        return;
      }
    }
  });
  for (int i = 1; i <= 3; ++i) worker.push(i);
  // Stop while the sender is inside its 1 h pause, the deadline still ahead:
  // the pause must end at the deadline, not at its own end.
  while (!pausing) std::this_thread::yield();
  std::this_thread::sleep_for(20ms);
  const auto start = Clock::now();
  const std::vector<int> left = worker.stop(200ms);
  EXPECT_LT(Clock::now() - start, 30s);  // the 1 h backoff was cut at the deadline
  EXPECT_TRUE(paused_false.load());
  EXPECT_EQ(left, (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(worker.push(9));  // after stop: dropped, counted
  worker.drop_all(left, kDropStopped);
  EXPECT_EQ(worker.dropped(kDropStopped), 4u);
  EXPECT_EQ(drops.items[std::string(kDropStopped)], (std::vector<int>{9, 1, 2, 3}));
  EXPECT_EQ(worker.size().items, 0u);
}

// A batch's items pushed together are taken together: a sender waiting in
// take() never sees part of them (remote_write sends a batch's series in one
// request).
TEST(SendWorker, ItemsPushedTogetherAreTakenTogether) {
  SendWorker<int> worker({});
  std::vector<std::size_t> taken_sizes;
  std::atomic<int> taken{0};
  worker.start([&] {
    for (auto items = worker.take(); !items.empty(); items = worker.take()) {
      taken_sizes.push_back(items.size());
      taken += static_cast<int>(items.size());
    }
  });
  for (int round = 0; round < 50; ++round) {
    std::vector<int> batch(100);
    std::iota(batch.begin(), batch.end(), round * 100);
    worker.push_all(std::move(batch));
    ASSERT_TRUE(worker.wait_idle(10s));
  }
  worker.stop(0ms);
  EXPECT_EQ(taken.load(), 5000);
  for (std::size_t size : taken_sizes) EXPECT_EQ(size % 100, 0u) << "a batch was split";
}

TEST(SendWorker, ReportsItsSizeForGauges) {
  using S = std::tuple<std::size_t, std::size_t, std::size_t, std::size_t>;
  std::vector<S> sizes;
  SendWorker<int> worker(
      {}, [](const int& item) { return static_cast<std::size_t>(item); }, {},
      [&](const QueueSize& s) {
        sizes.emplace_back(s.items, s.bytes, s.in_flight_items, s.in_flight_bytes);
      });
  worker.push(5);
  worker.push(7);
  auto taken = worker.take(Clock::now(), 1);
  worker.done();
  EXPECT_EQ(sizes, (std::vector<S>{
                       {1, 5, 0, 0}, {2, 12, 0, 0}, {2, 12, 0, 0}, {1, 7, 1, 5}, {1, 7, 0, 0}}));
}

}  // namespace
}  // namespace vigie::delivery
