// Decoding of the sensor's ring-buffer records (agents/sensor/bpf/sensor_events.h)
// into protocol::Event. Pure functions: no kernel, no I/O, unit-testable.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "vigie/protocol/event.h"

namespace vigie::sensor {

enum class DecodeError : uint8_t {
  kNone = 0,
  kTooShort,      // shorter than the fixed part of its kind
  kUnknownKind,   // header.kind is no sensor_event_kind
  kBadLength,     // a length field disagrees with the record size or its bound
  kBadFamily,     // connect record with neither AF_INET nor AF_INET6
  kBadTransport,  // connect record with an unknown transport
  kBadSyscall,    // privilege_change record with an unknown syscall
  kBadTime,       // a time or CPU time beyond 2^63 ns (what the wire and the stores hold)
};
std::string_view to_string(DecodeError error);

// Decodes one record. On success fills time_ns (boot time + boot_to_wall_ns),
// process_start_ns (likewise, 0 when the kernel gave none), pid, ppid, uid,
// gid, cgroup_id and the kernel-side body fields of every kind:
// - exec: image, argv (at most SENSOR_ARGV_MAX_ARGS, argv_truncated set when
//   the kernel or this bound cut it), command_line (argv joined by single
//   spaces), cwd, exec_errno (failed execs: image is the path asked for);
// - exit: exit_code, signal, cpu_user_ns, cpu_system_ns (adjust_cpu_time);
// - fork: child_pid, child_start_ns;
// - connect/accept/listen: transport, ipv6, destination and source ip/port
//   (connect: source only when already bound; listen: source only);
// - file_open: path (as passed, cut at 255 bytes), flags, write/create/
//   truncate, result (0 or -errno);
// - privilege_change: syscall name, old and new ids and capability sets, result;
// - ptrace: request, target_pid, result.
// Leaves site, host, workload, user and the process-table fields (images,
// parent, ancestry, sha256, ptrace target_uid/image) to the caller.
// An exec of a memfd or deleted file also fills `*fileless` when non-null
// (a FilelessExec with the same common fields); `*fileless_found` says so.
// On error `event` is unspecified.
DecodeError decode_record(std::span<const uint8_t> record, int64_t boot_to_wall_ns,
                          protocol::Event& event, protocol::Event* fileless = nullptr,
                          bool* fileless_found = nullptr);

// A process's CPU time split into user and system, in ns.
struct CpuTime {
  uint64_t user_ns = 0;
  uint64_t system_ns = 0;
};

// The kernel's split of a precise CPU time (`runtime_ns`, from the
// scheduler's sum_exec_runtime) in the ratio of the tick-sampled user and
// system times: cputime_adjust() in kernel/sched/cputime.c, which getrusage(2)
// and wait4(2) use. The samples alone undercount a task that is preempted
// between ticks (4.5x on a node with every core busy). All user when no
// system tick was sampled, and the reverse; the samples as they are when
// `runtime_ns` is 0.
CpuTime adjust_cpu_time(uint64_t utime_ns, uint64_t stime_ns, uint64_t runtime_ns);

// The name of a sensor_priv_syscall ("setuid", ..., "capset"), "" if unknown.
std::string_view privilege_syscall_name(uint32_t syscall);

// CLOCK_REALTIME - CLOCK_BOOTTIME now, in ns: added to a bpf_ktime_get_boot_ns()
// stamp it gives wall-clock ns since the Unix epoch. Re-read it periodically
// so that NTP steps of the wall clock are followed.
int64_t boot_to_wall_offset_ns();

}  // namespace vigie::sensor
