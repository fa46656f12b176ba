// Scale-out (DESIGN "Storage and scale"): two real vigie-collector processes
// on one real PostgreSQL database, and an agent's uplink configured with both.
// One collector is killed with SIGKILL mid-stream; every event must be stored
// exactly once, counted by a unique marker per event in the shared database.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/exposition.h"
#include "support/postgres_instance.h"
#include "support/processes.h"
#include "vigie/protocol/codec.h"
#include "vigie/protocol/http_client.h"
#include "vigie/uplink/uplink.h"

namespace {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using vigie::collector::testing::PostgresInstance;
using vigie::integration::eventually;
using vigie::integration::free_port;
using vigie::integration::read_file;
using vigie::integration::spawn;
using vigie::integration::write_file;
using vigie::protocol::Endpoint;

constexpr const char* kSite = "site-scaleout";
constexpr const char* kHost = "node-scaleout";
constexpr const char* kAgentId = "agent-scaleout";

// "SELECT ..." on the shared database; the first column of the first row.
std::string query(const std::string& url, const std::string& sql) {
  return PostgresInstance::exec(url, sql);
}

// A bytea literal of `text` (every string from agents is bytea in PostgresStore).
std::string bytea(const std::string& text) { return "convert_to('" + text + "', 'UTF8')"; }

// A vigie-collector child process on 127.0.0.1:<free port>.
class CollectorProcess {
 public:
  CollectorProcess(std::string name, const fs::path& dir, const std::string& config_body)
      : name_(std::move(name)), port_(free_port()), log_(dir / (name_ + ".log")) {
    const fs::path config = dir / (name_ + ".yaml");
    write_file(config, "listen:\n  address: 127.0.0.1\n  port: " + std::to_string(port_) + "\n" +
                           config_body);
    pid_ = spawn(
        {std::string(VIGIE_BINARY_DIR) + "/collector/vigie-collector", "--config", config.string()},
        log_);
  }
  ~CollectorProcess() { vigie::integration::stop(pid_); }
  CollectorProcess(const CollectorProcess&) = delete;
  CollectorProcess& operator=(const CollectorProcess&) = delete;

  const std::string& name() const { return name_; }
  Endpoint endpoint() const { return {"127.0.0.1", std::to_string(port_)}; }
  std::string log() const { return read_file(log_); }
  bool running() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }

  // Whether it answers GET /metrics (with api.anonymous_role: admin).
  bool ready() const {
    return vigie::protocol::send(endpoint(), {"GET", "/metrics", {}, ""}, 2s).ok();
  }

  // The value of an unlabelled metric in its exposition; -1 when absent.
  double metric(const std::string& name) const {
    const auto r = vigie::protocol::send(endpoint(), {"GET", "/metrics", {}, ""}, 5s);
    std::istringstream lines(r.body);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
    }
    return -1;
  }

  // SIGKILL, as a crash: no shutdown, no flush, no answer to what is in flight.
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  std::string name_;
  uint16_t port_;
  fs::path log_;
  pid_t pid_ = -1;
};

// A TCP front for one collector that lets the test cut in between the
// collector's commit and its answer: each request is forwarded to the
// collector and its response read (the batch is stored by then), then
// `after_store` runs (the test kills the collector there) and the agent's
// connection is closed with no answer.
class CutOffProxy {
 public:
  CutOffProxy(Endpoint target, std::function<void()> after_store)
      : target_(std::move(target)),
        after_store_(std::move(after_store)),
        acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { serve(); });
  }
  ~CutOffProxy() {
    stop_ = true;
    beast::error_code ec;
    tcp::socket poke(ioc_);
    poke.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  Endpoint endpoint() const {
    return {"127.0.0.1", std::to_string(acceptor_.local_endpoint().port())};
  }
  // The collector's answers to what was forwarded, and the batches' sequences.
  std::vector<vigie::protocol::HttpResponse> answers() {
    std::lock_guard lk(mu_);
    return answers_;
  }
  std::vector<uint64_t> sequences() {
    std::lock_guard lk(mu_);
    return sequences_;
  }

 private:
  void serve() {
    while (!stop_) {
      tcp::socket socket(ioc_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) continue;
      beast::flat_buffer buffer;
      http::request<http::string_body> req;
      http::read(socket, buffer, req, ec);
      if (ec) continue;
      vigie::protocol::HttpRequest forward{
          std::string(req.method_string()), std::string(req.target()), {}, req.body()};
      for (const auto& field : req) {
        const auto name = field.name();
        if (name == http::field::host || name == http::field::content_length ||
            name == http::field::connection) {
          continue;
        }
        forward.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      const auto answer = vigie::protocol::send(target_, forward, 10s);
      vigie::protocol::Batch batch;
      const bool decoded = vigie::protocol::decode_batch(req.body(), batch).ok();
      {
        std::lock_guard lk(mu_);
        answers_.push_back(answer);
        if (decoded) sequences_.push_back(batch.sequence);
      }
      if (after_store_) after_store_();
      socket.shutdown(tcp::socket::shutdown_both, ec);  // closed unanswered
    }
  }

  Endpoint target_;
  std::function<void()> after_store_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<vigie::protocol::HttpResponse> answers_;
  std::vector<uint64_t> sequences_;
};

class ScaleOut : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vigie-scaleout.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    try {
      pg_ = std::make_unique<PostgresInstance>();
      database_url_ = pg_->create_database("vigie_scaleout");
    } catch (const std::exception& e) {
      FAIL() << "the scale-out test needs a real PostgreSQL: " << e.what();
    }
    std::mt19937_64 rng(std::random_device{}());
    token_ = "scaleout-" + std::to_string(rng());
  }

  void TearDown() override {
    if (HasFailure()) {
      for (const auto* c : {a_.get(), b_.get()}) {
        if (c) std::cerr << "---- collector " << c->name() << " log\n" << c->log();
      }
    }
    a_.reset();
    b_.reset();
    pg_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // The part of the collector configuration both collectors share: the one
  // PostgreSQL database, the agent's token (hashed), the API open on loopback.
  std::string shared_config() const {
    return "storage:\n  backend: postgresql\n  postgresql_url: \"" + database_url_ + "\"\n" +
           "api:\n  anonymous_role: admin  # loopback only\n" +
           "agent_tokens:\n  - sha256: " + sha256_hex(token_) + "\n    site: " + kSite +
           "\n    host: " + kHost + "\n";
  }

  // Starts collectors A and B on the shared database and waits until both serve.
  void start_collectors() {
    a_ = std::make_unique<CollectorProcess>("a", dir_, shared_config());
    b_ = std::make_unique<CollectorProcess>("b", dir_, shared_config());
    for (auto* c : {a_.get(), b_.get()}) {
      ASSERT_TRUE(eventually([&] { return c->ready() || !c->running(); }, 30s) && c->running())
          << "collector " << c->name() << " did not start:\n"
          << c->log();
    }
  }

  vigie::uplink::UplinkOptions uplink_options(const Endpoint& preferred,
                                              const Endpoint& other) const {
    vigie::uplink::UplinkOptions o;
    o.endpoint = preferred;
    o.failover_endpoints = {other};
    o.failback_interval = std::chrono::hours(1);  // stays on B once A is gone
    o.token = token_;
    o.agent_id = kAgentId;
    o.site = kSite;
    o.host = kHost;
    o.flush_interval = 20ms;
    o.max_batch_events = 10;
    o.initial_backoff = 10ms;
    o.max_backoff = 200ms;
    o.request_timeout = 10s;
    return o;
  }

  // One exec event whose pid is the marker `n` (unique per event).
  static vigie::protocol::Event marked_event(uint32_t n) {
    vigie::protocol::Event e;
    e.time_ns = vigie::protocol::wall_clock_ns();
    e.site = kSite;
    e.host = kHost;
    e.pid = n;
    e.ppid = 1;
    e.user = "root";
    const std::string command_line = "/usr/bin/scaleout-marker " + std::to_string(n);
    e.body = vigie::protocol::ProcessExec{"/usr/bin/scaleout-marker",
                                          {"/usr/bin/scaleout-marker", std::to_string(n)},
                                          false,
                                          command_line,
                                          "/bin/sh",
                                          "sh"};
    return e;
  }

  // "rows,distinct markers,min,max" of this agent's events in the shared database.
  std::string event_counts(uint32_t min_marker, uint32_t max_marker) const {
    return query(database_url_,
                 "SELECT count(*) || ',' || count(DISTINCT pid) || ',' || coalesce(min(pid), 0) "
                 "|| ',' || coalesce(max(pid), 0) FROM events WHERE host = " +
                     bytea(kHost) + " AND pid BETWEEN " + std::to_string(min_marker) + " AND " +
                     std::to_string(max_marker));
  }

  static std::string sha256_hex(const std::string& token) {
    // `vigie-collector --hash-token` prints the hash agent_tokens[].sha256 takes.
    const fs::path in =
        fs::temp_directory_path() / ("vigie-scaleout-token-" + std::to_string(::getpid()));
    write_file(in, token + "\n");
    const std::string cmd =
        std::string(VIGIE_BINARY_DIR) + "/collector/vigie-collector --hash-token < " + in.string();
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[65] = {};
    const std::size_t n = p ? std::fread(buf, 1, 64, p) : 0;
    if (p) ::pclose(p);
    fs::remove(in);
    return std::string(buf, n);
  }

  fs::path dir_;
  std::unique_ptr<PostgresInstance> pg_;
  std::string database_url_;
  std::string token_;
  std::unique_ptr<CollectorProcess> a_;
  std::unique_ptr<CollectorProcess> b_;
};

// The agent streams numbered events to A (preferred) and B; A is killed with
// SIGKILL mid-stream. The uplink fails over to B, and the shared database
// holds every event exactly once.
TEST_F(ScaleOut, KillingOneCollectorMidStreamLosesAndDuplicatesNothing) {
  start_collectors();
  ASSERT_FALSE(HasFatalFailure());
  constexpr uint32_t kEvents = 3000;
  vigie::uplink::Uplink uplink(uplink_options(a_->endpoint(), b_->endpoint()), {});
  for (uint32_t n = 1; n <= kEvents; ++n) {
    uplink.add_event(marked_event(n));
    if (n % 10 == 0) std::this_thread::sleep_for(2ms);  // a steady stream, ~1 s in all
    if (n == kEvents / 3) {
      // A has been taking batches: kill it while the stream goes on.
      ASSERT_TRUE(
          eventually([&] { return uplink.stats().collectors[0].batches_sent_total > 0; }, 30s));
      a_->kill9();
    }
  }
  uplink.stop(60s);  // delivers everything queued, or counts what it could not
  const auto stats = uplink.stats();
  EXPECT_EQ(stats.batches_dropped_total, 0u);
  EXPECT_EQ(stats.batches_rejected_total, 0u);
  EXPECT_EQ(stats.events_dropped_total, 0u);
  EXPECT_EQ(stats.queue_batches, 0u);
  ASSERT_EQ(stats.collectors.size(), 2u);
  EXPECT_GT(stats.collectors[0].batches_sent_total, 0u);  // A took the head of the stream
  EXPECT_GT(stats.collectors[1].batches_sent_total, 0u);  // B the rest
  EXPECT_GE(stats.collectors[0].send_failures_total, 1u);
  EXPECT_EQ(stats.collectors[1].switches_total, 1u);  // the uplink switched, once
  EXPECT_TRUE(stats.collectors[1].active);

  // Every marker exactly once: as many rows as events, all distinct, 1..N.
  EXPECT_EQ(event_counts(1, kEvents), std::to_string(kEvents) + "," + std::to_string(kEvents) +
                                          ",1," + std::to_string(kEvents));
  // Whether A died between its commit and its answer is up to timing; the
  // test below makes that case happen for sure. Shown for the record.
  const double duplicates = b_->metric("vigie_collector_ingest_duplicate_batches_total");
  RecordProperty("duplicates_recognised_by_b", std::to_string(duplicates));
  std::cout << "batches: " << stats.collectors[0].batches_sent_total << " to A, "
            << stats.collectors[1].batches_sent_total << " to B, " << duplicates
            << " recognised by B as already stored\n";
  // One batch row per batch the uplink had acknowledged.
  EXPECT_EQ(query(database_url_, "SELECT count(*) FROM batches WHERE agent_id = " +
                                     bytea(kAgentId) + " AND host = " + bytea(kHost)),
            std::to_string(stats.batches_sent_total));
}

// The race the shared store exists for: A commits a batch and is killed
// before it answers. The uplink sees a transport error, retries the same
// batch on B, B recognises it as a duplicate, and the batch is stored once.
TEST_F(ScaleOut, BatchStoredByACollectorKilledBeforeAnsweringIsStoredOnce) {
  start_collectors();
  ASSERT_FALSE(HasFatalFailure());
  CutOffProxy front_of_a(a_->endpoint(), [&] { a_->kill9(); });
  vigie::uplink::Uplink uplink(uplink_options(front_of_a.endpoint(), b_->endpoint()), {});
  constexpr uint32_t kMarker = 777777;
  uplink.add_event(marked_event(kMarker));
  ASSERT_TRUE(eventually([&] { return uplink.stats().batches_sent_total == 1; }, 30s));

  // A stored it (answered 200 to the proxy), then died unheard.
  const auto answers = front_of_a.answers();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 200) << answers[0].body << answers[0].error;
  EXPECT_FALSE(a_->running());
  const auto sequences = front_of_a.sequences();
  ASSERT_EQ(sequences.size(), 1u);

  // The uplink failed over, and B took the retry as a duplicate.
  const auto stats = uplink.stats();
  EXPECT_EQ(stats.collectors[0].send_failures_total, 1u);
  EXPECT_EQ(stats.collectors[1].batches_sent_total, 1u);
  EXPECT_EQ(stats.collectors[1].switches_total, 1u);
  EXPECT_EQ(b_->metric("vigie_collector_ingest_duplicate_batches_total"), 1);

  EXPECT_EQ(event_counts(kMarker, kMarker),
            "1,1," + std::to_string(kMarker) + "," + std::to_string(kMarker));
  EXPECT_EQ(query(database_url_, "SELECT count(*) FROM batches WHERE host = " + bytea(kHost) +
                                     " AND sequence = " + std::to_string(sequences[0])),
            "1");
}

// The real vigie-agent (energy only: no eBPF needed) configured with
// `collector.urls: [A, B]`: A is killed with SIGKILL, the agent fails over to
// B, and the shared database holds every batch sequence from 1 on without a
// gap and without a duplicate.
TEST_F(ScaleOut, RealAgentWithCollectorUrlsFailsOverWithoutAGap) {
  start_collectors();
  ASSERT_FALSE(HasFatalFailure());
  const uint16_t metrics_port = free_port();
  const std::string a = "127.0.0.1:" + a_->endpoint().port;
  const std::string b = "127.0.0.1:" + b_->endpoint().port;
  write_file(dir_ / "agent.token", token_ + "\n");
  write_file(dir_ / "agent.yaml",
             std::string("site: ") + kSite + "\nhost: " + kHost +
                 "\nagent_id: agent-real\nstate_dir: " + (dir_ / "agent-state").string() +
                 "\ncollector:\n  urls: [http://" + a + ", http://" + b +
                 "]\n  token_file: agent.token\n  flush_interval_ms: 100\n"
                 "metrics:\n  listen: 127.0.0.1:" +
                 std::to_string(metrics_port) +
                 "\nsensor:\n  enabled: false\npower:\n  source: estimate\n  interval_ms: 100\n");
  const fs::path agent_log = dir_ / "agent.log";
  pid_t agent = spawn({std::string(VIGIE_BINARY_DIR) + "/agents/vigie-agent", "--config",
                       (dir_ / "agent.yaml").string()},
                      agent_log);
  struct Reaper {
    pid_t& pid;
    ~Reaper() { vigie::integration::stop(pid); }
  } reaper{agent};
  const Endpoint agent_metrics{"127.0.0.1", std::to_string(metrics_port)};
  auto scrape = [&](const std::string& series) {
    const auto r = vigie::protocol::send(agent_metrics, {"GET", "/metrics", {}, ""}, 2s);
    return r.ok() ? vigie::integration::find_sample(r.body, series).value_or(-1) : -1;
  };
  const std::string sent_to_a =
      "vigie_uplink_collector_batches_sent_total{collector=\"" + a + "\"}";
  const std::string sent_to_b =
      "vigie_uplink_collector_batches_sent_total{collector=\"" + b + "\"}";
  ASSERT_TRUE(eventually([&] { return scrape(sent_to_a) >= 3; }, 30s))
      << "the agent sends nothing to A:\n"
      << read_file(agent_log);
  EXPECT_EQ(scrape("vigie_uplink_collector_active{collector=\"" + a + "\"}"), 1);

  a_->kill9();
  ASSERT_TRUE(eventually([&] { return scrape(sent_to_b) >= 3; }, 30s))
      << "the agent did not fail over to B:\n"
      << read_file(agent_log);
  EXPECT_EQ(scrape("vigie_uplink_collector_switches_total{collector=\"" + b + "\"}"), 1);
  EXPECT_EQ(scrape("vigie_uplink_collector_active{collector=\"" + b + "\"}"), 1);
  EXPECT_EQ(scrape("vigie_uplink_collector_active{collector=\"" + a + "\"}"), 0);
  EXPECT_GE(scrape("vigie_uplink_collector_send_failures_total{collector=\"" + a + "\"}"), 1);
  for (const char* reason : {"queue_full", "spool_full", "disk_full", "corrupt", "stopped"}) {
    EXPECT_EQ(scrape("vigie_uplink_batches_dropped_total{reason=\"" + std::string(reason) + "\"}"),
              0)
        << reason;
  }
  const double sent = scrape("vigie_uplink_batches_sent_total");
  vigie::integration::stop(agent);  // SIGTERM: delivers what is queued
  agent = -1;

  // Sequences start at 1 in a fresh state_dir and go up by one per batch:
  // rows = max - min + 1 means none is missing, and the primary key
  // (host, agent_id, sequence) that none is there twice.
  const std::string where =
      " FROM batches WHERE agent_id = " + bytea("agent-real") + " AND host = " + bytea(kHost);
  const std::string counts = query(database_url_,
                                   "SELECT count(*) || ',' || min(sequence) || ',' "
                                   "|| max(sequence)" +
                                       where);
  const auto rows = std::stoll(counts.substr(0, counts.find(',')));
  EXPECT_EQ(counts, std::to_string(rows) + ",1," + std::to_string(rows));
  EXPECT_GE(static_cast<double>(rows), sent);
  EXPECT_EQ(read_file(agent_log).find("undelivered"), std::string::npos) << read_file(agent_log);
}

}  // namespace
