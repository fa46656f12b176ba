// Vigie end to end on one node: the agent captures real exec and connect
// events with eBPF, attributes them to a Slurm-like job, the starter rules
// raise alerts at the edge, and the collector serves them through its API.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/processes.h"
#include "support/slurm_job.h"
#include "vigie/protocol/http_client.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using vigie::integration::eventually;
using vigie::integration::free_port;
using vigie::integration::read_file;
using vigie::integration::spawn;
using vigie::integration::stop;
using vigie::integration::SlurmJobCgroups;
using vigie::integration::write_file;

constexpr uint32_t kNobody = 65534;
constexpr uint16_t kMiningPoolPort = 3333;

// A child process connects to 127.0.0.1:`port` over TCP and exits; returns its
// pid. Nothing needs to listen: the connect attempt itself is the event.
pid_t connect_from_child(uint16_t port) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::_exit(0);
  }
  ::waitpid(pid, nullptr, 0);
  return pid;
}

class EndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the end-to-end test loads eBPF programs: run it as root";
    char tmpl[] = "/tmp/vigie-e2e.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::chmod(dir_.c_str(), 0755);  // the job's user must be able to exec from here
    port_ = free_port();
    collector_ = {"127.0.0.1", std::to_string(port_)};

    std::mt19937_64 rng(std::random_device{}());
    const std::string token = std::to_string(rng()) + std::to_string(rng());
    write_file(dir_ / "agent.token", token);  // hashed as is by sha256_hex
    const std::string token_sha256 = sha256_hex(dir_ / "agent.token");
    write_file(dir_ / "collector.yaml",
               "listen:\n  address: 127.0.0.1\n  port: " + std::to_string(port_) +
                   "\ndatabase: " + (dir_ / "collector.db").string() +
                   "\napi:\n  anonymous_role: admin  # loopback, as the quick start" +
                   "\nagent_tokens:\n  - sha256: " + token_sha256 + "\n    host: " + kHost + "\n");
    write_file(dir_ / "agent.yaml",
               std::string("site: e2e-site\nhost: ") + kHost +
                   "\ncollector:\n  url: http://127.0.0.1:" + std::to_string(port_) +
                   "\n  token_file: agent.token\n  flush_interval_ms: 200\n" +
                   "metrics:\n  listen: 127.0.0.1:" + std::to_string(free_port()) +
                   "\nstate_dir: " + dir_.string() + "\nrules:\n  path: " + VIGIE_SOURCE_DIR +
                   "/rules/packs/starter\n");

    collector_pid_ = spawn({std::string(VIGIE_BINARY_DIR) + "/collector/vigie-collector",
                            "--config", (dir_ / "collector.yaml").string()},
                           dir_ / "collector.log");
    ASSERT_TRUE(eventually([&] { return get("/api/v1/alerts?limit=1").ok(); }, 10s))
        << read_file(dir_ / "collector.log");
    agent_pid_ = spawn({std::string(VIGIE_BINARY_DIR) + "/agents/vigie-agent", "--config",
                        (dir_ / "agent.yaml").string()},
                       dir_ / "agent.log");
    // The sensor is live once an exec we make shows up through the collector.
    const std::string marker = "vigie-e2e-ready-" + std::to_string(rng() % 1000000);
    ASSERT_TRUE(eventually(
        [&] {
          run_and_wait({"/bin/echo", marker});
          return find_event("process_exec", [&](const json& e) {
                   return e.value("command_line", "") == "/bin/echo " + marker;
                 }) != nullptr;
        },
        30s))
        << "agent log:\n"
        << read_file(dir_ / "agent.log") << "\ncollector log:\n"
        << read_file(dir_ / "collector.log");
  }

  void TearDown() override {
    stop(agent_pid_);
    stop(collector_pid_);
    if (HasFailure()) {
      std::cerr << "---- agent log\n"
                << read_file(dir_ / "agent.log") << "---- collector log\n"
                << read_file(dir_ / "collector.log");
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string sha256_hex(const fs::path& file) {
    // sha256sum prints "<hex>  <file>".
    const std::string cmd = "sha256sum " + file.string();
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[65] = {};
    const std::size_t n = std::fread(buf, 1, 64, p);
    ::pclose(p);
    return std::string(buf, n);
  }

  vigie::protocol::HttpResponse get(const std::string& target) {
    return vigie::protocol::send(collector_, {"GET", target, {}, ""}, 5s);
  }

  json get_json(const std::string& target) {
    const auto r = get(target);
    if (!r.ok()) return json::object();
    return json::parse(r.body, nullptr, false);
  }

  template <typename Pred>
  std::unique_ptr<json> find_event(const std::string& kind, Pred pred) {
    const json events = get_json("/api/v1/events?kind=" + kind + "&limit=1000");
    for (const auto& e : events.value("events", json::array())) {
      if (pred(e)) return std::make_unique<json>(e);
    }
    return nullptr;
  }

  // The alert raised for `pid` by the rule whose title contains `rule`
  // (any rule when empty).
  std::unique_ptr<json> find_alert(uint32_t pid, const std::string& rule = "") {
    const json alerts = get_json("/api/v1/alerts?limit=1000");
    for (const auto& a : alerts.value("alerts", json::array())) {
      if (a.value("pid", 0u) == pid && a.value("rule_title", "").find(rule) != std::string::npos) {
        return std::make_unique<json>(a);
      }
    }
    return nullptr;
  }

  static pid_t run_and_wait(const std::vector<std::string>& argv) {
    const pid_t pid = spawn(argv, "/dev/null");
    ::waitpid(pid, nullptr, 0);
    return pid;
  }

  static constexpr const char* kHost = "e2e-node001";
  fs::path dir_;
  uint16_t port_ = 0;
  vigie::protocol::Endpoint collector_;
  pid_t collector_pid_ = -1;
  pid_t agent_pid_ = -1;
};

TEST_F(EndToEnd, MinerInSlurmJobRaisesAlertWithFullContext) {
  const uint32_t job_id = 900000 + static_cast<uint32_t>(::getpid() % 99999);
  SlurmJobCgroups job(kNobody, job_id);
  ASSERT_FALSE(job.empty()) << "no cgroup hierarchy found to create a Slurm-like job in";

  // A process whose image is named like a miner, run by the job's user.
  const fs::path miner = dir_ / "xmrig";
  fs::copy_file("/bin/sleep", miner);
  ::chmod(miner.c_str(), 0755);
  const pid_t pid = ::fork();
  if (pid == 0) {
    job.enter();
    if (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) {
      ::_exit(122);
    }
    ::execl(miner.c_str(), miner.c_str(), "30", nullptr);
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);
  std::unique_ptr<json> alert;
  const bool found = eventually([&] { return (alert = find_alert(pid, "Miner")) != nullptr; }, 15s);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ASSERT_TRUE(found) << "no alert for the miner (pid " << pid << ")";

  const json& a = *alert;
  EXPECT_TRUE(a.value("level", "") == "high" || a.value("level", "") == "critical") << a.dump(2);
  EXPECT_EQ(a.value("host", ""), kHost);
  EXPECT_EQ(a.value("site", ""), "e2e-site");
  EXPECT_EQ(a.value("uid", 0u), kNobody);
  EXPECT_EQ(a.value("user", ""), "nobody");
  EXPECT_EQ(a.value("image", ""), miner.string());
  EXPECT_EQ(a.value("command_line", ""), miner.string() + " 30");
  EXPECT_EQ(a.value("ppid", 0u), static_cast<uint32_t>(::getpid()));
  ASSERT_TRUE(a.contains("workload")) << a.dump(2);
  EXPECT_EQ(a["workload"].value("kind", ""), "slurm_job") << a.dump(2);
  EXPECT_EQ(a["workload"].value("id", ""), std::to_string(job_id));
  EXPECT_EQ(a["workload"].value("user", ""), "nobody");
}

TEST_F(EndToEnd, ConnectToMiningPoolPortRaisesAlert) {
  const pid_t pid = connect_from_child(kMiningPoolPort);
  std::unique_ptr<json> alert;
  ASSERT_TRUE(eventually([&] { return (alert = find_alert(pid, "Mining Pool")) != nullptr; }, 15s))
      << "no alert for the connect to 127.0.0.1:" << kMiningPoolPort << " (pid " << pid << ")";
  const json& a = *alert;
  EXPECT_EQ(a.value("host", ""), kHost);
  EXPECT_EQ(a.value("user", ""), "root");
  EXPECT_EQ(a["workload"].value("kind", ""), "host");
  ASSERT_TRUE(a.contains("event"));
  EXPECT_EQ(a["event"].value("kind", ""), "network_connect");
  EXPECT_EQ(a["event"].value("destination_ip", ""), "127.0.0.1");
  EXPECT_EQ(a["event"].value("destination_port", 0), kMiningPoolPort);
  EXPECT_EQ(a["event"].value("transport", ""), "tcp");
}

TEST_F(EndToEnd, HarmlessCommandIsSeenButRaisesNoAlert) {
  const std::string marker = "/vigie-e2e-harmless-" + std::to_string(::getpid());
  const pid_t pid = run_and_wait({"/bin/ls", "-d", "/", marker});
  // Wait until the exec is stored, so that "no alert" is not just "not yet".
  ASSERT_TRUE(eventually(
      [&] {
        return find_event("process_exec", [&](const json& e) {
                 return e.value("pid", 0u) == static_cast<uint32_t>(pid);
               }) != nullptr;
      },
      15s));
  std::this_thread::sleep_for(1s);  // alerts ride in the same batch as their event
  EXPECT_EQ(find_alert(pid), nullptr) << find_alert(pid)->dump(2);
}

TEST_F(EndToEnd, EnergyPerNodeAndWorkloadIsServed) {
  json energy;
  ASSERT_TRUE(eventually(
      [&] {
        energy = get_json("/api/v1/energy");
        return !energy.value("nodes", json::array()).empty() &&
               !energy.value("workloads", json::array()).empty();
      },
      15s))
      << energy.dump(2);
  const json& node = energy["nodes"][0];
  EXPECT_EQ(node.value("host", ""), kHost);
  EXPECT_GT(node.value("energy_joules", 0.0), 0.0);
  EXPECT_GT(node.value("carbon_gco2e", 0.0), 0.0);
  // This machine has no RAPL: the agent must say its figures are estimated.
  if (!fs::exists("/sys/class/powercap/intel-rapl")) {
    EXPECT_TRUE(node.value("estimated", false));
  }
  double workloads_joules = 0;
  for (const auto& w : energy["workloads"]) workloads_joules += w.value("energy_joules", 0.0);
  // Attributed + unattributed = node energy over the same window.
  EXPECT_NEAR(workloads_joules, node.value("energy_joules", 0.0),
              1e-6 * node.value("energy_joules", 0.0) + 1e-9);
}

TEST_F(EndToEnd, DashboardShowsLiveAlertAndPowerInABrowser) {
  // Raise an alert the page must show, then drive the page in headless Chromium.
  const pid_t pid = connect_from_child(kMiningPoolPort);
  ASSERT_TRUE(eventually([&] { return find_alert(pid, "Mining Pool") != nullptr; }, 15s));
  ASSERT_TRUE(eventually(
      [&] { return !get_json("/api/v1/energy").value("nodes", json::array()).empty(); }, 15s));

  const std::string screenshot = std::string(VIGIE_BINARY_DIR) + "/dashboard-e2e.png";
  const std::string cmd =
      std::string(fs::exists("/sys/class/powercap/intel-rapl") ? "" : "EXPECT_ESTIMATED=1 ") +
      "node " + VIGIE_SOURCE_DIR +
      "/tests/dashboards/dashboard_check.mjs http://127.0.0.1:" + std::to_string(port_) + "/ " +
      screenshot + " 'Mining Pool|127.0.0.1:3333/tcp' " + kHost + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof(buf), p)) output.append(buf, n);
  const int status = ::pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd << "\n" << output;
  EXPECT_TRUE(fs::exists(screenshot)) << output;
}

}  // namespace
