#include "remote_write/remote_write.h"

#include <openssl/evp.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <snappy.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "prometheus/remote.pb.h"
#include "vigie/delivery/retry.h"
#include "vigie/delivery/send_worker.h"
#include "vigie/protocol/http_client.h"

namespace vigie::collector::remote_write {

namespace {

constexpr std::string_view kUserAgent = "vigie-collector/0.1.0";
constexpr std::size_t kMaxResponseBytes = 64u << 10;
constexpr uint64_t kExpiryPeriodNs = 60'000'000'000ull;

int64_t to_ms(uint64_t ns) { return static_cast<int64_t>(ns / 1'000'000u); }

// Label values are protobuf `string`s: valid UTF-8. Agents send bytes as the
// kernel saw them (user names, unit names), so invalid sequences become
// U+FFFD rather than a request the receiver refuses.
std::string to_valid_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    std::size_t len = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, min = 0x10000;
    }
    bool ok = len != 0 && i + len <= in.size();
    uint32_t code = ok ? c & (0x7f >> len) : 0;
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto next = static_cast<unsigned char>(in[i + k]);
      if ((next & 0xc0) != 0x80) ok = false;
      code = code << 6 | (next & 0x3f);
    }
    if (ok && (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))) ok = false;
    if (ok) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

// The identity of a label set (sorted labels): name NUL value NUL…
std::string series_key(const std::vector<Label>& labels) {
  std::string key;
  for (const auto& label : labels) {
    key += label.name;
    key += '\0';
    key += label.value;
    key += '\0';
  }
  return key;
}

bool label_less(const Label& a, const Label& b) { return a.name < b.name; }

// Builds one label set: empty values left out (spec: "label values MUST NOT
// be empty"), external labels added unless the series has that name, sorted.
class LabelSet {
 public:
  LabelSet(std::string_view name) { add("__name__", name); }
  LabelSet& add(std::string_view name, std::string_view value) {
    if (!value.empty()) labels_.push_back({std::string(name), to_valid_utf8(value)});
    return *this;
  }
  std::vector<Label> finish(const std::vector<std::pair<std::string, std::string>>& external) {
    for (const auto& label : external) {
      const bool present = std::any_of(labels_.begin(), labels_.end(),
                                       [&](const Label& l) { return l.name == label.first; });
      if (!present) add(label.first, label.second);
    }
    std::stable_sort(labels_.begin(), labels_.end(), label_less);
    return std::move(labels_);
  }

 private:
  std::vector<Label> labels_;
};

std::string trimmed_file(const std::string& path, bool& ok) {
  std::ifstream in(path);
  ok = static_cast<bool>(in);
  std::string text{std::istreambuf_iterator<char>(in), {}};
  const auto end = text.find_last_not_of(" \t\r\n");
  text.erase(end == std::string::npos ? 0 : end + 1);
  const auto begin = text.find_first_not_of(" \t\r\n");
  text.erase(0, begin == std::string::npos ? text.size() : begin);
  return text;
}

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace

std::string encode_write_request(const std::vector<TimeSeries>& series) {
  ::prometheus::WriteRequest request;
  request.mutable_timeseries()->Reserve(static_cast<int>(series.size()));
  std::vector<const Label*> sorted;
  for (const auto& in : series) {
    auto* out = request.add_timeseries();
    sorted.clear();
    for (const auto& label : in.labels) sorted.push_back(&label);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Label* a, const Label* b) { return a->name < b->name; });
    for (const Label* label : sorted) {
      auto* l = out->add_labels();
      l->set_name(label->name);
      l->set_value(label->value);
    }
    for (const auto& sample : in.samples) {
      auto* s = out->add_samples();
      s->set_value(sample.value);
      s->set_timestamp(sample.timestamp_ms);
    }
  }
  const std::string raw = request.SerializeAsString();
  std::string compressed;
  snappy::Compress(raw.data(), raw.size(), &compressed);
  return compressed;
}

protocol::Result<std::vector<TimeSeries>> decode_write_request(std::string_view body,
                                                               std::size_t max_uncompressed_bytes) {
  std::size_t size = 0;
  if (!snappy::GetUncompressedLength(body.data(), body.size(), &size)) {
    return protocol::fail("not snappy block format");
  }
  if (size > max_uncompressed_bytes) {
    return protocol::fail("uncompressed size " + std::to_string(size) + " over the limit of " +
            std::to_string(max_uncompressed_bytes) + " bytes");
  }
  std::string raw;
  if (!snappy::Uncompress(body.data(), body.size(), &raw)) {
    return protocol::fail("corrupt snappy data");
  }
  ::prometheus::WriteRequest request;
  if (!request.ParseFromString(raw)) {
    return protocol::fail("not a prometheus.WriteRequest");
  }
  std::vector<TimeSeries> series;
  series.reserve(static_cast<std::size_t>(request.timeseries_size()));
  for (const auto& in : request.timeseries()) {
    TimeSeries out;
    for (const auto& l : in.labels()) out.labels.push_back({l.name(), l.value()});
    for (const auto& s : in.samples()) out.samples.push_back({s.value(), s.timestamp()});
    series.push_back(std::move(out));
  }
  return series;
}

// --- SeriesBuilder ---------------------------------------------------------

SeriesBuilder::SeriesBuilder(SeriesOptions options) : options_(std::move(options)) {}

void SeriesBuilder::expire(uint64_t now_ns) {
  if (now_ns < last_expiry_ns_ + kExpiryPeriodNs) return;
  last_expiry_ns_ = now_ns;
  const auto idle_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.idle_timeout).count());
  std::erase_if(state_, [&](const auto& entry) { return entry.second.seen_ns + idle_ns < now_ns; });
}

std::vector<TimeSeries> SeriesBuilder::build(const protocol::Batch& batch, uint64_t received_ns) {
  expire(received_ns);

  // What the batch brings, per label set: counter increments by timestamp
  // (summed where several workloads share a label set), or gauge values.
  struct Pending {
    std::vector<Label> labels;
    bool counter = true;
    std::map<int64_t, double> points;  // timestamp -> increment or value
  };
  std::unordered_map<std::string, Pending> pending;
  auto valid = [this](double value) {
    if (std::isfinite(value) && value >= 0) return true;
    ++invalid_;
    return false;
  };
  auto add_counter = [&](std::vector<Label> labels, int64_t ts, double increment) {
    auto& entry = pending[series_key(labels)];
    if (entry.labels.empty()) entry.labels = std::move(labels);
    entry.points[ts] += increment;
  };
  auto set_gauge = [&](std::vector<Label> labels, int64_t ts, double value) {
    auto& entry = pending[series_key(labels)];
    if (entry.labels.empty()) entry.labels = std::move(labels);
    entry.counter = false;
    entry.points[ts] = value;
  };
  const auto& external = options_.external_labels;

  if (options_.node_energy) {
    for (const auto& zone : batch.zone_energy) {
      if (!valid(zone.energy_joules)) continue;
      add_counter(LabelSet("vigie_node_energy_joules_total")
                      .add("site", batch.site)
                      .add("host", batch.host)
                      .add("zone", zone.zone)
                      .add("source", protocol::to_string(zone.source))
                      .add("estimated", zone.estimated ? "true" : "false")
                      .add("in_node_total", zone.in_node_total ? "true" : "false")
                      .finish(external),
                  to_ms(zone.end_ns), zone.energy_joules);
    }
  }

  if (options_.workloads) {
    const auto keeps = [this](std::string_view label) {
      return std::find(options_.workload_labels.begin(), options_.workload_labels.end(), label) !=
             options_.workload_labels.end();
    };
    const bool job_id = keeps("job_id"), user = keeps("user"), account = keeps("account"),
               workload_id = keeps("workload_id");
    for (const auto& energy : batch.workload_energy) {
      if (!valid(energy.energy_joules) || !valid(energy.carbon_gco2e) || !valid(energy.cpu_seconds))
        continue;
      const auto& w = energy.workload;
      const bool slurm = w.kind == protocol::WorkloadKind::kSlurmJob;
      const bool named = !slurm && w.kind != protocol::WorkloadKind::kHost &&
                         w.kind != protocol::WorkloadKind::kUnattributed;
      auto labels = [&](std::string_view name) {
        LabelSet set(name);
        set.add("site", batch.site)
            .add("host", batch.host)
            .add("workload_kind", protocol::to_string(w.kind))
            .add("estimated", energy.estimated ? "true" : "false");
        if (slurm && job_id) set.add("job_id", w.id);
        if (user) set.add("user", w.user);
        if (account) set.add("account", w.account);
        if (named && workload_id) set.add("workload_id", w.id);
        return set.finish(external);
      };
      const int64_t ts = to_ms(energy.end_ns);
      add_counter(labels("vigie_workload_energy_joules_total"), ts, energy.energy_joules);
      add_counter(labels("vigie_workload_co2e_grams_total"), ts, energy.carbon_gco2e);
      add_counter(labels("vigie_workload_cpu_seconds_total"), ts, energy.cpu_seconds);
    }
  }

  if (options_.agent_health) {
    const int64_t ts = to_ms(batch.sent_ns != 0 ? batch.sent_ns : received_ns);
    const auto& s = batch.status;
    auto labels = [&](std::string_view name, std::string_view source = {}) {
      return LabelSet(name)
          .add("site", batch.site)
          .add("host", batch.host)
          .add("agent_id", batch.agent_id)
          .add("source", source)
          .finish(external);
    };
    // The agent's counters are already cumulative (since the agent started):
    // sent as they are, like gauges; a restart shows as a counter reset.
    set_gauge(labels("vigie_agent_ringbuf_drops_total"), ts,
              static_cast<double>(s.ringbuf_drops_total));
    set_gauge(labels("vigie_agent_events_total"), ts, static_cast<double>(s.events_total));
    set_gauge(labels("vigie_agent_uplink_dropped_total"), ts,
              static_cast<double>(s.uplink_dropped_total));
    for (const auto& [source, drops] : s.drops_by_source)
      set_gauge(labels("vigie_agent_drops_total", source), ts, static_cast<double>(drops));
    set_gauge(labels("vigie_agent_ringbuf_size_bytes"), ts,
              static_cast<double>(s.ringbuf_size_bytes));
    set_gauge(labels("vigie_agent_ringbuf_used_bytes"), ts,
              static_cast<double>(s.ringbuf_used_bytes));
    set_gauge(labels("vigie_agent_event_kinds_off"), ts, static_cast<double>(s.kinds_off.size()));
  }

  std::vector<TimeSeries> out;
  out.reserve(pending.size());
  for (auto& [key, entry] : pending) {
    auto& state = state_[key];
    state.seen_ns = received_ns;
    TimeSeries series;
    for (const auto& [ts, value] : entry.points) {
      if (entry.counter) state.total += value;
      if (ts <= state.last_ms) {
        ++folded_;
        continue;
      }
      state.last_ms = ts;
      series.samples.push_back({entry.counter ? state.total : value, ts});
    }
    if (series.samples.empty()) continue;
    series.labels = std::move(entry.labels);
    out.push_back(std::move(series));
  }
  return out;
}

// --- Writer -----------------------------------------------------------------

struct Writer::Queue {
  EndpointConfig config;
  std::string remote_name;
  protocol::Endpoint endpoint;
  std::string target;         // path and query of the URL
  std::string authorization;  // last good value (sender thread only)

  std::mutex build_mutex;  // the builder, and the order of pushes
  SeriesBuilder builder;

  bool failing = false;  // logging: one warning per failure streak (sender thread only)
  bool credentials_failing = false;

  ::prometheus::Counter* sent = nullptr;
  ::prometheus::Counter* failed = nullptr;
  ::prometheus::Counter* retried = nullptr;
  ::prometheus::Counter* dropped_queue_full = nullptr;
  ::prometheus::Counter* dropped_stopped = nullptr;
  ::prometheus::Counter* dropped_invalid = nullptr;
  ::prometheus::Counter* folded = nullptr;
  ::prometheus::Family<::prometheus::Counter>* requests = nullptr;
  ::prometheus::Gauge* queue_samples = nullptr;

  // Series waiting, bounded in samples (queue_capacity_samples): beyond it
  // the oldest are dropped (reason queue_full), as Prometheus's own queue does.
  delivery::SendWorker<TimeSeries> worker;

  explicit Queue(EndpointConfig c)
      : config(std::move(c)),
        builder(config.series),
        worker(
            {.max_bytes = config.queue_capacity_samples,
             .overflow = delivery::QueueLimits::Overflow::kDropOldest},
            [](const TimeSeries& s) { return s.samples.size(); },
            [this](const TimeSeries& s, std::string_view reason) {
              auto* counter =
                  reason == delivery::kDropQueueFull ? dropped_queue_full : dropped_stopped;
              if (counter) counter->Increment(static_cast<double>(s.samples.size()));
            },
            [this](const delivery::QueueSize& size) {
              // Samples waiting; the request in flight is not in the queue any more.
              if (queue_samples) queue_samples->Set(static_cast<double>(size.bytes));
            }) {}

  void push(std::vector<TimeSeries> series) { worker.push_all(std::move(series)); }

  std::vector<std::pair<std::string, std::string>> headers() {
    std::vector<std::pair<std::string, std::string>> h = {
        {"Content-Encoding", "snappy"},
        {"Content-Type", "application/x-protobuf"},
        {"User-Agent", std::string(kUserAgent)},
        {"X-Prometheus-Remote-Write-Version", "0.1.0"},
    };
    // Credentials are read for every request, so that a rotated token is
    // picked up; an unreadable file keeps the last good value.
    bool ok = true;
    if (!config.bearer_token_file.empty()) {
      const auto token = trimmed_file(config.bearer_token_file, ok);
      if (ok) authorization = "Bearer " + token;
    } else if (!config.basic_auth_username.empty()) {
      const auto password = trimmed_file(config.basic_auth_password_file, ok);
      if (ok) authorization = "Basic " + base64(config.basic_auth_username + ":" + password);
    }
    if (!ok && !credentials_failing)
      spdlog::warn("remote_write {}: cannot read its credentials file; using the last one read",
                   remote_name);
    credentials_failing = !ok;
    if (!authorization.empty()) h.emplace_back("Authorization", authorization);
    return h;
  }

  // One request, retried until it is sent or refused (true), or the writer
  // stops during a backoff (false: its samples are dropped, reason stopped).
  bool send(const std::vector<TimeSeries>& series, std::size_t samples,
            delivery::Backoff& backoff) {
    const std::string body = encode_write_request(series);
    for (int attempt = 0;; ++attempt) {
      if (attempt > 0) retried->Increment(static_cast<double>(samples));
      protocol::HttpRequest request{"POST", target, headers(), body};
      const auto response = protocol::send(
          endpoint, request, std::chrono::duration_cast<std::chrono::milliseconds>(config.timeout),
          kMaxResponseBytes);
      requests
          ->Add({{"remote_name", remote_name},
                 {"code", response.status == 0 ? "error" : std::to_string(response.status)}})
          .Increment();
      const std::string answer = response.status == 0 ? response.error
                                                      : "HTTP " + std::to_string(response.status) +
                                                            " " + response.body.substr(0, 256);
      switch (delivery::classify(response)) {
        case delivery::Outcome::kDelivered:
          sent->Increment(static_cast<double>(samples));
          if (failing) spdlog::info("remote_write {}: sending again", remote_name);
          failing = false;
          backoff.reset();
          return true;
        case delivery::Outcome::kRejected:
          failed->Increment(static_cast<double>(samples));
          spdlog::warn("remote_write {}: {} samples refused, not retried: {}", remote_name, samples,
                       answer);
          backoff.reset();
          return true;
        case delivery::Outcome::kRetry:
          if (!failing)
            spdlog::warn("remote_write {}: {}; retrying with backoff", remote_name, answer);
          failing = true;
          break;
      }
      if (!worker.pause(backoff.next(response))) {
        dropped_stopped->Increment(static_cast<double>(samples));
        return false;
      }
    }
  }

  void run() {
    delivery::Backoff backoff({config.min_backoff, config.max_backoff});
    for (;;) {
      // Up to max_samples_per_send samples, oldest first, one TimeSeries per
      // label set with its samples in the order queued (timestamp order).
      std::vector<TimeSeries> taken =
          worker.take(delivery::SendWorker<TimeSeries>::Clock::time_point::max(), SIZE_MAX,
                      config.max_samples_per_send);
      if (taken.empty()) return;  // stopped
      std::vector<TimeSeries> request;
      std::unordered_map<std::string, std::size_t> index;
      std::size_t samples = 0;
      for (TimeSeries& item : taken) {
        samples += item.samples.size();
        const auto [it, inserted] = index.try_emplace(series_key(item.labels), request.size());
        if (inserted) {
          request.push_back(std::move(item));
        } else {
          auto& into = request[it->second].samples;
          into.insert(into.end(), item.samples.begin(), item.samples.end());
        }
      }
      if (!send(request, samples, backoff)) return;
      worker.done();
    }
  }

  // Stops the sender now: a request in backoff is abandoned, what is queued
  // dropped (reason stopped).
  void stop() {
    worker.drop_all(worker.stop(std::chrono::milliseconds(0)), delivery::kDropStopped);
  }
};

namespace {

// "scheme://authority/path?query" -> endpoint + target.
void parse_url(const EndpointConfig& config, protocol::Endpoint& endpoint, std::string& target) {
  const auto& url = config.url;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    throw std::invalid_argument("remote_write url '" + url +
                                "': expected http(s)://host:port/path");
  const auto path_start = url.find('/', scheme_end + 3);
  const std::string authority = url.substr(0, path_start);
  target = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (authority.find('@') != std::string::npos)
    throw std::invalid_argument("remote_write url '" + url +
                                "': no credentials in the URL; use basic_auth");
  auto parsed = protocol::Endpoint::parse(
      authority, {config.tls_ca_file, config.tls_cert_file, config.tls_key_file});
  if (!parsed) throw std::invalid_argument("remote_write url '" + url + "': " + parsed.error());
  endpoint = std::move(*parsed);
}

}  // namespace

Writer::Writer(std::vector<EndpointConfig> endpoints, ::prometheus::Registry& registry) {
  auto& sent = ::prometheus::BuildCounter()
                   .Name("vigie_collector_remote_write_samples_sent_total")
                   .Help("Samples accepted by the remote_write receiver (2xx)")
                   .Register(registry);
  auto& failed = ::prometheus::BuildCounter()
                     .Name("vigie_collector_remote_write_samples_failed_total")
                     .Help(
                         "Samples refused by the receiver with a 4xx other than 429: dropped, "
                         "not retried")
                     .Register(registry);
  auto& retried = ::prometheus::BuildCounter()
                      .Name("vigie_collector_remote_write_samples_retried_total")
                      .Help("Samples sent again after a 5xx, a 429 or no answer")
                      .Register(registry);
  auto& dropped = ::prometheus::BuildCounter()
                      .Name("vigie_collector_remote_write_samples_dropped_total")
                      .Help(
                          "Samples never sent: queue_full (oldest dropped), stopped, "
                          "invalid_value (non-finite or negative figure)")
                      .Register(registry);
  auto& folded = ::prometheus::BuildCounter()
                     .Name("vigie_collector_remote_write_samples_folded_total")
                     .Help(
                         "Out-of-order figures carried by a later sample of their series "
                         "instead of a sample of their own")
                     .Register(registry);
  auto& requests = ::prometheus::BuildCounter()
                       .Name("vigie_collector_remote_write_requests_total")
                       .Help("remote_write requests, by answer (HTTP status, or error when none)")
                       .Register(registry);
  auto& queue = ::prometheus::BuildGauge()
                    .Name("vigie_collector_remote_write_queue_samples")
                    .Help("Samples waiting to be sent")
                    .Register(registry);
  auto& queue_limit =
      ::prometheus::BuildGauge()
          .Name("vigie_collector_remote_write_queue_samples_limit")
          .Help("Samples allowed to wait (queue_capacity_samples); beyond, the oldest are dropped")
          .Register(registry);

  for (auto& config : endpoints) {
    if (config.max_samples_per_send == 0 || config.queue_capacity_samples == 0)
      throw std::invalid_argument("remote_write " + config.url +
                                  ": queue capacity and max_samples_per_send must be > 0");
    auto q = std::make_unique<Queue>(std::move(config));
    parse_url(q->config, q->endpoint, q->target);
    q->remote_name = q->config.name.empty() ? q->config.url : q->config.name;
    for (const auto* file : {&q->config.bearer_token_file, &q->config.basic_auth_password_file}) {
      bool ok = true;
      if (!file->empty()) trimmed_file(*file, ok);
      if (!ok)
        throw std::invalid_argument("remote_write " + q->remote_name + ": cannot read " + *file);
    }
    const ::prometheus::Labels name{{"remote_name", q->remote_name}};
    auto with = [&name](std::string key, std::string value) {
      auto labels = name;
      labels.emplace(std::move(key), std::move(value));
      return labels;
    };
    q->sent = &sent.Add(name);
    q->failed = &failed.Add(name);
    q->retried = &retried.Add(name);
    q->dropped_queue_full = &dropped.Add(with("reason", "queue_full"));
    q->dropped_stopped = &dropped.Add(with("reason", "stopped"));
    q->dropped_invalid = &dropped.Add(with("reason", "invalid_value"));
    q->folded = &folded.Add(name);
    q->requests = &requests;
    q->queue_samples = &queue.Add(name);
    queue_limit.Add(name).Set(static_cast<double>(q->config.queue_capacity_samples));
    queues_.push_back(std::move(q));
  }
  for (auto& q : queues_) q->worker.start([raw = q.get()] { raw->run(); });
}

Writer::~Writer() {
  for (auto& q : queues_) q->stop();
}

void Writer::on_stored(const protocol::Batch& batch, uint64_t received_ns) {
  for (auto& q : queues_) {
    std::lock_guard lock(q->build_mutex);
    const auto folded = q->builder.folded(), invalid = q->builder.invalid();
    auto series = q->builder.build(batch, received_ns);
    if (q->builder.folded() != folded)
      q->folded->Increment(static_cast<double>(q->builder.folded() - folded));
    if (q->builder.invalid() != invalid)
      q->dropped_invalid->Increment(static_cast<double>(q->builder.invalid() - invalid));
    if (!series.empty()) q->push(std::move(series));
  }
}

bool Writer::flush(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool all = true;
  for (auto& q : queues_) {
    const auto left = deadline - std::chrono::steady_clock::now();
    all &= q->worker.wait_idle(std::max(std::chrono::duration_cast<std::chrono::milliseconds>(left),
                                        std::chrono::milliseconds(0)));
  }
  return all;
}

Writer::Stats Writer::stats(std::size_t endpoint) const {
  const auto& q = *queues_.at(endpoint);
  Stats s;
  s.sent = static_cast<uint64_t>(q.sent->Value());
  s.failed = static_cast<uint64_t>(q.failed->Value());
  s.retried = static_cast<uint64_t>(q.retried->Value());
  s.dropped = static_cast<uint64_t>(q.dropped_queue_full->Value() + q.dropped_stopped->Value() +
                                    q.dropped_invalid->Value());
  s.folded = static_cast<uint64_t>(q.folded->Value());
  s.queued = static_cast<uint64_t>(q.queue_samples->Value());
  return s;
}

std::size_t Writer::endpoint_count() const { return queues_.size(); }

}  // namespace vigie::collector::remote_write
