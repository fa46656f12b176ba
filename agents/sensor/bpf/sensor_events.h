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

// Values match vigie::protocol::EventKind.
enum sensor_event_kind {
  SENSOR_EVENT_PROCESS_EXEC = 0,
  SENSOR_EVENT_PROCESS_EXIT = 1,
  SENSOR_EVENT_NETWORK_CONNECT = 2,
  SENSOR_EVENT_KIND_COUNT = 3,
};

// Bounds of what the kernel copies for one exec. Powers of two, so that the
// BPF side can prove offsets in range by masking.
#define SENSOR_ARGS_MAX_BYTES 1024  // NUL-separated argv, cut beyond this
#define SENSOR_PATH_MAX_BYTES 4096  // PATH_MAX, including the terminating NUL
#define SENSOR_ARGV_MAX_ARGS 32     // enforced by the decoder when splitting argv

// sensor_exec.flags
#define SENSOR_EXEC_ARGV_TRUNCATED 0x1

// sensor_connect.transport
#define SENSOR_TRANSPORT_TCP 0
#define SENSOR_TRANSPORT_UDP 1

// sensor_connect.family (the kernel's AF_* values)
#define SENSOR_AF_INET 2
#define SENSOR_AF_INET6 10

// Common prefix of every record.
struct sensor_header {
  __u64 time_boot_ns;  // bpf_ktime_get_boot_ns(): CLOCK_BOOTTIME
  __u64 cgroup_id;     // cgroup v2 id, bpf_get_current_cgroup_id()
  __u32 pid;           // tgid
  __u32 ppid;          // real_parent->tgid
  __u32 uid;
  __u32 gid;
  __u32 kind;  // enum sensor_event_kind
  __u32 reserved;
};

// Variable-length: `data` holds args_len bytes of argv (NUL-separated, the
// last one possibly cut) followed by filename_len bytes of the image path (no
// NUL). The kernel emits only sizeof(header fields) + args_len + filename_len.
struct sensor_exec {
  struct sensor_header hdr;
  __u32 args_len;      // <= SENSOR_ARGS_MAX_BYTES
  __u32 filename_len;  // < SENSOR_PATH_MAX_BYTES
  __u32 flags;         // SENSOR_EXEC_*
  __u32 reserved;
  char data[SENSOR_ARGS_MAX_BYTES + SENSOR_PATH_MAX_BYTES];
};

struct sensor_exit {
  struct sensor_header hdr;
  __u32 exit_code;  // task->exit_code: (status << 8) | (core dump 0x80) | signal
  __u32 reserved;
};

struct sensor_connect {
  struct sensor_header hdr;
  __u16 family;    // SENSOR_AF_INET or SENSOR_AF_INET6
  __u16 port;      // destination port, network byte order as in sockaddr
  __u8 transport;  // SENSOR_TRANSPORT_*
  __u8 reserved[3];
  __u8 addr[16];  // IPv4 in the first 4 bytes, or IPv6, network byte order
};
