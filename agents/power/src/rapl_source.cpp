#include "vigie/power/rapl_source.h"

#include <powercap/powercap-rapl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>

namespace vigie::power {
namespace {

// No RAPL zone draws more: 10x the highest CPU TDP shipping (500 W, Xeon 6900P,
// EPYC 9005). A larger delta is a corrupt read (libpowercap reads a malformed
// energy_uj as 0, which looks like a wrap) and is not counted.
constexpr double kMaxZonePowerWatts = 5000;
// After this many implausible reads in a row the counter was reset: re-prime.
constexpr int kImplausibleBeforeReset = 3;

}  // namespace

uint64_t energy_delta_uj(uint64_t before_uj, uint64_t now_uj, uint64_t max_energy_range_uj) {
  if (now_uj >= before_uj) return now_uj - before_uj;
  if (before_uj > max_energy_range_uj) return now_uj;
  return (max_energy_range_uj - before_uj) + now_uj + 1;
}

struct RaplSource::Impl {
  struct Counter {
    size_t package;  // index into packages
    powercap_rapl_zone type;
    uint64_t max_energy_range_uj;
    std::optional<uint64_t> last_uj;
    std::chrono::steady_clock::time_point last_read{};
    int implausible = 0;
  };
  std::vector<powercap_rapl_pkg> packages;
  std::vector<Counter> counters;  // parallel to RaplSource::zones_

  ~Impl() {
    for (auto& pkg : packages) powercap_rapl_destroy(&pkg);
  }
};

RaplSource::RaplSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RaplSource::~RaplSource() = default;

std::unique_ptr<RaplSource> RaplSource::open(std::string& error) {
  if (!powercap_rapl_control_is_supported()) {
    error = "no RAPL: /sys/class/powercap/intel-rapl is absent";
    return nullptr;
  }
  uint32_t instances = powercap_rapl_get_num_instances();
  if (instances == 0) {
    error = "no RAPL: intel-rapl has no zone";
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  impl->packages.reserve(instances);  // counters point into it by index; no reallocation
  std::vector<RaplZone> zones;
  constexpr std::array<powercap_rapl_zone, 5> kTypes = {
      POWERCAP_RAPL_ZONE_PACKAGE, POWERCAP_RAPL_ZONE_PSYS, POWERCAP_RAPL_ZONE_CORE,
      POWERCAP_RAPL_ZONE_UNCORE, POWERCAP_RAPL_ZONE_DRAM};
  for (uint32_t i = 0; i < instances; ++i) {
    powercap_rapl_pkg pkg{};
    if (powercap_rapl_init(i, &pkg, /*read_only=*/1) != 0) {
      error = "RAPL instance " + std::to_string(i) + " cannot be opened";
      continue;
    }
    impl->packages.push_back(pkg);
    const powercap_rapl_pkg* p = &impl->packages.back();
    std::string parent = "intel-rapl:" + std::to_string(i);
    for (auto type : kTypes) {
      if (powercap_rapl_is_zone_supported(p, type) != 1) continue;
      char name[64] = {};
      uint64_t max_uj = 0;
      if (powercap_rapl_get_name(p, type, name, sizeof name) <= 0 ||
          powercap_rapl_get_max_energy_range_uj(p, type, &max_uj) != 0) {
        error = parent + ": a zone's name or max_energy_range_uj is unreadable";
        continue;
      }
      std::string zone = name;
      bool top = type == POWERCAP_RAPL_ZONE_PACKAGE || type == POWERCAP_RAPL_ZONE_PSYS;
      if (top)
        parent = zone;
      else
        zone = parent + "/" + zone;
      bool in_node = type == POWERCAP_RAPL_ZONE_PACKAGE || type == POWERCAP_RAPL_ZONE_DRAM;
      zones.push_back({zone, in_node, max_uj});
      impl->counters.push_back({impl->packages.size() - 1, type, max_uj, std::nullopt});
    }
  }
  if (zones.empty()) {
    if (error.empty()) error = "no RAPL: no readable zone";
    return nullptr;
  }
  error.clear();
  auto source = std::unique_ptr<RaplSource>(new RaplSource(std::move(impl)));
  source->zones_ = std::move(zones);
  return source;
}

RaplReading RaplSource::read() {
  RaplReading reading;
  const auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < impl_->counters.size(); ++i) {
    auto& c = impl_->counters[i];
    uint64_t now_uj = 0;
    if (powercap_rapl_get_energy_uj(&impl_->packages[c.package], c.type, &now_uj) != 0) {
      ++reading.errors;
      continue;
    }
    if (c.last_uj) {
      uint64_t delta = energy_delta_uj(*c.last_uj, now_uj, c.max_energy_range_uj);
      // Intervals shorter than a second are bounded as a second's worth.
      double seconds = std::max(1.0, std::chrono::duration<double>(now - c.last_read).count());
      if (static_cast<double>(delta) > kMaxZonePowerWatts * seconds * 1e6) {
        ++reading.errors;
        if (++c.implausible < kImplausibleBeforeReset) continue;
        c.implausible = 0;
        c.last_uj = now_uj;
        c.last_read = now;
        continue;
      }
      if (now_uj < *c.last_uj) ++reading.wraps;
      reading.zones.push_back(
          {zones_[i].name, static_cast<double>(delta) / 1e6, zones_[i].in_node_total});
    }
    c.implausible = 0;
    c.last_uj = now_uj;
    c.last_read = now;
  }
  return reading;
}

}  // namespace vigie::power
