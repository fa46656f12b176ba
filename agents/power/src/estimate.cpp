#include "vigie/power/estimate.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <string>

namespace vigie::power {
namespace {

double sane(double v) { return std::isfinite(v) && v > 0 ? v : 0; }

// TDP (W) and physical cores per package, from the vendors' specification pages.
constexpr std::array<CpuPowerEntry, 23> kCpuPower = {{
    {"E5-2670 v3", 120, 12},    {"E5-2680 v3", 120, 12},     {"E5-2680 v4", 120, 14},
    {"E5-2683 v4", 120, 16},    {"E5-2690 v4", 135, 14},     {"E5-2697 v4", 145, 18},
    {"Gold 6126", 125, 12},     {"Gold 6130", 125, 16},      {"Gold 6148", 150, 20},
    {"Gold 6230", 125, 20},     {"Gold 6248", 150, 20},      {"Gold 6248R", 205, 24},
    {"Platinum 8168", 205, 24}, {"Platinum 8280", 205, 28},  {"Platinum 8358", 250, 32},
    {"Platinum 8380", 270, 40}, {"Platinum 8480+", 350, 56}, {"EPYC 7502", 180, 32},
    {"EPYC 7543", 225, 32},     {"EPYC 7742", 225, 64},      {"EPYC 7763", 280, 64},
    {"EPYC 9654", 360, 96},     {"EPYC 9754", 360, 128},
}};

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+'; }

}  // namespace

std::optional<CpuPowerEntry> lookup_cpu_power(std::string_view name) {
  for (const auto& entry : kCpuPower) {
    for (size_t pos = name.find(entry.model); pos != std::string_view::npos;
         pos = name.find(entry.model, pos + 1)) {
      size_t end = pos + entry.model.size();
      bool left = pos == 0 || !word_char(name[pos - 1]);
      bool right = end == name.size() || !word_char(name[end]);
      if (left && right) return entry;
    }
  }
  return std::nullopt;
}

CpuFamilyPower lookup_cpu_family(std::string_view name) {
  // In this order: "AMD EPYC 7B13 64-Core Processor" is an EPYC.
  static constexpr std::array<std::pair<std::string_view, CpuFamilyPower>, 4> kFamilies = {{
      {"EPYC", {"AMD EPYC", 4.55}},
      {"Xeon", {"Intel Xeon", 9.4}},
      {"Ryzen", {"AMD Ryzen", 10.8}},
      {"Core", {"Intel Core", 15.55}},
  }};
  for (const auto& [word, family] : kFamilies) {
    if (name.find(word) != std::string_view::npos) return family;
  }
  return kAnyCpu;
}

bool cpuinfo_is_virtual(std::string_view cpuinfo) {
  for (size_t pos = 0; pos < cpuinfo.size();) {
    size_t eol = cpuinfo.find('\n', pos);
    auto line = cpuinfo.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? cpuinfo.size() : eol + 1;
    if (!line.starts_with("flags")) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view flags = line.substr(colon + 1);
    for (size_t at = flags.find("hypervisor"); at != std::string_view::npos;
         at = flags.find("hypervisor", at + 1)) {
      const size_t end = at + 10;
      if (flags[at - 1] == ' ' && (end == flags.size() || flags[end] == ' ' || flags[end] == '\r'))
        return true;
    }
    return false;  // the first CPU's flags say it
  }
  return false;
}

std::string parse_cpu_model_name(std::string_view cpuinfo) {
  constexpr std::string_view kKey = "model name";
  for (size_t pos = 0; pos < cpuinfo.size();) {
    size_t eol = cpuinfo.find('\n', pos);
    auto line = cpuinfo.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? cpuinfo.size() : eol + 1;
    if (!line.starts_with(kKey)) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    return std::string(value);
  }
  return {};
}

EstimateChoice choose_estimate(std::string_view model_name, bool virtual_machine, uint32_t cpus,
                               const EstimateSettings& settings) {
  EstimateChoice out;
  out.virtual_machine = virtual_machine;
  out.model.idle_watts = settings.idle_watts ? *settings.idle_watts
                         : virtual_machine   ? 0
                                             : settings.default_idle_watts;
  const std::string unit = virtual_machine ? " W per vCPU" : " W per core";
  const auto watts = [](double w) {
    std::string text = std::to_string(w);
    text.erase(text.find_last_not_of('0') + 1);
    if (text.back() == '.') text.pop_back();
    return text;
  };
  if (settings.core_watts > 0) {
    out.model.core_watts = settings.core_watts;
    out.basis = "power.core_watts";
  } else if (const auto entry = lookup_cpu_power(model_name)) {
    out.model.core_watts = entry->core_watts();
    out.basis = "TDP table: " + std::string(entry->model);
  } else if (settings.max_watts) {
    out.model.core_watts =
        (*settings.max_watts - out.model.idle_watts) / std::max<uint32_t>(1, cpus);
    out.basis =
        "(power.max_watts - idle) / " + std::to_string(std::max<uint32_t>(1, cpus)) + " CPUs";
  } else {
    const CpuFamilyPower family = lookup_cpu_family(model_name);
    out.model.core_watts = family.core_watts;
    out.basis = "Green Algorithms " + std::string(family.family) + " median TDP per core";
  }
  out.basis += " = " + watts(out.model.core_watts) + unit + "; idle " +
               watts(out.model.idle_watts) + " W" +
               (settings.idle_watts ? " (power.idle_watts)"
                : virtual_machine   ? " (virtual machine)"
                                    : "") +
               "; CPU '" + std::string(model_name) + "'";
  return out;
}

double estimate_cpu_joules(const EstimateModel& model, double interval_seconds,
                           double busy_cpu_seconds) {
  return sane(model.idle_watts) * sane(interval_seconds) +
         sane(model.core_watts) * sane(busy_cpu_seconds);
}

double estimate_memory_joules(const EstimateModel& model, double interval_seconds,
                              uint64_t memory_bytes) {
  return static_cast<double>(memory_bytes) / kBytesPerGb * sane(model.memory_watts_per_gb) *
         sane(interval_seconds);
}

}  // namespace vigie::power
