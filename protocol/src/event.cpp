#include "vigie/protocol/event.h"

#include <array>
#include <chrono>

namespace vigie::protocol {
namespace {

constexpr std::array<std::string_view, kWorkloadKindCount> kWorkloadKindNames = {
    "host", "slurm_job", "systemd_unit", "container", "unattributed", "kubernetes_pod"};
constexpr std::array<std::string_view, kEventKindCount> kEventKindNames = {
    "process_exec",   "process_exit", "network_connect",  "process_fork", "network_accept",
    "network_listen", "file_open",    "privilege_change", "ptrace",       "fileless_exec"};
constexpr std::array<std::string_view, 4> kEnergySourceNames = {"rapl", "estimate", "nvml", "ipmi"};

template <typename Enum, std::size_t N>
bool parse_name(const std::array<std::string_view, N>& names, std::string_view text, Enum& out) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == text) {
      out = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

}  // namespace

uint64_t wall_clock_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string join_command_line(const std::vector<std::string>& argv) {
  std::string line;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (i != 0) line += ' ';
    line += argv[i];
  }
  return line;
}

std::string_view to_string(WorkloadKind kind) {
  return kWorkloadKindNames.at(static_cast<std::size_t>(kind));
}
bool parse_workload_kind(std::string_view text, WorkloadKind& kind) {
  return parse_name(kWorkloadKindNames, text, kind);
}
std::string_view to_string(EventKind kind) {
  return kEventKindNames.at(static_cast<std::size_t>(kind));
}
bool parse_event_kind(std::string_view text, EventKind& kind) {
  return parse_name(kEventKindNames, text, kind);
}
std::string_view to_string(Transport transport) {
  return transport == Transport::kTcp ? "tcp" : "udp";
}
std::string_view to_string(EnergySource source) {
  return kEnergySourceNames.at(static_cast<std::size_t>(source));
}
bool parse_energy_source(std::string_view text, EnergySource& source) {
  return parse_name(kEnergySourceNames, text, source);
}

const std::string& image_of(const Event& event) {
  return std::visit([](const auto& body) -> const std::string& { return body.image; }, event.body);
}

}  // namespace vigie::protocol
