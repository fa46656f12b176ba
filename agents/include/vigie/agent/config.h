// vigie-agent configuration (YAML; see deploy/config/vigie-agent.yaml).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vigie::agent {

struct SensorConfig {
  bool enabled = true;                // false: energy only
  uint32_t ringbuf_bytes = 8u << 20;  // power of two
  // Wake the agent once this much waits in the ring buffer, else every 100 ms
  // (fewer context switches under exec storms); below ringbuf_bytes, 0 = per record.
  uint32_t wakeup_bytes = 64u << 10;
  // Per-kind enable (DESIGN.md's event kinds); a kind off is neither loaded nor attached.
  bool process_exec = true;
  bool process_exit = true;
  bool network_connect = true;
  bool process_fork = true;
  bool network_accept = true;
  bool network_listen = true;
  bool file_open = true;
  bool privilege_change = true;
  bool ptrace = true;
  bool fileless_exec = true;  // needs process_exec
  // file_open patterns (vigie/sensor/sensor.h SensorOptions::watched_paths):
  // "/prefix", "*/suffix", "w:" first for writes only; at most 32, each < 64 bytes.
  // Empty in the file: the sensor's default set.
  std::vector<std::string> watched_paths;
  bool hash_images = false;                // sha256 of every executed image
  uint32_t hash_cache_entries = 4096;      // (device, inode, mtime, size) -> sha256
  uint32_t ancestry_depth = 8;             // ancestors carried by each exec, parent first
  uint32_t process_table_entries = 65536;  // bounded; evictions are counted
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
  // Whether the file set them: on a virtual machine the estimate charges no
  // idle power and takes the CPU family's per-core power unless it did.
  bool idle_watts_set = false;
  bool max_watts_set = false;
  std::string idle_policy = "unattributed";  // unattributed | allocated_cores
  double grid_intensity_gco2e_per_kwh = 56;  // see vigie/power carbon.h for the source
  double pue = 1.4;
  // Estimate (no RAPL, no IPMI): per-core power P_c of Green Algorithms. 0:
  // from the TDP table for cpu_model ("auto": /proc/cpuinfo's model name),
  // else (max_watts - idle_watts) / online CPUs when max_watts is set, else
  // the CPU family's (vigie/power estimate.h choose_estimate).
  double core_watts = 0;
  std::string cpu_model = "auto";
  bool nvml = true;                                // GPUs through NVML when the driver is there
  std::string nvml_library = "libnvidia-ml.so.1";  // dlopen'ed at start
  bool ipmi = false;                               // node wall power through IPMI DCMI (in-band)
  std::string grid_intensity_csv;  // time series (generic or RTE eCO2mix CSV); empty: static
  std::string pue_csv;             // facility meter feed (CSV time,pue); empty: static pue
  double embodied_kgco2e = 1500;   // server manufacturing footprint
  double lifetime_years = 4;       // amortisation period of embodied_kgco2e
};

// `spool:`: unacknowledged batches kept on disk (vigie/uplink/spool.h,
// UplinkOptions::spool_dir), replayed after an outage or a restart.
struct SpoolConfig {
  bool enabled = true;
  std::string dir;                  // default: <state_dir>/spool
  uint64_t max_bytes = 1ull << 30;  // >= 1 MiB; the oldest batches are dropped (counted) beyond
  bool sync = true;                 // fsync every batch (crash-safe); false: benchmarks only
};

struct Config {
  std::string agent_id;  // default: host
  std::string site = "local";
  std::string host;  // default: gethostname()
  std::string collector_url = "http://127.0.0.1:9800";
  // collector.urls: every collector, the preferred one first (collector_url is
  // then its first entry); collector.url alone gives a list of one. Batches
  // fail over between them (vigie/uplink/uplink.h UplinkOptions).
  std::vector<std::string> collector_urls{collector_url};
  // While on another collector, go back to the preferred one this often; 0: never.
  uint32_t collector_failback_interval_ms = 300000;
  std::string token;  // agent token, or read from token_file
  std::string token_file;
  // https:// collectors: PEM CA bundle to verify them (empty: the system
  // store), and an optional client certificate and key (mTLS).
  std::string collector_ca_file;
  std::string collector_client_cert_file;
  std::string collector_client_key_file;
  uint32_t flush_interval_ms = 1000;
  std::string metrics_listen = "127.0.0.1:9810";  // empty: no /metrics
  std::string state_dir = "/var/lib/vigie";       // sequence numbers survive restarts here
  // rules.path: Sigma rule files or pack directories, a string or a list
  // (the first directory's VERSION is the pack version); empty: no rules.
  std::vector<std::string> rules_paths;
  // rules.ioc_lists: IOC set name -> CSV or MISP JSON (".json") file, for the `ioc` modifier.
  std::map<std::string, std::string> rules_ioc_lists;
  // Hot reload: rule and IOC files are checked this often (mtime and size) and
  // on SIGHUP; 0: on SIGHUP only.
  uint32_t rules_reload_interval_ms = 5000;
  // rules.pull: rule packs and IOC lists pulled from the site collector
  // (distribution_pull.h); off when both lists are empty.
  struct RulesPull {
    std::string url;                  // default: the (first) collector url
    uint32_t interval_seconds = 300;  // between pulls (each a conditional GET)
    std::string dir;                  // default: <state_dir>/distribution
    std::vector<std::string> packs;   // rule packs, loaded like rules.path entries
    std::vector<std::string> iocs;    // IOC list files ("bad-ips.csv"), set named by stem
  } rules_pull;
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string proc_root = "/proc";
  SensorConfig sensor;
  PowerConfig power;
  SpoolConfig spool;
  std::string log_level = "info";
};

// Parses YAML text read from `source` (a file name for messages; empty for a
// string). Unknown keys, wrong types and out-of-range values are errors:
// throws config::ConfigError (a std::runtime_error) "<source>:<line>: <what>"
// naming the key at fault (vigie/config/yaml.h). Relative paths (token_file,
// rules.path) are resolved against `base_dir`.
Config parse_config(const std::string& yaml_text, const std::string& base_dir,
                    const std::string& source = {});

// Reads and parses `path`, then fills defaults (host, agent_id) and reads
// token_file. Throws std::runtime_error with the file name on any error.
Config load_config(const std::string& path);

}  // namespace vigie::agent
