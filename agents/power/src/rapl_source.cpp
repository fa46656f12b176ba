#include "vigie/power/rapl_source.h"

#include <fcntl.h>
#include <powercap/powercap-sysfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <set>

namespace vigie::power {
namespace {

// No RAPL zone draws more: 10x the highest CPU TDP shipping (500 W, Xeon 6900P,
// EPYC 9005). A larger delta is a corrupt read (libpowercap reads a malformed
// energy_uj as 0, which looks like a wrap) and is not counted.
constexpr double kMaxZonePowerWatts = 5000;
// After this many implausible reads in a row the counter was reset: re-prime.
constexpr int kImplausibleBeforeReset = 3;
// Bounds on an untrusted sysfs tree: real nodes have <= 16 sockets and 3 subzones.
constexpr uint32_t kMaxZones = 256;
constexpr std::array<const char*, 2> kControlTypes = {"intel-rapl", "intel-rapl-mmio"};
constexpr const char* kPowercap = "/sys/class/powercap/";

std::string zone_dir(const std::string& control, const std::vector<uint32_t>& ids) {
  std::string path = kPowercap + control;
  std::string name = control;
  for (uint32_t id : ids) {
    name += ":" + std::to_string(id);
    path += "/" + name;
  }
  return path;
}

// Why energy_uj cannot be read, or nullopt when it can.
std::optional<std::string> unreadable(const std::string& dir) {
  std::string file = dir + "/energy_uj";
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  char buf[32];
  if (fd >= 0) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    int err = errno;
    ::close(fd);
    if (n > 0) return std::nullopt;
    errno = n == 0 ? EIO : err;
  }
  std::string why = "cannot read " + file + ": " + std::strerror(errno);
  if (errno == EACCES || errno == EPERM)
    why +=
        " (since Linux 5.10 energy_uj is readable by root only, CVE-2020-8694: run vigie-agent "
        "as root or grant it read access to energy_uj)";
  return why;
}

// A zone's name from its `name` file: the first line, trailing blanks
// dropped. A sysfs attribute is one line; a tree that says more is not
// trusted with the rest (it would end up in zone names and labels).
std::string zone_name(const char* buf) {
  std::string name(buf);
  name.resize(std::min(name.find('\n'), name.size()));
  while (!name.empty() && name.back() == ' ') name.pop_back();
  return name;
}

}  // namespace

RaplDomain rapl_domain(std::string_view name) {
  if (name.starts_with("package-")) return RaplDomain::kPackage;
  if (name == "core") return RaplDomain::kCore;
  if (name == "uncore") return RaplDomain::kUncore;
  if (name == "dram") return RaplDomain::kDram;
  if (name == "psys") return RaplDomain::kPsys;
  return RaplDomain::kOther;
}

uint64_t energy_delta_uj(uint64_t before_uj, uint64_t now_uj, uint64_t max_energy_range_uj) {
  if (now_uj >= before_uj) return now_uj - before_uj;
  if (before_uj > max_energy_range_uj) return now_uj;
  return (max_energy_range_uj - before_uj) + now_uj + 1;
}

struct RaplSource::Impl {
  struct Counter {
    const char* control;        // one of kControlTypes
    std::vector<uint32_t> ids;  // zone path below the control type
    uint64_t max_energy_range_uj;
    std::optional<uint64_t> last_uj;
    std::chrono::steady_clock::time_point last_read{};
    int implausible = 0;
  };
  std::vector<Counter> counters;  // parallel to RaplSource::zones_
};

RaplSource::RaplSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RaplSource::~RaplSource() = default;

std::unique_ptr<RaplSource> RaplSource::open(std::string& error) {
  error.clear();
  auto impl = std::make_unique<Impl>();
  std::vector<RaplZone> zones;
  std::set<std::string> top_names;  // top-level zone names already given by a control type
  bool any_control = false;
  auto add = [&](const char* control, std::vector<uint32_t> ids, const std::string& name) -> bool {
    uint64_t max_uj = 0;
    std::string dir = zone_dir(control, ids);
    if (powercap_sysfs_zone_get_max_energy_range_uj(
            control, ids.data(), static_cast<uint32_t>(ids.size()), &max_uj) != 0) {
      error = "cannot read " + dir + "/max_energy_range_uj";
      return false;
    }
    if (auto why = unreadable(dir)) {
      error = *why;
      return false;
    }
    RaplDomain domain = rapl_domain(ids.size() == 1 ? name : name.substr(name.rfind('/') + 1));
    bool in_node = domain == RaplDomain::kPackage || domain == RaplDomain::kDram;
    zones.push_back({name, dir, domain, in_node, max_uj});
    impl->counters.push_back({control, std::move(ids), max_uj, std::nullopt});
    return true;
  };
  for (const char* control : kControlTypes) {
    if (powercap_sysfs_control_type_exists(control) != 0) continue;
    any_control = true;
    std::set<std::string> here;
    for (uint32_t i = 0; i < kMaxZones; ++i) {
      uint32_t top[1] = {i};
      if (powercap_sysfs_zone_exists(control, top, 1) != 0) break;
      char buf[64] = {};
      if (powercap_sysfs_zone_get_name(control, top, 1, buf, sizeof buf) <= 0) {
        error = "cannot read " + zone_dir(control, {i}) + "/name";
        return nullptr;
      }
      std::string name = zone_name(buf);
      // The MMIO interface duplicates packages the MSR interface already gives.
      if (top_names.contains(name)) continue;
      here.insert(name);
      if (!add(control, {i}, name)) return nullptr;
      for (uint32_t j = 0; j < kMaxZones; ++j) {
        uint32_t sub[2] = {i, j};
        if (powercap_sysfs_zone_exists(control, sub, 2) != 0) break;
        char sub_name[64] = {};
        if (powercap_sysfs_zone_get_name(control, sub, 2, sub_name, sizeof sub_name) <= 0) {
          error = "cannot read " + zone_dir(control, {i, j}) + "/name";
          return nullptr;
        }
        std::string s = zone_name(sub_name);
        if (!add(control, {i, j}, name + "/" + s)) return nullptr;
      }
    }
    top_names.insert(here.begin(), here.end());
  }
  if (!any_control) {
    error = "no RAPL: /sys/class/powercap/intel-rapl is absent";
    return nullptr;
  }
  if (zones.empty()) {
    error = "no RAPL: intel-rapl has no zone";
    return nullptr;
  }
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
    if (powercap_sysfs_zone_get_energy_uj(c.control, c.ids.data(),
                                          static_cast<uint32_t>(c.ids.size()), &now_uj) != 0) {
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
      const auto& z = zones_[i];
      reading.zones.push_back(
          {z.name, static_cast<double>(delta) / 1e6, z.in_node_total, z.domain});
    }
    c.implausible = 0;
    c.last_uj = now_uj;
    c.last_read = now;
  }
  return reading;
}

}  // namespace vigie::power
