// The node's eBPF sensor: loads the tracepoint programs (agents/sensor/bpf),
// reads their ring buffer and turns records into protocol::Event. Product and
// tests load the probe through this one facade (after Falco's libpman).
// pids are those of the initial pid namespace: run the agent there, with the
// host's procfs as proc_root.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vigie/protocol/event.h"

namespace vigie::sensor {

struct SensorOptions {
  uint32_t ringbuf_bytes = 8u << 20;  // ring-buffer size: a power of two, >= the page size
  // Wake the reader only once this many bytes wait in the ring buffer (0:
  // after every record); poll() drains the rest when its timeout ends, so
  // events wait at most that timeout. Must be below ringbuf_bytes.
  uint32_t wakeup_bytes = 0;
  // Per-kind enable, indexed by protocol::EventKind; a disabled kind's
  // programs are neither loaded nor attached. fileless_exec is derived from
  // exec records: it needs process_exec on.
  std::array<bool, protocol::kEventKindCount> kinds = {true, true, true, true, true,
                                                       true, true, true, true, true};
  void enable(protocol::EventKind kind, bool on) { kinds[static_cast<size_t>(kind)] = on; }
  bool enabled(protocol::EventKind kind) const { return kinds[static_cast<size_t>(kind)]; }
  // Drop, in the kernel, events of this process (the agent's own activity).
  bool exclude_self = true;
  // file_open: watched path patterns, matched in the kernel (at most
  // SENSOR_WATCH_MAX = 32, each below 64 bytes). "/etc/shadow" matches paths
  // that start with it (so /etc/shadow- too, and /etc/cron matches
  // /etc/crontab and /etc/cron.d/...); "*/.ssh/authorized_keys" matches paths
  // that end with ".ssh/authorized_keys" after a '/' or at their start; a
  // leading "w:" reports only opens for writing (O_WRONLY, O_RDWR, O_CREAT,
  // O_TRUNC). Prefixes apply to the path as passed to open(2): a relative
  // path (openat from a directory fd or the cwd) matches suffix patterns only;
  // user space then makes it absolute from /proc/PID/cwd when it can.
  std::vector<std::string> watched_paths = default_watched_paths();
  static std::vector<std::string> default_watched_paths();
  // ProcessExec::sha256 of every executed image, cached by (device, inode,
  // mtime, size), at most hash_cache_entries entries.
  bool hash_images = false;
  size_t hash_cache_entries = 4096;
  // ProcessExec::ancestry: parent first, at most this many ancestors.
  size_t ancestry_depth = 8;
  // Process table (parent image and command line, images of other kinds).
  std::string proc_root = "/proc";
  size_t process_table_max_entries = 65536;
  // When non-zero, only tasks of this cgroup v2 (its id: the inode of its
  // directory) are observed, in the kernel (tests that count exactly).
  uint64_t only_cgroup_id = 0;
  // For tests of degradation: these kinds' programs are made to fail to load
  // (as on a kernel that refuses them); the others must still run.
  std::vector<protocol::EventKind> break_kinds;
  // Mount tracefs on /sys/kernel/tracing when no tracefs is mounted
  // (tracepoint attachment reads the tracepoint ids there).
  bool mount_tracefs = true;
};

class Sensor {
 public:
  // Probes the kernel (BTF, ring buffer, tracefs), loads and verifies the
  // enabled programs, attaches them and seeds the process table from
  // proc_root. Degrades per kind: a kind whose programs the kernel refuses
  // (load or attach) is logged once and reported by kinds(), the others run.
  // Returns nullptr with `error` set to a readable reason (invalid options, no
  // kernel BTF, not privileged, no kind could run...) when the sensor cannot
  // run at all; the caller then degrades (no security events).
  static std::unique_ptr<Sensor> open(const SensorOptions& options, std::string& error);
  ~Sensor();
  Sensor(const Sensor&) = delete;
  Sensor& operator=(const Sensor&) = delete;

  // Waits up to timeout_ms (0: no wait, -1: forever) for ring-buffer data,
  // decodes every available record and calls `sink` for each event, complete
  // except site, host and workload (the agent fills those). Returns the number
  // of events passed to sink, or a negative errno (-EINTR on a signal).
  // Malformed records are counted in decode_errors(), never passed on.
  // Call from one thread only.
  int poll(int timeout_ms, const std::function<void(protocol::Event&&)>& sink);

  // Records the kernel could not write because the ring buffer was full,
  // per kind and in total, summed over CPUs, since open().
  uint64_t ringbuf_drops(protocol::EventKind kind) const;
  uint64_t ringbuf_drops_total() const;
  uint64_t decode_errors() const;
  uint64_t events_total() const;  // events passed to sinks since open()
  uint64_t process_table_evictions() const;
  size_t process_table_size() const;
  // sys_enter states lost because the pending map was full (the event of that
  // syscall is lost too).
  uint64_t pending_full() const;
  uint64_t image_hash_failures() const;  // execs whose image could not be hashed

  // Which kinds run. A kind is off when disabled by options or when the
  // kernel refused its programs (reason says which and why); the others run.
  struct KindStatus {
    protocol::EventKind kind;
    bool up = false;
    std::string reason;  // empty when up
  };
  const std::vector<KindStatus>& kinds() const;
  std::vector<std::string> kinds_off() const;  // names of the kinds not up
  uint32_t ringbuf_size_bytes() const;
  // Bytes in the ring buffer written (or reserved) by the kernel and not yet
  // consumed, now: the kernel's BPF_RB_AVAIL_DATA, read from the ring's
  // mapped producer and consumer positions. Any thread.
  uint64_t ringbuf_used_bytes() const;

 private:
  struct Impl;
  explicit Sensor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigie::sensor
