// vigie-agent configuration (YAML; see deploy/config/vigie-agent.yaml).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vigie::agent {

struct SensorConfig {
  bool enabled = true;                // false: energy only
  uint32_t ringbuf_bytes = 8u << 20;  // power of two
  // Wake the agent once this much waits in the ring buffer, else every 100 ms
  // (fewer context switches under exec storms); below ringbuf_bytes, 0 = per record.
  uint32_t wakeup_bytes = 64u << 10;
  bool process_exec = true;
  bool process_exit = true;
  bool network_connect = true;
};

struct PowerConfig {
  bool enabled = true;
  uint32_t interval_ms = 1000;
  std::string source = "auto";  // auto | rapl | estimate
  // Node power at idle and at full CPU load: the linear model of the estimate
  // where no RAPL exists, and with RAPL the idle share set apart from the
  // active energy that is split by CPU time (see vigie/power).
  double idle_watts = 60;
  double max_watts = 180;
  std::string idle_policy = "unattributed";  // unattributed | allocated_cores
  double grid_intensity_gco2e_per_kwh = 56;  // see vigie/power carbon.h for the source
  double pue = 1.4;
};

struct Config {
  std::string agent_id;  // default: host
  std::string site = "local";
  std::string host;  // default: gethostname()
  std::string collector_url = "http://127.0.0.1:9800";
  std::string token;  // agent token, or read from token_file
  std::string token_file;
  uint32_t flush_interval_ms = 1000;
  std::string metrics_listen = "127.0.0.1:9810";  // empty: no /metrics
  std::string state_dir = "/var/lib/vigie";       // sequence numbers survive restarts here
  std::string rules_path;                         // Sigma rule file or pack directory; empty: none
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string proc_root = "/proc";
  SensorConfig sensor;
  PowerConfig power;
  std::string log_level = "info";
};

// Parses YAML text. Unknown keys, wrong types and out-of-range values are
// errors: throws std::runtime_error naming the key (and line) at fault.
// Relative paths (token_file, rules.path) are resolved against `base_dir`.
Config parse_config(const std::string& yaml_text, const std::string& base_dir);

// Reads and parses `path`, then fills defaults (host, agent_id) and reads
// token_file. Throws std::runtime_error with the file name on any error.
Config load_config(const std::string& path);

}  // namespace vigie::agent
