#include "csirt/csirt_service.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <map>

#include "alerting/alert_router.h"
#include "vigie/protocol/distribution.h"

namespace vigie::collector {
namespace {

csirt::CsirtStore& csirt_of(Store& store) {
  auto* csirt = store.csirt_store();
  if (csirt == nullptr) throw StoreError("this store keeps no CSIRT data");
  return *csirt;
}

// "request:<entry>" → "request": the rule id names the kind of step.
std::string step_kind(const std::string& key) { return key.substr(0, key.find(':')); }

}  // namespace

CsirtService::CsirtService(const CsirtConfig& config, std::string site, csirt::Tlp default_tlp,
                           Store& store, AlertRouter& router, std::chrono::hours window,
                           prometheus::Registry* registry)
    : config_(config),
      site_(std::move(site)),
      default_tlp_(default_tlp),
      store_(store),
      csirt_(csirt_of(store)),
      router_(router),
      window_(window),
      bans_(csirt_, site_, config.publish_dir, config.identity_map, registry) {
  if (registry == nullptr) return;
  using prometheus::BuildCounter;
  using prometheus::BuildGauge;
  incidents_ = &BuildGauge().Name("vigie_csirt_incidents").Help("Incidents by state").Register(*registry);
  overdue_ = &BuildGauge()
                  .Name("vigie_csirt_sec01_overdue_steps")
                  .Help("EGI SEC01 steps of incidents past their deadline and not done")
                  .Register(*registry)
                  .Add({});
  active_indicators_ = &BuildGauge()
                            .Name("vigie_csirt_indicators_active")
                            .Help("Indicators stored alerts are matched against")
                            .Register(*registry)
                            .Add({});
  sec01_alerts_ = &BuildCounter()
                       .Name("vigie_csirt_sec01_alerts_total")
                       .Help("Alerts raised for overdue SEC01 steps (one per step)")
                       .Register(*registry)
                       .Add({});
  check_failures_ = &BuildCounter()
                         .Name("vigie_csirt_sec01_check_failures_total")
                         .Help("SEC01 checks that failed (storage errors)")
                         .Register(*registry)
                         .Add({});
  auto& hunts = BuildCounter()
                    .Name("vigie_csirt_retrohunts_total")
                    .Help("Retro-hunts finished, by outcome")
                    .Register(*registry);
  hunts_done_ = &hunts.Add({{"outcome", "done"}});
  hunts_failed_ = &hunts.Add({{"outcome", "failed"}});
  hunts_refused_ = &BuildCounter()
                        .Name("vigie_csirt_retrohunts_refused_total")
                        .Help("Retro-hunts refused because max_queued were waiting (429)")
                        .Register(*registry)
                        .Add({});
  rows_scanned_ = &BuildCounter()
                       .Name("vigie_csirt_retrohunt_rows_scanned_total")
                       .Help("Stored observables read by retro-hunts")
                       .Register(*registry)
                       .Add({});
}

CsirtService::~CsirtService() { stop(); }

void CsirtService::start() {
  refresh_matcher();
  bans_.publish(protocol::wall_clock_ns());
  if (config_.check_interval.count() > 0) sec01_thread_ = std::thread([this] { sec01_loop(); });
  retrohunt_thread_ = std::thread([this] { retrohunt_loop(); });
}

void CsirtService::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sec01_thread_.joinable()) sec01_thread_.join();
  if (retrohunt_thread_.joinable()) retrohunt_thread_.join();
}

void CsirtService::refresh_matcher() {
  const uint64_t now = protocol::wall_clock_ns();
  const auto indicators = csirt_.detection_indicators();
  if (!config_.publish_dir.empty()) {
    namespace dist = protocol::distribution;
    const std::string name(csirt::kIocListName);
    dist::Item item{dist::Kind::kIocs, name, {{name, csirt::ioc_list_csv(indicators, now)}}, ""};
    item.etag = dist::content_etag(item.files);
    std::string error;
    if (!dist::install_item(config_.publish_dir, item, error))
      spdlog::error("cannot publish the CSIRT's indicators to {}: {}", config_.publish_dir, error);
  }
  auto matcher = std::make_shared<const csirt::IndicatorMatcher>(indicators, now);
  if (active_indicators_ != nullptr) active_indicators_->Set(static_cast<double>(matcher->size()));
  store_.set_indicator_matcher(std::move(matcher));
}

std::optional<csirt::Retrohunt> CsirtService::request_retrohunt(std::vector<std::string> indicators,
                                                                uint64_t since_ns,
                                                                std::string requested_by) {
  csirt::Retrohunt hunt;
  hunt.id = csirt::new_uuid();
  hunt.indicators = std::move(indicators);
  hunt.requested_ns = protocol::wall_clock_ns();
  const uint64_t window_ns =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(window_).count());
  hunt.since_ns = since_ns != 0                                  ? since_ns
                  : window_ns != 0 && hunt.requested_ns > window_ns ? hunt.requested_ns - window_ns
                                                                  : 0;
  hunt.requested_by = std::move(requested_by);
  std::lock_guard lock(mutex_);
  if (queue_.size() >= config_.max_queued_retrohunts) {
    if (hunts_refused_ != nullptr) hunts_refused_->Increment();
    return std::nullopt;
  }
  csirt_.put_retrohunt(hunt);
  queue_.push_back(hunt);
  wake_.notify_all();
  return hunt;
}

csirt::Retrohunt CsirtService::run_retrohunt(csirt::Retrohunt hunt) {
  hunt.state = "running";
  hunt.started_ns = protocol::wall_clock_ns();
  try {
    csirt_.put_retrohunt(hunt);
    for (const std::string& uuid : hunt.indicators) {
      const auto indicator = csirt_.indicator(uuid);
      // A revoked or unknown indicator is never matched, in the past either.
      if (!indicator || indicator->deleted) continue;
      std::vector<csirt::Sighting> sightings;
      std::size_t budget = config_.max_rows_per_indicator;
      for (const auto& range : csirt::key_ranges(indicator->type, indicator->value)) {
        uint64_t rows = 0;
        bool truncated = false;
        for (const auto& hit : csirt_.find_observables(indicator->type, range, hunt.since_ns,
                                                       budget, rows, truncated)) {
          sightings.push_back({uuid, hit.site, hit.host, hit.workload_kind, hit.workload_id,
                               hit.user, hit.first_ns, hit.last_ns, hit.count, "retrohunt", 0});
        }
        hunt.rows_scanned += rows;
        budget -= std::min<std::size_t>(budget, rows);
        if (truncated || budget == 0) {
          hunt.truncated = hunt.truncated || truncated || budget == 0;
          if (budget == 0) break;
        }
      }
      if (!sightings.empty()) csirt_.record_sightings(sightings);
      hunt.sightings += sightings.size();
    }
    hunt.state = "done";
    if (hunts_done_ != nullptr) hunts_done_->Increment();
  } catch (const std::exception& e) {
    hunt.state = "failed";
    hunt.error = e.what();
    spdlog::error("retro-hunt {} failed: {}", hunt.id, e.what());
    if (hunts_failed_ != nullptr) hunts_failed_->Increment();
  }
  if (rows_scanned_ != nullptr) rows_scanned_->Increment(static_cast<double>(hunt.rows_scanned));
  hunt.finished_ns = protocol::wall_clock_ns();
  try {
    csirt_.put_retrohunt(hunt);
  } catch (const std::exception& e) {
    spdlog::error("retro-hunt {}: cannot store its outcome: {}", hunt.id, e.what());
  }
  return hunt;
}

void CsirtService::retrohunt_loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    csirt::Retrohunt hunt = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    run_retrohunt(std::move(hunt));
    lock.lock();
  }
}

std::size_t CsirtService::check_sec01(uint64_t now_ns) {
  std::size_t raised = 0, overdue = 0;
  std::map<csirt::State, double> by_state;
  for (const csirt::Incident& incident : csirt_.incidents({std::nullopt, false, 100'000})) {
    ++by_state[incident.state];
    for (const csirt::Step& step : csirt::sec01_steps(incident, config_.calendar, now_ns)) {
      if (step.status != csirt::StepStatus::kOverdue) continue;
      ++overdue;
      if (!csirt_.claim_overdue(incident.id, step.key, now_ns)) continue;
      AlertNotification n;
      n.origin = "collector";
      n.site = site_;
      n.alert.rule_id = "vigie-csirt-sec01-" + step_kind(step.key);
      n.alert.rule_title = "EGI SEC01 step " + std::to_string(step.sec01_step) + " overdue";
      n.alert.level = "high";
      n.alert.tags = {"csirt", "sec01"};
      n.alert.event.time_ns = step.due_ns;
      n.alert.event.site = site_;
      n.starts_ns = step.due_ns;
      n.tlp = incident.tlp;
      n.labels = {{"incident", incident.id}, {"sec01_step", step.key}};
      n.annotations = {
          {"summary", incident.id + ": " + step.title + " is overdue"},
          {"description", "Incident " + incident.id + " (" + incident.title + "): SEC01 step " +
                              std::to_string(step.sec01_step) + ", " + step.title +
                              ", was due and is not done."}};
      router_.route(std::move(n), false);
      ++raised;
      if (sec01_alerts_ != nullptr) sec01_alerts_->Increment();
    }
  }
  if (overdue_ != nullptr) overdue_->Set(static_cast<double>(overdue));
  if (incidents_ != nullptr) {
    for (auto state : {csirt::State::kSuspected, csirt::State::kReported, csirt::State::kContained,
                       csirt::State::kInvestigating, csirt::State::kResolved, csirt::State::kClosed,
                       csirt::State::kFalsePositive, csirt::State::kMerged})
      incidents_->Add({{"state", std::string(to_string(state))}}).Set(by_state[state]);
  }
  return raised;
}

void CsirtService::sec01_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    try {
      check_sec01(protocol::wall_clock_ns());
      bans_.publish(protocol::wall_clock_ns());  // bans expire
    } catch (const std::exception& e) {
      spdlog::error("SEC01 check failed: {}", e.what());
      if (check_failures_ != nullptr) check_failures_->Increment();
    }
    lock.lock();
    wake_.wait_for(lock, config_.check_interval, [this] { return stopping_; });
  }
}

}  // namespace vigie::collector
