// Configuration of the collector's Prometheus remote_write output: the
// `remote_write:` list of deploy/config/vigie-collector.yaml, one entry per
// receiver (Prometheus, VictoriaMetrics, Mimir…). Kept apart from
// remote_write.h so that config.h does not pull in the sender.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace YAML {
class Node;
}

namespace vigie::collector::remote_write {

// Which series are sent, and with which labels: the knobs on label
// cardinality (https://prometheus.io/docs/practices/naming/#labels warns
// against unbounded label values such as ids).
struct SeriesOptions {
  bool node_energy = true;   // vigie_node_energy_joules_total
  bool workloads = true;     // vigie_workload_{energy_joules,co2e_grams,cpu_seconds}_total
  bool agent_health = true;  // vigie_agent_*
  // Optional workload labels kept, among "job_id" (Slurm job id), "user",
  // "account" (Slurm account) and "workload_id" (systemd unit, container id,
  // pod uid: the highest cardinality, off by default). Workloads that differ
  // only in a label left out are summed into one series.
  std::vector<std::string> workload_labels = {"job_id", "user", "account"};
  // Added to every series (like Prometheus' external_labels). Several
  // collectors writing the same hosts' data (scale-out, agent failover) must
  // each set a distinct one, e.g. {collector: site-a-1}: each accumulates its
  // own counters, and sum() over them gives the site's.
  std::vector<std::pair<std::string, std::string>> external_labels;
  // A series with no new data for this long is forgotten: its counter
  // restarts from 0 if it comes back (rate() treats that as a counter reset).
  // Bounds the collector's memory as jobs come and go.
  std::chrono::seconds idle_timeout{3600};
};

// One receiver.
struct EndpointConfig {
  // "http://host:port/path" or "https://…", e.g.
  // http://127.0.0.1:9090/api/v1/write (Prometheus with
  // --web.enable-remote-write-receiver) or http://127.0.0.1:8428/api/v1/write
  // (VictoriaMetrics). No user:password@ in it: use basic_auth.
  std::string url;
  std::string name;  // the `remote_name` label of the sender's metrics; default: the URL
  std::string bearer_token_file;  // "Authorization: Bearer <file content, trimmed>"
  std::string basic_auth_username;
  std::string basic_auth_password_file;
  std::string tls_ca_file;    // https only: PEM CA bundle (default: the system store)
  std::string tls_cert_file;  // https only: client certificate and key (mTLS)
  std::string tls_key_file;
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};  // per request
  std::size_t queue_capacity_samples = 100000;  // beyond it, the oldest samples are dropped
  std::size_t max_samples_per_send = 2000;      // per request
  // Backoff between retries of a request answered 5xx or 429 or not
  // answered: delivery::BackoffPolicy (full jitter, at least the receiver's
  // Retry-After, up to max_backoff); Prometheus' queue_config defaults.
  std::chrono::milliseconds min_backoff{30};
  std::chrono::milliseconds max_backoff{5000};
  SeriesOptions series;
};

// Parses the `remote_write:` node (a list) of the collector's YAML file
// `path`. Throws std::runtime_error naming the file, line and key on any
// error; unknown keys are errors.
std::vector<EndpointConfig> parse_config(const std::string& path, const YAML::Node& node);

}  // namespace vigie::collector::remote_write
