// Sigma modifiers, keyword lists, logsource mapping and the IOC modifier, over the public API.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_util.h"
#include "vigie/rules/ioc.h"

namespace vigie::rules::test {
namespace {

namespace fs = std::filesystem;

std::string rule(const std::string& category, const std::string& detection) {
  return "title: t\nid: r1\nlevel: high\nlogsource:\n  product: linux\n  category: " + category +
         "\ndetection:\n" + detection;
}

bool raises(const Engine& engine, const protocol::Event& event) {
  std::vector<protocol::Alert> fast, naive;
  engine.evaluate(event, fast);
  engine.evaluate_naive(event, naive);
  EXPECT_EQ(fast, naive);
  return !fast.empty();
}

protocol::Event connect(const std::string& ip, uint16_t port) {
  protocol::Event event;
  event.uid = 1000;
  event.body = protocol::NetworkConnect{{protocol::Transport::kTcp, false, ip, port, "/usr/bin/x"}};
  return event;
}

TEST(RulesModifiers, RegexWithFlagsIsCaseSensitiveByDefault) {
  auto engine = load_ok(
      rule("process_creation", "  sel:\n    CommandLine|re: '\\s-O\\s'\n  condition: sel\n"));
  EXPECT_TRUE(raises(*engine, exec_event("/usr/bin/wget", "wget -O /tmp/x http://a")));
  EXPECT_FALSE(raises(*engine, exec_event("/usr/bin/wget", "wget -o /tmp/x http://a")));
  auto insensitive = load_ok(
      rule("process_creation", "  sel:\n    CommandLine|re|i: '\\s-O\\s'\n  condition: sel\n"));
  EXPECT_TRUE(raises(*insensitive, exec_event("/usr/bin/wget", "wget -o /tmp/x http://a")));
}

TEST(RulesModifiers, CasedAndDefaultCaseInsensitivity) {
  auto engine = load_ok(
      rule("process_creation", "  sel:\n    Image|endswith|cased: /XMRig\n  condition: sel\n"));
  EXPECT_TRUE(raises(*engine, exec_event("/tmp/XMRig", "")));
  EXPECT_FALSE(raises(*engine, exec_event("/tmp/xmrig", "")));
  auto plain =
      load_ok(rule("process_creation", "  sel:\n    Image|endswith: /XMRig\n  condition: sel\n"));
  EXPECT_TRUE(raises(*plain, exec_event("/tmp/xmrig", "")));
}

TEST(RulesModifiers, CidrIpv4AndIpv6) {
  auto engine = load_ok(rule("network_connection",
                             "  sel:\n    DestinationIp|cidr: [10.0.0.0/8, '2001:db8::/32']\n"
                             "  condition: sel\n"));
  EXPECT_TRUE(raises(*engine, connect("10.200.1.1", 1)));
  EXPECT_TRUE(raises(*engine, connect("2001:db8:ffff::9", 1)));
  EXPECT_FALSE(raises(*engine, connect("11.0.0.1", 1)));
  EXPECT_FALSE(raises(*engine, connect("2001:db9::1", 1)));
  EXPECT_FALSE(raises(*engine, connect("not-an-ip", 1)));
}

TEST(RulesModifiers, NumericComparisonsAndNeq) {
  auto engine =
      load_ok(rule("network_connection",
                   "  sel:\n    DestinationPort|gte: 1024\n    DestinationPort|neq: 8080\n"
                   "  condition: sel\n"));
  EXPECT_TRUE(raises(*engine, connect("192.0.2.1", 1024)));
  EXPECT_FALSE(raises(*engine, connect("192.0.2.1", 1023)));
  EXPECT_FALSE(raises(*engine, connect("192.0.2.1", 8080)));
}

TEST(RulesModifiers, ExistsAndNull) {
  auto engine = load_ok(rule("process_creation",
                             "  sel:\n    job.id|exists: true\n    ParentImage: null\n"
                             "  condition: sel\n"));
  protocol::Event event = exec_event("/x", "x");
  EXPECT_FALSE(raises(*engine, event));
  event.workload = {protocol::WorkloadKind::kSlurmJob, "42", "alice", ""};
  EXPECT_TRUE(raises(*engine, event));
  std::get<protocol::ProcessExec>(event.body).parent_image = "/bin/bash";
  EXPECT_FALSE(raises(*engine, event));
}

TEST(RulesModifiers, Base64AndBase64Offset) {
  // "curl" in base64 at the three byte offsets (pySigma's base64offset).
  auto engine = load_ok(rule("process_creation",
                             "  sel:\n    CommandLine|base64offset|contains: 'curl '\n"
                             "  condition: sel\n"));
  for (const char* encoded : {"Y3VybCBodHRw", "IGN1cmwgaHR0", "ICBjdXJsIGh0"}) {
    EXPECT_TRUE(
        raises(*engine, exec_event("/bin/sh", std::string("echo ") + encoded + " | base64 -d")))
        << encoded;
  }
  EXPECT_FALSE(raises(*engine, exec_event("/bin/sh", "echo Y3VYBCBODHRW")));  // base64 is cased
  auto plain = load_ok(rule("process_creation",
                            "  sel:\n    CommandLine|base64|contains: 'curl'\n  condition: sel\n"));
  EXPECT_TRUE(raises(*plain, exec_event("/bin/sh", "echo Y3VybA== | base64 -d")));
}

TEST(RulesModifiers, FieldrefComparesTwoFieldsOfTheEvent) {
  auto engine = load_ok(
      rule("ptrace", "  sel:\n    ptrace.target_uid|fieldref|neq: uid\n  condition: sel\n"));
  protocol::Event event;
  event.uid = 1000;
  event.body = protocol::Ptrace{16, 7, 1000, "/usr/bin/python3", "/usr/bin/gdb", 0};
  EXPECT_FALSE(raises(*engine, event));
  std::get<protocol::Ptrace>(event.body).target_uid = 1001;
  EXPECT_TRUE(raises(*engine, event));
}

TEST(RulesModifiers, WindashExpandsDashes) {
  auto engine = load_ok(rule(
      "process_creation", "  sel:\n    CommandLine|windash|contains: ' -e '\n  condition: sel\n"));
  EXPECT_TRUE(raises(*engine, exec_event("/bin/nc", "nc /e /bin/sh")));
  EXPECT_TRUE(raises(*engine, exec_event("/bin/nc", "nc -e /bin/sh")));
  EXPECT_FALSE(raises(*engine, exec_event("/bin/nc", "nc -z host")));
}

TEST(RulesModifiers, KeywordsSearchEveryTextField) {
  auto engine =
      load_ok(rule("process_creation", "  keywords:\n    - 'xmrig'\n  condition: keywords\n"));
  EXPECT_TRUE(raises(*engine, exec_event("/usr/bin/bash", "bash -c ./XMRIG")));
  protocol::Event parent = exec_event("/usr/bin/sleep", "sleep 1");
  std::get<protocol::ProcessExec>(parent.body).parent_image = "/tmp/xmrig";
  EXPECT_TRUE(raises(*engine, parent));
  EXPECT_FALSE(raises(*engine, exec_event("/usr/bin/ls", "ls")));
}

TEST(RulesLogsource, FileEventNeedsAWriteFileAccessDoesNot) {
  const std::string detection = "  sel:\n    TargetFilename: /etc/shadow\n  condition: sel\n";
  auto written = load_ok(rule("file_event", detection));
  auto accessed = load_ok(rule("file_access", detection));
  protocol::Event event;
  event.body = protocol::FileOpen{"/etc/shadow", 0, false, false, false, "/usr/bin/cat", 0};
  EXPECT_FALSE(raises(*written, event));
  EXPECT_TRUE(raises(*accessed, event));
  std::get<protocol::FileOpen>(event.body).write = true;
  EXPECT_TRUE(raises(*written, event));
}

TEST(RulesLogsource, NetworkConnectionCoversConnectAndAcceptThroughInitiated) {
  auto engine =
      load_ok(rule("network_connection",
                   "  sel:\n    DestinationPort: 22\n    Initiated: 'false'\n  condition: sel\n"));
  protocol::Event accept;
  accept.body = protocol::NetworkAccept{
      {protocol::Transport::kTcp, false, "192.0.2.1", 22, "/usr/sbin/sshd"}};
  EXPECT_TRUE(raises(*engine, accept));
  EXPECT_FALSE(raises(*engine, connect("192.0.2.1", 22)));
}

TEST(RulesIoc, CsvAndMispSetsMatchIpsCidrsDomainsHashesAndNames) {
  const fs::path dir = fs::path(::testing::TempDir()) / "vigie_rules_ioc";
  fs::create_directories(dir);
  std::ofstream(dir / "bad.csv") << "type,value\nip,198.51.100.7\ncidr,203.0.113.0/24\n"
                                    "domain,pool.example\nsha256,"
                                 << std::string(64, 'a')
                                 << "\nfilename,xmrig\nbogus,1\nip,999.1.1.1\n";
  std::ofstream(dir / "misp.json")
      << R"({"Event": {"Attribute": [{"type": "ip-dst|port", "value": "192.0.2.50|3333", "to_ids": true},
            {"type": "ip-dst", "value": "192.0.2.51", "to_ids": false},
            {"type": "ip-dst", "value": "192.0.2.52", "to_ids": true, "deleted": true}],
            "Object": [{"Attribute": [{"type": "domain", "value": "Evil.Example."}]}]}})";
  IocStore store;
  std::vector<Diagnostic> diagnostics;
  EXPECT_EQ(store.load_csv("pools", dir / "bad.csv", diagnostics), 5u);
  ASSERT_EQ(diagnostics.size(), 2u);
  EXPECT_EQ(diagnostics[0].line, 7);
  EXPECT_EQ(diagnostics[1].line, 8);
  std::size_t skipped = 0;
  EXPECT_EQ(store.load_misp_json("misp", dir / "misp.json", diagnostics, &skipped), 2u);
  EXPECT_EQ(skipped, 2u);  // not for detection, and revoked
  const auto pools = store.find("pools");
  ASSERT_TRUE(pools);
  EXPECT_TRUE(pools->matches("198.51.100.7"));
  EXPECT_TRUE(pools->matches("::ffff:198.51.100.7"));
  EXPECT_TRUE(pools->matches("203.0.113.200"));
  EXPECT_FALSE(pools->matches("203.0.114.1"));
  EXPECT_TRUE(pools->matches("eu.pool.example"));
  EXPECT_FALSE(pools->matches("notpool.example"));
  EXPECT_TRUE(pools->matches("SHA256=" + std::string(64, 'A')));
  EXPECT_TRUE(pools->matches("/tmp/.x/xmrig"));
  const auto misp = store.find("misp");
  EXPECT_TRUE(misp->matches("192.0.2.50"));
  EXPECT_FALSE(misp->matches("192.0.2.51"));
  EXPECT_FALSE(misp->matches("192.0.2.52"));  // a revoked indicator never matches
  EXPECT_TRUE(misp->matches("a.evil.example"));

  LoadOptions options;
  options.iocs = std::make_shared<IocStore>(store);
  const LoadResult result = load_rules_yaml(
      rule("network_connection", "  sel:\n    DestinationIp|ioc: misp\n  condition: sel\n"),
      "r.yml", options);
  ASSERT_EQ(result.rules_loaded, 1)
      << (result.diagnostics.empty() ? "" : to_string(result.diagnostics[0]));
  EXPECT_TRUE(raises(*result.engine, connect("192.0.2.50", 1)));
  EXPECT_FALSE(raises(*result.engine, connect("192.0.2.51", 1)));
}

TEST(RulesIoc, UserAndKeySetsMatchExactly) {
  // The CSIRT ban list's sets (csirt/ban.h ban_ioc_lists): user names and
  // SSH key fingerprints, compared byte for byte.
  const fs::path dir = fs::path(::testing::TempDir()) / "vigie_rules_ioc_exact";
  fs::create_directories(dir);
  const std::string key = "SHA256:" + std::string(43, 'Q');
  std::ofstream(dir / "ban.users.csv")
      << "type,value\nuser,mallory\ntarget-user,eve\nsshkey," << key << "\n";
  IocStore store;
  std::vector<Diagnostic> diagnostics;
  EXPECT_EQ(store.load_csv("ban.users", dir / "ban.users.csv", diagnostics), 3u);
  EXPECT_TRUE(diagnostics.empty());
  const auto users = store.find("ban.users");
  ASSERT_TRUE(users);
  EXPECT_TRUE(users->matches("mallory"));
  EXPECT_TRUE(users->matches("eve"));
  EXPECT_TRUE(users->matches(key));
  EXPECT_FALSE(users->matches("Mallory"));  // user names are case-sensitive
  EXPECT_FALSE(users->matches("mallory2"));
  EXPECT_FALSE(users->matches("/home/mallory"));

  LoadOptions options;
  options.iocs = std::make_shared<IocStore>(store);
  const LoadResult result = load_rules_yaml(
      rule("process_creation", "  sel:\n    User|ioc: ban.users\n  condition: sel\n"), "r.yml",
      options);
  ASSERT_EQ(result.rules_loaded, 1)
      << (result.diagnostics.empty() ? "" : to_string(result.diagnostics[0]));
}

TEST(RulesExplain, NamesTheSelectionAndFieldThatFailed) {
  auto engine =
      load_ok(rule("process_creation",
                   "  img:\n    Image|endswith: /nc\n  cli:\n    CommandLine|contains: ' -e '\n"
                   "  condition: img and cli\n"));
  const auto explanations = engine->explain(exec_event("/usr/bin/nc", "nc -z host 22"));
  ASSERT_EQ(explanations.size(), 1u);
  EXPECT_FALSE(explanations[0].matched);
  ASSERT_EQ(explanations[0].selections.size(), 2u);
  EXPECT_TRUE(explanations[0].selections[0].matched);
  EXPECT_FALSE(explanations[0].selections[1].matched);
  EXPECT_EQ(explanations[0].selections[1].failed_fields,
            std::vector<std::string>{"CommandLine|contains"});
}

}  // namespace
}  // namespace vigie::rules::test
