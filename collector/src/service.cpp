#include "vigie/collector/service.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>

#include "alerting/alert_router.h"
#include "alerting/alertmanager.h"
#include "alerting/correlation.h"
#include "alerting/webhook.h"
#include "csirt/api.h"
#include "csirt/csirt_service.h"
#include "federation/federation.h"
#include "http/handler.h"
#include "http/server.h"
#include "metrics.h"
#include "remote_write/remote_write.h"
#include "reports/report_metrics.h"
#include "reports/reports.h"
#include "storage/postgres_store.h"
#include "storage/sqlite_store.h"
#include "storage/storage.h"

namespace vigie::collector {
namespace {

prometheus::Gauge& gauge(Metrics& metrics, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(metrics.registry()).Add({});
}

// SQLite's group-commit write queue and page cache (sqlite_store.h) as use
// and bound: vigie_collector_sqlite_write_queue_{batches,bytes},
// vigie_collector_sqlite_page_cache_bytes and their _limit, read from the
// store at each scrape.
void export_sqlite(const SqliteStore& store, Metrics& metrics) {
  auto& batches = gauge(metrics, "vigie_collector_sqlite_write_queue_batches",
                        "Batches waiting for SQLite's group commit");
  auto& bytes = gauge(metrics, "vigie_collector_sqlite_write_queue_bytes",
                      "Encoded rows of the batches waiting for SQLite's group commit, bytes");
  gauge(metrics, "vigie_collector_sqlite_write_queue_batches_limit",
        "Batches allowed to wait for SQLite's group commit; more get 429")
      .Set(static_cast<double>(store.write_queue_limits().max_batches));
  gauge(metrics, "vigie_collector_sqlite_write_queue_bytes_limit",
        "Encoded bytes allowed to wait for SQLite's group commit; more get 429")
      .Set(static_cast<double>(store.write_queue_limits().max_bytes));
  auto& cache = gauge(metrics, "vigie_collector_sqlite_page_cache_bytes",
                      "Heap held by SQLite's page cache of the store's connection, bytes");
  gauge(metrics, "vigie_collector_sqlite_page_cache_bytes_limit",
        "Page cache allowed to the store's connection (PRAGMA cache_size), bytes")
      .Set(static_cast<double>(SqliteStore::kPageCacheBytes));
  metrics.on_collect([&store, &batches, &bytes, &cache] {
    const auto stats = store.write_queue_stats();
    batches.Set(static_cast<double>(stats.queued_batches));
    bytes.Set(static_cast<double>(stats.queued_bytes));
    cache.Set(static_cast<double>(store.page_cache_bytes()));
  });
}

// The PostgreSQL connection pool (postgres_store.h) as use and bound:
// vigie_collector_postgresql_connections and its _limit (pool_size), with
// the connections leased and the calls waiting for one.
void export_postgresql(const PostgresStore& store, Metrics& metrics) {
  auto& open = gauge(metrics, "vigie_collector_postgresql_connections",
                     "Connections the store holds to PostgreSQL, leased or idle");
  auto& in_use = gauge(metrics, "vigie_collector_postgresql_connections_in_use",
                       "Connections leased to a store call now");
  auto& waiting = gauge(metrics, "vigie_collector_postgresql_waiting_calls",
                        "Store calls waiting for a connection: every one is leased");
  gauge(metrics, "vigie_collector_postgresql_connections_limit",
        "Connections the store may hold to PostgreSQL (storage.postgresql_pool_size)")
      .Set(static_cast<double>(store.pool_size()));
  metrics.on_collect([&store, &open, &in_use, &waiting] {
    const auto stats = store.pool_stats();
    open.Set(static_cast<double>(stats.open));
    in_use.Set(static_cast<double>(stats.in_use));
    waiting.Set(static_cast<double>(stats.waiting));
  });
}

}  // namespace

// Members in dependency order: each is destroyed before what it uses.
struct Service::Impl {
  explicit Impl(const Config& c)
      : config(c),
        store(open_store(config.storage, config.database_path)),
        retention(*store, config.retention, metrics.registry()),
        handler(config, *store, metrics),
        router(router_options(config)) {
    if (const auto* sqlite = dynamic_cast<const SqliteStore*>(store.get()))
      export_sqlite(*sqlite, metrics);
    if (const auto* postgresql = dynamic_cast<const PostgresStore*>(store.get()))
      export_postgresql(*postgresql, metrics);
    // remote_write (remote_write.h): node, workload and agent-health series
    // of every stored batch to Prometheus, VictoriaMetrics, Mimir…
    if (!config.remote_write.empty()) {
      remote_writer =
          std::make_unique<remote_write::Writer>(config.remote_write, metrics.registry());
      handler.add_listener(*remote_writer);
    }
    // Federation (federation.h): packs and IOC lists served to agents or
    // sites; a site forwards to its peers and mirrors its pull peer.
    if (!config.federation.distribution_dir.empty()) {
      distribution = std::make_unique<DistributionServer>(config.federation.distribution_dir);
      handler.set_distribution(*distribution);
    }
    if (!config.federation.peers.empty()) {
      forwarder = std::make_unique<FederationForwarder>(config.federation, &metrics.registry());
      handler.add_listener(*forwarder);  // energy aggregates; alerts via the router's sinks
    }
    for (const FederationPeer& peer : config.federation.peers) {
      if (peer.pull)
        mirror = std::make_unique<DistributionMirror>(config.federation, peer, &metrics.registry());
    }
    // Alerting: agent alerts of every stored batch and the collector's own
    // correlation/threshold alerts go through the router to its sinks.
    const AlertingConfig& alerting = config.alerting;
    if (alerting.alertmanager)
      alertmanager =
          std::make_unique<AlertmanagerClient>(*alerting.alertmanager, &metrics.registry());
    for (const WebhookOptions& webhook : alerting.webhooks)
      webhooks.push_back(std::make_unique<WebhookSink>(webhook, &metrics.registry()));
    router.register_metrics(metrics.registry());
    if (alertmanager) router.add_sink(*alertmanager);
    for (auto& webhook : webhooks) router.add_sink(*webhook);
    if (forwarder) router.add_sink(*forwarder);
    handler.add_listener(router);
    if (alerting.rules) {
      correlation =
          std::make_unique<CorrelationEngine>(*alerting.rules, *store, router, &metrics.registry());
      handler.add_listener(*correlation);
    }
    // The CSIRT (csirt/csirt_service.h): incidents, indicators, sightings,
    // retro-hunts and the SEC01 clocks, in the store's database.
    if (store->csirt_store() != nullptr) {
      std::string site = config.csirt.site.empty() ? router.options().site : config.csirt.site;
      CsirtConfig csirt_config = config.csirt;
      csirt_config.publish_dir = config.federation.distribution_dir;
      csirt = std::make_unique<CsirtService>(
          csirt_config, site.empty() ? "site" : site, config.alerting.alerts.default_tlp, *store,
          router, config.retention.policy.events, &metrics.registry());
      csirt_api = std::make_unique<CsirtApi>(*csirt);
      handler.set_csirt(*csirt_api);
      // The ban lists the pull peer publishes reach this site's agents as IOC
      // sets; the site's incidents go up as the peer's TLP allows.
      if (mirror) mirror->set_csirt(*csirt);
    }
    // The sustainability reports (reports/reports.h): facilities, meter
    // readings and grid series in the store's database.
    if (FacilityStore* facilities = store->facility_store()) {
      report_builder = std::make_unique<ReportBuilder>(*facilities, config.reports);
      reports_api = std::make_unique<ReportsApi>(*report_builder, *facilities);
      handler.set_reports(*reports_api);
      report_metrics = std::make_unique<ReportMetrics>(
          *report_builder, *facilities, metrics.registry(), config.reports.metrics_interval);
    }
    server = std::make_unique<Server>(config, handler);
  }

  static AlertRouterOptions router_options(const Config& config) {
    AlertRouterOptions options = config.alerting.alerts;
    if (options.site.empty()) options.site = config.federation.site;
    return options;
  }

  const Config config;
  const std::unique_ptr<Store> store;
  Metrics metrics;
  RetentionRunner retention;
  Handler handler;
  std::unique_ptr<remote_write::Writer> remote_writer;
  std::unique_ptr<DistributionServer> distribution;
  std::unique_ptr<FederationForwarder> forwarder;
  std::unique_ptr<DistributionMirror> mirror;
  std::unique_ptr<AlertmanagerClient> alertmanager;
  std::vector<std::unique_ptr<WebhookSink>> webhooks;
  AlertRouter router;
  std::unique_ptr<CorrelationEngine> correlation;
  std::unique_ptr<CsirtService> csirt;
  std::unique_ptr<CsirtApi> csirt_api;
  std::unique_ptr<ReportBuilder> report_builder;
  std::unique_ptr<ReportsApi> reports_api;
  std::unique_ptr<ReportMetrics> report_metrics;
  std::unique_ptr<Server> server;
  bool stopped = false;
};

Service::Service(const Config& config) : impl_(std::make_unique<Impl>(config)) {}

Service::~Service() { stop(); }

void Service::start() {
  if (impl_->mirror) impl_->mirror->start();
  if (impl_->csirt) impl_->csirt->start();
  impl_->server->start();
  impl_->retention.start();
  if (impl_->report_metrics) impl_->report_metrics->start();
  spdlog::info("vigie-collector listening on {}:{} ({}), database {}", impl_->config.listen_address,
               impl_->server->port(), impl_->config.tls.enabled() ? "https" : "http",
               describe_store(impl_->config.storage, impl_->config.database_path));
}

uint16_t Service::port() const { return impl_->server->port(); }

void Service::stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->retention.stop();
  if (impl_->report_metrics) impl_->report_metrics->stop();
  impl_->server->stop();
  if (impl_->csirt) impl_->csirt->stop();
  // What is queued for remote_write gets a short chance to go out.
  if (impl_->remote_writer && !impl_->remote_writer->flush(std::chrono::seconds(5)))
    spdlog::warn("remote_write: samples still queued at exit are dropped");
}

}  // namespace vigie::collector
