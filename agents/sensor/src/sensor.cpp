#include "vigie/sensor/sensor.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdarg>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <type_traits>
#include <variant>
#include <vector>

#include "sensor.skel.h"
#include "sensor_events.h"
#include "vigie/sensor/decoder.h"
#include "vigie/sensor/image_hash.h"
#include "vigie/sensor/process_table.h"
#include "vigie/workload/procfs.h"
#include "vigie/workload/user_cache.h"

namespace vigie::sensor {
namespace {

constexpr const char* kBtfPath = "/sys/kernel/btf/vmlinux";
constexpr const char* kTracefsPath = "/sys/kernel/tracing";
constexpr size_t kLogExcerptBytes = 2048;

// libbpf's own messages go to spdlog. While open() runs they are also kept
// (warnings only, which include the verifier log) so that a failure can be
// explained to the caller.
thread_local std::string* libbpf_capture = nullptr;

int libbpf_print(libbpf_print_level level, const char* format, va_list args) {
  const auto spd_level = level == LIBBPF_WARN   ? spdlog::level::warn
                         : level == LIBBPF_INFO ? spdlog::level::debug
                                                : spdlog::level::trace;
  const bool capture = libbpf_capture != nullptr && level == LIBBPF_WARN;
  if (!capture && !spdlog::should_log(spd_level)) return 0;
  va_list copy;
  va_copy(copy, args);
  int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return 0;
  std::string text(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(text.data(), text.size(), format, args);
  text.resize(static_cast<size_t>(n));
  if (capture) {
    *libbpf_capture += text;
    if (libbpf_capture->size() > 4 * kLogExcerptBytes) {
      libbpf_capture->erase(0, libbpf_capture->size() - 2 * kLogExcerptBytes);
    }
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  spdlog::log(spd_level, "libbpf: {}", text);
  return 0;
}

std::string excerpt(const std::string& log) {
  if (log.empty()) return {};
  std::string tail =
      log.size() > kLogExcerptBytes ? "..." + log.substr(log.size() - kLogExcerptBytes) : log;
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  return "; libbpf: " + tail;
}

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

bool is_permission_error(int err) { return err == -EPERM || err == -EACCES; }

const char* kPrivilegeHint = "eBPF needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE)";

// The capabilities the sensor needs that this process does not have in its
// effective set: CAP_BPF (bpf(2) maps and programs) and CAP_PERFMON
// (tracepoint attachment), each also granted by CAP_SYS_ADMIN (Linux 5.8,
// include/uapi/linux/capability.h). Empty when all are there, or when they
// cannot be read (the kernel's answer then says why).
std::vector<std::string> missing_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return {};
  auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1u; };
  if (has(CAP_SYS_ADMIN)) return {};
  std::vector<std::string> missing;
  if (!has(CAP_BPF)) missing.emplace_back("CAP_BPF");
  if (!has(CAP_PERFMON)) missing.emplace_back("CAP_PERFMON");
  return missing;
}

// "missing capability CAP_BPF, CAP_PERFMON (...)" or "" when none is missing.
std::string missing_capabilities_text() {
  const auto missing = missing_capabilities();
  if (missing.empty()) return {};
  std::string text = missing.size() == 1 ? "missing capability " : "missing capabilities ";
  for (size_t i = 0; i < missing.size(); ++i) text += (i ? ", " : "") + missing[i];
  return text + " (" + kPrivilegeHint + ")";
}

// Tracepoint attachment reads the tracepoint id from tracefs.
bool ensure_tracefs(bool may_mount, std::string& error) {
  if (::access("/sys/kernel/tracing/events", F_OK) == 0 ||
      ::access("/sys/kernel/debug/tracing/events", F_OK) == 0) {
    return true;
  }
  if (!may_mount) {
    error = "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)";
    return false;
  }
  if (::mount("nodev", kTracefsPath, "tracefs", 0, nullptr) != 0) {
    error = std::string("tracefs is not mounted and mounting it on ") + kTracefsPath +
            " failed: " + std::strerror(errno);
    return false;
  }
  spdlog::info("sensor: mounted tracefs on {} for tracepoint attachment", kTracefsPath);
  return true;
}

// One program of a kind. A kind runs when every required program of it is
// attached and at least one program is; an optional one (a syscall some
// architectures lack, failed-exec reporting) is logged when it cannot attach.
using Progs = decltype(sensor_bpf::progs);
using Links = decltype(sensor_bpf::links);
struct ProgramSpec {
  bpf_program* Progs::*program;
  bpf_link* Links::*link;
  protocol::EventKind kind;
  bool required;
};

#define VIGIE_PROGRAM(name, kind, required) \
  ProgramSpec { &Progs::name, &Links::name, kind, required }

using K = protocol::EventKind;
const ProgramSpec kPrograms[] = {
    VIGIE_PROGRAM(handle_exec, K::kProcessExec, true),
    VIGIE_PROGRAM(handle_execve_enter, K::kProcessExec, false),
    VIGIE_PROGRAM(handle_execve_exit, K::kProcessExec, false),
    VIGIE_PROGRAM(handle_execveat_enter, K::kProcessExec, false),
    VIGIE_PROGRAM(handle_execveat_exit, K::kProcessExec, false),
    VIGIE_PROGRAM(handle_exit, K::kProcessExit, true),
    VIGIE_PROGRAM(handle_connect, K::kNetworkConnect, true),
    VIGIE_PROGRAM(handle_fork, K::kProcessFork, true),
    VIGIE_PROGRAM(handle_accept_exit, K::kNetworkAccept, false),
    VIGIE_PROGRAM(handle_accept4_exit, K::kNetworkAccept, false),
    VIGIE_PROGRAM(handle_listen, K::kNetworkListen, true),
    VIGIE_PROGRAM(handle_openat_enter, K::kFileOpen, true),
    VIGIE_PROGRAM(handle_openat_exit, K::kFileOpen, true),
    VIGIE_PROGRAM(handle_open_enter, K::kFileOpen, false),
    VIGIE_PROGRAM(handle_open_exit, K::kFileOpen, false),
    VIGIE_PROGRAM(handle_openat2_enter, K::kFileOpen, false),
    VIGIE_PROGRAM(handle_openat2_exit, K::kFileOpen, false),
    VIGIE_PROGRAM(handle_creat_enter, K::kFileOpen, false),
    VIGIE_PROGRAM(handle_creat_exit, K::kFileOpen, false),
    VIGIE_PROGRAM(handle_setuid_enter, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setuid_exit, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setgid_enter, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setgid_exit, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setreuid_enter, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setreuid_exit, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setregid_enter, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setregid_exit, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setresuid_enter, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setresuid_exit, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setresgid_enter, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setresgid_exit, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setfsuid_enter, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setfsuid_exit, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setfsgid_enter, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_setfsgid_exit, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_capset_enter, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_capset_exit, K::kPrivilegeChange, false),
    VIGIE_PROGRAM(handle_ptrace_enter, K::kPtrace, true),
    VIGIE_PROGRAM(handle_ptrace_exit, K::kPtrace, true),
};
#undef VIGIE_PROGRAM

// handle_exit also clears what exited threads left in the pending map: it is
// loaded whenever a kind that uses the map is, and emits only when exit is on.
bool needs_exit_program(const std::array<bool, protocol::kEventKindCount>& load) {
  for (K kind : {K::kProcessExit, K::kProcessExec, K::kFileOpen, K::kPrivilegeChange, K::kPtrace}) {
    if (load[static_cast<size_t>(kind)]) return true;
  }
  return false;
}

// Parses one watched-path pattern (see SensorOptions::watched_paths).
bool parse_watch(const std::string& text, sensor_watch& watch, std::string& error) {
  std::string_view pattern = text;
  watch = {};
  if (pattern.rfind("w:", 0) == 0) {
    watch.flags |= SENSOR_WATCH_WRITE_ONLY;
    pattern.remove_prefix(2);
  }
  if (pattern.rfind("*/", 0) == 0) {
    watch.flags |= SENSOR_WATCH_SUFFIX;
    pattern.remove_prefix(2);
  } else if (pattern.empty() || pattern.front() != '/') {
    error = "watched path '" + text + "' must be absolute or start with */";
    return false;
  }
  if (pattern.empty() || pattern.size() >= SENSOR_WATCH_PATTERN_BYTES) {
    error = "watched path '" + text + "' must have 1 to " +
            std::to_string(SENSOR_WATCH_PATTERN_BYTES - 1) + " bytes";
    return false;
  }
  watch.len = static_cast<uint32_t>(pattern.size());
  std::memcpy(watch.pattern, pattern.data(), pattern.size());
  return true;
}

// The real uid of a process (the first field of "Uid:" in /proc/PID/status).
std::optional<uint32_t> real_uid(const std::string& proc_root, uint32_t pid) {
  auto status = workload::read_file(proc_root + "/" + std::to_string(pid) + "/status", 4096);
  if (!status) return std::nullopt;
  size_t at = status->find("\nUid:");
  if (at == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(*status).substr(at + 5);
  while (!rest.empty() && (rest.front() == '\t' || rest.front() == ' ')) rest.remove_prefix(1);
  uint32_t uid = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), uid);
  if (ec != std::errc()) return std::nullopt;
  return uid;
}

}  // namespace

struct Sensor::Impl {
  explicit Impl(const SensorOptions& o)
      : options(o),
        processes(o.proc_root, o.process_table_max_entries),
        hasher(o.hash_cache_entries) {}
  ~Impl() {
    if (positions != nullptr) ::munmap(const_cast<void*>(positions), positions_bytes);
    ring_buffer__free(ring);
    sensor_bpf__destroy(skel);
  }

  // libbpf 1.1 has no ring__avail_data_size(): map the ring's first two pages
  // read-only ourselves. The kernel's layout (kernel/bpf/ringbuf.c, struct
  // bpf_ringbuf; the same libbpf's ringbuf.c maps): page 0 starts with
  // consumer_pos, page 1 with producer_pos, both unsigned long byte counters
  // that only grow. A read-only mapping of them is allowed at any offset.
  bool map_positions(int fd, std::string& error) {
    const long page = ::sysconf(_SC_PAGESIZE);
    positions_bytes = 2 * static_cast<size_t>(page);
    void* at = ::mmap(nullptr, positions_bytes, PROT_READ, MAP_SHARED, fd, 0);
    if (at == MAP_FAILED) {
      error = "mapping the ring buffer's positions failed: " + errno_text(errno);
      return false;
    }
    positions = at;
    producer_offset = static_cast<size_t>(page);
    return true;
  }

  // producer_pos - consumer_pos, as BPF_RB_AVAIL_DATA computes it in the
  // kernel: bytes written (or reserved) and not yet consumed.
  uint64_t ring_used_bytes() const {
    const auto* base = static_cast<const uint8_t*>(positions);
    const auto* consumer = reinterpret_cast<const unsigned long*>(base);
    const auto* producer = reinterpret_cast<const unsigned long*>(base + producer_offset);
    // Consumer first: it never passes the producer, so the difference read in
    // this order is never negative.
    const unsigned long c = __atomic_load_n(consumer, __ATOMIC_ACQUIRE);
    const unsigned long p = __atomic_load_n(producer, __ATOMIC_ACQUIRE);
    return p - c;
  }

  static int on_record(void* ctx, void* data, size_t size) {
    static_cast<Impl*>(ctx)->handle(static_cast<const uint8_t*>(data), size);
    return 0;
  }

  void handle(const uint8_t* data, size_t size) {
    protocol::Event event;
    protocol::Event fileless;
    bool is_fileless = false;
    DecodeError error =
        decode_record({data, size}, boot_to_wall_ns, event, &fileless, &is_fileless);
    if (error != DecodeError::kNone) {
      ++decode_errors;
      // Log-spaced so that a broken producer cannot flood the log.
      if ((decode_errors & (decode_errors - 1)) == 0) {
        spdlog::warn("sensor: malformed ring-buffer record ({}, {} bytes), {} so far",
                     to_string(error), size, decode_errors);
      }
      return;
    }
    enrich(event);
    deliver(std::move(event));
    if (is_fileless && options.enabled(K::kFilelessExec)) {
      fileless.user = users.name(fileless.uid);
      deliver(std::move(fileless));
    }
  }

  void deliver(protocol::Event&& event) {
    ++delivered;
    ++events_total;
    (*sink)(std::move(event));
  }

  std::string image_of(uint32_t pid, uint64_t start_ns) {
    const ProcessInfo* process = processes.find(pid, start_ns);
    return process != nullptr ? process->image : std::string();
  }

  void enrich_exec(protocol::Event& event, protocol::ProcessExec& exec) {
    const std::string proc_dir = processes.proc_root() + "/" + std::to_string(event.pid);
    // The kernel reports the path given to execve(); resolve a relative one
    // while the process most likely still runs that image.
    if (exec.exec_errno == 0 && !exec.image.empty() && exec.image.front() != '/') {
      if (auto info = ProcessTable::read_proc(processes.proc_root(), event.pid);
          info && !info->image.empty()) {
        exec.image = std::move(info->image);
      }
    }
    exec.ancestry = processes.ancestry(event.ppid, event.process_start_ns,
                                       std::max<size_t>(options.ancestry_depth, 1));
    if (!exec.ancestry.empty() && exec.ancestry.front().pid == event.ppid) {
      exec.parent_image = exec.ancestry.front().image;
      exec.parent_command_line = exec.ancestry.front().command_line;
    }
    if (options.ancestry_depth == 0) exec.ancestry.clear();
    if (exec.exec_errno != 0) return;  // the caller runs on: its entry stays
    if (options.hash_images) {
      // /proc/PID/exe opens the very image, even deleted or replaced since.
      exec.sha256 = hasher.hash(proc_dir + "/exe");
      if (exec.sha256.empty() && !exec.image.empty()) exec.sha256 = hasher.hash(exec.image);
      if (exec.sha256.empty()) ++hash_failures;
    }
    processes.upsert(event.pid,
                     {exec.image, exec.command_line, event.ppid, event.process_start_ns});
  }

  void enrich(protocol::Event& event) {
    event.user = users.name(event.uid);
    std::visit(
        [&](auto& body) {
          using T = std::decay_t<decltype(body)>;
          if constexpr (std::is_same_v<T, protocol::ProcessExec>) {
            enrich_exec(event, body);
          } else if constexpr (std::is_same_v<T, protocol::ProcessExit>) {
            body.image = image_of(event.pid, event.process_start_ns);
            processes.erase(event.pid);
          } else if constexpr (std::is_same_v<T, protocol::ProcessFork>) {
            // The child runs the parent's image until it execs.
            ProcessInfo child{"", "", event.pid, body.child_start_ns};
            if (const ProcessInfo* parent = processes.find(event.pid, event.process_start_ns)) {
              body.image = parent->image;
              child.image = parent->image;
              child.command_line = parent->command_line;
            }
            processes.upsert(body.child_pid, std::move(child));
          } else if constexpr (std::is_same_v<T, protocol::FileOpen>) {
            body.image = image_of(event.pid, event.process_start_ns);
            if (!body.path.empty() && body.path.front() != '/') {
              std::error_code ec;
              auto cwd = std::filesystem::read_symlink(
                  processes.proc_root() + "/" + std::to_string(event.pid) + "/cwd", ec);
              if (!ec) body.path = (cwd / body.path).lexically_normal().string();
            }
          } else if constexpr (std::is_same_v<T, protocol::Ptrace>) {
            body.image = image_of(event.pid, event.process_start_ns);
            body.target_image = image_of(body.target_pid, 0);
            if (auto uid = real_uid(processes.proc_root(), body.target_pid)) body.target_uid = *uid;
          } else if constexpr (std::is_same_v<T, protocol::FilelessExec>) {
          } else {
            body.image = image_of(event.pid, event.process_start_ns);
          }
        },
        event.body);
  }

  uint64_t sum_per_cpu(bpf_map* map, uint32_t key) const {
    std::vector<uint64_t> per_cpu(static_cast<size_t>(possible_cpus));
    if (bpf_map__lookup_elem(map, &key, sizeof(key), per_cpu.data(),
                             per_cpu.size() * sizeof(uint64_t), 0) != 0) {
      return 0;
    }
    uint64_t total = 0;
    for (uint64_t n : per_cpu) total += n;
    return total;
  }

  SensorOptions options;
  sensor_bpf* skel = nullptr;
  ring_buffer* ring = nullptr;
  const void* positions = nullptr;  // the ring's consumer and producer pages, read-only
  size_t positions_bytes = 0;
  size_t producer_offset = 0;
  int possible_cpus = 1;
  ProcessTable processes;
  ImageHasher hasher;
  workload::UserCache users;
  int64_t boot_to_wall_ns = 0;
  const std::function<void(protocol::Event&&)>* sink = nullptr;
  int delivered = 0;
  uint64_t decode_errors = 0;
  uint64_t events_total = 0;
  uint64_t hash_failures = 0;
  std::vector<KindStatus> kinds;
};

Sensor::Sensor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Sensor::~Sensor() = default;

std::vector<std::string> SensorOptions::default_watched_paths() {
  return {"/etc/shadow",        "/etc/gshadow", "/etc/sudoers",  // also sudoers.d/
          "/etc/ld.so.preload", "/etc/cron",                     // cron.d/, crontab, cron.daily/...
          "/var/spool/cron",    "/root/.ssh",   "*/.ssh/authorized_keys",
          "w:/etc/passwd",      "w:/etc/group"};
}

namespace {

// Opens the skeleton with the programs of `load` kinds set to load (those of
// `broken` made unloadable), and loads it. Returns 0 or a negative errno.
int load_skeleton(const SensorOptions& options,
                  const std::array<bool, protocol::kEventKindCount>& load, sensor_bpf*& skel) {
  skel = sensor_bpf__open();
  if (skel == nullptr) return -errno;
  skel->rodata->self_tgid = options.exclude_self ? static_cast<uint32_t>(::getpid()) : 0;
  skel->rodata->wakeup_bytes = options.wakeup_bytes;
  skel->rodata->only_cgroup_id = options.only_cgroup_id;
  int err = bpf_map__set_max_entries(skel->maps.events, options.ringbuf_bytes);
  for (const ProgramSpec& spec : kPrograms) {
    const auto kind = static_cast<size_t>(spec.kind);
    bool on = load[kind] || (spec.kind == K::kProcessExit && needs_exit_program(load));
    bpf_program* program = skel->progs.*spec.program;
    if (err == 0) err = bpf_program__set_autoload(program, on);
    const bool broken = std::find(options.break_kinds.begin(), options.break_kinds.end(),
                                  spec.kind) != options.break_kinds.end();
    // A type this kernel refuses for these programs, as a kernel without
    // syscall tracepoints or with BPF restricted per type would.
    if (err == 0 && on && broken) err = bpf_program__set_type(program, BPF_PROG_TYPE_TRACING);
  }
  if (err == 0) err = sensor_bpf__load(skel);
  if (err != 0) {
    sensor_bpf__destroy(skel);
    skel = nullptr;
  }
  return err;
}

// Sensor::open's phases, in order. Each returns false (or nullptr) with
// `error` set when the sensor cannot run at all.

// Phase 1: options the kernel would refuse, and the watched paths in their
// kernel form.
bool validate_options(const SensorOptions& options, std::vector<sensor_watch>& watches,
                      std::string& error) {
  const long page = ::sysconf(_SC_PAGESIZE);
  const uint32_t bytes = options.ringbuf_bytes;
  if (bytes < page || (bytes & (bytes - 1)) != 0) {
    error = "ringbuf_bytes must be a power of two >= the page size (" + std::to_string(page) +
            "), got " + std::to_string(bytes);
    return false;
  }
  if (options.wakeup_bytes >= bytes) {
    error = "wakeup_bytes (" + std::to_string(options.wakeup_bytes) +
            ") must be below ringbuf_bytes (" + std::to_string(bytes) + ")";
    return false;
  }
  if (options.watched_paths.size() > SENSOR_WATCH_MAX) {
    error = "at most " + std::to_string(SENSOR_WATCH_MAX) + " watched paths, got " +
            std::to_string(options.watched_paths.size());
    return false;
  }
  watches.assign(options.watched_paths.size(), sensor_watch{});
  for (size_t i = 0; i < watches.size(); ++i) {
    if (!parse_watch(options.watched_paths[i], watches[i], error)) return false;
  }
  return true;
}

// Phase 2: what the kernel and this process offer: BTF, the BPF ring buffer,
// the capabilities, tracefs.
bool probe_kernel(const SensorOptions& options, bool any_program, std::string& error) {
  if (::access(kBtfPath, R_OK) != 0) {
    error = std::string("kernel BTF unavailable at ") + kBtfPath + " (" + std::strerror(errno) +
            "): CO-RE needs a kernel built with CONFIG_DEBUG_INFO_BTF=y";
    return false;
  }
  // libbpf's probe answers 0 ("not supported") for a map it may not create,
  // so a missing capability is told apart first.
  const int probe = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr);
  if (probe <= 0) {
    if (const std::string missing = missing_capabilities_text(); !missing.empty()) {
      error = missing;
    } else if (probe == 0) {
      error = "the kernel has no BPF ring buffer (Linux >= 5.8 needed)";
    } else {
      error = "probing eBPF support failed: " + errno_text(probe) +
              (is_permission_error(probe) ? std::string("; ") + kPrivilegeHint : "");
    }
    return false;
  }
  return !any_program || ensure_tracefs(options.mount_tracefs, error);
}

// Phase 3: loads the programs of the `load` kinds. When the kernel refuses
// the whole set, finds the kinds it refuses (one load each), turns them off
// with their reason, and loads the rest.
sensor_bpf* load_programs(const SensorOptions& options,
                          std::array<bool, protocol::kEventKindCount>& load,
                          std::array<std::string, protocol::kEventKindCount>& off_reason,
                          std::string& log, std::string& error) {
  sensor_bpf* skel = nullptr;
  int err = load_skeleton(options, load, skel);
  if (err != 0 && is_permission_error(err)) {
    const std::string missing = missing_capabilities_text();
    error = "loading the eBPF programs failed: " + errno_text(err) + " (" +
            (missing.empty() ? kPrivilegeHint : missing) + ")" + excerpt(log);
    return nullptr;
  }
  if (err == 0) return skel;
  for (int k = 0; k < protocol::kEventKindCount; ++k) {
    if (!load[k]) continue;
    std::array<bool, protocol::kEventKindCount> alone{};
    alone[k] = true;
    log.clear();
    sensor_bpf* trial = nullptr;
    const int trial_err = load_skeleton(options, alone, trial);
    sensor_bpf__destroy(trial);
    if (trial_err != 0) {
      load[k] = false;
      off_reason[k] = "the kernel refused its programs: " + errno_text(trial_err) + excerpt(log);
    }
  }
  log.clear();
  err = std::find(load.begin(), load.end(), true) == load.end()
            ? -ENOENT
            : load_skeleton(options, load, skel);
  if (err != 0) {
    error = "loading the eBPF programs failed: " + errno_text(err) + excerpt(log);
    return nullptr;
  }
  return skel;
}

// Phase 4 (and again after attachment): which kinds the programs report, in
// the kind_enabled map.
bool write_kind_enabled(sensor_bpf* skel, const std::array<bool, protocol::kEventKindCount>& load,
                        std::string& error) {
  for (uint32_t k = 0; k < protocol::kEventKindCount; ++k) {
    const uint32_t on = load[k] ? 1 : 0;
    const int err =
        bpf_map__update_elem(skel->maps.kind_enabled, &k, sizeof(k), &on, sizeof(on), BPF_ANY);
    if (err != 0) {
      error = "writing the kind_enabled map failed: " + errno_text(err);
      return false;
    }
  }
  return true;
}

bool write_watches(sensor_bpf* skel, const std::vector<sensor_watch>& watches, std::string& error) {
  for (uint32_t i = 0; i < watches.size(); ++i) {
    const int err = bpf_map__update_elem(skel->maps.watched, &i, sizeof(i), &watches[i],
                                         sizeof(watches[i]), BPF_ANY);
    if (err != 0) {
      error = "writing the watched-paths map failed: " + errno_text(err);
      return false;
    }
  }
  return true;
}

// Phase 5: attaches each loaded program on its own; a kind whose required
// programs (or all of its programs) cannot attach is turned off with its
// reason, and its other links destroyed.
void attach_programs(sensor_bpf* skel, std::array<bool, protocol::kEventKindCount>& load,
                     std::array<std::string, protocol::kEventKindCount>& off_reason) {
  std::array<int, protocol::kEventKindCount> attached{};
  for (const ProgramSpec& spec : kPrograms) {
    const auto k = static_cast<size_t>(spec.kind);
    bpf_program* program = skel->progs.*spec.program;
    if (!bpf_program__autoload(program)) continue;
    bpf_link*& link = skel->links.*spec.link;
    link = bpf_program__attach(program);
    if (link != nullptr) {
      ++attached[k];
      continue;
    }
    const std::string why =
        std::string(bpf_program__section_name(program)) + ": " + errno_text(errno);
    if (spec.required && load[k]) {
      load[k] = false;
      off_reason[k] = "attaching " + why;
    } else if (load[k]) {
      spdlog::warn("sensor: {} degraded, {} not attached ({})", protocol::to_string(spec.kind),
                   bpf_program__name(program), why);
    }
  }
  for (const ProgramSpec& spec : kPrograms) {
    const auto k = static_cast<size_t>(spec.kind);
    if (load[k] && attached[k] == 0) {
      load[k] = false;
      off_reason[k] = "none of its tracepoints could be attached";
    }
    bpf_link*& link = skel->links.*spec.link;
    const bool keep = load[k] || (spec.kind == K::kProcessExit && needs_exit_program(load));
    if (!keep && link != nullptr) {
      bpf_link__destroy(link);
      link = nullptr;
    }
  }
}

}  // namespace

std::unique_ptr<Sensor> Sensor::open(const SensorOptions& options, std::string& error) {
  static std::once_flag print_once;
  std::call_once(print_once, [] { libbpf_set_print(libbpf_print); });
  error.clear();

  std::vector<sensor_watch> watches;
  if (!validate_options(options, watches, error)) return nullptr;
  std::array<bool, protocol::kEventKindCount> load = options.kinds;
  load[static_cast<size_t>(K::kFilelessExec)] = false;  // no program of its own
  const bool any_program = std::find(load.begin(), load.end(), true) != load.end();
  if (!probe_kernel(options, any_program, error)) return nullptr;

  auto impl = std::make_unique<Impl>(options);
  std::array<std::string, protocol::kEventKindCount> off_reason;
  for (int k = 0; k < protocol::kEventKindCount; ++k) {
    if (!options.kinds[k]) off_reason[k] = "disabled by configuration";
  }
  if (options.kinds[static_cast<size_t>(K::kFilelessExec)] && !options.enabled(K::kProcessExec)) {
    off_reason[static_cast<size_t>(K::kFilelessExec)] = "needs process_exec";
  }

  std::string log;
  libbpf_capture = &log;
  struct CaptureEnd {
    ~CaptureEnd() { libbpf_capture = nullptr; }
  } capture_end;

  impl->skel = load_programs(options, load, off_reason, log, error);
  if (impl->skel == nullptr) return nullptr;
  sensor_bpf* skel = impl->skel;
  if (!write_kind_enabled(skel, load, error) || !write_watches(skel, watches, error))
    return nullptr;
  attach_programs(skel, load, off_reason);
  if (!write_kind_enabled(skel, load, error)) return nullptr;

  if (!load[static_cast<size_t>(K::kProcessExec)] &&
      off_reason[static_cast<size_t>(K::kFilelessExec)].empty()) {
    off_reason[static_cast<size_t>(K::kFilelessExec)] = "needs process_exec";
  }
  bool any_up = false;
  for (int k = 0; k < protocol::kEventKindCount; ++k) {
    const auto kind = static_cast<protocol::EventKind>(k);
    KindStatus status{kind, off_reason[k].empty(), off_reason[k]};
    any_up |= status.up;
    if (!status.up && options.kinds[k]) {
      spdlog::warn("sensor: {} off: {}", protocol::to_string(kind), status.reason);
    }
    impl->kinds.push_back(std::move(status));
  }
  if (!any_up) {
    error = "no event kind could run";
    for (const auto& status : impl->kinds) {
      error += "; " + std::string(protocol::to_string(status.kind)) + ": " + status.reason;
    }
    return nullptr;
  }

  // Phase 6: the ring-buffer reader and the process table.
  impl->ring =
      ring_buffer__new(bpf_map__fd(skel->maps.events), &Impl::on_record, impl.get(), nullptr);
  if (impl->ring == nullptr) {
    error = "creating the ring-buffer reader failed: " + errno_text(errno) + excerpt(log);
    return nullptr;
  }
  if (!impl->map_positions(bpf_map__fd(skel->maps.events), error)) return nullptr;
  impl->possible_cpus = libbpf_num_possible_cpus();
  if (impl->possible_cpus <= 0) {
    error = "reading the possible CPUs failed: " + errno_text(impl->possible_cpus);
    return nullptr;
  }

  impl->boot_to_wall_ns = boot_to_wall_offset_ns();
  impl->processes.set_boot_to_wall_ns(impl->boot_to_wall_ns);
  const size_t seeded = impl->processes.seed();
  std::string on;
  for (const auto& status : impl->kinds) {
    if (status.up) on += (on.empty() ? "" : ",") + std::string(protocol::to_string(status.kind));
  }
  spdlog::info("sensor: attached ({}), ring buffer {} bytes, {} processes known from {}", on,
               options.ringbuf_bytes, seeded, options.proc_root);
  return std::unique_ptr<Sensor>(new Sensor(std::move(impl)));
}

int Sensor::poll(int timeout_ms, const std::function<void(protocol::Event&&)>& sink) {
  impl_->boot_to_wall_ns = boot_to_wall_offset_ns();
  impl_->processes.set_boot_to_wall_ns(impl_->boot_to_wall_ns);
  impl_->sink = &sink;
  impl_->delivered = 0;
  int rc = ring_buffer__poll(impl_->ring, timeout_ms);
  // With wakeup_bytes set, records below the threshold raise no epoll event:
  // take them now that the wait is over.
  if (rc == 0) rc = ring_buffer__consume(impl_->ring);
  impl_->sink = nullptr;
  return rc < 0 ? rc : impl_->delivered;
}

uint64_t Sensor::ringbuf_drops(protocol::EventKind kind) const {
  return impl_->sum_per_cpu(impl_->skel->maps.drops, static_cast<uint32_t>(kind));
}

uint64_t Sensor::ringbuf_drops_total() const {
  uint64_t total = 0;
  for (int kind = 0; kind < protocol::kEventKindCount; ++kind) {
    total += ringbuf_drops(static_cast<protocol::EventKind>(kind));
  }
  return total;
}

uint64_t Sensor::pending_full() const {
  return impl_->sum_per_cpu(impl_->skel->maps.counters, SENSOR_COUNTER_PENDING_FULL);
}

uint64_t Sensor::decode_errors() const { return impl_->decode_errors; }
uint64_t Sensor::events_total() const { return impl_->events_total; }
uint64_t Sensor::process_table_evictions() const { return impl_->processes.evictions(); }
size_t Sensor::process_table_size() const { return impl_->processes.size(); }
uint64_t Sensor::image_hash_failures() const { return impl_->hash_failures; }
const std::vector<Sensor::KindStatus>& Sensor::kinds() const { return impl_->kinds; }
uint32_t Sensor::ringbuf_size_bytes() const { return impl_->options.ringbuf_bytes; }
uint64_t Sensor::ringbuf_used_bytes() const { return impl_->ring_used_bytes(); }

std::vector<std::string> Sensor::kinds_off() const {
  std::vector<std::string> off;
  for (const auto& status : impl_->kinds) {
    if (!status.up) off.emplace_back(protocol::to_string(status.kind));
  }
  return off;
}

}  // namespace vigie::sensor
