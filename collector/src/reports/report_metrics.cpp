#include "reports/report_metrics.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "vigie/collector/store.h"

namespace vigie::collector {
namespace {

namespace sus = vigie::sustainability;

prometheus::Family<prometheus::Gauge>& gauge(prometheus::Registry& registry, const char* name,
                                             const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ReportMetrics::ReportMetrics(ReportBuilder& builder, FacilityStore& store,
                             prometheus::Registry& registry, std::chrono::seconds interval)
    : builder_(builder),
      store_(store),
      interval_(interval),
      kpi_(gauge(registry, "vigie_facility_kpi",
                 "Year-to-date KPI of a facility (EU 2024/1364 Annex III, ISO/IEC 30134): pue, "
                 "wue in L/kWh, erf, ref, cue_location and cue_market in kgCO2e/kWh")),
      energy_(gauge(registry, "vigie_facility_energy_kwh",
                    "Year-to-date metered energy of a facility, kWh (EDC, EIT, EREUSE, ERES-TOT)")),
      coverage_(gauge(registry, "vigie_facility_report_coverage",
                      "Share of the year to date the facility's readings cover, per quantity")),
      community_energy_(
          gauge(registry, "vigie_community_energy_kwh",
                "Year-to-date facility energy charged to a community (Slurm "
                "account), kWh; with the idle and unallocated shares it adds up to EDC")),
      community_co2e_(
          gauge(registry, "vigie_community_co2e_kg",
                "Year-to-date carbon of a community, kgCO2e, scope operational or embodied")),
      failures_(prometheus::BuildCounter()
                    .Name("vigie_report_refresh_failures_total")
                    .Help("Refreshes of the report gauges that failed (the collector logs why)")
                    .Register(registry)
                    .Add({})) {}

ReportMetrics::~ReportMetrics() { stop(); }

void ReportMetrics::start() {
  if (interval_.count() <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      refresh(now_s());
      lock.lock();
      wake_.wait_for(lock, interval_, [this] { return stopping_; });
    }
  });
}

void ReportMetrics::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ReportMetrics::refresh(int64_t now) {
  std::lock_guard lock(series_mutex_);
  try {
    std::vector<std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>> series;
    const auto set = [&](prometheus::Family<prometheus::Gauge>& family,
                         const prometheus::Labels& labels, double value) {
      auto& g = family.Add(labels);
      g.Set(value);
      series.emplace_back(&family, &g);
    };
    for (const sus::Facility& f : store_.facilities()) {
      const sus::Span year = sus::calendar_year(
          std::stoi(sus::local_time_text(now, f.time_zone).substr(0, 4)), f.time_zone);
      if (now <= year.start_s) continue;
      const sus::Span to_date{year.start_s, now};
      const auto report = builder_.datacentre(f, to_date);
      for (const auto& [symbol, kpi] : {std::pair{"PUE", "pue"},
                                        {"WUE", "wue"},
                                        {"ERF", "erf"},
                                        {"REF", "ref"},
                                        {"CUE-LOCATION", "cue_location"},
                                        {"CUE-MARKET", "cue_market"}}) {
        const sus::ReportItem* item = report.find(symbol);
        if (item && item->value) set(kpi_, {{"facility", f.id}, {"kpi", kpi}}, *item->value);
      }
      for (const char* symbol : {"EDC", "EIT", "EREUSE", "ERES-TOT"}) {
        const sus::ReportItem* item = report.find(symbol);
        if (!item || !item->value) continue;
        set(energy_, {{"facility", f.id}, {"quantity", symbol}}, *item->value);
        set(coverage_, {{"facility", f.id}, {"quantity", symbol}}, item->coverage);
      }
      const auto communities =
          builder_.communities(f, to_date, "account", sus::IdlePolicy::kSeparate);
      for (const auto& c : communities.totals) {
        const prometheus::Labels labels{{"facility", f.id}, {"community", c.community}};
        set(community_energy_, labels, static_cast<double>(c.facility_joules) / 3.6e6);
        if (c.operational_kgco2e) {
          set(community_co2e_,
              {{"facility", f.id}, {"community", c.community}, {"scope", "operational"}},
              *c.operational_kgco2e);
        }
        set(community_co2e_,
            {{"facility", f.id}, {"community", c.community}, {"scope", "embodied"}},
            c.embodied_kgco2e);
      }
      set(community_energy_, {{"facility", f.id}, {"community", "(idle)"}},
          static_cast<double>(communities.idle_joules) / 3.6e6);
      set(community_energy_, {{"facility", f.id}, {"community", "(unallocated)"}},
          static_cast<double>(communities.unallocated_joules) / 3.6e6);
    }
    // Series of facilities or communities gone since the last refresh go too.
    for (const auto& [family, g] : series_) {
      if (std::find(series.begin(), series.end(), std::pair{family, g}) == series.end()) {
        family->Remove(g);
      }
    }
    series_ = std::move(series);
    return true;
  } catch (const std::exception& e) {
    failures_.Increment();
    spdlog::warn("report gauges not refreshed: {}", e.what());
    return false;
  }
}

}  // namespace vigie::collector
