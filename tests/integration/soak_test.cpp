// The soak (issue 7): 1,000 simulated agents (vigie_agent_swarm: real
// uplinks, each with its own spool) stream to the real vigie-collector with
// its default SQLite store while the collector is restarted twice, once with
// SIGTERM and once with SIGKILL. Afterwards: every event generated is stored
// exactly once (unique markers "swarm <run> <agent> <n>" counted in the
// events table), every energy record too, every batch acknowledged is stored
// once, no uplink dropped anything, and memory stayed flat (see
// kFlatRatio below). Prints a figures table.
//
// The suite runs it for 60 s of generation. tests/bench/soak.sh runs the same
// test for 10 minutes through these environment variables (defaults in
// brackets): VIGIE_SOAK_AGENTS [1000], VIGIE_SOAK_SECONDS [60],
// VIGIE_SOAK_RATE events/s per agent [2], VIGIE_SOAK_FLUSH_MS [3000],
// VIGIE_SOAK_DOWNTIME_S collector down time at each restart [3],
// VIGIE_SOAK_SPOOL 1/0 [1], VIGIE_SOAK_FIGURES file to write the table to.
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/processes.h"
#include "vigie/protocol/http_client.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using vigie::integration::eventually;
using vigie::integration::free_port;
using vigie::integration::read_file;
using vigie::integration::spawn;
using vigie::integration::write_file;

// Flat memory, with no timing in it: within each collector incarnation (and
// for the simulator over its whole life), the peak of the second half of the
// once-a-second samples is at most kFlatRatio x the first half's peak +
// kFlatSlackKib. For the collector the samples are VmRSS minus the heap SQLite
// holds (vigie_collector_sqlite_memory_bytes): its page cache fills up to
// cache_size (64 MiB, sqlite_store.cpp) as the database grows, bounded by
// design but slower than one incarnation of the 60-second run; it is reported
// apart. A leak proportional to the traffic (events, batches, connections:
// constant over the run) grows as much in the second half as in the first and
// breaks the rule; warm-up (allocator arenas, threads) happens in the first half.
constexpr double kFlatRatio = 1.10;
constexpr long kFlatSlackKib = 4 << 10;
// Fewer samples than this in a half make the comparison meaningless.
constexpr std::size_t kMinSamplesPerHalf = 3;

long env_long(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stol(v) : fallback;
}
double env_double(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stod(v) : fallback;
}

std::string sha256_hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  std::ostringstream hex;
  for (unsigned char c : digest) hex << std::hex << std::setw(2) << std::setfill('0') << int(c);
  return hex.str();
}

// "VmRSS"/"VmHWM" of `pid` in KiB; -1 when the process is gone.
long status_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

struct Flatness {
  long first_peak_kib = 0;
  long second_peak_kib = 0;
  bool enough_samples = false;
  bool flat() const {
    return enough_samples && static_cast<double>(second_peak_kib) <=
                                 kFlatRatio * static_cast<double>(first_peak_kib) + kFlatSlackKib;
  }
};

Flatness flatness(const std::vector<long>& samples) {
  Flatness f;
  const std::size_t half = samples.size() / 2;
  f.enough_samples = half >= kMinSamplesPerHalf;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    long& peak = i < half ? f.first_peak_kib : f.second_peak_kib;
    peak = std::max(peak, samples[i]);
  }
  return f;
}

std::string mib(long kib) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << static_cast<double>(kib) / 1024 << " MiB";
  return out.str();
}

// One vigie-collector process of the run.
struct Incarnation {
  pid_t pid = -1;
  std::string how_ended;      // "SIGTERM", "SIGKILL", "SIGTERM (end)"
  int exit_status = -1;       // waitpid status
  std::vector<long> rss_kib;  // VmRSS once a second
  // VmRSS minus the heap SQLite holds (vigie_collector_sqlite_memory_bytes),
  // sampled together: what the flatness check looks at.
  std::vector<long> net_kib;
  long sqlite_peak_kib = 0;
  long hwm_kib = 0;       // VmHWM read just before it was signalled
  double duplicates = 0;  // vigie_collector_ingest_duplicate_batches_total at its end
};

// The first column of the first row of `sql` on the collector's database, as int64; -1 without a
// row.
int64_t query_int(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    throw std::runtime_error(sql + ": " + sqlite3_errmsg(db));
  }
  int64_t value = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return value;
}

std::vector<std::pair<std::string, int64_t>> query_pairs(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    throw std::runtime_error(sql + ": " + sqlite3_errmsg(db));
  }
  std::vector<std::pair<std::string, int64_t>> rows;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const auto* text = sqlite3_column_text(stmt, 0);
    rows.emplace_back(text ? reinterpret_cast<const char*>(text) : "",
                      sqlite3_column_int64(stmt, 1));
  }
  sqlite3_finalize(stmt);
  return rows;
}

class Soak : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vigie-soak.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // 1,000 agents open up to 1,000 connections at once: the collector
    // (spawned from here, inheriting the limit) needs as many descriptors.
    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &files), 0);
    ASSERT_GE(files.rlim_cur, 4096u) << "RLIMIT_NOFILE hard limit too low for 1,000 agents";

    std::mt19937_64 rng(std::random_device{}());
    const std::string token = "soak-" + std::to_string(rng());
    write_file(dir_ / "agent.token", token + "\n");
    port_ = free_port();
    write_file(dir_ / "collector.yaml",
               "listen:\n  address: 127.0.0.1\n  port: " + std::to_string(port_) +
                   "\ndatabase: " + (dir_ / "collector.db").string() +
                   "\napi:\n  anonymous_role: admin  # loopback, as the quick start\n"
                   "agent_tokens:\n  - sha256: " +
                   sha256_hex(token) + "\n    site: soak\n    any_host: true\n");
  }

  void TearDown() override {
    if (simulator_ > 0) {
      ::kill(simulator_, SIGKILL);
      ::waitpid(simulator_, nullptr, 0);
    }
    if (!incarnations_.empty() && incarnations_.back().exit_status == -1) {
      vigie::integration::stop(incarnations_.back().pid);
    }
    if (HasFailure()) {
      std::cerr << "---- simulator log (tail)\n"
                << tail(read_file(dir_ / "swarm.log")) << "---- collector logs (tail)\n";
      for (std::size_t i = 1; i <= incarnations_.size(); ++i) {
        std::cerr << "-- #" << i << "\n"
                  << tail(read_file(dir_ / ("collector-" + std::to_string(i) + ".log")));
      }
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string tail(const std::string& text) {
    return text.size() > 4000 ? "…" + text.substr(text.size() - 4000) : text;
  }

  vigie::protocol::Endpoint endpoint() const { return {"127.0.0.1", std::to_string(port_)}; }

  // Starts collector incarnation #n and waits until it answers.
  bool start_collector() {
    Incarnation inc;
    const std::string log = "collector-" + std::to_string(incarnations_.size() + 1) + ".log";
    inc.pid = spawn({std::string(VIGIE_BINARY_DIR) + "/collector/vigie-collector", "--config",
                     (dir_ / "collector.yaml").string()},
                    dir_ / log);
    incarnations_.push_back(inc);
    return eventually(
        [&] {
          return vigie::protocol::send(endpoint(), {"GET", "/metrics", {}, ""}, 2s).ok();
        },
        30s);
  }

  // Unlabelled metrics of the collector's /metrics, in `names` order; -1 when absent.
  std::vector<double> collector_metrics(const std::vector<std::string>& names) const {
    std::vector<double> values(names.size(), -1);
    const auto r = vigie::protocol::send(endpoint(), {"GET", "/metrics", {}, ""}, 5s);
    std::istringstream lines(r.body);
    for (std::string line; std::getline(lines, line);) {
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (line.rfind(names[i] + " ", 0) == 0)
          values[i] = std::stod(line.substr(names[i].size() + 1));
      }
    }
    return values;
  }

  // One sample of the current incarnation: VmRSS, SQLite's heap, duplicates so far.
  void sample_collector() {
    Incarnation& inc = incarnations_.back();
    const long rss = status_kib(inc.pid, "VmRSS");
    const auto m = collector_metrics(
        {"vigie_collector_sqlite_memory_bytes", "vigie_collector_ingest_duplicate_batches_total"});
    if (m[1] >= 0) inc.duplicates = m[1];
    if (rss <= 0) return;
    inc.rss_kib.push_back(rss);
    if (m[0] >= 0) {
      const long sqlite_kib = static_cast<long>(m[0] / 1024);
      inc.sqlite_peak_kib = std::max(inc.sqlite_peak_kib, sqlite_kib);
      inc.net_kib.push_back(rss - sqlite_kib);
    }
  }

  // Signals the current incarnation and reaps it (SIGTERM: up to 60 s).
  void end_collector(int signal, const std::string& how) {
    Incarnation& inc = incarnations_.back();
    sample_collector();
    inc.hwm_kib = status_kib(inc.pid, "VmHWM");
    inc.how_ended = how;
    ::kill(inc.pid, signal);
    int status = 0;
    for (int i = 0; i < 600; ++i) {
      if (::waitpid(inc.pid, &status, WNOHANG) == inc.pid) {
        inc.exit_status = status;
        return;
      }
      std::this_thread::sleep_for(100ms);
    }
    ::kill(inc.pid, SIGKILL);
    ::waitpid(inc.pid, &status, 0);
    inc.exit_status = status;
    inc.how_ended += " (did not exit in 60 s: killed)";
  }

  fs::path dir_;
  uint16_t port_ = 0;
  pid_t simulator_ = -1;
  std::vector<Incarnation> incarnations_;
};

TEST_F(Soak, AgentsStreamThroughTwoCollectorRestartsNothingLostNothingDuplicated) {
  const long agents = env_long("VIGIE_SOAK_AGENTS", 1000);
  const double seconds = env_double("VIGIE_SOAK_SECONDS", 60);
  const double rate = env_double("VIGIE_SOAK_RATE", 2);
  const long flush_ms = env_long("VIGIE_SOAK_FLUSH_MS", 3000);
  const double downtime_s = env_double("VIGIE_SOAK_DOWNTIME_S", 3);
  const bool spool = env_long("VIGIE_SOAK_SPOOL", 1) != 0;
  const double drain_timeout_s = 120;
  const std::string run = "r" + std::to_string(::getpid());
  const auto test_start = Clock::now();

  ASSERT_TRUE(start_collector()) << "collector #1 not ready in 30 s";
  std::vector<std::string> argv = {std::string(VIGIE_BINARY_DIR) + "/tests/bench/vigie_agent_swarm",
                                   "--collector",
                                   "http://127.0.0.1:" + std::to_string(port_),
                                   "--token-file",
                                   (dir_ / "agent.token").string(),
                                   "--site",
                                   "soak",
                                   "--run",
                                   run,
                                   "--agents",
                                   std::to_string(agents),
                                   "--duration",
                                   std::to_string(seconds),
                                   "--rate",
                                   std::to_string(rate),
                                   "--flush-ms",
                                   std::to_string(flush_ms),
                                   "--drain-timeout",
                                   std::to_string(drain_timeout_s),
                                   "--report",
                                   (dir_ / "report.json").string()};
  if (spool) {
    argv.push_back("--spool-dir");
    argv.push_back((dir_ / "spool").string());
  }
  simulator_ = spawn(argv, dir_ / "swarm.log");
  const auto t0 = Clock::now();
  const auto at = [&](double s) {
    return t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  // The restarts: SIGTERM at a third of the generation, SIGKILL at two thirds.
  struct Restart {
    Clock::time_point when;
    int signal;
    const char* how;
  };
  std::vector<Restart> restarts = {{at(seconds / 3), SIGTERM, "SIGTERM"},
                                   {at(2 * seconds / 3), SIGKILL, "SIGKILL"}};
  const auto give_up = at(seconds + drain_timeout_s + 60);
  std::vector<long> simulator_rss;
  int simulator_status = -1;
  for (std::size_t next = 0;;) {
    std::this_thread::sleep_for(1s);
    sample_collector();
    if (const long kib = status_kib(simulator_, "VmRSS"); kib > 0) simulator_rss.push_back(kib);
    if (::waitpid(simulator_, &simulator_status, WNOHANG) == simulator_) {
      simulator_ = -1;
      break;
    }
    ASSERT_LT(Clock::now(), give_up) << "the simulator did not finish";
    if (next < restarts.size() && Clock::now() >= restarts[next].when) {
      end_collector(restarts[next].signal, restarts[next].how);
      std::this_thread::sleep_for(std::chrono::duration<double>(downtime_s));
      ASSERT_TRUE(start_collector()) << "collector #" << incarnations_.size() << " not ready";
      ++next;
    }
  }
  ASSERT_EQ(incarnations_.size(), 3u) << "the run ended before both restarts";
  end_collector(SIGTERM, "SIGTERM (end)");
  ASSERT_TRUE(WIFEXITED(simulator_status) && WEXITSTATUS(simulator_status) == 0)
      << "simulator status " << simulator_status;

  const json report = json::parse(read_file(dir_ / "report.json"));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "collector.db").c_str(), &db), SQLITE_OK);
  const std::string mine = "kind = 'process_exec' AND command_line LIKE 'swarm " + run + " %'";
  const int64_t stored = query_int(db, "SELECT COUNT(*) FROM events WHERE " + mine);
  const int64_t distinct =
      query_int(db, "SELECT COUNT(DISTINCT command_line) FROM events WHERE " + mine);
  const int64_t duplicate_rows =
      query_int(db, "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM events WHERE " +
                        mine + " GROUP BY command_line HAVING COUNT(*) > 1)");
  const auto duplicated_markers =
      query_pairs(db, "SELECT command_line, COUNT(*) FROM events WHERE " + mine +
                          " GROUP BY command_line HAVING COUNT(*) > 1 LIMIT 5");
  const auto per_host =
      query_pairs(db, "SELECT host, COUNT(*) FROM events WHERE " + mine + " GROUP BY host");
  const int64_t energy_stored =
      query_int(db, "SELECT COUNT(*) FROM zone_energy WHERE host LIKE 'swarm-%'");
  const int64_t batches_stored =
      query_int(db, "SELECT COUNT(*) FROM batches WHERE host LIKE 'swarm-%'");
  sqlite3_close(db);

  const uint64_t generated = report["events_generated"];
  const uint64_t energy_generated = report["energy_records_generated"];
  const uint64_t batches_sent = report["batches_sent"];
  double duplicates_answered = 0;
  for (const auto& inc : incarnations_) duplicates_answered += std::max(0.0, inc.duplicates);
  std::ostringstream drops;
  for (const auto& [reason, n] : report["batches_dropped_by_reason"].items()) {
    drops << reason << " " << n.get<uint64_t>() << ", ";
  }
  drops << "rejected " << report["batches_rejected"].get<uint64_t>() << "; events "
        << report["events_dropped"].get<uint64_t>() << ", energy records "
        << report["energy_records_dropped"].get<uint64_t>();

  std::vector<Flatness> collector_flat;
  for (const auto& inc : incarnations_) collector_flat.push_back(flatness(inc.net_kib));
  const Flatness simulator_flat = flatness(simulator_rss);
  const double wall_s = std::chrono::duration<double>(Clock::now() - test_start).count();

  std::ostringstream table;
  table << std::fixed << std::setprecision(1);
  table << "soak figures: " << agents << " agents x " << rate << " events/s for " << seconds
        << " s, flush " << flush_ms << " ms, spool " << report["spool"].get<std::string>()
        << "; collector (SQLite) SIGTERM-restarted at " << seconds / 3 << " s and SIGKILLed at "
        << 2 * seconds / 3 << " s, down " << downtime_s << " s each\n"
        << "  events generated / stored      " << generated << " / " << stored << " (distinct "
        << distinct << ")\n"
        << "  duplicate event rows           " << duplicate_rows << "\n"
        << "  energy records gen. / stored   " << energy_generated << " / " << energy_stored << "\n"
        << "  batches acked / stored         " << batches_sent << " / " << batches_stored << "\n"
        << "  retries answered 'duplicate'   " << duplicates_answered
        << " (batches stored before a restart, resent, stored once)\n"
        << "  send failures (retried)        " << report["send_failures"].get<uint64_t>()
        << ", spool replayed " << report["spool_replayed_batches"].get<uint64_t>()
        << ", spool write errors " << report["spool_write_errors"].get<uint64_t>() << "\n"
        << "  uplink drops (batches)         " << drops.str() << "\n"
        << "  drain after generation         " << report["drain_seconds"].get<double>() << " s\n";
  for (std::size_t i = 0; i < incarnations_.size(); ++i) {
    table << "  collector #" << i + 1 << " peak RSS          " << mib(incarnations_[i].hwm_kib)
          << ", SQLite heap peak " << mib(incarnations_[i].sqlite_peak_kib)
          << "; RSS - SQLite: " << incarnations_[i].net_kib.size() << " samples, 1st-half peak "
          << mib(collector_flat[i].first_peak_kib) << ", 2nd-half peak "
          << mib(collector_flat[i].second_peak_kib) << "; ended by " << incarnations_[i].how_ended
          << "\n";
  }
  table << "  simulator peak RSS             " << mib(report["peak_rss_kib"].get<long>())
        << " (bound " << mib(report["rss_bound_kib"].get<long>()) << "; 1st-half peak "
        << mib(simulator_flat.first_peak_kib) << ", 2nd-half peak "
        << mib(simulator_flat.second_peak_kib) << ")\n"
        << "  test wall time                 " << wall_s << " s\n"
        << "  reproduce: VIGIE_SOAK_AGENTS=" << agents << " VIGIE_SOAK_SECONDS=" << seconds
        << " VIGIE_SOAK_RATE=" << rate << " VIGIE_SOAK_FLUSH_MS=" << flush_ms
        << " VIGIE_SOAK_SPOOL=" << spool << " " << VIGIE_BINARY_DIR
        << "/tests/integration/integration_soak_test\n";
  std::cout << table.str();
  if (const char* figures = std::getenv("VIGIE_SOAK_FIGURES"); figures && *figures) {
    write_file(figures, table.str());
  }

  // The checks.
  EXPECT_TRUE(report["drained"].get<bool>())
      << report["undrained_agents"] << " agents still had data after the drain timeout";
  EXPECT_GT(generated, 0u);
  EXPECT_EQ(static_cast<uint64_t>(stored), generated) << "events lost (or extra)";
  EXPECT_EQ(static_cast<uint64_t>(distinct), generated) << "markers missing";
  EXPECT_EQ(duplicate_rows, 0);
  for (const auto& [marker, n] : duplicated_markers)
    ADD_FAILURE() << marker << " stored " << n << " times";
  // Per agent: the host's stored count is what that agent generated.
  std::map<std::string, int64_t> stored_by_host(per_host.begin(), per_host.end());
  std::size_t agents_short = 0;
  for (const auto& a : report["per_agent"]) {
    const auto it = stored_by_host.find(a["host"].get<std::string>());
    const int64_t got = it == stored_by_host.end() ? 0 : it->second;
    if (got != a["events"].get<int64_t>() && ++agents_short <= 5) {
      ADD_FAILURE() << a["host"] << " generated " << a["events"] << " stored " << got;
    }
  }
  EXPECT_EQ(agents_short, 0u);
  EXPECT_EQ(static_cast<uint64_t>(energy_stored), energy_generated);
  EXPECT_EQ(static_cast<uint64_t>(batches_stored), batches_sent)
      << "every acknowledged batch is stored exactly once";
  EXPECT_EQ(report["batches_dropped"].get<uint64_t>(), 0u);
  for (const auto& [reason, n] : report["batches_dropped_by_reason"].items()) {
    EXPECT_EQ(n.get<uint64_t>(), 0u) << "dropped, reason " << reason;
  }
  EXPECT_EQ(report["batches_rejected"].get<uint64_t>(), 0u);
  EXPECT_EQ(report["events_dropped"].get<uint64_t>(), 0u);
  EXPECT_EQ(report["energy_records_dropped"].get<uint64_t>(), 0u);
  EXPECT_EQ(report["spool_write_errors"].get<uint64_t>(), 0u);
  // The restarts happened as intended.
  EXPECT_TRUE(WIFEXITED(incarnations_[0].exit_status) &&
              WEXITSTATUS(incarnations_[0].exit_status) == 0)
      << "SIGTERM'd collector #1 ended with status " << incarnations_[0].exit_status;
  EXPECT_TRUE(WIFSIGNALED(incarnations_[1].exit_status) &&
              WTERMSIG(incarnations_[1].exit_status) == SIGKILL);
  EXPECT_TRUE(WIFEXITED(incarnations_[2].exit_status) &&
              WEXITSTATUS(incarnations_[2].exit_status) == 0)
      << "collector #3 ended with status " << incarnations_[2].exit_status;
  // Flat memory.
  for (std::size_t i = 0; i < collector_flat.size(); ++i) {
    EXPECT_TRUE(collector_flat[i].enough_samples)
        << "collector #" << i + 1 << ": " << incarnations_[i].net_kib.size()
        << " samples of RSS and vigie_collector_sqlite_memory_bytes";
    EXPECT_TRUE(collector_flat[i].flat())
        << "collector #" << i + 1 << " RSS net of SQLite's heap grew: 1st-half peak "
        << mib(collector_flat[i].first_peak_kib) << ", 2nd-half peak "
        << mib(collector_flat[i].second_peak_kib);
  }
  EXPECT_TRUE(simulator_flat.flat())
      << "simulator RSS grew: 1st-half peak " << mib(simulator_flat.first_peak_kib)
      << ", 2nd-half peak " << mib(simulator_flat.second_peak_kib);
  EXPECT_LE(report["peak_rss_kib"].get<long>(), report["rss_bound_kib"].get<long>())
      << "simulator peak RSS above what its queue limits allow";
}

}  // namespace
