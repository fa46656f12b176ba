// Node energy estimated where no energy sensor exists, by the model of Green
// Algorithms: L. Lannelongue, J. Grealey, M. Inouye, "Green Algorithms:
// Quantifying the Carbon Footprint of Computation", Advanced Science 8 (2021)
// 2100707, eq. (1): E = t x (n_c x P_c x u_c + n_m x P_m) x PUE, with P_c the
// power draw of one core (the CPU's TDP over its cores) and P_m = 0.3725 W per
// GB of memory. Everything this model gives is flagged `estimated`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigie::power {

// Green Algorithms' memory power, W per GB (the paper's P_m, from Karyakin
// and Salem, DaMoN 2017). GB here is 2^30 bytes, as memory is sized.
inline constexpr double kMemoryWattsPerGb = 0.3725;
inline constexpr double kBytesPerGb = 1024.0 * 1024.0 * 1024.0;

struct EstimateModel {
  double idle_watts = 0;  // node power independent of CPU use (0 in Green Algorithms)
  double core_watts = 0;  // P_c: one core at full load, W (TDP / cores)
  double memory_watts_per_gb = kMemoryWattsPerGb;
};

struct CpuPowerEntry {
  std::string_view model;  // a distinctive part of /proc/cpuinfo "model name"
  double tdp_watts;        // the vendor's TDP for the whole package
  uint32_t cores;          // physical cores of the package
  double core_watts() const { return tdp_watts / cores; }
};

// Per-CPU-model TDP table, from the vendors' specification pages (Intel ARK,
// ark.intel.com; AMD product pages, amd.com/en/products/processors/server/epyc),
// the source Green Algorithms' TDP_cpu.csv also uses. The entry whose `model`
// occurs in `model_name` as whole words wins (so "Gold 6248" does not match
// "Gold 6248R"); nullopt when the model is not in the table.
std::optional<CpuPowerEntry> lookup_cpu_power(std::string_view model_name);

// A family's power per core where the exact model is not in the table: the
// median TDP per core of the family's models in Green Algorithms' CPU table
// (green-algorithms-tool, data/TDP_cpu.csv, column TDP_per_core):
//   AMD EPYC 4.55 W (the 8 models named EPYC), Intel Xeon 9.4 W (31), AMD
//   Ryzen 10.8 W (16), Intel Core 15.55 W (32); anything else Green
//   Algorithms' own "Any", 12 W.
struct CpuFamilyPower {
  std::string_view family;  // "AMD EPYC", ..., "Any"
  double core_watts;
};
inline constexpr CpuFamilyPower kAnyCpu{"Any", 12.0};
// The family whose name occurs in `model_name` ("AMD EPYC 7B13", the "AMD
// EPYC" a hypervisor shows), else kAnyCpu.
CpuFamilyPower lookup_cpu_family(std::string_view model_name);

// The first "model name" of /proc/cpuinfo text ("" when absent).
std::string parse_cpu_model_name(std::string_view cpuinfo);

// Whether /proc/cpuinfo's flags carry "hypervisor": the kernel runs in a
// virtual machine (CPUID leaf 1, ECX bit 31), where a CPU is a vCPU and the
// server's idle power is not this guest's.
bool cpuinfo_is_virtual(std::string_view cpuinfo);

// What the estimate charges a node with no energy sensor, and why.
struct EstimateChoice {
  EstimateModel model;
  std::string basis;  // printed at start and exported: where core_watts came from
  bool virtual_machine = false;
};
// The agent's configuration, as far as the estimate goes: values set in the
// file, nullopt (or 0 core_watts) where it left them to Vigie.
struct EstimateSettings {
  double core_watts = 0;
  std::optional<double> idle_watts;
  std::optional<double> max_watts;
  double default_idle_watts = 60;  // the agent's documented default, on bare metal
};
// Picks P_c: configured core_watts; else the model's TDP table entry; else,
// with max_watts configured, (max_watts - idle) / cpus (the linear model);
// else the CPU family's (lookup_cpu_family). Idle power: configured; else
// none on a virtual machine (Green Algorithms charges a core's share of the
// TDP, not the host's idle power), else default_idle_watts.
EstimateChoice choose_estimate(std::string_view model_name, bool virtual_machine, uint32_t cpus,
                               const EstimateSettings& settings);

// CPU energy over an interval: idle_watts x interval + core_watts x busy CPU
// seconds (n_c x u_c x t of the paper, measured as the node's busy time in
// /proc/stat). Negative or non-finite inputs count as 0.
double estimate_cpu_joules(const EstimateModel& model, double interval_seconds,
                           double busy_cpu_seconds);

// Memory energy over an interval: n_m (GB) x P_m x t.
double estimate_memory_joules(const EstimateModel& model, double interval_seconds,
                              uint64_t memory_bytes);

}  // namespace vigie::power
