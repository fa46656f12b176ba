// Collector ingest: simulated agents on loopback POST real vigie.v1 batches
// (protobuf + zstd, the agents' own HTTP client, concurrently) to a real
// collector (Server + Handler + Store in this process), and every batch is
// acknowledged only once durable. Measured in the same run:
//  a. energy samples/s (one ZoneEnergy or WorkloadEnergy row = one sample)
//     and events/s stored with SQLite and with PostgreSQL (a private
//     cluster, fsync on), and VictoriaMetrics (/usr/bin/victoria-metrics on
//     loopback, a temp -storageDataPath) ingesting the same samples through
//     remote_write 1.0 (one series sample per row, protobuf + snappy,
//     remote_write::encode_write_request) from the same number of clients;
//     the ratios Vigie / VictoriaMetrics. VictoriaMetrics acknowledges once
//     a sample is in its in-memory buffer (it flushes to disk every second),
//     Vigie once its transaction is on disk: the comparison favours
//     VictoriaMetrics. Its count of samples is read back to check them.
//  b. events/s with SQLite against the 200,000/s target.
//  c. ingest latency at 5,000 agents each sending every 10 s (500 batches/s,
//     open loop: latency runs from when a batch was due, so a slow collector
//     cannot hide queueing), p50/p99/max against the 50 ms target and
//     against the same schedule on a store that writes nothing (the HTTP,
//     decoding and scheduling cost alone).
// Nothing is asserted about time; a batch that is not stored (after 429
// retries) aborts the run. Figures are noisy on shared machines: read the
// ratios.
//
// Usage: collector_ingest_bench [key=value...]
//   samples=400000 events=400000 events_per_batch=1000 clients=32 threads=48
//   agents=5000 period_s=10 latency_s=15 postgres=1 victoriametrics=1
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http/handler.h"
#include "http/server.h"
#include "metrics.h"
#include "remote_write/remote_write.h"
#include "storage/postgres_store.h"
#include "storage/sqlite_store.h"
#include "support/postgres_instance.h"
#include "support/processes.h"
#include "support/sample_batch.h"
#include "vigie/collector/config.h"
#include "vigie/protocol/codec.h"
#include "vigie/protocol/http_client.h"

namespace fs = std::filesystem;
using namespace vigie;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kToken = "bench-agent-token";
constexpr uint64_t kSecondNs = 1'000'000'000ull;

struct Options {
  std::size_t samples = 400'000;
  std::size_t events = 400'000;
  std::size_t events_per_batch = 1000;
  unsigned clients = 32;
  unsigned threads = 48;
  std::size_t agents = 5000;
  double period_s = 10;
  double latency_s = 15;
  bool postgres = true;
  bool victoriametrics = true;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto eq = arg.find('=');
    if (eq == std::string::npos) throw std::runtime_error("expected key=value, got " + arg);
    const std::string key = arg.substr(0, eq);
    const double value = std::stod(arg.substr(eq + 1));
    if (key == "samples")
      o.samples = static_cast<std::size_t>(value);
    else if (key == "events")
      o.events = static_cast<std::size_t>(value);
    else if (key == "events_per_batch")
      o.events_per_batch = static_cast<std::size_t>(value);
    else if (key == "clients")
      o.clients = static_cast<unsigned>(value);
    else if (key == "threads")
      o.threads = static_cast<unsigned>(value);
    else if (key == "agents")
      o.agents = static_cast<std::size_t>(value);
    else if (key == "period_s")
      o.period_s = value;
    else if (key == "latency_s")
      o.latency_s = value;
    else if (key == "postgres")
      o.postgres = value != 0;
    else if (key == "victoriametrics")
      o.victoriametrics = value != 0;
    else
      throw std::runtime_error("unknown parameter " + key);
  }
  if (o.clients == 0 || o.threads == 0 || o.agents == 0 || o.events_per_batch == 0)
    throw std::runtime_error("clients, threads, agents and events_per_batch must be > 0");
  return o;
}

uint64_t wall_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// CPU seconds (user + system) this process has used, every thread.
double process_cpu_s() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// CPU seconds another process has used (/proc/<pid>/stat utime + stime).
double other_cpu_s(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string host_name(std::size_t i) { return "node" + std::to_string(i); }

// ---- What agents send ------------------------------------------------------

protocol::Batch empty_batch(std::size_t host, uint64_t sequence, uint64_t end_ns) {
  protocol::Batch batch;
  batch.host = host_name(host);
  batch.agent_id = "agent-" + batch.host;
  batch.site = "site-a";
  batch.sequence = sequence;
  batch.sent_ns = end_ns;
  batch.status = {0, 1000 * sequence, 0, "core-1.0"};
  batch.status.ringbuf_size_bytes = 8u << 20;
  return batch;
}

// `intervals` 1 s sampling intervals ending at `end_ns`, each with `zones`
// RAPL zones and `workloads` Slurm jobs (plus none unattributed): what the
// power sampler sends.
void add_energy(protocol::Batch& batch, std::size_t intervals, std::size_t zones,
                std::size_t workloads, uint64_t end_ns) {
  static const char* const kZones[] = {"package-0", "package-0/core", "package-0/dram",
                                       "package-1", "package-1/core", "package-1/dram"};
  for (std::size_t i = 0; i < intervals; ++i) {
    const uint64_t end = end_ns - (intervals - 1 - i) * kSecondNs, start = end - kSecondNs;
    for (std::size_t z = 0; z < zones; ++z) {
      const std::string name = z < std::size(kZones) ? kZones[z] : "zone-" + std::to_string(z);
      batch.zone_energy.push_back({start, end, name, protocol::EnergySource::kRapl, false,
                                   40.0 + static_cast<double>(z + i % 7),
                                   name.find('/') == std::string::npos});
    }
    for (std::size_t w = 0; w < workloads; ++w) {
      protocol::WorkloadEnergy energy;
      energy.start_ns = start;
      energy.end_ns = end;
      const std::string job = std::to_string(100000 + batch.sequence % 50 * 100 + w);
      energy.workload = {protocol::WorkloadKind::kSlurmJob, job, "user" + std::to_string(w % 40),
                         "/slurm/uid_" + std::to_string(1000 + w % 40) + "/job_" + job};
      energy.workload.account = "project" + std::to_string(w % 12);
      energy.cpu_seconds = 0.9;
      energy.cpu_joules = 3.0 + static_cast<double>(w % 5);
      energy.dram_joules = 0.4;
      energy.idle_joules = 1.1;
      energy.energy_joules = energy.cpu_joules + energy.dram_joules + energy.idle_joules;
      energy.carbon_gco2e = energy.energy_joules * 1.2 * 52 / 3.6e6;
      batch.workload_energy.push_back(std::move(energy));
    }
  }
}

// `count` events spread over the 10 s before `end_ns`: execs with their
// ancestry, connects, exits and a few watched file opens, as the sensor
// sends them.
void add_events(protocol::Batch& batch, std::size_t count, uint64_t end_ns) {
  for (std::size_t i = 0; i < count; ++i) {
    protocol::Event event;
    event.time_ns = end_ns - 10 * kSecondNs + i * (10 * kSecondNs / (count + 1));
    event.site = batch.site;
    event.host = batch.host;
    event.pid = static_cast<uint32_t>(10000 + (batch.sequence * count + i) % 50000);
    event.ppid = event.pid - 1;
    event.uid = event.gid = 1000 + static_cast<uint32_t>(i % 40);
    event.user = "user" + std::to_string(i % 40);
    event.cgroup_id = 5000 + i % 16;
    const std::string job = std::to_string(100000 + i % 16);
    event.workload = {protocol::WorkloadKind::kSlurmJob, job, event.user,
                      "/slurm/uid_" + std::to_string(event.uid) + "/job_" + job + "/step_0"};
    switch (i % 20) {
      case 0 ... 7: {
        const std::string input = "/scratch/" + event.user + "/run" + std::to_string(i) + ".dat";
        event.body = protocol::ProcessExec{
            "/usr/bin/python3",
            {"python3", "/home/" + event.user + "/analysis.py", "--input", input, "--threads", "8"},
            false,
            "python3 /home/" + event.user + "/analysis.py --input " + input + " --threads 8",
            "/bin/bash",
            "bash /var/spool/slurmd/job" + job + "/slurm_script",
            "/home/" + event.user,
            "",
            0,
            {{event.ppid, event.time_ns - 1000, "/bin/bash", "bash slurm_script"},
             {event.ppid - 1, event.time_ns - 5000, "/usr/sbin/slurmstepd", "slurmstepd"}}};
        break;
      }
      case 8 ... 13:
        event.body = protocol::NetworkConnect{
            protocol::Transport::kTcp, false, "10.1." + std::to_string(i % 200) + ".7",
            static_cast<uint16_t>(i % 2 ? 443 : 5432), "/usr/bin/python3"};
        break;
      case 14 ... 18:
        event.body = protocol::ProcessExit{0, 0, "/usr/bin/python3", 1'500'000 + i, 250'000};
        break;
      default:
        event.body =
            protocol::FileOpen{"/etc/ssh/sshd_config", 0, false, false, false, "/usr/bin/cat", 0};
        break;
    }
    batch.events.push_back(std::move(event));
  }
}

struct Body {
  std::string vigie;         // vigie.v1, zstd
  std::string remote_write;  // the same samples, remote_write 1.0 (energy bodies only)
  std::size_t samples = 0;
  std::size_t events = 0;
};

// One remote_write sample per ZoneEnergy and WorkloadEnergy row, at the
// interval's end.
std::string remote_write_of(const protocol::Batch& batch) {
  std::vector<collector::remote_write::TimeSeries> out;
  std::map<std::string, std::size_t> index;  // by the labels' values
  auto add = [&](std::vector<collector::remote_write::Label> labels, double value,
                 uint64_t end_ns) {
    std::string key;
    for (const auto& label : labels) key += label.value + '\0';
    auto [it, fresh] = index.emplace(std::move(key), out.size());
    if (fresh) out.push_back({std::move(labels), {}});
    out[it->second].samples.push_back({value, static_cast<int64_t>(end_ns / 1'000'000)});
  };
  for (const auto& zone : batch.zone_energy) {
    add({{"__name__", "vigie_bench_zone_energy_joules"},
         {"site", batch.site},
         {"host", batch.host},
         {"zone", zone.zone},
         {"source", "rapl"}},
        zone.energy_joules, zone.end_ns);
  }
  for (const auto& energy : batch.workload_energy) {
    add({{"__name__", "vigie_bench_workload_energy_joules"},
         {"site", batch.site},
         {"host", batch.host},
         {"job_id", energy.workload.id},
         {"user", energy.workload.user},
         {"account", energy.workload.account}},
        energy.energy_joules, energy.end_ns);
  }
  return collector::remote_write::encode_write_request(out);
}

// Energy batches of `per_batch` = intervals x (zones + workloads) samples
// from `hosts` agents, the newest ending about now, until `total` samples.
std::vector<Body> energy_bodies(std::size_t total, std::size_t hosts, uint64_t now_ns) {
  constexpr std::size_t kIntervals = 10, kZones = 4, kWorkloads = 21;
  const std::size_t per_batch = kIntervals * (kZones + kWorkloads);
  const std::size_t batches = (total + per_batch - 1) / per_batch;
  const std::size_t rounds = (batches + hosts - 1) / hosts;
  std::vector<Body> bodies;
  for (std::size_t b = 0; b < batches; ++b) {
    const std::size_t host = b % hosts, round = b / hosts;
    const uint64_t end = now_ns - (rounds - round) * kIntervals * kSecondNs;
    auto batch = empty_batch(host, round + 1, end);
    add_energy(batch, kIntervals, kZones, kWorkloads, end);
    bodies.push_back({protocol::encode_batch(batch), remote_write_of(batch),
                      batch.zone_energy.size() + batch.workload_energy.size(), 0});
  }
  return bodies;
}

std::vector<Body> event_bodies(std::size_t total, std::size_t per_batch, std::size_t hosts,
                               uint64_t now_ns) {
  const std::size_t batches = (total + per_batch - 1) / per_batch;
  std::vector<Body> bodies;
  for (std::size_t b = 0; b < batches; ++b) {
    // Sequences after the energy batches' (the same agents, later).
    auto batch = empty_batch(b % hosts, 1'000'000 + b / hosts, now_ns);
    add_events(batch, per_batch, now_ns);
    bodies.push_back({protocol::encode_batch(batch), {}, 0, batch.events.size()});
  }
  return bodies;
}

// ---- Collectors and clients ------------------------------------------------

protocol::HttpRequest ingest_request(const std::string& body) {
  protocol::HttpRequest request;
  request.method = "POST";
  request.target = "/api/v1/ingest";
  request.headers = {{"Authorization", std::string("Bearer ") + kToken},
                     {"Content-Type", std::string(protocol::kContentType)},
                     {"Content-Encoding", std::string(protocol::kContentEncoding)}};
  request.body = body;
  return request;
}

protocol::HttpRequest remote_write_request(const std::string& body) {
  protocol::HttpRequest request;
  request.method = "POST";
  request.target = "/api/v1/write";
  request.headers = {{"Content-Type", "application/x-protobuf"},
                     {"Content-Encoding", "snappy"},
                     {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
  request.body = body;
  return request;
}

// A collector on 127.0.0.1 over `store`.
class Collector {
 public:
  Collector(collector::Store& store, const Options& options) {
    config_.listen_address = "127.0.0.1";
    config_.port = 0;
    config_.threads = options.threads;
    config_.max_pending_batches = std::max(1u, options.threads - 4);
    config_.max_connections = 100000;
    config_.body_limit_bytes = 64u << 20;
    config_.agent_tokens = {{collector::sha256(kToken), "", "", true}};
    handler_ = std::make_unique<collector::Handler>(config_, store, metrics_);
    server_ = std::make_unique<collector::Server>(config_, *handler_);
    server_->start();
    endpoint_.host = "127.0.0.1";
    endpoint_.port = std::to_string(server_->port());
  }
  const protocol::Endpoint& endpoint() const { return endpoint_; }

 private:
  collector::Config config_;
  collector::Metrics metrics_;
  std::unique_ptr<collector::Handler> handler_;
  std::unique_ptr<collector::Server> server_;
  protocol::Endpoint endpoint_;
};

struct Run {
  double seconds = 0;
  uint64_t retried = 0;  // 429, 5xx or transport errors, each resent
  double cpu_s = 0;      // this process's CPU time meanwhile (collector and clients)
};

// POSTs every body with `clients` concurrent clients; each body is resent
// (after 10 ms) until 2xx, up to 100 times, then the run aborts.
Run send_all(const protocol::Endpoint& endpoint, const std::vector<Body>& bodies, bool vigie,
             unsigned clients) {
  std::atomic<std::size_t> next{0};
  std::atomic<uint64_t> retried{0};
  std::mutex failure_mutex;
  std::string failure;
  const auto start = Clock::now();
  const double cpu_start = process_cpu_s();
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      for (std::size_t i; (i = next++) < bodies.size();) {
        const auto request =
            vigie ? ingest_request(bodies[i].vigie) : remote_write_request(bodies[i].remote_write);
        for (int attempt = 0;; ++attempt) {
          const auto response = protocol::send(endpoint, request, std::chrono::seconds(60));
          if (response.ok() && (!vigie || response.body.find("\"stored\"") != std::string::npos))
            break;
          const bool retry =
              response.status == 0 || response.status == 429 || response.status >= 500;
          if (!retry || attempt == 100) {
            std::lock_guard lock(failure_mutex);
            failure = "batch " + std::to_string(i) + ": HTTP " + std::to_string(response.status) +
                      " " + response.error + response.body.substr(0, 300);
            next = bodies.size();
            return;
          }
          ++retried;
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  if (!failure.empty()) throw std::runtime_error(failure);
  return {std::chrono::duration<double>(Clock::now() - start).count(), retried,
          process_cpu_s() - cpu_start};
}

int64_t sqlite_count(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* statement = nullptr;
  int64_t value = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK &&
      sqlite3_step(statement) == SQLITE_ROW)
    value = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return value;
}

constexpr const char* kCountSamples =
    "SELECT (SELECT COUNT(*) FROM zone_energy) + (SELECT COUNT(*) FROM workload_energy)";
constexpr const char* kCountEvents = "SELECT COUNT(*) FROM events";

void check_count(const char* what, int64_t stored, std::size_t expected) {
  if (stored != static_cast<int64_t>(expected))
    throw std::runtime_error(std::string(what) + ": " + std::to_string(stored) +
                             " rows stored, expected " + std::to_string(expected));
}

std::size_t total_samples(const std::vector<Body>& bodies) {
  std::size_t n = 0;
  for (const auto& body : bodies) n += body.samples;
  return n;
}
std::size_t total_events(const std::vector<Body>& bodies) {
  std::size_t n = 0;
  for (const auto& body : bodies) n += body.events;
  return n;
}

struct Throughput {
  double samples_per_s = 0;
  double events_per_s = 0;
  double samples_per_cpu_s = 0;  // per CPU second of the server and its clients
  double events_per_cpu_s = 0;
};

// One line: rate per wall second and per CPU second, and what it took.
void print_rate(const char* backend, const char* unit, std::size_t count, const Run& run,
                const std::string& detail) {
  std::printf("%-16s %10.0f %s/s %10.0f per CPU-s  (%zu in %.2f s, %.2f CPU-s, %llu retried%s)\n",
              backend, count / run.seconds, unit, count / std::max(1e-9, run.cpu_s), count,
              run.seconds, run.cpu_s, static_cast<unsigned long long>(run.retried), detail.c_str());
}

Throughput throughput(const std::vector<Body>& energy, const Run& samples,
                      const std::vector<Body>& events, const Run& stored_events) {
  return {total_samples(energy) / samples.seconds, total_events(events) / stored_events.seconds,
          total_samples(energy) / std::max(1e-9, samples.cpu_s),
          total_events(events) / std::max(1e-9, stored_events.cpu_s)};
}

std::string per_commit(const collector::SqliteStore::WriteQueueStats& before,
                       const collector::SqliteStore::WriteQueueStats& after) {
  char text[64];
  std::snprintf(
      text, sizeof(text), "; %.1f batches per commit",
      static_cast<double>(after.batches_committed - before.batches_committed) /
          std::max<uint64_t>(1, after.transactions_committed - before.transactions_committed));
  return text;
}

// ---- a. and b. ---------------------------------------------------------------

Throughput run_sqlite(const Options& options, const std::vector<Body>& energy,
                      const std::vector<Body>& events) {
  collector::testing::TempDir dir;
  const std::string path = (dir.path() / "collector.db").string();
  collector::SqliteStore store(path);
  Collector collector(store, options);
  const auto start = store.write_queue_stats();
  const Run samples = send_all(collector.endpoint(), energy, true, options.clients);
  check_count("SQLite samples", sqlite_count(path, kCountSamples), total_samples(energy));
  const auto after_samples = store.write_queue_stats();
  const Run stored_events = send_all(collector.endpoint(), events, true, options.clients);
  check_count("SQLite events", sqlite_count(path, kCountEvents), total_events(events));
  print_rate("SQLite:", "samples", total_samples(energy), samples,
             per_commit(start, after_samples));
  print_rate("", "events ", total_events(events), stored_events,
             per_commit(after_samples, store.write_queue_stats()));
  return throughput(energy, samples, events, stored_events);
}

// PostgreSQL's CPU is in its own processes: the per CPU-s figures count the
// collector's and clients' only.
std::optional<Throughput> run_postgres(const Options& options, const std::vector<Body>& energy,
                                       const std::vector<Body>& events) {
  collector::testing::PostgresInstance pg;
  const std::string url = pg.create_database("vigie_bench");
  collector::PostgresStore store(url, options.clients);
  Collector collector(store, options);
  const Run samples = send_all(collector.endpoint(), energy, true, options.clients);
  check_count("PostgreSQL samples", std::stoll(pg.exec(url, kCountSamples)), total_samples(energy));
  const Run stored_events = send_all(collector.endpoint(), events, true, options.clients);
  check_count("PostgreSQL events", std::stoll(pg.exec(url, kCountEvents)), total_events(events));
  const std::string detail =
      "; synchronous_commit " + pg.exec(url, "SHOW synchronous_commit") + ", collector CPU only";
  print_rate("PostgreSQL:", "samples", total_samples(energy), samples, detail);
  print_rate("", "events ", total_events(events), stored_events, detail);
  return throughput(energy, samples, events, stored_events);
}

// VictoriaMetrics on loopback, started here, stopped at destruction.
class VictoriaMetrics {
 public:
  VictoriaMetrics() {
    const char* binary = "/usr/bin/victoria-metrics";
    if (!fs::exists(binary))
      throw std::runtime_error(std::string(binary) +
                               " not found: install the Debian package victoria-metrics");
    port_ = integration::free_port();
    pid_ = integration::spawn({binary, "-storageDataPath=" + (dir_.path() / "data").string(),
                               "-httpListenAddr=127.0.0.1:" + std::to_string(port_),
                               "-retentionPeriod=100y", "-loggerLevel=ERROR"},
                              dir_.path() / "victoria-metrics.log");
    endpoint_.host = "127.0.0.1";
    endpoint_.port = std::to_string(port_);
    const bool up = integration::eventually([&] { return get("/health").status == 200; },
                                            std::chrono::seconds(30));
    if (!up)
      throw std::runtime_error("VictoriaMetrics did not start: " +
                               integration::read_file(dir_.path() / "victoria-metrics.log"));
  }
  ~VictoriaMetrics() { integration::stop(pid_); }
  VictoriaMetrics(const VictoriaMetrics&) = delete;
  VictoriaMetrics& operator=(const VictoriaMetrics&) = delete;

  const protocol::Endpoint& endpoint() const { return endpoint_; }
  pid_t pid() const { return pid_; }
  protocol::HttpResponse get(const std::string& target) const {
    protocol::HttpRequest request;
    request.target = target;
    return protocol::send(endpoint_, request, std::chrono::seconds(30));
  }

 private:
  collector::testing::TempDir dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  protocol::Endpoint endpoint_;
};

// Samples/s, and samples per CPU second of VictoriaMetrics and the clients.
std::pair<double, double> run_victoriametrics(const Options& options,
                                              const std::vector<Body>& energy) {
  VictoriaMetrics vm;
  const double vm_cpu_start = other_cpu_s(vm.pid());
  Run run = send_all(vm.endpoint(), energy, false, options.clients);
  run.cpu_s += other_cpu_s(vm.pid()) - vm_cpu_start;
  // Read back: every sample is there once flushed.
  vm.get("/internal/force_flush");
  const std::string query =
      "/api/v1/query?query=sum(count_over_time(%7B__name__%3D~%22vigie_bench_.*%22%7D%5B1d%5D))";
  std::string count;
  integration::eventually(
      [&] {
        const auto body = nlohmann::json::parse(vm.get(query).body, nullptr, false);
        const auto* result = body.is_object() ? &body["data"]["result"] : nullptr;
        count = result && result->is_array() && !result->empty()
                    ? (*result)[0]["value"][1].get<std::string>()
                    : "0";
        return count == std::to_string(total_samples(energy));
      },
      std::chrono::seconds(20));
  print_rate("VictoriaMetrics:", "samples", total_samples(energy), run,
             "; " + count + " read back");
  if (count != std::to_string(total_samples(energy)))
    throw std::runtime_error("VictoriaMetrics holds " + count + " samples, expected " +
                             std::to_string(total_samples(energy)));
  return {total_samples(energy) / run.seconds, total_samples(energy) / std::max(1e-9, run.cpu_s)};
}

// ---- c. Latency ---------------------------------------------------------------

// A store that keeps nothing: the latency baseline.
class NullStore final : public collector::Store {
 public:
  collector::StoreOutcome store_batch(const protocol::Batch&, uint64_t) override {
    return {collector::StoreOutcome::Status::kStored, {}};
  }
  std::vector<collector::StoredAlert> alerts(const collector::AlertQuery&) override { return {}; }
  std::vector<protocol::Event> events(const collector::EventQuery&) override { return {}; }
  collector::EnergyReport energy(const collector::EnergyQuery&) override { return {}; }
  std::vector<collector::AgentRecord> agents() override { return {}; }
  std::optional<collector::JobFootprint> job_footprint(const std::string&) override { return {}; }
  void store_alerts(const std::string&, const std::string&, const std::string&,
                    const std::vector<protocol::Alert>&, uint64_t) override {}
  collector::RetentionOutcome apply_retention(const collector::RetentionPolicy&,
                                              uint64_t) override {
    return {};
  }
  csirt::CsirtStore* csirt_store() override { return nullptr; }
  void set_indicator_matcher(std::shared_ptr<const csirt::IndicatorMatcher>) override {}
};

struct Latency {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double achieved_per_s = 0;
  uint64_t refused = 0;  // 429 answers (each batch then resent after Retry-After)
};

// What one agent sends every 10 s: 10 one-second intervals of 3 RAPL zones
// and 4 workloads (70 samples), 30 events, its status.
std::vector<std::string> agent_bodies(const Options& options, std::size_t count, uint64_t now_ns) {
  std::vector<std::string> bodies;
  bodies.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto batch = empty_batch(i % options.agents, 2'000'000 + i / options.agents, now_ns);
    add_energy(batch, 10, 3, 4, now_ns);
    add_events(batch, 30, now_ns);
    bodies.push_back(protocol::encode_batch(batch));
  }
  return bodies;
}

Latency run_latency(const Options& options, collector::Store& store,
                    const std::vector<std::string>& bodies) {
  Collector collector(store, options);
  const double interval_s = options.period_s / static_cast<double>(options.agents);
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval_s));
  std::vector<double> latencies(bodies.size());
  std::atomic<std::size_t> next{0};
  std::atomic<uint64_t> refused{0};
  std::mutex failure_mutex;
  std::string failure;
  // Enough senders that one always waits for the next due batch.
  const unsigned senders = 256;
  const auto start = Clock::now() + std::chrono::milliseconds(100);
  std::vector<std::thread> threads;
  for (unsigned s = 0; s < senders; ++s) {
    threads.emplace_back([&] {
      for (std::size_t i; (i = next++) < bodies.size();) {
        const auto due = start + interval * static_cast<long>(i);
        std::this_thread::sleep_until(due);
        const auto request = ingest_request(bodies[i]);
        for (int attempt = 0;; ++attempt) {
          const auto response =
              protocol::send(collector.endpoint(), request, std::chrono::seconds(60));
          if (response.ok()) break;
          if (response.status != 429 || attempt == 300) {
            std::lock_guard lock(failure_mutex);
            failure = "HTTP " + std::to_string(response.status) + " " + response.error +
                      response.body.substr(0, 300);
            next = bodies.size();
            return;
          }
          ++refused;
          std::this_thread::sleep_for(std::chrono::seconds(1));  // Retry-After: 1
        }
        latencies[i] = std::chrono::duration<double, std::milli>(Clock::now() - due).count();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  if (!failure.empty()) throw std::runtime_error("latency run: " + failure);
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double q) {
    return latencies[std::min(latencies.size() - 1,
                              static_cast<std::size_t>(std::ceil(q * latencies.size())) - 1)];
  };
  return {at(0.5), at(0.99), latencies.back(), bodies.size() / elapsed, refused};
}

void print_latency(const char* name, const Latency& l) {
  std::printf(
      "%-17s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (%.0f batches/s achieved, %llu "
      "answered 429)\n",
      name, l.p50_ms, l.p99_ms, l.max_ms, l.achieved_per_s,
      static_cast<unsigned long long>(l.refused));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse(argc, argv);
    const uint64_t now = wall_ns();
    const auto energy = energy_bodies(options.samples, 1000, now);
    const auto events = event_bodies(options.events, options.events_per_batch, 1000, now);
    std::printf(
        "collector ingest: %zu energy samples in %zu batches, %zu events in %zu batches, %u "
        "clients, %u collector threads, %u cores\n",
        total_samples(energy), energy.size(), total_events(events), events.size(), options.clients,
        options.threads, std::thread::hardware_concurrency());

    std::printf("\na. Durably stored, every batch acknowledged once on disk:\n");
    const Throughput sqlite = run_sqlite(options, energy, events);
    std::optional<Throughput> postgres;
    if (options.postgres) postgres = run_postgres(options, energy, events);
    std::pair<double, double> vm{0, 0};
    if (options.victoriametrics) vm = run_victoriametrics(options, energy);
    if (vm.first > 0) {
      std::printf("ratio samples/s vs VictoriaMetrics: SQLite %.2f (per CPU-s %.2f)",
                  sqlite.samples_per_s / vm.first, sqlite.samples_per_cpu_s / vm.second);
      if (postgres) std::printf(", PostgreSQL %.2f", postgres->samples_per_s / vm.first);
      std::printf("  (target >= 1)\n");
    }

    std::printf(
        "\nb. Events/s durably stored with SQLite: %.0f (%.2f x the 200,000/s target); %.0f "
        "per CPU-s of collector and clients\n",
        sqlite.events_per_s, sqlite.events_per_s / 200'000, sqlite.events_per_cpu_s);

    const auto count =
        static_cast<std::size_t>(options.latency_s * options.agents / options.period_s);
    std::printf(
        "\nc. Ingest latency, %zu agents each sending every %.0f s (%.0f batches/s, %zu "
        "batches of 70 samples + 30 events):\n",
        options.agents, options.period_s, options.agents / options.period_s, count);
    const auto bodies = agent_bodies(options, count, wall_ns());
    NullStore null_store;
    const Latency baseline = run_latency(options, null_store, bodies);
    print_latency("no store:", baseline);
    collector::testing::TempDir dir;
    collector::SqliteStore store((dir.path() / "collector.db").string());
    const Latency sqlite_latency = run_latency(options, store, bodies);
    print_latency("SQLite:", sqlite_latency);
    const auto stats = store.write_queue_stats();
    std::printf(
        "SQLite p99 %.2f ms = %.2f x the 50 ms target, %.2f x the no-store p99; %.1f "
        "batches per commit\n",
        sqlite_latency.p99_ms, sqlite_latency.p99_ms / 50,
        sqlite_latency.p99_ms / std::max(0.001, baseline.p99_ms),
        static_cast<double>(stats.batches_committed) /
            std::max<uint64_t>(1, stats.transactions_committed));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "collector_ingest_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
