#include "vigie/agent/agent.h"

#include <prometheus/exposer.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "distribution_pull.h"
#include "metrics.h"
#include "vigie/power/power_sampler.h"
#include "vigie/power/rapl_source.h"
#include "vigie/rules/rule_set.h"
#include "vigie/sensor/sensor.h"
#include "vigie/uplink/uplink.h"
#include "vigie/workload/layout.h"
#include "vigie/workload/procfs.h"
#include "vigie/workload/resolver.h"

namespace vigie::agent {

using namespace std::chrono_literals;

namespace {
// SIGHUP asks for a rule reload; the reload thread takes it.
std::atomic<bool> g_rules_reload_requested{false};
extern "C" void on_sighup(int) { g_rules_reload_requested = true; }
}  // namespace

struct Agent::Impl {
  Config config;
  AgentMetrics metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  workload::CgroupMounts mounts;
  std::unique_ptr<rules::RuleSetReloader> rules;
  std::unique_ptr<DistributionPuller> puller;  // rules.pull; null when off
  std::unique_ptr<sensor::Sensor> sensor;
  std::unique_ptr<power::PowerSampler> power;
  std::unique_ptr<uplink::Uplink> uplink;
  // Published by the pipeline thread for the uplink's batch status.
  std::atomic<uint64_t> ringbuf_drops_total{0};
  std::atomic<uint64_t> events_total{0};
  std::atomic<uint64_t> uplink_events_dropped_total{0};
  // Sensor health for AgentStatus, published by the pipeline thread.
  std::mutex status_mutex;
  std::map<std::string, uint64_t> drops_by_source;
  std::vector<std::string> kinds_off;
  uint64_t ringbuf_size_bytes = 0;
  uint64_t ringbuf_used_bytes = 0;

  explicit Impl(Config c);
  void open_power();
  void run_sensor(const std::atomic<bool>& stop);
  void run_power(const std::atomic<bool>& stop);
  void publish_health();
  void open_rules();
  void publish_rules(const rules::RuleSet& set);
  void run_rules_reload(const std::atomic<bool>& stop);
};

Agent::Impl::Impl(Config c) : config(std::move(c)) {
  if (!config.metrics_listen.empty()) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(config.metrics_listen);
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot serve /metrics on " + config.metrics_listen + ": " +
                               e.what());
    }
    exposer->RegisterCollectable(metrics.registry());
  }

  // Pulled packs and lists first, so that the first rule set has them (what
  // an earlier run installed stays when the collector is unreachable).
  puller = std::make_unique<DistributionPuller>(config);
  if (puller->enabled())
    puller->pull_once();
  else
    puller.reset();
  open_rules();

  mounts = workload::detect_layout(config.cgroup_root, config.proc_root);

  if (config.sensor.enabled) {
    sensor::SensorOptions options;
    options.ringbuf_bytes = config.sensor.ringbuf_bytes;
    options.wakeup_bytes = config.sensor.wakeup_bytes;
    const SensorConfig& sc = config.sensor;
    using K = protocol::EventKind;
    for (auto [kind, on] : {std::pair{K::kProcessExec, sc.process_exec},
                            {K::kProcessExit, sc.process_exit},
                            {K::kNetworkConnect, sc.network_connect},
                            {K::kProcessFork, sc.process_fork},
                            {K::kNetworkAccept, sc.network_accept},
                            {K::kNetworkListen, sc.network_listen},
                            {K::kFileOpen, sc.file_open},
                            {K::kPrivilegeChange, sc.privilege_change},
                            {K::kPtrace, sc.ptrace},
                            {K::kFilelessExec, sc.fileless_exec}}) {
      options.enable(kind, on);
    }
    if (!sc.watched_paths.empty()) options.watched_paths = sc.watched_paths;
    options.hash_images = sc.hash_images;
    options.hash_cache_entries = sc.hash_cache_entries;
    options.ancestry_depth = sc.ancestry_depth;
    options.process_table_max_entries = sc.process_table_entries;
    options.proc_root = config.proc_root;
    std::string error;
    sensor = sensor::Sensor::open(options, error);
    if (!sensor) spdlog::warn("eBPF sensor unavailable, running energy only: {}", error);
  }
  metrics.set_sensor_up(sensor != nullptr);
  metrics.set_process_table_limit(config.sensor.process_table_entries);
  if (sensor) {
    for (const auto& status : sensor->kinds()) metrics.set_kind_up(status.kind, status.up);
  } else {
    for (int k = 0; k < protocol::kEventKindCount; ++k) {
      metrics.set_kind_up(static_cast<protocol::EventKind>(k), false);
    }
  }

  if (config.power.enabled) open_power();

  uplink::UplinkOptions uo;
  const protocol::ClientTls tls{config.collector_ca_file, config.collector_client_cert_file,
                                config.collector_client_key_file};
  auto preferred = protocol::Endpoint::parse(config.collector_url, tls);
  if (!preferred) throw std::runtime_error("collector.url: " + preferred.error());
  uo.endpoint = std::move(*preferred);
  // collector.urls: the first is the preferred collector (collector_url), the others fail over.
  for (std::size_t i = 1; i < config.collector_urls.size(); ++i) {
    auto other = protocol::Endpoint::parse(config.collector_urls[i], tls);
    if (!other) throw std::runtime_error("collector.urls: " + other.error());
    uo.failover_endpoints.push_back(std::move(*other));
  }
  uo.failback_interval = std::chrono::milliseconds(config.collector_failback_interval_ms);
  uo.token = config.token;
  uo.agent_id = config.agent_id;
  uo.site = config.site;
  uo.host = config.host;
  uo.flush_interval = std::chrono::milliseconds(config.flush_interval_ms);
  if (!config.state_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(config.state_dir, ec);
    if (ec) throw std::runtime_error("state_dir " + config.state_dir + ": " + ec.message());
    uo.sequence_state_path = config.state_dir + "/uplink.seq";
  }
  if (config.spool.enabled) {
    uo.spool_dir = config.spool.dir;
    if (uo.spool_dir.empty() && !config.state_dir.empty()) {
      uo.spool_dir = config.state_dir + "/spool";
    }
    if (uo.spool_dir.empty()) {
      spdlog::warn(
          "spool: no spool.dir and no state_dir: unacknowledged batches wait in memory "
          "only and are lost at a crash or restart");
    }
    uo.spool_max_bytes = config.spool.max_bytes;
    uo.spool_sync = config.spool.sync;
    if (!uo.spool_sync) {
      spdlog::warn("spool.sync is off: a crash of the machine can lose spooled batches");
    }
  }
  uplink = std::make_unique<uplink::Uplink>(uo, [this] {
    protocol::AgentStatus s;
    s.ringbuf_drops_total = ringbuf_drops_total.load();
    s.events_total = events_total.load();
    s.uplink_dropped_total = uplink_events_dropped_total.load();
    s.rule_pack_version = rules->current()->engine->pack_version();
    {
      std::lock_guard lock(status_mutex);
      s.drops_by_source = drops_by_source;
      s.kinds_off = kinds_off;
      s.ringbuf_size_bytes = ringbuf_size_bytes;
      s.ringbuf_used_bytes = ringbuf_used_bytes;
    }
    return s;
  });
}

void Agent::Impl::open_rules() {
  rules::RuleSources sources;
  sources.rule_paths.assign(config.rules_paths.begin(), config.rules_paths.end());
  for (const auto& [name, path] : config.rules_ioc_lists) sources.iocs.push_back({name, path});
  if (puller) puller->add_sources(sources);
  rules = std::make_unique<rules::RuleSetReloader>(std::move(sources));
  const auto set = rules->current();
  for (const auto& d : set->diagnostics) spdlog::warn("rules: {}", rules::to_string(d));
  if (!config.rules_paths.empty()) {
    std::string from;
    for (const auto& path : config.rules_paths) from += (from.empty() ? "" : ", ") + path;
    if (set->rules_total == 0) throw std::runtime_error("no Sigma rule found under " + from);
    spdlog::info("rules: loaded {} of {} rules from {}", set->rules_loaded, set->rules_total, from);
  }
  publish_rules(*set);
}

void Agent::Impl::publish_rules(const rules::RuleSet& set) {
  metrics.set_rules(set.engine->rules().size(), set.engine->pack_version());
}

void Agent::Impl::run_rules_reload(const std::atomic<bool>& stop) {
  const auto interval = std::chrono::milliseconds(config.rules_reload_interval_ms);
  auto next_check = std::chrono::steady_clock::now() + interval;
  while (!stop) {
    std::this_thread::sleep_for(100ms);
    std::optional<rules::ReloadOutcome> outcome;
    if (g_rules_reload_requested.exchange(false)) {
      spdlog::info("rules: reloading on SIGHUP");
      outcome = rules->reload();
    } else if (interval.count() > 0 && std::chrono::steady_clock::now() >= next_check) {
      next_check = std::chrono::steady_clock::now() + interval;
      outcome = rules->reload_if_changed();
    }
    if (!outcome) continue;
    metrics.count_rules_reload(outcome->swapped);
    if (outcome->swapped) {
      publish_rules(*outcome->active);
      spdlog::info("rules: reloaded, {} rules in force (pack version '{}')",
                   outcome->active->engine->rules().size(),
                   outcome->active->engine->pack_version());
    } else {
      for (const auto& d : outcome->errors) {
        spdlog::error("rules: reload refused, keeping the previous set: {}", rules::to_string(d));
      }
    }
  }
}

void Agent::Impl::open_power() {
  const PowerConfig& pc = config.power;
  // The sampler keeps each workload's cgroup counters open (two files; see
  // workload::Resolver::scan_cpu): take the hard limit on open files, as
  // systemd's default soft limit of 1024 would cover only 256 workloads.
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &files) != 0)
      spdlog::warn("cannot raise the open-file limit: {}", std::strerror(errno));
  }
  power::PowerSamplerOptions options;
  options.proc_root = config.proc_root;
  options.estimate.idle_watts = pc.idle_watts;
  options.carbon.pue = pc.pue;
  options.carbon.grid_intensity_gco2e_per_kwh = pc.grid_intensity_gco2e_per_kwh;
  options.carbon.embodied_kgco2e = pc.embodied_kgco2e;
  options.carbon.lifetime_years = pc.lifetime_years;
  if (!pc.grid_intensity_csv.empty()) {
    options.carbon.grid_intensity_series = std::make_shared<const power::TimeSeries>(
        power::TimeSeries::load_csv(pc.grid_intensity_csv, "gco2e_per_kwh"));
  }
  if (!pc.pue_csv.empty()) {
    options.carbon.pue_series =
        std::make_shared<const power::TimeSeries>(power::TimeSeries::load_csv(pc.pue_csv, "pue"));
  }
  if (!power::parse_idle_policy(pc.idle_policy, options.idle_policy)) {
    throw std::runtime_error("power.idle_policy: unknown policy " + pc.idle_policy);
  }
  power::PowerSources sources;
  std::string why;
  if (pc.source != "estimate") {
    sources.rapl = power::RaplSource::open(why);
    if (!sources.rapl && pc.source == "rapl")
      throw std::runtime_error("power.source is rapl: " + why);
    if (!sources.rapl) spdlog::warn("{}", why);
  }
  if (pc.ipmi) {
    if (auto transport = power::open_freeipmi_inband(why))
      sources.wall = std::make_unique<power::DcmiWallSource>(std::move(transport));
    else
      spdlog::warn("power.ipmi is on: {}", why);
  }
  if (pc.nvml) {
    sources.nvml = power::NvmlSource::open(why, pc.nvml_library);
    if (!sources.nvml) spdlog::info("GPU energy off: {}", why);
  }
  // Green Algorithms' P_c and the idle power (power::choose_estimate).
  std::string model = pc.cpu_model;
  const std::string cpuinfo =
      workload::read_file(config.proc_root + "/cpuinfo", 1 << 22).value_or("");
  if (model == "auto") model = power::parse_cpu_model_name(cpuinfo);
  auto cpus = power::read_proc_stat(config.proc_root);
  const uint32_t ncpus = cpus && cpus->cpus > 0 ? cpus->cpus : 1;
  const power::EstimateChoice estimate = power::choose_estimate(
      model, power::cpuinfo_is_virtual(cpuinfo), ncpus,
      {.core_watts = pc.core_watts,
       .idle_watts = pc.idle_watts_set ? std::optional(pc.idle_watts) : std::nullopt,
       .max_watts = pc.max_watts_set ? std::optional(pc.max_watts) : std::nullopt,
       .default_idle_watts = pc.idle_watts});
  options.estimate.core_watts = estimate.model.core_watts;
  metrics.set_power_estimate(estimate, !sources.rapl && !sources.wall);
  if (!sources.rapl && !sources.wall) {
    // The estimate's own idle power (none on a virtual machine unless set).
    options.estimate.idle_watts = estimate.model.idle_watts;
    spdlog::warn("power is ESTIMATED (Green Algorithms model): {} + {} W/GB of memory",
                 estimate.basis, power::kMemoryWattsPerGb);
  }
  power = std::make_unique<power::PowerSampler>(std::move(options), std::move(sources),
                                                workload::Resolver(mounts, {config.proc_root}));
}

void Agent::Impl::publish_health() {
  if (sensor) {
    for (int k = 0; k < protocol::kEventKindCount; ++k) {
      const auto kind = static_cast<protocol::EventKind>(k);
      metrics.set_ringbuf_drops(kind, sensor->ringbuf_drops(kind));
    }
    metrics.set_decode_errors(sensor->decode_errors());
    metrics.set_process_table_evictions(sensor->process_table_evictions());
    metrics.set_sensor_health(sensor->process_table_size(), sensor->pending_full(),
                              sensor->image_hash_failures());
    const uint64_t ring_used = sensor->ringbuf_used_bytes();
    metrics.set_ringbuf_used_bytes(ring_used);
    ringbuf_drops_total = sensor->ringbuf_drops_total();
    events_total = sensor->events_total();
    std::map<std::string, uint64_t> drops;
    for (int k = 0; k < protocol::kEventKindCount; ++k) {
      const auto kind = static_cast<protocol::EventKind>(k);
      drops["ringbuf." + std::string(protocol::to_string(kind))] = sensor->ringbuf_drops(kind);
    }
    drops["process_table.evicted"] = sensor->process_table_evictions();
    drops["sensor.pending_full"] = sensor->pending_full();
    drops["sensor.decode_errors"] = sensor->decode_errors();
    std::lock_guard lock(status_mutex);
    drops_by_source = std::move(drops);
    kinds_off = sensor->kinds_off();
    ringbuf_size_bytes = sensor->ringbuf_size_bytes();
    ringbuf_used_bytes = ring_used;
  } else {
    std::lock_guard lock(status_mutex);
    if (kinds_off.empty()) {
      for (int k = 0; k < protocol::kEventKindCount; ++k) {
        kinds_off.emplace_back(protocol::to_string(static_cast<protocol::EventKind>(k)));
      }
    }
  }
  const uplink::UplinkStats u = uplink->stats();
  metrics.set_uplink(u);
  uplink_events_dropped_total = u.events_dropped_total;
}

void Agent::Impl::run_sensor(const std::atomic<bool>& stop) {
  workload::Resolver resolver(mounts, {config.proc_root});
  std::vector<protocol::Alert> alerts;
  // The rule set in force, refreshed when a reload swapped another in.
  uint64_t rules_generation = rules->generation();
  std::shared_ptr<const rules::RuleSet> rule_set = rules->current();
  auto sink = [&](protocol::Event&& event) {
    event.site = config.site;
    event.host = config.host;
    const auto kind = event.kind();
    // An exec may follow a move to the job's cgroup; an exit frees the pid.
    if (kind == protocol::EventKind::kProcessExec) resolver.forget(event.pid);
    event.workload = resolver.resolve(event.cgroup_id, event.pid);
    if (kind == protocol::EventKind::kProcessExit) resolver.forget(event.pid);
    metrics.count_event(kind);
    alerts.clear();
    if (const uint64_t generation = rules->generation(); generation != rules_generation) {
      rules_generation = generation;
      rule_set = rules->current();
    }
    rule_set->engine->evaluate(event, alerts);
    for (auto& alert : alerts) {
      if (!rule_set->reports(alert.rule_id)) {
        metrics.count_correlation_only_match();
        continue;
      }
      metrics.count_alert(alert);
      spdlog::info("alert {} [{}]: pid {} user {} workload {}/{}", alert.rule_title, alert.level,
                   event.pid, event.user, protocol::to_string(event.workload.kind),
                   event.workload.id);
      uplink->add_alert(std::move(alert));
    }
    uplink->add_event(std::move(event));
  };
  auto next_health = std::chrono::steady_clock::now();
  while (!stop) {
    if (sensor) {
      const int n = sensor->poll(100, sink);
      if (n < 0 && n != -EINTR) {
        spdlog::error("ring buffer poll failed: {}", std::strerror(-n));
        std::this_thread::sleep_for(100ms);
      }
    } else {
      std::this_thread::sleep_for(100ms);
    }
    if (std::chrono::steady_clock::now() >= next_health) {
      publish_health();
      metrics.set_workload_read_errors(resolver.stats().read_errors);
      next_health += 1s;
    }
  }
  if (sensor) sensor->poll(0, sink);  // what the kernel already handed over
  publish_health();
}

void Agent::Impl::run_power(const std::atomic<bool>& stop) {
  const auto interval = std::chrono::milliseconds(config.power.interval_ms);
  auto next = std::chrono::steady_clock::now();
  while (!stop) {
    auto sample = power->sample();
    metrics.set_power(power->stats());
    if (sample) {
      std::vector<protocol::ZoneEnergy> zones;
      std::vector<protocol::WorkloadEnergy> workloads;
      for (auto& z : sample->zones) zones.push_back(std::move(z.energy));
      for (auto& w : sample->workloads) workloads.push_back(std::move(w.energy));
      metrics.record_energy(zones, workloads);
      uplink->add_energy(std::move(zones), std::move(workloads));
      if (!sample->ended.empty()) uplink->add_workload_ends(std::move(sample->ended));
    }
    next += interval;
    while (!stop && std::chrono::steady_clock::now() < next) std::this_thread::sleep_for(100ms);
  }
}

Agent::Agent(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Agent::~Agent() = default;

void Agent::run(const std::atomic<bool>& stop) {
  std::thread power_thread;
  if (impl_->power) power_thread = std::thread([&] { impl_->run_power(stop); });
  std::signal(SIGHUP, on_sighup);
  std::thread rules_thread([&] { impl_->run_rules_reload(stop); });
  std::thread pull_thread;
  if (impl_->puller) {
    pull_thread =
        std::thread([&] { impl_->puller->run(stop, [] { g_rules_reload_requested = true; }); });
  }
  impl_->run_sensor(stop);
  if (power_thread.joinable()) power_thread.join();
  rules_thread.join();
  if (pull_thread.joinable()) pull_thread.join();
  impl_->uplink->stop(std::chrono::seconds(5));
  impl_->publish_health();
}

}  // namespace vigie::agent
