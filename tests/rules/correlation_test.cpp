// Correlation rules (event_count, value_count, temporal, temporal_ordered) and
// threshold/absence rules with Prometheus `for:` semantics.
#include "vigie/rules/correlation.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace vigie::rules::test {
namespace {

constexpr uint64_t kSecond = 1'000'000'000ull;

const std::string kBase =
    "title: a\nid: rule-a\nname: rule_a\nlevel: low\nlogsource:\n  product: linux\n"
    "  category: network_connection\ndetection:\n  sel:\n    Initiated: 'true'\n  condition: sel\n"
    "---\n"
    "title: b\nid: rule-b\nlevel: low\nlogsource:\n  product: linux\n"
    "  category: process_creation\ndetection:\n  sel:\n    Image|endswith: /b\n  condition: sel\n";

LoadResult load_with(const std::string& correlation) {
  LoadResult result = load_rules_yaml(kBase + "---\n" + correlation, "c.yml");
  for (const Diagnostic& d : result.diagnostics) ADD_FAILURE() << to_string(d);
  return result;
}

protocol::Alert alert(const std::string& rule_id, uint64_t time_ns, uint16_t port = 22,
                      const std::string& host = "n1") {
  protocol::Alert a;
  a.rule_id = rule_id;
  a.level = "low";
  a.event.time_ns = time_ns;
  a.event.host = host;
  a.event.body =
      protocol::NetworkConnect{{protocol::Transport::kTcp, false, "192.0.2.1", port, "/x"}};
  return a;
}

TEST(RulesCorrelation, ValueCountByGroupWithinTimespan) {
  const LoadResult result = load_with(
      "title: scan\nid: scan\nlevel: high\ncorrelation:\n  type: value_count\n  rules: [rule_a]\n"
      "  group-by: [host]\n  timespan: 10s\n  condition:\n    field: DestinationPort\n    gte: "
      "3\n");
  ASSERT_EQ(result.rules_loaded, 3);
  ASSERT_EQ(result.correlations.size(), 1u);
  Correlator correlator(result.correlations, *result.engine);
  EXPECT_TRUE(correlator.correlation_only("rule-a"));
  EXPECT_FALSE(correlator.correlation_only("rule-b"));
  std::vector<protocol::Alert> out;
  correlator.feed(alert("rule-a", 1 * kSecond, 22), out);
  correlator.feed(alert("rule-a", 2 * kSecond, 22), out);        // same value
  correlator.feed(alert("rule-a", 3 * kSecond, 23, "n2"), out);  // other group
  correlator.feed(alert("rule-a", 4 * kSecond, 24), out);
  EXPECT_TRUE(out.empty());
  correlator.feed(alert("rule-a", 20 * kSecond, 25), out);  // 22 and 24 expired
  EXPECT_TRUE(out.empty());
  correlator.feed(alert("rule-a", 21 * kSecond, 26), out);
  correlator.feed(alert("rule-a", 22 * kSecond, 27), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].rule_id, "scan");
  EXPECT_EQ(out[0].level, "high");
  EXPECT_EQ(out[0].event.host, "n1");
  EXPECT_EQ(correlator.stats().fired_total, 1u);
  EXPECT_EQ(correlator.stats().groups, 2u);
}

TEST(RulesCorrelation, EventCountAndTemporalOrdered) {
  const LoadResult result = load_with(
      "title: many\nid: many\nlevel: medium\ncorrelation:\n  type: event_count\n  rules: [rule-a]\n"
      "  group-by: [host]\n  timespan: 1m\n  condition:\n    gt: 1\n    lte: 5\n"
      "---\n"
      "title: seq\nid: seq\nlevel: critical\ncorrelation:\n  type: temporal_ordered\n"
      "  rules: [rule-b, rule-a]\n  group-by: [host]\n  timespan: 1m\n");
  Correlator correlator(result.correlations, *result.engine);
  std::vector<protocol::Alert> out;
  correlator.feed(alert("rule-a", 1 * kSecond), out);  // a before b: not in order
  correlator.feed(alert("rule-b", 2 * kSecond), out);
  ASSERT_EQ(out.size(), 0u);
  correlator.feed(alert("rule-a", 3 * kSecond), out);  // second a: event_count > 1; and b then a
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].rule_id, "many");
  EXPECT_EQ(out[1].rule_id, "seq");
}

TEST(RulesCorrelation, StateIsBoundedByMaxGroups) {
  const LoadResult result = load_with(
      "title: many\nid: many\nlevel: medium\ncorrelation:\n  type: event_count\n  rules: [rule-a]\n"
      "  group-by: [host]\n  timespan: 1h\n  condition:\n    gte: 2\n");
  Correlator correlator(result.correlations, *result.engine, 2);
  std::vector<protocol::Alert> out;
  for (int i = 0; i < 5; ++i)
    correlator.feed(alert("rule-a", kSecond * i, 22, "n" + std::to_string(i)), out);
  EXPECT_EQ(correlator.stats().groups, 2u);
  EXPECT_EQ(correlator.stats().evicted_total, 3u);
  EXPECT_TRUE(out.empty());
}

TEST(RulesThreshold, AbsencePendingThenFiringThenResolved) {
  std::vector<Diagnostic> diagnostics;
  auto rules = load_threshold_rules(
      "threshold_rules:\n"
      "  - alert: NodeSilent\n    metric: batches\n    absent: 5m\n    for: 1m\n"
      "    labels: {severity: page}\n"
      "    annotations: {summary: '{{ $labels.host }} silent'}\n"
      "  - alert: Drops\n    metric: drop_ratio\n    above: 0.01\n"
      "  - alert: Broken\n    metric: x\n",
      "t.yml", diagnostics);
  ASSERT_EQ(rules.size(), 2u);
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_NE(diagnostics[0].message.find("exactly one of above, below, absent"), std::string::npos);
  ThresholdEvaluator evaluator(rules);
  const uint64_t minute = 60 * kSecond;
  evaluator.observe("batches", {{"host", "n1"}}, 1, 0);
  EXPECT_TRUE(evaluator.evaluate(4 * minute).empty());
  auto changes = evaluator.evaluate(5 * minute);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].state, ThresholdAlert::State::kPending);
  EXPECT_EQ(changes[0].labels.at("severity"), "page");
  EXPECT_EQ(changes[0].annotations.at("summary"), "n1 silent");
  EXPECT_TRUE(evaluator.evaluate(5 * minute + 30 * kSecond).empty());
  changes = evaluator.evaluate(6 * minute);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].state, ThresholdAlert::State::kFiring);
  evaluator.observe("batches", {{"host", "n1"}}, 2, 6 * minute + kSecond);
  changes = evaluator.evaluate(6 * minute + 2 * kSecond);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].state, ThresholdAlert::State::kResolved);

  evaluator.observe("drop_ratio", {{"host", "n2"}}, 0.5, 7 * minute);
  changes = evaluator.evaluate(7 * minute);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].state, ThresholdAlert::State::kFiring);  // no `for`: fires at once
  EXPECT_EQ(changes[0].labels.at("alertname"), "Drops");
  evaluator.observe("drop_ratio", {{"host", "n2"}}, 0.001, 8 * minute);
  EXPECT_EQ(evaluator.evaluate(8 * minute).at(0).state, ThresholdAlert::State::kResolved);
}

}  // namespace
}  // namespace vigie::rules::test
