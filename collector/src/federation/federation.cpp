#include "federation/federation.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unordered_set>

#include "alerting/alert_router.h"
#include "csirt/csirt_service.h"
#include "vigie/csirt/ban.h"
#include "vigie/csirt/indicator.h"
#include "vigie/delivery/retry.h"
#include "vigie/delivery/send_worker.h"
#include "vigie/delivery/sequence.h"
#include "vigie/delivery/spool.h"
#include "vigie/protocol/codec.h"
#include "vigie/protocol/distribution.h"
#include "vigie/protocol/http_client.h"

namespace vigie::collector {
namespace {

namespace fs = std::filesystem;
namespace dist = protocol::distribution;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxAlertsPerBatch = 1000;
// (fingerprint, starts_ns) of alerts already forwarded: a re-send or the
// resolution of one of them is not a new alert for the federation.
constexpr std::size_t kRememberedAlerts = 100000;
constexpr int kTlpLevels = 5;

// The alert's tags with exactly one TLP tag, the effective level, so that
// the federation knows how far it may share it.
std::vector<std::string> with_tlp_tag(const std::vector<std::string>& tags, Tlp tlp) {
  std::vector<std::string> out;
  for (const auto& tag : tags) {
    if (tag.size() >= 4 && std::equal(tag.begin(), tag.begin() + 4, "tlp.", [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        }))
      continue;
    out.push_back(tag);
  }
  out.push_back("tlp." + std::string(to_string(tlp)));
  return out;
}

}  // namespace

std::string zone_kind(std::string_view zone) {
  std::string out;
  while (true) {
    const auto slash = zone.find('/');
    std::string_view part = zone.substr(0, slash);
    const auto dash = part.rfind('-');
    if (dash != std::string_view::npos && dash + 1 < part.size() &&
        std::all_of(part.begin() + dash + 1, part.end(),
                    [](char c) { return c >= '0' && c <= '9'; }))
      part = part.substr(0, dash);
    out += part;
    if (slash == std::string_view::npos) break;
    out += '/';
    zone.remove_prefix(slash + 1);
  }
  return out;
}

bool tlp_allows(Tlp tlp, const FederationPeer& peer) {
  switch (tlp) {
    case Tlp::kClear:
    case Tlp::kGreen:
      return true;
    case Tlp::kAmber:
      return peer.allow_amber;
    case Tlp::kAmberStrict:
      return peer.allow_amber_strict;
    case Tlp::kRed:
      break;
  }
  return false;
}

// The exported counters (nullptr members when there is no registry).
struct FederationForwarder::Metrics {
  prometheus::Family<prometheus::Counter>* alerts_forwarded = nullptr;
  prometheus::Family<prometheus::Counter>* alerts_refused = nullptr;
  prometheus::Family<prometheus::Counter>* energy_records = nullptr;
  prometheus::Family<prometheus::Counter>* batches_sent = nullptr;
  prometheus::Family<prometheus::Counter>* batches_dropped = nullptr;
  prometheus::Family<prometheus::Counter>* send_failures = nullptr;
  prometheus::Family<prometheus::Gauge>* queue = nullptr;
  prometheus::Family<prometheus::Gauge>* queue_limit = nullptr;

  explicit Metrics(prometheus::Registry& r)
      : alerts_forwarded(&prometheus::BuildCounter()
                              .Name("vigie_federation_alerts_forwarded_total")
                              .Help("Alerts queued for a federation peer")
                              .Register(r)),
        alerts_refused(&prometheus::BuildCounter()
                            .Name("vigie_federation_alerts_refused_total")
                            .Help("Alerts kept at the site by TLP 2.0 policy, by peer and level")
                            .Register(r)),
        energy_records(&prometheus::BuildCounter()
                            .Name("vigie_federation_energy_records_forwarded_total")
                            .Help("Site energy aggregate rows queued for a federation peer")
                            .Register(r)),
        batches_sent(&prometheus::BuildCounter()
                          .Name("vigie_federation_batches_sent_total")
                          .Help("Batches a federation peer acknowledged (stored or duplicate)")
                          .Register(r)),
        batches_dropped(&prometheus::BuildCounter()
                             .Name("vigie_federation_batches_dropped_total")
                             .Help("Batches given up: queue_full, rejected (4xx), stopped, "
                                   "corrupt (a spool file failing its CRC)")
                             .Register(r)),
        send_failures(&prometheus::BuildCounter()
                           .Name("vigie_federation_send_failures_total")
                           .Help("Failed POSTs to a federation peer (retried)")
                           .Register(r)),
        queue(&prometheus::BuildGauge()
                   .Name("vigie_federation_queue_batches")
                   .Help("Batches waiting for a federation peer")
                   .Register(r)),
        queue_limit(&prometheus::BuildGauge()
                         .Name("vigie_federation_queue_batches_limit")
                         .Help("Batches allowed to wait for a federation peer, spooled ones "
                               "included (max_queue_batches); beyond, the oldest is dropped")
                         .Register(r)) {}
};

struct FederationForwarder::Peer {
  struct Sealed {
    uint64_t sequence = 0;
    delivery::BatchCounts counts;
    std::string body;
  };

  FederationPeer config;
  protocol::Endpoint endpoint;
  // The agent's spool and sequence numbering, the same guarantees: a batch
  // is on disk (CRC-checked, fsync'd) before it is sent, and a number is
  // never reused across restarts. Empty without a state_dir.
  std::mutex spool_mutex;  // the Spool is not thread-safe: sealing and sending use it
  std::optional<delivery::Spool> spool;
  delivery::SequenceAllocator sequences;

  // Exported counters of this peer (nullptr without a registry).
  prometheus::Counter* m_forwarded = nullptr;
  prometheus::Counter* m_refused[kTlpLevels] = {};
  prometheus::Counter* m_energy = nullptr;
  prometheus::Counter* m_sent = nullptr;
  prometheus::Counter* m_dropped_full = nullptr;
  prometheus::Counter* m_rejected = nullptr;
  prometheus::Counter* m_dropped_stopped = nullptr;
  prometheus::Counter* m_dropped_corrupt = nullptr;
  prometheus::Counter* m_failures = nullptr;
  prometheus::Gauge* m_queue = nullptr;

  // Lock order: never call `worker` while holding `mutex` (the worker's drop
  // callback takes `mutex`).
  mutable std::mutex mutex;
  std::map<std::string, std::vector<protocol::Alert>> pending;  // by original host
  std::set<std::pair<std::string, uint64_t>> seen;              // forwarded (fingerprint, start)
  std::deque<std::pair<std::string, uint64_t>> seen_order;
  PeerStats stats;
  uint64_t corrupt_at_open = 0;  // counted once the metrics exist
  // Sealed batches, oldest dropped beyond max_queue_batches (unspooled and
  // counted, reason "queue_full").
  delivery::SendWorker<Sealed> worker;

  Peer(FederationPeer c, const fs::path& state, std::size_t max_queue)
      : config(std::move(c)),
        sequences(sequence_path(state)),
        worker(
            {.max_items = std::max<std::size_t>(max_queue, 1),
             .overflow = delivery::QueueLimits::Overflow::kDropOldest},
            {}, [this](const Sealed& batch, std::string_view reason) { dropped(batch, reason); },
            [this](const delivery::QueueSize& size) {
              if (m_queue != nullptr) m_queue->Set(static_cast<double>(queued(size)));
            }) {
    stats.peer = config.name;
    auto parsed = protocol::Endpoint::parse(config.url, {.ca_file = config.tls_ca_file});
    if (!parsed) throw std::runtime_error("federation peer " + config.name + ": " + parsed.error());
    endpoint = std::move(*parsed);
    if (state.empty()) return;
    spool.emplace(delivery::SpoolOptions{(state / "spool").string(), true});
    corrupt_at_open = spool->corrupt_files();
    stats.batches_dropped_total += corrupt_at_open;
    // What a previous run sealed and did not deliver, in sequence order.
    std::size_t reloaded = 0;
    for (const delivery::SpoolEntry& entry : spool->recovered()) {
      sequences.skip_past(entry.sequence);
      std::optional<std::string> body = spool->read(entry.sequence);
      if (!body) {
        ++corrupt_at_open;
        ++stats.batches_dropped_total;
        continue;
      }
      worker.push({entry.sequence, entry.counts, std::move(*body)});
      ++reloaded;
    }
    if (reloaded != 0)
      spdlog::info("federation: {} batches for {} reloaded from the spool", reloaded, config.name);
  }

  // `state`/sequence, its directory created; empty without a state_dir.
  static std::string sequence_path(const fs::path& state) {
    if (state.empty()) return {};
    std::error_code ec;
    fs::create_directories(state, ec);
    if (ec) throw std::runtime_error(state.string() + ": " + ec.message());
    return (state / "sequence").string();
  }

  void unspool(uint64_t sequence) {
    if (!spool) return;
    std::lock_guard lock(spool_mutex);
    spool->remove(sequence);
  }
  // Batches waiting, the one in flight included (PeerStats::queue_batches).
  static std::size_t queued(const delivery::QueueSize& size) {
    return size.items + size.in_flight_items;
  }
  static void inc(prometheus::Counter* counter, double by = 1) {
    if (counter != nullptr) counter->Increment(by);
  }

  // The worker's drop callback: evicted beyond max_queue_batches, or left at
  // stop without a spool.
  void dropped(const Sealed& batch, std::string_view reason) {
    {
      std::lock_guard lock(mutex);
      ++stats.batches_dropped_total;
    }
    if (reason == delivery::kDropQueueFull) {
      unspool(batch.sequence);
      inc(m_dropped_full);
    } else {
      inc(m_dropped_stopped);
    }
  }

  // Numbers, encodes, spools and queues `batch`. A batch the spool cannot
  // take (disk full) is still queued in memory, and said.
  void enqueue(protocol::Batch batch) {
    {
      std::lock_guard lock(mutex);
      batch.sequence = sequences.next();
    }
    batch.sent_ns = protocol::wall_clock_ns();
    Sealed sealed{batch.sequence,
                  {0, batch.alerts.size(), batch.zone_energy.size() + batch.workload_energy.size()},
                  protocol::encode_batch(batch)};
    if (spool) {
      std::lock_guard spool_lock(spool_mutex);
      const delivery::SpoolWriteResult written =
          spool->write(sealed.sequence, sealed.counts, sealed.body);
      if (!written.ok())
        spdlog::warn("federation: cannot spool a batch for {} (kept in memory): {}", config.name,
                     written.message);
    }
    worker.push(std::move(sealed));
  }

  void run(const FederationConfig& options) {
    delivery::Backoff backoff({options.initial_backoff, options.max_backoff});
    while (std::optional<Sealed> batch = worker.take_one()) {
      const auto response = protocol::send(
          endpoint, protocol::ingest_request(config.token, batch->body), options.request_timeout);
      const delivery::Outcome outcome = delivery::classify(response);
      if (outcome == delivery::Outcome::kRetry) {
        {
          std::lock_guard lock(mutex);
          ++stats.send_failures_total;
        }
        inc(m_failures);
        if (backoff.failures() == 0)
          spdlog::warn(
              "federation: {} unreachable, retrying: {}", config.name,
              response.status == 0 ? response.error : "HTTP " + std::to_string(response.status));
        worker.push_front(std::move(*batch));
        // The peer's Retry-After (its 429 when storage lags), up to max_backoff.
        if (!worker.pause(backoff.next(response))) break;
        continue;
      }
      backoff.reset();
      {
        std::lock_guard lock(mutex);
        if (outcome == delivery::Outcome::kDelivered) {
          ++stats.batches_sent_total;
        } else {
          ++stats.batches_rejected_total;
          ++stats.send_failures_total;
        }
      }
      if (outcome == delivery::Outcome::kDelivered) {
        inc(m_sent);
      } else {
        inc(m_rejected);
        inc(m_failures);
        spdlog::error("federation: {} refused batch {} (not retried): HTTP {} {}", config.name,
                      batch->sequence, response.status, response.body.substr(0, 200));
      }
      unspool(batch->sequence);
      worker.done();
    }
  }

  // Stops the sender at `deadline`: what is left stays spooled for the next
  // start, or is dropped and counted ("stopped") without a spool.
  void stop(Clock::time_point deadline) {
    const auto now = Clock::now();
    const std::vector<Sealed> left =
        worker.stop(std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline > now ? deadline - now : Clock::duration::zero()));
    if (spool || left.empty()) return;
    worker.drop_all(left, delivery::kDropStopped);
    spdlog::warn("federation: {} batches for {} dropped at stop (no state_dir)", left.size(),
                 config.name);
  }
};

FederationForwarder::FederationForwarder(FederationConfig config, prometheus::Registry* registry)
    : config_(std::move(config)) {
  if (registry != nullptr) metrics_ = std::make_unique<Metrics>(*registry);
  for (const FederationPeer& peer_config : config_.peers) {
    const fs::path state = config_.state_dir.empty()
                               ? fs::path()
                               : fs::path(config_.state_dir) / "federation" / peer_config.name;
    auto peer = std::make_unique<Peer>(peer_config, state, config_.max_queue_batches);
    if (metrics_) {
      const std::map<std::string, std::string> labels{{"peer", peer_config.name}};
      peer->m_forwarded = &metrics_->alerts_forwarded->Add(labels);
      for (int level = 0; level < kTlpLevels; ++level) {
        peer->m_refused[level] = &metrics_->alerts_refused->Add(
            {{"peer", peer_config.name}, {"tlp", std::string(to_string(static_cast<Tlp>(level)))}});
      }
      peer->m_energy = &metrics_->energy_records->Add(labels);
      peer->m_sent = &metrics_->batches_sent->Add(labels);
      peer->m_dropped_full =
          &metrics_->batches_dropped->Add({{"peer", peer_config.name}, {"reason", "queue_full"}});
      peer->m_rejected =
          &metrics_->batches_dropped->Add({{"peer", peer_config.name}, {"reason", "rejected"}});
      peer->m_dropped_stopped =
          &metrics_->batches_dropped->Add({{"peer", peer_config.name}, {"reason", "stopped"}});
      peer->m_dropped_corrupt =
          &metrics_->batches_dropped->Add({{"peer", peer_config.name}, {"reason", "corrupt"}});
      Peer::inc(peer->m_dropped_corrupt, static_cast<double>(peer->corrupt_at_open));
      peer->m_failures = &metrics_->send_failures->Add(labels);
      peer->m_queue = &metrics_->queue->Add(labels);
      peer->m_queue->Set(static_cast<double>(Peer::queued(peer->worker.size())));
      metrics_->queue_limit->Add(labels).Set(static_cast<double>(config_.max_queue_batches));
    }
    peers_.push_back(std::move(peer));
  }
  for (auto& peer : peers_) {
    Peer* p = peer.get();
    p->worker.start([this, p] { p->run(config_); });
  }
  ticker_ = std::thread([this] { run_ticker(); });
}

FederationForwarder::~FederationForwarder() { stop(); }

void FederationForwarder::deliver(const AlertNotification& notification) {
  const std::string& host = notification.host.empty() ? config_.name : notification.host;
  const auto identity = std::make_pair(notification.fingerprint, notification.starts_ns);
  const int level = static_cast<int>(notification.tlp);
  for (auto& peer : peers_) {
    std::lock_guard lock(peer->mutex);
    if (!tlp_allows(notification.tlp, peer->config)) {
      ++peer->stats.alerts_refused_total[level];
      Peer::inc(peer->m_refused[level]);
      continue;
    }
    if (!notification.fingerprint.empty() && !peer->seen.insert(identity).second) continue;
    if (!notification.fingerprint.empty()) {
      peer->seen_order.push_back(identity);
      if (peer->seen_order.size() > kRememberedAlerts) {
        peer->seen.erase(peer->seen_order.front());
        peer->seen_order.pop_front();
      }
    }
    protocol::Alert alert = notification.alert;
    alert.tags = with_tlp_tag(alert.tags, notification.tlp);
    peer->pending[host].push_back(std::move(alert));
    ++peer->stats.alerts_forwarded_total;
    Peer::inc(peer->m_forwarded);
  }
}

void FederationForwarder::on_stored(const protocol::Batch& batch, uint64_t /*received_ns*/) {
  if (batch.zone_energy.empty() && batch.workload_energy.empty()) return;
  const uint64_t interval_ns =
      static_cast<uint64_t>(config_.aggregate_interval.count()) * 1'000'000'000ull;
  // An interval goes to the aggregate interval its end falls in (an end on
  // a boundary closes the interval before it).
  auto bucket = [interval_ns](uint64_t end_ns) {
    return end_ns == 0 ? 0 : (end_ns - 1) / interval_ns * interval_ns;
  };
  std::lock_guard lock(mutex_);
  for (const auto& z : batch.zone_energy) {
    zones_[{bucket(z.end_ns), zone_kind(z.zone), static_cast<uint8_t>(z.source), z.estimated,
            z.in_node_total}] += z.energy_joules;
  }
  for (const auto& w : batch.workload_energy) {
    auto& sum = workloads_[{bucket(w.end_ns), static_cast<uint8_t>(w.workload.kind), w.estimated}];
    sum.cpu_seconds += w.cpu_seconds;
    sum.energy_joules += w.energy_joules;
    sum.carbon_gco2e += w.carbon_gco2e;
    sum.cpu_joules += w.cpu_joules;
    sum.dram_joules += w.dram_joules;
    sum.gpu_joules += w.gpu_joules;
    sum.idle_joules += w.idle_joules;
    sum.embodied_gco2e += w.embodied_gco2e;
  }
}

void FederationForwarder::seal(uint64_t cutoff_ns) {
  const uint64_t interval_ns =
      static_cast<uint64_t>(config_.aggregate_interval.count()) * 1'000'000'000ull;
  protocol::Batch energy;
  energy.agent_id = "collector/" + config_.name;
  energy.site = config_.site;
  energy.host = config_.site;
  {
    std::lock_guard lock(mutex_);
    for (auto it = zones_.begin(); it != zones_.end();) {
      const auto& [start, kind, source, estimated, in_total] = it->first;
      if (start + interval_ns > cutoff_ns) {
        ++it;
        continue;
      }
      protocol::ZoneEnergy z;
      z.start_ns = start;
      z.end_ns = start + interval_ns;
      z.zone = kind;
      z.source = static_cast<protocol::EnergySource>(source);
      z.estimated = estimated;
      z.in_node_total = in_total;
      z.energy_joules = it->second;
      energy.zone_energy.push_back(std::move(z));
      it = zones_.erase(it);
    }
    for (auto it = workloads_.begin(); it != workloads_.end();) {
      const auto& [start, kind, estimated] = it->first;
      if (start + interval_ns > cutoff_ns) {
        ++it;
        continue;
      }
      protocol::WorkloadEnergy w = it->second;
      w.start_ns = start;
      w.end_ns = start + interval_ns;
      w.workload = {static_cast<protocol::WorkloadKind>(kind), "all", "", ""};
      w.estimated = estimated;
      energy.workload_energy.push_back(std::move(w));
      it = workloads_.erase(it);
    }
  }
  const std::size_t energy_rows = energy.zone_energy.size() + energy.workload_energy.size();
  for (auto& peer : peers_) {
    std::map<std::string, std::vector<protocol::Alert>> pending;
    {
      std::lock_guard lock(peer->mutex);
      pending.swap(peer->pending);
      if (energy_rows > 0 && peer->config.energy) {
        peer->stats.energy_records_forwarded_total += energy_rows;
        Peer::inc(peer->m_energy, static_cast<double>(energy_rows));
      }
    }
    for (auto& [host, alerts] : pending) {
      for (std::size_t i = 0; i < alerts.size(); i += kMaxAlertsPerBatch) {
        protocol::Batch batch;
        batch.agent_id = "collector/" + config_.name;
        batch.site = config_.site;
        batch.host = host;
        const auto end = std::min(alerts.size(), i + kMaxAlertsPerBatch);
        batch.alerts.assign(std::make_move_iterator(alerts.begin() + static_cast<long>(i)),
                            std::make_move_iterator(alerts.begin() + static_cast<long>(end)));
        peer->enqueue(std::move(batch));
      }
    }
    if (energy_rows > 0 && peer->config.energy) peer->enqueue(energy);
  }
}

void FederationForwarder::flush() { seal(std::numeric_limits<uint64_t>::max()); }

void FederationForwarder::run_ticker() {
  std::unique_lock lock(ticker_mutex_);
  while (!stopping_) {
    ticker_wake_.wait_for(lock, config_.flush_interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    const uint64_t delay_ns =
        static_cast<uint64_t>(config_.aggregate_delay.count()) * 1'000'000'000ull;
    const uint64_t now = protocol::wall_clock_ns();
    try {
      seal(now > delay_ns ? now - delay_ns : 0);
    } catch (const std::exception& e) {
      spdlog::error("federation: {}", e.what());
    }
    lock.lock();
  }
}

void FederationForwarder::stop(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(ticker_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  ticker_wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  try {
    flush();
  } catch (const std::exception& e) {
    spdlog::error("federation: {}", e.what());
  }
  const auto deadline = Clock::now() + grace;
  for (auto& peer : peers_) peer->stop(deadline);
}

std::vector<PeerStats> FederationForwarder::stats() const {
  std::vector<PeerStats> out;
  for (const auto& peer : peers_) {
    {
      std::lock_guard lock(peer->mutex);
      out.push_back(peer->stats);
    }
    out.back().queue_batches = Peer::queued(peer->worker.size());
  }
  return out;
}

Response DistributionServer::handle(const Request& request, std::string_view path) const {
  auto json_error = [](int status, const std::string& message) {
    return Response{status, "application/json", nlohmann::json{{"error", message}}.dump(), {}};
  };
  if (root_.empty()) return json_error(404, "this collector distributes no rule packs");
  constexpr std::string_view kPrefix = "/api/v1/distribution";
  std::string_view rest = path.substr(kPrefix.size());
  if (rest.empty() || rest == "/") {
    std::vector<dist::IndexEntry> index;
    for (const auto& [kind, name] : dist::list_items(root_)) {
      if (const auto item = dist::read_item(root_, kind, name)) {
        index.push_back({kind, name, item->etag});
      } else {
        spdlog::warn("distribution: {}/{} left out of the index: {}", dist::to_string(kind), name,
                     item.error());
      }
    }
    return {200, "application/json", dist::index_to_json(index), {{"Cache-Control", "no-cache"}}};
  }
  rest.remove_prefix(1);
  const auto slash = rest.find('/');
  dist::Kind kind{};
  if (slash == std::string_view::npos || !dist::parse_kind(rest.substr(0, slash), kind))
    return json_error(404, "expected /api/v1/distribution/rules/<pack> or /iocs/<list>");
  const std::string name(rest.substr(slash + 1));
  if (!dist::valid_name(kind, name))
    return json_error(404, "no " + std::string(dist::to_string(kind)) + " item '" + name + "'");
  const auto item = dist::read_item(root_, kind, name);
  if (!item) {
    if (item.error() == "not found")
      return json_error(404, "no " + std::string(dist::to_string(kind)) + " item '" + name + "'");
    spdlog::error("distribution: {}", item.error());
    return json_error(500, "cannot read " + std::string(dist::to_string(kind)) + "/" + name);
  }
  std::vector<std::pair<std::string, std::string>> headers{{"ETag", "\"" + item->etag + "\""},
                                                           {"Cache-Control", "no-cache"}};
  if (dist::if_none_match(request.if_none_match, item->etag))
    return {304, "application/json", "", std::move(headers)};
  return {200, "application/json", dist::to_json(*item), std::move(headers)};
}

struct DistributionMirror::Counters {
  prometheus::Counter* updated = nullptr;
  prometheus::Counter* not_modified = nullptr;
  prometheus::Counter* failed = nullptr;
  prometheus::Counter* removed = nullptr;
};

struct DistributionMirror::Options {
  dist::PullOptions pull;
};

DistributionMirror::DistributionMirror(const FederationConfig& config, const FederationPeer& peer,
                                       prometheus::Registry* registry)
    : root_(config.distribution_dir),
      peer_name_(peer.name),
      interval_(config.pull_interval),
      counters_(std::make_unique<Counters>()),
      options_(std::make_unique<Options>()) {
  auto endpoint = protocol::Endpoint::parse(peer.url, {.ca_file = peer.tls_ca_file});
  if (!endpoint) throw std::runtime_error("federation peer " + peer.name + ": " + endpoint.error());
  options_->pull.endpoint = std::move(*endpoint);
  allow_amber_ = peer.allow_amber;
  options_->pull.token = peer.token;
  options_->pull.timeout = config.request_timeout;
  if (registry != nullptr) {
    auto& family = prometheus::BuildCounter()
                       .Name("vigie_distribution_pulls_total")
                       .Help("Rule pack and IOC list pulls from the federation, by result")
                       .Register(*registry);
    counters_->updated = &family.Add({{"result", "updated"}});
    counters_->not_modified = &family.Add({{"result", "not_modified"}});
    counters_->failed = &family.Add({{"result", "failed"}});
    counters_->removed = &family.Add({{"result", "removed"}});
  }
}

DistributionMirror::~DistributionMirror() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int DistributionMirror::sync() {
  auto inc = [](prometheus::Counter* c) {
    if (c != nullptr) c->Increment();
  };
  const auto index = dist::fetch_index(options_->pull);
  if (!index) {
    inc(counters_->failed);
    spdlog::warn("distribution: cannot read the index of {}: {}", peer_name_, index.error());
    return -1;
  }
  int updated = 0;
  // What the site publishes here itself (its CSIRT list, csirt/indicator.h;
  // its ban list and the ban IOC sets, csirt/ban.h), never pulled over nor
  // withdrawn.
  std::set<std::pair<dist::Kind, std::string>> own{
      {dist::Kind::kIocs, std::string(csirt::kIocListName)}};
  if (csirt_ != nullptr) {
    own.emplace(dist::Kind::kBans, csirt_->bans().site() + ".json");
    for (const auto name : {csirt::kBanUsers, csirt::kBanIps, csirt::kBanSshKeys})
      own.emplace(dist::Kind::kIocs, std::string(name));
  }
  std::set<std::pair<dist::Kind, std::string>> listed = own;
  std::vector<std::string> ban_lists;
  for (const auto& entry : *index) {
    if (own.contains({entry.kind, entry.name})) continue;
    listed.emplace(entry.kind, entry.name);
    const auto result = dist::pull_item(options_->pull, root_, entry.kind, entry.name);
    if (entry.kind == dist::Kind::kBans && result.status != dist::PullResult::Status::kFailed)
      ban_lists.push_back(entry.name);
    switch (result.status) {
      case dist::PullResult::Status::kUpdated:
        ++updated;
        inc(counters_->updated);
        spdlog::info("distribution: {}/{} updated from {} (etag {})", dist::to_string(entry.kind),
                     entry.name, peer_name_, result.etag);
        break;
      case dist::PullResult::Status::kNotModified:
        inc(counters_->not_modified);
        break;
      case dist::PullResult::Status::kFailed:
        inc(counters_->failed);
        spdlog::warn("distribution: {}/{} from {}: {}", dist::to_string(entry.kind), entry.name,
                     peer_name_, result.error);
        break;
    }
  }
  if (csirt_ != nullptr) {
    receive_bans(ban_lists);
    uplink_incidents();
    headsups();
  }
  for (const auto& [kind, name] : dist::list_items(root_)) {
    if (listed.contains({kind, name})) continue;
    std::string error;
    if (dist::remove_item(root_, kind, name, error)) {
      inc(counters_->removed);
      spdlog::info("distribution: {}/{} withdrawn by {}", dist::to_string(kind), name, peer_name_);
    } else {
      spdlog::warn("distribution: {}", error);
    }
  }
  return updated;
}

void DistributionMirror::receive_bans(const std::vector<std::string>& names) {
  const uint64_t now = protocol::wall_clock_ns();
  std::set<std::string> origins;
  for (const auto& name : names) {
    const auto item = dist::read_item(root_, dist::Kind::kBans, name);
    if (!item) {
      spdlog::warn("distribution: bans/{}: {}", name, item.error());
      continue;
    }
    const std::string& text = item->files.at(0).content;
    csirt_->bans().receive(name, text, now);
    if (auto list = csirt::parse_ban_list(text)) origins.insert(list->origin);
  }
  // The acknowledgement of each list: what this site holds and applied.
  for (const auto& origin : origins) {
    auto body = csirt::to_json(csirt_->bans().ack_for(origin));
    body.erase("received_ns");  // the receiver's to set
    post("/api/v1/distribution/bans/ack", body.dump(), "the ban list acknowledgement");
  }
}

void DistributionMirror::uplink_incidents() {
  const uint64_t now = protocol::wall_clock_ns();
  const csirt::Tlp clearance = allow_amber_ ? csirt::Tlp::kAmber : csirt::Tlp::kGreen;
  for (auto& uplink : csirt_->incidents_to_uplink(clearance, now)) {
    if (post("/api/v1/distribution/incidents", std::move(uplink.bundle), "an incident"))
      csirt_->uplinked(uplink, now);
  }
}

void DistributionMirror::headsups() {
  const uint64_t now = protocol::wall_clock_ns();
  constexpr std::string_view kFeed = "/api/v1/csirt/feeds/misp/";
  auto get = [&](const std::string& item) {
    protocol::HttpRequest request;
    request.target = std::string(kFeed) + item;
    request.headers = {{"Authorization", "Bearer " + options_->pull.token}};
    return protocol::send(options_->pull.endpoint, request, options_->pull.timeout);
  };
  const auto manifest = get("manifest.json");
  if (manifest.ok()) {
    const auto fetch = csirt_->headsups_to_fetch(manifest.body);
    if (!fetch) spdlog::warn("distribution: the heads-ups of {}: {}", peer_name_, fetch.error());
    for (const auto& uuid : fetch ? *fetch : std::vector<std::string>{}) {
      const auto event = get(uuid + ".json");
      if (event.ok()) {
        csirt_->receive_headsup(uuid, event.body, now);
      } else {
        spdlog::warn("distribution: heads-up {} from {}: HTTP {}", uuid, peer_name_, event.status);
      }
    }
  } else if (manifest.status != 404) {  // 404: the peer keeps no incidents
    spdlog::warn("distribution: the heads-ups of {}: {}", peer_name_,
                 manifest.status == 0 ? manifest.error : "HTTP " + std::to_string(manifest.status));
  }
  for (auto& [uuid, answer] : csirt_->headsup_answers()) {
    if (post("/api/v1/distribution/headsups/answer", std::move(answer), "a heads-up's answer"))
      csirt_->answered(uuid, now);
  }
}

bool DistributionMirror::post(const std::string& target, std::string body, const char* what) {
  protocol::HttpRequest request;
  request.method = "POST";
  request.target = target;
  request.headers = {{"Authorization", "Bearer " + options_->pull.token},
                     {"Content-Type", "application/json"}};
  request.body = std::move(body);
  const auto response = protocol::send(options_->pull.endpoint, request, options_->pull.timeout);
  if (response.ok()) return true;
  spdlog::warn("distribution: {} to {} failed: {}", what, peer_name_,
               response.status == 0 ? response.error
                                    : "HTTP " + std::to_string(response.status) + " " +
                                          response.body.substr(0, 200));
  return false;
}

void DistributionMirror::start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      try {
        sync();
      } catch (const std::exception& e) {
        spdlog::error("distribution: {}", e.what());
      }
      lock.lock();
      wake_.wait_for(lock, interval_, [this] { return stopping_; });
    }
  });
}

}  // namespace vigie::collector
