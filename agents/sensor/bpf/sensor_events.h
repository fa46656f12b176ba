// Ring-buffer records shared by sensor.bpf.c (kernel) and the decoder (user
// space). Fixed-size little-endian layouts, no pointers: a record is read back
// byte for byte, and the decoder validates every length before use.
//
// Both sides see the __u8/__u16/__u32/__u64 types: the BPF side from vmlinux.h,
// the user side from <linux/types.h> (the user side never includes vmlinux.h).
#pragma once

#if !defined(__bpf__)
#include <linux/types.h>
#endif

// Values match vigie::protocol::EventKind. FILELESS_EXEC has no record of its
// own: it is an exec record with SENSOR_EXEC_FILELESS set (its drops are
// counted as exec drops), emitted by user space besides the process_exec.
enum sensor_event_kind {
  SENSOR_EVENT_PROCESS_EXEC = 0,
  SENSOR_EVENT_PROCESS_EXIT = 1,
  SENSOR_EVENT_NETWORK_CONNECT = 2,
  SENSOR_EVENT_PROCESS_FORK = 3,
  SENSOR_EVENT_NETWORK_ACCEPT = 4,
  SENSOR_EVENT_NETWORK_LISTEN = 5,
  SENSOR_EVENT_FILE_OPEN = 6,
  SENSOR_EVENT_PRIVILEGE_CHANGE = 7,
  SENSOR_EVENT_PTRACE = 8,
  SENSOR_EVENT_FILELESS_EXEC = 9,
  SENSOR_EVENT_KIND_COUNT = 10,
};

// Bounds of what the kernel copies for one exec. Powers of two, so that the
// BPF side can prove offsets in range by masking.
#define SENSOR_ARGS_MAX_BYTES 1024  // NUL-separated argv, cut beyond this
#define SENSOR_PATH_MAX_BYTES 4096  // PATH_MAX, including the terminating NUL
#define SENSOR_ARGV_MAX_ARGS 32     // enforced by the decoder when splitting argv
#define SENSOR_CWD_MAX_DEPTH 32     // path components walked for the cwd
#define SENSOR_NAME_MAX_BYTES 256   // NAME_MAX + 1: one dentry name

// sensor_exec.flags
#define SENSOR_EXEC_ARGV_TRUNCATED 0x1
#define SENSOR_EXEC_FILELESS 0x2        // the new image has no link left (memfd or deleted file)
#define SENSOR_EXEC_MEMFD 0x4           // ... and its dentry is a memfd_create(2) one ("memfd:")
#define SENSOR_EXEC_FAILED 0x8          // execve/execveat returned an error: see exec_errno
#define SENSOR_EXEC_CWD_TRUNCATED 0x10  // deeper than SENSOR_CWD_MAX_DEPTH or PATH_MAX

// sensor_connect.transport
#define SENSOR_TRANSPORT_TCP 0
#define SENSOR_TRANSPORT_UDP 1

// sensor_connect.family (the kernel's AF_* values)
#define SENSOR_AF_INET 2
#define SENSOR_AF_INET6 10

// AUDIT_UID_UNSET ((uid_t)-1, include/linux/audit.h): the process descends
// from no login (a daemon), or the kernel has no CONFIG_AUDITSYSCALL.
#define SENSOR_LOGIN_UID_UNSET 0xffffffffu

// Common prefix of every record.
struct sensor_header {
  __u64 time_boot_ns;   // bpf_ktime_get_boot_ns(): CLOCK_BOOTTIME
  __u64 cgroup_id;      // cgroup v2 id, bpf_get_current_cgroup_id()
  __u64 start_boot_ns;  // group_leader->start_boottime: process start, CLOCK_BOOTTIME
  __u32 pid;            // tgid
  __u32 ppid;           // real_parent->tgid
  __u32 uid;
  __u32 gid;
  __u32 kind;       // enum sensor_event_kind
  __u32 login_uid;  // task->loginuid (audit login uid); SENSOR_LOGIN_UID_UNSET when none
};

// Variable-length: `data` holds args_len bytes of argv (NUL-separated, the
// last one possibly cut), then filename_len bytes of the image path, then
// cwd_len bytes of the working directory, then exe_name_len bytes of the
// executable's dentry name (only for fileless execs), none NUL-terminated.
// The kernel emits only the fixed fields + the four lengths.
// A failed exec (SENSOR_EXEC_FAILED) has argv, filename (the path asked for)
// and no cwd: the caller's cwd is the same as its other events'.
struct sensor_exec {
  struct sensor_header hdr;
  __u32 args_len;      // <= SENSOR_ARGS_MAX_BYTES
  __u32 filename_len;  // < SENSOR_PATH_MAX_BYTES
  __u32 cwd_len;       // < SENSOR_PATH_MAX_BYTES
  __u32 exe_name_len;  // < SENSOR_NAME_MAX_BYTES
  __u32 flags;         // SENSOR_EXEC_*
  __s32 exec_errno;    // positive errno when SENSOR_EXEC_FAILED, else 0
  char data[SENSOR_ARGS_MAX_BYTES + 2 * SENSOR_PATH_MAX_BYTES + SENSOR_NAME_MAX_BYTES];
};

struct sensor_exit {
  struct sensor_header hdr;
  __u32 exit_code;  // task->signal->group_exit_code or task->exit_code: a wait(2) status
  __u32 reserved;
  // User and system CPU time of the thread group (dead threads + this last
  // one) as the scheduler tick sampled them: their ratio is right, their sum
  // is not (a task preempted between ticks is missed; on a busy node the sum
  // can be a fraction of the real time).
  __u64 utime_ns;
  __u64 stime_ns;
  // The thread group's precise CPU time (signal->sum_sched_runtime + this
  // thread's se.sum_exec_runtime), which the decoder splits in the ticks'
  // ratio, as getrusage(2) and wait4(2) do.
  __u64 runtime_ns;
};

// The process in the header is the parent.
struct sensor_fork {
  struct sensor_header hdr;
  __u64 child_start_boot_ns;
  __u32 child_pid;  // tgid of the new thread group
  __u32 reserved;
};

// connect (destination = remote, source = local when bound), accept (source =
// the peer, destination = the local socket), listen (source = local bound).
struct sensor_connect {
  struct sensor_header hdr;
  __u16 family;    // SENSOR_AF_INET or SENSOR_AF_INET6
  __u16 port;      // destination port, network byte order as in sockaddr
  __u8 transport;  // SENSOR_TRANSPORT_*
  __u8 reserved[1];
  __u16 source_port;  // host byte order (the kernel's skc_num); 0 when unknown
  __u8 addr[16];      // destination, IPv4 in the first 4 bytes, or IPv6, network byte order
  __u8 source_addr[16];
};

// sensor_file_open.flags are open(2)'s O_* as passed; path is what the caller
// passed (not resolved), cut at SENSOR_OPEN_PATH_MAX_BYTES - 1.
#define SENSOR_OPEN_PATH_MAX_BYTES 256
struct sensor_file_open {
  struct sensor_header hdr;
  __u32 flags;
  __s32 result;  // the fd (>= 0) or -errno
  __u32 path_len;
  __u32 reserved;
  char path[SENSOR_OPEN_PATH_MAX_BYTES];
};

// Watched path patterns (the `watched` array map, SENSOR_WATCH_MAX entries).
#define SENSOR_WATCH_MAX 32
#define SENSOR_WATCH_PATTERN_BYTES 64
#define SENSOR_WATCH_SUFFIX 0x1      // match the end of the path at a '/' boundary
#define SENSOR_WATCH_WRITE_ONLY 0x2  // only opens with O_WRONLY, O_RDWR, O_CREAT or O_TRUNC
struct sensor_watch {
  __u32 len;  // 0: unused slot (the array is packed: the first empty slot ends the scan)
  __u32 flags;
  char pattern[SENSOR_WATCH_PATTERN_BYTES];
};

// Indexes of the `counters` per-CPU array: losses that are no ring-buffer drop.
enum sensor_counter {
  SENSOR_COUNTER_PENDING_FULL = 0,  // a syscall's sys_enter state found the pending map full
  SENSOR_COUNTER_COUNT,
};

// sensor_privilege.syscall
enum sensor_priv_syscall {
  SENSOR_PRIV_SETUID = 0,
  SENSOR_PRIV_SETGID,
  SENSOR_PRIV_SETREUID,
  SENSOR_PRIV_SETREGID,
  SENSOR_PRIV_SETRESUID,
  SENSOR_PRIV_SETRESGID,
  SENSOR_PRIV_SETFSUID,
  SENSOR_PRIV_SETFSGID,
  SENSOR_PRIV_CAPSET,
  SENSOR_PRIV_SYSCALL_COUNT,
};

struct sensor_creds {
  __u32 uid, euid, gid, egid;
  __u64 cap_effective, cap_permitted;
};

// Credentials before (stashed at sys_enter) and after (at sys_exit).
struct sensor_privilege {
  struct sensor_header hdr;
  __u32 syscall;  // enum sensor_priv_syscall
  __s32 result;   // 0 or -errno (setfsuid/setfsgid: always 0, they return the old id)
  struct sensor_creds old_creds;
  struct sensor_creds new_creds;
};

struct sensor_ptrace {
  struct sensor_header hdr;
  __s64 request;  // PTRACE_*
  __u32 target_pid;
  __s32 result;  // 0 or -errno
};
