// `vigie job <id>` and deploy/slurm/epilog.sh against a collector serving on
// loopback, with footprints stored as an agent's batches would store them.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "run_command.h"
#include "support/footprint_fixture.h"
#include "support/loopback_collector.h"
#include "support/sample_batch.h"

namespace vigie::collector {
namespace {

using cli::testing::Run;
using nlohmann::json;

Run run(const std::string& command) { return cli::testing::run_command(command); }

using testing::agent_batch;
using testing::job_energy;

class JobCommandTest : public ::testing::Test {
 protected:
  JobCommandTest() {
    // Job 42 ran on node1 (measured, 3000 J) and node2 (estimated, 1000 J); job 7 still runs.
    auto node1 = agent_batch("node1", 1);
    node1.workload_energy = {job_energy("42", 100, 2000, 10, false),
                             job_energy("42", 101, 1000, 5, false),
                             job_energy("7", 100, 999, 9, false)};
    store(node1);
    auto node2 = agent_batch("node2", 1);
    node2.workload_energy = {job_energy("42", 100, 1000, 6, true)};
    store(node2);
  }

  void store(const protocol::Batch& b) {
    ASSERT_EQ(loopback_.store().store_batch(b, ++received_).status, StoreOutcome::Status::kStored);
  }
  // The agents of both nodes report job 42's cgroup gone.
  void end_job_42() {
    for (const char* host : {"node1", "node2"}) {
      auto b = agent_batch(host, 2);
      b.workload_ends = {{100 * testing::kSecondNs, 102 * testing::kSecondNs,
                          job_energy("42", 100, 0, 0, false).workload}};
      store(b);
    }
  }
  std::string vigie(const std::string& arguments) const {
    return std::string(VIGIE_CLI_PATH) + " --collector " + url_ + " " + arguments;
  }

  testing::LoopbackCollector loopback_;
  const std::string url_ = loopback_.url();
  uint64_t received_ = 0;
};

TEST_F(JobCommandTest, PrintsTheFootprintOfAnEndedJob) {
  end_job_42();
  const auto result = run(vigie("job 42"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto& out = result.output;
  // 4000 J = 0.0011 kWh; carbon 21 g operational + 3 x 0.5 g embodied = 22.5 g.
  for (const char* text :
       {"Job 42 (alice, account proj42)", "ESTIMATED", "0.0011 kWh (4000 J)", "cpu 3000 J",
        "dram 1000 J", "carbon   22.5 gCO2e (operational 21.0 gCO2e, embodied 1.5 gCO2e)",
        "0.13 km by car", "Green Algorithms", "host node1: 3000 J, 16.0 gCO2e, 4.0 CPU-s\n",
        "host node2: 1000 J, 6.5 gCO2e, 2.0 CPU-s (estimated)"}) {
    EXPECT_NE(out.find(text), std::string::npos) << text << "\n" << out;
  }
}

TEST_F(JobCommandTest, JsonHasTheJobsTotals) {
  end_job_42();
  const auto result = run(vigie("--json job 42"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto f = json::parse(result.output);
  EXPECT_EQ(f.at("job_id"), "42");
  EXPECT_DOUBLE_EQ(f.at("energy_joules").get<double>(), 4000);
  EXPECT_DOUBLE_EQ(f.at("carbon_gco2e").get<double>(), 22.5);
  EXPECT_TRUE(f.at("estimated").get<bool>());
  EXPECT_EQ(f.at("hosts").size(), 2u);
}

// Global options work after the subcommand too, as the README shows them.
TEST_F(JobCommandTest, GlobalOptionsAfterTheSubcommand) {
  end_job_42();
  const auto result = run(vigie("job 42 --json"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(json::parse(result.output).at("job_id"), "42");
  EXPECT_EQ(run(vigie("job 42 --json --timeout 5")).output, result.output);
}

TEST_F(JobCommandTest, UnknownOrRunningJobIsAClearErrorWithExitCode1) {
  for (const char* id : {"42", "7", "123456"}) {  // 42 and 7 have not ended
    const auto result = run(vigie(std::string("job ") + id));
    EXPECT_EQ(result.exit_code, 1) << result.output;
    EXPECT_NE(result.output.find("404"), std::string::npos) << result.output;
    EXPECT_NE(result.output.find(std::string("no footprint for job ") + id), std::string::npos)
        << result.output;
  }
  const auto bad = run(vigie("job 12x"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("decimal digits"), std::string::npos) << bad.output;
  // Nothing listens on port 1 of loopback.
  const auto unreachable =
      run(std::string(VIGIE_CLI_PATH) + " --collector http://127.0.0.1:1 job 42");
  EXPECT_EQ(unreachable.exit_code, 2) << unreachable.output;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The file once the epilog's background part appended a footprint (its last
// line names the equivalents), or as it is after 30 s.
std::string wait_for_footprint(const std::string& path) {
  std::string text;
  for (int i = 0; i < 300 && text.find("tree-months") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    text = read_all(path);
  }
  return text;
}

// The epilog as slurmd runs it (root, SLURM_JOB_ID/USER, the job's stdout
// file): it returns at once, waits in the background for the agents to report
// the job's end, then appends the footprint to the user's file as the user.
TEST_F(JobCommandTest, EpilogAppendsTheFootprintToTheJobsOutputAsItsUser) {
  ASSERT_EQ(::geteuid(), 0u) << "the epilog runs as root (runuser)";
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  ASSERT_EQ(::chmod(loopback_.dir().c_str(), 0755), 0);
  const std::string out = (loopback_.dir() / "slurm-42.out").string();
  std::ofstream(out) << "job output\n";
  ASSERT_EQ(::chown(out.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  ASSERT_EQ(::chmod(out.c_str(), 0600), 0);  // only the user may write it

  const std::string env = std::string("env PATH=/usr/sbin:/usr/bin:/sbin:/bin VIGIE_CLI=") +
                          VIGIE_CLI_PATH + " VIGIE_COLLECTOR=" + url_ +
                          " VIGIE_EPILOG_WAIT_S=60 SLURM_JOB_ID=42 SLURM_JOB_USER=nobody"
                          " SLURM_JOB_STDOUT=" +
                          out + " ";
  const std::string epilog = std::string(VIGIE_SOURCE_DIR) + "/deploy/slurm/epilog.sh";
  // The job has not ended in the collector yet: the epilog must wait for it.
  const auto started = run(env + epilog);
  EXPECT_EQ(started.exit_code, 0) << started.output;
  EXPECT_EQ(read_all(out), "job output\n");
  end_job_42();
  const std::string text = wait_for_footprint(out);
  EXPECT_EQ(text.rfind("job output\n\n--- Vigie: energy and carbon footprint of job 42 ---\n", 0),
            0u)
      << text;
  EXPECT_NE(text.find("Job 42 (alice, account proj42)"), std::string::npos) << text;
  EXPECT_NE(text.find("0.0011 kWh (4000 J)"), std::string::npos) << text;
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody->pw_uid) << "the file stays the user's";

  // By hand: --print, and a clear failure for a job with no footprint.
  const auto printed = run(env + epilog + " --print 42");
  EXPECT_EQ(printed.exit_code, 0) << printed.output;
  EXPECT_NE(printed.output.find("Job 42"), std::string::npos) << printed.output;
  const auto missing = run(env + " VIGIE_EPILOG_WAIT_S=0 " + epilog + " --print 7");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
}

// slurmd kills the Epilog's process group as soon as the script returns
// (SIGKILL); the background delivery must already be in a session of its own
// by then. Run as slurmd runs it, many times on a busy machine (the race
// shows under load: a simulation lost one delivery in eight).
TEST_F(JobCommandTest, EpilogsDeliveryOutlivesTheKillOfItsProcessGroup) {
  ASSERT_EQ(::geteuid(), 0u) << "the epilog runs as root (runuser)";
  ASSERT_EQ(::chmod(loopback_.dir().c_str(), 0755), 0);
  end_job_42();
  constexpr int kRuns = 40;
  std::vector<std::string> outs, commands;
  for (int i = 0; i < kRuns; ++i) {
    outs.push_back((loopback_.dir() / ("slurm-42-" + std::to_string(i) + ".out")).string());
    std::ofstream(outs.back()) << "job output\n";
    ASSERT_EQ(::chmod(outs.back().c_str(), 0666), 0);
    commands.push_back(std::string("exec env PATH=/usr/sbin:/usr/bin:/sbin:/bin VIGIE_CLI=") +
                       VIGIE_CLI_PATH + " VIGIE_COLLECTOR=" + url_ +
                       " SLURM_JOB_ID=42 SLURM_JOB_USER=nobody SLURM_JOB_STDOUT=" + outs.back() +
                       " " + VIGIE_SOURCE_DIR + "/deploy/slurm/epilog.sh");
  }
  std::atomic<bool> busy{true};
  std::vector<std::thread> load;
  for (unsigned i = 0; i < 2 * std::max(1u, std::thread::hardware_concurrency()); ++i)
    load.emplace_back([&busy] {
      while (busy.load(std::memory_order_relaxed)) {
      }
    });
  for (const std::string& command : commands) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::setpgid(0, 0);  // slurmd runs the Epilog as a process group leader
      ::execl("/bin/sh", "sh", "-c", command.c_str(), nullptr);
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ::kill(-pid, SIGKILL);  // what is left of the group once the script returned
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command;
  }
  busy = false;
  for (auto& t : load) t.join();
  int delivered = 0;
  for (const std::string& out : outs)
    delivered += wait_for_footprint(out).find("tree-months") != std::string::npos;
  EXPECT_EQ(delivered, kRuns);
}

// Slurm before 23.02 does not export the output file to the epilog: it asks
// scontrol, which shows sbatch's filename pattern, and fills it in.
TEST_F(JobCommandTest, EpilogFindsTheOutputFileFromScontrolsPattern) {
  ASSERT_EQ(::geteuid(), 0u) << "the epilog runs as root (runuser)";
  ASSERT_EQ(::chmod(loopback_.dir().c_str(), 0755), 0);
  const auto bin = loopback_.dir() / "bin";
  std::filesystem::create_directory(bin);
  const std::string pattern = (loopback_.dir() / "out-%x-%5j-%u-%%.txt").string();
  std::ofstream(bin / "scontrol") << "#!/bin/sh\n[ \"$*\" = \"show job -o 42\" ] || exit 1\n"
                                     "echo 'JobId=42 JobName=wrap UserId=nobody(65534) StdOut="
                                  << pattern << " StdErr=" << pattern << "'\n";
  ASSERT_EQ(::chmod((bin / "scontrol").c_str(), 0755), 0);
  const std::string out = (loopback_.dir() / "out-wrap-00042-nobody-%.txt").string();
  std::ofstream(out) << "job output\n";
  ASSERT_EQ(::chmod(out.c_str(), 0666), 0);
  end_job_42();
  const auto started = run("env -u SLURM_JOB_STDOUT PATH=" + bin.string() +
                           ":/usr/sbin:/usr/bin:/sbin:/bin VIGIE_CLI=" + VIGIE_CLI_PATH +
                           " VIGIE_COLLECTOR=" + url_ + " SLURM_JOB_ID=42 SLURM_JOB_USER=nobody " +
                           VIGIE_SOURCE_DIR + "/deploy/slurm/epilog.sh");
  EXPECT_EQ(started.exit_code, 0) << started.output;
  const std::string text = wait_for_footprint(out);
  EXPECT_EQ(text.rfind("job output\n\n--- Vigie: energy and carbon footprint of job 42 ---\n", 0),
            0u)
      << text;
}

TEST_F(JobCommandTest, EpilogWithoutSlurmEnvironmentDoesNothingAndSucceeds) {
  const std::string epilog = std::string(VIGIE_SOURCE_DIR) + "/deploy/slurm/epilog.sh";
  const auto result =
      run("env -u SLURM_JOB_ID -u SLURM_JOB_USER VIGIE_COLLECTOR=" + url_ + " " + epilog);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(result.output.empty()) << result.output;
}

}  // namespace
}  // namespace vigie::collector
