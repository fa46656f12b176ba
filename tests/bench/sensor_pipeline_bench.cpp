// The sensor's user-space pipeline per event on one core: decode a kernel
// record, enrich it (user name, process table with ancestry, workload) and
// evaluate the starter rules, as the agent's sensor thread does. Target:
// >= 300,000 events/s per core; the counters print events/s ("items_per_second").
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>
#include <vector>

#include "sensor_record.h"
#include "vigie/rules/engine.h"
#include "vigie/sensor/decoder.h"
#include "vigie/sensor/process_table.h"
#include "vigie/workload/layout.h"
#include "vigie/workload/resolver.h"
#include "vigie/workload/user_cache.h"

namespace {

namespace protocol = vigie::protocol;
namespace sensor = vigie::sensor;

// An exec storm's records: execs of common commands by one shell, each with
// the exit that follows.
std::vector<std::vector<uint8_t>> records() {
  std::vector<std::vector<uint8_t>> out;
  const std::pair<std::string, std::string> commands[] = {
      {std::string("gcc\0-O2\0-c\0main.c\0", 18), "/usr/bin/gcc"},
      {std::string("python3\0train.py\0--epochs\0"
                   "10\0",
                   27),
       "/usr/bin/python3"},
      {std::string("ls\0-la\0/scratch\0", 16), "/usr/bin/ls"},
      {std::string("srun\0-n\0"
                   "64\0./a.out\0",
                   20),
       "/usr/bin/srun"}};
  for (const auto& [args, image] : commands) {
    out.push_back(vigie::fuzz::exec_record(args, image));
    out.push_back(vigie::fuzz::exit_record(0));
  }
  return out;
}

void BM_DecodeEnrichRules(benchmark::State& state) {
  static const auto loaded =
      vigie::rules::load_rules(std::filesystem::path(VIGIE_SOURCE_DIR) / "rules/packs/starter");
  const auto& engine = *loaded.engine;
  const auto inputs = records();
  sensor::ProcessTable table("/proc", 65536);
  table.seed();
  vigie::workload::UserCache users;
  vigie::workload::Resolver resolver(vigie::workload::detect_layout());
  std::vector<protocol::Alert> alerts;
  size_t i = 0;
  for (auto _ : state) {
    const auto& record = inputs[i++ % inputs.size()];
    protocol::Event event;
    if (sensor::decode_record(record, 0, event) != sensor::DecodeError::kNone) {
      state.SkipWithError("decode failed");
      break;
    }
    event.user = users.name(event.uid);
    if (auto* exec = std::get_if<protocol::ProcessExec>(&event.body)) {
      exec->ancestry = table.ancestry(event.ppid, 0, 8);
      table.upsert(event.pid, {exec->image, exec->command_line, event.ppid, 0});
    } else if (auto* exit = std::get_if<protocol::ProcessExit>(&event.body)) {
      if (const auto* p = table.find(event.pid)) exit->image = p->image;
    }
    event.workload = resolver.resolve(event.cgroup_id, event.pid);
    alerts.clear();
    engine.evaluate(event, alerts);
    benchmark::DoNotOptimize(alerts.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_DecodeEnrichRules);

void BM_DecodeOnly(benchmark::State& state) {
  const auto inputs = records();
  size_t i = 0;
  for (auto _ : state) {
    protocol::Event event;
    benchmark::DoNotOptimize(sensor::decode_record(inputs[i++ % inputs.size()], 0, event));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_DecodeOnly);

}  // namespace
