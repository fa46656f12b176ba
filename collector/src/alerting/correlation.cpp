#include "alerting/correlation.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "vigie/rules/correlation.h"

namespace vigie::collector {
namespace {

using Labels = std::map<std::string, std::string>;

// What the worker needs of one stored batch (a trimmed copy: only the events
// that correlation-only rules can match).
struct Work {
  std::string site, host, agent_id;
  uint64_t sent_ns = 0;
  uint64_t received_ns = 0;
  std::vector<protocol::Event> events;
  std::vector<protocol::Alert> alerts;
  protocol::AgentStatus status;
  double node_power_watts = -1;  // < 0: no energy in the batch
};

// Sum of the in_node_total zones of the batch's latest interval, in watts.
double latest_node_power(const std::vector<protocol::ZoneEnergy>& zones) {
  uint64_t end = 0;
  for (const auto& z : zones) end = std::max(end, z.end_ns);
  double joules = 0;
  uint64_t start = end;
  bool any = false;
  for (const auto& z : zones) {
    if (z.end_ns != end || !z.in_node_total) continue;
    joules += z.energy_joules;
    start = std::min(start, z.start_ns);
    any = true;
  }
  if (!any || end <= start) return -1;
  return joules / (static_cast<double>(end - start) / 1e9);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot read the threshold rules file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

using Stamp = std::tuple<std::string, int64_t, uintmax_t>;

std::vector<Stamp> stamp(const std::vector<std::filesystem::path>& paths) {
  std::vector<Stamp> stamps;
  for (const auto& path : paths) {
    std::error_code ec;
    const auto mtime = std::filesystem::last_write_time(path, ec);
    const auto size = ec ? 0 : std::filesystem::file_size(path, ec);
    stamps.emplace_back(path.string(), ec ? -1 : mtime.time_since_epoch().count(), ec ? 0 : size);
  }
  return stamps;
}

struct Sample {
  std::string metric;
  Labels labels;
  double value = 0;
  uint64_t time_ns = 0;
};

struct Counters {
  uint64_t ringbuf_drops = 0;
  uint64_t uplink_dropped = 0;
  uint64_t sent_ns = 0;
};

}  // namespace

struct CorrelationEngine::Impl {
  CorrelationOptions options;
  Store& store;
  AlertRouter& router;
  std::unique_ptr<rules::RuleSetReloader> reloader;

  // Worker state.
  std::shared_ptr<const rules::RuleSet> rule_set;
  uint64_t rule_generation = UINT64_MAX;
  std::unique_ptr<rules::Correlator> correlator;
  std::map<std::string, std::shared_ptr<const rules::CorrelationRule>> correlations;  // by id
  rules::CorrelatorStats last_correlator_stats;
  std::vector<rules::ThresholdRule> threshold_rules;
  std::vector<Stamp> threshold_stamps;
  std::unique_ptr<rules::ThresholdEvaluator> evaluator;
  uint64_t last_evicted_series = 0;
  std::map<std::string, Sample> samples;            // last sample per series, replayed on reload
  std::map<std::string, Counters> previous;         // by agent id + host
  std::map<std::string, AlertNotification> firing;  // threshold alerts routed as firing
  uint64_t next_reload_ns = 0;

  // Kinds of events correlation-only rules can match (bit per EventKind).
  std::atomic<uint32_t> wanted_kinds{0};

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Work> queue;
  bool stopping = false;
  std::thread worker;

  std::atomic<uint64_t> batches{0}, dropped{0}, correlation_alerts{0}, threshold_firing{0},
      threshold_resolved{0}, store_failures{0}, reloads{0}, reload_failures{0}, queue_length{0},
      groups{0}, series{0};

  struct {
    prometheus::Counter* batches = nullptr;
    prometheus::Counter* dropped = nullptr;
    prometheus::Gauge* queue = nullptr;
    prometheus::Counter* correlation = nullptr;
    prometheus::Counter* threshold_firing = nullptr;
    prometheus::Counter* threshold_resolved = nullptr;
    prometheus::Counter* store_failures = nullptr;
    prometheus::Counter* reload_swapped = nullptr;
    prometheus::Counter* reload_refused = nullptr;
    prometheus::Gauge* groups = nullptr;
    prometheus::Counter* groups_evicted = nullptr;
    prometheus::Gauge* series = nullptr;
    prometheus::Counter* series_evicted = nullptr;
  } m;

  Impl(CorrelationOptions o, Store& s, AlertRouter& r)
      : options(std::move(o)), store(s), router(r) {}

  static void bump(std::atomic<uint64_t>& value, prometheus::Counter* counter, uint64_t by = 1) {
    value += by;
    if (counter && by) counter->Increment(static_cast<double>(by));
  }

  void log_diagnostics(const std::vector<rules::Diagnostic>& diagnostics) {
    for (const auto& d : diagnostics) spdlog::warn("rules: {}:{}: {}", d.file, d.line, d.message);
  }

  void adopt_rule_set() {
    const uint64_t generation = reloader->generation();
    if (generation == rule_generation) return;
    rule_set = reloader->current();
    rule_generation = generation;
    correlator = std::make_unique<rules::Correlator>(rule_set->correlations, *rule_set->engine,
                                                     options.max_groups);
    last_correlator_stats = {};
    correlations.clear();
    for (const auto& rule : rule_set->correlations) correlations[rule->id] = rule;
    uint32_t kinds = 0;
    for (const rules::RuleInfo& info : rule_set->engine->rules()) {
      if (!rule_set->correlation_only.contains(info.id)) continue;
      for (protocol::EventKind kind : info.event_kinds) kinds |= 1u << static_cast<unsigned>(kind);
    }
    wanted_kinds = kinds;
  }

  void load_thresholds(bool initial) {
    std::vector<rules::ThresholdRule> loaded;
    std::vector<rules::Diagnostic> diagnostics;
    for (const auto& path : options.threshold_paths) {
      std::string text;
      try {
        text = read_file(path);
      } catch (const std::runtime_error&) {
        if (initial) throw;
        diagnostics.push_back({path.string(), 0, "cannot read the threshold rules file"});
        continue;
      }
      auto rules = rules::load_threshold_rules(text, path.string(), diagnostics);
      std::move(rules.begin(), rules.end(), std::back_inserter(loaded));
    }
    log_diagnostics(diagnostics);
    if (!initial && !diagnostics.empty()) {
      spdlog::warn("threshold rules: reload refused, the previous rules stay");
      bump(reload_failures, m.reload_refused);
      return;
    }
    threshold_rules = std::move(loaded);
    evaluator = std::make_unique<rules::ThresholdEvaluator>(threshold_rules, options.max_series);
    last_evicted_series = 0;
    for (const auto& [key, s] : samples) evaluator->observe(s.metric, s.labels, s.value, s.time_ns);
    if (!initial) {
      bump(reloads, m.reload_swapped);
      spdlog::info("threshold rules reloaded: {} rules", threshold_rules.size());
    }
  }

  void maybe_reload(uint64_t now_ns) {
    if (options.reload_interval.count() <= 0 || now_ns < next_reload_ns) return;
    next_reload_ns = now_ns + static_cast<uint64_t>(options.reload_interval.count()) * 1'000'000;
    if (auto outcome = reloader->reload_if_changed()) {
      if (outcome->swapped) {
        bump(reloads, m.reload_swapped);
        spdlog::info("rules reloaded: {} rules", outcome->active->rules_loaded);
      } else {
        log_diagnostics(outcome->errors);
        spdlog::warn("rules: reload refused, the previous rules stay");
        bump(reload_failures, m.reload_refused);
      }
    }
    auto stamps = stamp(options.threshold_paths);
    if (stamps != threshold_stamps) {
      threshold_stamps = std::move(stamps);
      load_thresholds(false);
    }
  }

  void observe(const std::string& metric, Labels labels, double value, uint64_t time_ns) {
    std::string key = metric;
    for (const auto& [name, v] : labels) key += '\x1f' + name + '=' + v;
    auto it = samples.find(key);
    if (it == samples.end() && samples.size() >= options.max_series) {
      auto oldest = std::min_element(
          samples.begin(), samples.end(),
          [](const auto& a, const auto& b) { return a.second.time_ns < b.second.time_ns; });
      samples.erase(oldest);
    }
    evaluator->observe(metric, labels, value, time_ns);
    Sample& s = samples[key];
    s = {metric, std::move(labels), value, std::max(s.time_ns, time_ns)};
  }

  void store_alert(const std::string& site, const std::string& host, const protocol::Alert& alert,
                   uint64_t now_ns) {
    try {
      store.store_alerts("collector", site, host, {alert}, now_ns);
    } catch (const std::exception& e) {
      bump(store_failures, m.store_failures);
      spdlog::warn("collector alert {} not stored: {}", alert.rule_id, e.what());
    }
  }

  void raise_correlation(const protocol::Alert& alert, const std::string& batch_site,
                         uint64_t now_ns) {
    AlertNotification n;
    n.origin = "collector";
    n.site = alert.event.site.empty() ? batch_site : alert.event.site;
    n.alert = alert;
    if (auto it = correlations.find(alert.rule_id); it != correlations.end()) {
      for (const std::string& field : it->second->group_by) {
        const std::string value = rules::event_field_text(alert.event, field);
        if (field == "host") {
          n.host = value;
        } else if (field != "site") {
          n.labels.emplace_back(field, value);
        }
      }
    }
    n.starts_ns = alert.event.time_ns != 0 ? std::min(alert.event.time_ns, now_ns) : now_ns;
    n.ends_ns = n.starts_ns + router.options().agent_alert_ns;
    store_alert(n.site, n.host, alert, now_ns);
    bump(correlation_alerts, m.correlation);
    router.route(std::move(n));
  }

  void process(Work& work, uint64_t now_ns) {
    bump(batches, m.batches);
    // Correlation.
    std::vector<protocol::Alert> matched, raised;
    for (const protocol::Event& event : work.events) {
      matched.clear();
      rule_set->engine->evaluate(event, matched);
      for (const protocol::Alert& alert : matched) {
        if (rule_set->correlation_only.contains(alert.rule_id)) correlator->feed(alert, raised);
      }
    }
    for (const protocol::Alert& alert : work.alerts) {
      // An agent with an older pack may still report a correlation-only rule:
      // it was evaluated here already.
      if (!rule_set->correlation_only.contains(alert.rule_id)) correlator->feed(alert, raised);
    }
    for (const protocol::Alert& alert : raised) raise_correlation(alert, work.site, now_ns);

    // Samples for threshold rules.
    const Labels labels{{"site", work.site}, {"host", work.host}};
    const uint64_t t = work.received_ns;
    const protocol::AgentStatus& st = work.status;
    Counters& prev = previous[work.agent_id + '\x1f' + work.host];
    if (prev.sent_ns != 0 && work.sent_ns > prev.sent_ns) {
      const double seconds = static_cast<double>(work.sent_ns - prev.sent_ns) / 1e9;
      auto rate = [seconds](uint64_t now, uint64_t before) {
        return static_cast<double>(now >= before ? now - before : now) / seconds;
      };
      observe("vigie_agent_ringbuf_drops_per_second", labels,
              rate(st.ringbuf_drops_total, prev.ringbuf_drops), t);
      observe("vigie_agent_uplink_dropped_per_second", labels,
              rate(st.uplink_dropped_total, prev.uplink_dropped), t);
    }
    if (work.sent_ns > prev.sent_ns)
      prev = {st.ringbuf_drops_total, st.uplink_dropped_total, work.sent_ns};
    if (previous.size() > options.max_series) previous.erase(previous.begin());
    if (st.ringbuf_size_bytes > 0)
      observe(
          "vigie_agent_ringbuf_used_ratio", labels,
          static_cast<double>(st.ringbuf_used_bytes) / static_cast<double>(st.ringbuf_size_bytes),
          t);
    if (work.node_power_watts >= 0)
      observe("vigie_node_power_watts", labels, work.node_power_watts, t);
  }

  static std::string label(const Labels& labels, const std::string& name) {
    auto it = labels.find(name);
    return it == labels.end() ? std::string() : it->second;
  }

  AlertNotification threshold_notification(const rules::ThresholdAlert& a) {
    AlertNotification n;
    n.origin = "collector";
    n.site = label(a.labels, "site");
    if (n.site.empty()) n.site = router.options().site;
    n.host = label(a.labels, "host");
    n.alert.rule_id = "threshold:" + a.name;
    n.alert.rule_title = a.name;
    n.alert.level = label(a.labels, "severity");
    if (n.alert.level.empty()) n.alert.level = "medium";
    if (const std::string tlp = label(a.labels, "tlp"); !tlp.empty())
      n.alert.tags.push_back("tlp." + tlp);
    for (const auto& [name, value] : a.labels) {
      if (name != "alertname" && name != "site" && name != "host" && name != "severity" &&
          name != "tlp")
        n.labels.emplace_back(name, value);
    }
    for (const auto& [name, value] : a.annotations) n.annotations.emplace_back(name, value);
    char value[32];
    std::snprintf(value, sizeof value, "%g", a.value);
    n.annotations.emplace_back("value", value);
    n.starts_ns = a.active_since_ns;
    // No agent event behind it: the event only dates and places the alert
    // (as stored, and as the federation receives it).
    n.alert.event.time_ns = n.starts_ns;
    n.alert.event.site = n.site;
    n.alert.event.host = n.host;
    return n;
  }

  void evaluate(uint64_t now_ns) {
    if (threshold_rules.empty() && firing.empty()) return;
    try {
      std::map<std::string, std::pair<Labels, uint64_t>> hosts;  // newest batch per (site, host)
      for (const AgentRecord& agent : store.agents()) {
        auto& [labels, last] = hosts[agent.site + '\x1f' + agent.host];
        labels = {{"site", agent.site}, {"host", agent.host}};
        last = std::max(last, agent.last_seen_ns);
      }
      for (auto& [key, entry] : hosts)
        observe("vigie_agent_last_seen_timestamp_seconds", entry.first,
                static_cast<double>(entry.second) / 1e9, entry.second);
    } catch (const std::exception& e) {
      spdlog::warn("threshold rules: agents not read from the store: {}", e.what());
    }
    for (const rules::ThresholdAlert& change : evaluator->evaluate(now_ns)) {
      if (change.state != rules::ThresholdAlert::State::kFiring) continue;
      AlertNotification n = threshold_notification(change);
      const std::string key = label_fingerprint(change.labels);
      store_alert(n.site, n.host, n.alert, now_ns);
      bump(threshold_firing, m.threshold_firing);
      firing[key] = n;
      router.route(std::move(n));
    }
    // Resolved: fired once, no longer pending or firing (also after a reload).
    std::set<std::string> active;
    for (const rules::ThresholdAlert& a : evaluator->active())
      active.insert(label_fingerprint(a.labels));
    for (auto it = firing.begin(); it != firing.end();) {
      if (active.contains(it->first)) {
        ++it;
        continue;
      }
      AlertNotification n = std::move(it->second);
      n.ends_ns = std::max(now_ns, n.starts_ns);
      bump(threshold_resolved, m.threshold_resolved);
      router.route(std::move(n));
      it = firing.erase(it);
    }
  }

  void update_gauges() {
    const rules::CorrelatorStats& cs = correlator->stats();
    groups = cs.groups;
    if (m.groups) m.groups->Set(static_cast<double>(cs.groups));
    if (m.groups_evicted && cs.evicted_total > last_correlator_stats.evicted_total)
      m.groups_evicted->Increment(
          static_cast<double>(cs.evicted_total - last_correlator_stats.evicted_total));
    last_correlator_stats = cs;
    series = evaluator->series();
    if (m.series) m.series->Set(static_cast<double>(evaluator->series()));
    if (m.series_evicted && evaluator->evicted_total() > last_evicted_series)
      m.series_evicted->Increment(
          static_cast<double>(evaluator->evicted_total() - last_evicted_series));
    last_evicted_series = evaluator->evicted_total();
  }

  void run_once(uint64_t now_ns, bool do_evaluate) {
    maybe_reload(now_ns);
    adopt_rule_set();
    std::deque<Work> batch;
    {
      std::lock_guard lock(mutex);
      batch.swap(queue);
      queue_length = 0;
      if (m.queue) m.queue->Set(0);
    }
    for (Work& work : batch) process(work, now_ns);
    if (do_evaluate) evaluate(now_ns);
    update_gauges();
  }

  void run() {
    const auto interval = options.evaluation_interval;
    auto next_evaluation = std::chrono::steady_clock::now();
    while (true) {
      bool due = false;
      {
        std::unique_lock lock(mutex);
        wake.wait_until(lock, next_evaluation, [this] { return stopping || !queue.empty(); });
        if (stopping) return;
        due = std::chrono::steady_clock::now() >= next_evaluation;
      }
      if (due) next_evaluation = std::chrono::steady_clock::now() + interval;
      try {
        run_once(protocol::wall_clock_ns(), due);
      } catch (const std::exception& e) {
        spdlog::error("correlation: {}", e.what());
      }
    }
  }
};

CorrelationEngine::CorrelationEngine(CorrelationOptions options, Store& store, AlertRouter& router,
                                     prometheus::Registry* registry)
    : impl_(std::make_unique<Impl>(std::move(options), store, router)) {
  Impl& i = *impl_;
  if (i.options.evaluation_interval.count() <= 0)
    i.options.evaluation_interval = std::chrono::seconds(15);
  i.reloader = std::make_unique<rules::RuleSetReloader>(i.options.sources);
  i.log_diagnostics(i.reloader->current()->diagnostics);
  i.threshold_stamps = stamp(i.options.threshold_paths);
  i.load_thresholds(true);
  i.adopt_rule_set();
  i.next_reload_ns =
      protocol::wall_clock_ns() +
      static_cast<uint64_t>(std::max<int64_t>(0, i.options.reload_interval.count())) * 1'000'000;
  spdlog::info("correlation: {} of {} rules loaded ({} correlations), {} threshold rules",
               i.rule_set->rules_loaded, i.rule_set->rules_total, i.rule_set->correlations.size(),
               i.threshold_rules.size());
  if (registry != nullptr) {
    auto counter = [registry](const char* name, const char* help) -> prometheus::Counter* {
      return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry).Add({});
    };
    auto gauge = [registry](const char* name, const char* help) -> prometheus::Gauge* {
      return &prometheus::BuildGauge().Name(name).Help(help).Register(*registry).Add({});
    };
    i.m.batches = counter("vigie_collector_correlation_batches_total",
                          "Stored batches run through correlation and threshold rules");
    i.m.dropped = counter("vigie_collector_correlation_batches_dropped_total",
                          "Stored batches not run through correlation and threshold rules "
                          "because the queue was full");
    i.m.queue = gauge("vigie_collector_correlation_queue_length",
                      "Stored batches waiting for correlation and threshold rules");
    auto& alerts = prometheus::BuildCounter()
                       .Name("vigie_collector_collector_alerts_total")
                       .Help("Alerts the collector raised itself, by kind")
                       .Register(*registry);
    i.m.correlation = &alerts.Add({{"kind", "correlation"}});
    i.m.threshold_firing = &alerts.Add({{"kind", "threshold_firing"}});
    i.m.threshold_resolved = &alerts.Add({{"kind", "threshold_resolved"}});
    i.m.store_failures = counter("vigie_collector_correlation_store_failures_total",
                                 "Collector alerts the store refused (still routed)");
    auto& reloads = prometheus::BuildCounter()
                        .Name("vigie_collector_rules_reloads_total")
                        .Help("Rule reloads of the collector, by result")
                        .Register(*registry);
    i.m.reload_swapped = &reloads.Add({{"result", "swapped"}});
    i.m.reload_refused = &reloads.Add({{"result", "refused"}});
    i.m.groups = gauge("vigie_collector_correlation_groups", "Live correlation windows");
    i.m.groups_evicted = counter("vigie_collector_correlation_groups_evicted_total",
                                 "Correlation windows dropped because max_groups was reached");
    i.m.series = gauge("vigie_collector_threshold_series", "Live series of threshold rules");
    i.m.series_evicted = counter("vigie_collector_threshold_series_evicted_total",
                                 "Threshold series dropped because max_series was reached");
    gauge("vigie_collector_correlation_queue_length_limit",
          "Stored batches allowed to wait for the rules (queue_batches); more are dropped")
        ->Set(static_cast<double>(i.options.queue_batches));
    gauge("vigie_collector_correlation_groups_limit", "Correlation windows kept (max_groups)")
        ->Set(static_cast<double>(i.options.max_groups));
    gauge("vigie_collector_threshold_series_limit", "Threshold series kept (max_series)")
        ->Set(static_cast<double>(i.options.max_series));
  }
  if (i.options.start_thread) i.worker = std::thread([impl = impl_.get()] { impl->run(); });
}

CorrelationEngine::~CorrelationEngine() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

void CorrelationEngine::on_stored(const protocol::Batch& batch, uint64_t received_ns) {
  Work work;
  work.site = batch.site;
  work.host = batch.host;
  work.agent_id = batch.agent_id;
  work.sent_ns = batch.sent_ns;
  work.received_ns = received_ns;
  const uint32_t kinds = impl_->wanted_kinds.load(std::memory_order_relaxed);
  for (const protocol::Event& event : batch.events) {
    if (kinds & (1u << static_cast<unsigned>(event.kind()))) work.events.push_back(event);
  }
  work.alerts = batch.alerts;
  work.status = batch.status;
  work.node_power_watts = latest_node_power(batch.zone_energy);
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->queue.size() >= impl_->options.queue_batches) {
      Impl::bump(impl_->dropped, impl_->m.dropped);
      return;
    }
    impl_->queue.push_back(std::move(work));
    impl_->queue_length = impl_->queue.size();
    if (impl_->m.queue) impl_->m.queue->Set(static_cast<double>(impl_->queue.size()));
  }
  impl_->wake.notify_one();
}

void CorrelationEngine::run_once(uint64_t now_ns, bool evaluate) {
  impl_->run_once(now_ns, evaluate);
}

CorrelationStats CorrelationEngine::stats() const {
  const Impl& i = *impl_;
  return {i.batches.load(),
          i.dropped.load(),
          i.correlation_alerts.load(),
          i.threshold_firing.load(),
          i.threshold_resolved.load(),
          i.store_failures.load(),
          i.reloads.load(),
          i.reload_failures.load(),
          i.queue_length.load(),
          i.groups.load(),
          i.series.load()};
}

}  // namespace vigie::collector
