#include "vigie/rules/rule_set.h"

#include <algorithm>
#include <chrono>
#include <system_error>

#include "vigie/rules/ioc.h"

namespace vigie::rules {

namespace fs = std::filesystem;

std::shared_ptr<const RuleSet> build_rule_set(const RuleSources& sources) {
  auto set = std::make_shared<RuleSet>();
  auto iocs = std::make_shared<IocStore>();
  for (const IocSource& ioc : sources.iocs) {
    if (ioc.path.extension() == ".json")
      iocs->load_misp_json(ioc.name, ioc.path, set->diagnostics);
    else
      iocs->load_csv(ioc.name, ioc.path, set->diagnostics);
  }
  LoadResult loaded = load_rules(sources.rule_paths, LoadOptions{std::move(iocs)});
  set->engine = std::move(loaded.engine);
  set->correlation_only = correlation_only_rules(loaded.correlations, *set->engine);
  set->correlations = std::move(loaded.correlations);
  set->diagnostics.insert(set->diagnostics.end(), loaded.diagnostics.begin(),
                          loaded.diagnostics.end());
  set->rules_total = loaded.rules_total;
  set->rules_loaded = loaded.rules_loaded;
  return set;
}

RuleSetReloader::RuleSetReloader(RuleSources sources) : sources_(std::move(sources)) {
  stamps_ = stamp_sources();
  active_.store(build_rule_set(sources_));
}

std::vector<RuleSetReloader::Stamp> RuleSetReloader::stamp_sources() const {
  std::vector<Stamp> stamps;
  auto stamp = [&](const fs::path& path) {
    std::error_code ec;
    const auto mtime = fs::last_write_time(path, ec);
    const int64_t ns =
        ec ? -1
           : std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count();
    const uintmax_t size = ec ? 0 : fs::file_size(path, ec);
    stamps.emplace_back(path.string(), ns, ec ? 0 : size);
  };
  for (const fs::path& root : sources_.rule_paths) {
    std::error_code ec;
    if (!fs::is_directory(root, ec)) {
      stamp(root);  // a file, or missing (mtime -1)
      continue;
    }
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) stamp(it->path());
    }
  }
  for (const IocSource& ioc : sources_.iocs) stamp(ioc.path);
  std::sort(stamps.begin(), stamps.end());
  return stamps;
}

ReloadOutcome RuleSetReloader::reload() {
  std::lock_guard lock(reload_mutex_);
  return reload_locked(stamp_sources());
}

std::optional<ReloadOutcome> RuleSetReloader::reload_if_changed() {
  std::lock_guard lock(reload_mutex_);
  std::vector<Stamp> stamps = stamp_sources();
  if (stamps == stamps_) return std::nullopt;
  return reload_locked(std::move(stamps));
}

ReloadOutcome RuleSetReloader::reload_locked(std::vector<Stamp> stamps) {
  // Stamped before loading: a file changed during the load triggers another.
  stamps_ = std::move(stamps);
  ReloadOutcome outcome;
  std::shared_ptr<const RuleSet> next = build_rule_set(sources_);
  const std::shared_ptr<const RuleSet> old = active_.load();
  // Rules move between lines across edits: a diagnostic is known by file and message.
  auto known = [&](const Diagnostic& d) {
    return std::any_of(old->diagnostics.begin(), old->diagnostics.end(), [&](const Diagnostic& o) {
      return o.file == d.file && o.message == d.message;
    });
  };
  for (const Diagnostic& d : next->diagnostics) {
    if (!known(d)) outcome.errors.push_back(d);
  }
  if (next->rules_loaded == 0 && !sources_.rule_paths.empty() && outcome.errors.empty()) {
    outcome.errors.push_back(
        {sources_.rule_paths.front().string(), 0, "no rule loaded: keeping the active set"});
  }
  if (outcome.errors.empty()) {
    active_.store(next);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    reloads_total_.fetch_add(1);
    outcome.swapped = true;
    outcome.active = std::move(next);
  } else {
    failures_total_.fetch_add(1);
    outcome.active = old;
  }
  return outcome;
}

}  // namespace vigie::rules
