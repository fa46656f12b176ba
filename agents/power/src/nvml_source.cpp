#include "vigie/power/nvml_source.h"

#include <dlfcn.h>

#include <optional>

namespace vigie::power {
namespace {

// The few NVML declarations used, as nvml.h (CUDA 11+) defines them; the
// agent does not build against the header so that it runs on nodes without it.
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlProcessInfo_t {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};
constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr nvmlReturn_t NVML_ERROR_INSUFFICIENT_SIZE = 7;
constexpr unsigned long long NVML_VALUE_NOT_AVAILABLE = ~0ULL;
// Bound on the processes listed per GPU (MPS allows 48 clients per GPU).
constexpr unsigned kMaxProcesses = 1024;

}  // namespace

struct NvmlSource::Impl {
  void* handle = nullptr;
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*get_count)(unsigned*) = nullptr;
  nvmlReturn_t (*get_handle)(unsigned, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*total_energy)(nvmlDevice_t, unsigned long long*) = nullptr;
  nvmlReturn_t (*power_usage)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*processes)(nvmlDevice_t, unsigned*, nvmlProcessInfo_t*) = nullptr;
  bool initialised = false;

  struct Gpu {
    nvmlDevice_t device = nullptr;
    bool has_counter = true;  // until nvmlDeviceGetTotalEnergyConsumption fails once
    std::optional<unsigned long long> last_mj;
    std::optional<double> last_watts;
    std::chrono::steady_clock::time_point last_read{};
  };
  std::vector<Gpu> gpus;
  std::vector<nvmlProcessInfo_t> infos;

  ~Impl() {
    if (initialised && shutdown) shutdown();
    if (handle) ::dlclose(handle);
  }
  std::string why(nvmlReturn_t r) const {
    const char* s = error_string ? error_string(r) : nullptr;
    return s ? std::string(s) : "NVML error " + std::to_string(r);
  }
};

NvmlSource::NvmlSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NvmlSource::~NvmlSource() = default;

uint32_t NvmlSource::gpu_count() const { return static_cast<uint32_t>(impl_->gpus.size()); }

std::unique_ptr<NvmlSource> NvmlSource::open(std::string& error, const std::string& library) {
  auto impl = std::make_unique<Impl>();
  impl->handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!impl->handle) {
    const char* e = ::dlerror();
    error = "no NVML: " + (e ? std::string(e) : library + " cannot be loaded");
    return nullptr;
  }
  bool missing = false;
  auto bind = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(impl->handle, name));
    if (!fn && !missing) {
      missing = true;
      error = "no NVML: " + library + " lacks " + name + " (driver older than CUDA 11?)";
    }
  };
  bind(impl->init, "nvmlInit_v2");
  bind(impl->shutdown, "nvmlShutdown");
  bind(impl->error_string, "nvmlErrorString");
  bind(impl->get_count, "nvmlDeviceGetCount_v2");
  bind(impl->get_handle, "nvmlDeviceGetHandleByIndex_v2");
  bind(impl->total_energy, "nvmlDeviceGetTotalEnergyConsumption");
  bind(impl->power_usage, "nvmlDeviceGetPowerUsage");
  bind(impl->processes, "nvmlDeviceGetComputeRunningProcesses_v3");
  if (missing) return nullptr;
  if (auto r = impl->init(); r != NVML_SUCCESS) {
    error = "no NVML: nvmlInit_v2: " + impl->why(r);
    return nullptr;
  }
  impl->initialised = true;
  unsigned count = 0;
  if (auto r = impl->get_count(&count); r != NVML_SUCCESS) {
    error = "no NVML: nvmlDeviceGetCount_v2: " + impl->why(r);
    return nullptr;
  }
  for (unsigned i = 0; i < count; ++i) {
    Impl::Gpu gpu;
    if (auto r = impl->get_handle(i, &gpu.device); r != NVML_SUCCESS) {
      error = "NVML: GPU " + std::to_string(i) + ": " + impl->why(r);
      return nullptr;
    }
    impl->gpus.push_back(gpu);
  }
  if (impl->gpus.empty()) {
    error = "no NVML: no GPU";
    return nullptr;
  }
  error.clear();
  return std::unique_ptr<NvmlSource>(new NvmlSource(std::move(impl)));
}

GpuReading NvmlSource::read() {
  GpuReading reading;
  const auto now = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < impl_->gpus.size(); ++i) {
    auto& g = impl_->gpus[i];
    GpuDelta d{i, "gpu-" + std::to_string(i), 0, !g.has_counter, {}};
    bool primed = false;
    unsigned long long mj = 0;
    if (g.has_counter && impl_->total_energy(g.device, &mj) != NVML_SUCCESS) {
      // Pre-Volta GPUs: NVML_ERROR_NOT_SUPPORTED. Any failure switches to power,
      // which is also what a transient failure deserves rather than a lost interval.
      g.has_counter = false;
      d.integrated = true;
    }
    if (g.has_counter) {
      // The counter restarts at driver reload: take the new value as a restart.
      if (g.last_mj) d.energy_joules = (mj >= *g.last_mj ? mj - *g.last_mj : mj) / 1e3;
      primed = g.last_mj.has_value();
      g.last_mj = mj;
    } else {
      unsigned mw = 0;
      if (impl_->power_usage(g.device, &mw) != NVML_SUCCESS) {
        ++reading.errors;
        continue;
      }
      double watts = mw / 1e3;
      if (g.last_watts) {
        double seconds = std::chrono::duration<double>(now - g.last_read).count();
        d.energy_joules = 0.5 * (watts + *g.last_watts) * std::max(0.0, seconds);
        primed = true;
      }
      g.last_watts = watts;
    }
    g.last_read = now;
    unsigned n = static_cast<unsigned>(impl_->infos.size());
    nvmlReturn_t r = impl_->processes(g.device, &n, impl_->infos.data());
    if (r == NVML_ERROR_INSUFFICIENT_SIZE && n <= kMaxProcesses) {
      impl_->infos.resize(n + 8);  // room for processes started meanwhile
      n = static_cast<unsigned>(impl_->infos.size());
      r = impl_->processes(g.device, &n, impl_->infos.data());
    }
    if (r != NVML_SUCCESS) {
      ++reading.errors;  // energy kept; with no holder known it stays unattributed
      n = 0;
    }
    for (unsigned k = 0; k < n && k < impl_->infos.size(); ++k) {
      const auto& info = impl_->infos[k];
      d.processes.push_back(
          {info.pid, info.usedGpuMemory == NVML_VALUE_NOT_AVAILABLE ? 0 : info.usedGpuMemory});
    }
    if (primed) reading.gpus.push_back(std::move(d));
  }
  return reading;
}

}  // namespace vigie::power
