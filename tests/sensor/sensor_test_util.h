// Helpers shared by the kernel tests of the sensor (sensor_kernel_test,
// sensor_kinds_test, sensor_stress_test): collecting the events of the pids a
// test creates, and making a cgroup v2 for a test.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "vigie/sensor/sensor.h"

namespace vigie::sensor::testing {

using EventMatch = std::function<bool(const protocol::Event&)>;

// Polls the sensor, keeping the events of the pids of interest (background
// activity on the machine does not matter).
class Collector {
 public:
  explicit Collector(Sensor& sensor) : sensor_(sensor) {}

  void watch(uint32_t pid) { pids_.insert(pid); }

  // The first kept event matching `match`, polling up to timeout_ms; nullopt if none.
  std::optional<protocol::Event> wait_for(const EventMatch& match, int timeout_ms = 5000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      for (const protocol::Event& event : events_) {
        if (match(event)) return event;
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      drain(100);
    }
  }

  // One poll of up to timeout_ms, keeping the events of watched pids.
  void drain(int timeout_ms) {
    int rc = sensor_.poll(timeout_ms, [this](protocol::Event&& event) {
      if (pids_.count(event.pid) != 0) events_.push_back(std::move(event));
    });
    EXPECT_GE(rc, 0);
  }

  const std::vector<protocol::Event>& events() const { return events_; }

  // How many kept events match `match`.
  size_t count(const EventMatch& match) const {
    size_t n = 0;
    for (const protocol::Event& e : events_) n += match(e);
    return n;
  }

 private:
  Sensor& sensor_;
  std::set<uint32_t> pids_;
  std::vector<protocol::Event> events_;
};

// Matches the events of `kind` from `pid`.
inline auto kind_of(uint32_t pid, protocol::EventKind kind) {
  return [pid, kind](const protocol::Event& e) { return e.pid == pid && e.kind() == kind; };
}

// The loopback address of `family` (AF_INET or AF_INET6) with port 0 in
// `addr`; returns its length.
inline socklen_t loopback_address(int family, sockaddr_storage& addr) {
  addr = {};
  if (family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sizeof(*in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
  in6->sin6_family = AF_INET6;
  in6->sin6_addr = in6addr_loopback;
  return sizeof(*in6);
}

// The port of an AF_INET or AF_INET6 address, in host order.
inline uint16_t port_of(const sockaddr_storage& addr) {
  return ntohs(addr.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in*>(&addr)->sin_port
                                         : reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
}

// Mount point of the cgroup v2 hierarchy (/sys/fs/cgroup/unified in the
// hybrid layout, /sys/fs/cgroup on pure v2); empty if none.
inline std::string cgroup2_mount() {
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

// Moves the calling process into the cgroup whose cgroup.procs is given (for a
// forked child, before it execs); false on failure.
inline bool join_cgroup(const std::string& cgroup_procs) {
  int fd = ::open(cgroup_procs.c_str(), O_WRONLY);
  if (fd < 0 || ::write(fd, "0", 1) != 1) return false;
  ::close(fd);
  return true;
}

// A cgroup v2 made for one test (<mount>/<name>-<our pid>), removed at the
// end (it must be empty by then: reap its processes first); id() is what
// SensorOptions::only_cgroup_id takes and what events carry as cgroup_id (the
// directory's inode).
class TestCgroup {
 public:
  explicit TestCgroup(const std::string& name) {
    const std::string mount = cgroup2_mount();
    if (mount.empty()) return;
    path_ = mount + "/" + name + "-" + std::to_string(::getpid());
    struct stat st {};
    if ((::mkdir(path_.c_str(), 0755) == 0 || errno == EEXIST) && ::stat(path_.c_str(), &st) == 0) {
      id_ = st.st_ino;
    }
  }
  ~TestCgroup() {
    if (id_ != 0) ::rmdir(path_.c_str());
  }
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;

  const std::string& path() const { return path_; }
  std::string procs() const { return path_ + "/cgroup.procs"; }
  uint64_t id() const { return id_; }  // 0: could not be made

 private:
  std::string path_;
  uint64_t id_ = 0;
};

}  // namespace vigie::sensor::testing
