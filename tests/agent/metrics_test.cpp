#include "metrics.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

namespace vigie::agent {
namespace {

std::string exposition(const AgentMetrics& m) {
  return prometheus::TextSerializer().Serialize(m.registry()->Collect());
}

protocol::WorkloadEnergy job_energy(const std::string& id, double joules) {
  protocol::WorkloadEnergy w;
  w.start_ns = 0;
  w.end_ns = 1'000'000'000;  // one second
  w.workload = {protocol::WorkloadKind::kSlurmJob, id, "alice", "/slurm/uid_1000/job_" + id};
  w.energy_joules = joules;
  return w;
}

TEST(AgentMetrics, SumsRecordsOfOneWorkloadIntoOnePowerSeries) {
  AgentMetrics m;
  m.record_energy({}, {job_energy("42", 10), job_energy("42", 5)});  // two steps of job 42
  const std::string text = exposition(m);
  EXPECT_NE(text.find("vigie_workload_power_watts{estimated=\"false\",workload=\"42\","
                      "workload_kind=\"slurm_job\"} 15"),
            std::string::npos)
      << text;
}

TEST(AgentMetrics, FinishedWorkloadsLeaveTheExposition) {
  AgentMetrics m;
  m.record_energy({}, {job_energy("42", 10), job_energy("43", 10)});
  m.record_energy({}, {job_energy("43", 10)});  // job 42 ended
  const std::string text = exposition(m);
  EXPECT_EQ(text.find("workload=\"42\""), std::string::npos) << text;
  EXPECT_NE(text.find("vigie_workload_energy_joules_total{estimated=\"false\",workload=\"43\","
                      "workload_kind=\"slurm_job\"} 20"),
            std::string::npos)
      << text;
}

TEST(AgentMetrics, UplinkCountersFollowTheUplink) {
  AgentMetrics m;
  uplink::UplinkStats s;
  s.alerts_dropped_total = 3;
  s.queue_events = 7;
  m.set_uplink(s);
  s.alerts_dropped_total = 5;
  m.set_uplink(s);
  const std::string text = exposition(m);
  EXPECT_NE(text.find("vigie_uplink_alerts_dropped_total 5"), std::string::npos) << text;
  EXPECT_NE(text.find("vigie_uplink_queue_events 7"), std::string::npos) << text;
}

TEST(AgentMetrics, PowerReadErrorsAreExported) {
  AgentMetrics m;
  power::PowerSamplerStats stats;
  stats.rapl_read_errors = 2;
  stats.rapl_wraps = 1;
  m.set_power(stats);
  const std::string text = exposition(m);
  EXPECT_NE(text.find("vigie_power_read_errors_total{input=\"rapl\"} 2"), std::string::npos)
      << text;
  EXPECT_NE(text.find("vigie_power_rapl_wraps_total 1"), std::string::npos) << text;
}

}  // namespace
}  // namespace vigie::agent
