// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Vigie sensor: every event kind of DESIGN.md on tracepoints and raw
// tracepoints only (no kprobes, fentry or LSM, so it loads where those are
// unavailable). Records go to one ring buffer; failed reservations are counted
// per kind. Each kind's programs are loaded and attached apart by the loader,
// so that a kind the kernel refuses leaves the others running.
//
// Syscalls whose outcome matters (failed exec, file open, privilege change,
// ptrace) keep their sys_enter state in the per-thread `pending` map and emit
// at sys_exit; a full map is counted (SENSOR_COUNTER_PENDING_FULL).
// vmlinux.h first: it defines the kernel types the other headers use.
// clang-format off
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "sensor_events.h"
// clang-format on

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_TRUNC 01000
#define PTRACE_TRACEME 0
#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5
#define PTRACE_POKEUSER 6
#define PTRACE_ATTACH 16
#define PTRACE_SEIZE 0x4206

// Set by the loader before load: events of this tgid are not emitted, so the
// agent does not observe its own activity (feedback loops). 0 disables.
const volatile __u32 self_tgid = 0;

// Set by the loader: wake the reader only once this many bytes wait in the
// ring buffer (0: after every record). The reader also drains the ring at
// each poll timeout, so a quiet node's events wait at most that long, and a
// busy one costs one wake-up per batch of records instead of per record.
const volatile __u64 wakeup_bytes = 0;

// Set by the loader: when non-zero, only tasks in this cgroup v2 (by id) are
// observed. Lets a test attribute every drop to the processes it made.
const volatile __u64 only_cgroup_id = 0;

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

// Other losses, indexed by enum sensor_counter.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SENSOR_COUNTER_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

// Per-kind switch, indexed by enum sensor_event_kind: 1 emits, 0 is silent.
// Written by the loader; a program of a kind switched off costs one lookup.
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, SENSOR_EVENT_KIND_COUNT);
  __type(key, __u32);
  __type(value, __u32);
} kind_enabled SEC(".maps");

// Watched path patterns for file_open, packed from index 0 (written by the loader).
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, SENSOR_WATCH_MAX);
  __type(key, __u32);
  __type(value, struct sensor_watch);
} watched SEC(".maps");

// What a thread's pending syscall needs at sys_exit.
struct pending {
  __u32 kind;  // enum sensor_event_kind
  __u32 code;  // privilege: enum sensor_priv_syscall; file_open: flags
  __u64 arg0;  // exec: filename (user pointer); ptrace: request
  __u64 arg1;  // exec: argv (user pointer); ptrace: target tgid
  struct sensor_creds creds;
  __u32 path_len;
  __u32 reserved;
  char path[SENSOR_OPEN_PATH_MAX_BYTES];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64);  // pid_tgid of the thread in the syscall
  __type(value, struct pending);
} pending SEC(".maps");

// An exec record and a pending entry are too large for the BPF stack: they
// are built here, then copied out with only the bytes actually used.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct sensor_exec);
} exec_scratch SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct pending);
} pending_scratch SEC(".maps");

// The cwd is written backwards from the end of the first half; the second
// half lets the verifier see every masked write in bounds.
// The write position lives in the map value, not a register: the verifier
// then sees every iteration of the walk alike and prunes its states (a
// register's exact range would make each path through the loop a new state).
struct path_buf {
  __u32 pos;
  __u32 reserved;
  char data[2 * SENSOR_PATH_MAX_BYTES];
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct path_buf);
} path_scratch SEC(".maps");

static __always_inline void count_drop(__u32 kind) {
  __u64* n = bpf_map_lookup_elem(&drops, &kind);
  if (n) __sync_fetch_and_add(n, 1);
}

static __always_inline void count(__u32 counter) {
  __u64* n = bpf_map_lookup_elem(&counters, &counter);
  if (n) __sync_fetch_and_add(n, 1);
}

static __always_inline bool enabled(__u32 kind) {
  __u32* on = bpf_map_lookup_elem(&kind_enabled, &kind);
  return on && *on;
}

static __always_inline __u64 wakeup_flag(void) {
  if (wakeup_bytes == 0) return 0;
  return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
                                                                       : BPF_RB_NO_WAKEUP;
}

static __always_inline bool is_self(void) {
  return self_tgid != 0 && (__u32)(bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

// The common gate of every program: the kind is on and the caller is not us.
static __always_inline bool wanted(__u32 kind) {
  if (only_cgroup_id != 0 && bpf_get_current_cgroup_id() != only_cgroup_id) return false;
  return enabled(kind) && !is_self();
}

static __always_inline void fill_header(struct sensor_header* h, __u32 kind,
                                        struct task_struct* task) {
  __u64 uid_gid = bpf_get_current_uid_gid();
  h->time_boot_ns = bpf_ktime_get_boot_ns();
  h->cgroup_id = bpf_get_current_cgroup_id();
  h->start_boot_ns = BPF_CORE_READ(task, group_leader, start_boottime);
  h->pid = bpf_get_current_pid_tgid() >> 32;
  h->ppid = BPF_CORE_READ(task, real_parent, tgid);
  h->uid = (__u32)uid_gid;
  h->gid = uid_gid >> 32;
  h->kind = kind;
  // task->loginuid exists only with CONFIG_AUDITSYSCALL.
  h->login_uid = bpf_core_field_exists(task->loginuid) ? BPF_CORE_READ(task, loginuid.val)
                                                       : SENSOR_LOGIN_UID_UNSET;
}

static __always_inline struct task_struct* current_task(void) {
  return (struct task_struct*)bpf_get_current_task();
}

static __always_inline struct pending* scratch_pending(__u32 kind) {
  __u32 zero = 0;
  struct pending* p = bpf_map_lookup_elem(&pending_scratch, &zero);
  if (p) {
    p->kind = kind;
    p->code = 0;
    p->arg0 = p->arg1 = 0;
    p->path_len = 0;
  }
  return p;
}

static __always_inline void stash(struct pending* p) {
  __u64 key = bpf_get_current_pid_tgid();
  if (bpf_map_update_elem(&pending, &key, p, BPF_ANY) != 0) count(SENSOR_COUNTER_PENDING_FULL);
}

// The thread's pending entry of `kind`, or NULL. The caller deletes it.
static __always_inline struct pending* take(__u32 kind, __u64* key) {
  *key = bpf_get_current_pid_tgid();
  struct pending* p = bpf_map_lookup_elem(&pending, key);
  if (p && p->kind != kind) return NULL;
  return p;
}

// ---------------------------------------------------------------- exec

// Writes the path of `task`'s working directory at `out` (no NUL), walking
// dentries up through mount points as d_path() does, at most
// SENSOR_CWD_MAX_DEPTH components. Returns its length; sets
// SENSOR_EXEC_CWD_TRUNCATED in *flags when the walk was cut.
static __always_inline __u32 read_cwd(struct task_struct* task, char* out, __u32* flags) {
  __u32 zero = 0;
  struct path_buf* buf = bpf_map_lookup_elem(&path_scratch, &zero);
  if (!buf) return 0;
  struct dentry* dentry = BPF_CORE_READ(task, fs, pwd.dentry);
  struct vfsmount* vfsmnt = BPF_CORE_READ(task, fs, pwd.mnt);
  if (!dentry || !vfsmnt) return 0;
  const __u64 mnt_offset = bpf_core_field_offset(struct mount, mnt);
  struct mount* mnt = (struct mount*)((char*)vfsmnt - mnt_offset);

  buf->pos = SENSOR_PATH_MAX_BYTES;  // the path is buf->data[pos, SENSOR_PATH_MAX_BYTES)
  bool complete = false;
  for (int i = 0; i < SENSOR_CWD_MAX_DEPTH; i++) {
    struct dentry* root = BPF_CORE_READ(vfsmnt, mnt_root);
    struct dentry* parent = BPF_CORE_READ(dentry, d_parent);
    if (dentry == root || dentry == parent) {
      struct mount* up = BPF_CORE_READ(mnt, mnt_parent);
      if (dentry != root || up == mnt) {  // the namespace's root (or a detached tree)
        complete = true;
        break;
      }
      dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
      mnt = up;
      vfsmnt = (struct vfsmount*)((char*)up + mnt_offset);
      continue;
    }
    __u32 len = BPF_CORE_READ(dentry, d_name.len) & (SENSOR_NAME_MAX_BYTES - 1);
    const unsigned char* name = BPF_CORE_READ(dentry, d_name.name);
    __u32 pos = buf->pos;
    if (pos < len + 2) break;  // keep one byte: the path is below PATH_MAX
    pos -= len + 1;
    buf->pos = pos;
    buf->data[pos & (SENSOR_PATH_MAX_BYTES - 1)] = '/';
    bpf_probe_read_kernel(&buf->data[(pos + 1) & (SENSOR_PATH_MAX_BYTES - 1)], len, name);
    dentry = parent;
  }
  if (!complete) *flags |= SENSOR_EXEC_CWD_TRUNCATED;
  __u32 pos = buf->pos;
  if (pos >= SENSOR_PATH_MAX_BYTES) {
    out[0] = '/';
    return 1;
  }
  __u32 n = (SENSOR_PATH_MAX_BYTES - pos) & (SENSOR_PATH_MAX_BYTES - 1);
  bpf_probe_read_kernel(out, n, &buf->data[pos & (SENSOR_PATH_MAX_BYTES - 1)]);
  return n;
}

static __always_inline void emit_exec(struct sensor_exec* e, __u32 end) {
  __u64 size = offsetof(struct sensor_exec, data) + end;
  if (size > sizeof(*e)) return;
  if (bpf_ringbuf_output(&events, e, size, wakeup_flag()) != 0) count_drop(e->hdr.kind);
}

static __always_inline struct sensor_exec* exec_record(struct task_struct* task) {
  __u32 zero = 0;
  struct sensor_exec* e = bpf_map_lookup_elem(&exec_scratch, &zero);
  if (!e) return NULL;
  fill_header(&e->hdr, SENSOR_EVENT_PROCESS_EXEC, task);
  e->args_len = e->filename_len = e->cwd_len = e->exe_name_len = 0;
  e->flags = 0;
  e->exec_errno = 0;
  return e;
}

SEC("tracepoint/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec* ctx) {
  if (!wanted(SENSOR_EVENT_PROCESS_EXEC)) return 0;
  struct task_struct* task = current_task();
  struct sensor_exec* e = exec_record(task);
  if (!e) return 0;

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

  // The filename follows argv; masks and comparisons prove the offsets to the
  // verifier (data holds ARGS + 2 PATH + NAME bytes).
  __u32 name_off = ctx->__data_loc_filename & 0xFFFF;
  __u32 off = args_len & (2 * SENSOR_ARGS_MAX_BYTES - 1);
  if (off > SENSOR_ARGS_MAX_BYTES) return 0;
  long n =
      bpf_probe_read_kernel_str(&e->data[off], SENSOR_PATH_MAX_BYTES, (const char*)ctx + name_off);
  __u32 filename_len = n > 0 ? (__u32)(n - 1) & (SENSOR_PATH_MAX_BYTES - 1) : 0;
  e->filename_len = filename_len;

  off += filename_len;
  if (off > SENSOR_ARGS_MAX_BYTES + SENSOR_PATH_MAX_BYTES) return 0;
  __u32 cwd_len = read_cwd(task, &e->data[off], &e->flags) & (SENSOR_PATH_MAX_BYTES - 1);
  e->cwd_len = cwd_len;
  off += cwd_len;
  if (off > SENSOR_ARGS_MAX_BYTES + 2 * SENSOR_PATH_MAX_BYTES) return 0;

  // Fileless: the image has no link left (memfd_create files are unlinked
  // from birth; so is a deleted binary). Its dentry name says which.
  struct file* exe = BPF_CORE_READ(task, mm, exe_file);
  if (exe && BPF_CORE_READ(exe, f_inode, __i_nlink) == 0) {
    e->flags |= SENSOR_EXEC_FILELESS;
    const unsigned char* dname = BPF_CORE_READ(exe, f_path.dentry, d_name.name);
    n = bpf_probe_read_kernel_str(&e->data[off], SENSOR_NAME_MAX_BYTES, dname);
    __u32 name_len = n > 0 ? (__u32)(n - 1) & (SENSOR_NAME_MAX_BYTES - 1) : 0;
    e->exe_name_len = name_len;
    char prefix[6] = {};
    bpf_probe_read_kernel(prefix, sizeof(prefix), dname);
    if (prefix[0] == 'm' && prefix[1] == 'e' && prefix[2] == 'm' && prefix[3] == 'f' &&
        prefix[4] == 'd' && prefix[5] == ':') {
      e->flags |= SENSOR_EXEC_MEMFD;
    }
    off += name_len;
  }
  emit_exec(e, off);
  return 0;
}

// Failed execs never reach sched_process_exec: keep the arguments at sys_enter
// and report at sys_exit when it returns an error (the old image, and so the
// user memory holding them, is still there).
static __always_inline void exec_enter(const char* filename, const char* const* argv) {
  if (!wanted(SENSOR_EVENT_PROCESS_EXEC)) return;
  struct pending* p = scratch_pending(SENSOR_EVENT_PROCESS_EXEC);
  if (!p) return;
  p->arg0 = (__u64)filename;
  p->arg1 = (__u64)argv;
  stash(p);
}

static __always_inline void exec_exit(long ret) {
  __u64 key;
  struct pending* p = take(SENSOR_EVENT_PROCESS_EXEC, &key);
  if (!p) return;
  const char* filename = (const char*)p->arg0;
  const char* const* argv = (const char* const*)p->arg1;
  bpf_map_delete_elem(&pending, &key);
  if (ret >= 0) return;  // sched_process_exec reported it
  struct task_struct* task = current_task();
  struct sensor_exec* e = exec_record(task);
  if (!e) return;
  e->flags = SENSOR_EXEC_FAILED;
  e->exec_errno = (__s32)-ret;
  // Each argument is read whole (the data area has room past the argv
  // bound) and the total then cut at SENSOR_ARGS_MAX_BYTES; the running length
  // lives in the record, not a register, so that the verifier prunes the loop.
  for (int i = 0; i < SENSOR_ARGV_MAX_ARGS; i++) {
    const char* arg = NULL;
    if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) != 0 || !arg) break;
    __u32 at = e->args_len;
    if (at >= SENSOR_ARGS_MAX_BYTES) {
      e->flags |= SENSOR_EXEC_ARGV_TRUNCATED;
      break;
    }
    long n = bpf_probe_read_user_str(&e->data[at & (SENSOR_ARGS_MAX_BYTES - 1)],
                                     SENSOR_ARGS_MAX_BYTES, arg);
    if (n <= 0) break;
    e->args_len = at + (__u32)n;
  }
  __u32 off = e->args_len;
  if (off > SENSOR_ARGS_MAX_BYTES) {
    off = SENSOR_ARGS_MAX_BYTES;
    e->flags |= SENSOR_EXEC_ARGV_TRUNCATED;
  }
  e->args_len = off;
  barrier_var(off);  // keep the compiler from dropping the bound the verifier needs
  off &= 2 * SENSOR_ARGS_MAX_BYTES - 1;
  if (off > SENSOR_ARGS_MAX_BYTES) return;
  long n = bpf_probe_read_user_str(&e->data[off], SENSOR_PATH_MAX_BYTES, filename);
  __u32 filename_len = n > 0 ? (__u32)(n - 1) & (SENSOR_PATH_MAX_BYTES - 1) : 0;
  e->filename_len = filename_len;
  emit_exec(e, off + filename_len);
}

SEC("tracepoint/syscalls/sys_enter_execve")
int handle_execve_enter(struct trace_event_raw_sys_enter* ctx) {
  exec_enter((const char*)ctx->args[0], (const char* const*)ctx->args[1]);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int handle_execve_exit(struct trace_event_raw_sys_exit* ctx) {
  exec_exit(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int handle_execveat_enter(struct trace_event_raw_sys_enter* ctx) {
  exec_enter((const char*)ctx->args[1], (const char* const*)ctx->args[2]);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int handle_execveat_exit(struct trace_event_raw_sys_exit* ctx) {
  exec_exit(ctx->ret);
  return 0;
}

// ---------------------------------------------------------------- exit, fork

// Fires for every exiting thread; a process has exited when its last thread
// does (signal->live has already been decremented at this point). Any state
// the thread left in `pending` (a syscall it never returned from) goes too.
SEC("tracepoint/sched/sched_process_exit")
int handle_exit(void* ctx) {
  const __u32 kind = SENSOR_EVENT_PROCESS_EXIT;
  __u64 key = bpf_get_current_pid_tgid();
  bpf_map_delete_elem(&pending, &key);
  if (!wanted(kind)) return 0;
  struct task_struct* task = current_task();
  if (BPF_CORE_READ(task, signal, live.counter) != 0) return 0;
  struct sensor_exit* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count_drop(kind);
    return 0;
  }
  fill_header(&e->hdr, kind, task);
  e->exit_code = BPF_CORE_READ(task, exit_code);
  e->reserved = 0;
  // Dead threads' times are already summed in signal; this last one's are not
  // yet (that happens at release).
  e->utime_ns = BPF_CORE_READ(task, signal, utime) + BPF_CORE_READ(task, utime);
  e->stime_ns = BPF_CORE_READ(task, signal, stime) + BPF_CORE_READ(task, stime);
  e->runtime_ns =
      BPF_CORE_READ(task, signal, sum_sched_runtime) + BPF_CORE_READ(task, se.sum_exec_runtime);
  bpf_ringbuf_submit(e, wakeup_flag());
  return 0;
}

// The raw tracepoint gives both tasks; only new thread groups are processes.
SEC("raw_tracepoint/sched_process_fork")
int handle_fork(struct bpf_raw_tracepoint_args* ctx) {
  const __u32 kind = SENSOR_EVENT_PROCESS_FORK;
  if (!wanted(kind)) return 0;
  struct task_struct* child = (struct task_struct*)ctx->args[1];
  __u32 child_pid = BPF_CORE_READ(child, pid);
  if (BPF_CORE_READ(child, tgid) != child_pid) return 0;  // a thread
  struct sensor_fork* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count_drop(kind);
    return 0;
  }
  fill_header(&e->hdr, kind, current_task());
  e->child_pid = child_pid;
  e->child_start_boot_ns = BPF_CORE_READ(child, start_boottime);
  e->reserved = 0;
  bpf_ringbuf_submit(e, wakeup_flag());
  return 0;
}

// ---------------------------------------------------------------- network

// The socket behind `fd` of the current task, or NULL when fd is not an open
// socket.
static __always_inline struct socket* fd_socket(struct task_struct* task, int fd) {
  struct fdtable* fdt = BPF_CORE_READ(task, files, fdt);
  if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds)) return NULL;
  struct file** fds = BPF_CORE_READ(fdt, fd);
  struct file* file = NULL;
  if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) != 0 || !file) return NULL;
  umode_t mode = BPF_CORE_READ(file, f_inode, i_mode);
  if ((mode & S_IFMT) != S_IFSOCK) return NULL;
  return BPF_CORE_READ(file, private_data);
}

static __always_inline int transport_of(struct socket* sock) {
  short type = BPF_CORE_READ(sock, type);
  if (type == SOCK_STREAM) return SENSOR_TRANSPORT_TCP;
  if (type == SOCK_DGRAM) return SENSOR_TRANSPORT_UDP;
  return -1;  // raw, seqpacket, ...
}

static __always_inline struct sensor_connect* reserve_flow(__u32 kind, __u16 family,
                                                           __u8 transport) {
  struct sensor_connect* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count_drop(kind);
    return NULL;
  }
  fill_header(&e->hdr, kind, current_task());
  e->family = family;
  e->transport = transport;
  e->port = 0;
  e->source_port = 0;
  e->reserved[0] = 0;
  __builtin_memset(e->addr, 0, sizeof(e->addr));
  __builtin_memset(e->source_addr, 0, sizeof(e->source_addr));
  return e;
}

// Local (rcv_saddr, num) and remote (daddr, dport) endpoints of an inet socket.
static __always_inline void read_endpoints(struct sock* sk, __u16 family, __u8* local,
                                           __u16* local_port, __u8* remote, __u16* remote_port) {
  // bpf_core_read with explicit sizes: `local`/`remote` are byte arrays.
  if (family == SENSOR_AF_INET) {
    bpf_core_read(local, 4, &sk->__sk_common.skc_rcv_saddr);
    bpf_core_read(remote, 4, &sk->__sk_common.skc_daddr);
  } else {
    bpf_core_read(local, 16, &sk->__sk_common.skc_v6_rcv_saddr);
    bpf_core_read(remote, 16, &sk->__sk_common.skc_v6_daddr);
  }
  *local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
  *remote_port = BPF_CORE_READ(sk, __sk_common.skc_dport);  // network byte order
}

SEC("tracepoint/syscalls/sys_enter_connect")
int handle_connect(struct trace_event_raw_sys_enter* ctx) {
  const __u32 kind = SENSOR_EVENT_NETWORK_CONNECT;
  if (!wanted(kind)) return 0;
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

  struct socket* sock = fd_socket(current_task(), fd);
  if (!sock) return 0;
  int transport = transport_of(sock);
  if (transport < 0) return 0;
  struct sensor_connect* e = reserve_flow(kind, family, (__u8)transport);
  if (!e) return 0;
  e->port = port;
  __builtin_memcpy(e->addr, addr, sizeof(addr));
  // Bound already (explicit bind, or a UDP socket that sent before): the source.
  struct sock* sk = BPF_CORE_READ(sock, sk);
  if (sk) {
    __u8 remote[16];
    __u16 remote_port;
    read_endpoints(sk, family, e->source_addr, &e->source_port, remote, &remote_port);
  }
  bpf_ringbuf_submit(e, wakeup_flag());
  return 0;
}

// accept: the new fd's socket holds both ends. Sysmon's convention: the peer
// initiated it, so it is the source; this host is the destination.
static __always_inline void accept_exit(long ret) {
  const __u32 kind = SENSOR_EVENT_NETWORK_ACCEPT;
  if (ret < 0 || !wanted(kind)) return;
  struct socket* sock = fd_socket(current_task(), (int)ret);
  if (!sock) return;
  struct sock* sk = BPF_CORE_READ(sock, sk);
  if (!sk) return;
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (family != SENSOR_AF_INET && family != SENSOR_AF_INET6) return;
  int transport = transport_of(sock);
  if (transport < 0) return;
  struct sensor_connect* e = reserve_flow(kind, family, (__u8)transport);
  if (!e) return;
  __u16 local_port, peer_port;
  read_endpoints(sk, family, e->addr, &local_port, e->source_addr, &peer_port);
  e->port = bpf_htons(local_port);
  e->source_port = bpf_ntohs(peer_port);
  bpf_ringbuf_submit(e, wakeup_flag());
}

SEC("tracepoint/syscalls/sys_exit_accept")
int handle_accept_exit(struct trace_event_raw_sys_exit* ctx) {
  accept_exit(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int handle_accept4_exit(struct trace_event_raw_sys_exit* ctx) {
  accept_exit(ctx->ret);
  return 0;
}

// listen: reported at entry with the address the socket is bound to (0.0.0.0:0
// when unbound: the kernel binds an ephemeral port inside listen()).
SEC("tracepoint/syscalls/sys_enter_listen")
int handle_listen(struct trace_event_raw_sys_enter* ctx) {
  const __u32 kind = SENSOR_EVENT_NETWORK_LISTEN;
  if (!wanted(kind)) return 0;
  struct socket* sock = fd_socket(current_task(), (int)ctx->args[0]);
  if (!sock) return 0;
  struct sock* sk = BPF_CORE_READ(sock, sk);
  if (!sk) return 0;
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (family != SENSOR_AF_INET && family != SENSOR_AF_INET6) return 0;
  int transport = transport_of(sock);
  if (transport < 0) return 0;
  struct sensor_connect* e = reserve_flow(kind, family, (__u8)transport);
  if (!e) return 0;
  __u8 remote[16];
  __u16 remote_port;
  read_endpoints(sk, family, e->source_addr, &e->source_port, remote, &remote_port);
  bpf_ringbuf_submit(e, wakeup_flag());
  return 0;
}

// ---------------------------------------------------------------- file_open

// Does p->path (p->path_len bytes) match a watched pattern? Prefix patterns
// compare the path as passed; suffix patterns compare its end, at the start of
// the path or after a '/'. Relative paths therefore match suffix patterns only.
static __always_inline bool watched_path(const struct pending* p, __u32 flags) {
  const bool writes = (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0;
  const __u32 path_len = p->path_len;
  for (__u32 i = 0; i < SENSOR_WATCH_MAX; i++) {
    struct sensor_watch* w = bpf_map_lookup_elem(&watched, &i);
    if (!w || w->len == 0) return false;
    const __u32 len = w->len;
    if (len > SENSOR_WATCH_PATTERN_BYTES || len > path_len) continue;
    if ((w->flags & SENSOR_WATCH_WRITE_ONLY) && !writes) continue;
    __u32 start = 0;
    if (w->flags & SENSOR_WATCH_SUFFIX) {
      start = path_len - len;
      if (start > 0 && p->path[(start - 1) & (SENSOR_OPEN_PATH_MAX_BYTES - 1)] != '/') continue;
    }
    bool same = true;
    for (__u32 j = 0; j < SENSOR_WATCH_PATTERN_BYTES; j++) {
      if (j >= len) break;
      if (p->path[(start + j) & (SENSOR_OPEN_PATH_MAX_BYTES - 1)] != w->pattern[j]) {
        same = false;
        break;
      }
    }
    if (same) return true;
  }
  return false;
}

static __always_inline void open_enter(const char* filename, __u32 flags) {
  if (!wanted(SENSOR_EVENT_FILE_OPEN)) return;
  struct pending* p = scratch_pending(SENSOR_EVENT_FILE_OPEN);
  if (!p) return;
  long n = bpf_probe_read_user_str(p->path, sizeof(p->path), filename);
  if (n <= 1) return;
  p->path_len = (__u32)(n - 1) & (SENSOR_OPEN_PATH_MAX_BYTES - 1);
  p->code = flags;
  if (watched_path(p, flags)) stash(p);
}

static __always_inline void open_exit(long ret) {
  const __u32 kind = SENSOR_EVENT_FILE_OPEN;
  __u64 key;
  struct pending* p = take(kind, &key);
  if (!p) return;
  struct sensor_file_open* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count_drop(kind);
  } else {
    fill_header(&e->hdr, kind, current_task());
    e->flags = p->code;
    e->result = (__s32)ret;
    e->path_len = p->path_len;
    e->reserved = 0;
    __builtin_memcpy(e->path, p->path, sizeof(e->path));
    bpf_ringbuf_submit(e, wakeup_flag());
  }
  bpf_map_delete_elem(&pending, &key);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int handle_openat_enter(struct trace_event_raw_sys_enter* ctx) {
  open_enter((const char*)ctx->args[1], (__u32)ctx->args[2]);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int handle_openat_exit(struct trace_event_raw_sys_exit* ctx) {
  open_exit(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int handle_open_enter(struct trace_event_raw_sys_enter* ctx) {
  open_enter((const char*)ctx->args[0], (__u32)ctx->args[1]);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_open")
int handle_open_exit(struct trace_event_raw_sys_exit* ctx) {
  open_exit(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int handle_openat2_enter(struct trace_event_raw_sys_enter* ctx) {
  __u64 flags = 0;
  bpf_probe_read_user(&flags, sizeof(flags), (const void*)ctx->args[2]);  // open_how.flags
  open_enter((const char*)ctx->args[1], (__u32)flags);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int handle_openat2_exit(struct trace_event_raw_sys_exit* ctx) {
  open_exit(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_creat")
int handle_creat_enter(struct trace_event_raw_sys_enter* ctx) {
  open_enter((const char*)ctx->args[0], O_CREAT | O_WRONLY | O_TRUNC);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_creat")
int handle_creat_exit(struct trace_event_raw_sys_exit* ctx) {
  open_exit(ctx->ret);
  return 0;
}

// ---------------------------------------------------------------- privilege_change

static __always_inline void read_creds(struct task_struct* task, struct sensor_creds* c) {
  const struct cred* cred = BPF_CORE_READ(task, cred);
  c->uid = BPF_CORE_READ(cred, uid.val);
  c->euid = BPF_CORE_READ(cred, euid.val);
  c->gid = BPF_CORE_READ(cred, gid.val);
  c->egid = BPF_CORE_READ(cred, egid.val);
  // kernel_cap_t is one u64 since Linux 6.3, two u32 before: the same 8 bytes.
  c->cap_effective = 0;
  c->cap_permitted = 0;
  bpf_probe_read_kernel(&c->cap_effective, 8, &cred->cap_effective);
  bpf_probe_read_kernel(&c->cap_permitted, 8, &cred->cap_permitted);
}

static __always_inline void privilege_enter(__u32 syscall) {
  if (!wanted(SENSOR_EVENT_PRIVILEGE_CHANGE)) return;
  struct pending* p = scratch_pending(SENSOR_EVENT_PRIVILEGE_CHANGE);
  if (!p) return;
  p->code = syscall;
  read_creds(current_task(), &p->creds);
  stash(p);
}

static __always_inline void privilege_exit(long ret) {
  const __u32 kind = SENSOR_EVENT_PRIVILEGE_CHANGE;
  __u64 key;
  struct pending* p = take(kind, &key);
  if (!p) return;
  struct sensor_privilege* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count_drop(kind);
  } else {
    struct task_struct* task = current_task();
    fill_header(&e->hdr, kind, task);
    e->syscall = p->code;
    // setfsuid/setfsgid return the previous id, never an error.
    const bool fs = p->code == SENSOR_PRIV_SETFSUID || p->code == SENSOR_PRIV_SETFSGID;
    e->result = fs || ret > 0 ? 0 : (__s32)ret;
    e->old_creds = p->creds;
    read_creds(task, &e->new_creds);
    bpf_ringbuf_submit(e, wakeup_flag());
  }
  bpf_map_delete_elem(&pending, &key);
}

#define PRIVILEGE_PROGRAMS(name, code)                               \
  SEC("tracepoint/syscalls/sys_enter_" #name)                        \
  int handle_##name##_enter(struct trace_event_raw_sys_enter* ctx) { \
    privilege_enter(code);                                           \
    return 0;                                                        \
  }                                                                  \
  SEC("tracepoint/syscalls/sys_exit_" #name)                         \
  int handle_##name##_exit(struct trace_event_raw_sys_exit* ctx) {   \
    privilege_exit(ctx->ret);                                        \
    return 0;                                                        \
  }

PRIVILEGE_PROGRAMS(setuid, SENSOR_PRIV_SETUID)
PRIVILEGE_PROGRAMS(setgid, SENSOR_PRIV_SETGID)
PRIVILEGE_PROGRAMS(setreuid, SENSOR_PRIV_SETREUID)
PRIVILEGE_PROGRAMS(setregid, SENSOR_PRIV_SETREGID)
PRIVILEGE_PROGRAMS(setresuid, SENSOR_PRIV_SETRESUID)
PRIVILEGE_PROGRAMS(setresgid, SENSOR_PRIV_SETRESGID)
PRIVILEGE_PROGRAMS(setfsuid, SENSOR_PRIV_SETFSUID)
PRIVILEGE_PROGRAMS(setfsgid, SENSOR_PRIV_SETFSGID)
PRIVILEGE_PROGRAMS(capset, SENSOR_PRIV_CAPSET)

// ---------------------------------------------------------------- ptrace

SEC("tracepoint/syscalls/sys_enter_ptrace")
int handle_ptrace_enter(struct trace_event_raw_sys_enter* ctx) {
  const __u32 kind = SENSOR_EVENT_PTRACE;
  if (!wanted(kind)) return 0;
  long request = (long)ctx->args[0];
  if (request != PTRACE_TRACEME && request != PTRACE_ATTACH && request != PTRACE_SEIZE &&
      request != PTRACE_POKETEXT && request != PTRACE_POKEDATA && request != PTRACE_POKEUSER) {
    return 0;
  }
  struct pending* p = scratch_pending(kind);
  if (!p) return 0;
  p->arg0 = (__u64)request;
  // TRACEME: the tracer to be is the parent.
  p->arg1 = request == PTRACE_TRACEME ? BPF_CORE_READ(current_task(), real_parent, tgid)
                                      : (__u32)ctx->args[1];
  stash(p);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_ptrace")
int handle_ptrace_exit(struct trace_event_raw_sys_exit* ctx) {
  const __u32 kind = SENSOR_EVENT_PTRACE;
  __u64 key;
  struct pending* p = take(kind, &key);
  if (!p) return 0;
  struct sensor_ptrace* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    count_drop(kind);
  } else {
    fill_header(&e->hdr, kind, current_task());
    e->request = (__s64)p->arg0;
    e->target_pid = (__u32)p->arg1;
    e->result = ctx->ret < 0 ? (__s32)ctx->ret : 0;
    bpf_ringbuf_submit(e, wakeup_flag());
  }
  bpf_map_delete_elem(&pending, &key);
  return 0;
}
