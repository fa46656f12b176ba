// The CSIRT end to end on one node, with real vigie-collector and
// vigie-agent processes, real eBPF and a real Alertmanager: an indicator
// added through the API is published as the IOC list csirt.csv and pulled by
// the agent; a process of a Slurm-like job connects to that 127.0.0.x
// address; the agent's rule alerts, and the alert becomes a sighting with the
// job and the user; an incident opened from the alert shows it in its
// timeline and the job and node in its scope; an indicator added afterwards
// for an earlier connection is found by a retro-hunt; the incident's overdue
// report step reaches Alertmanager once. And the ban list: a user banned
// through the API reaches the agent as the IOC set ban.users, and a program
// that user runs raises the hpc-csirt pack's critical rule. Needs root.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <string>

#include "support/alertmanager.h"
#include "support/http_receiver.h"
#include "support/processes.h"
#include "support/slurm_job.h"
#include "vigie/protocol/event.h"
#include "vigie/protocol/http_client.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using vigie::collector::testing::AlertmanagerProcess;
using vigie::integration::eventually;
using vigie::integration::free_port;
using vigie::integration::read_file;
using vigie::integration::SlurmJobCgroups;
using vigie::integration::spawn;
using vigie::integration::stop;
using vigie::integration::write_file;

constexpr uint32_t kNobody = 65534;
constexpr const char* kHost = "csirt-node001";

// A child in `job`, as nobody, connects to `address`:4444 over TCP and exits; its pid.
pid_t connect_in_job(const SlurmJobCgroups& job, const char* address) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    job.enter();
    if (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0)
      ::_exit(122);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(4444);
    ::inet_pton(AF_INET, address, &addr.sin_addr);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::_exit(0);
  }
  ::waitpid(pid, nullptr, 0);
  return pid;
}

std::string sha256_hex(const std::string& text) {
  const std::string cmd = "printf %s '" + text + "' | sha256sum";
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[65] = {};
  const std::size_t n = std::fread(buf, 1, 64, p);
  ::pclose(p);
  return std::string(buf, n);
}

class CsirtEndToEnd : public ::testing::Test {
 protected:
  CsirtEndToEnd() : dir_(make_dir()), alertmanager_(dir_, receiver_.url()) {}

  static fs::path make_dir() {
    char tmpl[] = "/tmp/vigie-csirt-e2e.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return "/tmp";
    ::chmod(tmpl, 0755);
    return tmpl;
  }

  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the CSIRT end-to-end test loads eBPF programs: run it as root";
    ASSERT_TRUE(fs::exists(vigie::collector::testing::kAlertmanager))
        << "install Debian's prometheus-alertmanager (deploy/install-deps.sh --test)";
    ASSERT_TRUE(eventually([&] { return alertmanager_.get("/-/ready").status == 200; }, 30s))
        << alertmanager_.log();
    port_ = free_port();
    collector_ = {"127.0.0.1", std::to_string(port_)};
    std::mt19937_64 rng(std::random_device{}());
    const std::string token = std::to_string(rng());
    write_file(dir_ / "agent.token", token);
    fs::create_directories(dir_ / "distribution" / "iocs");
    write_file(dir_ / "collector.yaml",
               "listen:\n  address: 127.0.0.1\n  port: " + std::to_string(port_) +
                   "\ndatabase: " + (dir_ / "collector.db").string() +
                   "\napi:\n  anonymous_role: admin" + "\nagent_tokens:\n  - sha256: " +
                   sha256_hex(token) + "\n    host: " + kHost +
                   "\nalerts:\n  site: e2e-site\nalertmanager:\n  urls: [" + alertmanager_.url() +
                   "]\n  resend_seconds: 2\nfederation:\n  site: e2e-site\n  state_dir: " +
                   (dir_ / "federation").string() + "\n  distribution_dir: " +
                   (dir_ / "distribution").string() +
                   "\ncsirt:\n  site: E2E\n  check_interval_seconds: 1\n");
    collector_pid_ = spawn({std::string(VIGIE_BINARY_DIR) + "/collector/vigie-collector",
                            "--config", (dir_ / "collector.yaml").string()},
                           dir_ / "collector.log");
    ASSERT_TRUE(eventually([&] { return call("GET", "/api/v1/alerts?limit=1").ok(); }, 10s))
        << read_file(dir_ / "collector.log");
  }

  // `rules`: the rule path the agent loads (default: a pack written here,
  // one rule over csirt.csv); `iocs`: the IOC lists it pulls.
  void start_agent(std::string rules = "", const std::string& iocs = "[csirt.csv]") {
    if (rules.empty()) rules = (dir_ / "pack").string();
    // A rule over the CSIRT's list, which the agent pulls from the collector.
    fs::create_directories(dir_ / "pack");
    write_file(dir_ / "pack" / "csirt_indicator.yml",
               "title: Connection to an indicator of the site CSIRT\n"
               "id: 7f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0\n"
               "logsource: {product: linux, category: network_connection}\n"
               "detection:\n  selection:\n    DestinationIp|ioc: csirt\n  condition: selection\n"
               "level: high\ntags: [tlp.amber]\n");
    write_file(dir_ / "agent.yaml",
               std::string("site: e2e-site\nhost: ") + kHost +
                   "\ncollector:\n  url: http://127.0.0.1:" + std::to_string(port_) +
                   "\n  token_file: agent.token\n  flush_interval_ms: 200\n" +
                   "metrics:\n  listen: 127.0.0.1:" + std::to_string(free_port()) +
                   "\nstate_dir: " + dir_.string() + "\nrules:\n  path: " + rules +
                   "\n  reload_interval_ms: 500\n  pull:\n    interval_seconds: 10\n    iocs: " +
                   iocs + "\n");
    agent_pid_ = spawn({std::string(VIGIE_BINARY_DIR) + "/agents/vigie-agent", "--config",
                        (dir_ / "agent.yaml").string()},
                       dir_ / "agent.log");
  }

  void TearDown() override {
    stop(agent_pid_);
    stop(collector_pid_);
    if (HasFailure()) {
      std::cerr << "---- agent log\n"
                << read_file(dir_ / "agent.log") << "---- collector log\n"
                << read_file(dir_ / "collector.log") << "---- alertmanager log\n"
                << alertmanager_.log();
    }
  }
  ~CsirtEndToEnd() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  vigie::protocol::HttpResponse call(const std::string& method, const std::string& target,
                                     const std::string& body = "") {
    return vigie::protocol::send(collector_,
                                 {method, target, {{"Content-Type", "application/json"}}, body},
                                 10s);
  }
  json call_json(const std::string& method, const std::string& target,
                 const std::string& body = "") {
    const auto r = call(method, target, body);
    EXPECT_TRUE(r.ok()) << method << " " << target << ": " << r.status << " " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  fs::path dir_;
  vigie::collector::testing::HttpReceiver receiver_;
  AlertmanagerProcess alertmanager_;
  uint16_t port_ = 0;
  vigie::protocol::Endpoint collector_;
  pid_t collector_pid_ = -1;
  pid_t agent_pid_ = -1;
};

TEST_F(CsirtEndToEnd, IndicatorToSightingIncidentScopeRetrohuntAndSec01Alert) {
  const uint32_t job_id = 800000 + static_cast<uint32_t>(::getpid() % 99999);
  const std::string job = std::to_string(job_id);
  SlurmJobCgroups cgroups(kNobody, job_id);
  ASSERT_FALSE(cgroups.empty()) << "no cgroup hierarchy found to create a Slurm-like job in";

  // 127.0.0.77 is an indicator before the agent starts; the agent pulls it.
  const json known = call_json("POST", "/api/v1/csirt/indicators",
                               R"({"type":"ip-dst","value":"127.0.0.77","tlp":"amber"})");
  ASSERT_TRUE(fs::exists(dir_ / "distribution" / "iocs" / "csirt.csv"));
  start_agent();

  // An earlier connection to 127.0.0.78, not an indicator yet: stored, no alert.
  ASSERT_TRUE(eventually(
      [&] {
        connect_in_job(cgroups, "127.0.0.78");
        const json events = call_json("GET", "/api/v1/events?kind=network_connect&limit=1000");
        for (const auto& e : events.value("events", json::array()))
          if (e.value("destination_ip", "") == "127.0.0.78") return true;
        return false;
      },
      60s))
      << "the connection to 127.0.0.78 never reached the collector";

  // The connection to the indicator: the agent's rule alerts.
  json alert, alerts;
  ASSERT_TRUE(eventually(
      [&] {
        connect_in_job(cgroups, "127.0.0.77");
        alerts = call_json("GET", "/api/v1/alerts?limit=100");
        for (const auto& a : alerts["alerts"]) {
          if (a["event"].value("destination_ip", "") == "127.0.0.77") {
            alert = a;
            return true;
          }
        }
        return false;
      },
      60s))
      << "no alert for the connection to 127.0.0.77; the collector's alerts:\n"
      << alerts.dump(1).substr(0, 3000);
  EXPECT_EQ(alert["workload"].value("id", ""), job);
  EXPECT_EQ(alert.value("user", ""), "nobody");

  // ... which is a sighting of the indicator, with the job and the user.
  const std::string known_uuid = known["indicators"][0]["uuid"];
  json sightings;
  ASSERT_TRUE(eventually(
      [&] {
        sightings = call_json("GET", "/api/v1/csirt/indicators/" + known_uuid + "/sightings");
        return !sightings["sightings"].empty();
      },
      10s));
  const json& sighting = sightings["sightings"][0];
  EXPECT_EQ(sighting["source"], "alert");
  EXPECT_EQ(sighting["host"], kHost);
  EXPECT_EQ(sighting["workload"]["id"], job);
  EXPECT_EQ(sighting["user"], "nobody");

  // An incident from the alert, discovered 5 hours ago: its report is overdue.
  const uint64_t now = vigie::protocol::wall_clock_ns();
  const json incident = call_json(
      "POST", "/api/v1/csirt/incidents",
      json({{"title", "Connection to a known C2 from job " + job}, {"tlp", "amber"},
            {"discovered_ns", now - 5ull * 3600 * 1'000'000'000}, {"alerts", {alert["id"]}}})
          .dump());
  const std::string id = incident["id"];
  EXPECT_EQ(id.rfind("e2e-", 0), 0u) << id;
  const json timeline = call_json("GET", "/api/v1/csirt/incidents/" + id + "/timeline");
  ASSERT_EQ(timeline["timeline"].size(), 1u);
  EXPECT_EQ(timeline["timeline"][0]["alerts"][0]["workload"]["id"], job);
  EXPECT_EQ(timeline["timeline"][0]["alerts"][0]["host"], kHost);

  // The earlier connection, found by the retro-hunt of an indicator linked now.
  const json linked = call_json("POST", "/api/v1/csirt/incidents/" + id + "/indicators",
                                R"({"type":"ip","value":"127.0.0.78","role":"related"})");
  const std::string hunt = linked["retrohunt"]["id"];
  json outcome;
  ASSERT_TRUE(eventually(
      [&] {
        outcome = call_json("GET", "/api/v1/csirt/retrohunt/" + hunt);
        return outcome["state"] == "done";
      },
      20s))
      << outcome.dump();
  EXPECT_GE(outcome["rows_scanned"].get<int>(), 1);
  const std::string later_uuid = linked["indicators"][0]["uuid"];
  const json found = call_json("GET", "/api/v1/csirt/indicators/" + later_uuid + "/sightings");
  ASSERT_FALSE(found["sightings"].empty());
  EXPECT_EQ(found["sightings"][0]["source"], "retrohunt");
  EXPECT_EQ(found["sightings"][0]["workload"]["id"], job);
  EXPECT_EQ(found["sightings"][0]["user"], "nobody");

  // Scope: the job and its node, the user.
  const json scope = call_json("GET", "/api/v1/csirt/incidents/" + id + "/scope");
  ASSERT_EQ(scope["jobs"].size(), 1u);
  EXPECT_EQ(scope["jobs"][0]["job_id"], job);
  EXPECT_NE(std::find(scope["hosts"].begin(), scope["hosts"].end(), kHost), scope["hosts"].end());
  EXPECT_NE(std::find(scope["users"].begin(), scope["users"].end(), "nobody"),
            scope["users"].end());

  // The overdue report step reaches Alertmanager, as one alert, with the incident's TLP.
  auto sec01_alerts = [&] {
    const auto r = alertmanager_.get("/api/v2/alerts?filter=incident%3D%22" + id + "%22");
    return r.status == 200 ? json::parse(r.body, nullptr, false) : json::array();
  };
  json active;
  ASSERT_TRUE(eventually(
      [&] {
        active = sec01_alerts();
        return active.is_array() && !active.empty();
      },
      30s))
      << "Alertmanager never got the SEC01 alert";
  std::this_thread::sleep_for(3s);  // further checks (every second) must not add another
  active = sec01_alerts();
  ASSERT_EQ(active.size(), 1u) << active.dump(2);
  EXPECT_EQ(active[0]["labels"]["sec01_step"], "report");
  EXPECT_EQ(active[0]["labels"]["tlp"], "amber");
}

TEST_F(CsirtEndToEnd, AProgramRunByABannedUserRaisesTheCriticalAlert) {
  // nobody is banned (detect) before the agent starts; the collector
  // publishes ban.users.csv, the agent pulls it with the hpc-csirt pack.
  const json ban = call_json("POST", "/api/v1/csirt/bans",
                             R"({"type":"user","value":"nobody","actions":["detect"],
                                 "reason":"end-to-end: a stolen account"})");
  ASSERT_EQ(ban.value("value", ""), "nobody") << ban.dump();
  ASSERT_NE(read_file(dir_ / "distribution" / "iocs" / "ban.users.csv").find("user,nobody"),
            std::string::npos);
  start_agent(std::string(VIGIE_SOURCE_DIR) + "/rules/packs/hpc-csirt",
              "[ban.users.csv, ban.ips.csv]");
  constexpr const char* kRule = "6c586bc1-4a61-42af-b1c2-cf472874e27e";
  json alerts, found;
  ASSERT_TRUE(eventually(
      [&] {
        const pid_t pid = ::fork();
        if (pid == 0) {  // nobody runs a program
          if (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0)
            ::_exit(122);
          ::execl("/bin/true", "true", static_cast<char*>(nullptr));
          ::_exit(127);
        }
        ::waitpid(pid, nullptr, 0);
        alerts = call_json("GET", "/api/v1/alerts?limit=200");
        for (const auto& a : alerts.value("alerts", json::array())) {
          if (a.value("rule_id", "") == kRule) {
            found = a;
            return true;
          }
        }
        return false;
      },
      90s))
      << "no 'Activity by a Suspended Identity' alert; the collector's alerts:\n"
      << alerts.dump(1).substr(0, 3000);
  EXPECT_EQ(found.value("level", ""), "critical");
  EXPECT_EQ(found.value("user", ""), "nobody");
  EXPECT_TRUE(found["event"].value("image", "").ends_with("/true")) << found.dump(1);
}

}  // namespace
