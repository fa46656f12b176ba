// Loads the real eBPF programs through the facade and makes real syscalls
// (needs root, as in CI). Events are filtered by the pids the test creates, so
// background activity on the machine does not matter.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "sensor_test_util.h"
#include "vigie/sensor/sensor.h"

namespace vigie::sensor {
namespace {

namespace fs = std::filesystem;
using protocol::Event;
using protocol::EventKind;
using testing::cgroup2_mount;
using testing::Collector;
using testing::join_cgroup;
using testing::kind_of;
using testing::loopback_address;
using testing::port_of;
using testing::TestCgroup;

std::unique_ptr<Sensor> open_sensor(SensorOptions options) {
  std::string error;
  auto sensor = Sensor::open(options, error);
  EXPECT_NE(sensor, nullptr) << error;
  return sensor;
}

// fork + execv(argv[0], argv), stdout/stderr to /dev/null; optionally first
// moves the child into the cgroup whose cgroup.procs is given.
pid_t spawn(const std::vector<std::string>& argv, const std::string& cgroup_procs = "") {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (!cgroup_procs.empty() && !join_cgroup(cgroup_procs)) ::_exit(126);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

int reap(pid_t pid) {
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return status;
}

uint64_t inode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

// Our own cgroup v2 path from the "0::" line of /proc/self/cgroup.
std::string own_cgroup2_path() {
  std::ifstream cgroup("/proc/self/cgroup");
  for (std::string line; std::getline(cgroup, line);) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return {};
}

TEST(SensorKernelTest, RejectsInvalidRingBufferSize) {
  SensorOptions options;
  options.ringbuf_bytes = 12345;
  std::string error;
  EXPECT_EQ(Sensor::open(options, error), nullptr);
  EXPECT_NE(error.find("power of two"), std::string::npos) << error;
}

// Without CAP_BPF the sensor says which capability is missing, not that the
// kernel lacks a ring buffer (libbpf's probe answers "unsupported" when it
// may not create the map). The child process drops its effective capabilities
// and sends Sensor::open's error back through a pipe.
TEST(SensorKernelTest, MissingCapabilityIsNamed) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &header, data) != 0) ::_exit(2);
    for (auto& word : data) word.effective = 0;
    if (::syscall(SYS_capset, &header, data) != 0) ::_exit(3);
    SensorOptions options;
    std::string error;
    const bool opened = Sensor::open(options, error) != nullptr;
    const ssize_t written = ::write(fds[1], error.data(), error.size());
    ::_exit(opened ? 4 : written == static_cast<ssize_t>(error.size()) ? 0 : 5);
  }
  ::close(fds[1]);
  std::string error;
  char buffer[512];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) error.append(buffer, n);
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  ASSERT_EQ(WEXITSTATUS(status), 0) << "2, 3: capget/capset failed; 4: the sensor opened";
  EXPECT_NE(error.find("CAP_BPF"), std::string::npos) << error;
  EXPECT_EQ(error.find("no BPF ring buffer"), std::string::npos) << error;
}

TEST(SensorKernelTest, ExecCarriesProcessParentAndCgroup) {
  const std::string mount = cgroup2_mount();
  ASSERT_FALSE(mount.empty()) << "no cgroup2 mount";
  TestCgroup cgroup("vigie-sensor-test");  // empty once the child is reaped
  ASSERT_NE(cgroup.id(), 0u) << "cannot make " << cgroup.path();
  const uint64_t cgroup_id = cgroup.id();

  auto sensor = open_sensor({});
  ASSERT_NE(sensor, nullptr);
  Collector collector(*sensor);
  const std::vector<std::string> argv = {"/bin/echo", "vigie-sensor-exec", "two words", ""};
  pid_t child = spawn(argv, cgroup.procs());
  collector.watch(child);
  EXPECT_EQ(reap(child), 0);

  auto exec = collector.wait_for(kind_of(child, EventKind::kProcessExec));
  ASSERT_TRUE(exec.has_value());
  EXPECT_EQ(exec->pid, static_cast<uint32_t>(child));
  EXPECT_EQ(exec->ppid, static_cast<uint32_t>(::getpid()));
  EXPECT_EQ(exec->uid, ::getuid());
  EXPECT_EQ(exec->gid, ::getgid());
  EXPECT_EQ(exec->user, "root");
  EXPECT_EQ(exec->cgroup_id, cgroup_id);
  const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_LT(std::llabs(static_cast<int64_t>(exec->time_ns) - now_ns), 10'000'000'000LL);
  const auto& body = std::get<protocol::ProcessExec>(exec->body);
  EXPECT_EQ(body.image, "/bin/echo");
  EXPECT_EQ(body.argv, argv);
  EXPECT_EQ(body.command_line, "/bin/echo vigie-sensor-exec two words ");
  EXPECT_FALSE(body.argv_truncated);
  EXPECT_EQ(body.parent_image, fs::read_symlink("/proc/self/exe").string());
  EXPECT_NE(body.parent_command_line.find("sensor_kernel_test"), std::string::npos)
      << body.parent_command_line;

  // The exit of the exec'd child carries the image from the process table.
  auto exit = collector.wait_for(kind_of(child, EventKind::kProcessExit));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(std::get<protocol::ProcessExit>(exit->body).image, "/bin/echo");
  EXPECT_EQ(exit->cgroup_id, cgroup_id);
  EXPECT_EQ(sensor->decode_errors(), 0u);
}

TEST(SensorKernelTest, CgroupIdIsTheUnifiedCgroupOfTheProcess) {
  const std::string mount = cgroup2_mount();
  ASSERT_FALSE(mount.empty());
  const uint64_t own_id = inode_of(mount + own_cgroup2_path());
  auto sensor = open_sensor({});
  ASSERT_NE(sensor, nullptr);
  Collector collector(*sensor);
  pid_t child = spawn({"/bin/true"});
  collector.watch(child);
  reap(child);
  auto exec = collector.wait_for(kind_of(child, EventKind::kProcessExec));
  ASSERT_TRUE(exec.has_value());
  EXPECT_EQ(exec->cgroup_id, own_id);
}

TEST(SensorKernelTest, BatchedWakeupsStillDeliverEveryRecordAtTheTimeout) {
  SensorOptions options;
  options.wakeup_bytes = 1u << 20;  // far more than the few records below
  auto sensor = open_sensor(options);
  ASSERT_NE(sensor, nullptr);
  Collector collector(*sensor);
  pid_t child = spawn({"/bin/echo", "batched-wakeup"});
  collector.watch(child);
  reap(child);
  // No epoll wake-up comes below the threshold: each poll drains at its timeout.
  auto exec = collector.wait_for(kind_of(child, EventKind::kProcessExec));
  ASSERT_TRUE(exec.has_value());
  EXPECT_EQ(exec->pid, static_cast<uint32_t>(child));
  EXPECT_TRUE(collector.wait_for(kind_of(child, EventKind::kProcessExit)).has_value());

  std::string error;
  options.wakeup_bytes = options.ringbuf_bytes;
  EXPECT_EQ(Sensor::open(options, error), nullptr);
  EXPECT_NE(error.find("wakeup_bytes"), std::string::npos) << error;
}

TEST(SensorKernelTest, LongArgvIsTruncated) {
  auto sensor = open_sensor({});
  ASSERT_NE(sensor, nullptr);
  Collector collector(*sensor);
  std::vector<std::string> argv = {"/bin/echo"};
  for (int i = 0; i < 30; ++i) argv.push_back(std::string(60, static_cast<char>('a' + i % 26)));
  pid_t child = spawn(argv);  // about 1.8 KiB of argv, beyond the 1 KiB bound
  collector.watch(child);
  reap(child);
  auto exec = collector.wait_for(kind_of(child, EventKind::kProcessExec));
  ASSERT_TRUE(exec.has_value());
  const auto& body = std::get<protocol::ProcessExec>(exec->body);
  EXPECT_TRUE(body.argv_truncated);
  ASSERT_GE(body.argv.size(), 2u);
  ASSERT_LT(body.argv.size(), argv.size());
  EXPECT_EQ(body.argv[0], "/bin/echo");
  EXPECT_EQ(body.argv[1], argv[1]);
  size_t bytes = 0;
  for (const auto& arg : body.argv) bytes += arg.size() + 1;
  EXPECT_LE(bytes, 1025u);

  std::vector<std::string> many = {"/bin/echo"};
  for (int i = 0; i < 40; ++i) many.push_back(std::to_string(i));
  child = spawn(many);  // short, but more than 32 arguments
  collector.watch(child);
  reap(child);
  exec = collector.wait_for(kind_of(child, EventKind::kProcessExec));
  ASSERT_TRUE(exec.has_value());
  const auto& many_body = std::get<protocol::ProcessExec>(exec->body);
  EXPECT_TRUE(many_body.argv_truncated);
  EXPECT_EQ(many_body.argv.size(), 32u);
}

TEST(SensorKernelTest, ExitCodeAndSignal) {
  auto sensor = open_sensor({});
  ASSERT_NE(sensor, nullptr);
  Collector collector(*sensor);

  pid_t exits = spawn({"/bin/sh", "-c", "exit 3"});
  collector.watch(exits);
  EXPECT_EQ(WEXITSTATUS(reap(exits)), 3);
  auto exit = collector.wait_for(kind_of(exits, EventKind::kProcessExit));
  ASSERT_TRUE(exit.has_value());
  auto body = std::get<protocol::ProcessExit>(exit->body);
  EXPECT_EQ(body.exit_code, 3);
  EXPECT_EQ(body.signal, 0);
  EXPECT_EQ(body.image, "/bin/sh");

  pid_t killed = spawn({"/bin/sleep", "60"});
  collector.watch(killed);
  ASSERT_TRUE(collector.wait_for(kind_of(killed, EventKind::kProcessExec)).has_value());
  ASSERT_EQ(::kill(killed, SIGKILL), 0);
  EXPECT_EQ(WTERMSIG(reap(killed)), SIGKILL);
  exit = collector.wait_for(kind_of(killed, EventKind::kProcessExit));
  ASSERT_TRUE(exit.has_value());
  body = std::get<protocol::ProcessExit>(exit->body);
  EXPECT_EQ(body.exit_code, 0);
  EXPECT_EQ(body.signal, SIGKILL);
  EXPECT_EQ(body.image, "/bin/sleep");
}

TEST(SensorKernelTest, ExitIsReportedOnceWhenTheLastThreadEnds) {
  auto sensor = open_sensor({});
  ASSERT_NE(sensor, nullptr);
  Collector collector(*sensor);
  pid_t child = ::fork();
  if (child == 0) {
    // The leader ends first (thread exit only); a worker then ends the process.
    pthread_t worker;
    auto end_process = [](void*) -> void* {
      ::usleep(100'000);
      ::_exit(9);
    };
    if (::pthread_create(&worker, nullptr, end_process, nullptr) != 0) ::_exit(126);
    ::syscall(SYS_exit, 0);
  }
  collector.watch(child);
  EXPECT_EQ(WEXITSTATUS(reap(child)), 9);
  auto exit = collector.wait_for(kind_of(child, EventKind::kProcessExit));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(std::get<protocol::ProcessExit>(exit->body).exit_code, 9);
  collector.drain(200);
  const size_t exits =
      collector.count([](const Event& e) { return e.kind() == EventKind::kProcessExit; });
  EXPECT_EQ(exits, 1u);
}

// Connects from this process: the sensor runs with exclude_self off.
class SensorConnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SensorOptions options;
    options.exclude_self = false;
    sensor_ = open_sensor(options);
    ASSERT_NE(sensor_, nullptr);
    collector_ = std::make_unique<Collector>(*sensor_);
    collector_->watch(static_cast<uint32_t>(::getpid()));
  }

  // A socket of `type` bound to the loopback of `family` on an ephemeral port
  // (listening when TCP); returns the port.
  uint16_t bind_loopback(int family, int type, int& fd) {
    fd = ::socket(family, type, 0);
    EXPECT_GE(fd, 0);
    sockaddr_storage addr;
    socklen_t len = loopback_address(family, addr);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
    if (type == SOCK_STREAM) {
      EXPECT_EQ(::listen(fd, 4), 0);
    }
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    return port_of(addr);
  }

  // connect() to the loopback server of (family, type) and return the event.
  std::optional<Event> connect_and_observe(int family, int type) {
    int server = -1;
    const uint16_t port = bind_loopback(family, type, server);
    int client = ::socket(family, type, 0);
    EXPECT_GE(client, 0);
    int rc;
    if (family == AF_INET) {
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(port);
      to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      rc = ::connect(client, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    } else {
      sockaddr_in6 to{};
      to.sin6_family = AF_INET6;
      to.sin6_port = htons(port);
      to.sin6_addr = in6addr_loopback;
      rc = ::connect(client, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    }
    EXPECT_EQ(rc, 0) << std::strerror(errno);
    ::close(client);
    ::close(server);
    return collector_->wait_for([port](const Event& e) {
      return e.pid == static_cast<uint32_t>(::getpid()) && e.kind() == EventKind::kNetworkConnect &&
             std::get<protocol::NetworkConnect>(e.body).destination_port == port;
    });
  }

  void expect_connect(int family, int type, protocol::Transport transport, const char* ip) {
    auto event = connect_and_observe(family, type);
    ASSERT_TRUE(event.has_value());
    const auto& body = std::get<protocol::NetworkConnect>(event->body);
    EXPECT_EQ(body.transport, transport);
    EXPECT_EQ(body.ipv6, family == AF_INET6);
    EXPECT_EQ(body.destination_ip, ip);
    EXPECT_EQ(body.image, fs::read_symlink("/proc/self/exe").string());
    EXPECT_EQ(event->uid, ::getuid());
    EXPECT_EQ(event->ppid, static_cast<uint32_t>(::getppid()));
  }

  std::unique_ptr<Sensor> sensor_;
  std::unique_ptr<Collector> collector_;
};

TEST_F(SensorConnectTest, TcpIpv4) {
  expect_connect(AF_INET, SOCK_STREAM, protocol::Transport::kTcp, "127.0.0.1");
}
TEST_F(SensorConnectTest, TcpIpv6) {
  expect_connect(AF_INET6, SOCK_STREAM, protocol::Transport::kTcp, "::1");
}
TEST_F(SensorConnectTest, UdpIpv4) {
  expect_connect(AF_INET, SOCK_DGRAM, protocol::Transport::kUdp, "127.0.0.1");
}
TEST_F(SensorConnectTest, UdpIpv6) {
  expect_connect(AF_INET6, SOCK_DGRAM, protocol::Transport::kUdp, "::1");
}

TEST_F(SensorConnectTest, UnixSocketsAreNotReported) {
  int server = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path =
      fs::temp_directory_path() / ("vigie-sensor-" + std::to_string(::getpid()));
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  ::unlink(path.c_str());
  ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(server, 1), 0);
  int client = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(client);
  ::close(server);
  ::unlink(path.c_str());
  // A TCP connect after it marks the point by which the unix one would show.
  ASSERT_TRUE(connect_and_observe(AF_INET, SOCK_STREAM).has_value());
  const size_t connects =
      collector_->count([](const Event& e) { return e.kind() == EventKind::kNetworkConnect; });
  EXPECT_EQ(connects, 1u);
}

TEST(SensorKernelTest, ExcludesOwnProcess) {
  auto sensor = open_sensor({});  // exclude_self on by default
  ASSERT_NE(sensor, nullptr);
  Collector collector(*sensor);
  collector.watch(static_cast<uint32_t>(::getpid()));
  int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(udp, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
  ::close(udp);
  // A child's exec marks the point by which our own connect would show.
  pid_t child = spawn({"/bin/true"});
  collector.watch(child);
  reap(child);
  ASSERT_TRUE(collector.wait_for(kind_of(child, EventKind::kProcessExec)).has_value());
  for (const Event& e : collector.events()) EXPECT_NE(e.pid, static_cast<uint32_t>(::getpid()));
}

TEST(SensorKernelTest, CountsRingBufferDrops) {
  SensorOptions options;
  options.ringbuf_bytes = static_cast<uint32_t>(::sysconf(_SC_PAGESIZE));  // the minimum
  options.kinds = {};
  options.enable(EventKind::kProcessExec, true);
  auto sensor = open_sensor(options);
  ASSERT_NE(sensor, nullptr);
  Collector collector(*sensor);
  const uint64_t drops_before = sensor->ringbuf_drops(EventKind::kProcessExec);

  // Without polling, far more execs than one page holds (~96 bytes each).
  constexpr int kExecs = 200;
  for (int i = 0; i < kExecs; ++i) {
    pid_t child = spawn({"/bin/true"});
    collector.watch(child);
    reap(child);
  }
  collector.drain(0);
  const size_t received =
      collector.count([](const Event& e) { return e.kind() == EventKind::kProcessExec; });
  const uint64_t drops = sensor->ringbuf_drops(EventKind::kProcessExec) - drops_before;

  EXPECT_GT(drops, 0u);
  EXPECT_LT(received, static_cast<size_t>(kExecs));
  // Every one of our execs was either delivered or counted as dropped (other
  // processes' execs may be dropped too, hence >=).
  EXPECT_GE(received + drops, static_cast<uint64_t>(kExecs));
  EXPECT_EQ(sensor->ringbuf_drops(EventKind::kProcessExit), 0u);
  EXPECT_EQ(sensor->ringbuf_drops(EventKind::kNetworkConnect), 0u);
  EXPECT_EQ(sensor->ringbuf_drops_total(), drops + drops_before);
  EXPECT_EQ(sensor->decode_errors(), 0u);
}

}  // namespace
}  // namespace vigie::sensor
