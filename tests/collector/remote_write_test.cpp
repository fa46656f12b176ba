// remote_write: the encoding (checked against the spec's field numbers with
// a protobuf wire reader of its own and snappy directly), the series built
// from batches (labels, counters, order), the retry policy and the sender
// against a loopback receiver answering chosen statuses.
#include "remote_write/remote_write.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <snappy.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

#include "support/http_receiver.h"
#include "support/sample_batch.h"
#include "vigie/collector/config.h"

namespace vigie::collector::remote_write {
namespace {

using collector::testing::HttpReceiver;
using collector::testing::kBaseNs;
using collector::testing::kSecondNs;
using collector::testing::ReceivedRequest;
using collector::testing::sample_batch;
using collector::testing::TempDir;

// --- a protobuf wire reader, independent of the .proto we generate from ---

struct Field {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  uint64_t varint = 0;   // wire type 0
  std::string bytes;     // wire type 2
  uint64_t fixed64 = 0;  // wire type 1
};

std::vector<Field> read_fields(std::string_view data) {
  std::vector<Field> fields;
  std::size_t i = 0;
  auto varint = [&]() {
    uint64_t value = 0;
    for (int shift = 0; i < data.size(); shift += 7) {
      const auto byte = static_cast<unsigned char>(data[i++]);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    ADD_FAILURE() << "truncated varint";
    return value;
  };
  while (i < data.size()) {
    Field f;
    const uint64_t key = varint();
    f.number = static_cast<uint32_t>(key >> 3);
    f.wire_type = static_cast<uint32_t>(key & 7);
    if (f.wire_type == 0) {
      f.varint = varint();
    } else if (f.wire_type == 1) {
      std::memcpy(&f.fixed64, data.data() + i, 8);
      i += 8;
    } else if (f.wire_type == 2) {
      const auto len = static_cast<std::size_t>(varint());
      f.bytes = std::string(data.substr(i, len));
      i += len;
    } else {
      ADD_FAILURE() << "unexpected wire type " << f.wire_type;
      break;
    }
    fields.push_back(std::move(f));
  }
  return fields;
}

TEST(RemoteWriteEncoding, SnappyBlockOfAWriteRequestWithTheSpecsFieldNumbers) {
  const std::vector<TimeSeries> series = {
      {{{"zone", "package-0"}, {"__name__", "vigie_node_energy_joules_total"}, {"host", "n1"}},
       {{100.5, 1'700'000'010'000}, {201.0, 1'700'000'020'000}}},
      {{{"__name__", "up"}}, {{1, 1'700'000'020'000}}}};
  const std::string body = encode_write_request(series);

  // Snappy block format (not framed): the stream identifier chunk of the
  // framing format (0xff 0x06 0x00 0x00 "sNaPpY") must not be there.
  ASSERT_TRUE(snappy::IsValidCompressedBuffer(body.data(), body.size()));
  ASSERT_NE(body.substr(0, 1), "\xff");
  std::string raw;
  ASSERT_TRUE(snappy::Uncompress(body.data(), body.size(), &raw));

  // WriteRequest.timeseries = 1; TimeSeries.labels = 1, samples = 2;
  // Label.name = 1, value = 2; Sample.value = 1 (double), timestamp = 2 (int64).
  const auto request = read_fields(raw);
  ASSERT_EQ(request.size(), 2u);
  for (const auto& f : request) EXPECT_EQ(f.number, 1u) << "WriteRequest.timeseries";
  const auto first = read_fields(request[0].bytes);
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<double, int64_t>> samples;
  for (const auto& f : first) {
    ASSERT_EQ(f.wire_type, 2u);
    const auto inner = read_fields(f.bytes);
    if (f.number == 1) {
      ASSERT_EQ(inner.size(), 2u);
      EXPECT_EQ(inner[0].number, 1u);
      EXPECT_EQ(inner[1].number, 2u);
      labels.emplace_back(inner[0].bytes, inner[1].bytes);
    } else {
      ASSERT_EQ(f.number, 2u);
      ASSERT_EQ(inner.size(), 2u);
      EXPECT_EQ(inner[0].number, 1u);
      EXPECT_EQ(inner[0].wire_type, 1u);  // double
      EXPECT_EQ(inner[1].number, 2u);
      EXPECT_EQ(inner[1].wire_type, 0u);  // varint int64
      double value = 0;
      std::memcpy(&value, &inner[0].fixed64, 8);
      samples.emplace_back(value, static_cast<int64_t>(inner[1].varint));
    }
  }
  // Sorted by name, `__name__` first.
  const std::vector<std::pair<std::string, std::string>> sorted = {
      {"__name__", "vigie_node_energy_joules_total"}, {"host", "n1"}, {"zone", "package-0"}};
  EXPECT_EQ(labels, sorted);
  const std::vector<std::pair<double, int64_t>> expected_samples = {{100.5, 1'700'000'010'000},
                                                                    {201.0, 1'700'000'020'000}};
  EXPECT_EQ(samples, expected_samples);

  // And the decoder gives back what went in, labels sorted.
  const auto result = decode_write_request(body);
  ASSERT_TRUE(result) << result.error();
  const std::vector<TimeSeries>& decoded = *result;
  ASSERT_EQ(decoded.size(), 2u);
  EXPECT_EQ(decoded[0].labels[0], (Label{"__name__", "vigie_node_energy_joules_total"}));
  EXPECT_EQ(decoded[0].labels[2], (Label{"zone", "package-0"}));
  EXPECT_EQ(decoded[0].samples, series[0].samples);
  EXPECT_EQ(decoded[1], series[1]);
}

TEST(RemoteWriteEncoding, DecoderRefusesBadInputWithAReason) {
  auto out = decode_write_request("not snappy at all");
  ASSERT_FALSE(out);
  EXPECT_FALSE(out.error().empty());
  std::string compressed;
  const std::string garbage = "\x0a\xff\xff\xff\xff\x0f";  // a length past the end
  snappy::Compress(garbage.data(), garbage.size(), &compressed);
  out = decode_write_request(compressed);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error(), "not a prometheus.WriteRequest");
  const std::string big(4096, 'x');
  snappy::Compress(big.data(), big.size(), &compressed);
  out = decode_write_request(compressed, 1024);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().find("over the limit"), std::string::npos) << out.error();
}

// --- series from batches ---

const TimeSeries* find(const std::vector<TimeSeries>& all, const std::string& name,
                       const std::vector<Label>& must_have = {}) {
  for (const auto& s : all) {
    bool match =
        std::find(s.labels.begin(), s.labels.end(), Label{"__name__", name}) != s.labels.end();
    for (const auto& l : must_have)
      match = match && std::find(s.labels.begin(), s.labels.end(), l) != s.labels.end();
    if (match) return &s;
  }
  return nullptr;
}

int64_t ms(uint64_t ns) { return static_cast<int64_t>(ns / 1'000'000); }

TEST(RemoteWriteSeries, LabelsSortedUniqueNonEmptyWithName) {
  SeriesBuilder builder({});
  const auto all = builder.build(sample_batch(1), kBaseNs + 12 * kSecondNs);
  ASSERT_FALSE(all.empty());
  std::set<std::string> seen;
  for (const auto& s : all) {
    EXPECT_TRUE(std::is_sorted(s.labels.begin(), s.labels.end(),
                               [](const Label& a, const Label& b) { return a.name < b.name; }));
    std::set<std::string> names;
    for (const auto& l : s.labels) {
      EXPECT_FALSE(l.value.empty()) << l.name;
      EXPECT_TRUE(names.insert(l.name).second) << "duplicate " << l.name;
    }
    EXPECT_TRUE(names.contains("__name__"));
    std::string key;
    for (const auto& l : s.labels) key += l.name + '=' + l.value + ',';
    EXPECT_TRUE(seen.insert(key).second) << "one series per label set";
  }
  // The node's zones, with what tells a sub-zone from a top-level one.
  const auto* core = find(all, "vigie_node_energy_joules_total", {{"zone", "core"}});
  ASSERT_NE(core, nullptr);
  const std::vector<Label> core_labels = {{"__name__", "vigie_node_energy_joules_total"},
                                          {"estimated", "false"},
                                          {"host", "node1"},
                                          {"in_node_total", "false"},
                                          {"site", "site-a"},
                                          {"source", "rapl"},
                                          {"zone", "core"}};
  EXPECT_EQ(core->labels, core_labels);
  EXPECT_EQ(core->samples, (std::vector<Sample>{{60.0, ms(kBaseNs + 10 * kSecondNs)}}));
  // The Slurm job with its owner and account; the unattributed share without
  // empty user/account labels.
  const auto* job = find(all, "vigie_workload_energy_joules_total", {{"job_id", "42"}});
  ASSERT_NE(job, nullptr);
  const std::vector<Label> job_labels = {{"__name__", "vigie_workload_energy_joules_total"},
                                         {"account", "physics"},
                                         {"estimated", "false"},
                                         {"host", "node1"},
                                         {"job_id", "42"},
                                         {"site", "site-a"},
                                         {"user", "alice"},
                                         {"workload_kind", "slurm_job"}};
  EXPECT_EQ(job->labels, job_labels);
  const auto* idle =
      find(all, "vigie_workload_co2e_grams_total", {{"workload_kind", "unattributed"}});
  ASSERT_NE(idle, nullptr);
  EXPECT_EQ(idle->labels.size(), 5u);  // __name__ estimated host site workload_kind
  EXPECT_EQ(idle->samples[0].value, 0.5);
  // Agent health at the batch's sent time.
  const auto* drops = find(all, "vigie_agent_drops_total", {{"source", "ringbuf.process_exec"}});
  ASSERT_NE(drops, nullptr);
  EXPECT_EQ(drops->samples, (std::vector<Sample>{{3, ms(kBaseNs + 11 * kSecondNs)}}));
  const auto* off = find(all, "vigie_agent_event_kinds_off", {{"agent_id", "agent-node1"}});
  ASSERT_NE(off, nullptr);
  EXPECT_EQ(off->samples[0].value, 1);
}

TEST(RemoteWriteSeries, CountersAccumulateAndOldIntervalsAreCarriedNotLost) {
  SeriesBuilder builder({});
  const Label package{"zone", "package-0"};
  auto energy = [&](const std::vector<TimeSeries>& all) {
    const auto* s = find(all, "vigie_node_energy_joules_total", {package});
    return s ? s->samples : std::vector<Sample>{};
  };
  const uint64_t t1 = kBaseNs, t2 = kBaseNs + 10 * kSecondNs;
  EXPECT_EQ(energy(builder.build(sample_batch(1, "node1", t1), t1)),
            (std::vector<Sample>{{100, ms(t1 + 10 * kSecondNs)}}));
  const auto second = builder.build(sample_batch(2, "node1", t2), t2);
  EXPECT_EQ(energy(second), (std::vector<Sample>{{200, ms(t2 + 10 * kSecondNs)}}));
  const auto* cpu = find(second, "vigie_workload_cpu_seconds_total", {{"job_id", "42"}});
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->samples[0].value, 16);

  // An agent resends an interval older than the last sample: no sample
  // behind the series' back (receivers refuse out-of-order samples), but
  // its joules are in the next one.
  const auto old = builder.build(sample_batch(3, "node1", t1 - 10 * kSecondNs), t2);
  EXPECT_TRUE(energy(old).empty());
  EXPECT_GT(builder.folded(), 0u);
  const uint64_t t3 = t2 + 10 * kSecondNs;
  EXPECT_EQ(energy(builder.build(sample_batch(4, "node1", t3), t3)),
            (std::vector<Sample>{{400, ms(t3 + 10 * kSecondNs)}}));
}

TEST(RemoteWriteSeries, SeveralIntervalsInOneBatchGoOutInTimestampOrder) {
  SeriesBuilder builder({});
  auto batch = sample_batch(1);
  auto later = batch.zone_energy[0];
  later.start_ns += 10 * kSecondNs;
  later.end_ns += 10 * kSecondNs;
  later.energy_joules = 50;
  batch.zone_energy.insert(batch.zone_energy.begin(), later);  // newest first on purpose
  const auto all = builder.build(batch, kBaseNs);
  const auto* s = find(all, "vigie_node_energy_joules_total", {{"zone", "package-0"}});
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->samples, (std::vector<Sample>{{100, ms(kBaseNs + 10 * kSecondNs)},
                                             {150, ms(kBaseNs + 20 * kSecondNs)}}));
}

TEST(RemoteWriteSeries, LabelsLeftOutSumWorkloadsAndExternalLabelsAreAdded) {
  SeriesOptions options;
  options.workload_labels = {"user"};
  options.node_energy = false;
  options.agent_health = false;
  options.external_labels = {{"collector", "c1"}, {"host", "never-overrides"}};
  SeriesBuilder builder(options);
  auto batch = sample_batch(1);
  auto other = batch.workload_energy[0];
  other.workload.id = "43";
  other.energy_joules = 10;
  batch.workload_energy.push_back(other);
  const auto all = builder.build(batch, kBaseNs);
  EXPECT_EQ(find(all, "vigie_node_energy_joules_total"), nullptr);
  EXPECT_EQ(find(all, "vigie_agent_events_total"), nullptr);
  const auto* alice = find(all, "vigie_workload_energy_joules_total", {{"user", "alice"}});
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->samples[0].value, 100);  // jobs 42 (90 J) and 43 (10 J), summed
  const std::vector<Label> labels = {{"__name__", "vigie_workload_energy_joules_total"},
                                     {"collector", "c1"},
                                     {"estimated", "false"},
                                     {"host", "node1"},
                                     {"site", "site-a"},
                                     {"user", "alice"},
                                     {"workload_kind", "slurm_job"}};
  EXPECT_EQ(alice->labels, labels);
}

TEST(RemoteWriteSeries, InvalidUtf8AndInvalidFiguresAreHandled) {
  SeriesBuilder builder({});
  auto batch = sample_batch(1);
  batch.workload_energy[0].workload.user = "al\xffice";
  batch.zone_energy[2].energy_joules = std::numeric_limits<double>::quiet_NaN();
  const auto all = builder.build(batch, kBaseNs);
  EXPECT_NE(find(all, "vigie_workload_energy_joules_total", {{"user", "al\xef\xbf\xbdice"}}),
            nullptr);
  EXPECT_EQ(find(all, "vigie_node_energy_joules_total", {{"zone", "dram"}}), nullptr);
  EXPECT_EQ(builder.invalid(), 1u);
}

TEST(RemoteWriteSeries, IdleSeriesAreForgotten) {
  SeriesOptions options;
  options.idle_timeout = std::chrono::seconds(120);
  SeriesBuilder builder(options);
  builder.build(sample_batch(1, "node1"), kBaseNs);
  const auto count = builder.series_count();
  builder.build(sample_batch(1, "node2"), kBaseNs + 60 * kSecondNs);
  EXPECT_EQ(builder.series_count(), 2 * count);
  builder.build(sample_batch(2, "node2"), kBaseNs + 200 * kSecondNs);
  EXPECT_EQ(builder.series_count(), count);  // node1's are gone, node2's kept
}

EndpointConfig endpoint_at(const std::string& url) {
  EndpointConfig config;
  config.url = url + "/api/v1/write";
  config.min_backoff = std::chrono::milliseconds(5);
  config.max_backoff = std::chrono::milliseconds(20);
  return config;
}

std::size_t samples_in(const ReceivedRequest& request) {
  const auto series = decode_write_request(request.body);
  EXPECT_TRUE(series) << series.error();
  std::size_t n = 0;
  for (const auto& s : series.value_or(std::vector<TimeSeries>{})) n += s.samples.size();
  return n;
}

TEST(RemoteWriteSender, SpecHeadersAndBearerToken) {
  HttpReceiver receiver;
  TempDir dir;
  std::ofstream(dir.path() / "token") << "s3cret\n";
  auto config = endpoint_at(receiver.url());
  config.bearer_token_file = (dir.path() / "token").string();
  ::prometheus::Registry registry;
  Writer writer({config}, registry);
  writer.on_stored(sample_batch(1), kBaseNs);
  ASSERT_TRUE(writer.flush(std::chrono::seconds(20)));
  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/api/v1/write");
  EXPECT_EQ(r.headers.at("content-encoding"), "snappy");
  EXPECT_EQ(r.headers.at("content-type"), "application/x-protobuf");
  EXPECT_EQ(r.headers.at("x-prometheus-remote-write-version"), "0.1.0");
  EXPECT_EQ(r.headers.at("user-agent").rfind("vigie-collector/", 0), 0u);
  EXPECT_EQ(r.headers.at("authorization"), "Bearer s3cret");
  const auto stats = writer.stats(0);
  EXPECT_EQ(stats.sent, samples_in(r));
  EXPECT_GT(stats.sent, 10u);
  EXPECT_EQ(stats.failed + stats.retried + stats.dropped + stats.queued, 0u);
}

TEST(RemoteWriteSender, BasicAuth) {
  HttpReceiver receiver;
  TempDir dir;
  std::ofstream(dir.path() / "password") << "pa:ss";
  auto config = endpoint_at(receiver.url());
  config.basic_auth_username = "vigie";
  config.basic_auth_password_file = (dir.path() / "password").string();
  ::prometheus::Registry registry;
  Writer writer({config}, registry);
  writer.on_stored(sample_batch(1), kBaseNs);
  ASSERT_TRUE(writer.flush(std::chrono::seconds(20)));
  ASSERT_EQ(receiver.requests().size(), 1u);
  EXPECT_EQ(receiver.requests()[0].headers.at("authorization"), "Basic dmlnaWU6cGE6c3M=");
}

TEST(RemoteWriteSender, FiveHundredsAnd429AreRetriedUntilAccepted) {
  // 503, then 429, then 500, then accepted.
  HttpReceiver receiver([](std::size_t n) {
    return n == 0 ? 503 : n == 1 ? 429 : n == 2 ? 500 : 200;
  });
  ::prometheus::Registry registry;
  Writer writer({endpoint_at(receiver.url())}, registry);
  writer.on_stored(sample_batch(1), kBaseNs);
  ASSERT_TRUE(writer.flush(std::chrono::seconds(30)));
  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 4u);
  for (const auto& r : requests) EXPECT_EQ(r.body, requests[0].body) << "the same request resent";
  const auto n = samples_in(requests[0]);
  const auto stats = writer.stats(0);
  EXPECT_EQ(stats.sent, n);
  EXPECT_EQ(stats.retried, 3 * n);
  EXPECT_EQ(stats.failed + stats.dropped, 0u);
}

TEST(RemoteWriteSender, FourHundredsAreDroppedAndCountedNeverRetried) {
  HttpReceiver receiver([](std::size_t n) { return n == 0 ? 400 : 200; });
  ::prometheus::Registry registry;
  Writer writer({endpoint_at(receiver.url())}, registry);
  writer.on_stored(sample_batch(1), kBaseNs);
  ASSERT_TRUE(writer.flush(std::chrono::seconds(20)));
  const auto n = samples_in(receiver.requests().at(0));
  // The next batch goes out as its own request: the refused one is not in it.
  writer.on_stored(sample_batch(2, "node1", kBaseNs + 10 * kSecondNs), kBaseNs);
  ASSERT_TRUE(writer.flush(std::chrono::seconds(20)));
  const auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[1].body, requests[0].body);
  const auto stats = writer.stats(0);
  EXPECT_EQ(stats.failed, n);
  EXPECT_EQ(stats.retried, 0u);
  EXPECT_EQ(stats.sent, samples_in(requests[1]));
}

TEST(RemoteWriteSender, BoundedQueueDropsOldestAndCountsIt) {
  // Nothing listens on this port: every request is retried, the queue fills.
  uint16_t port = 0;
  {
    HttpReceiver probe;
    port = probe.port();
  }
  auto config = endpoint_at("http://127.0.0.1:" + std::to_string(port));
  config.queue_capacity_samples = 50;
  ::prometheus::Registry registry;
  auto writer = std::make_unique<Writer>(std::vector<EndpointConfig>{config}, registry);
  for (uint64_t i = 1; i <= 20; ++i)
    writer->on_stored(sample_batch(i, "node1", kBaseNs + i * 10 * kSecondNs), kBaseNs);
  const auto stats = writer->stats(0);
  EXPECT_LE(stats.queued, 50u);
  EXPECT_GT(stats.dropped, 0u);
  EXPECT_EQ(stats.sent, 0u);
  EXPECT_FALSE(writer->flush(std::chrono::milliseconds(200)));
}

TEST(RemoteWriteSender, ConfigErrorsAreClear) {
  ::prometheus::Registry registry;
  auto config = endpoint_at("http://127.0.0.1:9");
  config.url = "http://user:pw@127.0.0.1:9/api/v1/write";
  EXPECT_THROW(Writer({config}, registry), std::invalid_argument);
  config.url = "http://127.0.0.1:9/api/v1/write";
  config.bearer_token_file = "/nonexistent/token";
  EXPECT_THROW(Writer({config}, registry), std::invalid_argument);
}

TEST(RemoteWriteConfig, ParsedFromTheCollectorsYaml) {
  TempDir dir;
  const auto path = (dir.path() / "collector.yaml").string();
  std::ofstream(path) << R"(
remote_write:
  - url: http://127.0.0.1:9090/api/v1/write
    name: prometheus
    bearer_token_file: /etc/vigie/rw.token
    timeout_seconds: 5
    queue: {capacity_samples: 1000, max_samples_per_send: 100, min_backoff_ms: 10, max_backoff_ms: 100}
    series: {agent_health: false, workload_labels: [job_id], idle_timeout_seconds: 600}
    external_labels: {collector: site-a-1}
  - url: http://127.0.0.1:8428/api/v1/write
)";
  const auto config = load_config(path);
  ASSERT_EQ(config.remote_write.size(), 2u);
  const auto& p = config.remote_write[0];
  EXPECT_EQ(p.name, "prometheus");
  EXPECT_EQ(p.bearer_token_file, "/etc/vigie/rw.token");
  EXPECT_EQ(p.timeout, std::chrono::seconds(5));
  EXPECT_EQ(p.queue_capacity_samples, 1000u);
  EXPECT_EQ(p.max_samples_per_send, 100u);
  EXPECT_FALSE(p.series.agent_health);
  EXPECT_EQ(p.series.workload_labels, std::vector<std::string>{"job_id"});
  EXPECT_EQ(p.series.external_labels,
            (std::vector<std::pair<std::string, std::string>>{{"collector", "site-a-1"}}));
  EXPECT_EQ(config.remote_write[1].url, "http://127.0.0.1:8428/api/v1/write");
  EXPECT_EQ(config.remote_write[1].series.workload_labels.size(), 3u);

  for (const char* bad :
       {"remote_write: {url: http://x:1/}", "remote_write: [{url: http://x:1/, colour: red}]",
        "remote_write: [{url: ftp://x:1/}]",
        "remote_write: [{url: http://x:1/, series: {workload_labels: [pid]}}]",
        "remote_write: [{url: http://x:1/, external_labels: {__x: y}}]"}) {
    std::ofstream(path) << bad;
    EXPECT_THROW(load_config(path), std::runtime_error) << bad;
  }
}

}  // namespace
}  // namespace vigie::collector::remote_write
