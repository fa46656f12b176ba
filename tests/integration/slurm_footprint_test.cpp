// A real Slurm job's footprint, end to end on one node: munged, slurmctld and
// slurmd (Debian's packages) run on loopback with Slurm's cgroup plugin
// (proctrack/cgroup, jobacct_gather/cgroup), vigie-agent samples power and reports the job's end,
// vigie-collector totals it, and deploy/slurm/epilog.sh, run by slurmd as the job's Epilog, appends
// the footprint to the job's output file. Needs root; fails (with slurmctld's
// log) when Slurm is not installed or slurmctld cannot start.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/processes.h"
#include "support/slurm_daemons.h"
#include "vigie/protocol/http_client.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using vigie::integration::eventually;
using vigie::integration::free_port;
using vigie::integration::read_file;
using vigie::integration::running;
using vigie::integration::shell;
using vigie::integration::short_hostname;
using vigie::integration::spawn;
using vigie::integration::start_munged;
using vigie::integration::stop;
using vigie::integration::write_file;

class SlurmFootprint : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "slurmd and the agent run as root";
    for (const char* tool : {"/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged"})
      if (!fs::exists(tool))
        FAIL() << tool
               << " is not installed (Debian slurmctld, slurmd, munge: "
                  "deploy/install-deps.sh --test)";
    char tmpl[] = "/tmp/vigie-slurm.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    for (const char* sub : {"state", "spool", "munge"}) fs::create_directory(dir_ / sub);
    fs::create_directory(dir_ / "out");
    fs::permissions(dir_ / "out", fs::perms::all);  // the job's user writes its output here
    node_ = short_hostname();
    std::string munge_error;
    munged_ = start_munged(dir_, munge_error);
    ASSERT_TRUE(munge_error.empty()) << munge_error;
    write_slurm_conf();
    ::setenv("SLURM_CONF", (dir_ / "slurm.conf").c_str(), 1);

    slurmctld_ = spawn({"/usr/sbin/slurmctld", "-D", "-f", (dir_ / "slurm.conf").string()},
                       dir_ / "slurmctld.log");
    if (!eventually(
            [&] {
              return !running(slurmctld_) ||
                     shell("scontrol ping").second.find("UP") != std::string::npos;
            },
            30s) ||
        !running(slurmctld_)) {
      FAIL() << "slurmctld cannot start here:\n" << read_file(dir_ / "slurmctld.log");
    }
    start_vigie();
    slurmd_ = spawn({"/usr/sbin/slurmd", "-D", "-f", (dir_ / "slurm.conf").string()},
                    dir_ / "slurmd.log");
    ASSERT_TRUE(eventually(
        [&] { return shell("sinfo -h -n " + node_ + " -o %T").second.starts_with("idle"); }, 60s))
        << "slurmd did not register:\n"
        << read_file(dir_ / "slurmd.log") << shell("sinfo -N -l").second;
  }

  void TearDown() override {
    stop(slurmd_);
    stop(slurmctld_);
    stop(agent_);
    stop(collector_);
    stop(munged_);
    if (HasFailure()) {
      for (const char* log : {"slurmctld.log", "slurmd.log", "agent.log", "collector.log"})
        std::cerr << "---- " << log << "\n" << read_file(dir_ / log);
    }
    // Slurm's cgroup v1 plugin leaves slurm_<node> (and uid_<U>) behind: remove them when empty.
    for (const char* controller : {"cpuacct", "memory", "freezer", "cpuset", "devices"}) {
      const fs::path top = fs::path("/sys/fs/cgroup") / controller / ("slurm_" + node_);
      ::rmdir((top / "uid_65534").c_str());
      ::rmdir(top.c_str());
    }
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  void write_slurm_conf() {
    // slurmd gives the Epilog no environment of its own: the site sets
    // VIGIE_* in /etc/vigie/epilog.env; here a wrapper sets them.
    write_file(dir_ / "epilog",
               "#!/bin/sh\nexport VIGIE_CLI=" + std::string(VIGIE_BINARY_DIR) +
                   "/cli/vigie VIGIE_COLLECTOR=http://127.0.0.1:" + std::to_string(port_) +
                   " VIGIE_EPILOG_WAIT_S=60\nexec " + VIGIE_SOURCE_DIR +
                   "/deploy/slurm/epilog.sh\n",
               fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                   fs::perms::others_read | fs::perms::others_exec);
    const auto d = [&](const char* sub) { return (dir_ / sub).string(); };
    write_file(dir_ / "slurm.conf",
               "ClusterName=vigietest\nSlurmctldHost=" + node_ + "(127.0.0.1)\nSlurmctldPort=" +
                   std::to_string(free_port()) + "\nSlurmdPort=" + std::to_string(free_port()) +
                   "\nAuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket=" +
                   d("munge/munge.socket") + "\nSlurmUser=root\nSlurmdUser=root\n" +
                   "StateSaveLocation=" + d("state") + "\nSlurmdSpoolDir=" + d("spool") +
                   "\nSlurmctldPidFile=" + d("slurmctld.pid") +
                   "\nSlurmdPidFile=" + d("slurmd.pid") + "\nEpilog=" + d("epilog") +
                   "\nProctrackType=proctrack/cgroup\nTaskPlugin=task/none\n"
                   "JobAcctGatherType=jobacct_gather/cgroup\n"
                   "AccountingStorageType=accounting_storage/none\n"
                   "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\nMpiDefault=none\n"
                   "ReturnToService=2\nNodeName=" +
                   node_ + " NodeAddr=127.0.0.1 CPUs=" +
                   std::to_string(std::max(1u, std::thread::hardware_concurrency())) +
                   " RealMemory=100 State=UNKNOWN\nPartitionName=debug Nodes=" + node_ +
                   " Default=YES MaxTime=INFINITE State=UP\n",
               fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                   fs::perms::others_read);
    // Hybrid and v1 nodes: Slurm's cgroup/v1 plugin (slurm_<node>/uid_U/job_J); a
    // pure v2 node: cgroup/v2 (system.slice/<node>_slurmstepd.scope/job_J).
    const bool v2 = fs::exists("/sys/fs/cgroup/cgroup.controllers");
    write_file(dir_ / "cgroup.conf",
               std::string("CgroupPlugin=") + (v2 ? "cgroup/v2" : "cgroup/v1") +
                   "\nCgroupMountpoint=/sys/fs/cgroup\n",
               fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read);
  }

  void start_vigie() {
    write_file(dir_ / "agent.token", "slurm-footprint-test-token", fs::perms::owner_read);
    const auto sha = shell("sha256sum " + (dir_ / "agent.token").string()).second.substr(0, 64);
    write_file(dir_ / "collector.yaml",
               "listen:\n  address: 127.0.0.1\n  port: " + std::to_string(port_) +
                   "\ndatabase: " + (dir_ / "collector.db").string() +
                   "\napi:\n  anonymous_role: admin  # loopback, as the quick start" +
                   "\nagent_tokens:\n  - sha256: " + sha + "\n    host: " + kHost + "\n",
               fs::perms::owner_read | fs::perms::owner_write);
    write_file(dir_ / "agent.yaml",
               std::string("site: slurm-site\nhost: ") + kHost +
                   "\ncollector:\n  url: http://127.0.0.1:" + std::to_string(port_) +
                   "\n  token_file: agent.token\n  flush_interval_ms: 200\nmetrics:\n  listen: "
                   "127.0.0.1:" +
                   std::to_string(free_port()) + "\nstate_dir: " + dir_.string() +
                   "\nsensor:\n  enabled: false\npower:\n  interval_ms: 500\n",
               fs::perms::owner_read | fs::perms::owner_write);
    collector_ = spawn({std::string(VIGIE_BINARY_DIR) + "/collector/vigie-collector", "--config",
                        (dir_ / "collector.yaml").string()},
                       dir_ / "collector.log");
    ASSERT_TRUE(eventually([&] { return get("/api/v1/agents").ok(); }, 10s))
        << read_file(dir_ / "collector.log");
    agent_ = spawn({std::string(VIGIE_BINARY_DIR) + "/agents/vigie-agent", "--config",
                    (dir_ / "agent.yaml").string()},
                   dir_ / "agent.log");
    ASSERT_TRUE(eventually(
        [&] {
          return json::parse(get("/api/v1/agents").body, nullptr, false)
                     .value("agents", json::array())
                     .size() == 1;
        },
        20s))
        << read_file(dir_ / "agent.log");
  }

  vigie::protocol::HttpResponse get(const std::string& target) {
    return vigie::protocol::send({"127.0.0.1", std::to_string(port_)}, {"GET", target, {}, ""}, 5s);
  }

  static constexpr const char* kHost = "slurm-node001";
  fs::path dir_;
  std::string node_;
  uint16_t port_ = free_port();
  pid_t munged_ = -1, slurmctld_ = -1, slurmd_ = -1, collector_ = -1, agent_ = -1;
};

TEST_F(SlurmFootprint, RealJobsFootprintReachesTheCollectorAndTheUsersOutput) {
  // nobody's batch job burns 3 s of CPU of its own, measured by the job
  // itself (/proc/self/stat utime): a loop bounded in wall time gets less CPU
  // when other work shares the cores, and the figure below would depend on
  // the machine's load.
  write_file(dir_ / "burn.sh",
             "#!/bin/sh\n"
             "ticks=$(( $(getconf CLK_TCK) * 3 ))\n"
             "while [ \"$(cut -d' ' -f14 /proc/$$/stat)\" -lt \"$ticks\" ]; do\n"
             "  i=0; while [ $i -lt 10000 ]; do i=$((i + 1)); done\n"
             "done\n"
             "echo job-done\n",
             fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                 fs::perms::others_read | fs::perms::others_exec);
  const auto [rc, submitted] =
      shell("runuser -u nobody -- sbatch --parsable -D " + (dir_ / "out").string() +
            " -o slurm-%j.out " + (dir_ / "burn.sh").string());
  ASSERT_EQ(rc, 0) << submitted;
  const std::string job = submitted.substr(0, submitted.find_first_of(";\n"));
  ASSERT_FALSE(job.empty());

  json f;
  ASSERT_TRUE(eventually(
      [&] {
        auto r = get("/api/v1/jobs/" + job + "/footprint");
        if (r.status != 200) return false;
        f = json::parse(r.body, nullptr, false);
        return true;
      },
      90s))
      << shell("scontrol show job " + job).second;
  EXPECT_EQ(f.value("job_id", ""), job) << f.dump(2);
  EXPECT_EQ(f.value("user", ""), "nobody") << f.dump(2);
  EXPECT_GT(f.value("cpu_seconds", 0.0), 1.0) << "the job burnt about 3 CPU-seconds\n" << f.dump(2);
  EXPECT_LT(f.value("cpu_seconds", 0.0), 10.0) << f.dump(2);
  EXPECT_GT(f.value("energy_joules", 0.0), 0.0) << f.dump(2);
  EXPECT_GT(f.value("carbon_gco2e", 0.0), 0.0) << f.dump(2);
  if (!fs::exists("/sys/class/powercap/intel-rapl")) {
    EXPECT_TRUE(f.value("estimated", false)) << "no RAPL here: the figures are the model's";
  }
  ASSERT_EQ(f.value("hosts", json::array()).size(), 1u) << f.dump(2);
  EXPECT_EQ(f["hosts"][0].value("host", ""), kHost);

  // slurmd ran the epilog, which appended the footprint to the job's output as nobody.
  const fs::path out = dir_ / "out" / ("slurm-" + job + ".out");
  std::string text;
  EXPECT_TRUE(eventually(
      [&] { return (text = read_file(out)).find("tree-months") != std::string::npos; }, 60s))
      << text;
  EXPECT_EQ(text.rfind("job-done\n\n--- Vigie: energy and carbon footprint of job " + job, 0), 0u)
      << text;
  EXPECT_NE(text.find("Job " + job + " (nobody"), std::string::npos) << text;
}

}  // namespace
