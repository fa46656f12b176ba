// 100,000 execs through the real programs (root): every exec the test makes
// is either received or counted as a ring-buffer drop, exactly. The execs run
// in a cgroup made for the test and the sensor observes only that cgroup (in
// the kernel), so every drop counted is one of ours.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "vigie/sensor/sensor.h"

namespace vigie::sensor {
namespace {

using protocol::EventKind;

constexpr int kExecs = 100'000;
constexpr int kWorkers = 2;

std::string cgroup2_mount() {
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);) {
    auto sep = line.find(" - ");
    if (sep == std::string::npos || line.compare(sep + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    return mount_point;
  }
  return {};
}

// Forks a worker that joins `cgroup` and spawns /bin/true `n` times; it exits
// 0 only when every spawn and exec succeeded.
pid_t start_worker(const std::string& cgroup, int n) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int fd = ::open((cgroup + "/cgroup.procs").c_str(), O_WRONLY);
  if (fd < 0 || ::write(fd, "0", 1) != 1) ::_exit(126);
  ::close(fd);
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
  const std::string mount = cgroup2_mount();
  ASSERT_FALSE(mount.empty()) << "no cgroup2 mount";
  const std::string cgroup = mount + "/vigie-stress-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(cgroup.c_str(), 0755), 0) << cgroup;
  struct RemoveCgroup {
    const std::string& path;
    ~RemoveCgroup() { ::rmdir(path.c_str()); }
  } remove_cgroup{cgroup};
  struct stat st {};
  ASSERT_EQ(::stat(cgroup.c_str(), &st), 0);

  SensorOptions options;
  options.kinds = {};
  options.enable(EventKind::kProcessExec, true);
  options.only_cgroup_id = st.st_ino;
  // The smallest ring and a slow reader: drops happen, and must all be counted.
  options.ringbuf_bytes = static_cast<uint32_t>(::sysconf(_SC_PAGESIZE));
  std::string error;
  auto sensor = Sensor::open(options, error);
  ASSERT_NE(sensor, nullptr) << error;

  pid_t workers[kWorkers];
  for (int w = 0; w < kWorkers; ++w) workers[w] = start_worker(cgroup, kExecs / kWorkers);

  uint64_t received = 0, foreign = 0;
  auto sink = [&](protocol::Event&& event) {
    const auto* exec = std::get_if<protocol::ProcessExec>(&event.body);
    if (exec != nullptr && exec->image == "/bin/true" && exec->exec_errno == 0) {
      ++received;
    } else {
      ++foreign;
    }
  };
  int running = kWorkers;
  int failures = 0;
  while (running > 0) {
    ASSERT_GE(sensor->poll(50, sink), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
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
  std::printf("execs %d: received %llu, dropped %llu\n", kExecs,
              static_cast<unsigned long long>(received), static_cast<unsigned long long>(dropped));
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(foreign, 0u);
  EXPECT_EQ(received + dropped, static_cast<uint64_t>(kExecs));
  EXPECT_GT(dropped, 0u) << "the reader kept up: the test did not exercise drop counting";
  EXPECT_EQ(sensor->decode_errors(), 0u);
}

}  // namespace
}  // namespace vigie::sensor
