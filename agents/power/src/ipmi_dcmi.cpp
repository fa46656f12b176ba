#include "vigie/power/ipmi_dcmi.h"

#include <freeipmi/freeipmi.h>

#include <array>
#include <cstdio>

namespace vigie::power {
namespace {

constexpr uint8_t kNetFnDcmi = 0x2C;  // group extension request (IPMI 2.0 table 5-1)
constexpr uint8_t kCmdGetPowerReading = 0x02;
constexpr uint8_t kDcmiGroupId = 0xDC;
constexpr uint8_t kModeSystemPowerStatistics = 0x01;
constexpr size_t kResponseBytes = 2 + 18;  // cmd, completion code, group id + 17 data bytes

uint16_t le16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>(b[at] | (b[at + 1] << 8));
}
uint32_t le32(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint32_t>(b[at]) | (static_cast<uint32_t>(b[at + 1]) << 8) |
         (static_cast<uint32_t>(b[at + 2]) << 16) | (static_cast<uint32_t>(b[at + 3]) << 24);
}

}  // namespace

std::optional<DcmiPowerReading> parse_dcmi_power_reading(std::span<const uint8_t> r,
                                                         std::string& error) {
  char buf[96];
  if (r.size() < 2) {
    error = "DCMI power reading: response of " + std::to_string(r.size()) + " bytes";
    return std::nullopt;
  }
  if (r[0] != kCmdGetPowerReading) {
    std::snprintf(buf, sizeof buf, "DCMI power reading: response to command 0x%02x", r[0]);
    error = buf;
    return std::nullopt;
  }
  if (r[1] != 0) {
    // 0xC1 (invalid command) or 0xD5/0xD6: the BMC has no DCMI power management.
    std::snprintf(buf, sizeof buf, "DCMI power reading: completion code 0x%02x", r[1]);
    error = buf;
    return std::nullopt;
  }
  if (r.size() < kResponseBytes) {
    error = "DCMI power reading: response of " + std::to_string(r.size()) + " bytes, expected " +
            std::to_string(kResponseBytes);
    return std::nullopt;
  }
  if (r[2] != kDcmiGroupId) {
    std::snprintf(buf, sizeof buf, "DCMI power reading: group extension 0x%02x", r[2]);
    error = buf;
    return std::nullopt;
  }
  DcmiPowerReading p{le16(r, 3),  le16(r, 5),  le16(r, 7),         le16(r, 9),
                     le32(r, 11), le32(r, 15), (r[19] & 0x40) != 0};
  if (!p.active) {
    error = "DCMI power reading: power measurement is not active on this BMC";
    return std::nullopt;
  }
  return p;
}

IpmiTransport open_freeipmi_inband(std::string& error) {
  ipmi_ctx_t ctx = ipmi_ctx_create();
  if (!ctx) {
    error = "no IPMI: ipmi_ctx_create failed";
    return nullptr;
  }
  int found = ipmi_ctx_find_inband(ctx, nullptr, 0, 0, 0, nullptr, 0, 0);
  if (found != 1) {
    error = found == 0 ? "no IPMI: no in-band BMC interface (KCS, SSIF, /dev/ipmi0) found"
                       : std::string("no IPMI: ") + ipmi_ctx_errormsg(ctx);
    ipmi_ctx_destroy(ctx);
    return nullptr;
  }
  std::shared_ptr<ipmi_ctx> owned(ctx, [](ipmi_ctx_t c) {
    ipmi_ctx_close(c);
    ipmi_ctx_destroy(c);
  });
  return [owned](uint8_t net_fn, std::span<const uint8_t> request,
                 std::string& err) -> std::optional<std::vector<uint8_t>> {
    std::vector<uint8_t> response(64);
    int n =
        ipmi_cmd_raw(owned.get(), 0, net_fn, request.data(), static_cast<unsigned>(request.size()),
                     response.data(), static_cast<unsigned>(response.size()));
    if (n < 0) {
      err = std::string("IPMI: ") + ipmi_ctx_errormsg(owned.get());
      return std::nullopt;
    }
    response.resize(static_cast<size_t>(n));
    return response;
  };
}

std::optional<WallEnergy> DcmiWallSource::read(std::chrono::steady_clock::time_point now,
                                               std::string& error) {
  static constexpr std::array<uint8_t, 5> kRequest = {kCmdGetPowerReading, kDcmiGroupId,
                                                      kModeSystemPowerStatistics, 0x00, 0x00};
  auto response = transport_(kNetFnDcmi, kRequest, error);
  auto reading = response ? parse_dcmi_power_reading(*response, error) : std::nullopt;
  if (!reading) {
    ++errors_;
    return std::nullopt;
  }
  const double watts = reading->current_watts;
  std::optional<WallEnergy> out;
  if (last_watts_) {
    double seconds = std::max(0.0, std::chrono::duration<double>(now - last_read_).count());
    out = WallEnergy{0.5 * (watts + *last_watts_) * seconds, watts};
  }
  last_watts_ = watts;
  last_read_ = now;
  return out;
}

}  // namespace vigie::power
