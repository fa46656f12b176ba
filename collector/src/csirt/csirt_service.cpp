#include "csirt/csirt_service.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "alerting/alert_router.h"
#include "vigie/csirt/json.h"
#include "vigie/csirt/misp.h"
#include "vigie/csirt/stix.h"
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

csirt::ExportRequest CsirtService::export_request(const csirt::Incident& incident,
                                                  csirt::Tlp clearance, bool local,
                                                  uint64_t now_ns) {
  constexpr std::size_t kMaxSightingsPerIndicator = 10000;
  csirt::ExportRequest request;
  request.incident = incident;
  request.indicators = csirt_.incident_indicators(incident.id);
  for (const auto& linked : request.indicators) {
    auto seen = csirt_.sightings(linked.indicator.uuid, kMaxSightingsPerIndicator);
    request.sightings.insert(request.sightings.end(), seen.begin(), seen.end());
  }
  request.site = site_;
  request.clearance = clearance;
  request.local = local;
  request.now_ns = now_ns;
  return request;
}

nlohmann::json CsirtService::store_import(csirt::ExchangeImport imported, const std::string& by,
                                          const std::string& sighting_site, uint64_t now_ns) {
  using nlohmann::json;
  csirt::ImportCounts counts = imported.counts;
  std::vector<std::string> hunt;
  for (auto indicator : imported.indicators) {
    // Already there: the same uuid, or the same (type, value, source).
    bool existed = !indicator.uuid.empty() && csirt_.indicator(indicator.uuid).has_value();
    if (!existed) {
      csirt::IndicatorQuery query;
      query.type = indicator.type;
      query.value = indicator.value;
      query.include_deleted = true;
      query.limit = 1000;
      const auto same = csirt_.indicators(query);
      existed = std::any_of(same.begin(), same.end(), [&](const csirt::Indicator& i) {
        return i.source == indicator.source;
      });
    }
    indicator.created_ns = indicator.updated_ns = now_ns;
    indicator = csirt_.put_indicator(indicator);
    if (indicator.deleted || !indicator.to_ids) continue;  // counted by the importer
    ++(existed ? counts.updated : counts.added);
    hunt.push_back(indicator.uuid);
  }
  // Other teams' sightings of indicators now stored: who saw it, how often.
  std::vector<csirt::Sighting> sightings;
  for (const auto& seen : imported.sightings) {
    if (!csirt_.indicator(seen.indicator_uuid)) continue;
    csirt::Sighting s;
    s.indicator_uuid = seen.indicator_uuid;
    s.site = !sighting_site.empty() ? sighting_site
             : seen.where.empty()   ? imported.format
                                    : seen.where;
    s.first_ns = seen.first_ns;
    s.last_ns = seen.last_ns;
    s.count = seen.count;
    s.source = "exchange";
    sightings.push_back(std::move(s));
  }
  if (!sightings.empty()) csirt_.record_sightings(sightings);
  for (const auto& event : imported.events)
    csirt_.put_document("misp-event", event.uuid, json{{"timestamp", event.timestamp}}.dump(),
                        now_ns);
  refresh_matcher();
  std::optional<csirt::Retrohunt> retrohunt;
  if (!hunt.empty()) retrohunt = request_retrohunt(hunt, 0, by);

  json report = {{"id", csirt::new_uuid()},
                 {"format", imported.format},
                 {"imported_ns", now_ns},
                 {"by", by},
                 {"counts",
                  {{"added", counts.added},
                   {"updated", counts.updated},
                   {"revoked", counts.revoked},
                   {"skipped", counts.skipped},
                   {"unsupported", counts.unsupported},
                   {"invalid", counts.invalid}}},
                 {"invalid", imported.invalid},
                 {"events", json::array()},
                 {"sightings", sightings.size()},
                 {"relationships", imported.relationships.size()},
                 {"context", json::array()}};
  for (const auto& event : imported.events)
    report["events"].push_back({{"uuid", event.uuid}, {"timestamp", event.timestamp}});
  for (const auto& item : imported.context) {
    report["context"].push_back({{"type", item.type},
                                 {"value", item.value},
                                 {"tlp", csirt::to_string(item.tlp)},
                                 {"source", item.source},
                                 {"comment", item.comment}});
  }
  csirt_.put_document("import", report["id"], report.dump(), now_ns);
  report["retrohunt"] = retrohunt ? csirt::to_json(*retrohunt) : json(nullptr);
  return report;
}

std::vector<CsirtService::Uplink> CsirtService::incidents_to_uplink(csirt::Tlp clearance,
                                                                    uint64_t now_ns) {
  constexpr std::size_t kMaxIncidents = 1000;
  csirt::IncidentQuery query;
  query.limit = kMaxIncidents;
  std::vector<Uplink> out;
  for (const auto& incident : csirt_.incidents(query)) {
    if (!csirt::may_receive(incident.tlp, clearance)) continue;  // RED never, AMBER if allowed
    const auto request = export_request(incident, clearance, false, now_ns);
    const uint64_t changed = csirt::changed_ns(request);
    const auto sent = csirt_.document("uplink", incident.uuid);
    if (sent) {
      const auto stamp = nlohmann::json::parse(*sent, nullptr, false);
      if (stamp.is_object() && stamp.value("changed_ns", uint64_t{0}) >= changed) continue;
    }
    auto bundle = csirt::export_stix(request);
    if (!bundle) {
      spdlog::warn("incident {} not sent upstream: {}", incident.id, bundle.error());
      continue;
    }
    out.push_back({incident.uuid, changed, bundle->dump()});
  }
  return out;
}

void CsirtService::uplinked(const Uplink& sent, uint64_t now_ns) {
  csirt_.put_document("uplink", sent.uuid, nlohmann::json{{"changed_ns", sent.changed_ns}}.dump(),
                      now_ns);
}

protocol::Result<std::vector<std::string>> CsirtService::headsups_to_fetch(
    std::string_view manifest) {
  auto entries = csirt::parse_misp_manifest(manifest);
  if (!entries) return protocol::fail(entries.error());
  std::vector<csirt::EventStamp> known;
  for (const auto& entry : *entries) {
    const auto stored = csirt_.document("misp-event", entry.uuid);
    if (!stored) continue;
    const auto stamp = nlohmann::json::parse(*stored, nullptr, false);
    if (stamp.is_object() && stamp.contains("timestamp") && stamp["timestamp"].is_number_unsigned())
      known.push_back({entry.uuid, stamp["timestamp"].get<uint64_t>()});
  }
  return csirt::events_to_fetch(*entries, known);
}

void CsirtService::receive_headsup(const std::string& uuid, std::string_view event,
                                   uint64_t now_ns) {
  auto imported = csirt::import_misp(event, default_tlp_);
  if (!imported) {
    spdlog::warn("heads-up {} refused: {}", uuid, imported.error());
    return;
  }
  std::vector<std::string> indicators;
  for (const auto& i : imported->indicators)
    if (!i.deleted && i.to_ids) indicators.push_back(i.uuid);
  const auto report = store_import(std::move(*imported), "federation", "", now_ns);
  const auto& hunt = report["retrohunt"];
  const nlohmann::json pending = {
      {"indicators", indicators},
      {"retrohunt", hunt.is_object() ? hunt.value("id", "") : std::string()},
      {"answered", false}};
  csirt_.put_document("headsup", uuid, pending.dump(), now_ns);
}

std::vector<std::pair<std::string, std::string>> CsirtService::headsup_answers() {
  constexpr std::size_t kMaxPending = 1000;
  constexpr std::size_t kMaxSightings = 10000;
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [uuid, text] : csirt_.documents("headsup", kMaxPending)) {
    const auto pending = nlohmann::json::parse(text, nullptr, false);
    if (!pending.is_object() || pending.value("answered", true)) continue;
    std::string state = "done";
    uint64_t hunted_ns = 0;
    if (const std::string id = pending.value("retrohunt", ""); !id.empty()) {
      const auto hunt = csirt_.retrohunt(id);
      if (!hunt || (hunt->state != "done" && hunt->state != "failed")) continue;  // not yet
      state = hunt->state;
      hunted_ns = hunt->finished_ns;
    }
    nlohmann::json counts = nlohmann::json::object();
    for (const auto& indicator : pending.value("indicators", nlohmann::json::array())) {
      if (!indicator.is_string()) continue;
      uint64_t seen = 0;  // this site's own: alerts and retro-hunts, not other teams'
      for (const auto& s : csirt_.sightings(indicator.get<std::string>(), kMaxSightings))
        if (s.source != "exchange") seen += s.count;
      counts[indicator.get<std::string>()] = seen;
    }
    out.emplace_back(
        uuid,
        nlohmann::json{
            {"event", uuid}, {"state", state}, {"indicators", counts}, {"hunted_ns", hunted_ns}}
            .dump());
  }
  return out;
}

void CsirtService::answered(const std::string& event_uuid, uint64_t now_ns) {
  const auto text = csirt_.document("headsup", event_uuid);
  if (!text) return;
  auto pending = nlohmann::json::parse(*text, nullptr, false);
  if (!pending.is_object()) return;
  pending["answered"] = true;
  csirt_.put_document("headsup", event_uuid, pending.dump(), now_ns);
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
