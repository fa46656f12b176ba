// The typed event and energy model every Vigie component speaks in memory.
// The wire form is vigie.v1 (protocol/proto/vigie/v1/batch.proto); codec.h converts.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vigie::protocol {

// What a cgroup resolves to (DESIGN.md "agents/workload").
enum class WorkloadKind : uint8_t {
  kHost = 0,           // processes outside any recognised workload
  kSlurmJob = 1,       // id = Slurm job id, user = job owner, account, step
  kSystemdUnit = 2,    // id = unit name, e.g. "sshd.service"
  kContainer = 3,      // id = 64-hex container id (docker, podman, containerd, cri-o)
  kUnattributed = 4,   // energy only: idle share not charged to any workload
  kKubernetesPod = 5,  // id = pod uid; a pod's own cgroup, outside any of its containers
};
inline constexpr int kWorkloadKindCount = 6;

// "host", "slurm_job", "systemd_unit", "container", "unattributed", "kubernetes_pod".
std::string_view to_string(WorkloadKind kind);
// Returns false when `text` names no kind.
bool parse_workload_kind(std::string_view text, WorkloadKind& kind);

struct Workload {
  WorkloadKind kind = WorkloadKind::kHost;
  std::string id = "host";  // job id, unit name, container id, pod uid, "host" or "unattributed"
  std::string user;         // job owner for Slurm jobs, empty otherwise
  std::string cgroup_path;  // relative to the cgroup mount, e.g. "/slurm/uid_0/job_42/step_0"
  std::string account;      // Slurm account when known locally, empty otherwise
  std::string step;         // Slurm step ("0", "batch", "extern", "interactive"), empty for the job
  std::string pod_uid;      // Kubernetes pod uid for containers and pods of a kubepods tree

  bool operator==(const Workload&) const = default;
};

// Every security event kind (DESIGN.md "The event model"). The enumerator is
// the index of the kind's struct in Event::body. agent_status travels as
// Batch::status, once per batch, not as an event.
enum class EventKind : uint8_t {
  kProcessExec = 0,
  kProcessExit = 1,
  kNetworkConnect = 2,
  kProcessFork = 3,
  kNetworkAccept = 4,
  kNetworkListen = 5,
  kFileOpen = 6,
  kPrivilegeChange = 7,
  kPtrace = 8,
  kFilelessExec = 9,
};
inline constexpr int kEventKindCount = 10;

// "process_exec", "process_exit", "network_connect", "process_fork", "network_accept",
// "network_listen", "file_open", "privilege_change", "ptrace", "fileless_exec".
std::string_view to_string(EventKind kind);
bool parse_event_kind(std::string_view text, EventKind& kind);

// The wall clock in ns since the Unix epoch (UTC): the time base of every
// time_ns, start_ns and end_ns in this model.
uint64_t wall_clock_ns();

// argv joined by single spaces, every argument kept (an empty argv[0] gives a
// leading space): the one definition of CommandLine for sensor, codec, rules.
std::string join_command_line(const std::vector<std::string>& argv);

// One ancestor of a process, nearest first in ProcessExec::ancestry.
struct Ancestor {
  uint32_t pid = 0;
  uint64_t start_ns = 0;  // process start, wall clock ns: (pid, start_ns) survives pid reuse
  std::string image;
  std::string command_line;

  bool operator==(const Ancestor&) const = default;
};

struct ProcessExec {
  std::string image;                // absolute path of the executed file (requested path if failed)
  std::vector<std::string> argv;    // bounded by the sensor (see argv_truncated)
  bool argv_truncated = false;      // true when the kernel side cut argv
  std::string command_line;         // join_command_line(argv)
  std::string parent_image;         // from the process table; empty if unknown
  std::string parent_command_line;  // from the process table; empty if unknown
  std::string cwd;                  // working directory at exec; empty if unknown
  std::string sha256;               // lowercase hex of the image, when hashing is enabled
  int32_t exec_errno = 0;           // 0: the exec succeeded; else errno of the failed execve
  std::vector<Ancestor> ancestry;   // parent first, bounded by the configured depth

  bool operator==(const ProcessExec&) const = default;
};

struct ProcessExit {
  int32_t exit_code = 0;       // WEXITSTATUS when the process exited normally
  int32_t signal = 0;          // terminating signal number, 0 when it exited normally
  std::string image;           // from the process table; empty if unknown
  uint64_t cpu_user_ns = 0;    // user CPU time of the whole thread group
  uint64_t cpu_system_ns = 0;  // system CPU time of the whole thread group

  bool operator==(const ProcessExit&) const = default;
};

// A new process (thread group) made by fork/clone/vfork; threads are not events.
// Event::pid is the parent.
struct ProcessFork {
  uint32_t child_pid = 0;
  uint64_t child_start_ns = 0;  // wall clock ns
  std::string image;            // of the parent, from the process table

  bool operator==(const ProcessFork&) const = default;
};

enum class Transport : uint8_t { kTcp = 0, kUdp = 1 };
std::string_view to_string(Transport transport);  // "tcp", "udp"

// Endpoints of a connection, with Sysmon's convention: source is the side that
// initiated it (this host for connect, the peer for accept); listen has only a
// source (the local address bound).
struct NetworkFlow {
  Transport transport = Transport::kTcp;
  bool ipv6 = false;
  std::string destination_ip;  // textual form, "127.0.0.1" or "::1"
  uint16_t destination_port = 0;
  std::string image;  // of the process, from the process table
  std::string source_ip;
  uint16_t source_port = 0;
  // Name the destination was looked up under (Sigma DestinationHostname); empty
  // when unknown. The eBPF sensor does not see DNS and leaves it empty.
  std::string destination_hostname;

  bool operator==(const NetworkFlow&) const = default;
};
struct NetworkConnect : NetworkFlow {  // outbound: connect(2), Sigma Initiated = true
  bool operator==(const NetworkConnect&) const = default;
};
struct NetworkAccept : NetworkFlow {  // inbound: accept(2)/accept4(2), Initiated = false
  bool operator==(const NetworkAccept&) const = default;
};
struct NetworkListen : NetworkFlow {  // listen(2) on source_ip:source_port
  bool operator==(const NetworkListen&) const = default;
};

// An open(2)/openat(2)/openat2(2) of a watched path (filtered in the kernel).
struct FileOpen {
  std::string path;       // as resolved by the sensor (absolute when it could be)
  uint32_t flags = 0;     // open(2) flags as passed (O_WRONLY, O_CREAT, ...)
  bool write = false;     // O_WRONLY or O_RDWR
  bool create = false;    // O_CREAT
  bool truncate = false;  // O_TRUNC
  std::string image;
  int32_t result = 0;  // 0 on success, else -errno

  bool operator==(const FileOpen&) const = default;
};

// setuid/setgid/setreuid/setregid/setresuid/setresgid/setfsuid/setfsgid/capset.
struct PrivilegeChange {
  std::string syscall;  // e.g. "setresuid", "capset"
  uint32_t old_uid = 0, old_euid = 0, old_gid = 0, old_egid = 0;
  uint32_t new_uid = 0, new_euid = 0, new_gid = 0, new_egid = 0;  // after the call
  uint64_t old_cap_effective = 0, new_cap_effective = 0;          // capability bit sets
  uint64_t old_cap_permitted = 0, new_cap_permitted = 0;
  std::string image;
  int32_t result = 0;  // 0 on success, else -errno (a refused attempt is an event too)

  bool operator==(const PrivilegeChange&) const = default;
};

// ptrace(2) with an attach-like request (PTRACE_ATTACH, PTRACE_SEIZE, PTRACE_TRACEME,
// PTRACE_POKE*) by the process in Event.
struct Ptrace {
  int64_t request = 0;  // PTRACE_* number
  uint32_t target_pid = 0;
  uint32_t target_uid = 0;  // real uid of the tracee
  std::string target_image;
  std::string image;   // of the tracer
  int32_t result = 0;  // 0 on success, else -errno

  bool operator==(const Ptrace&) const = default;
};

// Execution of a memfd or a deleted file; emitted besides the process_exec.
struct FilelessExec {
  std::string image;  // as the kernel names it, e.g. "/memfd:x (deleted)"
  std::vector<std::string> argv;
  std::string command_line;
  bool memfd = false;  // true for memfd_create(2) files, false for a deleted file

  bool operator==(const FilelessExec&) const = default;
};

// (uid_t)-1, the kernel's AUDIT_UID_UNSET: no login session.
inline constexpr uint32_t kLoginUidUnset = 0xffffffffu;

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
  std::variant<ProcessExec, ProcessExit, NetworkConnect, ProcessFork, NetworkAccept, NetworkListen,
               FileOpen, PrivilegeChange, Ptrace, FilelessExec>
      body;
  uint64_t process_start_ns = 0;  // start of `pid`, wall clock ns; 0 if unknown
  // Audit login uid (task loginuid, /proc/PID/loginuid): the user who logged in,
  // kept across su/sudo; kLoginUidUnset for daemons started outside a login.
  uint32_t login_uid = kLoginUidUnset;

  EventKind kind() const { return static_cast<EventKind>(body.index()); }
  bool operator==(const Event&) const = default;
};

// The image of the process behind any event ("" when unknown).
const std::string& image_of(const Event& event);

// Where a joule figure comes from.
enum class EnergySource : uint8_t { kRapl = 0, kEstimate = 1, kNvml = 2, kIpmi = 3 };
std::string_view to_string(EnergySource source);  // "rapl", "estimate", "nvml", "ipmi"
bool parse_energy_source(std::string_view text, EnergySource& source);

// Energy of one node power zone over one sampling interval.
struct ZoneEnergy {
  uint64_t start_ns = 0;  // interval, wall clock ns since epoch
  uint64_t end_ns = 0;
  // "package-0", "package-0/core", "package-0/dram", "psys", "gpu-0" (NVML),
  // "node" for IPMI DCMI wall power or the estimate
  std::string zone;
  EnergySource source = EnergySource::kRapl;
  bool estimated = false;  // true whenever source is kEstimate (or a counter was interpolated)
  double energy_joules = 0;
  // False for zones measured inside another one (RAPL core and uncore are
  // part of their package; psys overlaps everything): node energy is the sum
  // of the zones where this is true, never of all zones.
  bool in_node_total = true;

  bool operator==(const ZoneEnergy&) const = default;
};

// Energy attributed to one workload over one sampling interval, with carbon.
// energy_joules = cpu_joules + dram_joules + gpu_joules + idle_joules.
struct WorkloadEnergy {
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  Workload workload;
  double cpu_seconds = 0;  // CPU time the workload used in the interval
  double energy_joules = 0;
  double carbon_gco2e = 0;  // operational: energy x PUE x grid intensity
  bool estimated = false;
  double cpu_joules = 0;      // active package/core/uncore share, by CPU time
  double dram_joules = 0;     // DRAM share, by memory share
  double gpu_joules = 0;      // energy of the GPUs the workload holds
  double idle_joules = 0;     // idle share charged by allocated cores (site policy)
  double embodied_gco2e = 0;  // server manufacturing carbon amortised over its lifetime

  bool operator==(const WorkloadEnergy&) const = default;
};

// A workload that ended on this node (its cgroup went away): the collector
// totals the job's footprint when it receives this.
struct WorkloadEnd {
  uint64_t start_ns = 0;  // first seen by this agent, wall clock ns
  uint64_t end_ns = 0;    // when the agent saw it gone
  Workload workload;

  bool operator==(const WorkloadEnd&) const = default;
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

// The agent's own health, sent with every batch (DESIGN.md's agent_status).
struct AgentStatus {
  uint64_t ringbuf_drops_total = 0;   // events the kernel could not reserve
  uint64_t events_total = 0;          // events decoded since start
  uint64_t uplink_dropped_total = 0;  // events given up: rejected (4xx) or queue overflow
  std::string rule_pack_version;
  // Drops by where they happen, since start: "ringbuf.<event kind>",
  // "process_table.evicted", "uplink.events", ... (the agent's drop metrics).
  std::map<std::string, uint64_t> drops_by_source;
  uint64_t ringbuf_size_bytes = 0;
  uint64_t ringbuf_used_bytes = 0;     // at the time the batch was made
  std::vector<std::string> kinds_off;  // event kinds the sensor could not or may not run

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
  std::vector<WorkloadEnd> workload_ends;

  bool operator==(const Batch&) const = default;
};

}  // namespace vigie::protocol
