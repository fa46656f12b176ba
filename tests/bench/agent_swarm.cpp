// vigie_agent_swarm: N simulated agents in one process for the soak
// (tests/integration/soak_test.cpp, tests/bench/soak.sh). Each agent is a real
// vigie::uplink::Uplink (its own agent id and host "swarm-<i>", its own spool
// directory, its own threads) fed process_exec events whose command
// lines are unique markers "swarm <run> <i> <n>" (n = 0, 1, … per agent) at a
// fixed rate, plus one zone energy record per agent every energy interval.
// After --duration seconds it stops generating, waits (bounded) until every
// uplink has delivered everything (nothing pending, queued or spooled), stops
// the uplinks and writes a JSON report: what was generated per agent, the
// uplinks' delivery and drop counters summed (UplinkStats), and its own peak
// RSS with the bound its queue limits imply. Exit status 0 once the report is
// written (the caller judges it), 1 on a usage or start-up error.
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "vigie/protocol/event.h"
#include "vigie/protocol/http_client.h"
#include "vigie/uplink/uplink.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using vigie::protocol::Event;
using vigie::protocol::ProcessExec;
using vigie::protocol::ZoneEnergy;

// Upper estimates used for the RSS bound (see rss_bound_kib in the report):
// an Event with a ProcessExec body as the uplink holds it before sealing
// (sizeof(Event), argv's four strings and the command line, allocator slack),
// and what one uplink costs besides its queues (its sender and spool threads'
// touched stacks, its objects, zstd and Beast buffers of one request, a glibc
// arena's share: the 1,000-agent soak peaks at about 85 MiB in all, i.e.
// under 90 KiB per uplink, rounded up about 3x).
constexpr std::size_t kEventMemoryBytes = 1536;
constexpr std::size_t kPerUplinkBytes = 256 << 10;
// Stack of every thread the process starts (each uplink's sender, seal timer
// and spool writer): 1 MiB instead of glibc's 8 MiB default (RLIMIT_STACK), so
// that 3,000 threads reserve 3 GiB of address space, not 24 GiB. The
// uplink's threads hold no large stack buffers.
constexpr std::size_t kThreadStackBytes = 1 << 20;

// "VmRSS" or "VmHWM" of this process, KiB; 0 if unreadable.
long status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return 0;
}

struct Agent {
  std::string host;
  std::unique_ptr<vigie::uplink::Uplink> uplink;
  uint64_t events = 0;          // generated (markers 0 … events - 1)
  uint64_t energy_records = 0;  // generated
  uint64_t last_energy_ns = 0;
};

Event make_event(const std::string& site, const Agent& agent, const std::string& run,
                 std::size_t index, uint64_t n) {
  Event event;
  event.time_ns = vigie::protocol::wall_clock_ns();
  event.site = site;
  event.host = agent.host;
  event.pid = static_cast<uint32_t>(1000 + n % 4000000);
  event.ppid = 1;
  event.uid = 1000;
  event.gid = 1000;
  event.user = "swarm";
  event.process_start_ns = event.time_ns;
  ProcessExec exec;
  exec.image = "/usr/bin/swarm";
  exec.argv = {"swarm", run, std::to_string(index), std::to_string(n)};
  exec.command_line = vigie::protocol::join_command_line(exec.argv);
  exec.parent_image = "/usr/sbin/slurmstepd";
  exec.cwd = "/home/swarm";
  event.body = std::move(exec);
  return event;
}

// One energy record for agent `a` covering (last, now]: a steady 100 W node.
void add_energy(Agent& a) {
  const uint64_t now = vigie::protocol::wall_clock_ns();
  ZoneEnergy zone;
  zone.start_ns = a.last_energy_ns;
  zone.end_ns = now;
  zone.zone = "node";
  zone.source = vigie::protocol::EnergySource::kEstimate;
  zone.estimated = true;
  zone.energy_joules = 100.0 * static_cast<double>(now - a.last_energy_ns) / 1e9;
  a.last_energy_ns = now;
  a.uplink->add_energy({zone}, {});
  ++a.energy_records;
}

bool drained(const vigie::uplink::UplinkStats& s) {
  return s.pending_events == 0 && s.queue_batches == 0 && s.spool_batches == 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigie_agent_swarm: N simulated agents (real uplinks) for the soak"};
  std::string collector_url;
  std::string token_file;
  std::string site = "swarm";
  std::string run = "run";
  std::size_t agents = 1000;
  double duration_s = 60;
  double rate = 2;  // events per second per agent
  int flush_ms = 3000;
  int energy_ms = 5000;
  std::string spool_dir;
  bool spool_sync = false;
  uint64_t spool_max_bytes = 64ull << 20;
  std::size_t max_queue_bytes = 256 << 10;
  std::size_t max_batch_events = 100;
  int max_backoff_ms = 5000;
  double drain_timeout_s = 90;
  unsigned generators = 2;
  std::string report_path;
  app.add_option("--collector", collector_url, "collector URL, http://HOST:PORT")->required();
  app.add_option("--token-file", token_file, "file holding the agent token")->required();
  app.add_option("--site", site, "site of every agent");
  app.add_option("--run", run, "run id, the second word of every marker (no spaces)");
  app.add_option("--agents", agents, "simulated agents")->check(CLI::Range(1, 100000));
  app.add_option("--duration", duration_s, "seconds of generation")->check(CLI::PositiveNumber);
  app.add_option("--rate", rate, "process_exec events per second per agent")
      ->check(CLI::PositiveNumber);
  app.add_option("--flush-ms", flush_ms, "uplink flush_interval, ms")->check(CLI::Range(10, 60000));
  app.add_option("--energy-ms", energy_ms, "one energy record per agent this often, ms")
      ->check(CLI::Range(100, 600000));
  app.add_option("--spool-dir", spool_dir,
                 "spool base directory (agent i spools in DIR/swarm-<i>); empty: memory only");
  app.add_flag("--spool-sync,!--no-spool-sync", spool_sync,
               "fsync spool writes (default off: 1,000 agents share one disk here)");
  app.add_option("--spool-max-bytes", spool_max_bytes, "spool bound per agent, bytes");
  app.add_option("--max-queue-bytes", max_queue_bytes,
                 "uplink max_queue_bytes per agent (memory bound of waiting batches)");
  app.add_option("--max-batch-events", max_batch_events, "uplink max_batch_events");
  app.add_option("--max-backoff-ms", max_backoff_ms, "uplink max_backoff, ms");
  app.add_option("--drain-timeout", drain_timeout_s, "seconds to wait for every uplink to drain");
  app.add_option("--generators", generators, "threads generating events")->check(CLI::Range(1, 64));
  app.add_option("--report", report_path, "JSON report path (default: stdout)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  std::string token;
  {
    std::ifstream in(token_file);
    if (!std::getline(in, token) || token.empty()) {
      std::cerr << "cannot read a token from " << token_file << "\n";
      return 1;
    }
  }
  const auto parsed = vigie::protocol::Endpoint::parse(collector_url);
  if (!parsed) {
    std::cerr << parsed.error() << "\n";
    return 1;
  }
  const vigie::protocol::Endpoint endpoint = *parsed;

  // Each uplink opens one connection per request (protocol::send), plus spool
  // files: raise the descriptor limit to its hard limit.
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);
  pthread_attr_t attr;
  ::pthread_attr_init(&attr);
  ::pthread_attr_setstacksize(&attr, kThreadStackBytes);
  ::pthread_setattr_default_np(&attr);
  ::pthread_attr_destroy(&attr);

  const long rss_before_kib = status_kib("VmRSS");
  std::vector<Agent> swarm(agents);
  for (std::size_t i = 0; i < agents; ++i) {
    Agent& a = swarm[i];
    a.host = "swarm-" + std::to_string(i);
    vigie::uplink::UplinkOptions options;
    options.endpoint = endpoint;
    options.token = token;
    options.agent_id = a.host;
    options.site = site;
    options.host = a.host;
    options.flush_interval = std::chrono::milliseconds(flush_ms);
    options.max_batch_events = max_batch_events;
    options.max_queue_bytes = max_queue_bytes;
    options.max_backoff = std::chrono::milliseconds(max_backoff_ms);
    if (!spool_dir.empty()) {
      options.spool_dir = (fs::path(spool_dir) / a.host).string();
      options.spool_max_bytes = spool_max_bytes;
      options.spool_sync = spool_sync;
      std::error_code ec;
      fs::create_directories(options.spool_dir, ec);
    }
    a.last_energy_ns = vigie::protocol::wall_clock_ns();
    try {
      a.uplink = std::make_unique<vigie::uplink::Uplink>(std::move(options), nullptr);
    } catch (const std::exception& e) {
      std::cerr << "agent " << a.host << ": " << e.what() << "\n";
      return 1;
    }
  }

  // Generation: each thread serves a slice of agents; agent i's n-th event is
  // due at (n + i / agents) / rate seconds, which spreads the agents' events
  // evenly over each period.
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(duration_s));
  const auto energy_every = std::chrono::milliseconds(energy_ms);
  std::vector<std::thread> threads;
  for (unsigned g = 0; g < generators; ++g) {
    threads.emplace_back([&, g] {
      const std::size_t first = agents * g / generators;
      const std::size_t last = agents * (g + 1) / generators;
      auto next_energy = start + energy_every;
      for (;;) {
        const auto now = std::min(Clock::now(), end);
        const double elapsed = std::chrono::duration<double>(now - start).count();
        for (std::size_t i = first; i < last; ++i) {
          Agent& a = swarm[i];
          const double due = elapsed * rate - static_cast<double>(i) / agents;
          const uint64_t target = due < 0 ? 0 : static_cast<uint64_t>(std::floor(due)) + 1;
          while (a.events < target) a.uplink->add_event(make_event(site, a, run, i, a.events++));
        }
        if (now >= next_energy) {
          for (std::size_t i = first; i < last; ++i) add_energy(swarm[i]);
          next_energy += energy_every;
        }
        if (now >= end) break;
        std::this_thread::sleep_for(20ms);
      }
      for (std::size_t i = first; i < last; ++i) add_energy(swarm[i]);  // the tail interval
    });
  }
  for (auto& t : threads) t.join();
  const auto generated_at = Clock::now();

  // Drain: nothing pending, queued or spooled anywhere, checked once every
  // uplink has had two flush intervals to seal what the generators added last.
  const auto drain_deadline = generated_at + std::chrono::duration_cast<Clock::duration>(
                                                 std::chrono::duration<double>(drain_timeout_s));
  const auto settle = generated_at + 2 * std::chrono::milliseconds(flush_ms);
  bool all_drained = false;
  std::size_t undrained = agents;
  for (;;) {
    const auto now = Clock::now();
    if (now >= settle) {
      undrained = 0;
      for (const auto& a : swarm) undrained += drained(a.uplink->stats()) ? 0 : 1;
      if (undrained == 0) {
        all_drained = true;
        break;
      }
    }
    if (now >= drain_deadline) break;
    std::this_thread::sleep_for(250ms);
  }
  const double drain_s = std::chrono::duration<double>(Clock::now() - generated_at).count();

  nlohmann::json report;
  uint64_t events = 0, energy = 0;
  nlohmann::json per_agent = nlohmann::json::array();
  for (const auto& a : swarm) {
    events += a.events;
    energy += a.energy_records;
    per_agent.push_back(
        {{"host", a.host}, {"events", a.events}, {"energy_records", a.energy_records}});
  }
  // Stop every uplink (left over: counted "stopped" without a spool, kept
  // spooled with one), then sum their counters.
  uint64_t sent = 0, rejected = 0, dropped = 0, events_dropped = 0, energy_dropped = 0,
           failures = 0, write_errors = 0, replayed = 0, left_batches = 0;
  std::map<std::string, uint64_t> by_reason;
  for (auto& a : swarm) {
    const auto before = a.uplink->stats();
    left_batches += before.queue_batches + before.spool_batches;
    a.uplink->stop(1s);
  }
  for (const auto& a : swarm) {
    const auto s = a.uplink->stats();
    sent += s.batches_sent_total;
    rejected += s.batches_rejected_total;
    dropped += s.batches_dropped_total;
    events_dropped += s.events_dropped_total;
    energy_dropped += s.energy_records_dropped_total;
    failures += s.send_failures_total;
    write_errors += s.spool_write_errors_total;
    replayed += s.spool_replayed_batches_total;
    for (const auto& [reason, n] : s.batches_dropped_by_reason) by_reason[reason] += n;
  }
  swarm.clear();  // joins every thread before the peak is read

  const long peak_kib = status_kib("VmHWM");
  const long bound_kib =
      rss_before_kib +
      static_cast<long>(agents *
                        (max_queue_bytes + max_batch_events * kEventMemoryBytes + kPerUplinkBytes) /
                        1024);
  report = {
      {"run", run},
      {"agents", agents},
      {"duration_s", duration_s},
      {"rate_per_agent", rate},
      {"flush_ms", flush_ms},
      {"spool",
       spool_dir.empty() ? "off (memory only)" : (spool_sync ? "on, fsync" : "on, no fsync")},
      {"events_generated", events},
      {"energy_records_generated", energy},
      {"drained", all_drained},
      {"undrained_agents", undrained},
      {"undelivered_batches_at_stop", left_batches},
      {"drain_seconds", drain_s},
      {"batches_sent", sent},
      {"batches_rejected", rejected},
      {"batches_dropped", dropped},
      {"batches_dropped_by_reason", by_reason},
      {"events_dropped", events_dropped},
      {"energy_records_dropped", energy_dropped},
      {"send_failures", failures},
      {"spool_write_errors", write_errors},
      {"spool_replayed_batches", replayed},
      {"rss_before_uplinks_kib", rss_before_kib},
      {"peak_rss_kib", peak_kib},
      {"rss_bound_kib", bound_kib},
      {"per_agent", per_agent},
  };
  if (report_path.empty()) {
    std::cout << report.dump(1) << "\n";
  } else {
    const std::string tmp = report_path + ".tmp";
    std::ofstream(tmp) << report.dump(1) << "\n";
    fs::rename(tmp, report_path);
  }
  return 0;
}
