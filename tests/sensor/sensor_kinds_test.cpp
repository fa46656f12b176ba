// Every event kind of DESIGN.md through the real eBPF programs (root): each
// test makes the real syscall and asserts on every decoded field, after
// Falco's driver tests. Events are filtered by the pids the test creates.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sensor_test_util.h"
#include "vigie/sensor/sensor.h"

namespace vigie::sensor {
namespace {

namespace fs = std::filesystem;
using protocol::Event;
using protocol::EventKind;
using testing::Collector;
using testing::kind_of;
using testing::loopback_address;
using testing::port_of;

uint64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string self_exe() { return fs::read_symlink("/proc/self/exe").string(); }

// The audit login uid of this process (children inherit it), as the kernel shows it.
uint32_t self_login_uid() {
  std::ifstream in("/proc/self/loginuid");
  uint32_t uid = 0;
  EXPECT_TRUE(in >> uid) << "cannot read /proc/self/loginuid";
  return uid;
}

// Sets the calling process's login uid as pam_loginuid does (needs CAP_AUDIT_CONTROL).
bool set_login_uid(uint32_t uid) {
  std::ofstream out("/proc/self/loginuid");
  out << uid;
  out.flush();
  return out.good();
}

class KindsTest : public ::testing::Test {
 protected:
  void open(SensorOptions options = {}) {
    options.exclude_self = false;  // several tests act from this process
    std::string error;
    sensor_ = Sensor::open(options, error);
    ASSERT_NE(sensor_, nullptr) << error;
    collector_ = std::make_unique<Collector>(*sensor_);
    watch(::getpid());
  }

  void watch(pid_t pid) { collector_->watch(static_cast<uint32_t>(pid)); }

  // Runs `body` in a forked child (watched), waits for it and returns its status.
  int in_child(const std::function<int()>& body, pid_t* pid_out = nullptr) {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(body());
    watch(pid);
    if (pid_out) *pid_out = pid;
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    return status;
  }

  void expect_common(const Event& e, uint32_t pid, uint32_t login_uid = self_login_uid()) {
    EXPECT_EQ(e.pid, pid);
    EXPECT_EQ(e.uid, ::getuid());
    EXPECT_EQ(e.login_uid, login_uid);
    EXPECT_EQ(e.user, "root");
    EXPECT_GT(e.cgroup_id, 0u);
    EXPECT_LT(std::llabs(static_cast<int64_t>(e.time_ns - now_ns())), 10'000'000'000LL);
    EXPECT_GT(e.process_start_ns, 0u);
    EXPECT_LE(e.process_start_ns, e.time_ns);
  }

  std::unique_ptr<Sensor> sensor_;
  std::unique_ptr<Collector> collector_;
};

TEST_F(KindsTest, ExecCarriesCwdAncestrySha256AndStart) {
  SensorOptions options;
  options.hash_images = true;
  open(options);
  const fs::path dir = fs::canonical(fs::temp_directory_path()) /
                       ("vigie-cwd-" + std::to_string(::getpid())) / "deeper dir";
  fs::create_directories(dir);
  pid_t child = 0;
  // A login uid other than this process's: the exec must carry the child's own.
  const uint32_t login_uid = self_login_uid() == 4321 ? 4322 : 4321;
  const int status = in_child(
      [&] {
        if (!set_login_uid(login_uid)) return 125;
        if (::chdir(dir.c_str()) != 0) return 126;
        ::execl("/bin/true", "/bin/true", "x", nullptr);
        return 127;
      },
      &child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  auto exec = collector_->wait_for(kind_of(child, EventKind::kProcessExec));
  ASSERT_TRUE(exec.has_value());
  expect_common(*exec, child, login_uid);
  EXPECT_EQ(exec->ppid, static_cast<uint32_t>(::getpid()));
  const auto& body = std::get<protocol::ProcessExec>(exec->body);
  EXPECT_EQ(body.image, "/bin/true");
  EXPECT_EQ(body.argv, (std::vector<std::string>{"/bin/true", "x"}));
  EXPECT_EQ(body.cwd, dir.string());
  EXPECT_EQ(body.exec_errno, 0);
  ASSERT_GE(body.ancestry.size(), 2u);
  EXPECT_EQ(body.ancestry[0].pid, static_cast<uint32_t>(::getpid()));
  EXPECT_EQ(body.ancestry[0].image, self_exe());
  EXPECT_LE(body.ancestry[0].start_ns, exec->process_start_ns + 20'000'000);
  EXPECT_EQ(body.ancestry[1].pid, static_cast<uint32_t>(::getppid()));
  EXPECT_EQ(body.parent_image, self_exe());
  // The forked child started after this process.
  EXPECT_GE(exec->process_start_ns + 20'000'000, body.ancestry[0].start_ns);
  // sha256 as coreutils computes it.
  FILE* pipe = ::popen("sha256sum /bin/true", "r");
  ASSERT_NE(pipe, nullptr);
  char hex[65] = {};
  ASSERT_EQ(std::fread(hex, 1, 64, pipe), 64u);
  ::pclose(pipe);
  EXPECT_EQ(body.sha256, std::string(hex));
  fs::remove_all(dir.parent_path());
}

TEST_F(KindsTest, FailedExecIsReportedWithItsErrno) {
  open();
  pid_t child = 0;
  in_child(
      [] {
        ::execl("/nonexistent/vigie-tool", "vigie-tool", "--flag", nullptr);
        return errno == ENOENT ? 3 : 4;
      },
      &child);
  auto exec = collector_->wait_for([child](const Event& e) {
    return e.pid == static_cast<uint32_t>(child) && e.kind() == EventKind::kProcessExec;
  });
  ASSERT_TRUE(exec.has_value());
  expect_common(*exec, child);
  const auto& body = std::get<protocol::ProcessExec>(exec->body);
  EXPECT_EQ(body.exec_errno, ENOENT);
  EXPECT_EQ(body.image, "/nonexistent/vigie-tool");
  EXPECT_EQ(body.argv, (std::vector<std::string>{"vigie-tool", "--flag"}));
  EXPECT_EQ(body.command_line, "vigie-tool --flag");
  EXPECT_EQ(body.parent_image, self_exe());
}

TEST_F(KindsTest, ExitCarriesCpuTime) {
  open();
  pid_t child = ::fork();
  if (child == 0) {
    volatile uint64_t x = 0;  // burn CPU in user space until 200 ms of it are used
    rusage usage{};
    do {
      for (int i = 0; i < 1'000'000; ++i) x = x + i;
      ::getrusage(RUSAGE_SELF, &usage);
    } while (usage.ru_utime.tv_sec * 1'000'000 + usage.ru_utime.tv_usec < 200'000);
    ::_exit(5);
  }
  watch(child);
  int status = 0;
  rusage usage{};
  ASSERT_EQ(::wait4(child, &status, 0, &usage), child);
  auto exit = collector_->wait_for(kind_of(child, EventKind::kProcessExit));
  ASSERT_TRUE(exit.has_value());
  expect_common(*exit, child);
  const auto& body = std::get<protocol::ProcessExit>(exit->body);
  EXPECT_EQ(body.exit_code, 5);
  EXPECT_EQ(body.signal, 0);
  EXPECT_EQ(body.image, self_exe());  // forked, never exec'd: the parent's image
  // Accounting agrees with wait4(2) (which rescales to the precise runtime):
  // the same order of magnitude, not a timing figure.
  const uint64_t rusage_ns = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1'000'000'000ull +
                             (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000ull;
  const uint64_t event_ns = body.cpu_user_ns + body.cpu_system_ns;
  EXPECT_GE(rusage_ns, 200'000'000u);
  EXPECT_GT(event_ns, rusage_ns / 2);
  EXPECT_LT(event_ns, rusage_ns * 2);
  EXPECT_GT(body.cpu_user_ns, body.cpu_system_ns);
}

TEST_F(KindsTest, ForkReportsNewProcessesNotThreads) {
  open();
  const uint64_t before = now_ns();
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  pid_t tid = 0;
  std::thread([&] { tid = static_cast<pid_t>(::syscall(SYS_gettid)); }).join();
  auto fork = collector_->wait_for([child](const Event& e) {
    return e.kind() == EventKind::kProcessFork &&
           std::get<protocol::ProcessFork>(e.body).child_pid == static_cast<uint32_t>(child);
  });
  ASSERT_TRUE(fork.has_value());
  expect_common(*fork, ::getpid());
  EXPECT_EQ(fork->ppid, static_cast<uint32_t>(::getppid()));
  const auto& body = std::get<protocol::ProcessFork>(fork->body);
  EXPECT_EQ(body.image, self_exe());
  EXPECT_GE(body.child_start_ns + 20'000'000, before);
  EXPECT_LE(body.child_start_ns, fork->time_ns);
  collector_->drain(200);
  EXPECT_EQ(collector_->count([tid](const Event& e) {
    return e.kind() == EventKind::kProcessFork &&
           std::get<protocol::ProcessFork>(e.body).child_pid == static_cast<uint32_t>(tid);
  }),
            0u);
}

// listen + connect + accept on the loopback of `family`.
void listen_connect_accept(int family, uint16_t& server_port, uint16_t& client_port) {
  sockaddr_storage addr;
  socklen_t len = loopback_address(family, addr);
  int server = ::socket(family, SOCK_STREAM, 0);
  ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_EQ(::listen(server, 4), 0);
  int client = ::socket(family, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), len), 0);
  int accepted = ::accept4(server, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(accepted, 0);
  sockaddr_storage local{};
  socklen_t local_len = sizeof(local);
  ASSERT_EQ(::getsockname(client, reinterpret_cast<sockaddr*>(&local), &local_len), 0);
  server_port = port_of(addr);
  client_port = port_of(local);
  ::close(accepted);
  ::close(client);
  ::close(server);
}

TEST_F(KindsTest, ListenAndAcceptIpv4AndIpv6) {
  open();
  for (auto [family, ip] : {std::pair{AF_INET, "127.0.0.1"}, std::pair{AF_INET6, "::1"}}) {
    uint16_t server_port = 0, client_port = 0;
    listen_connect_accept(family, server_port, client_port);
    auto listen = collector_->wait_for([port = server_port](const Event& e) {
      return e.kind() == EventKind::kNetworkListen &&
             std::get<protocol::NetworkListen>(e.body).source_port == port;
    });
    ASSERT_TRUE(listen.has_value()) << ip;
    expect_common(*listen, ::getpid());
    const auto& l = std::get<protocol::NetworkListen>(listen->body);
    EXPECT_EQ(l.transport, protocol::Transport::kTcp);
    EXPECT_EQ(l.ipv6, family == AF_INET6);
    EXPECT_EQ(l.source_ip, ip);
    EXPECT_EQ(l.destination_ip, "");
    EXPECT_EQ(l.destination_port, 0);
    EXPECT_EQ(l.image, self_exe());

    auto accept = collector_->wait_for([port = server_port](const Event& e) {
      return e.kind() == EventKind::kNetworkAccept &&
             std::get<protocol::NetworkAccept>(e.body).destination_port == port;
    });
    ASSERT_TRUE(accept.has_value()) << ip;
    expect_common(*accept, ::getpid());
    const auto& a = std::get<protocol::NetworkAccept>(accept->body);
    EXPECT_EQ(a.transport, protocol::Transport::kTcp);
    EXPECT_EQ(a.ipv6, family == AF_INET6);
    EXPECT_EQ(a.destination_ip, ip);
    EXPECT_EQ(a.source_ip, ip);
    EXPECT_EQ(a.source_port, client_port);
    EXPECT_EQ(a.image, self_exe());

    // The connect that made it: destination the server, no source (unbound).
    auto connect = collector_->wait_for([port = server_port](const Event& e) {
      return e.kind() == EventKind::kNetworkConnect &&
             std::get<protocol::NetworkConnect>(e.body).destination_port == port;
    });
    ASSERT_TRUE(connect.has_value()) << ip;
    const auto& c = std::get<protocol::NetworkConnect>(connect->body);
    EXPECT_EQ(c.destination_ip, ip);
    EXPECT_EQ(c.source_ip, "");
    EXPECT_EQ(c.source_port, 0);
  }
}

TEST_F(KindsTest, FileOpenOfWatchedPathsOnly) {
  const fs::path dir =
      fs::canonical(fs::temp_directory_path()) / ("vigie-open-" + std::to_string(::getpid()));
  fs::create_directories(dir / "home" / ".ssh");
  std::ofstream(dir / "secret") << "s";
  std::ofstream(dir / "passwd") << "p";
  std::ofstream(dir / "home" / ".ssh" / "authorized_keys") << "k";
  std::ofstream(dir / "other") << "o";
  SensorOptions options;
  options.watched_paths = {(dir / "secret").string(), "w:" + (dir / "passwd").string(),
                           "*/.ssh/authorized_keys"};
  open(options);
  auto opened = [&](const std::string& path) {
    return collector_->wait_for(
        [path](const Event& e) {
          return e.kind() == EventKind::kFileOpen &&
                 std::get<protocol::FileOpen>(e.body).path == path;
        },
        1000);
  };

  int fd = ::open((dir / "secret").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto secret = opened((dir / "secret").string());
  ASSERT_TRUE(secret.has_value());
  expect_common(*secret, ::getpid());
  const auto& s = std::get<protocol::FileOpen>(secret->body);
  EXPECT_EQ(s.flags, static_cast<uint32_t>(O_RDONLY | O_CLOEXEC));
  EXPECT_FALSE(s.write);
  EXPECT_FALSE(s.create);
  EXPECT_FALSE(s.truncate);
  EXPECT_EQ(s.result, 0);
  EXPECT_EQ(s.image, self_exe());

  // w: only for writes.
  fd = ::open((dir / "passwd").c_str(), O_RDONLY);
  ::close(fd);
  fd = ::open((dir / "passwd").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ::close(fd);
  auto passwd = opened((dir / "passwd").string());
  ASSERT_TRUE(passwd.has_value());
  const auto& p = std::get<protocol::FileOpen>(passwd->body);
  EXPECT_TRUE(p.write);
  EXPECT_TRUE(p.create);
  EXPECT_TRUE(p.truncate);

  // A relative path matching a suffix, made absolute from /proc/PID/cwd of
  // the process (still in that directory when the event is read).
  pid_t relative = ::fork();
  if (relative == 0) {
    if (::chdir((dir / "home").c_str()) != 0) ::_exit(126);
    ::close(::open(".ssh/authorized_keys", O_RDONLY));
    ::pause();
    ::_exit(0);
  }
  watch(relative);
  auto keys = opened((dir / "home" / ".ssh" / "authorized_keys").string());
  ::kill(relative, SIGKILL);
  ::waitpid(relative, nullptr, 0);
  ASSERT_TRUE(keys.has_value());
  EXPECT_EQ(keys->pid, static_cast<uint32_t>(relative));

  // A failed open of a watched path carries its errno; openat2 is watched too.
  fd = static_cast<int>(
      ::syscall(SYS_openat, AT_FDCWD, (dir / "secret").c_str(), O_RDONLY | O_DIRECTORY));
  EXPECT_EQ(fd, -1);
  auto failed = collector_->wait_for(
      [](const Event& e) {
        return e.kind() == EventKind::kFileOpen && std::get<protocol::FileOpen>(e.body).result != 0;
      },
      1000);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(std::get<protocol::FileOpen>(failed->body).result, -ENOTDIR);

  fd = ::open((dir / "other").c_str(), O_RDONLY);
  ::close(fd);
  collector_->drain(200);
  EXPECT_EQ(collector_->count([](const Event& e) { return e.kind() == EventKind::kFileOpen; }), 4u);
  EXPECT_EQ(sensor_->pending_full(), 0u);
  fs::remove_all(dir);
}

TEST_F(KindsTest, PrivilegeChangesAndRefusedAttempts) {
  open();
  pid_t child = 0;
  int status = in_child(
      [] {
        if (::setresgid(1234, 1234, 1234) != 0) return 10;
        if (::setresuid(1234, 1234, 1234) != 0) return 11;
        if (::setuid(0) == 0 || errno != EPERM) return 12;
        return 0;
      },
      &child);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto by_syscall = [&](const char* name) {
    return collector_->wait_for([child, name](const Event& e) {
      return e.pid == static_cast<uint32_t>(child) && e.kind() == EventKind::kPrivilegeChange &&
             std::get<protocol::PrivilegeChange>(e.body).syscall == name;
    });
  };
  auto gid = by_syscall("setresgid");
  ASSERT_TRUE(gid.has_value());
  const auto& g = std::get<protocol::PrivilegeChange>(gid->body);
  EXPECT_EQ(g.old_gid, 0u);
  EXPECT_EQ(g.old_egid, 0u);
  EXPECT_EQ(g.new_gid, 1234u);
  EXPECT_EQ(g.new_egid, 1234u);
  EXPECT_EQ(g.old_uid, 0u);
  EXPECT_EQ(g.new_uid, 0u);
  EXPECT_EQ(g.result, 0);
  EXPECT_EQ(g.image, self_exe());

  auto uid = by_syscall("setresuid");
  ASSERT_TRUE(uid.has_value());
  const auto& u = std::get<protocol::PrivilegeChange>(uid->body);
  EXPECT_EQ(u.old_uid, 0u);
  EXPECT_EQ(u.old_euid, 0u);
  EXPECT_EQ(u.new_uid, 1234u);
  EXPECT_EQ(u.new_euid, 1234u);
  EXPECT_NE(u.old_cap_effective, 0u);  // root's capabilities ...
  EXPECT_EQ(u.new_cap_effective, 0u);  // ... cleared by leaving uid 0
  EXPECT_EQ(u.new_cap_permitted, 0u);
  EXPECT_EQ(u.result, 0);

  auto refused = by_syscall("setuid");
  ASSERT_TRUE(refused.has_value());
  const auto& r = std::get<protocol::PrivilegeChange>(refused->body);
  EXPECT_EQ(refused->uid, 1234u);
  EXPECT_EQ(r.result, -EPERM);
  EXPECT_EQ(r.old_uid, 1234u);
  EXPECT_EQ(r.new_uid, 1234u);
}

TEST_F(KindsTest, PtraceAttach) {
  open();
  pid_t target = ::fork();
  if (target == 0) {
    ::execl("/bin/sleep", "/bin/sleep", "30", nullptr);
    ::_exit(127);
  }
  watch(target);
  ASSERT_TRUE(collector_->wait_for(kind_of(target, EventKind::kProcessExec)).has_value());
  ASSERT_EQ(::ptrace(PTRACE_ATTACH, target, nullptr, nullptr), 0) << std::strerror(errno);
  ::waitpid(target, nullptr, 0);
  ::ptrace(PTRACE_DETACH, target, nullptr, nullptr);
  auto event = collector_->wait_for(kind_of(::getpid(), EventKind::kPtrace));
  ::kill(target, SIGKILL);
  ::waitpid(target, nullptr, 0);
  ASSERT_TRUE(event.has_value());
  expect_common(*event, ::getpid());
  const auto& body = std::get<protocol::Ptrace>(event->body);
  EXPECT_EQ(body.request, PTRACE_ATTACH);
  EXPECT_EQ(body.target_pid, static_cast<uint32_t>(target));
  EXPECT_EQ(body.target_uid, 0u);
  EXPECT_EQ(body.target_image, "/bin/sleep");
  EXPECT_EQ(body.image, self_exe());
  EXPECT_EQ(body.result, 0);
  // PTRACE_DETACH is no attach-like request.
  EXPECT_EQ(collector_->count(kind_of(::getpid(), EventKind::kPtrace)), 1u);
}

TEST_F(KindsTest, FilelessExecOfAMemfd) {
  open();
  pid_t child = 0;
  in_child(
      [] {
        int memfd = static_cast<int>(::syscall(SYS_memfd_create, "vigie-payload", 0));
        int bin = ::open("/bin/true", O_RDONLY);
        if (memfd < 0 || bin < 0) return 126;
        char buf[65536];
        for (ssize_t n; (n = ::read(bin, buf, sizeof(buf))) > 0;) {
          if (::write(memfd, buf, n) != n) return 126;
        }
        char* const argv[] = {const_cast<char*>("payload"), nullptr};
        char* const envp[] = {nullptr};
        ::fexecve(memfd, argv, envp);
        return 127;
      },
      &child);
  auto fileless = collector_->wait_for(kind_of(child, EventKind::kFilelessExec));
  ASSERT_TRUE(fileless.has_value());
  expect_common(*fileless, child);
  const auto& body = std::get<protocol::FilelessExec>(fileless->body);
  EXPECT_TRUE(body.memfd);
  EXPECT_EQ(body.image, "/memfd:vigie-payload (deleted)");
  EXPECT_EQ(body.argv, std::vector<std::string>{"payload"});
  EXPECT_EQ(body.command_line, "payload");
  // ... besides the process_exec of the same image.
  auto exec = collector_->wait_for(kind_of(child, EventKind::kProcessExec));
  ASSERT_TRUE(exec.has_value());
  EXPECT_EQ(std::get<protocol::ProcessExec>(exec->body).argv, body.argv);
  // An ordinary exec is not fileless.
  pid_t plain = 0;
  in_child([] { return ::execl("/bin/true", "/bin/true", nullptr); }, &plain);
  ASSERT_TRUE(collector_->wait_for(kind_of(plain, EventKind::kProcessExec)).has_value());
  EXPECT_EQ(collector_->count(kind_of(plain, EventKind::kFilelessExec)), 0u);
}

TEST_F(KindsTest, AKindTheKernelRefusesLeavesTheOthersRunning) {
  SensorOptions options;
  options.break_kinds = {EventKind::kFileOpen};
  options.enable(EventKind::kPtrace, false);
  options.watched_paths = {"/etc/hostname"};
  open(options);
  const std::vector<std::string> kinds_off = sensor_->kinds_off();
  std::set<std::string> off(kinds_off.begin(), kinds_off.end());
  EXPECT_EQ(off, (std::set<std::string>{"file_open", "ptrace"}));
  for (const auto& status : sensor_->kinds()) {
    if (status.kind == EventKind::kFileOpen) {
      EXPECT_FALSE(status.up);
      EXPECT_NE(status.reason.find("refused"), std::string::npos) << status.reason;
    } else if (status.kind == EventKind::kPtrace) {
      EXPECT_EQ(status.reason, "disabled by configuration");
    } else {
      EXPECT_TRUE(status.up) << protocol::to_string(status.kind) << ": " << status.reason;
    }
  }
  int fd = ::open("/etc/hostname", O_RDONLY);
  ::close(fd);
  pid_t child = 0;
  in_child([] { return ::execl("/bin/true", "/bin/true", nullptr); }, &child);
  ASSERT_TRUE(collector_->wait_for(kind_of(child, EventKind::kProcessExec)).has_value());
  ASSERT_TRUE(collector_->wait_for(kind_of(child, EventKind::kProcessExit)).has_value());
  EXPECT_EQ(collector_->count([](const Event& e) { return e.kind() == EventKind::kFileOpen; }), 0u);
}

TEST(SensorOptionsTest, RejectsBadWatchedPaths) {
  std::string error;
  SensorOptions options;
  options.watched_paths = {"etc/shadow"};
  EXPECT_EQ(Sensor::open(options, error), nullptr);
  EXPECT_NE(error.find("absolute"), std::string::npos) << error;
  options.watched_paths = {"/" + std::string(70, 'a')};
  EXPECT_EQ(Sensor::open(options, error), nullptr);
  EXPECT_NE(error.find("bytes"), std::string::npos) << error;
}

}  // namespace
}  // namespace vigie::sensor
