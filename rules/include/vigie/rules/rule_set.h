// A rule set as a pipeline runs it (detection engine, correlation rules, IOC
// lists), and its hot reload: a new set is compiled aside and swapped in
// atomically; readers keep the set they hold and never wait for a load.
//
//   RuleSetReloader reloader({{"/etc/vigie/packs/hpc-csirt"}, {{"pools", "pools.csv"}}});
//   auto set = reloader.current();              // any thread, lock-free for readers
//   if (auto outcome = reloader.reload_if_changed(); outcome && !outcome->swapped) ...
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "vigie/rules/correlation.h"
#include "vigie/rules/diagnostic.h"
#include "vigie/rules/engine.h"

namespace vigie::rules {

// A named IOC list for the `ioc` modifier: MISP JSON when the file name ends
// in ".json", else CSV (see IocStore).
struct IocSource {
  std::string name;
  std::filesystem::path path;
};

// Where a rule set comes from: Sigma rule files or pack directories (as for
// load_rules; the first directory's VERSION is the pack version) and IOC lists.
struct RuleSources {
  std::vector<std::filesystem::path> rule_paths;
  std::vector<IocSource> iocs;
};

// One compiled, immutable rule set.
struct RuleSet {
  std::shared_ptr<const Engine> engine;  // never null
  std::vector<std::shared_ptr<const CorrelationRule>> correlations;
  // Rules whose alerts only feed correlations (correlation_only_rules()).
  std::set<std::string, std::less<>> correlation_only;
  // Rules refused and bad IOC lines of this set: they were logged when it was
  // loaded; a reload is refused only for diagnostics not already here.
  std::vector<Diagnostic> diagnostics;
  int rules_total = 0;   // LoadResult::rules_total
  int rules_loaded = 0;  // LoadResult::rules_loaded

  // Whether an alert of `rule_id` is reported on its own (false for
  // correlation-only rules, whose events still go to the collector).
  bool reports(std::string_view rule_id) const { return !correlation_only.contains(rule_id); }
};

// Loads IOC lists, then rules. Never throws: problems are diagnostics.
std::shared_ptr<const RuleSet> build_rule_set(const RuleSources& sources);

// The result of one reload attempt.
struct ReloadOutcome {
  bool swapped = false;
  // When not swapped: why, each with file:line (diagnostics the active set
  // did not have, or one saying that no rule loaded).
  std::vector<Diagnostic> errors;
  std::shared_ptr<const RuleSet> active;  // the set in force after the attempt
};

// Holds the active RuleSet and replaces it on reload. Thread-safe: current()
// and generation() from any thread while another reloads; reloads are
// serialized among themselves.
class RuleSetReloader {
 public:
  // Loads the first set whatever its diagnostics (the caller logs them; a
  // set with no rule at all is the caller's decision).
  explicit RuleSetReloader(RuleSources sources);

  std::shared_ptr<const RuleSet> current() const { return active_.load(); }
  // Incremented by every swap: a reader compares it with the generation of
  // the set it holds (one relaxed load) and calls current() when it moved.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Builds a set aside from the sources and swaps it in, unless it has a
  // diagnostic the active set does not have (a broken file: the old set
  // stays) or loads no rule while the sources name some.
  ReloadOutcome reload();

  // reload() when a source file appeared, disappeared or changed (mtime or
  // size) since the last attempt; nullopt otherwise. Cost: one stat per file
  // under the rule paths and per IOC list.
  std::optional<ReloadOutcome> reload_if_changed();

  uint64_t reloads_total() const { return reloads_total_.load(); }    // successful swaps
  uint64_t failures_total() const { return failures_total_.load(); }  // refused attempts

 private:
  using Stamp = std::tuple<std::string, int64_t, uintmax_t>;  // path, mtime (ns), size
  std::vector<Stamp> stamp_sources() const;
  ReloadOutcome reload_locked(std::vector<Stamp> stamps);

  const RuleSources sources_;
  std::atomic<std::shared_ptr<const RuleSet>> active_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> reloads_total_{0};
  std::atomic<uint64_t> failures_total_{0};
  std::mutex reload_mutex_;    // one reload at a time
  std::vector<Stamp> stamps_;  // of the last attempt, under reload_mutex_
};

}  // namespace vigie::rules
