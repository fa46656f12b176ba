// Energy counters of the RAPL zones (Intel, AMD) read through libpowercap.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vigie::power {

// What a zone measures, from its sysfs `name`.
enum class RaplDomain : uint8_t {
  kPackage,  // "package-N": a socket (cores, caches, uncore, memory controller)
  kCore,     // "core" (PP0): inside its package
  kUncore,   // "uncore" (PP1, client integrated GPU): inside its package
  kDram,     // "dram": the socket's memory, outside its package
  kPsys,     // "psys": the whole SoC platform (client parts); overlaps every other zone
  kOther,    // a name this version does not know: reported, never summed
};

struct RaplZone {
  std::string name;  // "package-0", "package-0/core", "package-0/dram", "psys"
  std::string path;  // sysfs directory, e.g. /sys/class/powercap/intel-rapl/intel-rapl:0
  RaplDomain domain = RaplDomain::kOther;
  bool in_node_total;  // package and dram: node energy = sum(package) + sum(dram);
                       // core and uncore lie inside the package, psys covers it
  uint64_t max_energy_range_uj;
};

// Energy a zone used since the previous read.
struct RaplDelta {
  std::string zone;
  double energy_joules = 0;
  bool in_node_total = false;
  RaplDomain domain = RaplDomain::kOther;
};

struct RaplReading {
  std::vector<RaplDelta> zones;  // zones that could be read; empty on the priming read
  uint64_t errors = 0;           // zones whose counter could not be read this time, or
                                 // whose delta implies > 5 kW (corrupt read; after 3 in a
                                 // row the counter is taken as reset and re-primed)
  uint64_t wraps = 0;            // counters that wrapped past max_energy_range_uj
};

// Energy between two energy_uj readings. The kernel's energy_uj counts up to
// max_energy_range_uj and wraps to 0 (Linux Documentation/power/powercap/powercap.rst),
// so after a wrap the delta is max - before + now + 1 (exact to one RAPL energy
// unit, <= 61 µJ). A `before` above the range means a reset counter: delta = now.
uint64_t energy_delta_uj(uint64_t before_uj, uint64_t now_uj, uint64_t max_energy_range_uj);

// The domain a zone's sysfs name denotes ("package-3" -> kPackage, "dram" -> kDram, ...).
RaplDomain rapl_domain(std::string_view name);

// All RAPL zones of the node: every instance (one per socket, plus psys where
// present) and its subzones (core, uncore, dram) of the `intel-rapl` control
// type (MSR interface), then those of `intel-rapl-mmio` (the same package
// counters through MMIO on client and some server parts) whose name the MSR
// interface did not already give: a package measured both ways is counted once.
// A zone whose read fails keeps its last value, so its energy is counted at
// the next successful read: no sample is ever dropped, wraps included.
class RaplSource {
 public:
  // nullptr and `error` set when RAPL is unavailable (no /sys/class/powercap/intel-rapl
  // or intel-rapl-mmio, as on most VMs), no zone exists, or a zone's energy_uj cannot
  // be read: since Linux 5.10 it is readable by root only (CVE-2020-8694), and the
  // error names the file, the errno text and that remedy.
  static std::unique_ptr<RaplSource> open(std::string& error);
  ~RaplSource();
  RaplSource(const RaplSource&) = delete;
  RaplSource& operator=(const RaplSource&) = delete;

  const std::vector<RaplZone>& zones() const { return zones_; }
  // Energy per zone since the previous call; the first call primes the counters.
  RaplReading read();

 private:
  struct Impl;
  explicit RaplSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::vector<RaplZone> zones_;
};

}  // namespace vigie::power
