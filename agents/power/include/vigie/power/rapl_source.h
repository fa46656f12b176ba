// Energy counters of the RAPL zones (Intel, AMD) read through libpowercap.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vigie::power {

struct RaplZone {
  std::string name;    // "package-0", "package-0/core", "package-0/dram", "psys"
  bool in_node_total;  // package and dram: node energy = sum(package) + sum(dram);
                       // core and uncore lie inside the package, psys covers it
  uint64_t max_energy_range_uj;
};

// Energy a zone used since the previous read.
struct RaplDelta {
  std::string zone;
  double energy_joules = 0;
  bool in_node_total = false;
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

// All RAPL instances of the node (one per socket, plus psys where present).
// A zone whose read fails keeps its last value, so its energy is counted at
// the next successful read: no sample is ever dropped, wraps included.
class RaplSource {
 public:
  // nullptr and `error` set when RAPL is unavailable (no /sys/class/powercap/intel-rapl,
  // as on most VMs) or no zone can be opened.
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
