// Fuzzes the sensor's ring-buffer record decoder (sensor::decode_record). The
// kernel side is ours, but a record carries attacker-chosen argv and paths and
// the decoder is the line that keeps a malformed record from becoming memory
// unsafety in the agent. Properties: never crashes; a decoded event agrees with
// the record's header and the bounds documented in decoder.h.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <variant>

#include "fuzz_util.h"
#include "sensor_events.h"
#include "vigie/sensor/decoder.h"

using vigie::fuzz::check;
namespace protocol = vigie::protocol;
namespace sensor = vigie::sensor;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> record(data, size);
  protocol::Event event;
  const int64_t boot_to_wall_ns = 1'700'000'000'000'000'000ll;
  const sensor::DecodeError error = sensor::decode_record(record, boot_to_wall_ns, event);
  check(!sensor::to_string(error).empty(), "DecodeError without a name");
  if (error != sensor::DecodeError::kNone) return 0;

  sensor_header h;
  check(size >= sizeof h, "decoded a record shorter than its header");
  std::memcpy(&h, data, sizeof h);
  check(static_cast<uint32_t>(event.kind()) == h.kind, "event kind differs from header.kind");
  check(event.pid == h.pid && event.ppid == h.ppid && event.uid == h.uid && event.gid == h.gid &&
            event.cgroup_id == h.cgroup_id,
        "event ids differ from the header");
  check(event.time_ns == h.time_boot_ns + static_cast<uint64_t>(boot_to_wall_ns),
        "time_ns is not boot time + offset");

  if (const auto* exec = std::get_if<protocol::ProcessExec>(&event.body)) {
    sensor_exec fixed;
    std::memcpy(&fixed, data, offsetof(sensor_exec, data));
    check(size == offsetof(sensor_exec, data) + fixed.args_len + fixed.filename_len +
                      fixed.cwd_len + fixed.exe_name_len,
          "exec record size disagrees with its lengths");
    check(exec->image.size() == fixed.filename_len, "image length differs from filename_len");
    check(exec->cwd.size() == fixed.cwd_len, "cwd length differs from cwd_len");
    check(exec->argv.size() <= SENSOR_ARGV_MAX_ARGS, "more than SENSOR_ARGV_MAX_ARGS arguments");
    std::string joined;
    for (size_t i = 0; i < exec->argv.size(); ++i) {
      if (i != 0) joined += ' ';
      joined += exec->argv[i];
    }
    check(exec->command_line == joined, "command_line is not argv joined by spaces");
    check(joined.size() <= fixed.args_len, "argv longer than the bytes it came from");
  } else if (const auto* exit = std::get_if<protocol::ProcessExit>(&event.body)) {
    check(exit->exit_code >= 0 && exit->exit_code <= 255, "exit_code outside 0..255");
    check(exit->signal >= 0 && exit->signal <= 127, "signal outside 0..127");
  } else if (const auto* connect = std::get_if<protocol::NetworkConnect>(&event.body)) {
    check(!connect->destination_ip.empty(), "connect without a destination ip");
  } else if (const auto* listen = std::get_if<protocol::NetworkListen>(&event.body)) {
    check(listen->destination_ip.empty() && !listen->source_ip.empty(),
          "listen must have a source and no destination");
  } else if (const auto* open = std::get_if<protocol::FileOpen>(&event.body)) {
    check(open->path.size() < SENSOR_OPEN_PATH_MAX_BYTES, "file_open path beyond its bound");
    check(open->result <= 0, "file_open result is 0 or -errno");
  } else if (const auto* change = std::get_if<protocol::PrivilegeChange>(&event.body)) {
    check(!change->syscall.empty(), "privilege_change without a syscall name");
  }
  // The fileless variant of the same record agrees with its exec.
  protocol::Event exec_event, fileless;
  bool found = false;
  check(sensor::decode_record(record, boot_to_wall_ns, exec_event, &fileless, &found) ==
            sensor::DecodeError::kNone,
        "decoding with a fileless output changed the verdict");
  if (found) {
    const auto& body = std::get<protocol::FilelessExec>(fileless.body);
    check(body.argv == std::get<protocol::ProcessExec>(exec_event.body).argv,
          "fileless argv differs from its exec");
    check(fileless.pid == exec_event.pid, "fileless pid differs from its exec");
  }
  return 0;
}
