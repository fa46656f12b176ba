// Fuzzes the agent configuration parser (agent::parse_config). Contract:
// bad input throws std::runtime_error (YAML::Exception is one); any other
// exception, a crash or undefined behaviour is a finding.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>

#include "fuzz_util.h"
#include "vigie/agent/config.h"

using vigie::fuzz::check;
using vigie::fuzz::finding;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const char* base_dir : {"/etc/vigie", ""}) {
    try {
      const vigie::agent::Config c = vigie::agent::parse_config(text, base_dir);
      // The ranges parse_config enforces ("out-of-range values are errors").
      // Written as !(in range) so that NaN counts as out of range.
      auto in = [](double v, double lo, double hi) { return v >= lo && v <= hi; };
      check(in(c.power.idle_watts, 0, 1e5) && in(c.power.max_watts, 0, 1e5) &&
                c.power.max_watts >= c.power.idle_watts,
            "power.idle_watts/max_watts out of range");
      check(in(c.power.grid_intensity_gco2e_per_kwh, 0, 5000),
            "power.grid_intensity_gco2e_per_kwh out of range");
      check(in(c.power.pue, 1, 10), "power.pue out of range");
      check(c.flush_interval_ms >= 10 && c.flush_interval_ms <= 60000,
            "flush_interval_ms out of range");
      check(c.sensor.ringbuf_bytes >= 4096 && c.sensor.ringbuf_bytes <= (1u << 30) &&
                (c.sensor.ringbuf_bytes & (c.sensor.ringbuf_bytes - 1)) == 0,
            "sensor.ringbuf_bytes out of range or not a power of two");
      check(c.power.interval_ms >= 100 && c.power.interval_ms <= 3'600'000,
            "power.interval_ms out of range");
    } catch (const std::runtime_error&) {
      // The documented way to refuse a configuration.
    } catch (const std::exception& e) {
      finding(std::string("parse_config threw a non-runtime_error: ") + e.what());
    } catch (...) {
      finding("parse_config threw a non-std exception");
    }
  }
  return 0;
}
