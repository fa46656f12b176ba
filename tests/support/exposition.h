// Reading samples from a Prometheus text exposition (/metrics), for tests of
// the agent's and the collector's metrics.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace vigie::integration {

// The value of the sample `series`: a name, or a name with its labels exactly
// as exposed (`name{reason="x"}`); nullopt when absent.
inline std::optional<double> find_sample(const std::string& exposition, std::string_view series) {
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

// The sum of the samples of metric `name` whose labels contain `label`
// (e.g. `reason="disk_full"`; empty: every sample); nullopt when no sample of
// that name is there.
inline std::optional<double> sum_samples(const std::string& exposition, std::string_view name,
                                         std::string_view label = {}) {
  std::optional<double> sum;
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#' || line.compare(0, name.size(), name) != 0) continue;
    if (line.size() <= name.size() || (line[name.size()] != ' ' && line[name.size()] != '{')) {
      continue;
    }
    const auto labels_end = line.find('}');
    if (!label.empty() && (labels_end == std::string::npos ||
                           line.substr(0, labels_end).find(label) == std::string::npos)) {
      continue;
    }
    sum = sum.value_or(0) + std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

}  // namespace vigie::integration
