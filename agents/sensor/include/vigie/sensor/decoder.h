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
};
std::string_view to_string(DecodeError error);

// Decodes one record. On success fills time_ns (boot time + boot_to_wall_ns),
// pid, ppid, uid, gid, cgroup_id and the kernel-side body fields: for exec the
// image, argv (at most SENSOR_ARGV_MAX_ARGS, argv_truncated set when the kernel
// or this bound cut it) and command_line (argv joined by single spaces); for
// exit exit_code and signal; for connect transport, ipv6, destination ip/port.
// Leaves site, host, workload, user and the process-table fields (parent
// image/command line, exit/connect image) to the caller. On error `event` is
// unspecified.
DecodeError decode_record(std::span<const uint8_t> record, int64_t boot_to_wall_ns,
                          protocol::Event& event);

// CLOCK_REALTIME - CLOCK_BOOTTIME now, in ns: added to a bpf_ktime_get_boot_ns()
// stamp it gives wall-clock ns since the Unix epoch. Re-read it periodically
// so that NTP steps of the wall clock are followed.
int64_t boot_to_wall_offset_ns();

}  // namespace vigie::sensor
