#include "vigie/collector/remote_write_config.h"

#include <yaml-cpp/yaml.h>

#include <regex>
#include <set>
#include <stdexcept>

#include "vigie/config/yaml.h"

namespace vigie::collector::remote_write {
namespace {

using ::vigie::config::check_keys;
using ::vigie::config::fail;
using ::vigie::config::scalar;

// Prometheus data model: label names match [a-zA-Z_][a-zA-Z0-9_]*, and
// those starting with "__" are reserved.
bool valid_label_name(const std::string& name) {
  static const std::regex kName("[a-zA-Z_][a-zA-Z0-9_]*");
  return std::regex_match(name, kName) && name.rfind("__", 0) != 0;
}

EndpointConfig parse_endpoint(const std::string& path, const YAML::Node& node) {
  const std::string c = "remote_write[].";
  check_keys(path, node, c,
             {"url", "name", "bearer_token_file", "basic_auth", "tls", "timeout_seconds", "queue",
              "series", "external_labels"});
  EndpointConfig e;
  if (!node["url"]) fail(path, node, c + "url is required");
  e.url = scalar<std::string>(path, node["url"], c + "url");
  if (e.url.rfind("http://", 0) != 0 && e.url.rfind("https://", 0) != 0)
    fail(path, node["url"], c + "url must start with http:// or https://");
  if (node["name"]) e.name = scalar<std::string>(path, node["name"], c + "name");
  if (node["bearer_token_file"])
    e.bearer_token_file =
        scalar<std::string>(path, node["bearer_token_file"], c + "bearer_token_file");
  if (const auto auth = node["basic_auth"]) {
    check_keys(path, auth, c + "basic_auth.", {"username", "password_file"});
    if (!auth["username"] || !auth["password_file"])
      fail(path, auth, c + "basic_auth needs username and password_file");
    e.basic_auth_username = scalar<std::string>(path, auth["username"], c + "basic_auth.username");
    e.basic_auth_password_file =
        scalar<std::string>(path, auth["password_file"], c + "basic_auth.password_file");
    if (!e.bearer_token_file.empty())
      fail(path, auth, c + "bearer_token_file and basic_auth are exclusive");
  }
  if (const auto tls = node["tls"]) {
    check_keys(path, tls, c + "tls.", {"ca_file", "cert_file", "key_file"});
    if (tls["ca_file"])
      e.tls_ca_file = scalar<std::string>(path, tls["ca_file"], c + "tls.ca_file");
    if (tls["cert_file"])
      e.tls_cert_file = scalar<std::string>(path, tls["cert_file"], c + "tls.cert_file");
    if (tls["key_file"])
      e.tls_key_file = scalar<std::string>(path, tls["key_file"], c + "tls.key_file");
    if (e.tls_cert_file.empty() != e.tls_key_file.empty())
      fail(path, tls, c + "tls.cert_file and tls.key_file go together");
  }
  if (node["timeout_seconds"]) {
    const auto seconds = scalar<double>(path, node["timeout_seconds"], c + "timeout_seconds");
    if (!(seconds > 0 && seconds <= 600))
      fail(path, node["timeout_seconds"], c + "timeout_seconds must be in (0, 600]");
    e.timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  }
  if (const auto queue = node["queue"]) {
    const std::string q = c + "queue.";
    check_keys(path, queue, q,
               {"capacity_samples", "max_samples_per_send", "min_backoff_ms", "max_backoff_ms"});
    if (queue["capacity_samples"])
      e.queue_capacity_samples =
          scalar<std::size_t>(path, queue["capacity_samples"], q + "capacity_samples");
    if (queue["max_samples_per_send"])
      e.max_samples_per_send =
          scalar<std::size_t>(path, queue["max_samples_per_send"], q + "max_samples_per_send");
    if (queue["min_backoff_ms"])
      e.min_backoff = std::chrono::milliseconds(
          scalar<unsigned>(path, queue["min_backoff_ms"], q + "min_backoff_ms"));
    if (queue["max_backoff_ms"])
      e.max_backoff = std::chrono::milliseconds(
          scalar<unsigned>(path, queue["max_backoff_ms"], q + "max_backoff_ms"));
    if (e.queue_capacity_samples == 0 || e.max_samples_per_send == 0 ||
        e.min_backoff.count() == 0 || e.max_backoff < e.min_backoff)
      fail(path, queue,
           q + "capacity_samples, max_samples_per_send and min_backoff_ms must be > 0, "
               "max_backoff_ms >= min_backoff_ms");
  }
  if (const auto series = node["series"]) {
    const std::string s = c + "series.";
    check_keys(
        path, series, s,
        {"node_energy", "workloads", "agent_health", "workload_labels", "idle_timeout_seconds"});
    auto& o = e.series;
    if (series["node_energy"])
      o.node_energy = scalar<bool>(path, series["node_energy"], s + "node_energy");
    if (series["workloads"]) o.workloads = scalar<bool>(path, series["workloads"], s + "workloads");
    if (series["agent_health"])
      o.agent_health = scalar<bool>(path, series["agent_health"], s + "agent_health");
    if (const auto labels = series["workload_labels"]) {
      if (!labels.IsSequence()) fail(path, labels, s + "workload_labels must be a list");
      o.workload_labels.clear();
      for (const auto& label : labels) {
        auto name = scalar<std::string>(path, label, s + "workload_labels[]");
        if (name != "job_id" && name != "user" && name != "account" && name != "workload_id")
          fail(path, label,
               s + "workload_labels: '" + name +
                   "' is not one of job_id, user, account, "
                   "workload_id");
        o.workload_labels.push_back(std::move(name));
      }
    }
    if (series["idle_timeout_seconds"]) {
      o.idle_timeout = std::chrono::seconds(
          scalar<unsigned>(path, series["idle_timeout_seconds"], s + "idle_timeout_seconds"));
      if (o.idle_timeout.count() == 0)
        fail(path, series["idle_timeout_seconds"], s + "idle_timeout_seconds must be > 0");
    }
  }
  if (const auto labels = node["external_labels"]) {
    if (!labels.IsMap()) fail(path, labels, c + "external_labels must be a mapping");
    for (const auto& entry : labels) {
      auto name = entry.first.as<std::string>();
      auto value = scalar<std::string>(path, entry.second, c + "external_labels." + name);
      if (!valid_label_name(name))
        fail(path, entry.first,
             c + "external_labels: '" + name +
                 "' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)");
      if (value.empty()) fail(path, entry.second, c + "external_labels." + name + " is empty");
      e.series.external_labels.emplace_back(std::move(name), std::move(value));
    }
  }
  return e;
}

}  // namespace

std::vector<EndpointConfig> parse_config(const std::string& path, const YAML::Node& node) {
  if (!node.IsSequence())
    fail(path, node, "remote_write must be a list of endpoints ({url: …} each)");
  std::vector<EndpointConfig> endpoints;
  for (const auto& entry : node) endpoints.push_back(parse_endpoint(path, entry));
  return endpoints;
}

}  // namespace vigie::collector::remote_write
