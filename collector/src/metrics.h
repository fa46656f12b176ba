// The collector's own Prometheus metrics (served at GET /metrics).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace prometheus {
class Registry;
class Counter;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace vigie::collector {

// Why a request was refused; each is a `reason` label value of
// vigie_collector_rejections_total.
enum class Rejection : uint8_t {
  kUnauthorized,      // 401: missing or unknown bearer token
  kForbidden,         // 403: token bound to another site or host
  kTooLarge,          // 413: body over the limit
  kHeaderTooLarge,    // 431: request headers over the limit
  kUnsupportedMedia,  // 415: wrong Content-Type or Content-Encoding
  kNotZstd,           // 400: decoder errors, one reason each
  kCorrupt,
  kDecodedTooLarge,
  kBadProtobuf,
  kInvalid,
  kStorage,             // 500: the store failed; the agent retries
  kMalformedHttp,       // 400: not parseable as HTTP/1.1 (any path)
  kBadQuery,            // 400: bad query parameters on a GET endpoint
  kTooManyConnections,  // 503: limits.max_connections reached; the connection is closed
  kStorageBusy,     // 429: storage lags (limits.max_pending_batches or the store's queue); retried
  kPlainHttpOnTls,  // 400: plain HTTP sent to the TLS port; answered in plain text, closed
  kTlsHandshake,    // TLS handshake failed or timed out (no HTTP answer possible); closed
  kHeaderTimeout,   // headers not complete within timeouts.header_seconds (slowloris); closed
  kReadTimeout,     // body not complete within timeouts.read_seconds (slow POST); closed
};
std::string_view to_string(Rejection reason);

// Metric names (base units, `_total` counters):
//   vigie_collector_http_requests_total{path,code}
//   vigie_collector_http_request_duration_seconds{path}   (histogram)
//   vigie_collector_ingest_batches_total                  (stored)
//   vigie_collector_ingest_duplicate_batches_total
//   vigie_collector_ingest_events_total                   (stored)
//   vigie_collector_ingest_alerts_total                   (stored)
//   vigie_collector_rejections_total{reason}
//   vigie_collector_ingest_pending_batches                (gauge: ingest requests admitted and
//                                                          not yet answered by the store)
//   vigie_collector_sqlite_memory_bytes                   (gauge: sqlite3_memory_used(), mostly
//                                                          page cache, bounded by cache_size)
// Bounded resources, each as its use now (gauge `<name>`) and its bound
// (gauge `<name>_limit`, set once by set_limits), node_exporter's
// node_nf_conntrack_entries / _limit convention:
//   vigie_collector_connections                  open connections; limits.max_connections
//   vigie_collector_ingest_pending_batches       see above; limits.max_pending_batches
//   vigie_collector_request_header_bytes         bytes of request headers held by requests
//                                                being handled, all connections; the limit
//                                                (limits.header_bytes) is per request (431)
//   vigie_collector_request_body_bytes           the same for request bodies; the limit
//                                                (limits.body_bytes) is per request (413)
//   vigie_collector_ingest_decoded_batch_bytes   decompressed batches being decoded and
//                                                stored; the limit is per batch (413,
//                                                protocol::kMaxDecodedBatchBytes)
// Components register the bounds of their own queues (correlation.h,
// remote_write.h, webhook.h, alertmanager.h, federation.h; the SQLite write
// queue and page cache in service.cpp).
// `path` is the route ("/api/v1/ingest", "static", "other"…), never the raw
// target, so label cardinality stays bounded. Thread-safe.
class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void request(std::string_view route, int status, double seconds);
  void stored(std::size_t events, std::size_t alerts);
  void duplicate();
  void rejected(Rejection reason);
  // An ingest request starts (+1) or stops (-1) waiting on the store.
  void pending_batches(int delta);

  // The bounds exported as `<name>_limit` gauges (see above).
  struct Limits {
    std::size_t connections = 0;
    std::size_t pending_batches = 0;
    std::size_t request_header_bytes = 0;
    std::size_t request_body_bytes = 0;
    std::size_t decoded_batch_bytes = 0;
  };
  void set_limits(const Limits& limits);
  // Changes of the use gauges above (bytes or connections, + or -).
  void connections(int delta);
  void request_header_bytes(double delta);
  void request_body_bytes(double delta);
  void decoded_batch_bytes(double delta);
  // `refresh` runs at each exposition() before the registry is collected:
  // for gauges read from elsewhere (a store's queue). Register before
  // serving; `refresh` must be thread-safe and outlive the Metrics.
  void on_collect(std::function<void()> refresh);

  // The text exposition format, version 0.0.4.
  std::string exposition() const;

  // The registry behind exposition(): components (alerting, remote_write,
  // federation…) register their own metric families on it.
  prometheus::Registry& registry();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigie::collector
