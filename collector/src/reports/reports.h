// The sustainability reports of the collector: the datacentre report of a
// facility from its stored meter readings and grid series, the communities'
// footprints from the agents' stored workload energy, the federation's
// Annex IV aggregates; and the routes that serve them with the facilities,
// their readings and the grid series (sustainability/ has the arithmetic).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/request.h"
#include "vigie/collector/access.h"
#include "vigie/collector/facility_store.h"
#include "vigie/collector/reports_config.h"
#include "vigie/sustainability/communities.h"
#include "vigie/sustainability/datacentre.h"

namespace vigie::collector {

// Builds reports from a FacilityStore. Thread-safe (the store is).
class ReportBuilder {
 public:
  ReportBuilder(FacilityStore& store, ReportsConfig config)
      : store_(store), config_(std::move(config)) {}

  sustainability::DatacentreReport datacentre(const sustainability::Facility& facility,
                                              sustainability::Span period);
  // Each calendar month of `period` in the facility's time zone: its EDC
  // (the meters, consolidated over the month), the node energy the agents
  // of its sites or hosts measured (every site's when it names none), per
  // Slurm account (group_by "account") or per project (reports.projects;
  // an unlisted account is its own project), and the month's average grid
  // intensity. Throws sustainability::InputError for a bad group_by.
  sustainability::CommunityReport communities(const sustainability::Facility& facility,
                                              sustainability::Span period,
                                              const std::string& group_by,
                                              sustainability::IdlePolicy idle);
  // The community a principal project:<account> may see under `group_by`.
  std::string community_of(const std::string& account, const std::string& group_by) const;
  const ReportsConfig& config() const { return config_; }

 private:
  sustainability::GridSeries grid(const sustainability::Facility& facility,
                                  sustainability::Span period);
  FacilityStore& store_;
  const ReportsConfig config_;
};

// The printable page of a facility over a period: its datacentre report
// and its communities (either may be null): every item with its quality
// flag, the warnings, the gaps, the method notes. Self-contained HTML
// (inline CSS, no script), print-ready.
std::string report_html(const sustainability::Facility& facility, sustainability::Span period,
                        const sustainability::DatacentreReport* report,
                        const sustainability::CommunityReport* communities);

// Routes (errors {"error": ...}; roles: sustainability and admin, and
// project:<account> for the communities report, its own rows only):
//   GET  /api/v1/facilities                 → {"facilities": [...]}
//   POST /api/v1/facilities                 facility JSON → 201 (200 replaced)
//   GET  /api/v1/facilities/<id>            → the facility
//   POST /api/v1/facilities/<id>/readings   JSON or text/csv (meter.h) → {"received",
//                                           "added", "replaced"}; 400 lists every bad row
//   GET  /api/v1/facilities/<id>/check      ?year=|from=&to= → coverage, gaps, overlaps,
//                                           resets per quantity
//   POST /api/v1/grid/<zone>                ?basis=direct|life-cycle&source=&version=&column=
//                                           eCO2mix, ODRÉ, Electricity Maps or generic CSV
//   GET  /api/v1/grid/<zone>                ?basis=&from=&to= → the stored points
//   GET  /api/v1/reports/datacentre         ?facility=&year=|from=&to=&format=json|csv|html
//   GET  /api/v1/reports/communities        ?facility=&year=|from=&to=&group_by=account|project
//                                           &idle=separate|proportional&format=json|csv|html
//   GET  /api/v1/reports/federation         ?year=&format=json → Annex IV aggregates of every
//                                           facility held here
class ReportsApi {
 public:
  explicit ReportsApi(ReportBuilder& builder, FacilityStore& store)
      : builder_(builder), store_(store) {}
  Response handle(const Request& request, std::string_view path, std::string_view query,
                  const Principal& principal, uint64_t now_ns);

 private:
  Response facilities(const Request& request, std::string_view rest, std::string_view query,
                      uint64_t now_ns);
  Response grid(const Request& request, std::string_view zone, std::string_view query);
  Response report(std::string_view name, std::string_view query, const Principal& principal);
  ReportBuilder& builder_;
  FacilityStore& store_;
};

}  // namespace vigie::collector
