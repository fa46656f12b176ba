// remote_write against the real receivers, started here on loopback:
// Prometheus (--web.enable-remote-write-receiver) and VictoriaMetrics
// (/api/v1/write). Batches go through the collector's ingest (a Handler over
// a SqliteStore, and the vigie-collector binary); the samples are queried
// back from each server and checked: values, labels, timestamps.
#include "remote_write/remote_write.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "http/handler.h"
#include "metrics.h"
#include "storage/sqlite_store.h"
#include "support/processes.h"
#include "support/sample_batch.h"
#include "vigie/protocol/codec.h"
#include "vigie/protocol/http_client.h"

namespace vigie::integration {
namespace {

using collector::testing::kSecondNs;
using collector::testing::sample_batch;
using collector::testing::TempDir;
using nlohmann::json;

constexpr const char* kToken = "remote-write-test-token";

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

protocol::HttpResponse get(uint16_t port, const std::string& target) {
  protocol::Endpoint endpoint;
  endpoint.host = "127.0.0.1";
  endpoint.port = std::to_string(port);
  protocol::HttpRequest request;
  request.target = target;
  return protocol::send(endpoint, request, std::chrono::seconds(10));
}

// A receiver process on 127.0.0.1, its data in a temp dir; killed at the end.
class Receiver {
 public:
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;
  ~Receiver() { stop(pid_); }
  uint16_t port() const { return port_; }
  std::string write_url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string log() const { return read_file(dir_.path() / "log"); }

 protected:
  Receiver() : port_(free_port()) {}
  // Starts `argv` and waits for `ready_path` to answer 200. Empty on
  // success, else why not.
  std::string start(const std::vector<std::string>& argv, const std::string& ready_path) {
    if (!std::filesystem::exists(argv[0]))
      return argv[0] + " is not installed (deploy/install-deps.sh --test installs it)";
    pid_ = spawn(argv, dir_.path() / "log");
    const bool ready =
        eventually([&] { return get(port_, ready_path).status == 200; }, std::chrono::seconds(60));
    return ready ? "" : argv[0] + " did not become ready:\n" + log();
  }
  TempDir dir_;
  uint16_t port_;
  pid_t pid_ = -1;
};

class PrometheusServer : public Receiver {
 public:
  std::string start() {
    const auto config = dir_.path() / "prometheus.yml";
    std::ofstream(config) << "global:\n  scrape_interval: 1m\n";
    return Receiver::start({"/usr/bin/prometheus", "--config.file=" + config.string(),
                            "--storage.tsdb.path=" + (dir_.path() / "data").string(),
                            "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                            "--web.enable-remote-write-receiver"},
                           "/-/ready");
  }

  // The raw samples of `selector` over the hour before `at_s` (a range
  // vector in an instant query): one entry per series.
  json query_range_vector(const std::string& selector, double at_s) {
    std::ostringstream time;
    time.precision(15);
    time << at_s;
    const auto response = get(
        port_, "/api/v1/query?query=" + percent_encode(selector + "[1h]") + "&time=" + time.str());
    if (response.status != 200) return json::array();
    return json::parse(response.body)["data"]["result"];
  }
};

class VictoriaMetricsServer : public Receiver {
 public:
  std::string start() {
    return Receiver::start(
        {"/usr/bin/victoria-metrics", "-httpListenAddr=127.0.0.1:" + std::to_string(port_),
         "-storageDataPath=" + (dir_.path() / "data").string()},
        "/health");
  }

  // /api/v1/export of `selector`: one JSON object per series, with its
  // values and timestamps (ms). Flushes the in-memory buffers first, so
  // that what was just written is searchable.
  std::vector<json> export_series(const std::string& selector) {
    get(port_, "/internal/force_flush");
    const auto response = get(port_, "/api/v1/export?match[]=" + percent_encode(selector));
    std::vector<json> out;
    if (response.status != 200) return out;
    std::istringstream lines(response.body);
    for (std::string line; std::getline(lines, line);)
      if (!line.empty()) out.push_back(json::parse(line));
    return out;
  }
};

// Batches two 10 s intervals apart, recent enough for both servers' retention.
struct TwoBatches {
  uint64_t t0_ns;
  protocol::Batch first, second;
  TwoBatches() {
    const uint64_t now_s = protocol::wall_clock_ns() / kSecondNs;
    t0_ns = (now_s - 300) * kSecondNs;
    first = sample_batch(1, "node1", t0_ns);
    second = sample_batch(2, "node1", t0_ns + 10 * kSecondNs);
    second.status.events_total = 2000;
  }
  int64_t end_ms(int interval) const {
    return static_cast<int64_t>((t0_ns + 10 * kSecondNs * interval) / 1'000'000);
  }
};

collector::Request ingest_request(const protocol::Batch& batch) {
  collector::Request request;
  request.method = "POST";
  request.target = "/api/v1/ingest";
  request.authorization = std::string("Bearer ") + kToken;
  request.content_type = "application/x-protobuf";
  request.content_encoding = "zstd";
  request.body = protocol::encode_batch(batch);
  return request;
}

TEST(RemoteWriteIntegration, PrometheusAndVictoriaMetricsHoldWhatTheCollectorStored) {
  PrometheusServer prometheus;
  VictoriaMetricsServer victoria;
  {
    const auto error = prometheus.start();
    ASSERT_TRUE(error.empty()) << error;
  }
  {
    const auto error = victoria.start();
    ASSERT_TRUE(error.empty()) << error;
  }

  TempDir dir;
  collector::Config config;
  config.agent_tokens = {{collector::sha256(kToken), "site-a", "node1"}};
  collector::SqliteStore store((dir.path() / "collector.db").string());
  collector::Metrics metrics;
  collector::Handler handler(config, store, metrics);
  collector::remote_write::EndpointConfig to_prometheus, to_victoria;
  to_prometheus.url = prometheus.write_url("/api/v1/write");
  to_prometheus.name = "prometheus";
  to_victoria.url = victoria.write_url("/api/v1/write");
  to_victoria.name = "victoriametrics";
  to_victoria.series.external_labels = {{"collector", "c1"}};
  collector::remote_write::Writer writer({to_prometheus, to_victoria}, metrics.registry());
  handler.add_listener(writer);

  const TwoBatches data;
  for (const auto* batch : {&data.first, &data.second}) {
    const auto response = handler.handle(ingest_request(*batch));
    ASSERT_EQ(response.status, 200) << response.body;
  }
  // A duplicate is not stored again, so not written again either.
  ASSERT_EQ(handler.handle(ingest_request(data.first)).status, 200);
  ASSERT_TRUE(writer.flush(std::chrono::seconds(60)));
  for (std::size_t i = 0; i < 2; ++i) {
    const auto stats = writer.stats(i);
    EXPECT_GT(stats.sent, 0u) << i;
    EXPECT_EQ(stats.failed + stats.dropped + stats.queued, 0u)
        << i << "\n"
        << (i == 0 ? prometheus.log() : victoria.log());
  }
  const auto exposition = metrics.exposition();
  EXPECT_NE(exposition.find("vigie_collector_remote_write_samples_sent_total{remote_name="
                            "\"prometheus\"}"),
            std::string::npos)
      << exposition;

  // Prometheus: raw samples with their timestamps (s) and values.
  const double at_s = static_cast<double>(data.end_ms(3)) / 1000;
  auto check_prometheus = [&](const std::string& selector, const json& labels,
                              const std::vector<std::pair<int64_t, double>>& expected) {
    json result;
    eventually(
        [&] {
          result = prometheus.query_range_vector(selector, at_s);
          return result.size() == 1 && result[0]["values"].size() == expected.size();
        },
        std::chrono::seconds(30));
    ASSERT_EQ(result.size(), 1u) << selector << " " << result.dump() << "\n" << prometheus.log();
    EXPECT_EQ(result[0]["metric"], labels) << selector;
    const auto& values = result[0]["values"];
    ASSERT_EQ(values.size(), expected.size()) << values.dump();
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(std::llround(values[i][0].get<double>() * 1000), expected[i].first);
      EXPECT_DOUBLE_EQ(std::stod(values[i][1].get<std::string>()), expected[i].second);
    }
  };
  check_prometheus("vigie_node_energy_joules_total{zone=\"package-0\"}",
                   {{"__name__", "vigie_node_energy_joules_total"},
                    {"site", "site-a"},
                    {"host", "node1"},
                    {"zone", "package-0"},
                    {"source", "rapl"},
                    {"estimated", "false"},
                    {"in_node_total", "true"}},
                   {{data.end_ms(1), 100}, {data.end_ms(2), 200}});
  check_prometheus("vigie_workload_energy_joules_total{job_id=\"42\"}",
                   {{"__name__", "vigie_workload_energy_joules_total"},
                    {"site", "site-a"},
                    {"host", "node1"},
                    {"workload_kind", "slurm_job"},
                    {"job_id", "42"},
                    {"user", "alice"},
                    {"account", "physics"},
                    {"estimated", "false"}},
                   {{data.end_ms(1), 90}, {data.end_ms(2), 180}});
  const int64_t sent1 = static_cast<int64_t>(data.first.sent_ns / 1'000'000);
  const int64_t sent2 = static_cast<int64_t>(data.second.sent_ns / 1'000'000);
  check_prometheus("vigie_agent_events_total",
                   {{"__name__", "vigie_agent_events_total"},
                    {"site", "site-a"},
                    {"host", "node1"},
                    {"agent_id", "agent-node1"}},
                   {{sent1, 1000}, {sent2, 2000}});
  // Power is what PromQL derives from the counter: irate over the last two
  // samples of each top-level zone, (100 + 20) J in 10 s.
  {
    std::ostringstream time;
    time.precision(15);
    time << static_cast<double>(data.end_ms(2)) / 1000;
    const auto response =
        get(prometheus.port(),
            "/api/v1/query?query=" +
                percent_encode(
                    "sum(irate(vigie_node_energy_joules_total{in_node_total=\"true\"}[1m]))") +
                "&time=" + time.str());
    ASSERT_EQ(response.status, 200) << response.body;
    const auto result = json::parse(response.body)["data"]["result"];
    ASSERT_EQ(result.size(), 1u) << response.body;
    EXPECT_DOUBLE_EQ(std::stod(result[0]["value"][1].get<std::string>()), 12.0);
  }

  // VictoriaMetrics: the same samples, with the external label.
  auto check_victoria = [&](const std::string& selector, const json& labels,
                            const std::vector<std::pair<int64_t, double>>& expected) {
    std::vector<json> series;
    eventually(
        [&] {
          series = victoria.export_series(selector);
          return series.size() == 1 && series[0]["values"].size() == expected.size();
        },
        std::chrono::seconds(60));
    ASSERT_EQ(series.size(), 1u) << selector << "\n" << victoria.log();
    EXPECT_EQ(series[0]["metric"], labels) << selector;
    ASSERT_EQ(series[0]["values"].size(), expected.size()) << series[0].dump();
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(series[0]["timestamps"][i].get<int64_t>(), expected[i].first);
      EXPECT_DOUBLE_EQ(series[0]["values"][i].get<double>(), expected[i].second);
    }
  };
  check_victoria("vigie_node_energy_joules_total{zone=\"dram\"}",
                 {{"__name__", "vigie_node_energy_joules_total"},
                  {"collector", "c1"},
                  {"site", "site-a"},
                  {"host", "node1"},
                  {"zone", "dram"},
                  {"source", "rapl"},
                  {"estimated", "false"},
                  {"in_node_total", "true"}},
                 {{data.end_ms(1), 20}, {data.end_ms(2), 40}});
  check_victoria("vigie_workload_co2e_grams_total{workload_kind=\"unattributed\"}",
                 {{"__name__", "vigie_workload_co2e_grams_total"},
                  {"collector", "c1"},
                  {"site", "site-a"},
                  {"host", "node1"},
                  {"workload_kind", "unattributed"},
                  {"estimated", "false"}},
                 {{data.end_ms(1), 0.5}, {data.end_ms(2), 1.0}});
  check_victoria("vigie_agent_drops_total",
                 {{"__name__", "vigie_agent_drops_total"},
                  {"collector", "c1"},
                  {"site", "site-a"},
                  {"host", "node1"},
                  {"agent_id", "agent-node1"},
                  {"source", "ringbuf.process_exec"}},
                 {{sent1, 3}, {sent2, 3}});
}

TEST(RemoteWriteIntegration, PrometheusRefusesOutOfOrderWithA400ThatIsNotRetried) {
  PrometheusServer prometheus;
  {
    const auto error = prometheus.start();
    ASSERT_TRUE(error.empty()) << error;
  }
  ::prometheus::Registry registry;
  collector::remote_write::EndpointConfig config;
  config.url = prometheus.write_url("/api/v1/write");
  collector::remote_write::Writer writer({config}, registry);
  const TwoBatches data;
  writer.on_stored(data.second, data.second.sent_ns);
  ASSERT_TRUE(writer.flush(std::chrono::seconds(60)));
  const auto sent = writer.stats(0).sent;
  ASSERT_GT(sent, 0u) << prometheus.log();
  // A second writer (a collector restarted, its counters from 0) sends older
  // samples of the same series: Prometheus answers 400 (out of order), so
  // they are counted as failed and not retried.
  ::prometheus::Registry other_registry;
  collector::remote_write::Writer restarted({config}, other_registry);
  restarted.on_stored(data.first, data.first.sent_ns);
  ASSERT_TRUE(restarted.flush(std::chrono::seconds(30)))
      << "still retrying: Prometheus did not answer 4xx\n"
      << prometheus.log();
  const auto stats = restarted.stats(0);
  EXPECT_GT(stats.failed, 0u) << prometheus.log();
  EXPECT_EQ(stats.retried, 0u);
}

// The vigie-collector binary with a remote_write section: ingest over HTTP,
// samples in VictoriaMetrics.
TEST(RemoteWriteIntegration, CollectorBinaryWritesToVictoriaMetrics) {
  VictoriaMetricsServer victoria;
  {
    const auto error = victoria.start();
    ASSERT_TRUE(error.empty()) << error;
  }
  TempDir dir;
  const uint16_t port = free_port();
  const auto config = dir.path() / "collector.yaml";
  std::ofstream(config) << "listen: {address: 127.0.0.1, port: " << port << "}\n"
                        << "database: " << (dir.path() / "collector.db").string() << "\n"
                        << "agent_tokens:\n  - sha256: "
                        << collector::to_hex(collector::sha256(kToken)) << "\n    host: node1\n"
                        << "api: {public_metrics: true}\n"
                        << "remote_write:\n  - url: " << victoria.write_url("/api/v1/write")
                        << "\n    name: vm\n    series: {workload_labels: [user]}\n";
  const pid_t pid =
      spawn({VIGIE_BINARY_DIR "/collector/vigie-collector", "--config", config.string()},
            dir.path() / "collector.log");
  struct Stop {
    pid_t pid;
    ~Stop() { stop(pid); }
  } stop_collector{pid};
  ASSERT_TRUE(
      eventually([&] { return get(port, "/metrics").status == 200; }, std::chrono::seconds(30)))
      << read_file(dir.path() / "collector.log");

  const TwoBatches data;
  protocol::Endpoint endpoint;
  endpoint.host = "127.0.0.1";
  endpoint.port = std::to_string(port);
  for (const auto* batch : {&data.first, &data.second}) {
    const auto response =
        protocol::send(endpoint, protocol::ingest_request(kToken, protocol::encode_batch(*batch)));
    ASSERT_EQ(response.status, 200) << response.body << response.error;
  }
  std::vector<json> series;
  eventually(
      [&] {
        series = victoria.export_series("vigie_workload_energy_joules_total{user=\"alice\"}");
        return series.size() == 1 && series[0]["values"].size() == 2;
      },
      std::chrono::seconds(60));
  ASSERT_EQ(series.size(), 1u) << read_file(dir.path() / "collector.log");
  EXPECT_EQ(series[0]["metric"], json({{"__name__", "vigie_workload_energy_joules_total"},
                                       {"site", "site-a"},
                                       {"host", "node1"},
                                       {"workload_kind", "slurm_job"},
                                       {"user", "alice"},
                                       {"estimated", "false"}}));
  EXPECT_EQ(series[0]["values"], json({90.0, 180.0}));
  EXPECT_EQ(series[0]["timestamps"], json({data.end_ms(1), data.end_ms(2)}));
  const auto metrics = get(port, "/metrics").body;
  EXPECT_NE(metrics.find("vigie_collector_remote_write_samples_sent_total{remote_name=\"vm\"}"),
            std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace vigie::integration
