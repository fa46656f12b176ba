// The Uplink with a spool (vigie/delivery/spool.h): real files on the real
// file system, a real tmpfs for the full disk, real SIGKILLs for crash
// safety, a real HTTP receiver on loopback.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/http_receiver.h"
#include "support/sample_batch.h"
#include "support/spool_files.h"
#include "vigie/delivery/spool.h"
#include "vigie/protocol/codec.h"
#include "vigie/uplink/uplink.h"

namespace vigie::uplink {
namespace {

using delivery::Spool;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using collector::testing::TempDir;
using namespace vigie::testing;  // support/spool_files.h

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 20s) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// A collector on loopback: answers 503 while down (the uplink retries), 200
// while up; keeps the batches it acknowledged, in arrival order.
class Collector {
 public:
  explicit Collector(bool up) : up_(up), receiver_([this](std::size_t i) { return respond(i); }) {}
  void set_up(bool up) { up_ = up; }
  protocol::Endpoint endpoint() const { return {"127.0.0.1", std::to_string(receiver_.port())}; }
  std::vector<protocol::Batch> batches() {
    std::lock_guard lk(mu_);
    // After the lock: every accepted request is in this copy (the receiver
    // records a request before it asks respond()).
    const auto requests = receiver_.requests();
    for (; decoded_ < accepted_.size(); ++decoded_) {
      protocol::Batch b;
      if (!protocol::decode_batch(requests.at(accepted_[decoded_]).body, b).ok()) {
        throw std::runtime_error("collector received a batch that does not decode");
      }
      batches_.push_back(std::move(b));
    }
    return batches_;
  }
  std::size_t events() {
    std::size_t n = 0;
    for (const auto& b : batches()) n += b.events.size();
    return n;
  }

 private:
  int respond(std::size_t index) {
    if (!up_) return 503;
    std::lock_guard lk(mu_);
    accepted_.push_back(index);
    return 200;
  }
  std::atomic<bool> up_;
  std::mutex mu_;
  std::vector<std::size_t> accepted_;
  std::size_t decoded_ = 0;
  std::vector<protocol::Batch> batches_;
  collector::testing::HttpReceiver receiver_;  // last: its thread calls respond()
};

// A TCP port of 127.0.0.1 where nothing listens (connections are refused).
protocol::Endpoint nobody_listens() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return {"127.0.0.1", std::to_string(a.local_endpoint().port())};
}

UplinkOptions spool_options(const protocol::Endpoint& endpoint, const std::string& spool_dir) {
  UplinkOptions o;
  o.endpoint = endpoint;
  o.token = "secret-token";
  o.agent_id = "agent-1";
  o.site = "site-a";
  o.host = "node001";
  o.flush_interval = 10min;  // batches are sealed only when full: known counts
  o.max_batch_events = 10;
  o.initial_backoff = 10ms;
  o.max_backoff = 50ms;
  o.spool_dir = spool_dir;
  return o;
}

// Checks what a collector received: sequences strictly increasing (in
// order, no batch twice), and every pid of [0, pids) exactly once except
// those in `lost`. "" when all holds, else what does not.
std::string check_delivery(const std::vector<protocol::Batch>& batches, uint32_t pids,
                           const std::set<uint32_t>& lost = {}) {
  std::ostringstream problems;
  std::vector<int> seen(pids, 0);
  for (std::size_t i = 0; i < batches.size(); ++i) {
    if (i > 0 && batches[i].sequence <= batches[i - 1].sequence) {
      problems << "batch " << batches[i].sequence << " after " << batches[i - 1].sequence << "; ";
    }
    for (const auto& e : batches[i].events) {
      if (e.pid >= pids) {
        problems << "unknown pid " << e.pid << "; ";
      } else {
        ++seen[e.pid];
      }
    }
  }
  for (uint32_t pid = 0; pid < pids; ++pid) {
    const int want = lost.count(pid) ? 0 : 1;
    if (seen[pid] != want) problems << "pid " << pid << " seen " << seen[pid] << " times; ";
  }
  return problems.str();
}

TEST(UplinkSpool, EveryDropReasonAndLimitIsReported) {
  TempDir dir;
  auto o = spool_options(nobody_listens(), dir.str("spool"));
  o.spool_max_bytes = 5 << 20;
  Uplink uplink(o, {});
  const auto s = uplink.stats();
  for (const char* reason : {"queue_full", "spool_full", "disk_full", "corrupt", "stopped"}) {
    ASSERT_TRUE(s.batches_dropped_by_reason.count(reason)) << reason;
    EXPECT_EQ(s.batches_dropped_by_reason.at(reason), 0u);
  }
  EXPECT_EQ(s.batches_dropped_by_reason.size(), 5u);
  EXPECT_EQ(s.queue_batches_limit, o.max_queue_batches);
  EXPECT_EQ(s.queue_events_limit, o.max_queue_events);
  EXPECT_EQ(s.queue_bytes_limit, o.max_queue_bytes);
  EXPECT_EQ(s.pending_events_limit, 10u);
  EXPECT_EQ(s.spool_bytes_limit, 5u << 20);
  // Without a spool: no spool bound, and the undelivered are dropped at stop.
  Uplink memory_only(spool_options(nobody_listens(), ""), {});
  memory_only.add_event(exec_event(1));
  memory_only.stop(0ms);
  EXPECT_EQ(memory_only.stats().spool_bytes_limit, 0u);
  EXPECT_EQ(memory_only.stats().batches_dropped_by_reason.at("stopped"), 1u);
  EXPECT_EQ(memory_only.stats().batches_dropped_total, 1u);
}

TEST(UplinkSpool, CollectorDownThenRestartDeliversEverythingOnceInOrder) {
  TempDir dir;
  const std::string spool_dir = dir.str("spool");
  constexpr uint32_t kOld = 2000, kNew = 50;
  uint64_t highest_old = 0;
  {
    // The collector is down: connections are refused.
    auto o = spool_options(nobody_listens(), spool_dir);
    o.sequence_state_path = dir.str("seq");
    Uplink uplink(o, {});
    for (uint32_t pid = 0; pid < kOld; ++pid) uplink.add_event(exec_event(pid, 200));
    ASSERT_TRUE(eventually([&] { return uplink.stats().spool_batches == kOld / 10; }))
        << uplink.stats().spool_batches;
    const auto s = uplink.stats();
    // Memory holds at most the batch in flight; the rest waits on disk.
    EXPECT_EQ(s.queue_batches, 1u);
    EXPECT_LT(s.queue_bytes * 20, s.spool_bytes) << s.queue_bytes << " vs " << s.spool_bytes;
    EXPECT_GT(s.send_failures_total, 0u);
    EXPECT_EQ(s.batches_dropped_total, 0u);
    uplink.stop(0ms);
    EXPECT_EQ(uplink.stats().batches_dropped_total, 0u);  // kept for the next start
    EXPECT_EQ(uplink.stats().spool_batches, kOld / 10);
    const auto files = batch_files(spool_dir);
    ASSERT_EQ(files.size(), kOld / 10);
    highest_old = std::stoull(files.back().substr(0, 20));
  }
  Collector collector(true);
  auto o = spool_options(collector.endpoint(), spool_dir);
  // A new state file: without the spool's sequences the new run could start
  // below them; the recovered batches move it above.
  o.sequence_state_path = dir.str("seq-new");
  Uplink uplink(o, {});
  EXPECT_EQ(uplink.stats().spool_replayed_batches_total, kOld / 10);
  for (uint32_t pid = kOld; pid < kOld + kNew; ++pid) uplink.add_event(exec_event(pid, 200));
  ASSERT_TRUE(eventually([&] { return collector.events() == kOld + kNew; })) << collector.events();
  const auto batches = collector.batches();
  EXPECT_EQ(check_delivery(batches, kOld + kNew), "");
  for (const auto& b : batches) {
    if (b.events.front().pid >= kOld) {
      EXPECT_GT(b.sequence, highest_old);
    }
  }
  ASSERT_TRUE(eventually([&] { return uplink.stats().spool_batches == 0; }));
  EXPECT_EQ(uplink.stats().spool_bytes, 0u);
  EXPECT_TRUE(batch_files(spool_dir).empty());
  uplink.stop();
  EXPECT_EQ(uplink.stats().batches_dropped_total, 0u);
  EXPECT_EQ(collector.events(), kOld + kNew);  // nothing more after the stop
}

TEST(UplinkSpool, SpoolFullEvictsTheOldestAndCountsTheirEvents) {
  TempDir dir;
  const std::string spool_dir = dir.str("spool");
  constexpr uint32_t kEvents = 1000;  // 100 batches
  uint64_t dropped_events = 0;
  {
    auto o = spool_options(nobody_listens(), spool_dir);
    o.spool_max_bytes = 16 << 10;
    Uplink uplink(o, {});
    for (uint32_t pid = 0; pid < kEvents; ++pid) uplink.add_event(exec_event(pid, 100));
    ASSERT_TRUE(eventually([&] {
      const auto s = uplink.stats();
      return s.spool_batches + s.batches_dropped_by_reason.at("spool_full") == kEvents / 10;
    }));
    const auto s = uplink.stats();
    EXPECT_GT(s.batches_dropped_by_reason.at("spool_full"), 0u);
    EXPECT_LE(s.spool_bytes, 16u << 10);
    EXPECT_EQ(s.batches_dropped_total, s.batches_dropped_by_reason.at("spool_full"));
    EXPECT_EQ(s.events_dropped_total, 10 * s.batches_dropped_total);
    EXPECT_EQ(s.spool_write_errors_total, 0u);
    uplink.stop(0ms);
    dropped_events = uplink.stats().events_dropped_total;
  }
  Collector collector(true);
  Uplink uplink(spool_options(collector.endpoint(), spool_dir), {});
  ASSERT_TRUE(eventually([&] { return uplink.stats().spool_batches == 0; }));
  // Delivered: the newest batches, each once and in order, and the batch
  // that was in flight when the spool filled (never evicted; which one
  // depends on when the sender took it); every other one was evicted,
  // oldest first, and counted.
  const auto batches = collector.batches();
  ASSERT_GE(batches.size(), 2u);
  std::set<uint32_t> delivered;
  for (const auto& b : batches)
    for (const auto& e : b.events) delivered.insert(e.pid);
  uint32_t newest_from = kEvents;
  while (newest_from > 0 && delivered.count(newest_from - 1)) --newest_from;
  std::set<uint32_t> lost;
  for (uint32_t pid = 0; pid < kEvents; ++pid)
    if (!delivered.count(pid)) lost.insert(pid);
  EXPECT_EQ(check_delivery(batches, kEvents, lost), "");
  EXPECT_LE(delivered.size() - (kEvents - newest_from), 10u)
      << "more than one batch delivered outside the newest ones";
  EXPECT_EQ(lost.size(), dropped_events);
}

// Runs `body` in a forked child with a private mount namespace and a 1 MiB
// tmpfs on `dir`; what it returns ("" for success) comes back through a pipe.
std::string on_a_full_disk(const std::string& dir, const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  std::cout.flush();
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    if (::unshare(CLONE_NEWNS) != 0) {
      out = std::string("unshare(CLONE_NEWNS) failed (root needed): ") + std::strerror(errno);
    } else if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      out = std::string("mount --make-rprivate / failed: ") + std::strerror(errno);
    } else if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m,mode=0700") != 0) {
      out = std::string("mount of a 1 MiB tmpfs failed: ") + std::strerror(errno);
    } else {
      try {
        out = body();
      } catch (const std::exception& e) {
        out = std::string("exception: ") + e.what();
      }
    }
    for (std::size_t done = 0; done < out.size();) {
      const ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    std::cout.flush();
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) out += " (child died)";
  return out;
}

TEST(UplinkSpool, DiskFullDropsTheOldestCountedAndKeepsGoing) {
  TempDir dir;
  fs::create_directories(dir.path() / "spool");
  const std::string spool_dir = dir.str("spool");
  const std::string result = on_a_full_disk(spool_dir, [&]() -> std::string {
    std::ostringstream problems;
    Collector collector(false);
    auto o = spool_options(collector.endpoint(), spool_dir);
    o.max_batch_events = 50;
    Uplink uplink(o, {});  // spool_max_bytes 1 GiB: the disk fills first
    // 100 batches of ~20 KB (random hex: barely compressible) on 1 MiB.
    uint32_t pid = 0;
    for (; pid < 5000; ++pid) uplink.add_event(exec_event(pid, 800));
    auto settled = [&](std::size_t batches) {
      return eventually([&] {
        const auto s = uplink.stats();
        return s.spool_batches + s.batches_dropped_by_reason.at("disk_full") == batches;
      });
    };
    if (!settled(100)) problems << "the spool writer did not settle; ";
    auto s = uplink.stats();
    const uint64_t disk_full = s.batches_dropped_by_reason.at("disk_full");
    if (disk_full == 0) problems << "no disk_full drop; ";
    if (s.events_dropped_total != 50 * disk_full) problems << "events of dropped batches; ";
    if (s.batches_dropped_total != disk_full) problems << "other drops; ";
    if (s.spool_bytes > (1 << 20)) problems << "spool bytes over the disk; ";
    // The uplink keeps accepting: 20 more batches, spooled by evicting more.
    for (; pid < 6000; ++pid) uplink.add_event(exec_event(pid, 800));
    if (!settled(120)) problems << "the spool writer did not settle after more; ";
    s = uplink.stats();
    if (s.batches_dropped_by_reason.at("disk_full") <= disk_full) problems << "no more drops; ";
    if (s.queue_batches > 1) problems << s.queue_batches << " batches held in memory; ";
    // The collector comes back: everything that remained is delivered.
    collector.set_up(true);
    const uint64_t dropped_events = s.events_dropped_total;
    if (!eventually([&] { return collector.events() + dropped_events == 6000; }, 60s)) {
      problems << "delivered " << collector.events() << " + dropped " << dropped_events
               << " != 6000; ";
    }
    std::set<uint32_t> delivered;
    for (const auto& b : collector.batches())
      for (const auto& e : b.events) delivered.insert(e.pid);
    std::set<uint32_t> lost;
    for (uint32_t p = 0; p < 6000; ++p)
      if (!delivered.count(p)) lost.insert(p);
    problems << check_delivery(collector.batches(), 6000, lost);
    uplink.stop();
    if (uplink.stats().batches_dropped_total !=
        uplink.stats().batches_dropped_by_reason.at("disk_full"))
      problems << "drops other than disk_full; ";
    std::cout << "disk full: " << uplink.stats().batches_dropped_by_reason.at("disk_full")
              << " of 120 batches dropped (reason disk_full), " << collector.batches().size()
              << " delivered\n";
    return problems.str();
  });
  EXPECT_EQ(result, "");
}

TEST(UplinkSpool, UnwritableBatchesStayInMemoryUnderTheQueueBounds) {
  TempDir dir;
  Collector collector(false);
  auto o = spool_options(collector.endpoint(), dir.str("spool"));
  o.spool_max_bytes = 10;  // no batch fits: every write fails
  o.max_queue_batches = 3;
  Uplink uplink(o, {});
  for (uint32_t pid = 0; pid < 100; ++pid) uplink.add_event(exec_event(pid));
  ASSERT_TRUE(eventually([&] { return uplink.stats().spool_write_errors_total >= 3; }));
  auto s = uplink.stats();
  EXPECT_EQ(s.spool_batches, 0u);
  EXPECT_LE(s.queue_batches, 3u + 1u);  // the bound, plus the one in flight
  EXPECT_GT(s.batches_dropped_by_reason.at("queue_full"), 0u);
  EXPECT_EQ(s.events_dropped_total, 10 * s.batches_dropped_by_reason.at("queue_full"));
  collector.set_up(true);
  ASSERT_TRUE(eventually([&] { return uplink.stats().queue_batches == 0; }));
  s = uplink.stats();
  EXPECT_EQ(collector.events() + s.events_dropped_total, 100u);
  EXPECT_EQ(check_delivery(collector.batches(), 100,
                           [&] {
                             std::set<uint32_t> lost;
                             std::set<uint32_t> got;
                             for (const auto& b : collector.batches())
                               for (const auto& e : b.events) got.insert(e.pid);
                             for (uint32_t p = 0; p < 100; ++p)
                               if (!got.count(p)) lost.insert(p);
                             return lost;
                           }()),
            "");
}

TEST(UplinkSpool, StopSpoolsWhatIsSealedOrPending) {
  TempDir dir;
  {
    auto o = spool_options(nobody_listens(), dir.str("spool"));
    o.max_batch_events = 1000;
    Uplink uplink(o, {});
    for (uint32_t pid = 0; pid < 7; ++pid) uplink.add_event(exec_event(pid));
    uplink.stop(0ms);  // the 7 pending events are sealed and written
    EXPECT_EQ(uplink.stats().batches_dropped_total, 0u);
    EXPECT_EQ(uplink.stats().spool_batches, 1u);
  }
  Spool spool({dir.str("spool"), true});
  ASSERT_EQ(spool.recovered().size(), 1u);
  EXPECT_EQ(spool.recovered()[0].counts.events, 7u);
}

TEST(UplinkSpool, CorruptSpooledBatchesAreDroppedAndCounted) {
  TempDir dir;
  {
    Spool spool({dir.str(), true});
    for (uint64_t s = 1; s <= 4; ++s) {
      ASSERT_TRUE(spool.write(s, {5, 0, 0}, encoded_batch(s, (s - 1) * 5, 5)).ok());
    }
  }
  flip_byte(dir.path() / spool_name(2), 0);   // header: lost at open, count unknown
  flip_byte(dir.path() / spool_name(3), 74);  // body: found when read back to be sent
  Collector collector(true);
  Uplink uplink(spool_options(collector.endpoint(), dir.str()), {});
  ASSERT_TRUE(eventually([&] { return uplink.stats().spool_batches == 0; }));
  ASSERT_TRUE(eventually([&] { return collector.batches().size() == 2; }));
  const auto s = uplink.stats();
  EXPECT_EQ(s.spool_replayed_batches_total, 3u);
  EXPECT_EQ(s.batches_dropped_by_reason.at("corrupt"), 2u);
  EXPECT_EQ(s.batches_dropped_total, 2u);
  EXPECT_EQ(s.events_dropped_total, 5u);  // only batch 3's header survived to say it
  std::set<uint32_t> lost;
  for (uint32_t p = 5; p < 15; ++p) lost.insert(p);
  EXPECT_EQ(check_delivery(collector.batches(), 20, lost), "");
}

// The cost of the spool writer through the Uplink with fsync: batches/s
// from sealing to on disk (printed; no timing assertion).
TEST(UplinkSpool, SpoolWriterThroughputIsMeasured) {
  TempDir dir;
  auto o = spool_options(nobody_listens(), dir.str("spool"));
  o.max_batch_events = 100;
  constexpr uint32_t kBatches = 300;
  Uplink uplink(o, {});
  const auto start = Clock::now();
  for (uint32_t pid = 0; pid < kBatches * 100; ++pid) uplink.add_event(exec_event(pid, 16));
  ASSERT_TRUE(eventually([&] { return uplink.stats().spool_batches == kBatches; }, 120s));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const auto s = uplink.stats();
  std::cout << "uplink spool writer with sync: " << kBatches / seconds << " batches/s ("
            << kBatches * 100 / seconds << " events/s), " << s.spool_bytes / kBatches
            << " bytes per batch file\n";
  EXPECT_EQ(s.batches_dropped_total, 0u);
  uplink.stop(0ms);
}

// Crash safety: an agent SIGKILLed at random moments while it seals and
// spools; each time, every file left decodes, under the name of its sequence.
TEST(UplinkSpool, SigkillNeverLeavesACorruptFile) {
  TempDir dir;
  const std::string spool_dir = dir.str("spool");
  const protocol::Endpoint down = nobody_listens();
  std::mt19937 random(std::random_device{}());
  std::size_t previous = 0;
  for (int round = 0; round < 6; ++round) {
    std::cout.flush();  // or the child would print this process's buffered output again
    std::fflush(stdout);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto o = spool_options(down, spool_dir);
      o.max_batch_events = 5;
      o.sequence_state_path = dir.str("seq");
      Uplink uplink(o, {});
      for (uint32_t pid = 0;; ++pid) {
        uplink.add_event(exec_event(pid, 300, round));
        if (pid % 5 == 0) std::this_thread::sleep_for(1ms);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + random() % 600));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended before the kill";
    Spool spool({spool_dir, true});
    EXPECT_EQ(spool.corrupt_files(), 0u) << "round " << round;
    EXPECT_GT(spool.recovered().size(), previous) << "round " << round;  // nothing lost
    previous = spool.recovered().size();
    for (const auto& entry : spool.recovered()) {
      const auto body = spool.read(entry.sequence);
      ASSERT_TRUE(body) << entry.sequence;
      protocol::Batch b;
      ASSERT_TRUE(protocol::decode_batch(*body, b).ok()) << entry.sequence;
      EXPECT_EQ(b.sequence, entry.sequence);
      EXPECT_EQ(b.events.size(), entry.counts.events);
    }
    EXPECT_EQ(spool.corrupt_files(), 0u);
    std::cout << "round " << round << ": " << previous << " batches spooled, none corrupt\n";
  }
}

}  // namespace
}  // namespace vigie::uplink
