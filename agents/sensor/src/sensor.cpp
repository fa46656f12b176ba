#include "vigie/sensor/sensor.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <mutex>
#include <vector>

#include "sensor.skel.h"
#include "sensor_events.h"
#include "vigie/sensor/decoder.h"
#include "vigie/sensor/process_table.h"
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

}  // namespace

struct Sensor::Impl {
  explicit Impl(const SensorOptions& options)
      : processes(options.proc_root, options.process_table_max_entries) {}
  ~Impl() {
    ring_buffer__free(ring);
    sensor_bpf__destroy(skel);
  }

  static int on_record(void* ctx, void* data, size_t size) {
    static_cast<Impl*>(ctx)->handle(static_cast<const uint8_t*>(data), size);
    return 0;
  }

  void handle(const uint8_t* data, size_t size) {
    protocol::Event event;
    DecodeError error = decode_record({data, size}, boot_to_wall_ns, event);
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
    ++delivered;
    ++events_total;
    (*sink)(std::move(event));
  }

  void enrich(protocol::Event& event) {
    event.user = users.name(event.uid);
    if (auto* exec = std::get_if<protocol::ProcessExec>(&event.body)) {
      // The kernel reports the path given to execve(); resolve a relative one
      // while the process most likely still runs that image.
      if (!exec->image.empty() && exec->image.front() != '/') {
        if (auto info = ProcessTable::read_proc(processes.proc_root(), event.pid);
            info && !info->image.empty()) {
          exec->image = std::move(info->image);
        }
      }
      if (const ProcessInfo* parent = processes.find(event.ppid)) {
        exec->parent_image = parent->image;
        exec->parent_command_line = parent->command_line;
      }
      processes.upsert(event.pid, {exec->image, exec->command_line, event.ppid});
    } else if (auto* exit = std::get_if<protocol::ProcessExit>(&event.body)) {
      if (const ProcessInfo* process = processes.find(event.pid)) exit->image = process->image;
      processes.erase(event.pid);
    } else if (auto* connect = std::get_if<protocol::NetworkConnect>(&event.body)) {
      if (const ProcessInfo* process = processes.find(event.pid)) connect->image = process->image;
    }
  }

  sensor_bpf* skel = nullptr;
  ring_buffer* ring = nullptr;
  int possible_cpus = 1;
  ProcessTable processes;
  workload::UserCache users;
  int64_t boot_to_wall_ns = 0;
  const std::function<void(protocol::Event&&)>* sink = nullptr;
  int delivered = 0;
  uint64_t decode_errors = 0;
  uint64_t events_total = 0;
};

Sensor::Sensor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Sensor::~Sensor() = default;

std::unique_ptr<Sensor> Sensor::open(const SensorOptions& options, std::string& error) {
  static std::once_flag print_once;
  std::call_once(print_once, [] { libbpf_set_print(libbpf_print); });
  error.clear();

  const long page = ::sysconf(_SC_PAGESIZE);
  const uint32_t bytes = options.ringbuf_bytes;
  if (bytes < page || (bytes & (bytes - 1)) != 0) {
    error = "ringbuf_bytes must be a power of two >= the page size (" + std::to_string(page) +
            "), got " + std::to_string(bytes);
    return nullptr;
  }
  if (options.wakeup_bytes >= bytes) {
    error = "wakeup_bytes (" + std::to_string(options.wakeup_bytes) +
            ") must be below ringbuf_bytes (" + std::to_string(bytes) + ")";
    return nullptr;
  }
  if (::access(kBtfPath, R_OK) != 0) {
    error = std::string("kernel BTF unavailable at ") + kBtfPath + " (" + std::strerror(errno) +
            "): CO-RE needs a kernel built with CONFIG_DEBUG_INFO_BTF=y";
    return nullptr;
  }
  int probe = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr);
  if (probe == 0) {
    error = "the kernel has no BPF ring buffer (Linux >= 5.8 needed)";
    return nullptr;
  }
  if (probe < 0) {
    error = "probing eBPF support failed: " + errno_text(probe) +
            (is_permission_error(probe) ? std::string("; ") + kPrivilegeHint : "");
    return nullptr;
  }
  const bool any_program = options.process_exec || options.process_exit || options.network_connect;
  if (any_program && !ensure_tracefs(options.mount_tracefs, error)) return nullptr;

  auto impl = std::make_unique<Impl>(options);
  std::string log;
  libbpf_capture = &log;
  struct CaptureEnd {
    ~CaptureEnd() { libbpf_capture = nullptr; }
  } capture_end;

  impl->skel = sensor_bpf__open();
  if (impl->skel == nullptr) {
    error = "opening the eBPF object failed: " + errno_text(errno) + excerpt(log);
    return nullptr;
  }
  sensor_bpf* skel = impl->skel;
  skel->rodata->self_tgid = options.exclude_self ? static_cast<uint32_t>(::getpid()) : 0;
  skel->rodata->wakeup_bytes = options.wakeup_bytes;
  int err = bpf_map__set_max_entries(skel->maps.events, bytes);
  struct ProgramChoice {
    bpf_program* program;
    bool enabled;
    bpf_link** link;
  };
  const ProgramChoice programs[] = {
      {skel->progs.handle_exec, options.process_exec, &skel->links.handle_exec},
      {skel->progs.handle_exit, options.process_exit, &skel->links.handle_exit},
      {skel->progs.handle_connect, options.network_connect, &skel->links.handle_connect},
  };
  for (const auto& choice : programs) {
    if (err == 0) err = bpf_program__set_autoload(choice.program, choice.enabled);
  }
  if (err != 0) {
    error = "configuring the eBPF object failed: " + errno_text(err) + excerpt(log);
    return nullptr;
  }
  err = sensor_bpf__load(skel);
  if (err != 0) {
    error = "loading the eBPF programs failed: " + errno_text(err) +
            (is_permission_error(err) ? std::string(" (") + kPrivilegeHint + ")" : "") +
            excerpt(log);
    return nullptr;
  }
  for (const auto& choice : programs) {
    if (!choice.enabled) continue;
    *choice.link = bpf_program__attach(choice.program);
    if (*choice.link == nullptr) {
      error = std::string("attaching ") + bpf_program__section_name(choice.program) +
              " failed: " + errno_text(errno) + excerpt(log);
      return nullptr;
    }
  }
  impl->ring =
      ring_buffer__new(bpf_map__fd(skel->maps.events), &Impl::on_record, impl.get(), nullptr);
  if (impl->ring == nullptr) {
    error = "creating the ring-buffer reader failed: " + errno_text(errno) + excerpt(log);
    return nullptr;
  }
  impl->possible_cpus = libbpf_num_possible_cpus();
  if (impl->possible_cpus <= 0) {
    error = "reading the possible CPUs failed: " + errno_text(impl->possible_cpus);
    return nullptr;
  }

  const size_t seeded = impl->processes.seed();
  spdlog::info(
      "sensor: attached (exec={}, exit={}, connect={}), ring buffer {} bytes, {} processes "
      "known from {}",
      options.process_exec, options.process_exit, options.network_connect, bytes, seeded,
      options.proc_root);
  return std::unique_ptr<Sensor>(new Sensor(std::move(impl)));
}

int Sensor::poll(int timeout_ms, const std::function<void(protocol::Event&&)>& sink) {
  impl_->boot_to_wall_ns = boot_to_wall_offset_ns();
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
  std::vector<uint64_t> per_cpu(static_cast<size_t>(impl_->possible_cpus));
  const uint32_t key = static_cast<uint32_t>(kind);
  if (bpf_map__lookup_elem(impl_->skel->maps.drops, &key, sizeof(key), per_cpu.data(),
                           per_cpu.size() * sizeof(uint64_t), 0) != 0) {
    return 0;
  }
  uint64_t total = 0;
  for (uint64_t n : per_cpu) total += n;
  return total;
}

uint64_t Sensor::ringbuf_drops_total() const {
  uint64_t total = 0;
  for (int kind = 0; kind < protocol::kEventKindCount; ++kind) {
    total += ringbuf_drops(static_cast<protocol::EventKind>(kind));
  }
  return total;
}

uint64_t Sensor::decode_errors() const { return impl_->decode_errors; }
uint64_t Sensor::events_total() const { return impl_->events_total; }
uint64_t Sensor::process_table_evictions() const { return impl_->processes.evictions(); }

}  // namespace vigie::sensor
