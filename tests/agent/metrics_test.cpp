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

TEST(AgentMetrics, EachGpuHasItsEnergyAndPower) {
  AgentMetrics m;
  const uint64_t s = 1'000'000'000;
  auto gpu = [&](const char* zone, double joules) {
    return protocol::ZoneEnergy{10 * s, 12 * s, zone, protocol::EnergySource::kNvml, false, joules};
  };
  m.record_energy({gpu("gpu-0", 400),
                   gpu("gpu-1", 100),
                   {10 * s, 12 * s, "package-0", protocol::EnergySource::kRapl, false, 90}},
                  {});
  m.record_energy({gpu("gpu-0", 600), gpu("gpu-1", 100)}, {});
  const std::string text = exposition(m);
  for (const char* line :
       {"vigie_gpu_energy_joules_total{gpu=\"0\"} 1000",
        "vigie_gpu_energy_joules_total{gpu=\"1\"} 200", "vigie_gpu_power_watts{gpu=\"0\"} 300",
        "vigie_gpu_power_watts{gpu=\"1\"} 50"})
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  EXPECT_EQ(text.find("gpu=\"package"), std::string::npos) << text;
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

TEST(AgentMetrics, UplinkPerCollectorSeries) {
  AgentMetrics m;
  uplink::UplinkStats s;
  s.collectors = {{"10.0.0.1:9800", 4, 2, 1, false}, {"10.0.0.2:9800", 9, 0, 2, true}};
  m.set_uplink(s);
  s.collectors[0].send_failures_total = 3;
  m.set_uplink(s);
  const std::string text = exposition(m);
  for (const char* line :
       {"vigie_uplink_collector_batches_sent_total{collector=\"10.0.0.1:9800\"} 4",
        "vigie_uplink_collector_send_failures_total{collector=\"10.0.0.1:9800\"} 3",
        "vigie_uplink_collector_switches_total{collector=\"10.0.0.2:9800\"} 2",
        "vigie_uplink_collector_active{collector=\"10.0.0.1:9800\"} 0",
        "vigie_uplink_collector_active{collector=\"10.0.0.2:9800\"} 1"})
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
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
