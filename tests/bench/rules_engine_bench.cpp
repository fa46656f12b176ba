// Rule evaluation throughput on one core: the whole SigmaHQ Linux corpus plus
// every pack under rules/packs, on an event mix of a busy batch node (common
// commands, compilers, MPI, Python; connections; watched file opens) with 1%
// of events built from the rules' own selections (alerts). Prints events/s of
// Engine::evaluate (compiled, Hyperscan-prefiltered) and of
// Engine::evaluate_naive (every rule of the kind, one by one), and their ratio.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <random>

#include "vigie/rules/engine.h"

namespace {

namespace fs = std::filesystem;
namespace protocol = vigie::protocol;
namespace rules = vigie::rules;

std::shared_ptr<const rules::Engine> load_engine() {
  const fs::path root(VIGIE_SOURCE_DIR);
  std::vector<fs::path> paths = {root / ".." / "shared" / "corpus" / "sigmahq" / "linux"};
  for (const auto& pack : fs::directory_iterator(root / "rules" / "packs")) {
    if (pack.is_directory()) paths.push_back(pack.path());
  }
  const rules::LoadResult result = rules::load_rules(paths);
  std::cout << "rules: " << result.summary() << ", prefilter literals "
            << result.engine->prefilter_literals() << ", always evaluated "
            << result.engine->unfiltered_rules() << "\n";
  return result.engine;
}

protocol::Event exec(std::string image, std::string command_line, std::string parent,
                     std::string parent_command_line) {
  protocol::Event event;
  event.host = "node042";
  event.site = "site-a";
  event.pid = 31337;
  event.ppid = 31000;
  event.uid = 1000;
  event.user = "alice";
  event.workload = {protocol::WorkloadKind::kSlurmJob, "881234", "alice",
                    "/slurm/uid_1000/job_881234/step_0"};
  protocol::ProcessExec body;
  body.image = std::move(image);
  body.command_line = std::move(command_line);
  body.parent_image = std::move(parent);
  body.parent_command_line = std::move(parent_command_line);
  body.cwd = "/scratch/alice/run7";
  event.body = std::move(body);
  return event;
}

std::vector<protocol::Event> event_mix(const rules::Engine& engine) {
  std::vector<protocol::Event> benign = {
      exec("/usr/bin/bash", "/bin/bash /var/spool/slurmd/job881234/slurm_script",
           "/usr/sbin/slurmstepd", "slurmstepd: [881234.batch]"),
      exec("/usr/bin/srun", "srun --mpi=pmix -n 128 ./lammps -in in.lj", "/usr/bin/bash",
           "/bin/bash slurm_script"),
      exec("/scratch/alice/lammps/build/lmp", "./lammps -in in.lj -var x 4", "/usr/bin/srun",
           "srun --mpi=pmix -n 128 ./lammps"),
      exec("/usr/bin/python3.11",
           "python3 train.py --epochs 40 --lr 3e-4 --data /scratch/alice/imagenet", "/usr/bin/bash",
           "bash run.sh"),
      exec("/usr/bin/gcc", "gcc -O2 -march=native -c kernel.c -o kernel.o", "/usr/bin/make",
           "make -j16"),
      exec("/usr/bin/make", "make -j16 all", "/usr/bin/bash", "bash"),
      exec("/usr/bin/ls", "ls -la /scratch/alice/run7", "/usr/bin/bash", "-bash"),
      exec("/usr/bin/cat", "cat /proc/cpuinfo", "/usr/bin/bash", "bash"),
      exec("/usr/bin/grep", "grep -c processor /proc/cpuinfo", "/usr/bin/bash", "bash"),
      exec("/usr/bin/mkdir", "mkdir -p /scratch/alice/run7/out", "/usr/bin/bash", "bash"),
      exec("/usr/bin/rsync", "rsync -a results/ /work/alice/results/", "/usr/bin/bash", "bash"),
      exec("/usr/bin/git", "git rev-parse HEAD", "/usr/bin/python3.11", "python3 setup.py"),
      exec("/usr/bin/env", "env python3 -m pip list", "/usr/bin/bash", "bash"),
      exec("/usr/bin/nvidia-smi", "nvidia-smi --query-gpu=utilization.gpu --format=csv",
           "/usr/bin/python3.11", "python3 monitor.py"),
      exec("/usr/lib/slurm/slurmstepd", "slurmstepd: [881234.0]", "/usr/sbin/slurmd",
           "/usr/sbin/slurmd -D"),
      exec("/usr/bin/tar", "tar xzf dataset.tar.gz -C /scratch/alice", "/usr/bin/bash", "bash"),
  };
  for (int i = 0; i < 4; ++i) {
    protocol::Event connect = benign[0];
    connect.body = protocol::NetworkConnect{
        {protocol::Transport::kTcp, false, "10.2.0." + std::to_string(10 + i),
         static_cast<uint16_t>(i ? 6818 : 443), "/usr/bin/python3.11", "10.2.0.42", 40000}};
    benign.push_back(connect);
    protocol::Event open = benign[0];
    protocol::FileOpen body;
    body.path = i % 2 ? "/etc/passwd" : "/etc/hosts";
    body.image = "/usr/bin/python3.11";
    open.body = body;
    benign.push_back(open);
  }
  std::vector<protocol::Event> alerting;
  for (std::size_t r = 0; r < engine.rules().size(); ++r) {
    const auto examples = engine.examples(r);
    if (!examples.empty()) alerting.push_back(examples.front());
  }
  std::mt19937 random(42);
  std::vector<protocol::Event> mix;
  for (int i = 0; i < 10'000; ++i) {
    if (i % 100 == 0 && !alerting.empty()) {
      mix.push_back(alerting[random() % alerting.size()]);
    } else {
      mix.push_back(benign[random() % benign.size()]);
    }
  }
  return mix;
}

std::map<std::string, double> rates;  // benchmark name -> events/s

template <bool kCompiled>
void evaluate(benchmark::State& state, const rules::Engine* engine,
              const std::vector<protocol::Event>* events) {
  std::vector<protocol::Alert> alerts;
  std::size_t i = 0, raised = 0;
  for (auto _ : state) {
    alerts.clear();
    if constexpr (kCompiled) {
      engine->evaluate((*events)[i], alerts);
    } else {
      engine->evaluate_naive((*events)[i], alerts);
    }
    raised += alerts.size();
    if (++i == events->size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["alerts_per_event"] =
      benchmark::Counter(static_cast<double>(raised) / static_cast<double>(state.iterations()));
}

class RateReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      // With --benchmark_repetitions, the mean of the repetitions.
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "mean") continue;
      const auto it = run.counters.find("items_per_second");
      if (it != run.counters.end()) rates[run.run_name.function_name] = it->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const auto engine = load_engine();
  const std::vector<protocol::Event> events = event_mix(*engine);
  benchmark::RegisterBenchmark("compiled_prefiltered", evaluate<true>, engine.get(), &events);
  benchmark::RegisterBenchmark("naive_rule_by_rule", evaluate<false>, engine.get(), &events);
  benchmark::Initialize(&argc, argv);
  RateReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const double compiled = rates["compiled_prefiltered"], naive = rates["naive_rule_by_rule"];
  if (compiled > 0 && naive > 0) {
    std::cout << "events/s per core: compiled " << static_cast<long>(compiled) << ", naive "
              << static_cast<long>(naive) << "; ratio compiled/naive " << compiled / naive << "\n";
  }
  benchmark::Shutdown();
  return 0;
}
