#include "vigie/sensor/decoder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "sensor_events.h"

namespace vigie::sensor {
namespace {

static_assert(SENSOR_EVENT_PROCESS_EXEC == static_cast<int>(protocol::EventKind::kProcessExec));
static_assert(SENSOR_EVENT_PROCESS_EXIT == static_cast<int>(protocol::EventKind::kProcessExit));
static_assert(SENSOR_EVENT_NETWORK_CONNECT ==
              static_cast<int>(protocol::EventKind::kNetworkConnect));
static_assert(SENSOR_EVENT_PROCESS_FORK == static_cast<int>(protocol::EventKind::kProcessFork));
static_assert(SENSOR_EVENT_NETWORK_ACCEPT == static_cast<int>(protocol::EventKind::kNetworkAccept));
static_assert(SENSOR_EVENT_NETWORK_LISTEN == static_cast<int>(protocol::EventKind::kNetworkListen));
static_assert(SENSOR_EVENT_FILE_OPEN == static_cast<int>(protocol::EventKind::kFileOpen));
static_assert(SENSOR_EVENT_PRIVILEGE_CHANGE ==
              static_cast<int>(protocol::EventKind::kPrivilegeChange));
static_assert(SENSOR_EVENT_PTRACE == static_cast<int>(protocol::EventKind::kPtrace));
static_assert(SENSOR_EVENT_FILELESS_EXEC == static_cast<int>(protocol::EventKind::kFilelessExec));
static_assert(SENSOR_EVENT_KIND_COUNT == protocol::kEventKindCount);
static_assert(SENSOR_LOGIN_UID_UNSET == protocol::kLoginUidUnset);

constexpr std::string_view kPrivilegeSyscalls[SENSOR_PRIV_SYSCALL_COUNT] = {
    "setuid",    "setgid",   "setreuid", "setregid", "setresuid",
    "setresgid", "setfsuid", "setfsgid", "capset"};

constexpr size_t kExecFixedBytes = offsetof(sensor_exec, data);

// Records are copied out before use: ring-buffer memory is 8-byte aligned but
// test buffers need not be, and the copy keeps the decoder free of UB.
template <typename T>
T load(std::span<const uint8_t> record) {
  T value;
  std::memcpy(&value, record.data(), sizeof(T));
  return value;
}

// Unsigned: wraps instead of overflowing on a nonsensical kernel time.
// Times and durations travel as uint64 but are stored as signed 64-bit.
constexpr uint64_t kMaxWireNs = static_cast<uint64_t>(INT64_MAX);

uint64_t to_wall(uint64_t boot_ns, int64_t boot_to_wall_ns) {
  return boot_ns == 0 ? 0 : boot_ns + static_cast<uint64_t>(boot_to_wall_ns);
}

void fill_common(const sensor_header& h, int64_t boot_to_wall_ns, protocol::Event& event) {
  event.time_ns = h.time_boot_ns + static_cast<uint64_t>(boot_to_wall_ns);
  event.process_start_ns = to_wall(h.start_boot_ns, boot_to_wall_ns);
  event.pid = h.pid;
  event.ppid = h.ppid;
  event.uid = h.uid;
  event.gid = h.gid;
  event.cgroup_id = h.cgroup_id;
  event.login_uid = h.login_uid;
}

// Fixed-size records: exactly sizeof(T) bytes.
template <typename T>
DecodeError check_size(std::span<const uint8_t> record) {
  if (record.size() == sizeof(T)) return DecodeError::kNone;
  return record.size() < sizeof(T) ? DecodeError::kTooShort : DecodeError::kBadLength;
}

// `fileless` (may be null) receives the FilelessExec of a memfd/deleted image.
DecodeError decode_exec(std::span<const uint8_t> record, protocol::Event& event,
                        protocol::FilelessExec* fileless, bool& fileless_found) {
  if (record.size() < kExecFixedBytes) return DecodeError::kTooShort;
  sensor_exec fixed;
  std::memcpy(&fixed, record.data(), kExecFixedBytes);
  if (fixed.args_len > SENSOR_ARGS_MAX_BYTES || fixed.filename_len >= SENSOR_PATH_MAX_BYTES ||
      fixed.cwd_len >= SENSOR_PATH_MAX_BYTES || fixed.exe_name_len >= SENSOR_NAME_MAX_BYTES ||
      record.size() != kExecFixedBytes + fixed.args_len + fixed.filename_len + fixed.cwd_len +
                           fixed.exe_name_len) {
    return DecodeError::kBadLength;
  }
  const char* data = reinterpret_cast<const char*>(record.data() + kExecFixedBytes);

  protocol::ProcessExec exec;
  exec.image.assign(data + fixed.args_len, fixed.filename_len);
  exec.cwd.assign(data + fixed.args_len + fixed.filename_len, fixed.cwd_len);
  if (fixed.flags & SENSOR_EXEC_FAILED) exec.exec_errno = fixed.exec_errno;
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
  fileless_found = (fixed.flags & SENSOR_EXEC_FILELESS) != 0 && exec.exec_errno == 0;
  if (fileless_found && fileless != nullptr) {
    // The kernel's own name for it, as /proc/PID/exe shows: "/memfd:NAME
    // (deleted)" for a memfd; for a deleted file the path run when it still
    // ends with the dentry's name, else that name alone.
    const std::string_view name(data + fixed.args_len + fixed.filename_len + fixed.cwd_len,
                                fixed.exe_name_len);
    fileless->memfd = (fixed.flags & SENSOR_EXEC_MEMFD) != 0;
    const bool path_names_it =
        !fileless->memfd && exec.image.size() > name.size() &&
        std::string_view(exec.image).substr(exec.image.size() - name.size()) == name &&
        exec.image[exec.image.size() - name.size() - 1] == '/';
    fileless->image = (path_names_it ? exec.image : "/" + std::string(name)) + " (deleted)";
    fileless->argv = exec.argv;
    fileless->command_line = exec.command_line;
  }
  event.body = std::move(exec);
  return DecodeError::kNone;
}

}  // namespace

CpuTime adjust_cpu_time(uint64_t utime_ns, uint64_t stime_ns, uint64_t runtime_ns) {
  if (runtime_ns == 0) return {utime_ns, stime_ns};  // no precise time: the samples as they are
  if (stime_ns == 0) return {runtime_ns, 0};
  if (utime_ns == 0) return {0, runtime_ns};
  const auto system = static_cast<uint64_t>(static_cast<unsigned __int128>(stime_ns) * runtime_ns /
                                            (static_cast<unsigned __int128>(stime_ns) + utime_ns));
  return {runtime_ns - system, system};
}

namespace {

DecodeError decode_exit(std::span<const uint8_t> record, protocol::Event& event) {
  if (auto error = check_size<sensor_exit>(record); error != DecodeError::kNone) return error;
  const auto e = load<sensor_exit>(record);
  protocol::ProcessExit exit;
  // task->exit_code is a wait(2) status: WEXITSTATUS / WTERMSIG.
  exit.exit_code = static_cast<int32_t>((e.exit_code >> 8) & 0xff);
  exit.signal = static_cast<int32_t>(e.exit_code & 0x7f);
  if (e.utime_ns > kMaxWireNs || e.stime_ns > kMaxWireNs || e.runtime_ns > kMaxWireNs) {
    return DecodeError::kBadTime;
  }
  const CpuTime cpu = adjust_cpu_time(e.utime_ns, e.stime_ns, e.runtime_ns);
  exit.cpu_user_ns = cpu.user_ns;
  exit.cpu_system_ns = cpu.system_ns;
  event.body = std::move(exit);
  return DecodeError::kNone;
}

DecodeError decode_fork(std::span<const uint8_t> record, int64_t boot_to_wall_ns,
                        protocol::Event& event) {
  if (auto error = check_size<sensor_fork>(record); error != DecodeError::kNone) return error;
  const auto e = load<sensor_fork>(record);
  protocol::ProcessFork fork;
  fork.child_pid = e.child_pid;
  fork.child_start_ns = to_wall(e.child_start_boot_ns, boot_to_wall_ns);
  if (fork.child_start_ns > kMaxWireNs) return DecodeError::kBadTime;
  event.body = std::move(fork);
  return DecodeError::kNone;
}

std::string address_text(uint16_t family, const uint8_t* addr) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(family == SENSOR_AF_INET ? AF_INET : AF_INET6, addr, text, sizeof(text));
  return text;
}

// connect, accept and listen share one record (see sensor_events.h).
template <typename Flow>
DecodeError decode_flow(std::span<const uint8_t> record, protocol::Event& event) {
  if (auto error = check_size<sensor_connect>(record); error != DecodeError::kNone) return error;
  const auto e = load<sensor_connect>(record);
  Flow flow;
  switch (e.transport) {
    case SENSOR_TRANSPORT_TCP:
      flow.transport = protocol::Transport::kTcp;
      break;
    case SENSOR_TRANSPORT_UDP:
      flow.transport = protocol::Transport::kUdp;
      break;
    default:
      return DecodeError::kBadTransport;
  }
  if (e.family != SENSOR_AF_INET && e.family != SENSOR_AF_INET6) return DecodeError::kBadFamily;
  flow.ipv6 = e.family == SENSOR_AF_INET6;
  constexpr bool kListen = std::is_same_v<Flow, protocol::NetworkListen>;
  constexpr bool kConnect = std::is_same_v<Flow, protocol::NetworkConnect>;
  if (!kListen) {
    flow.destination_ip = address_text(e.family, e.addr);
    flow.destination_port = ntohs(e.port);
  }
  // A connect's source is known only once the socket is bound.
  if (!kConnect || e.source_port != 0) {
    flow.source_ip = address_text(e.family, e.source_addr);
    flow.source_port = e.source_port;
  }
  event.body = std::move(flow);
  return DecodeError::kNone;
}

DecodeError decode_file_open(std::span<const uint8_t> record, protocol::Event& event) {
  if (auto error = check_size<sensor_file_open>(record); error != DecodeError::kNone) return error;
  const auto e = load<sensor_file_open>(record);
  if (e.path_len >= SENSOR_OPEN_PATH_MAX_BYTES) return DecodeError::kBadLength;
  protocol::FileOpen open;
  open.path.assign(e.path, e.path_len);
  open.flags = e.flags;
  open.write = (e.flags & O_ACCMODE) != O_RDONLY;
  open.create = (e.flags & O_CREAT) != 0;
  open.truncate = (e.flags & O_TRUNC) != 0;
  open.result = e.result < 0 ? e.result : 0;
  event.body = std::move(open);
  return DecodeError::kNone;
}

DecodeError decode_privilege(std::span<const uint8_t> record, protocol::Event& event) {
  if (auto error = check_size<sensor_privilege>(record); error != DecodeError::kNone) return error;
  const auto e = load<sensor_privilege>(record);
  if (e.syscall >= SENSOR_PRIV_SYSCALL_COUNT) return DecodeError::kBadSyscall;
  protocol::PrivilegeChange change;
  change.syscall = kPrivilegeSyscalls[e.syscall];
  change.old_uid = e.old_creds.uid;
  change.old_euid = e.old_creds.euid;
  change.old_gid = e.old_creds.gid;
  change.old_egid = e.old_creds.egid;
  change.new_uid = e.new_creds.uid;
  change.new_euid = e.new_creds.euid;
  change.new_gid = e.new_creds.gid;
  change.new_egid = e.new_creds.egid;
  change.old_cap_effective = e.old_creds.cap_effective;
  change.new_cap_effective = e.new_creds.cap_effective;
  change.old_cap_permitted = e.old_creds.cap_permitted;
  change.new_cap_permitted = e.new_creds.cap_permitted;
  change.result = e.result;
  event.body = std::move(change);
  return DecodeError::kNone;
}

DecodeError decode_ptrace(std::span<const uint8_t> record, protocol::Event& event) {
  if (auto error = check_size<sensor_ptrace>(record); error != DecodeError::kNone) return error;
  const auto e = load<sensor_ptrace>(record);
  protocol::Ptrace ptrace;
  ptrace.request = e.request;
  ptrace.target_pid = e.target_pid;
  ptrace.result = e.result;
  event.body = std::move(ptrace);
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
    case DecodeError::kBadTime:
      return "bad_time";
    case DecodeError::kBadSyscall:
      return "bad_syscall";
  }
  return "unknown";
}

std::string_view privilege_syscall_name(uint32_t syscall) {
  return syscall < SENSOR_PRIV_SYSCALL_COUNT ? kPrivilegeSyscalls[syscall] : std::string_view();
}

DecodeError decode_record(std::span<const uint8_t> record, int64_t boot_to_wall_ns,
                          protocol::Event& event, protocol::Event* fileless, bool* fileless_found) {
  if (fileless_found != nullptr) *fileless_found = false;
  if (record.size() < sizeof(sensor_header)) return DecodeError::kTooShort;
  const auto header = load<sensor_header>(record);
  DecodeError error;
  bool found = false;
  protocol::FilelessExec fileless_body;
  switch (header.kind) {
    case SENSOR_EVENT_PROCESS_EXEC:
      error = decode_exec(record, event, fileless != nullptr ? &fileless_body : nullptr, found);
      break;
    case SENSOR_EVENT_PROCESS_EXIT:
      error = decode_exit(record, event);
      break;
    case SENSOR_EVENT_NETWORK_CONNECT:
      error = decode_flow<protocol::NetworkConnect>(record, event);
      break;
    case SENSOR_EVENT_PROCESS_FORK:
      error = decode_fork(record, boot_to_wall_ns, event);
      break;
    case SENSOR_EVENT_NETWORK_ACCEPT:
      error = decode_flow<protocol::NetworkAccept>(record, event);
      break;
    case SENSOR_EVENT_NETWORK_LISTEN:
      error = decode_flow<protocol::NetworkListen>(record, event);
      break;
    case SENSOR_EVENT_FILE_OPEN:
      error = decode_file_open(record, event);
      break;
    case SENSOR_EVENT_PRIVILEGE_CHANGE:
      error = decode_privilege(record, event);
      break;
    case SENSOR_EVENT_PTRACE:
      error = decode_ptrace(record, event);
      break;
    default:
      return DecodeError::kUnknownKind;
  }
  if (error != DecodeError::kNone) return error;
  fill_common(header, boot_to_wall_ns, event);
  if (event.time_ns > kMaxWireNs || event.process_start_ns > kMaxWireNs) {
    return DecodeError::kBadTime;
  }
  if (found && fileless != nullptr) {
    protocol::Event copy;
    fill_common(header, boot_to_wall_ns, copy);
    copy.body = std::move(fileless_body);
    *fileless = std::move(copy);
  }
  if (fileless_found != nullptr) *fileless_found = found;
  return DecodeError::kNone;
}

int64_t boot_to_wall_offset_ns() {
  timespec real{}, boot{};
  clock_gettime(CLOCK_REALTIME, &real);
  clock_gettime(CLOCK_BOOTTIME, &boot);
  return (static_cast<int64_t>(real.tv_sec) - boot.tv_sec) * 1'000'000'000 +
         (static_cast<int64_t>(real.tv_nsec) - boot.tv_nsec);
}

}  // namespace vigie::sensor
