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

TEST(AgentMetrics, UplinkDropsByReasonBoundsAndSpool) {
  AgentMetrics m;
  std::string text = exposition(m);
  for (const char* reason : {"queue_full", "spool_full", "disk_full", "corrupt", "stopped"}) {
    const std::string line =
        "vigie_uplink_batches_dropped_total{reason=\"" + std::string(reason) + "\"} 0";
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  uplink::UplinkStats s;
  s.batches_dropped_by_reason = {
      {"queue_full", 1}, {"spool_full", 4}, {"disk_full", 2}, {"corrupt", 3}, {"stopped", 0}};
  s.batches_dropped_total = 10;
  s.queue_batches = 2;
  s.queue_batches_limit = 600;
  s.queue_events_limit = 100000;
  s.queue_bytes_limit = 33554432;
  s.pending_events = 12;
  s.pending_events_limit = 1000;
  s.spool_batches = 40;
  s.spool_bytes = 123456;
  s.spool_bytes_limit = 1073741824;
  s.spool_write_errors_total = 5;
  s.spool_replayed_batches_total = 38;
  m.set_uplink(s);
  s.batches_dropped_by_reason["spool_full"] = 6;
  m.set_uplink(s);
  m.set_process_table_limit(65536);
  m.set_sensor_health(100, 0, 0);
  text = exposition(m);
  for (const char* line :
       {"vigie_uplink_batches_dropped_total{reason=\"queue_full\"} 1",
        "vigie_uplink_batches_dropped_total{reason=\"spool_full\"} 6",
        "vigie_uplink_batches_dropped_total{reason=\"disk_full\"} 2",
        "vigie_uplink_batches_dropped_total{reason=\"corrupt\"} 3",
        "vigie_uplink_batches_dropped_total{reason=\"stopped\"} 0", "vigie_uplink_queue_batches 2",
        "vigie_uplink_queue_batches_limit 600", "vigie_uplink_queue_events_limit 100000",
        "vigie_uplink_queue_bytes_limit 33554432", "vigie_uplink_pending_events 12",
        "vigie_uplink_pending_events_limit 1000", "vigie_uplink_spool_batches 40",
        "vigie_uplink_spool_bytes 123456", "vigie_uplink_spool_bytes_limit 1073741824",
        "vigie_uplink_spool_write_errors_total 5", "vigie_uplink_spool_replayed_batches_total 38",
        "vigie_sensor_process_table_entries 100", "vigie_sensor_process_table_entries_limit 65536"})
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << text;
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
