// Sigma correlation rules (sigma-correlation-rules-specification.md) and
// Prometheus-style threshold/absence rules, evaluated over time by the
// collector: feed it alerts (of detection rules) and samples with their time,
// take the alerts it raises. State is bounded (max_groups) and its size exported.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vigie/protocol/event.h"
#include "vigie/rules/diagnostic.h"
#include "vigie/rules/engine.h"

namespace vigie::rules {

// One comparison of a correlation condition; several are AND'ed ("gt: 100, lte: 200").
struct CountBound {
  enum class Op : uint8_t { kGt, kGte, kLt, kLte, kEq, kNeq };
  Op op;
  uint64_t value;
  bool holds(uint64_t count) const;
};

// A parsed correlation rule (§Correlation section).
struct CorrelationRule {
  enum class Type : uint8_t { kEventCount, kValueCount, kTemporal, kTemporalOrdered };
  std::string id, name, title, level;  // level defaults to the highest of the referenced rules'
  std::vector<std::string> tags;
  Type type = Type::kEventCount;
  std::vector<std::string> rules;     // referenced rule ids or names, in order
  std::vector<std::string> group_by;  // field names, resolved on each alert's event
  uint64_t timespan_ns = 0;           // "Xs", "Xm", "Xh", "Xd"
  std::vector<CountBound> condition;  // temporal default: count of distinct rules == rules.size()
  std::string value_field;            // value_count: `condition.field`
  bool generate = false;              // referenced rules also alert on their own
  std::string file;
  int line = 0;
};

// The Correlator's Prometheus-facing numbers.
struct CorrelatorStats {
  uint64_t groups = 0;         // live (rule, group-by values) windows
  uint64_t entries = 0;        // alerts and distinct values held in windows
  uint64_t evicted_total = 0;  // windows dropped because max_groups was reached
  uint64_t fired_total = 0;
};

// Evaluates correlation rules over a stream of detection alerts in time order.
// Not thread-safe: one per collector pipeline.
class Correlator {
 public:
  // `engine` resolves rule names to ids and tells which rules are correlation-only.
  Correlator(std::vector<std::shared_ptr<const CorrelationRule>> rules, const Engine& engine,
             std::size_t max_groups = 100'000);

  // Feeds one detection (or correlation) alert seen at `alert.event.time_ns`;
  // appends the correlation alerts it completes. Windows older than each
  // rule's timespan are expired first. A correlation alert is fed back, so
  // correlations can chain. Its event is the last one of the window, its
  // rule_id the correlation's id.
  void feed(const protocol::Alert& alert, std::vector<protocol::Alert>& out);

  // Whether alerts of this detection rule are only input to correlations
  // (referenced by a correlation with generate: false): the pipeline should not report them.
  bool correlation_only(std::string_view rule_id) const;

  const CorrelatorStats& stats() const { return stats_; }

 private:
  struct Window {
    std::deque<std::pair<uint64_t, uint32_t>> hits;       // (time_ns, index of rule in `rules`)
    std::deque<std::pair<uint64_t, std::string>> values;  // value_count: (time_ns, value)
    uint64_t last_ns = 0;
  };
  struct State {
    std::shared_ptr<const CorrelationRule> rule;
    std::vector<std::string> rule_ids;      // `rule->rules` resolved to ids
    std::map<std::string, Window> windows;  // by joined group-by values
  };
  void evict_oldest();

  std::vector<State> states_;
  std::set<std::string, std::less<>> correlation_only_;
  std::size_t max_groups_;
  CorrelatorStats stats_;
};

// Ids of the detection rules whose alerts are only input to correlations:
// referenced (by id or Sigma name) by a correlation with generate: false.
// Edge pipelines do not report these alerts; the collector's Correlator
// consumes them.
std::set<std::string, std::less<>> correlation_only_rules(
    std::span<const std::shared_ptr<const CorrelationRule>> rules, const Engine& engine);

// A threshold or absence rule over metric samples, with Prometheus alerting
// rule semantics (prometheus.io/docs/prometheus/latest/configuration/alerting_rules):
// the expression is evaluated per series at each evaluate(); while it holds
// for less than `for_ns` the alert is pending, then firing; it resolves when
// the expression stops holding. Annotations are templates where
// {{ $labels.<name> }} and {{ $value }} are replaced.
struct ThresholdRule {
  enum class Kind : uint8_t {
    kAbove,   // the series' last value > threshold
    kBelow,   // the series' last value < threshold
    kAbsent,  // no sample of the series for `absent_ns` (a node silent for N minutes)
  };
  std::string name;    // alertname
  std::string metric;  // metric name of the samples it watches
  Kind kind = Kind::kAbove;
  double threshold = 0;
  uint64_t absent_ns = 0;
  uint64_t for_ns = 0;
  std::map<std::string, std::string> labels;       // added to the alert's labels
  std::map<std::string, std::string> annotations;  // templates
};

// Parses threshold rules from YAML:
//   threshold_rules:
//     - alert: NodeSilent
//       metric: vigie_agent_batches_total
//       absent: 5m          # or  above: 0.01  /  below: 1
//       for: 1m
//       labels: {severity: page}
//       annotations: {summary: "{{ $labels.host }} sent nothing for 5 minutes"}
// Problems become diagnostics; the other rules still load.
std::vector<ThresholdRule> load_threshold_rules(std::string_view yaml, const std::string& file_name,
                                                std::vector<Diagnostic>& diagnostics);

struct ThresholdAlert {
  enum class State : uint8_t { kPending, kFiring, kResolved };
  std::string name;
  State state = State::kPending;
  std::map<std::string, std::string> labels;       // series labels + rule labels + alertname
  std::map<std::string, std::string> annotations;  // rendered
  double value = 0;
  uint64_t active_since_ns = 0;  // when the expression started to hold
};

// Keeps per-series state of threshold rules; bounded by max_series (oldest series evicted).
class ThresholdEvaluator {
 public:
  explicit ThresholdEvaluator(std::vector<ThresholdRule> rules, std::size_t max_series = 100'000);

  // One sample of `metric` with its labels at time_ns.
  void observe(std::string_view metric, const std::map<std::string, std::string>& labels,
               double value, uint64_t time_ns);

  // Evaluates every rule at now_ns; returns the alerts whose state changed
  // (pending, firing, resolved) since the previous evaluate().
  std::vector<ThresholdAlert> evaluate(uint64_t now_ns);

  // Alerts currently pending or firing.
  std::vector<ThresholdAlert> active() const;
  std::size_t series() const { return series_.size(); }
  uint64_t evicted_total() const { return evicted_total_; }

 private:
  struct Series {
    std::string metric;
    std::map<std::string, std::string> labels;
    double value = 0;
    uint64_t last_ns = 0;
  };
  struct Active {
    ThresholdAlert alert;
    bool firing = false;
  };
  std::vector<ThresholdRule> rules_;
  std::map<std::string, Series> series_;  // by metric + labels
  std::map<std::string, Active> active_;  // by rule name + series key
  std::size_t max_series_;
  uint64_t evicted_total_ = 0;
};

// "30s", "5m", "2h", "1d" -> ns; false when `text` is not such a duration.
bool parse_duration(std::string_view text, uint64_t& ns);

// The text of Sigma field `field` (as group-by and value_count read it) on
// `event`; "" when the event's kind has no such field or it is absent.
std::string event_field_text(const protocol::Event& event, const std::string& field);

}  // namespace vigie::rules
