// Fuzzes the collector's threshold/absence rule parser
// (rules::load_threshold_rules): rule files are shared between sites, so
// untrusted. Loaded rules then run in a ThresholdEvaluator over a few samples
// of every metric they watch, with a small series bound, so that the
// templates ({{ $labels.x }}, {{ $value }}) and the pending/firing/resolved
// transitions run too.
// Properties: never throws; every rule has a name and a metric; an absence
// rule has an absence window; the evaluator keeps within its series bound
// and only raises alerts of loaded rules.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "vigie/rules/correlation.h"

using vigie::fuzz::check;
using vigie::fuzz::finding;
namespace rules = vigie::rules;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  std::vector<rules::Diagnostic> diagnostics;
  std::vector<rules::ThresholdRule> loaded;
  try {
    loaded = rules::load_threshold_rules(yaml, "fuzz.yml", diagnostics);
  } catch (const std::exception& e) {
    finding(std::string("load_threshold_rules threw: ") + e.what());
  } catch (...) {
    finding("load_threshold_rules threw a non-std exception");
  }
  std::set<std::string> names;
  for (const auto& rule : loaded) {
    check(!rule.name.empty(), "a threshold rule without a name");
    check(!rule.metric.empty(), "threshold rule " + rule.name + " without a metric");
    check(rule.kind != rules::ThresholdRule::Kind::kAbsent || rule.absent_ns > 0,
          "absence rule " + rule.name + " without a window");
    names.insert(rule.name);
  }

  constexpr std::size_t kMaxSeries = 8;
  rules::ThresholdEvaluator evaluator(loaded, kMaxSeries);
  uint64_t now = 1'700'000'000'000'000'000ull;
  const double values[] = {0, 1e-3, 1, 1e300, -1};
  for (int step = 0; step < 4; ++step) {
    for (const auto& rule : loaded) {
      for (int host = 0; host < 3; ++host) {
        evaluator.observe(rule.metric, {{"host", "node" + std::to_string(host)}},
                          values[(step + host) % 5], now);
      }
    }
    check(evaluator.series() <= kMaxSeries, "more series than max_series");
    for (const auto& alert : evaluator.evaluate(now)) {
      check(names.contains(alert.name), "alert of a rule that was not loaded: " + alert.name);
    }
    now += 3'600'000'000'000ull;  // an hour: past any `for` and `absent` under one hour
  }
  return 0;
}
