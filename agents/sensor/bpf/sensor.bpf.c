// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Vigie sensor: process exec/exit and TCP/UDP connect, on tracepoints only
// (no kprobes, fentry or LSM, so it loads where those are unavailable).
// Records go to one ring buffer; failed reservations are counted per kind.
// vmlinux.h first: it defines the kernel types the other headers use.
// clang-format off
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "sensor_events.h"
// clang-format on

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define SOCK_STREAM 1
#define SOCK_DGRAM 2

// Set by the loader before load: events of this tgid are not emitted, so the
// agent does not observe its own activity (feedback loops). 0 disables.
const volatile __u32 self_tgid = 0;

// Set by the loader: wake the reader only once this many bytes wait in the
// ring buffer (0: after every record). The reader also drains the ring at
// each poll timeout, so a quiet node's events wait at most that long, and a
// busy one costs one wake-up per batch of records instead of per record.
const volatile __u64 wakeup_bytes = 0;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 << 20);  // resized by the loader before load
} events SEC(".maps");

// Failed ring-buffer writes, indexed by enum sensor_event_kind.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SENSOR_EVENT_KIND_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} drops SEC(".maps");

// An exec record is too large for the BPF stack: it is built here, then
// copied to the ring buffer with only the bytes actually used.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct sensor_exec);
} exec_scratch SEC(".maps");

static __always_inline void count_drop(__u32 kind) {
  __u64* n = bpf_map_lookup_elem(&drops, &kind);
  if (n) __sync_fetch_and_add(n, 1);
}

static __always_inline __u64 wakeup_flag(void) {
  if (wakeup_bytes == 0) return 0;
  return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
                                                                        : BPF_RB_NO_WAKEUP;
}

static __always_inline bool is_self(void) {
  return self_tgid != 0 && (__u32)(bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

static __always_inline void fill_header(struct sensor_header* h, __u32 kind,
                                        struct task_struct* task) {
  __u64 uid_gid = bpf_get_current_uid_gid();
  h->time_boot_ns = bpf_ktime_get_boot_ns();
  h->cgroup_id = bpf_get_current_cgroup_id();
  h->pid = bpf_get_current_pid_tgid() >> 32;
  h->ppid = BPF_CORE_READ(task, real_parent, tgid);
  h->uid = (__u32)uid_gid;
  h->gid = uid_gid >> 32;
  h->kind = kind;
  h->reserved = 0;
}

SEC("tracepoint/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec* ctx) {
  const __u32 kind = SENSOR_EVENT_PROCESS_EXEC;
  __u32 zero = 0;
  if (is_self()) return 0;
  struct sensor_exec* e = bpf_map_lookup_elem(&exec_scratch, &zero);
  if (!e) return 0;
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  fill_header(&e->hdr, kind, task);
  e->flags = 0;
  e->reserved = 0;

  // argv is one contiguous user-space region of NUL-terminated strings,
  // already written by the kernel for the new image.
  unsigned long arg_start = BPF_CORE_READ(task, mm, arg_start);
  unsigned long arg_end = BPF_CORE_READ(task, mm, arg_end);
  __u32 args_len = 0;
  if (arg_end > arg_start) {
    unsigned long n = arg_end - arg_start;
    if (n > SENSOR_ARGS_MAX_BYTES) {
      n = SENSOR_ARGS_MAX_BYTES;
      e->flags |= SENSOR_EXEC_ARGV_TRUNCATED;
    }
    if (bpf_probe_read_user(e->data, n, (const void*)arg_start) == 0) args_len = n;
  }
  e->args_len = args_len;

  // The filename follows argv; the mask proves the offset to the verifier
  // (args_len <= SENSOR_ARGS_MAX_BYTES, data holds ARGS + PATH bytes).
  __u32 name_off = ctx->__data_loc_filename & 0xFFFF;
  __u32 off = args_len & (2 * SENSOR_ARGS_MAX_BYTES - 1);
  if (off > SENSOR_ARGS_MAX_BYTES) return 0;
  long n =
      bpf_probe_read_kernel_str(&e->data[off], SENSOR_PATH_MAX_BYTES, (const char*)ctx + name_off);
  __u32 filename_len = n > 0 ? (__u32)(n - 1) & (SENSOR_PATH_MAX_BYTES - 1) : 0;
  e->filename_len = filename_len;

  __u64 size = offsetof(struct sensor_exec, data) + off + filename_len;
  if (size > sizeof(*e)) return 0;
  if (bpf_ringbuf_output(&events, e, size, wakeup_flag()) != 0) count_drop(kind);
  return 0;
}

// Fires for every exiting thread; a process has exited when its last thread
// does (signal->live has already been decremented at this point).
SEC("tracepoint/sched/sched_process_exit")
int handle_exit(void* ctx) {
  const __u32 kind = SENSOR_EVENT_PROCESS_EXIT;
  if (is_self()) return 0;
  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  if (BPF_CORE_READ(task, signal, live.counter) != 0) return 0;
  struct sensor_exit* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count_drop(kind);
    return 0;
  }
  fill_header(&e->hdr, kind, task);
  e->exit_code = BPF_CORE_READ(task, exit_code);
  e->reserved = 0;
  bpf_ringbuf_submit(e, wakeup_flag());
  return 0;
}

// SOCK_STREAM / SOCK_DGRAM of the socket behind `fd` of the current task,
// or -1 when fd is not an open socket.
static __always_inline int socket_type(struct task_struct* task, int fd) {
  struct fdtable* fdt = BPF_CORE_READ(task, files, fdt);
  if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds)) return -1;
  struct file** fds = BPF_CORE_READ(fdt, fd);
  struct file* file = NULL;
  if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) != 0 || !file) return -1;
  umode_t mode = BPF_CORE_READ(file, f_inode, i_mode);
  if ((mode & S_IFMT) != S_IFSOCK) return -1;
  struct socket* sock = BPF_CORE_READ(file, private_data);
  if (!sock) return -1;
  return BPF_CORE_READ(sock, type);
}

SEC("tracepoint/syscalls/sys_enter_connect")
int handle_connect(struct trace_event_raw_sys_enter* ctx) {
  const __u32 kind = SENSOR_EVENT_NETWORK_CONNECT;
  if (is_self()) return 0;
  int fd = (int)ctx->args[0];
  const void* uaddr = (const void*)ctx->args[1];
  int addrlen = (int)ctx->args[2];

  __u16 family = 0;
  if (bpf_probe_read_user(&family, sizeof(family), uaddr) != 0) return 0;
  __u16 port = 0;
  __u8 addr[16] = {};
  if (family == SENSOR_AF_INET) {
    struct sockaddr_in sin;
    if (addrlen < (int)sizeof(sin) || bpf_probe_read_user(&sin, sizeof(sin), uaddr) != 0) return 0;
    port = sin.sin_port;
    __builtin_memcpy(addr, &sin.sin_addr, 4);
  } else if (family == SENSOR_AF_INET6) {
    // The kernel accepts the RFC 2133 length (no sin6_scope_id): read that much.
    const int rfc2133_len = offsetof(struct sockaddr_in6, sin6_scope_id);
    struct sockaddr_in6 sin6 = {};
    if (addrlen < rfc2133_len || bpf_probe_read_user(&sin6, rfc2133_len, uaddr) != 0) return 0;
    port = sin6.sin6_port;
    __builtin_memcpy(addr, &sin6.sin6_addr, 16);
  } else {
    return 0;  // AF_UNIX, AF_NETLINK, AF_UNSPEC (disconnect), ...
  }

  struct task_struct* task = (struct task_struct*)bpf_get_current_task();
  int type = socket_type(task, fd);
  __u8 transport;
  if (type == SOCK_STREAM)
    transport = SENSOR_TRANSPORT_TCP;
  else if (type == SOCK_DGRAM)
    transport = SENSOR_TRANSPORT_UDP;
  else
    return 0;  // raw/seqpacket sockets, or fd is not a socket

  struct sensor_connect* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count_drop(kind);
    return 0;
  }
  fill_header(&e->hdr, kind, task);
  e->family = family;
  e->port = port;
  e->transport = transport;
  e->reserved[0] = e->reserved[1] = e->reserved[2] = 0;
  __builtin_memcpy(e->addr, addr, sizeof(addr));
  bpf_ringbuf_submit(e, wakeup_flag());
  return 0;
}
