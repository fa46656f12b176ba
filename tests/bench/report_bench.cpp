// How long the sustainability reports take on a large site (issue: one
// facility of 2,000 nodes and a year of hourly energy rows), on the embedded
// SQLite store: the year's workload_energy rows as retention leaves them
// (one row per host, workload and hour: a job of one of the site's Slurm
// accounts and the node's unattributed share), hourly EDC and EIT readings
// and an hourly grid series. Prints the time of the datacentre report and of
// the communities report, and their ratio to a baseline measured in the same
// run: one scan summing the year's energy rows (what any report over them
// must at least read).
//   report_bench [--nodes 2000] [--hours 8760] [--accounts 20] [--dir DIR [--reuse 1]]
// --reuse 1 measures on the database a previous run left in DIR (loading it
// takes about 11 minutes on 2 cores).
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "reports/reports.h"
#include "storage/sqlite_store.h"
#include "support/footprint_fixture.h"
#include "support/sample_batch.h"
#include "vigie/sustainability/datacentre.h"

namespace {

namespace sus = vigie::sustainability;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::fprintf(stderr, "report_bench: %s: %s\n", sql, error);
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int nodes = 2000, hours = 8760, accounts = 20;
  std::string dir_arg;
  bool reuse = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--nodes") nodes = std::atoi(argv[i + 1]);
    if (flag == "--hours") hours = std::atoi(argv[i + 1]);
    if (flag == "--accounts") accounts = std::atoi(argv[i + 1]);
    if (flag == "--dir") dir_arg = argv[i + 1];
    if (flag == "--reuse") reuse = std::string(argv[i + 1]) == "1";
  }
  vigie::collector::testing::TempDir temp;
  const std::filesystem::path dir = dir_arg.empty() ? temp.path() : std::filesystem::path(dir_arg);
  const std::string path = (dir / "collector.db").string();
  constexpr int64_t k2025 = 1735686000;  // 2025-01-01T00:00:00+01:00
  const sus::Span year{k2025, k2025 + int64_t{hours} * 3600};

  auto start = Clock::now();
  reuse = reuse && std::filesystem::exists(path);
  if (!reuse) std::filesystem::remove(path);
  {
    vigie::collector::SqliteStore schema(path);  // creates the tables and indexes
  }
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  uint64_t rows = 0;
  if (!reuse) {
    exec(db, "PRAGMA synchronous = OFF");
    exec(db, "BEGIN");
    sqlite3_stmt* insert = nullptr;  // NOLINT(readability-isolate-declaration)
    sqlite3_prepare_v2(
        db,
        "INSERT INTO workload_energy (agent_id, site, host, start_ns, end_ns, "
        "workload_kind, workload_id, workload_user, cgroup_path, cpu_seconds, "
        "energy_joules, carbon_gco2e, estimated, workload_account, resolution_ns) "
        "VALUES (?1, 'site-a', ?1, ?2, ?3, ?4, ?5, '', '', ?6, ?7, 0, 0, ?8, 3600000000000)",
        -1, &insert, nullptr);
    for (int h = 0; h < hours; ++h) {
      const int64_t end_ns = (k2025 + int64_t{h + 1} * 3600) * 1'000'000'000;
      for (int n = 0; n < nodes; ++n) {
        const std::string host = "node" + std::to_string(n);
        for (int part = 0; part < 2; ++part) {
          const bool job = part == 0;
          const std::string account = job ? "acct" + std::to_string((n + h / 24) % accounts) : "";
          sqlite3_bind_text(insert, 1, host.c_str(), -1, SQLITE_TRANSIENT);
          sqlite3_bind_int64(insert, 2, end_ns - 3'600'000'000'000);
          sqlite3_bind_int64(insert, 3, end_ns);
          sqlite3_bind_text(insert, 4, job ? "slurm_job" : "unattributed", -1, SQLITE_STATIC);
          sqlite3_bind_text(insert, 5,
                            job ? std::to_string(n * 100000 + h / 24).c_str() : "unattributed", -1,
                            SQLITE_TRANSIENT);
          sqlite3_bind_double(insert, 6, job ? 3600.0 * 40 : 0);
          sqlite3_bind_double(insert, 7, job ? 1.1e6 : 0.4e6);  // 300 W and 110 W for an hour
          sqlite3_bind_text(insert, 8, account.c_str(), -1, SQLITE_TRANSIENT);
          sqlite3_step(insert);
          sqlite3_reset(insert);
          ++rows;
        }
      }
      if (h % 168 == 167) {
        exec(db, "COMMIT");
        exec(db, "BEGIN");
      }
    }
    exec(db, "COMMIT");
    sqlite3_finalize(insert);
  }
  const double load_s = seconds_since(start);

  vigie::collector::SqliteStore store(path);
  sus::Facility facility = sus::facility_from_json(nlohmann::json::parse(
      R"({"id": "big", "name": "Big mesocentre", "time_zone": "Europe/Paris",
          "installed_it_kw": [{"from": "2020-01-01", "kw": 900}], "sites": ["site-a"]})"));
  store.put_facility(facility, 1);
  std::vector<sus::Reading> readings;
  sus::GridSeries grid{.zone = "FR", .source = "bench", .version = "1", .basis = "life-cycle"};
  for (int h = 0; h < hours; ++h) {
    const int64_t t = k2025 + int64_t{h} * 3600;
    readings.push_back(
        {.quantity = sus::Quantity::kEdc, .start_s = t, .end_s = t + 3600, .value = 1000});
    readings.push_back(
        {.quantity = sus::Quantity::kEit, .start_s = t, .end_s = t + 3600, .value = 800});
    grid.points.push_back({t, 30.0 + h % 24});
  }
  store.add_readings("big", readings, 1);
  store.put_grid_points(grid);

  // Baseline: one pass summing the year's energy rows.
  start = Clock::now();
  sqlite3_stmt* scan = nullptr;
  sqlite3_prepare_v2(
      db, "SELECT SUM(energy_joules) FROM workload_energy WHERE end_ns > ?1 AND end_ns <= ?2", -1,
      &scan, nullptr);
  sqlite3_bind_int64(scan, 1, year.start_s * 1'000'000'000);
  sqlite3_bind_int64(scan, 2, year.end_s * 1'000'000'000);
  sqlite3_step(scan);
  const double total_j = sqlite3_column_double(scan, 0);
  if (reuse) {
    sqlite3_stmt* count = nullptr;
    sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM workload_energy", -1, &count, nullptr);
    sqlite3_step(count);
    rows = static_cast<uint64_t>(sqlite3_column_int64(count, 0));
    sqlite3_finalize(count);
  }
  sqlite3_finalize(scan);
  const double scan_s = seconds_since(start);
  sqlite3_close(db);

  // A batch every 50 ms from another agent, as ingestion goes on while a
  // report runs: its worst latency with and without the report running.
  std::atomic<bool> stop_batches{false};
  // Numbered from the clock: a reused database holds the last run's batches.
  std::atomic<uint64_t> sequence{static_cast<uint64_t>(std::time(nullptr)) * 1000};
  const auto worst_batch_ms = [&](const std::function<void()>& meanwhile) {
    double worst = 0;
    std::thread agent([&] {
      while (!stop_batches) {
        auto batch = vigie::collector::testing::agent_batch("ingest-node", sequence++);
        batch.workload_energy = {
            vigie::collector::testing::job_energy("9", 1800000000, 1000, 0, false)};
        const auto t = Clock::now();
        store.store_batch(batch, sequence);
        worst = std::max(worst, seconds_since(t) * 1000);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
    meanwhile();
    stop_batches = true;
    agent.join();
    stop_batches = false;
    return worst;
  };
  const double idle_worst_ms =
      worst_batch_ms([] { std::this_thread::sleep_for(std::chrono::seconds(5)); });

  vigie::collector::ReportBuilder builder(store, {});
  start = Clock::now();
  const auto datacentre = builder.datacentre(facility, year);
  const double datacentre_s = seconds_since(start);
  double communities_s = 0;
  std::size_t community_rows = 0;
  const double report_worst_ms = worst_batch_ms([&] {
    start = Clock::now();
    community_rows =
        builder.communities(facility, year, "account", sus::IdlePolicy::kSeparate).totals.size();
    communities_s = seconds_since(start);
  });

  std::printf(
      "report_bench: %d nodes x %d hours, %d accounts: %llu workload_energy rows (%.1f GB file), "
      "loaded in %.0f s\n",
      nodes, hours, accounts, static_cast<unsigned long long>(rows),
      static_cast<double>(std::filesystem::file_size(path)) / 1e9, load_s);
  std::printf("  baseline: one scan summing the year's rows      %8.2f s  (%.3g kWh)\n", scan_s,
              total_j / 3.6e6);
  std::printf("  datacentre report (%zu readings)             %8.3f s  %6.3fx baseline\n",
              readings.size(), datacentre_s, datacentre_s / scan_s);
  std::printf("  communities report (12 months, %zu accounts)  %8.2f s  %6.2fx baseline\n",
              community_rows, communities_s, communities_s / scan_s);
  std::printf("  worst batch store latency, no report running   %8.1f ms\n", idle_worst_ms);
  std::printf("  worst batch store latency, during the report   %8.1f ms  %6.2fx\n",
              report_worst_ms, report_worst_ms / idle_worst_ms);
  return 0;
}
