// The collector's HTTP request handler: a request in, a response out, no
// socket in sight (the server in server.h does the I/O), so it is unit-tested
// directly.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vigie/collector/config.h"
#include "vigie/collector/metrics.h"
#include "vigie/collector/pipeline.h"
#include "vigie/collector/store.h"

namespace vigie::collector {

struct Request {
  std::string method;         // "GET", "POST"…
  std::string target;         // path and query, as received
  std::string authorization;  // header values, "" when absent
  std::string content_type;
  std::string content_encoding;
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones (Allow, Cache-Control)
};

// Routes (errors are {"error": "<message>"} with the status shown):
//   POST /api/v1/ingest   vigie.v1 batch, Bearer agent token; 200 {"status":"stored"|"duplicate"};
//                         401, 403, 413, 415, 400 (decoder message), 500 (storage, retryable);
//                         duplicates are recognised by (host, agent_id, sequence)
//   GET  /api/v1/alerts   ?since=<ns>&host=&limit=          → {"alerts":[…]} newest first
//   GET  /api/v1/events   ?kind=&host=&since=<ns>&limit=    → {"events":[…]} newest first
//   GET  /api/v1/energy   ?since=<ns>&until=<ns>&host=      → energy report (default: last 5 min)
//   GET  /api/v1/agents                                     → {"agents":[…]}
//   GET  /metrics         Prometheus text exposition
//   GET  /, /<file>, /vendor/<file>   static dashboard files
// Unknown path: 404; known path, wrong method: 405 with Allow. Bad query
// parameters: 400 naming the parameter. Every request is counted in Metrics.
class Handler {
 public:
  // `store` and `metrics` must outlive the handler. Thread-safe.
  Handler(const Config& config, Store& store, Metrics& metrics);

  Response handle(const Request& request);

  // Called with every batch stored (not duplicates), in registration order.
  // Register before the server starts; `listener` must outlive the handler.
  void add_listener(BatchListener& listener);

  // For the server, once a request's headers are read and before its body
  // is (`request.body` is ignored): the 401 for an ingest request without a
  // known agent token, counted like any other, so that an unauthenticated
  // client cannot make the collector read a body. Nothing when the request
  // may go on; handle() checks the token again.
  std::optional<Response> refuse_before_body(const Request& request);

  // For refusals the server detects on its own (kTooLarge, kHeaderTooLarge,
  // kTooManyConnections, kMalformedHttp with the parser's `detail`): the
  // response, counted like any other. `target` may be empty when unknown.
  Response reject(Rejection reason, std::string_view target, std::string_view detail = {});

  // Limit on query results.
  static constexpr std::size_t kMaxLimit = 10000;
  static constexpr std::chrono::minutes kDefaultEnergyWindow{5};

 private:
  Response route(const Request& request, std::string_view& route_name);
  Response ingest(const Request& request);
  Response rejection(Rejection reason, std::string message);

  const Config config_;
  Store& store_;
  Metrics& metrics_;
  std::vector<BatchListener*> listeners_;
};

}  // namespace vigie::collector
