// The collector's HTTP request handler: a request in, a response out, no
// socket in sight (the server in server.h does the I/O), so it is unit-tested
// directly.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request.h"
#include "metrics.h"
#include "vigie/collector/config.h"
#include "vigie/collector/pipeline.h"
#include "vigie/collector/store.h"

namespace vigie::collector {

class DistributionServer;  // federation.h
class CsirtApi;            // csirt/api.h
class ReportsApi;          // reports/reports.h

// Routes (errors are {"error": "<message>"} with the status shown):
//   POST /api/v1/ingest   vigie.v1 batch, Bearer agent token; 200 {"status":"stored"|"duplicate"};
//                         401, 403, 413, 415, 400 (decoder message), 500 (storage, retryable);
//                         duplicates are recognised by (host, agent_id, sequence);
//                         429 with Retry-After when storage lags: more than
//                         limits.max_pending_batches ingest requests wait on the
//                         store, or the store's own queue is full (kBusy)
//   GET  /api/v1/alerts   ?since=<ns>&host=&limit=          → {"alerts":[…]} newest first
//   GET  /api/v1/events   ?kind=&host=&since=<ns>&limit=    → {"events":[…]} newest first
//   GET  /api/v1/energy   ?since=<ns>&until=<ns>&host=      → energy report (default: last 5 min)
//   GET  /api/v1/agents                                     → {"agents":[…]}
//   GET  /api/v1/jobs/<id>/footprint                        → a job's footprint (footprint.h)
//   GET  /api/v1/distribution[/<kind>/<name>]   rule packs, IOC lists and ban lists for
//                         agents and sites (federation.h DistributionServer): any agent
//                         token; ETag, 304
//   POST /api/v1/distribution/bans/ack  a site's acknowledgement of the ban list
//                         (csirt/ban.h BanAck), with its site token
//   POST /api/v1/distribution/incidents  an incident a site shares, a STIX 2.1 bundle
//                         (csirt/api.h site_incident), with its site token
//   POST /api/v1/distribution/headsups/answer  a site's retro-hunt counts for a heads-up
//                         (csirt/api.h headsup_answer), with its site token
//   *    /api/v1/csirt/…  incidents, indicators, sightings, retro-hunts, exchange
//                         (csirt/api.h), roles csirt and admin
//   GET  /api/v1/csirt/feeds/misp/…  the MISP feed of CLEAR/GREEN incidents without a
//                         token, AMBER ones too for peers allowed it (csirt/api.h)
//   *    /api/v1/facilities…, /api/v1/grid/…, GET /api/v1/reports/…  facilities, meter
//                         readings, grid series and the sustainability reports
//                         (reports/reports.h), roles sustainability and admin;
//                         project:<account> its community report only
//   GET  /metrics         Prometheus text exposition
//   GET  /, /<file>, /vendor/<file>   static dashboard files
// Unknown path: 404; known path, wrong method: 405 with Allow. Bad query
// parameters: 400 naming the parameter. Every request is counted in Metrics.
// Authorization (access.h): every path under /api/ but ingest, and /metrics
// unless api.public_metrics, needs "Authorization: Bearer <API token>" (or
// api.anonymous_role when the header is absent): 401 with WWW-Authenticate
// for a missing, malformed or unknown token, 403 for a role the matrix does
// not allow; both before any 404 or 405, and counted as rejections. A
// user:<uid> token gets the energy report with only its own workloads (no
// node totals, no power series) and 404 for any job that is not its own, the
// same answer as for a job that does not exist. Static files are public.
class Handler {
 public:
  // `store` and `metrics` must outlive the handler. Thread-safe.
  Handler(const Config& config, Store& store, Metrics& metrics);

  Response handle(const Request& request);

  // Called with every batch stored (not duplicates), in registration order.
  // Register before the server starts; `listener` must outlive the handler.
  void add_listener(BatchListener& listener);

  // Serves /api/v1/distribution from `server` (404 without one). Call before
  // the server starts; `server` must outlive the handler.
  void set_distribution(const DistributionServer& server) { distribution_ = &server; }

  // Serves /api/v1/csirt/ from `api` (404 without one). Call before the
  // server starts; `api` must outlive the handler.
  void set_csirt(CsirtApi& api) { csirt_ = &api; }

  // Serves the facilities, grid series and reports from `api` (404 without
  // one). Call before the server starts; `api` must outlive the handler.
  void set_reports(ReportsApi& api) { reports_ = &api; }

  // For the server, once a request's headers are read and before its body
  // is (`request.body` is ignored): the 401 for an ingest request without a
  // known agent token, and the 401 or 403 for an API request that would be
  // refused, counted like any other, so that an unauthenticated client cannot
  // make the collector read a body. Nothing when the request may go on;
  // handle() checks the token again.
  std::optional<Response> refuse_before_body(const Request& request);

  // For refusals the server detects on its own (kTooLarge, kHeaderTooLarge,
  // kTooManyConnections, kPlainHttpOnTls, kMalformedHttp with the parser's `detail`): the
  // response, counted like any other. `target` may be empty when unknown.
  Response reject(Rejection reason, std::string_view target, std::string_view detail = {});
  // For refusals with no HTTP answer (kTlsHandshake, kHeaderTimeout,
  // kReadTimeout): counted only.
  void count_rejection(Rejection reason);
  // The metrics this handler counts in, for the server's own gauges
  // (connections, request bytes held).
  Metrics& metrics() { return metrics_; }

  // Limit on query results.
  static constexpr std::size_t kMaxLimit = 10000;
  static constexpr std::chrono::minutes kDefaultEnergyWindow{5};

 private:
  // The route table (routes() in handler.cpp): each route once, with its
  // method, how its caller is authenticated, what it serves in the role
  // matrix (access.h) and the member that answers it.
  enum class Auth : uint8_t {
    kPublic,      // static dashboard files
    kAgentToken,  // agent_tokens:, checked by the route itself (ingest, distribution)
    kApiToken,    // api_tokens: or api.anonymous_role, then the role matrix
    kMetrics,     // kApiToken unless api.public_metrics
    kFeed,        // no token: anonymous (the route decides what it may read); an API token:
                  // kApiToken; a site token: passed to the route
  };
  enum class Match : uint8_t { kExact, kPrefix };
  // What a route handler gets: the request, its path and query string, and
  // the caller of an API route (nullptr for the others).
  struct Call {
    const Request& request;
    std::string_view path;
    std::string_view query;
    const Principal* principal;
  };
  struct Route {
    std::string_view name;  // the metrics label
    std::string_view path;  // the path (kExact) or its prefix (kPrefix)
    Match match;
    std::string_view suffix;  // kPrefix: the path must also end with it ("" none)
    std::string_view method;  // the one method answered; "" any (404 routes)
    Auth auth;
    Resource resource;  // kApiToken, kMetrics
    Response (Handler::*serve)(const Call& call);
    bool matches(std::string_view request_path) const;
  };
  static const std::vector<Route>& routes();
  // The route of a path: a listed one, "static", or "other" (404).
  static const Route& route_of(std::string_view path);

  Response dispatch(const Route& route, const Request& request, std::string_view path,
                    std::string_view query);
  // The refusal (401, 403) of a request on `route`, or nothing with
  // `principal` set to its caller (nullptr for routes that need no API token).
  std::optional<Response> authorize(const Route& route, const Request& request,
                                    const Principal*& principal);
  Response ingest(const Call& call);
  Response distribution(const Call& call);
  Response alerts(const Call& call);
  Response events(const Call& call);
  Response energy(const Call& call);
  Response agents(const Call& call);
  Response job_footprint(const Call& call);
  Response csirt(const Call& call);
  Response reports(const Call& call);
  Response misp_feed(const Call& call);
  Response ban_ack(const Call& call);
  // The site of a request with a site token (an agent token with a site),
  // or why it is refused (401, 403; 404 without a CSIRT). `what`: "shares …".
  std::optional<Response> site_token(const Call& call, std::string_view what, std::string& site);
  Response site_incident(const Call& call);
  Response headsup_answer(const Call& call);
  Response exposition(const Call& call);
  Response static_file(const Call& call);
  Response not_found(const Call& call);
  Response rejection(Rejection reason, std::string message);
  // limits.max_pending_batches, or `threads` when 0.
  std::size_t max_pending_batches() const;

  const Config config_;
  Store& store_;
  Metrics& metrics_;
  std::vector<BatchListener*> listeners_;
  const DistributionServer* distribution_ = nullptr;
  CsirtApi* csirt_ = nullptr;
  ReportsApi* reports_ = nullptr;
  // Ingest requests admitted and not yet answered by the store (429 beyond
  // limits.max_pending_batches).
  std::atomic<std::size_t> pending_batches_{0};
};

}  // namespace vigie::collector
