// Fuzzes the agent's RAPL reader (power::RaplSource over libpowercap) through
// its real code path: libpowercap reads /sys/class/powercap, a path fixed at
// its compile time, so the target runs in a private mount namespace with a
// tmpfs over /sys/class (TESTING.md "RAPL without RAPL hardware") and builds
// the powercap tree of each input there (fuzz_tree.h format, paths relative
// to /sys/class/powercap: intel-rapl/enabled, intel-rapl/intel-rapl:0/name,
// energy_uj, max_energy_range_uj, subzones intel-rapl:0:0, intel-rapl-mmio).
// Each input: open, a priming read, "@2" files written, two more reads.
// Checks what rapl_source.h promises: zone names and domains agree, no delta
// is negative, non-finite or above 5 kW over the elapsed time, no zone gives
// both a delta and an error. Needs root (CAP_SYS_ADMIN) for the
// mount namespace: without it the target stops with a message, it never
// fuzzes something else instead.
#include <sched.h>
#include <sys/mount.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "fuzz_tree.h"
#include "fuzz_util.h"
#include "vigie/power/rapl_source.h"

using vigie::fuzz::check;
namespace power = vigie::power;

namespace {

const std::filesystem::path kPowercap = "/sys/class/powercap";

void check_reading(const power::RaplSource& source, const power::RaplReading& reading,
                   double seconds) {
  // Each zone is read (a delta), an error, or not yet primed.
  check(reading.zones.size() + reading.errors <= source.zones().size(),
        "more deltas and errors than zones");
  check(reading.wraps <= reading.zones.size(), "more wraps than zones read");
  for (const auto& delta : reading.zones) {
    check(std::isfinite(delta.energy_joules) && delta.energy_joules >= 0,
          "delta of " + delta.zone + " is negative or not finite");
    // rapl_source.cpp: deltas above 5 kW over max(1 s, the interval) are
    // refused as corrupt reads.
    check(delta.energy_joules <= 5000.0 * std::max(1.0, seconds) * 1.0001,
          "delta of " + delta.zone + " above 5 kW: " + std::to_string(delta.energy_joules));
    check(delta.in_node_total == (delta.domain == power::RaplDomain::kPackage ||
                                  delta.domain == power::RaplDomain::kDram),
          "in_node_total disagrees with the domain of " + delta.zone);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (::unshare(CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      ::mount("none", "/sys/class", "tmpfs", 0, "size=16m") != 0) {
    std::fprintf(stderr,
                 "fuzz_powercap: cannot mount a tmpfs over /sys/class in a private mount "
                 "namespace (%s); run it as root\n",
                 std::strerror(errno));
    std::exit(1);
  }
  std::filesystem::create_directories(kPowercap);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto files =
      vigie::fuzz::parse_tree(std::string_view(reinterpret_cast<const char*>(data), size));
  vigie::fuzz::clear_tree(kPowercap);
  vigie::fuzz::write_first(kPowercap, files);

  std::string error;
  const auto source = power::RaplSource::open(error);
  if (!source) {
    check(!error.empty(), "RaplSource::open failed without saying why");
    return 0;
  }
  check(error.empty(), "RaplSource::open succeeded with an error: " + error);
  check(!source->zones().empty(), "RaplSource::open succeeded with no zone");
  for (const auto& zone : source->zones()) {
    check(zone.path.starts_with(kPowercap.string()), "zone outside powercap: " + zone.path);
    // The domain comes from the first line of the zone's own name file, as
    // libpowercap reads it (63 bytes at most, up to a NUL).
    std::string name = vigie::fuzz::read_tree_file(zone.path + "/name").substr(0, 63);
    name.resize(std::min(name.find('\0'), name.size()));
    name.resize(std::min(name.find('\n'), name.size()));
    while (!name.empty() && name.back() == ' ') name.pop_back();
    check(zone.domain == power::rapl_domain(name),
          "domain of " + zone.name + " is not that of its name file");
    check(zone.name == name || zone.name.ends_with("/" + name),
          "zone " + zone.name + " is not named after its name file");
  }

  const auto start = std::chrono::steady_clock::now();
  const auto primed = source->read();
  check(primed.zones.empty(), "the priming read gave deltas");
  vigie::fuzz::write_second(kPowercap, files);
  for (int i = 0; i < 2; ++i) {
    const auto reading = source->read();
    check_reading(*source, reading,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return 0;
}
