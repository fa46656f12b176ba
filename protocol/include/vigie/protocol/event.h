// The typed event and energy model every Vigie component speaks in memory.
// The wire form is vigie.v1 (protocol/proto/vigie/v1/batch.proto); codec.h converts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vigie::protocol {

// What a cgroup resolves to (DESIGN.md "agents/workload").
enum class WorkloadKind : uint8_t {
  kHost = 0,          // processes outside any recognised workload
  kSlurmJob = 1,      // id = Slurm job id, user = job owner
  kSystemdUnit = 2,   // id = unit name, e.g. "sshd.service"
  kContainer = 3,     // id = 64-hex container id
  kUnattributed = 4,  // energy only: idle share not charged to any workload
};

std::string_view to_string(WorkloadKind kind);
// Returns false when `text` names no kind.
bool parse_workload_kind(std::string_view text, WorkloadKind& kind);

struct Workload {
  WorkloadKind kind = WorkloadKind::kHost;
  std::string id = "host";  // job id, unit name, container id, "host" or "unattributed"
  std::string user;         // job owner for Slurm jobs, empty otherwise
  std::string cgroup_path;  // relative to the cgroup mount, e.g. "/slurm/uid_0/job_42/step_0"

  bool operator==(const Workload&) const = default;
};

enum class EventKind : uint8_t {
  kProcessExec = 0,
  kProcessExit = 1,
  kNetworkConnect = 2,
};
inline constexpr int kEventKindCount = 3;

std::string_view to_string(EventKind kind);  // "process_exec", "process_exit", "network_connect"
bool parse_event_kind(std::string_view text, EventKind& kind);

// The wall clock in ns since the Unix epoch (UTC): the time base of every
// time_ns, start_ns and end_ns in this model.
uint64_t wall_clock_ns();

// argv joined by single spaces, every argument kept (an empty argv[0] gives a
// leading space): the one definition of CommandLine for sensor, codec, rules.
std::string join_command_line(const std::vector<std::string>& argv);

struct ProcessExec {
  std::string image;              // absolute path of the executed file
  std::vector<std::string> argv;  // bounded by the sensor (see argv_truncated)
  bool argv_truncated = false;    // true when the kernel side cut argv
  std::string
      command_line;  // The wall clock in ns since the Unix epoch (UTC): the time base of every
  // time_ns, start_ns and end_ns in this model.
  uint64_t wall_clock_ns();

  // argv joined by single spaces
  std::string parent_image;         // from the process table; empty if unknown
  std::string parent_command_line;  // from the process table; empty if unknown

  bool operator==(const ProcessExec&) const = default;
};

struct ProcessExit {
  int32_t exit_code = 0;  // WEXITSTATUS when the process exited normally
  int32_t signal = 0;     // terminating signal number, 0 when it exited normally
  std::string image;      // from the process table; empty if unknown

  bool operator==(const ProcessExit&) const = default;
};

enum class Transport : uint8_t { kTcp = 0, kUdp = 1 };
std::string_view to_string(Transport transport);  // "tcp", "udp"

struct NetworkConnect {
  Transport transport = Transport::kTcp;
  bool ipv6 = false;
  std::string destination_ip;  // textual form, "127.0.0.1" or "::1"
  uint16_t destination_port = 0;
  std::string image;  // of the connecting process, from the process table

  bool operator==(const NetworkConnect&) const = default;
};

// One security event. Fields common to every kind live here; kind-specific
// ones in `body`.
struct Event {
  uint64_t time_ns = 0;  // wall clock, ns since the Unix epoch (UTC)
  std::string site;
  std::string host;
  uint32_t pid = 0;  // tgid, as user space knows it
  uint32_t ppid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string user;        // name for uid, or the number when unknown
  uint64_t cgroup_id = 0;  // cgroup v2 id as bpf_get_current_cgroup_id() returns it
  Workload workload;
  std::variant<ProcessExec, ProcessExit, NetworkConnect> body;

  EventKind kind() const { return static_cast<EventKind>(body.index()); }
  bool operator==(const Event&) const = default;
};

// Where a joule figure comes from.
enum class EnergySource : uint8_t { kRapl = 0, kEstimate = 1 };
std::string_view to_string(EnergySource source);  // "rapl", "estimate"

// Energy of one node power zone over one sampling interval.
struct ZoneEnergy {
  uint64_t start_ns = 0;  // interval, wall clock ns since epoch
  uint64_t end_ns = 0;
  std::string zone;  // "package-0", "core", "dram", or "node" for the estimate
  EnergySource source = EnergySource::kRapl;
  bool estimated = false;  // true whenever source is kEstimate
  double energy_joules = 0;
  // False for zones measured inside another one (RAPL core and uncore are
  // part of their package; psys overlaps everything): node energy is the sum
  // of the zones where this is true, never of all zones.
  bool in_node_total = true;

  bool operator==(const ZoneEnergy&) const = default;
};

// Energy attributed to one workload over one sampling interval, with carbon.
struct WorkloadEnergy {
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  Workload workload;
  double cpu_seconds = 0;  // CPU time the workload used in the interval
  double energy_joules = 0;
  double carbon_gco2e = 0;  // energy x PUE x grid intensity
  bool estimated = false;

  bool operator==(const WorkloadEnergy&) const = default;
};

// A detection raised by a rule on one event.
struct Alert {
  std::string rule_id;  // Sigma rule `id`
  std::string rule_title;
  std::string level;  // Sigma level: informational, low, medium, high, critical
  std::vector<std::string> tags;
  Event event;  // the event that matched

  bool operator==(const Alert&) const = default;
};

// The agent's own health, sent with every batch.
struct AgentStatus {
  uint64_t ringbuf_drops_total = 0;   // events the kernel could not reserve
  uint64_t events_total = 0;          // events decoded since start
  uint64_t uplink_dropped_total = 0;  // events given up: rejected (4xx) or queue overflow
  std::string rule_pack_version;

  bool operator==(const AgentStatus&) const = default;
};

// What an agent sends in one POST. (agent_id, sequence) identifies it.
struct Batch {
  std::string agent_id;
  std::string site;
  std::string host;
  uint64_t sequence = 0;  // >= 1, strictly increasing per agent, across its restarts
  uint64_t sent_ns = 0;
  std::vector<Event> events;
  std::vector<ZoneEnergy> zone_energy;
  std::vector<WorkloadEnergy> workload_energy;
  std::vector<Alert> alerts;
  AgentStatus status;

  bool operator==(const Batch&) const = default;
};

}  // namespace vigie::protocol
