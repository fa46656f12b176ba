#include "vigie/power/estimate.h"

#include <array>
#include <cctype>
#include <cmath>

namespace vigie::power {
namespace {

double sane(double v) { return std::isfinite(v) && v > 0 ? v : 0; }

// TDP (W) and physical cores per package, from the vendors' specification pages.
constexpr std::array<CpuPowerEntry, 22> kCpuPower = {{
    {"E5-2670 v3", 120, 12},     {"E5-2680 v3", 120, 12},    {"E5-2680 v4", 120, 14},
    {"E5-2690 v4", 135, 14},     {"E5-2697 v4", 145, 18},    {"Gold 6126", 125, 12},
    {"Gold 6130", 125, 16},      {"Gold 6148", 150, 20},     {"Gold 6230", 125, 20},
    {"Gold 6248", 150, 20},      {"Gold 6248R", 205, 24},    {"Platinum 8168", 205, 24},
    {"Platinum 8280", 205, 28},  {"Platinum 8358", 250, 32}, {"Platinum 8380", 270, 40},
    {"Platinum 8480+", 350, 56}, {"EPYC 7502", 180, 32},     {"EPYC 7543", 225, 32},
    {"EPYC 7742", 225, 64},      {"EPYC 7763", 280, 64},     {"EPYC 9654", 360, 96},
    {"EPYC 9754", 360, 128},
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
