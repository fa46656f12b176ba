#include "metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sqlite3.h>

#include <array>
#include <mutex>
#include <vector>

namespace vigie::collector {

namespace {
constexpr std::array kRejections = {
    Rejection::kUnauthorized,     Rejection::kForbidden,
    Rejection::kTooLarge,         Rejection::kHeaderTooLarge,
    Rejection::kUnsupportedMedia, Rejection::kNotZstd,
    Rejection::kCorrupt,          Rejection::kDecodedTooLarge,
    Rejection::kBadProtobuf,      Rejection::kInvalid,
    Rejection::kStorage,          Rejection::kMalformedHttp,
    Rejection::kBadQuery,         Rejection::kTooManyConnections,
    Rejection::kStorageBusy,      Rejection::kPlainHttpOnTls,
    Rejection::kTlsHandshake,     Rejection::kHeaderTimeout,
    Rejection::kReadTimeout,
};
}  // namespace

std::string_view to_string(Rejection reason) {
  switch (reason) {
    case Rejection::kUnauthorized:
      return "unauthorized";
    case Rejection::kForbidden:
      return "forbidden";
    case Rejection::kTooLarge:
      return "body_too_large";
    case Rejection::kHeaderTooLarge:
      return "header_too_large";
    case Rejection::kUnsupportedMedia:
      return "unsupported_media_type";
    case Rejection::kNotZstd:
      return "not_zstd";
    case Rejection::kCorrupt:
      return "corrupt";
    case Rejection::kDecodedTooLarge:
      return "decoded_too_large";
    case Rejection::kBadProtobuf:
      return "bad_protobuf";
    case Rejection::kInvalid:
      return "invalid";
    case Rejection::kStorage:
      return "storage_error";
    case Rejection::kMalformedHttp:
      return "malformed_http";
    case Rejection::kBadQuery:
      return "bad_query";
    case Rejection::kTooManyConnections:
      return "too_many_connections";
    case Rejection::kStorageBusy:
      return "storage_busy";
    case Rejection::kPlainHttpOnTls:
      return "plain_http_on_tls";
    case Rejection::kTlsHandshake:
      return "tls_handshake_failed";
    case Rejection::kHeaderTimeout:
      return "header_timeout";
    case Rejection::kReadTimeout:
      return "read_timeout";
  }
  return "unknown";
}

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("vigie_collector_http_requests_total")
          .Help("HTTP requests answered, by route and status code")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& durations =
      prometheus::BuildHistogram()
          .Name("vigie_collector_http_request_duration_seconds")
          .Help("Time to handle an HTTP request, by route")
          .Register(*registry);
  prometheus::Counter& batches = prometheus::BuildCounter()
                                     .Name("vigie_collector_ingest_batches_total")
                                     .Help("Batches stored durably")
                                     .Register(*registry)
                                     .Add({});
  prometheus::Counter& duplicates = prometheus::BuildCounter()
                                        .Name("vigie_collector_ingest_duplicate_batches_total")
                                        .Help("Batches already held, acknowledged without writing")
                                        .Register(*registry)
                                        .Add({});
  prometheus::Counter& events = prometheus::BuildCounter()
                                    .Name("vigie_collector_ingest_events_total")
                                    .Help("Events stored")
                                    .Register(*registry)
                                    .Add({});
  prometheus::Counter& alerts = prometheus::BuildCounter()
                                    .Name("vigie_collector_ingest_alerts_total")
                                    .Help("Alerts stored")
                                    .Register(*registry)
                                    .Add({});
  prometheus::Gauge& pending = prometheus::BuildGauge()
                                   .Name("vigie_collector_ingest_pending_batches")
                                   .Help("Ingest requests admitted and waiting on the store")
                                   .Register(*registry)
                                   .Add({});
  prometheus::Gauge& gauge(const char* name, const char* help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(*registry).Add({});
  }
  prometheus::Gauge& connections = gauge("vigie_collector_connections", "Open connections");
  prometheus::Gauge& header_bytes =
      gauge("vigie_collector_request_header_bytes",
            "Bytes of request headers held by the requests being handled");
  prometheus::Gauge& body_bytes =
      gauge("vigie_collector_request_body_bytes",
            "Bytes of request bodies held by the requests being handled");
  prometheus::Gauge& decoded_bytes =
      gauge("vigie_collector_ingest_decoded_batch_bytes",
            "Bytes of decompressed batches being decoded and stored");
  prometheus::Gauge& connections_limit = gauge("vigie_collector_connections_limit",
                                               "Open connections allowed (limits.max_connections)");
  prometheus::Gauge& pending_limit =
      gauge("vigie_collector_ingest_pending_batches_limit",
            "Ingest requests allowed to wait on the store (limits.max_pending_batches)");
  prometheus::Gauge& header_limit =
      gauge("vigie_collector_request_header_bytes_limit",
            "Largest request headers accepted, bytes per request (limits.header_bytes)");
  prometheus::Gauge& body_limit =
      gauge("vigie_collector_request_body_bytes_limit",
            "Largest request body accepted, bytes per request (limits.body_bytes)");
  prometheus::Gauge& decoded_limit = gauge("vigie_collector_ingest_decoded_batch_bytes_limit",
                                           "Largest decompressed batch accepted, bytes per batch");
  // sqlite3_memory_used(): SQLite's page caches (cache_size, sqlite_store.cpp),
  // schema and statements, process-wide; lets a memory check tell that
  // bounded cache from a leak (tests/integration/soak_test.cpp). 0 with PostgreSQL.
  prometheus::Gauge& sqlite_memory =
      gauge("vigie_collector_sqlite_memory_bytes", "Heap held by SQLite, bytes");
  std::mutex refresh_mutex;
  std::vector<std::function<void()>> refresh;
  prometheus::Family<prometheus::Counter>& rejections =
      prometheus::BuildCounter()
          .Name("vigie_collector_rejections_total")
          .Help("Requests refused, by reason")
          .Register(*registry);

  Impl() {
    // Every reason exported from the start, so rate() sees the first one.
    for (auto reason : kRejections) rejections.Add({{"reason", std::string(to_string(reason))}});
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::request(std::string_view route, int status, double seconds) {
  const std::string path(route);
  impl_->requests.Add({{"path", path}, {"code", std::to_string(status)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  impl_->durations.Add({{"path", path}}, kBuckets).Observe(seconds);
}

void Metrics::stored(std::size_t events, std::size_t alerts) {
  impl_->batches.Increment();
  impl_->events.Increment(static_cast<double>(events));
  impl_->alerts.Increment(static_cast<double>(alerts));
}

void Metrics::duplicate() { impl_->duplicates.Increment(); }

void Metrics::pending_batches(int delta) { impl_->pending.Increment(delta); }

void Metrics::rejected(Rejection reason) {
  impl_->rejections.Add({{"reason", std::string(to_string(reason))}}).Increment();
}

void Metrics::set_limits(const Limits& limits) {
  impl_->connections_limit.Set(static_cast<double>(limits.connections));
  impl_->pending_limit.Set(static_cast<double>(limits.pending_batches));
  impl_->header_limit.Set(static_cast<double>(limits.request_header_bytes));
  impl_->body_limit.Set(static_cast<double>(limits.request_body_bytes));
  impl_->decoded_limit.Set(static_cast<double>(limits.decoded_batch_bytes));
}

void Metrics::connections(int delta) { impl_->connections.Increment(delta); }
void Metrics::request_header_bytes(double delta) { impl_->header_bytes.Increment(delta); }
void Metrics::request_body_bytes(double delta) { impl_->body_bytes.Increment(delta); }
void Metrics::decoded_batch_bytes(double delta) { impl_->decoded_bytes.Increment(delta); }

void Metrics::on_collect(std::function<void()> refresh) {
  std::lock_guard lock(impl_->refresh_mutex);
  impl_->refresh.push_back(std::move(refresh));
}

std::string Metrics::exposition() const {
  {
    std::lock_guard lock(impl_->refresh_mutex);
    for (const auto& refresh : impl_->refresh) refresh();
  }
  impl_->sqlite_memory.Set(static_cast<double>(sqlite3_memory_used()));
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

prometheus::Registry& Metrics::registry() { return *impl_->registry; }

}  // namespace vigie::collector
