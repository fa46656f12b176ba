// The real libpowercap against simulated powercap trees: each case runs in a
// forked child with a private mount namespace and a tmpfs over /sys/class, and
// reports what it read through a pipe; the parent asserts.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "vigie/power/power_sampler.h"
#include "vigie/power/rapl_source.h"

namespace vigie::power {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMax = 262143328850;  // max_energy_range_uj of a Skylake-SP package
const std::string kRapl = "/sys/class/powercap/intel-rapl";

std::string in_private_sysfs(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string out;
    if (::unshare(CLONE_NEWNS) != 0)
      out = "unshare failed";
    else if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      out = "mount --make-rprivate / failed";
    else if (::mount("none", "/sys/class", "tmpfs", 0, nullptr) != 0)
      out = "mount tmpfs /sys/class failed";
    else {
      try {
        out = body();
      } catch (const std::exception& e) {
        out = std::string("exception: ") + e.what();
      }
    }
    for (size_t done = 0; done < out.size();) {
      ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  return out;
}

void put(const std::string& path, const std::string& value) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << value << "\n";
}

// A zone directory as the intel_rapl driver lays it out.
void zone(const std::string& dir, const std::string& name, uint64_t energy_uj,
          uint64_t max_uj = kMax) {
  put(dir + "/name", name);
  put(dir + "/enabled", "1");
  put(dir + "/energy_uj", std::to_string(energy_uj));
  put(dir + "/max_energy_range_uj", std::to_string(max_uj));
}

std::string socket(int i) { return kRapl + "/intel-rapl:" + std::to_string(i); }
std::string sub(int i, int j) {
  return socket(i) + "/intel-rapl:" + std::to_string(i) + ":" + std::to_string(j);
}

std::string describe(const RaplReading& r) {
  std::string out;
  char line[160];
  for (const auto& z : r.zones) {
    std::snprintf(line, sizeof line, "%s %.6f%s\n", z.zone.c_str(), z.energy_joules,
                  z.in_node_total ? " node" : "");
    out += line;
  }
  return out + "errors " + std::to_string(r.errors) + " wraps " + std::to_string(r.wraps) + "\n";
}

TEST(PowerRapl, EnergyDeltaHandlesWrapAndReset) {
  EXPECT_EQ(energy_delta_uj(100, 250, kMax), 150u);
  EXPECT_EQ(energy_delta_uj(kMax - 10, 5, kMax), 16u);  // 10 to the top, +1 to 0, +5
  EXPECT_EQ(energy_delta_uj(kMax, 0, kMax), 1u);
  EXPECT_EQ(energy_delta_uj(7, 7, kMax), 0u);
  EXPECT_EQ(energy_delta_uj(kMax + 5, 3, kMax), 3u);  // value above the range: reset counter
}

TEST(PowerRapl, OneSocketWithCoreAndDramIncludingWrap) {
  auto out = in_private_sysfs([] {
    put(kRapl + "/enabled", "1");
    zone(socket(0), "package-0", kMax - 2'000'000);
    zone(sub(0, 0), "core", kMax - 1'500'000);
    zone(sub(0, 1), "dram", 777);
    std::string error;
    auto rapl = RaplSource::open(error);
    if (!rapl) return "open failed: " + error;
    std::string s;
    for (const auto& z : rapl->zones())
      s += z.name + (z.in_node_total ? " node " : " ") + std::to_string(z.max_energy_range_uj) +
           "\n";
    s += "prime " + describe(rapl->read());
    put(socket(0) + "/energy_uj", std::to_string(kMax - 1'000'000));  // +1 J
    put(sub(0, 0) + "/energy_uj", std::to_string(kMax - 1'000'000));  // +0.5 J
    put(sub(0, 1) + "/energy_uj", "250777");                          // +0.25 J
    s += describe(rapl->read());
    put(socket(0) + "/energy_uj", "5");                   // wrapped past max_energy_range_uj
    put(sub(0, 0) + "/energy_uj", std::to_string(kMax));  // to the very top
    s += describe(rapl->read());
    put(sub(0, 0) + "/energy_uj", "0");  // and over it
    s += describe(rapl->read());
    return s;
  });
  EXPECT_EQ(out,
            "package-0 node 262143328850\n"
            "package-0/core 262143328850\n"
            "package-0/dram node 262143328850\n"
            "prime errors 0 wraps 0\n"
            "package-0 1.000000 node\npackage-0/core 0.500000\npackage-0/dram 0.250000 node\n"
            "errors 0 wraps 0\n"
            // 1'000'000 µJ to the top, + 1 to 0, + 5
            "package-0 1.000006 node\npackage-0/core 1.000000\n"
            "package-0/dram 0.000000 node\nerrors 0 wraps 1\n"
            "package-0 0.000000 node\npackage-0/core 0.000001\npackage-0/dram 0.000000 node\n"
            "errors 0 wraps 1\n");
}

TEST(PowerRapl, CounterResetIsReprimedAfterThreeImplausibleReads) {
  auto out = in_private_sysfs([] {
    put(kRapl + "/enabled", "1");
    zone(socket(0), "package-0", 100'000'000'000);
    std::string error;
    auto rapl = RaplSource::open(error);
    if (!rapl) return "open failed: " + error;
    rapl->read();
    put(socket(0) + "/energy_uj", "1000");  // driver reloaded: counter restarts near 0
    std::string s;
    for (int i = 0; i < 3; ++i) s += describe(rapl->read());
    put(socket(0) + "/energy_uj", "3001000");
    return s + describe(rapl->read());
  });
  EXPECT_EQ(out,
            "errors 1 wraps 0\nerrors 1 wraps 0\nerrors 1 wraps 0\n"
            "package-0 3.000000 node\nerrors 0 wraps 0\n");
}

TEST(PowerRapl, TwoSocketsAndAnUnreadableCounterLosesNoEnergy) {
  auto out = in_private_sysfs([] {
    put(kRapl + "/enabled", "1");
    for (int i = 0; i < 2; ++i) {
      zone(socket(i), "package-" + std::to_string(i), 1000);
      zone(sub(i, 0), "dram", 2000);
    }
    std::string error;
    auto rapl = RaplSource::open(error);
    if (!rapl) return "open failed: " + error;
    std::string s;
    for (const auto& z : rapl->zones()) s += z.name + "\n";
    rapl->read();
    put(socket(0) + "/energy_uj", "3001000");  // +3 J
    put(socket(1) + "/energy_uj", "not a number");
    put(sub(0, 0) + "/energy_uj", "1002000");  // +1 J
    put(sub(1, 0) + "/energy_uj", "502000");   // +0.5 J
    s += describe(rapl->read());
    put(socket(1) + "/energy_uj", "2001000");  // +2 J since the last good read
    s += describe(rapl->read());
    return s;
  });
  EXPECT_EQ(out,
            "package-0\npackage-0/dram\npackage-1\npackage-1/dram\n"
            "package-0 3.000000 node\npackage-0/dram 1.000000 node\n"
            "package-1/dram 0.500000 node\nerrors 1 wraps 0\n"
            "package-0 0.000000 node\npackage-0/dram 0.000000 node\n"
            "package-1 2.000000 node\npackage-1/dram 0.000000 node\nerrors 0 wraps 0\n");
}

TEST(PowerRapl, SamplerNodeEnergyIsPackagesPlusDramNotCore) {
  auto out = in_private_sysfs([] {
    put(kRapl + "/enabled", "1");
    zone(socket(0), "package-0", 0);
    zone(sub(0, 0), "core", 0);
    zone(sub(0, 1), "dram", 0);
    zone(socket(1), "package-1", 0);
    const std::string proc = "/sys/class/fakeproc";
    put(proc + "/stat", "cpu  100 0 100 800 0 0 0 0 0 0");
    // All memory used, none by a workload: the DRAM energy is the host's too.
    put(proc + "/meminfo", "MemTotal: 1000 kB\nMemAvailable: 0 kB");
    std::string error;
    auto rapl = RaplSource::open(error);
    if (!rapl) return "open failed: " + error;
    PowerSamplerOptions options;
    options.proc_root = proc;
    options.estimate.idle_watts = 0;  // all energy is active: the host gets it
    PowerSources sources;
    sources.rapl = std::move(rapl);
    PowerSampler sampler(options, std::move(sources), workload::Resolver({}, {.proc_root = proc}));
    std::string s = sampler.sample() ? "primed with a sample\n" : "primed\n";
    put(socket(0) + "/energy_uj", "40000000");  // 40 J
    put(sub(0, 0) + "/energy_uj", "30000000");  // 30 J, inside package-0
    put(sub(0, 1) + "/energy_uj", "5000000");   // 5 J
    put(socket(1) + "/energy_uj", "20000000");  // 20 J
    put(proc + "/stat", "cpu  200 0 200 900 0 0 0 0 0 0");
    auto sample = sampler.sample();
    if (!sample) return s + "no sample";
    char line[200];
    std::snprintf(line, sizeof line, "node %.6f zones %zu source %d\n", sample->node_energy_joules,
                  sample->zones.size(), static_cast<int>(sampler.source()));
    s += line;
    for (const auto& w : sample->workloads) {
      std::snprintf(line, sizeof line, "%s %.6f %s\n", w.energy.workload.id.c_str(),
                    w.energy.energy_joules, w.energy.estimated ? "estimated" : "measured");
      s += line;
    }
    return s;
  });
  EXPECT_EQ(out, "primed\nnode 65.000000 zones 4 source 0\nhost 65.000000 measured\n");
}

// AMD Zen (amd_energy / RAPL MSRs through the intel-rapl control type): a
// package and its core zone, no dram.
TEST(PowerRapl, AmdStyleLayoutWithoutDram) {
  auto out = in_private_sysfs([] {
    put(kRapl + "/enabled", "1");
    zone(socket(0), "package-0", 0, 65532610987);
    zone(sub(0, 0), "core", 0, 65532610987);
    zone(socket(1), "package-1", 0, 65532610987);
    std::string error;
    auto rapl = RaplSource::open(error);
    if (!rapl) return "open failed: " + error;
    std::string s;
    for (const auto& z : rapl->zones()) s += z.name + (z.in_node_total ? " node\n" : "\n");
    rapl->read();
    put(socket(0) + "/energy_uj", "2000000");
    put(sub(0, 0) + "/energy_uj", "1500000");
    put(socket(1) + "/energy_uj", "1000000");
    return s + describe(rapl->read());
  });
  EXPECT_EQ(out,
            "package-0 node\npackage-0/core\npackage-1 node\n"
            "package-0 2.000000 node\npackage-0/core 1.500000\npackage-1 1.000000 node\n"
            "errors 0 wraps 0\n");
}

// Client and some server parts expose the package counter twice: through the
// MSR interface (intel-rapl) and through MMIO (intel-rapl-mmio). It is counted
// once; an MMIO-only zone (psys here) is kept, and MMIO alone works.
TEST(PowerRapl, MmioDuplicatesAreCountedOnce) {
  const std::string mmio = "/sys/class/powercap/intel-rapl-mmio/intel-rapl-mmio:";
  auto out = in_private_sysfs([&] {
    put(kRapl + "/enabled", "1");
    zone(socket(0), "package-0", 0);
    zone(sub(0, 0), "dram", 0);
    zone(mmio + "0", "package-0", 0);
    zone(mmio + "0/intel-rapl-mmio:0:0", "dram", 0);
    zone(mmio + "1", "psys", 0);
    std::string error;
    auto rapl = RaplSource::open(error);
    if (!rapl) return "open failed: " + error;
    std::string s;
    for (const auto& z : rapl->zones()) s += z.name + " " + z.path + "\n";
    rapl->read();
    put(socket(0) + "/energy_uj", "3000000");
    put(mmio + "0/energy_uj", "3000000");
    put(mmio + "1/energy_uj", "9000000");
    return s + describe(rapl->read());
  });
  EXPECT_EQ(out,
            "package-0 /sys/class/powercap/intel-rapl/intel-rapl:0\n"
            "package-0/dram /sys/class/powercap/intel-rapl/intel-rapl:0/intel-rapl:0:0\n"
            "psys /sys/class/powercap/intel-rapl-mmio/intel-rapl-mmio:1\n"
            "package-0 3.000000 node\npackage-0/dram 0.000000 node\npsys 9.000000\n"
            "errors 0 wraps 0\n");
  auto only_mmio = in_private_sysfs([&] {
    zone(mmio + "0", "package-0", 0);
    std::string error;
    auto rapl = RaplSource::open(error);
    return rapl ? rapl->zones()[0].name : "open failed: " + error;
  });
  EXPECT_EQ(only_mmio, "package-0");
}

// Since Linux 5.10 energy_uj is 0400 root: an agent without the right gets a
// clear error naming the file and the remedy, not zeros.
TEST(PowerRapl, UnreadableEnergyIsAClearError) {
  auto out = in_private_sysfs([] {
    put(kRapl + "/enabled", "1");
    zone(socket(0), "package-0", 1000);
    fs::permissions(socket(0) + "/energy_uj", fs::perms::owner_read);
    // Drop root (and its CAP_DAC_OVERRIDE) in this forked child.
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)
      return std::string("setresuid failed");
    std::string error;
    auto rapl = RaplSource::open(error);
    return std::string(rapl ? "opened" : "null") + ": " + error;
  });
  EXPECT_EQ(out,
            "null: cannot read /sys/class/powercap/intel-rapl/intel-rapl:0/energy_uj: Permission "
            "denied (since Linux 5.10 energy_uj is readable by root only, CVE-2020-8694: run "
            "vigie-agent as root or grant it read access to energy_uj)");
}

TEST(PowerRapl, MissingPowercapIsAClearError) {
  auto out = in_private_sysfs([] {
    std::string error;
    auto rapl = RaplSource::open(error);
    return std::string(rapl ? "opened" : "null") + ": " + error;
  });
  EXPECT_EQ(out, "null: no RAPL: /sys/class/powercap/intel-rapl is absent");
  auto empty = in_private_sysfs([] {
    put(kRapl + "/enabled", "1");
    std::string error;
    return std::string(RaplSource::open(error) ? "opened" : "null") + ": " + error;
  });
  EXPECT_EQ(empty, "null: no RAPL: intel-rapl has no zone");
}

}  // namespace
}  // namespace vigie::power
