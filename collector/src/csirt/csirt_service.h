// The collector's CSIRT engine room, behind the API (api.h): keeps the
// store's indicator matcher current (alerts become sightings at ingest),
// runs retro-hunts one at a time on its own thread, and checks the EGI SEC01
// clocks of every incident on another, raising one alert per overdue step
// through the alert router (so Alertmanager and webhooks get it, with the
// incident's TLP), and there also republishes the ban list's IOC sets as
// entries expire (ban_service.h).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "csirt/ban_service.h"
#include "vigie/collector/csirt_config.h"
#include "vigie/collector/store.h"
#include "vigie/csirt/exchange.h"
#include "vigie/csirt/store.h"
#include "vigie/protocol/result.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace vigie::collector {

class AlertRouter;

// Metrics (on the collector's /metrics):
//   vigie_csirt_incidents{state}                 gauge, at each SEC01 check
//   vigie_csirt_sec01_overdue_steps              gauge, open steps past due
//   vigie_csirt_sec01_alerts_total               counter, alerts raised (one per overdue step)
//   vigie_csirt_sec01_check_failures_total       counter, checks the store failed
//   vigie_csirt_indicators_active                gauge, indicators alerts are matched against
//   vigie_csirt_retrohunts_total{outcome}        counter, done | failed
//   vigie_csirt_retrohunts_refused_total         counter, refused: the queue was full (429)
//   vigie_csirt_retrohunt_rows_scanned_total     counter, stored observables read
class CsirtService {
 public:
  // `store` must have a csirt_store(); `router` and `store` outlive this.
  // `site`: the incident id prefix and the site of SEC01 alerts.
  // `window`: how far back a retro-hunt searches by default (the events'
  // retention; 0: everything kept).
  CsirtService(const CsirtConfig& config, std::string site, csirt::Tlp default_tlp, Store& store,
               AlertRouter& router, std::chrono::hours window, prometheus::Registry* registry);
  ~CsirtService();
  CsirtService(const CsirtService&) = delete;
  CsirtService& operator=(const CsirtService&) = delete;

  // Builds the matcher, then starts the SEC01 and retro-hunt threads.
  void start();
  void stop();

  // Rebuilds the store's indicator matcher from detection_indicators(),
  // and publishes them as the IOC list "csirt.csv" under publish_dir (when
  // set) for the agents' rules; call after any indicator change. Throws
  // StoreError.
  void refresh_matcher();

  // Queues a retro-hunt of `indicators` over observables at or after
  // `since_ns` (0: the default window); nothing when max_queued are waiting.
  // The returned record is stored (state "queued"). Throws StoreError.
  std::optional<csirt::Retrohunt> request_retrohunt(std::vector<std::string> indicators,
                                                    uint64_t since_ns, std::string requested_by);
  // Runs one retro-hunt to its end on the calling thread and stores its
  // outcome (the worker thread calls it; tests too).
  csirt::Retrohunt run_retrohunt(csirt::Retrohunt hunt);

  // One SEC01 pass as of `now_ns` (the thread calls it every
  // check_interval; tests directly): returns the alerts it raised.
  std::size_t check_sec01(uint64_t now_ns);

  // The export of `incident` for a destination cleared for `clearance`
  // (csirt/exchange.h): its linked indicators and their sightings.
  csirt::ExportRequest export_request(const csirt::Incident& incident, csirt::Tlp clearance,
                                      bool local, uint64_t now_ns);
  // Stores what a MISP or STIX document held (indicators, other teams'
  // sightings, MISP event stamps), asks a retro-hunt of the new and updated
  // indicators, and keeps the report (document "import"); returns the report
  // (csirt/api.h, POST /import). `sighting_site`: who saw the document's
  // sightings when it does not say (a site's uplink), else its own word.
  nlohmann::json store_import(csirt::ExchangeImport imported, const std::string& by,
                              const std::string& sighting_site, uint64_t now_ns);

  // Site → federation (federation.h DistributionMirror): the incidents a
  // peer cleared for `clearance` may receive that changed since they were
  // last sent, as STIX bundles without host, user or job names.
  struct Uplink {
    std::string uuid;
    uint64_t changed_ns = 0;
    std::string bundle;
  };
  std::vector<Uplink> incidents_to_uplink(csirt::Tlp clearance, uint64_t now_ns);
  void uplinked(const Uplink& sent, uint64_t now_ns);

  // Site ← federation heads-ups (DistributionMirror): the events of the
  // federation's MISP feed (`manifest`, its manifest.json) new or changed
  // since read; an error for a manifest that is not one.
  protocol::Result<std::vector<std::string>> headsups_to_fetch(std::string_view manifest);
  // Imports one heads-up event (store_import: its indicators are
  // retro-hunted at once) and remembers the hunt to answer.
  void receive_headsup(const std::string& uuid, std::string_view event, uint64_t now_ns);
  // The answers whose retro-hunt ended, as (event uuid, JSON body: "event",
  // "state", "indicators": {uuid: what this site saw, alerts and hunts},
  // "hunted_ns"); answered() once delivered.
  std::vector<std::pair<std::string, std::string>> headsup_answers();
  void answered(const std::string& event_uuid, uint64_t now_ns);

  csirt::CsirtStore& csirt() { return csirt_; }
  Store& store() { return store_; }
  const CsirtConfig& config() const { return config_; }
  const std::string& site() const { return site_; }
  csirt::Tlp default_tlp() const { return default_tlp_; }
  BanService& bans() { return bans_; }

 private:
  void sec01_loop();
  void retrohunt_loop();

  const CsirtConfig config_;
  const std::string site_;
  const csirt::Tlp default_tlp_;
  Store& store_;
  csirt::CsirtStore& csirt_;
  AlertRouter& router_;
  const std::chrono::hours window_;
  BanService bans_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::deque<csirt::Retrohunt> queue_;  // guarded by mutex_
  std::thread sec01_thread_, retrohunt_thread_;

  prometheus::Family<prometheus::Gauge>* incidents_ = nullptr;
  prometheus::Gauge* overdue_ = nullptr;
  prometheus::Gauge* active_indicators_ = nullptr;
  prometheus::Counter* sec01_alerts_ = nullptr;
  prometheus::Counter* check_failures_ = nullptr;
  prometheus::Counter* hunts_done_ = nullptr;
  prometheus::Counter* hunts_failed_ = nullptr;
  prometheus::Counter* hunts_refused_ = nullptr;
  prometheus::Counter* rows_scanned_ = nullptr;
};

}  // namespace vigie::collector
