// The node's eBPF sensor: loads the tracepoint programs (agents/sensor/bpf),
// reads their ring buffer and turns records into protocol::Event. Product and
// tests load the probe through this one facade (after Falco's libpman).
// pids are those of the initial pid namespace: run the agent there, with the
// host's procfs as proc_root.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "vigie/protocol/event.h"

namespace vigie::sensor {

struct SensorOptions {
  uint32_t ringbuf_bytes = 8u << 20;  // ring-buffer size: a power of two, >= the page size
  // Wake the reader only once this many bytes wait in the ring buffer (0:
  // after every record); poll() drains the rest when its timeout ends, so
  // events wait at most that timeout. Must be below ringbuf_bytes.
  uint32_t wakeup_bytes = 0;
  // Per-kind enable; a disabled program is neither loaded nor attached.
  bool process_exec = true;
  bool process_exit = true;
  bool network_connect = true;
  // Drop, in the kernel, events of this process (the agent's own activity).
  bool exclude_self = true;
  // Process table (parent image and command line, image of exit/connect).
  std::string proc_root = "/proc";
  size_t process_table_max_entries = 65536;
  // Mount tracefs on /sys/kernel/tracing when no tracefs is mounted
  // (tracepoint attachment reads the tracepoint ids there).
  bool mount_tracefs = true;
};

class Sensor {
 public:
  // Probes the kernel (BTF, ring buffer, tracefs), loads and verifies the
  // enabled programs, attaches them and seeds the process table from
  // proc_root. Returns nullptr with `error` set to a readable reason (invalid
  // options, no kernel BTF, not privileged, verifier log excerpt...) when the
  // sensor cannot run; the caller then degrades (no security events).
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

 private:
  struct Impl;
  explicit Sensor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigie::sensor
