// 100,000 execs through the real programs (root): every exec the test makes
// is either received or counted as a ring-buffer drop, exactly; the first
// ones are made while nothing reads the ring, so drops are certain. The execs run
// in a cgroup made for the test and the sensor observes only that cgroup (in
// the kernel), so every drop counted is one of ours.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <string>

#include "sensor_events.h"
#include "sensor_test_util.h"
#include "vigie/sensor/sensor.h"

namespace vigie::sensor {
namespace {

using protocol::EventKind;
using testing::cgroup2_mount;
using testing::join_cgroup;
using testing::TestCgroup;

constexpr int kExecs = 100'000;
constexpr int kWorkers = 2;

// Forks a worker that joins the cgroup whose cgroup.procs is given and spawns
// /bin/true `n` times; it exits 0 only when every spawn and exec succeeded.
pid_t start_worker(const std::string& cgroup_procs, int n) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (!join_cgroup(cgroup_procs)) ::_exit(126);
  char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
  char* const envp[] = {nullptr};
  for (int i = 0; i < n; ++i) {
    pid_t child;
    if (::posix_spawn(&child, "/bin/true", nullptr, nullptr, argv, envp) != 0) ::_exit(125);
    int status = 0;
    if (::waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ::_exit(124);
    }
  }
  ::_exit(0);
}

TEST(SensorStressTest, EveryExecIsReceivedOrCountedAsDropped) {
  TestCgroup test_cgroup("vigie-stress");
  ASSERT_NE(test_cgroup.id(), 0u) << "cannot make a cgroup v2 under " << cgroup2_mount();

  SensorOptions options;
  options.kinds = {};
  options.enable(EventKind::kProcessExec, true);
  options.only_cgroup_id = test_cgroup.id();
  // The smallest ring: drops are caused below, and must all be counted.
  options.ringbuf_bytes = static_cast<uint32_t>(::sysconf(_SC_PAGESIZE));
  std::string error;
  auto sensor = Sensor::open(options, error);
  ASSERT_NE(sensor, nullptr) << error;

  uint64_t received = 0, foreign = 0;
  auto sink = [&](protocol::Event&& event) {
    const auto* exec = std::get_if<protocol::ProcessExec>(&event.body);
    if (exec != nullptr && exec->image == "/bin/true" && exec->exec_errno == 0) {
      ++received;
    } else {
      ++foreign;
    }
  };
  int failures = 0;
  auto reap = [&](pid_t worker) {
    int status = 0;
    if (::waitpid(worker, &status, 0) != worker || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      ++failures;
  };

  // Phase 1, the overflow: nothing reads the ring until kUnread execs are
  // made. Each record takes at least its 8-byte ring header and the exec's
  // fixed part (kernel/bpf/ringbuf.c), so the ring holds at most `capacity`
  // records and at least kUnread - capacity must be dropped, whatever the
  // machine's speed.
  const uint64_t capacity = options.ringbuf_bytes / (8 + offsetof(sensor_exec, data));
  const int kUnread = static_cast<int>(4 * capacity);
  reap(start_worker(test_cgroup.procs(), kUnread));
  const uint64_t dropped_unread = sensor->ringbuf_drops(EventKind::kProcessExec);
  while (sensor->poll(0, sink) > 0) {
  }
  EXPECT_GE(dropped_unread, kUnread - capacity);
  EXPECT_EQ(received + dropped_unread, static_cast<uint64_t>(kUnread));

  // Phase 2, the storm: the rest from two workers while the reader drains as
  // fast as it can; whether it keeps up or not, nothing goes uncounted.
  pid_t workers[kWorkers];
  const int per_worker = (kExecs - kUnread) / kWorkers;
  for (int w = 0; w < kWorkers; ++w) workers[w] = start_worker(test_cgroup.procs(), per_worker);
  const int made = kUnread + per_worker * kWorkers;
  int running = kWorkers;
  while (running > 0) {
    ASSERT_GE(sensor->poll(50, sink), 0);
    for (int w = 0; w < kWorkers; ++w) {
      int status = 0;
      if (workers[w] > 0 && ::waitpid(workers[w], &status, WNOHANG) == workers[w]) {
        failures += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        workers[w] = 0;
        --running;
      }
    }
  }
  while (sensor->poll(100, sink) > 0) {
  }
  const uint64_t dropped = sensor->ringbuf_drops(EventKind::kProcessExec);
  std::printf("execs %d: received %llu, dropped %llu (%llu while unread)\n", made,
              static_cast<unsigned long long>(received), static_cast<unsigned long long>(dropped),
              static_cast<unsigned long long>(dropped_unread));
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(foreign, 0u);
  EXPECT_EQ(received + dropped, static_cast<uint64_t>(made));
  EXPECT_EQ(sensor->decode_errors(), 0u);
}

// ringbuf_used_bytes() follows the kernel's producer and consumer positions:
// records left unread are counted, and reading them brings it back to zero.
TEST(SensorStressTest, RingbufUsedBytesCountsUnreadRecords) {
  TestCgroup cgroup("vigie-ringbuf-used");
  ASSERT_NE(cgroup.id(), 0u) << "cannot make a cgroup v2 under " << cgroup2_mount();
  SensorOptions options;
  options.kinds = {};
  options.enable(EventKind::kProcessExec, true);
  options.only_cgroup_id = cgroup.id();
  options.ringbuf_bytes = 1u << 20;
  std::string error;
  auto sensor = Sensor::open(options, error);
  ASSERT_NE(sensor, nullptr) << error;
  EXPECT_EQ(sensor->ringbuf_used_bytes(), 0u);

  constexpr int kUnread = 10;
  pid_t worker = start_worker(cgroup.procs(), kUnread);
  int status = 0;
  ASSERT_EQ(::waitpid(worker, &status, 0), worker);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "worker status " << status;
  // Each record takes its 8-byte ring header plus at least the exec's fixed
  // part, rounded up to 8 bytes (kernel/bpf/ringbuf.c).
  const uint64_t used = sensor->ringbuf_used_bytes();
  EXPECT_EQ(used % 8, 0u);
  EXPECT_GE(used, kUnread * (8 + offsetof(sensor_exec, data)));
  EXPECT_LT(used, kUnread * (8 + sizeof(sensor_exec)));

  int received = 0;
  auto sink = [&](protocol::Event&&) { ++received; };
  while (received < kUnread) ASSERT_GT(sensor->poll(1000, sink), 0);
  EXPECT_EQ(received, kUnread);
  EXPECT_EQ(sensor->ringbuf_used_bytes(), 0u);
}

}  // namespace
}  // namespace vigie::sensor
