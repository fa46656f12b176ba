// Value semantics: modifiers, wildcards, escapes, case-insensitivity, fields.
#include <gtest/gtest.h>

#include "test_util.h"

namespace vigie::rules::test {
namespace {

using protocol::Event;

// One-selection rule matching CommandLine with `key_and_values` (e.g. "CommandLine|contains: x").
std::shared_ptr<const Engine> cmdline_rule(const std::string& key_and_values) {
  return load_ok(exec_rule("  selection:\n    " + key_and_values + "\n  condition: selection\n"));
}

bool cmd_fires(const Engine& engine, const std::string& command_line) {
  return fires(engine, exec_event("/usr/bin/x", command_line));
}

TEST(RulesMatching, PlainValueIsExactAndCaseInsensitive) {
  auto engine = cmdline_rule("CommandLine: 'Bash -I'");
  EXPECT_TRUE(cmd_fires(*engine, "bash -i"));
  EXPECT_TRUE(cmd_fires(*engine, "BASH -I"));
  EXPECT_FALSE(cmd_fires(*engine, "bash -i "));
  EXPECT_FALSE(cmd_fires(*engine, "xbash -i"));
}

TEST(RulesMatching, ContainsStartswithEndswith) {
  auto contains = cmdline_rule("CommandLine|contains: 'STRATUM+tcp://'");
  EXPECT_TRUE(cmd_fires(*contains, "m -o stratum+TCP://pool:3333"));
  EXPECT_FALSE(cmd_fires(*contains, "stratum+udp://"));
  auto starts = cmdline_rule("CommandLine|startswith: '/tmp/'");
  EXPECT_TRUE(cmd_fires(*starts, "/TMP/x"));
  EXPECT_FALSE(cmd_fires(*starts, "x /tmp/"));
  auto ends = cmdline_rule("CommandLine|endswith: '.sh'");
  EXPECT_TRUE(cmd_fires(*ends, "run.SH"));
  EXPECT_FALSE(cmd_fires(*ends, "run.sh.bak"));
}

TEST(RulesMatching, ListIsOrAndAllModifierIsAnd) {
  auto any = cmdline_rule("CommandLine|contains: [alpha, beta]");
  EXPECT_TRUE(cmd_fires(*any, "x beta"));
  EXPECT_FALSE(cmd_fires(*any, "gamma"));
  auto all = cmdline_rule("CommandLine|contains|all: [alpha, beta]");
  EXPECT_TRUE(cmd_fires(*all, "beta then ALPHA"));
  EXPECT_FALSE(cmd_fires(*all, "alpha only"));
}

TEST(RulesMatching, WildcardsFollowSigmaSemantics) {
  auto star = cmdline_rule("CommandLine: 'prog*.exe'");
  EXPECT_TRUE(cmd_fires(*star, "prog.exe"));
  EXPECT_TRUE(cmd_fires(*star, "progA-V21.exe"));
  EXPECT_FALSE(cmd_fires(*star, "prog.exe2"));
  auto question = cmdline_rule("CommandLine: 'prog?.exe'");
  EXPECT_TRUE(cmd_fires(*question, "PROGa.exe"));
  EXPECT_FALSE(cmd_fires(*question, "prog.exe"));
  EXPECT_FALSE(cmd_fires(*question, "progab.exe"));
  auto inner = cmdline_rule("CommandLine|contains: 'a*b?c'");
  EXPECT_TRUE(cmd_fires(*inner, "xx a123bZc yy"));
  EXPECT_FALSE(cmd_fires(*inner, "a123bc"));
  auto many = cmdline_rule("CommandLine: '*a*a*a*b'");
  EXPECT_TRUE(cmd_fires(*many, "aaaaaaaab"));
  EXPECT_FALSE(cmd_fires(*many, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac"));
  auto only_star = cmdline_rule("CommandLine: '*'");
  EXPECT_TRUE(cmd_fires(*only_star, "anything"));
}

TEST(RulesMatching, BackslashEscapesWildcards) {
  auto literal_star = cmdline_rule(R"(CommandLine: 'a\*b')");
  EXPECT_TRUE(cmd_fires(*literal_star, "a*b"));
  EXPECT_FALSE(cmd_fires(*literal_star, "axxb"));
  auto literal_question = cmdline_rule(R"(CommandLine: 'why\?')");
  EXPECT_TRUE(cmd_fires(*literal_question, "why?"));
  EXPECT_FALSE(cmd_fires(*literal_question, "whyx"));
  // `\\*` is a backslash followed by a wildcard; a lone `\` stays a backslash.
  auto backslash_then_star = cmdline_rule(R"(CommandLine: 'C:\\*')");
  EXPECT_TRUE(cmd_fires(*backslash_then_star, R"(C:\Windows)"));
  auto plain_backslash = cmdline_rule(R"(CommandLine: 'a\b')");
  EXPECT_TRUE(cmd_fires(*plain_backslash, R"(a\b)"));
}

TEST(RulesMatching, MapIsAndListOfMapsIsOr) {
  auto and_map =
      load_ok(exec_rule("  selection:\n    Image|endswith: /nc\n    CommandLine|contains: ' -e '\n"
                        "  condition: selection\n"));
  EXPECT_TRUE(fires(*and_map, exec_event("/usr/bin/nc", "nc -e /bin/sh h 1")));
  EXPECT_FALSE(fires(*and_map, exec_event("/usr/bin/nc", "nc -z h 1")));
  auto or_list = load_ok(
      exec_rule("  selection:\n    - Image|endswith: /nc\n    - CommandLine|contains: ' -e '\n"
                "  condition: selection\n"));
  EXPECT_TRUE(fires(*or_list, exec_event("/usr/bin/nc", "nc -z h 1")));
  EXPECT_TRUE(fires(*or_list, exec_event("/usr/bin/x", "x -e y")));
  EXPECT_FALSE(fires(*or_list, exec_event("/usr/bin/x", "x")));
}

TEST(RulesMatching, NumericAndVigieFields) {
  auto engine = load_ok(exec_rule(
      "  selection:\n    ProcessId: 4242\n    ParentProcessId: 1\n    job.id: '77'\n"
      "    job.user: alice\n    workload.kind: slurm_job\n    site: cc-in2p3\n    host: node1\n"
      "    User: alice\n  condition: selection\n"));
  Event event = exec_event("/bin/x", "x");
  event.pid = 4242;
  event.ppid = 1;
  event.user = "alice";
  event.site = "cc-in2p3";
  event.host = "node1";
  event.workload = {protocol::WorkloadKind::kSlurmJob, "77", "alice", ""};
  EXPECT_TRUE(fires(*engine, event));
  event.pid = 42;
  EXPECT_FALSE(fires(*engine, event));
  event.pid = 4242;
  // job.* exist only for Slurm jobs.
  event.workload.kind = protocol::WorkloadKind::kContainer;
  EXPECT_FALSE(fires(*engine, event));
}

TEST(RulesMatching, NullMatchesAbsentFieldOnly) {
  auto engine = load_ok(
      exec_rule("  selection:\n    Image|endswith: /x\n  no_parent:\n    ParentImage: null\n"
                "  condition: selection and no_parent\n"));
  Event event = exec_event("/bin/x", "x");
  EXPECT_TRUE(fires(*engine, event));
  std::get<protocol::ProcessExec>(event.body).parent_image = "/bin/bash";
  EXPECT_FALSE(fires(*engine, event));
  // CurrentDirectory is not collected yet: always absent.
  auto cwd =
      load_ok(exec_rule("  selection:\n    CurrentDirectory|contains: tmp\n"
                        "  condition: selection\n"));
  EXPECT_FALSE(fires(*cwd, event));
}

TEST(RulesMatching, NetworkConnectionFields) {
  auto engine = load_ok(
      "title: t\nid: n1\nlevel: medium\nlogsource: {product: linux, category: network_connection}\n"
      "detection:\n  selection:\n    Initiated: 'true'\n    Protocol: TCP\n"
      "    DestinationPort: [3333, 14444]\n    DestinationIp|startswith: '127.'\n"
      "    Image|endswith: /xmrig\n  condition: selection\n");
  Event event;
  event.body =
      protocol::NetworkConnect{protocol::Transport::kTcp, false, "127.0.0.1", 3333, "/tmp/xmrig"};
  EXPECT_TRUE(fires(*engine, event));
  std::get<protocol::NetworkConnect>(event.body).transport = protocol::Transport::kUdp;
  EXPECT_FALSE(fires(*engine, event));
  // A network rule never sees exec events, even with a matching image.
  EXPECT_FALSE(fires(*engine, exec_event("/tmp/xmrig", "xmrig")));
}

TEST(RulesMatching, LogonIdIsTheAuditLoginUidAndAbsentOutsideALogin) {
  auto engine = load_ok(exec_rule("  selection:\n    LogonId: 0\n  condition: selection\n"));
  auto unset = load_ok(exec_rule("  selection:\n    LogonId: null\n  condition: selection\n"));
  Event event = exec_event("/bin/sh", "sh");
  EXPECT_FALSE(fires(*engine, event));  // kLoginUidUnset: no login session
  EXPECT_TRUE(fires(*unset, event));
  event.login_uid = 0;
  EXPECT_TRUE(fires(*engine, event));
  EXPECT_FALSE(fires(*unset, event));
  event.login_uid = 1000;
  EXPECT_FALSE(fires(*engine, event));
}

TEST(RulesMatching, DestinationHostnameIsTheLookedUpName) {
  auto engine = load_ok(
      "title: t\nid: n2\nlevel: high\nlogsource: {product: linux, category: network_connection}\n"
      "detection:\n  selection:\n    DestinationHostname|endswith: '.ngrok.io'\n"
      "  condition: selection\n");
  protocol::NetworkConnect connect;
  connect.destination_ip = "3.1.2.3";
  connect.destination_port = 443;
  Event event;
  event.body = connect;
  EXPECT_FALSE(fires(*engine, event));  // the eBPF sensor leaves it empty: absent
  connect.destination_hostname = "abc.eu.NGROK.io";
  event.body = connect;
  EXPECT_TRUE(fires(*engine, event));
  connect.destination_hostname = "ngrok.io.example.org";
  event.body = connect;
  EXPECT_FALSE(fires(*engine, event));
}

// The prefilter skips a rule only when a literal every match needs is absent.
TEST(RulesPrefilter, CaseSensitiveRegexIsFilteredByItsRequiredLiterals) {
  auto engine = cmdline_rule("CommandLine|re: '(stratum|nicehash)\\+tcp://[a-z.]+:[0-9]+'");
  EXPECT_EQ(engine->unfiltered_rules(), 0u);
  EXPECT_TRUE(cmd_fires(*engine, "xmrig -o stratum+tcp://pool.example:3333"));
  EXPECT_TRUE(cmd_fires(*engine, "m nicehash+tcp://a.b:1"));
  EXPECT_FALSE(cmd_fires(*engine, "xmrig -o STRATUM+tcp://pool.example:3333"));  // case-sensitive
  const auto skipped = engine->explain(exec_event("/bin/ls", "ls -la"));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_TRUE(skipped[0].prefilter_skipped);
  // Case-insensitive expressions (RE2 folds Unicode case) are always evaluated.
  auto caseless = cmdline_rule("CommandLine|re|i: 'stratum\\+tcp://'");
  EXPECT_EQ(caseless->unfiltered_rules(), 1u);
  EXPECT_TRUE(cmd_fires(*caseless, "x STRATUM+TCP://y"));
  // An expression that needs no literal cannot be prefiltered.
  EXPECT_EQ(cmdline_rule("CommandLine|re: '^[a-z]+$'")->unfiltered_rules(), 1u);
}

TEST(RulesPrefilter, PrefersLiteralsOfFreeTextFields) {
  // "slurm_job" is the longer literal, but every job event carries it.
  auto engine = load_ok(exec_rule(
      "  job:\n    workload.kind: slurm_job\n  tool:\n    Image|endswith: [/nmap, /masscan]\n"
      "  condition: job and tool\n"));
  Event event = exec_event("/usr/bin/ls", "ls");
  event.workload = {protocol::WorkloadKind::kSlurmJob, "77", "alice", ""};
  const auto explained = engine->explain(event);
  ASSERT_EQ(explained.size(), 1u);
  EXPECT_TRUE(explained[0].prefilter_skipped);
  event.body = protocol::ProcessExec{};
  std::get<protocol::ProcessExec>(event.body).image = "/opt/bin/NMAP";
  EXPECT_TRUE(fires(*engine, event));
}

TEST(RulesMatching, AlertCarriesRuleMetadataAndEvent) {
  auto engine = load_ok(
      "title: Miner\nid: 0d6c5b4c-0000-4000-8000-000000000001\nlevel: critical\n"
      "tags: [attack.impact, attack.t1496]\nlogsource: {product: linux, category: "
      "process_creation}\n"
      "detection:\n  sel:\n    Image|endswith: /xmrig\n  condition: sel\n");
  const Event event = exec_event("/tmp/xmrig", "xmrig");
  std::vector<protocol::Alert> alerts;
  engine->evaluate(event, alerts);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule_id, "0d6c5b4c-0000-4000-8000-000000000001");
  EXPECT_EQ(alerts[0].rule_title, "Miner");
  EXPECT_EQ(alerts[0].level, "critical");
  EXPECT_EQ(alerts[0].tags, (std::vector<std::string>{"attack.impact", "attack.t1496"}));
  EXPECT_EQ(alerts[0].event, event);
  // Process exit events have no rules: nothing raised, nothing thrown.
  Event exit_event;
  exit_event.body = protocol::ProcessExit{0, 9, "/tmp/xmrig"};
  alerts.clear();
  engine->evaluate(exit_event, alerts);
  EXPECT_TRUE(alerts.empty());
}

}  // namespace
}  // namespace vigie::rules::test
