// Rule loading: metadata, directory walking, and every refusal diagnostic.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_util.h"

namespace vigie::rules::test {
namespace {

namespace fs = std::filesystem;

const std::string kSelection = "  sel:\n    Image|endswith: /x\n  condition: sel\n";

TEST(RulesLoader, LoadsMetadata) {
  auto engine = load_ok(
      "title: Some Rule\nid: 11111111-2222-4333-8444-555555555555\nstatus: test\nlevel: low\n"
      "tags:\n  - attack.t1496\nauthor: someone\nreferences: [x]\n"
      "logsource:\n  product: linux\n  category: process_creation\ndetection:\n" +
      kSelection);
  ASSERT_EQ(engine->rules().size(), 1u);
  const RuleInfo& info = engine->rules()[0];
  EXPECT_EQ(info.id, "11111111-2222-4333-8444-555555555555");
  EXPECT_EQ(info.title, "Some Rule");
  EXPECT_EQ(info.status, "test");
  EXPECT_EQ(info.level, "low");
  EXPECT_EQ(info.tags, std::vector<std::string>{"attack.t1496"});
  EXPECT_EQ(info.event_kinds, std::vector<protocol::EventKind>{protocol::EventKind::kProcessExec});
  EXPECT_EQ(info.category, "process_creation");
  EXPECT_EQ(info.file, "test.yml");
  EXPECT_EQ(info.line, 1);
}

struct BadRule {
  std::string name;
  std::string yaml;
  int line;
  std::string message;
};
// Names the case in test listings instead of dumping its bytes.
void PrintTo(const BadRule& r, std::ostream* os) { *os << r.name; }

class RulesRefused : public ::testing::TestWithParam<BadRule> {};

TEST_P(RulesRefused, WithFileLineAndFeature) {
  const Diagnostic diagnostic = refused(GetParam().yaml);
  EXPECT_EQ(diagnostic.file, "bad.yml");
  EXPECT_EQ(diagnostic.line, GetParam().line) << diagnostic.message;
  EXPECT_NE(diagnostic.message.find(GetParam().message), std::string::npos) << diagnostic.message;
}

const std::string kHeader = "title: t\nid: r1\nlevel: high\n";  // lines 1-3
const std::string kExecLogsource = "logsource:\n  product: linux\n  category: process_creation\n";

INSTANTIATE_TEST_SUITE_P(
    All, RulesRefused,
    ::testing::Values(
        BadRule{"BadYaml", "title: t\nid: [unclosed\nlevel: high\n", 3, "invalid YAML"},
        BadRule{"NotAMap", "- just\n- a list\n", 1, "a rule must be a YAML map"},
        BadRule{"Empty", "", 0, "file holds no rule"},
        BadRule{"GlobalAction", "action: global\n" + kHeader, 1,
                "action 'global' is not supported"},
        BadRule{"LoneComma", ",", 1, "a rule must be a YAML map"},
        BadRule{"MissingId", "title: t\nlevel: high\n" + kExecLogsource, 1, "missing 'id'"},
        BadRule{"MissingTitle", "id: x\nlevel: high\n", 1, "missing 'title'"},
        BadRule{"MissingLevel", "title: t\nid: x\n", 1, "missing 'level'"},
        BadRule{"UnknownLevel", "title: t\nid: x\nlevel: severe\n", 3, "unknown level 'severe'"},
        BadRule{"UnknownStatus", "title: t\nid: x\nstatus: beta\nlevel: low\n", 3,
                "unknown status 'beta'"},
        BadRule{"TagsNotList", kHeader + "tags: attack\n", 4, "'tags' must be a list"},
        BadRule{"MissingLogsource", kHeader + "detection:\n" + kSelection, 1,
                "missing or malformed 'logsource'"},
        BadRule{"UnmappedProduct",
                kHeader + "logsource:\n  product: windows\n  category: process_creation\n", 5,
                "unsupported logsource: product 'windows'"},
        BadRule{"UnmappedCategory",
                kHeader + "logsource:\n  product: linux\n  category: image_load\n", 5,
                "unsupported logsource: category 'image_load'"},
        BadRule{"UnmappedService", kHeader + "logsource:\n  product: linux\n  service: auditd\n", 6,
                "unsupported logsource: service 'auditd'"},
        BadRule{"MissingDetection", kHeader + kExecLogsource, 1,
                "missing or malformed 'detection'"},
        BadRule{"UnknownField",
                kHeader + kExecLogsource +
                    "detection:\n  sel:\n    TargetFilename: x\n"
                    "  condition: sel\n",
                9, "unknown field 'TargetFilename'"},
        BadRule{"NetworkFieldOnExec",
                kHeader + kExecLogsource +
                    "detection:\n  sel:\n    DestinationPort: 1\n"
                    "  condition: sel\n",
                9, "unknown field 'DestinationPort'"},
        BadRule{"UnknownModifier",
                kHeader + kExecLogsource +
                    "detection:\n  sel:\n    Image: x\n"
                    "    CommandLine|wild: 'a.*b'\n  condition: sel\n",
                10, "field 'CommandLine': unsupported modifier 'wild'"},
        BadRule{"Utf16Modifier",
                kHeader + kExecLogsource +
                    "detection:\n  sel:\n    CommandLine|wide|base64: x\n  condition: sel\n",
                9, "unsupported modifier 'wide' (Vigie's Linux event fields are UTF-8 text)"},
        BadRule{"BadRegex",
                kHeader + kExecLogsource +
                    "detection:\n  sel:\n    CommandLine|re: '(?<=a)b'\n  condition: sel\n",
                9, "rejected by RE2"},
        BadRule{"BadCidr",
                kHeader + "logsource:\n  product: linux\n  category: network_connection\n" +
                    "detection:\n  sel:\n    DestinationIp|cidr: 10.0.0.0/33\n  condition: sel\n",
                9, "'10.0.0.0/33' is not a CIDR range"},
        BadRule{"UnknownIocList",
                kHeader + "logsource:\n  product: linux\n  category: network_connection\n" +
                    "detection:\n  sel:\n    DestinationIp|ioc: pools\n  condition: sel\n",
                9, "no IOC list named 'pools'"},
        BadRule{"ReFlagWithoutRe",
                kHeader + kExecLogsource +
                    "detection:\n  sel:\n    CommandLine|i: x\n  condition: sel\n",
                9, "modifier 'i' applies only after 're'"},
        BadRule{"ExistsNotBool",
                kHeader + kExecLogsource +
                    "detection:\n  sel:\n    CommandLine|exists: maybe\n  condition: sel\n",
                9, "'exists' takes true or false"},
        BadRule{"NumericNotNumber",
                kHeader + kExecLogsource +
                    "detection:\n  sel:\n    ProcessId|gt: many\n  condition: sel\n",
                9, "'many' is not a number"},
        BadRule{"FieldrefUnknown",
                kHeader + kExecLogsource +
                    "detection:\n  sel:\n    User|fieldref: Nope\n  condition: sel\n",
                9, "unknown field 'Nope'"},
        BadRule{"TwoPositionModifiers",
                kHeader + kExecLogsource +
                    "detection:\n  sel:\n"
                    "    Image|contains|endswith: x\n  condition: sel\n",
                9, "combines contains/startswith/endswith"},
        BadRule{"KeywordMixedWithMap",
                kHeader + kExecLogsource +
                    "detection:\n  keywords:\n    - evil\n    - {Image: x}\n"
                    "  condition: keywords\n",
                10, "mixes maps and keywords"},
        BadRule{"ModifiersWithoutField",
                kHeader + kExecLogsource +
                    "detection:\n  keywords:\n    '|all': [a, b]\n"
                    "  condition: keywords\n",
                9, "modifiers without a field name ('|all')"},
        BadRule{"MapValue",
                kHeader + kExecLogsource +
                    "detection:\n  sel:\n    Image: {a: b}\n"
                    "  condition: sel\n",
                9, "must be a scalar or a list of scalars"},
        BadRule{"EmptyList",
                kHeader + kExecLogsource +
                    "detection:\n  sel:\n    Image: []\n"
                    "  condition: sel\n",
                9, "empty value list for field 'Image'"},
        BadRule{"MissingCondition", kHeader + kExecLogsource + "detection:\n  sel:\n    Image: x\n",
                8, "detection has no 'condition'"},
        BadRule{"Timeframe",
                kHeader + kExecLogsource +
                    "detection:\n  sel:\n    Image: x\n"
                    "  timeframe: 5m\n  condition: sel\n",
                10, "'timeframe'"},
        BadRule{"CorrelationWithoutRules", kHeader + "correlation:\n  type: event_count\n", 5,
                "correlation needs 'rules'"},
        BadRule{"CorrelationBadType", kHeader + "correlation:\n  type: value_sum\n", 5,
                "unsupported correlation type 'value_sum'"}),
    [](const ::testing::TestParamInfo<BadRule>& info) { return info.param.name; });

TEST(RulesLoader, DuplicateIdIsRefusedOthersStillLoad) {
  const fs::path dir = fs::path(::testing::TempDir()) / "vigie_rules_loader_dup";
  fs::remove_all(dir);
  fs::create_directories(dir / "fixtures");
  fs::create_directories(dir / "sub");
  const std::string rule = kHeader + kExecLogsource + "detection:\n" + kSelection;
  std::ofstream(dir / "a.yml") << rule;
  std::ofstream(dir / "b.yml") << rule;  // same id r1
  std::ofstream(dir / "sub" / "c.yaml")
      << "title: t\nid: r2\nlevel: high\n" + kExecLogsource + "detection:\n" + kSelection;
  std::ofstream(dir / "d.yml") << "title: [broken\n";
  std::ofstream(dir / "notes.txt") << "not a rule";
  std::ofstream(dir / "fixtures" / "a.yml") << "rule: r1\n";  // skipped: fixtures are not rules
  std::ofstream(dir / "VERSION") << "1.2.3\n";

  const LoadResult result = load_rules(dir);
  EXPECT_EQ(result.rules_total, 4);
  EXPECT_EQ(result.rules_loaded, 2);
  EXPECT_EQ(result.summary(), "loaded 2 of 4 rules");
  EXPECT_EQ(result.engine->pack_version(), "1.2.3");
  ASSERT_EQ(result.diagnostics.size(), 2u);
  EXPECT_EQ(result.diagnostics[0].file, (dir / "b.yml").string());
  EXPECT_EQ(result.diagnostics[0].line, 2);
  EXPECT_NE(result.diagnostics[0].message.find("duplicate rule id 'r1', first loaded from " +
                                               (dir / "a.yml").string() + ":1"),
            std::string::npos)
      << result.diagnostics[0].message;
  EXPECT_EQ(result.diagnostics[1].file, (dir / "d.yml").string());
  EXPECT_NE(result.diagnostics[1].message.find("invalid YAML"), std::string::npos);
  fs::remove_all(dir);
}

TEST(RulesLoader, MissingPathIsADiagnostic) {
  const LoadResult result = load_rules("/nonexistent/vigie/rules.yml");
  ASSERT_NE(result.engine, nullptr);
  EXPECT_EQ(result.rules_loaded, 0);
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].file, "/nonexistent/vigie/rules.yml");
  EXPECT_NE(result.diagnostics[0].message.find("cannot read"), std::string::npos);
}

TEST(RulesLoader, HostileYamlNeverCrashes) {
  for (const std::string& text :
       {std::string("\t\t: : : {"), std::string("&a [*a]"), std::string("!!binary ~~~"),
        std::string(5000, '['), std::string("title: t\nid: x\nlevel: high\ndetection: *nope\n"),
        std::string("\xff\xfe\x00garbage", 10)}) {
    const LoadResult result = load_rules_yaml(text, "hostile.yml");
    EXPECT_EQ(result.rules_loaded, 0);
    EXPECT_FALSE(result.diagnostics.empty());
  }
}

}  // namespace
}  // namespace vigie::rules::test
