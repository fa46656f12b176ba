// Retro-hunt at site scale: `events` events (default 10 million: half
// outbound connections to random addresses, half executions of one of 2,000
// images by one of 500 users, in Slurm jobs on 500 nodes) are stored through
// the ingest path (SqliteStore::store_batch, which also writes their
// observables), then 100 indicators (40 addresses, 10 /24 networks, 25 file
// names, 25 user names; half of them present in the data) are hunted by
// CsirtService::run_retrohunt, the collector's own code path. Measured in
// the same run:
//   a. the retro-hunt's wall time, rows read and sightings, and the
//      process's peak RSS before and after it (getrusage ru_maxrss);
//   b. the baseline: the same indicators matched by reading every stored
//      event back (Store::events, decoded) through an IndicatorMatcher, as a
//      store without the observables index would have to; the ratio a/b.
//   c. what the index costs at ingest: events/s stored, and the database's
//      size with the observables table and without it (dbstat).
// Nothing is asserted about time. Usage: csirt_retrohunt_bench [events=N] [scan=1]
#include <sqlite3.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include "alerting/alert_router.h"
#include "csirt/csirt_service.h"
#include "storage/sqlite_store.h"
#include "storage/stored_form.h"
#include "support/sample_batch.h"

namespace {

using namespace vigie;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

long peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

std::string ip_of(uint32_t n) {
  return "10." + std::to_string((n >> 16) & 0xff) + "." + std::to_string((n >> 8) & 0xff) + "." +
         std::to_string(n & 0xff);
}

// The deterministic data set: event i.
protocol::Event event_at(uint64_t i, uint64_t base_ns) {
  protocol::Event e;
  e.time_ns = base_ns + i * 1000;
  e.site = "grif";
  e.host = "node" + std::to_string(i % 500);
  e.pid = static_cast<uint32_t>(1000 + i % 30000);
  e.user = "user" + std::to_string((i * 7919) % 500);
  e.workload = {protocol::WorkloadKind::kSlurmJob, std::to_string(100000 + i / 20000), e.user, ""};
  if (i % 2 == 0) {
    protocol::NetworkConnect c;
    c.destination_ip = ip_of(static_cast<uint32_t>((i * 2654435761u) & 0xffffff));
    c.destination_port = 443;
    c.image = "/usr/bin/python3";
    e.body = c;
  } else {
    protocol::ProcessExec x;
    x.image = "/opt/apps/bin/tool" + std::to_string((i * 104729) % 2000);
    x.argv = {x.image};
    x.command_line = x.image;
    e.body = x;
  }
  return e;
}

struct Argument {
  uint64_t events = 10'000'000;
  bool scan = true;
};

}  // namespace

int main(int argc, char** argv) {
  Argument arg;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("events=", 0) == 0) arg.events = std::stoull(a.substr(7));
    else if (a.rfind("scan=", 0) == 0) arg.scan = a.substr(5) != "0";
    else {
      std::fprintf(stderr, "usage: csirt_retrohunt_bench [events=N] [scan=0|1]\n");
      return 2;
    }
  }
  collector::testing::TempDir dir;
  const auto db = (dir.path() / "collector.db").string();
  collector::SqliteStore store(db);
  const uint64_t base = protocol::wall_clock_ns() - 86'400'000'000'000ull;

  // c. Ingest, through store_batch, 5,000 events per batch.
  const auto ingest_start = Clock::now();
  constexpr uint64_t kPerBatch = 5000;
  for (uint64_t first = 0, seq = 1; first < arg.events; first += kPerBatch, ++seq) {
    protocol::Batch batch;
    batch.agent_id = "bench";
    batch.site = "grif";
    batch.host = "bench";
    batch.sequence = seq;
    for (uint64_t i = first; i < std::min(arg.events, first + kPerBatch); ++i)
      batch.events.push_back(event_at(i, base));
    if (store.store_batch(batch, base).status != collector::StoreOutcome::Status::kStored) {
      std::fprintf(stderr, "batch %llu not stored\n", static_cast<unsigned long long>(seq));
      return 1;
    }
  }
  const double ingest_s = seconds_since(ingest_start);

  // The 100 indicators: half of each kind present in the data, half absent
  // (executions are the odd events: their image and user numbers are odd).
  collector::CsirtConfig config;
  config.max_rows_per_indicator = 10'000'000;
  collector::AlertRouter router(collector::AlertRouterOptions{});
  collector::CsirtService service(config, "grif", csirt::Tlp::kAmber, store, router,
                                  std::chrono::hours(0), nullptr);
  csirt::CsirtStore& csirt_store = *store.csirt_store();
  std::vector<csirt::Indicator> indicators;
  auto add = [&](csirt::ObservableType type, const std::string& value) {
    csirt::Indicator i;
    i.type = type;
    i.value = *csirt::normalise(type, value);
    indicators.push_back(csirt_store.put_indicator(i));
  };
  for (uint32_t k = 0; k < 40; ++k) {
    const auto connect = event_at(uint64_t{k} * 2000, base);  // even: a connection
    add(csirt::ObservableType::kIp,
        k % 2 == 0 ? std::get<protocol::NetworkConnect>(connect.body).destination_ip
                   : "172.16.0." + std::to_string(k));
  }
  for (uint32_t k = 0; k < 10; ++k)
    add(csirt::ObservableType::kIp,
        (k % 2 == 0 ? "10." + std::to_string(k) + ".7.0/24" : "192.168." + std::to_string(k) + ".0/24"));
  for (uint32_t k = 0; k < 25; ++k)
    add(csirt::ObservableType::kFileName,
        k % 2 == 0 ? "tool" + std::to_string((k * 37) | 1) : "xmrig" + std::to_string(k));
  for (uint32_t k = 0; k < 25; ++k)
    add(csirt::ObservableType::kUser,
        k % 2 == 0 ? "user" + std::to_string((k * 11) | 1) : "mallory" + std::to_string(k));

  // a. The retro-hunt.
  const long rss_before = peak_rss_mib();
  csirt::Retrohunt hunt;
  hunt.id = csirt::new_uuid();
  for (const auto& i : indicators) hunt.indicators.push_back(i.uuid);
  const auto hunt_start = Clock::now();
  hunt = service.run_retrohunt(hunt);
  const double hunt_s = seconds_since(hunt_start);
  const long rss_after = peak_rss_mib();

  // b. The baseline: every stored event read back and matched.
  double scan_s = 0;
  uint64_t scan_matches = 0, scanned = 0;
  if (arg.scan) {
    const csirt::IndicatorMatcher matcher(indicators, protocol::wall_clock_ns());
    const auto scan_start = Clock::now();
    sqlite3* raw = nullptr;
    sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(raw, "SELECT event FROM events", -1, &stmt, nullptr);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt, 0));
      const std::vector<uint8_t> blob(data, data + sqlite3_column_bytes(stmt, 0));
      const auto event = collector::stored_form::decode_event(blob, "bench");
      ++scanned;
      for (const auto& o : csirt::observables_of(event)) scan_matches += matcher.match(o).empty() ? 0 : 1;
    }
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
    scan_s = seconds_since(scan_start);
  }

  // c. The index's size.
  double index_mib = 0, total_mib = 0;
  {
    sqlite3* raw = nullptr;
    sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(raw,
                           "SELECT SUM(CASE WHEN name IN ('observables', 'observables_key', "
                           "'observables_time') THEN pgsize ELSE 0 END), SUM(pgsize) FROM dbstat",
                           -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      index_mib = sqlite3_column_double(stmt, 0) / (1 << 20);
      total_mib = sqlite3_column_double(stmt, 1) / (1 << 20);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
  }

  std::printf("csirt_retrohunt_bench: %llu events stored, %zu indicators\n",
              static_cast<unsigned long long>(arg.events), indicators.size());
  std::printf("  ingest (store_batch, observables included): %.1f s, %.0f events/s\n", ingest_s,
              arg.events / ingest_s);
  std::printf("  database %.0f MiB, of which the observables index %.0f MiB (%.0f%%)\n", total_mib,
              index_mib, total_mib > 0 ? 100 * index_mib / total_mib : 0);
  std::printf("  a. retro-hunt (index): %.3f s, %llu rows read, %llu sightings, truncated %s, state %s\n",
              hunt_s, static_cast<unsigned long long>(hunt.rows_scanned),
              static_cast<unsigned long long>(hunt.sightings), hunt.truncated ? "yes" : "no",
              hunt.state.c_str());
  std::printf("     peak RSS %ld MiB before the hunt, %ld MiB after (+%ld MiB)\n", rss_before,
              rss_after, rss_after - rss_before);
  if (arg.scan) {
    std::printf("  b. baseline, every event read and matched: %.1f s, %llu events, %llu matching observables\n",
                scan_s, static_cast<unsigned long long>(scanned),
                static_cast<unsigned long long>(scan_matches));
    std::printf("  ratio retro-hunt / full scan: %.5f (%.0fx faster)\n", hunt_s / scan_s,
                scan_s / hunt_s);
    if (scan_matches != hunt.rows_scanned)
      std::printf("  NOTE: the scan matched %llu observables, the retro-hunt read %llu rows\n",
                  static_cast<unsigned long long>(scan_matches),
                  static_cast<unsigned long long>(hunt.rows_scanned));
  }
  return hunt.state == "done" ? 0 : 1;
}
