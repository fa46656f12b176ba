// Builders of sensor ring-buffer records (agents/sensor/bpf/sensor_events.h),
// shared by the seed generator and the targets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "sensor_events.h"

namespace vigie::fuzz {

inline sensor_header make_header(uint32_t kind) {
  sensor_header h{};
  h.time_boot_ns = 123'456'789'000ull;
  h.cgroup_id = 4242;
  h.pid = 1234;
  h.ppid = 1;
  h.uid = 1001;
  h.gid = 1001;
  h.kind = kind;
  h.login_uid = 1001;
  return h;
}

// args: NUL-separated argv exactly as the kernel copies it.
inline std::vector<uint8_t> exec_record(const std::string& args, const std::string& image,
                                        uint32_t flags = 0) {
  sensor_exec e{};
  e.hdr = make_header(SENSOR_EVENT_PROCESS_EXEC);
  e.args_len = static_cast<uint32_t>(args.size());
  e.filename_len = static_cast<uint32_t>(image.size());
  e.flags = flags;
  std::vector<uint8_t> out(offsetof(sensor_exec, data) + args.size() + image.size());
  std::memcpy(out.data(), &e, offsetof(sensor_exec, data));
  std::memcpy(out.data() + offsetof(sensor_exec, data), args.data(), args.size());
  std::memcpy(out.data() + offsetof(sensor_exec, data) + args.size(), image.data(), image.size());
  return out;
}

inline std::vector<uint8_t> exit_record(uint32_t exit_code) {
  sensor_exit e{};
  e.hdr = make_header(SENSOR_EVENT_PROCESS_EXIT);
  e.exit_code = exit_code;
  std::vector<uint8_t> out(sizeof e);
  std::memcpy(out.data(), &e, sizeof e);
  return out;
}

inline std::vector<uint8_t> connect_record(uint16_t family, const uint8_t* addr, size_t addr_len,
                                           uint16_t port_be, uint8_t transport) {
  sensor_connect c{};
  c.hdr = make_header(SENSOR_EVENT_NETWORK_CONNECT);
  c.family = family;
  c.port = port_be;
  c.transport = transport;
  std::memcpy(c.addr, addr, addr_len);
  std::vector<uint8_t> out(sizeof c);
  std::memcpy(out.data(), &c, sizeof c);
  return out;
}

}  // namespace vigie::fuzz
