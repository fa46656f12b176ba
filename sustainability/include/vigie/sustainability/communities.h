// Per-community footprints that add up to the facility meter: the facility's
// metered energy (EDC) of each month is distributed over the communities (a
// Slurm account, a project) in proportion to the node energy the agents
// measured for them (a monthly facility factor, EDC / node energy), so that
// the communities plus the shown idle and unallocated shares equal the meter
// to the joule, every month. Carbon: operational from the month's grid
// intensity, embodied from the servers' manufacturing footprint amortised
// over their lifetime per core-hour.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/sustainability/meter.h"

namespace vigie::sustainability {

// What happens to the node energy no workload used (idle, the OS, agents):
//  - separate: it stays an "idle" share of its own;
//  - proportional: communities take it in proportion to their own energy;
//  - allocation: communities take it in proportion to the core-hours
//    allocated to them (exclusive HPC allocation).
enum class IdlePolicy : uint8_t { kSeparate, kProportional, kAllocation };
std::string_view to_string(IdlePolicy policy);
std::optional<IdlePolicy> parse_idle_policy(std::string_view text);

// One community's use of the monitored nodes in one month.
struct CommunityUsage {
  std::string community;
  uint64_t node_joules = 0;  // measured node energy attributed to its workloads
  double cpu_hours = 0;      // CPU time used, core-hours
  double gpu_hours = 0;
  double allocated_core_hours = 0;  // for IdlePolicy::kAllocation
};

struct MonthInput {
  Span span;
  // The facility's EDC over the month, J; nullopt when the meters have no
  // reading for it (the month is then not distributed).
  std::optional<uint64_t> facility_joules;
  // Every joule the monitored nodes measured: the communities' plus what no
  // workload used. Less than the communities' sum is an error of the input.
  uint64_t node_joules = 0;
  std::vector<CommunityUsage> communities;
  std::optional<double> grid_gco2e_per_kwh;  // the month's average intensity
};

// Embodied carbon of the servers: `server_kgco2e` made (Boavizta's
// manufacturing GWP of the archetype), over `lifetime_years`, per core of
// `cores_per_server`: kgCO2e per core-hour = server / (years x 8760 x cores).
struct EmbodiedModel {
  double server_kgco2e = 0;
  double lifetime_years = 4;
  double cores_per_server = 1;
  double kg_per_core_hour() const;
};

struct CommunityMonth {
  std::string community;  // "" for the idle and unallocated rows
  uint64_t node_joules = 0;
  uint64_t facility_joules = 0;  // its share of EDC
  double cpu_hours = 0;
  double gpu_hours = 0;
  std::optional<double> operational_kgco2e;  // nullopt without a grid intensity
  double embodied_kgco2e = 0;
};

struct MonthResult {
  Span span;
  std::optional<uint64_t> facility_joules;  // nullopt: missing, not distributed
  uint64_t node_joules = 0;
  std::optional<double> facility_factor;    // EDC / node energy
  std::vector<CommunityMonth> communities;  // by name
  uint64_t idle_joules = 0;                 // separate policy (or no allocation to weigh it by)
  uint64_t unallocated_joules = 0;          // all of EDC when the nodes measured nothing
  std::vector<std::string> notes;
};

struct CommunityReport {
  static constexpr std::string_view kSchema = "vigie.community-report/1";
  IdlePolicy policy = IdlePolicy::kSeparate;
  std::string group_by;  // "account" or "project"
  std::vector<MonthResult> months;
  std::vector<CommunityMonth> totals;  // per community over the months distributed, by name
  uint64_t facility_joules = 0;        // EDC of the months distributed
  uint64_t idle_joules = 0;
  uint64_t unallocated_joules = 0;
  std::vector<std::string> missing_months;  // RFC 3339 starts of months without EDC
};

// Distributes each month. Invariant, for every month with a facility reading:
// sum(communities.facility_joules) + idle_joules + unallocated_joules ==
// facility_joules, exactly: integer joules apportioned in one step by the
// largest remainder method (Hamilton), so no row is off by more than a joule
// from its exact share. Throws InputError when a month's communities add up to more
// than its node energy.
CommunityReport distribute(const std::vector<MonthInput>& months, IdlePolicy policy,
                           const EmbodiedModel& embodied, std::string group_by);

// The restriction of a report to some communities (a `project:<account>`
// token): their rows only; the totals of others, idle and unallocated left out.
CommunityReport only(const CommunityReport& report, const std::vector<std::string>& communities);

nlohmann::json to_json(const CommunityReport& report);
// CSV: month,community,node_kwh,facility_kwh,cpu_hours,gpu_hours,
// operational_kgco2e,embodied_kgco2e; the idle and unallocated rows named
// "(idle)" and "(unallocated)".
std::string to_csv(const CommunityReport& report);

}  // namespace vigie::sustainability
