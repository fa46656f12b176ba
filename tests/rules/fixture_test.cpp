// Fixture events (the YAML the packs' fixtures and `vigie rules test` use).
#include "vigie/rules/fixture.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_util.h"

namespace vigie::rules::test {
namespace {

namespace fs = std::filesystem;

std::optional<Diagnostic> parse(const std::string& yaml, protocol::Event& event) {
  return parse_event(YAML::Load(yaml), event);
}

TEST(RulesFixtureEvent, ParsesProcessExec) {
  protocol::Event event;
  ASSERT_FALSE(
      parse("{kind: process_exec, pid: 10, ppid: 1, uid: 1000, gid: 1000, user: alice, host: n1,"
            " site: s1, image: /tmp/xmrig, argv: [xmrig, -o, 'stratum+tcp://p:3333'],"
            " parent_image: /bin/bash, parent_command_line: bash,"
            " workload: {kind: slurm_job, id: '42', user: alice, cgroup_path: /slurm/job_42}}",
            event));
  EXPECT_EQ(event.kind(), protocol::EventKind::kProcessExec);
  EXPECT_EQ(event.pid, 10u);
  EXPECT_EQ(event.uid, 1000u);
  EXPECT_EQ(event.user, "alice");
  EXPECT_EQ(event.site, "s1");
  EXPECT_EQ(event.workload.kind, protocol::WorkloadKind::kSlurmJob);
  EXPECT_EQ(event.workload.id, "42");
  EXPECT_EQ(event.workload.cgroup_path, "/slurm/job_42");
  const auto& exec = std::get<protocol::ProcessExec>(event.body);
  EXPECT_EQ(exec.image, "/tmp/xmrig");
  EXPECT_EQ(exec.command_line, "xmrig -o stratum+tcp://p:3333");  // argv joined
  EXPECT_EQ(exec.parent_image, "/bin/bash");
}

TEST(RulesFixtureEvent, ParsesNetworkConnectAndExit) {
  protocol::Event event;
  ASSERT_FALSE(
      parse("{kind: network_connect, destination_ip: '::1', destination_port: 3333,"
            " transport: udp, image: /x}",
            event));
  const auto& connect = std::get<protocol::NetworkConnect>(event.body);
  EXPECT_TRUE(connect.ipv6);
  EXPECT_EQ(connect.destination_port, 3333);
  EXPECT_EQ(connect.transport, protocol::Transport::kUdp);
  ASSERT_FALSE(parse("{kind: process_exit, exit_code: 3, signal: 9, image: /x}", event));
  EXPECT_EQ(std::get<protocol::ProcessExit>(event.body).signal, 9);
}

TEST(RulesFixtureEvent, ParsesNewKindsBySigmaAndVigieFieldNames) {
  protocol::Event event;
  ASSERT_FALSE(
      parse("{kind: file_open, TargetFilename: /etc/shadow, file.write: true, uid: 1000,"
            " job.id: '42', job.user: alice, host: n1}",
            event));
  const auto& open = std::get<protocol::FileOpen>(event.body);
  EXPECT_EQ(open.path, "/etc/shadow");
  EXPECT_TRUE(open.write);
  EXPECT_EQ(event.uid, 1000u);
  EXPECT_EQ(event.workload.kind, protocol::WorkloadKind::kSlurmJob);
  EXPECT_EQ(event.workload.id, "42");
  EXPECT_EQ(event.workload.user, "alice");
  EXPECT_EQ(event.host, "n1");
  ASSERT_FALSE(
      parse("{kind: ptrace, ptrace.request: 16, TargetProcessId: 7, ptrace.target_uid: 0,"
            " TargetImage: /usr/sbin/sshd, Image: /usr/bin/gdb}",
            event));
  const auto& ptrace = std::get<protocol::Ptrace>(event.body);
  EXPECT_EQ(ptrace.request, 16);
  EXPECT_EQ(ptrace.target_pid, 7u);
  EXPECT_EQ(ptrace.target_image, "/usr/sbin/sshd");
  EXPECT_EQ(ptrace.image, "/usr/bin/gdb");
  ASSERT_FALSE(parse("{kind: network_listen, source_ip: '::', source_port: 8888}", event));
  EXPECT_TRUE(std::get<protocol::NetworkListen>(event.body).ipv6);
  ASSERT_FALSE(
      parse("{kind: fileless_exec, Image: '/memfd:x (deleted)', argv: [x, -y],"
            " fileless.memfd: true}",
            event));
  EXPECT_EQ(std::get<protocol::FilelessExec>(event.body).command_line, "x -y");
}

TEST(RulesFixtureEvent, ErrorsNameKeyAndLine) {
  protocol::Event event;
  const std::pair<std::string, std::string> cases[] = {
      {"kind: process_exec\nimage: /x\nimgae: /y\n", "unknown key 'imgae' for a process_exec"},
      {"kind: process_exec\ndestination_port: 3\n", "unknown key 'destination_port'"},
      {"kind: network_connect\ndestination_port: 70000\n",
       "'70000' is not a valid destination_port"},
      {"kind: process_exec\nworkload: {kind: vm}\n", "unknown workload kind 'vm'"},
      {"kind: process_exec\nworkload: {kind: host, size: 3}\n", "unknown key 'size' in workload"},
      {"kind: network_connect\ntransport: sctp\n", "'sctp' is not a valid transport"},
      {"kind: process_exec\nargv: x\n", "expected a list of strings"},
      {"kind: fork\n", "event needs 'kind'"},
      {"kind: file_open\nfile.write: maybe\n", "'maybe' is not a valid file.write"},
      {"kind: ptrace\nargv: [a]\n", "unknown key 'argv' for a ptrace"},
      {"image: /x\n", "event needs 'kind'"},
      {"- a\n", "an event must be a map"},
  };
  for (const auto& [yaml, message] : cases) {
    const auto error = parse(yaml, event);
    ASSERT_TRUE(error) << yaml;
    EXPECT_NE(error->message.find(message), std::string::npos) << error->message;
    EXPECT_GE(error->line, 1) << yaml;
  }
  EXPECT_EQ(parse("kind: process_exec\nimage: /x\nimgae: /y\n", event)->line, 3);
}

TEST(RulesFixture, CheckReportsEachMisbehavingEvent) {
  const fs::path file = fs::path(::testing::TempDir()) / "vigie_rules_fixture.yml";
  std::ofstream(file) << "rule: r1\nmatch:\n  - {kind: process_exec, image: /usr/bin/x}\n"
                         "  - {kind: process_exec, image: /usr/bin/y}\n"
                         "no_match:\n  - {kind: process_exec, image: /bin/x}\n";
  std::vector<Diagnostic> diagnostics;
  const auto fixture = load_fixture(file, diagnostics);
  ASSERT_TRUE(fixture) << (diagnostics.empty() ? "" : to_string(diagnostics[0]));
  EXPECT_EQ(fixture->rule_id, "r1");
  auto engine = load_ok(exec_rule("  sel:\n    Image|endswith: /x\n  condition: sel\n"));
  const auto failures = check_fixture(*engine, *fixture);
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0].line, 4);
  EXPECT_NE(failures[0].message.find("must match this event but did not"), std::string::npos);
  EXPECT_EQ(failures[1].line, 6);
  EXPECT_NE(failures[1].message.find("must not match this event but did"), std::string::npos);

  auto other = load_ok(exec_rule("  sel:\n    Image: x\n  condition: sel\n", "r2"));
  ASSERT_EQ(check_fixture(*other, *fixture).size(), 1u);
  fs::remove(file);
}

TEST(RulesFixture, LoadErrorsAreDiagnostics) {
  const fs::path file = fs::path(::testing::TempDir()) / "vigie_rules_fixture_bad.yml";
  const std::pair<std::string, std::string> cases[] = {
      {"match: []\n", "missing 'rule"},
      {"rule: r1\nmatches: []\n", "unknown key 'matches'"},
      {"rule: r1\nmatch:\n  - {kind: process_exec, bogus: 1}\n", "unknown key 'bogus'"},
      {"rule: [r1\n", "invalid YAML"},
  };
  for (const auto& [yaml, message] : cases) {
    std::ofstream(file) << yaml;
    std::vector<Diagnostic> diagnostics;
    EXPECT_FALSE(load_fixture(file, diagnostics)) << yaml;
    ASSERT_EQ(diagnostics.size(), 1u) << yaml;
    EXPECT_EQ(diagnostics[0].file, file.string());
    EXPECT_NE(diagnostics[0].message.find(message), std::string::npos) << diagnostics[0].message;
  }
  std::vector<Diagnostic> diagnostics;
  EXPECT_FALSE(load_fixture("/nonexistent/fixture.yml", diagnostics));
  fs::remove(file);
}

}  // namespace
}  // namespace vigie::rules::test
