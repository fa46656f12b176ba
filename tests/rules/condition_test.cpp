// Condition grammar: precedence, parentheses, quantifiers (rules specification §Condition).
#include <gtest/gtest.h>

#include "test_util.h"

namespace vigie::rules::test {
namespace {

// Selections a, b, c, sel_x, sel_y and _hidden match the command-line words
// "a", "b", "c", "x", "y" and "h" respectively.
std::shared_ptr<const Engine> with_condition(const std::string& condition) {
  return load_ok(exec_rule(
      "  a:\n    CommandLine|contains: ' a '\n  b:\n    CommandLine|contains: ' b '\n"
      "  c:\n    CommandLine|contains: ' c '\n  sel_x:\n    CommandLine|contains: ' x '\n"
      "  sel_y:\n    CommandLine|contains: ' y '\n  _hidden:\n    CommandLine|contains: ' h '\n"
      "  condition: " +
      condition + "\n"));
}

bool fires_on(const Engine& engine, const std::string& words) {
  return fires(engine, exec_event("/bin/x", " " + words + " "));
}

TEST(RulesCondition, NotBindsTighterThanAndTighterThanOr) {
  // not a and b or c == ((not a) and b) or c
  auto engine = with_condition("not a and b or c");
  EXPECT_TRUE(fires_on(*engine, "b"));
  EXPECT_FALSE(fires_on(*engine, "a b"));
  EXPECT_TRUE(fires_on(*engine, "a b c"));
  EXPECT_TRUE(fires_on(*engine, "c"));
  EXPECT_FALSE(fires_on(*engine, "a"));
  EXPECT_FALSE(fires_on(*engine, ""));
}

TEST(RulesCondition, ParenthesesOverridePrecedence) {
  auto engine = with_condition("not (a and b) and (b or c)");
  EXPECT_TRUE(fires_on(*engine, "b"));
  EXPECT_FALSE(fires_on(*engine, "a b"));
  EXPECT_TRUE(fires_on(*engine, "a c"));
  EXPECT_FALSE(fires_on(*engine, "a"));
  auto nested = with_condition("((a or (b)) and not not c)");
  EXPECT_TRUE(fires_on(*nested, "b c"));
  EXPECT_FALSE(fires_on(*nested, "b"));
}

TEST(RulesCondition, OneOfAndAllOfPattern) {
  auto one = with_condition("1 of sel_*");
  EXPECT_TRUE(fires_on(*one, "y"));
  EXPECT_FALSE(fires_on(*one, "a b"));
  auto all = with_condition("all of sel_* and not a");
  EXPECT_TRUE(fires_on(*all, "x y"));
  EXPECT_FALSE(fires_on(*all, "x"));
  EXPECT_FALSE(fires_on(*all, "x y a"));
  auto inner_star = with_condition("1 of s*_y");
  EXPECT_TRUE(fires_on(*inner_star, "y"));
  EXPECT_FALSE(fires_on(*inner_star, "x"));
}

TEST(RulesCondition, ThemExcludesUnderscoreIdentifiers) {
  auto one = with_condition("1 of them");
  EXPECT_TRUE(fires_on(*one, "c"));
  EXPECT_FALSE(fires_on(*one, "h"));
  auto all = with_condition("all of them");
  EXPECT_TRUE(fires_on(*all, "a b c x y"));
  EXPECT_FALSE(fires_on(*all, "a b c x"));
}

TEST(RulesCondition, ConditionListIsOr) {
  auto engine = load_ok(
      exec_rule("  a:\n    CommandLine|contains: ' a '\n  b:\n    CommandLine|contains: ' b '\n"
                "  condition:\n    - a\n    - b\n"));
  EXPECT_TRUE(fires_on(*engine, "b"));
  EXPECT_TRUE(fires_on(*engine, "a"));
  EXPECT_FALSE(fires_on(*engine, "c"));
}

struct BadCondition {
  std::string name;
  std::string condition;
  std::string message;
};
// Names the case in test listings instead of dumping its bytes.
void PrintTo(const BadCondition& c, std::ostream* os) { *os << c.name; }

class RulesBadCondition : public ::testing::TestWithParam<BadCondition> {};

TEST_P(RulesBadCondition, RefusedWithDiagnosticOnConditionLine) {
  const std::string yaml =
      exec_rule("  a:\n    CommandLine: x\n  condition: " + GetParam().condition + "\n");
  const Diagnostic diagnostic = refused(yaml);
  EXPECT_EQ(diagnostic.file, "bad.yml");
  EXPECT_EQ(diagnostic.line, 10);
  EXPECT_NE(diagnostic.message.find(GetParam().message), std::string::npos) << diagnostic.message;
}

INSTANTIATE_TEST_SUITE_P(
    All, RulesBadCondition,
    ::testing::Values(
        BadCondition{"UnknownIdentifier", "b", "unknown search identifier 'b'"},
        BadCondition{"TrailingAnd", "a and", "condition ends unexpectedly"},
        BadCondition{"UnclosedParenthesis", "(a", "condition ends unexpectedly"},
        BadCondition{"StrayParenthesis", "a )", "unexpected ')'"},
        BadCondition{"MissingOperator", "a b", "unexpected 'b'"},
        BadCondition{"TwoOf", "'2 of a*'", "unsupported quantifier '2 of'"},
        BadCondition{"PatternMatchesNothing", "1 of z*", "'1 of z*' matches no search identifier"},
        BadCondition{"Aggregation", "'a | count() > 5'", "aggregation expressions"},
        BadCondition{"KeywordAlone", "'and'", "unexpected 'and'"},
        BadCondition{"TooDeep", "'" + std::string(100, '(') + "a" + std::string(100, ')') + "'",
                     "nests deeper than"}),
    [](const ::testing::TestParamInfo<BadCondition>& info) { return info.param.name; });

}  // namespace
}  // namespace vigie::rules::test
