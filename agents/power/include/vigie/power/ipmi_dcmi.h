// Node wall power from the BMC: the DCMI Get Power Reading command sent in-band
// through freeipmi (Debian libfreeipmi17).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vigie::power {

// DCMI Get Power Reading response ("System Power Statistics" mode), DCMI
// specification v1.5, section 6.6.1, table 6-16. Powers in watts.
struct DcmiPowerReading {
  uint16_t current_watts = 0;
  uint16_t minimum_watts = 0;
  uint16_t maximum_watts = 0;
  uint16_t average_watts = 0;
  uint32_t timestamp = 0;             // BMC time, seconds (IPMI timestamp format)
  uint32_t statistics_period_ms = 0;  // averaging period of min/max/average
  bool active = false;                // power reading state bit 6: measurement active
};

// Parses a raw response as freeipmi's ipmi_cmd_raw returns it: byte 0 the
// command (0x02), byte 1 the completion code, then the group extension id
// 0xDC and the 17 data bytes (little-endian). nullopt and `error` set for a
// short response, a non-zero completion code, a wrong command or group id,
// or a reading whose state says measurement is not active.
std::optional<DcmiPowerReading> parse_dcmi_power_reading(std::span<const uint8_t> response,
                                                         std::string& error);

// Sends one raw request (NetFn, bytes starting with the command) and returns
// the raw response (command, completion code, data); nullopt and `error` on
// transport failure. The production transport is freeipmi in-band; tests inject theirs.
using IpmiTransport = std::function<std::optional<std::vector<uint8_t>>(
    uint8_t net_fn, std::span<const uint8_t> request, std::string& error)>;

// freeipmi in-band transport (KCS, SSIF or /dev/ipmi0, probed by
// ipmi_ctx_find_inband); nullptr and `error` when no BMC answers (no root,
// no ipmi_si / ipmi_devintf module, a VM).
IpmiTransport open_freeipmi_inband(std::string& error);

struct WallEnergy {
  double energy_joules = 0;
  double power_watts = 0;  // the last reading
};

// Node energy from successive power readings, integrated with the trapezoidal
// rule over the time between them. Not thread-safe.
class DcmiWallSource {
 public:
  explicit DcmiWallSource(IpmiTransport transport) : transport_(std::move(transport)) {}

  // Energy since the previous good read, `now` being the time of this one (the
  // caller's clock, so that all sources of a sample share one interval);
  // nullopt on the priming read and on failure (`error` set, counted in
  // errors(); the interval is bridged by the next good reading, so no time is lost).
  std::optional<WallEnergy> read(std::chrono::steady_clock::time_point now, std::string& error);
  uint64_t errors() const { return errors_; }

 private:
  IpmiTransport transport_;
  std::optional<double> last_watts_;
  std::chrono::steady_clock::time_point last_read_{};
  uint64_t errors_ = 0;
};

}  // namespace vigie::power
