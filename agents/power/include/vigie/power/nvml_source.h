// Energy of NVIDIA GPUs and the processes on them, through NVML loaded with
// dlopen at run time: the agent has no link-time dependency on the driver.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vigie::power {

// A compute process on a GPU (nvmlDeviceGetComputeRunningProcesses_v3).
struct GpuProcess {
  uint32_t pid = 0;                // as the host's PID namespace sees it
  uint64_t used_memory_bytes = 0;  // 0 when NVML does not say (NVML_VALUE_NOT_AVAILABLE)
};

struct GpuDelta {
  uint32_t index = 0;  // NVML device index
  std::string zone;    // "gpu-<index>"
  double energy_joules = 0;
  bool integrated = false;  // true: power x time (no energy counter on this GPU), not a counter
  std::vector<GpuProcess> processes;
};

struct GpuReading {
  std::vector<GpuDelta> gpus;  // empty on the priming read
  uint64_t errors = 0;         // NVML calls that failed this time (that GPU's energy is
                               // carried to the next good read when it has a counter)
};

// Per GPU, the energy since the previous read: the difference of
// nvmlDeviceGetTotalEnergyConsumption (mJ since the driver loaded; Volta and
// later) where the GPU supports it, else nvmlDeviceGetPowerUsage (mW, the
// driver's ~1 s average) integrated with the trapezoidal rule over the interval.
// API: NVML Reference Manual (docs.nvidia.com/deploy/nvml-api), "Device Queries".
// Not thread-safe.
class NvmlSource {
 public:
  // Loads `library` (default the driver's libnvidia-ml.so.1), resolves the
  // symbols, nvmlInit_v2, counts the GPUs. nullptr and `error` set when the
  // library is absent, a symbol is missing, init fails (the NVML error string)
  // or there is no GPU.
  static std::unique_ptr<NvmlSource> open(std::string& error,
                                          const std::string& library = "libnvidia-ml.so.1");
  ~NvmlSource();  // nvmlShutdown, dlclose
  NvmlSource(const NvmlSource&) = delete;
  NvmlSource& operator=(const NvmlSource&) = delete;

  uint32_t gpu_count() const;
  // Energy per GPU since the previous call, with the processes on it now; the
  // first call primes the counters.
  GpuReading read();

 private:
  struct Impl;
  explicit NvmlSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigie::power
