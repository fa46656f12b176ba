#include "vigie/sensor/decoder.h"

#include <arpa/inet.h>
#include <time.h>

#include <cstddef>
#include <cstring>

#include "sensor_events.h"

namespace vigie::sensor {
namespace {

static_assert(SENSOR_EVENT_PROCESS_EXEC == static_cast<int>(protocol::EventKind::kProcessExec));
static_assert(SENSOR_EVENT_PROCESS_EXIT == static_cast<int>(protocol::EventKind::kProcessExit));
static_assert(SENSOR_EVENT_NETWORK_CONNECT ==
              static_cast<int>(protocol::EventKind::kNetworkConnect));
static_assert(SENSOR_EVENT_KIND_COUNT == protocol::kEventKindCount);

constexpr size_t kExecFixedBytes = offsetof(sensor_exec, data);

// Records are copied out before use: ring-buffer memory is 8-byte aligned but
// test buffers need not be, and the copy keeps the decoder free of UB.
template <typename T>
T load(std::span<const uint8_t> record) {
  T value;
  std::memcpy(&value, record.data(), sizeof(T));
  return value;
}

void fill_common(const sensor_header& h, int64_t boot_to_wall_ns, protocol::Event& event) {
  // Unsigned: wraps instead of overflowing on a nonsensical kernel time.
  event.time_ns = h.time_boot_ns + static_cast<uint64_t>(boot_to_wall_ns);
  event.pid = h.pid;
  event.ppid = h.ppid;
  event.uid = h.uid;
  event.gid = h.gid;
  event.cgroup_id = h.cgroup_id;
}

DecodeError decode_exec(std::span<const uint8_t> record, protocol::Event& event) {
  if (record.size() < kExecFixedBytes) return DecodeError::kTooShort;
  sensor_exec fixed;
  std::memcpy(&fixed, record.data(), kExecFixedBytes);
  if (fixed.args_len > SENSOR_ARGS_MAX_BYTES || fixed.filename_len >= SENSOR_PATH_MAX_BYTES ||
      record.size() != kExecFixedBytes + fixed.args_len + fixed.filename_len) {
    return DecodeError::kBadLength;
  }
  const char* data = reinterpret_cast<const char*>(record.data() + kExecFixedBytes);

  protocol::ProcessExec exec;
  exec.image.assign(data + fixed.args_len, fixed.filename_len);
  exec.argv_truncated = (fixed.flags & SENSOR_EXEC_ARGV_TRUNCATED) != 0;
  // Each NUL ends an argument; bytes after the last NUL are an argument the
  // kernel cut at SENSOR_ARGS_MAX_BYTES.
  std::string_view args(data, fixed.args_len);
  while (!args.empty()) {
    if (exec.argv.size() == SENSOR_ARGV_MAX_ARGS) {
      exec.argv_truncated = true;
      break;
    }
    size_t end = args.find('\0');
    exec.argv.emplace_back(args.substr(0, end));
    args.remove_prefix(end == std::string_view::npos ? args.size() : end + 1);
  }
  exec.command_line = protocol::join_command_line(exec.argv);
  event.body = std::move(exec);
  return DecodeError::kNone;
}

DecodeError decode_exit(std::span<const uint8_t> record, protocol::Event& event) {
  if (record.size() != sizeof(sensor_exit)) {
    return record.size() < sizeof(sensor_exit) ? DecodeError::kTooShort : DecodeError::kBadLength;
  }
  const auto e = load<sensor_exit>(record);
  protocol::ProcessExit exit;
  // task->exit_code is a wait(2) status: WEXITSTATUS / WTERMSIG.
  exit.exit_code = static_cast<int32_t>((e.exit_code >> 8) & 0xff);
  exit.signal = static_cast<int32_t>(e.exit_code & 0x7f);
  event.body = std::move(exit);
  return DecodeError::kNone;
}

DecodeError decode_connect(std::span<const uint8_t> record, protocol::Event& event) {
  if (record.size() != sizeof(sensor_connect)) {
    return record.size() < sizeof(sensor_connect) ? DecodeError::kTooShort
                                                  : DecodeError::kBadLength;
  }
  const auto e = load<sensor_connect>(record);
  protocol::NetworkConnect connect;
  switch (e.transport) {
    case SENSOR_TRANSPORT_TCP:
      connect.transport = protocol::Transport::kTcp;
      break;
    case SENSOR_TRANSPORT_UDP:
      connect.transport = protocol::Transport::kUdp;
      break;
    default:
      return DecodeError::kBadTransport;
  }
  char text[INET6_ADDRSTRLEN];
  if (e.family == SENSOR_AF_INET) {
    inet_ntop(AF_INET, e.addr, text, sizeof(text));
  } else if (e.family == SENSOR_AF_INET6) {
    connect.ipv6 = true;
    inet_ntop(AF_INET6, e.addr, text, sizeof(text));
  } else {
    return DecodeError::kBadFamily;
  }
  connect.destination_ip = text;
  connect.destination_port = ntohs(e.port);
  event.body = std::move(connect);
  return DecodeError::kNone;
}

}  // namespace

std::string_view to_string(DecodeError error) {
  switch (error) {
    case DecodeError::kNone:
      return "none";
    case DecodeError::kTooShort:
      return "too_short";
    case DecodeError::kUnknownKind:
      return "unknown_kind";
    case DecodeError::kBadLength:
      return "bad_length";
    case DecodeError::kBadFamily:
      return "bad_family";
    case DecodeError::kBadTransport:
      return "bad_transport";
  }
  return "unknown";
}

DecodeError decode_record(std::span<const uint8_t> record, int64_t boot_to_wall_ns,
                          protocol::Event& event) {
  if (record.size() < sizeof(sensor_header)) return DecodeError::kTooShort;
  const auto header = load<sensor_header>(record);
  DecodeError error;
  switch (header.kind) {
    case SENSOR_EVENT_PROCESS_EXEC:
      error = decode_exec(record, event);
      break;
    case SENSOR_EVENT_PROCESS_EXIT:
      error = decode_exit(record, event);
      break;
    case SENSOR_EVENT_NETWORK_CONNECT:
      error = decode_connect(record, event);
      break;
    default:
      return DecodeError::kUnknownKind;
  }
  if (error == DecodeError::kNone) fill_common(header, boot_to_wall_ns, event);
  return error;
}

int64_t boot_to_wall_offset_ns() {
  timespec real{}, boot{};
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_BOOTTIME, &boot);
  return (static_cast<int64_t>(real.tv_sec) - boot.tv_sec) * 1'000'000'000 +
         (static_cast<int64_t>(real.tv_nsec) - boot.tv_nsec);
}

}  // namespace vigie::sensor
