#include "vigie/collector/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>

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
    Rejection::kTlsHandshake,
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

std::string Metrics::exposition() const {
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

prometheus::Registry& Metrics::registry() { return *impl_->registry; }

}  // namespace vigie::collector
