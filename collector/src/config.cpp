#include "vigie/collector/config.h"

#include <yaml-cpp/yaml.h>

#include <set>
#include <stdexcept>

#include "vigie/config/yaml.h"

namespace vigie::collector {
namespace {

using ::vigie::config::check_keys;
using ::vigie::config::fail;
using ::vigie::config::parse_hex_digest;
using ::vigie::config::scalar;

}  // namespace

Config default_config() {
  Config config;
  config.dashboard_dir = VIGIE_DEFAULT_DASHBOARD_DIR;
  config.vendor_dir = VIGIE_DEFAULT_VENDOR_DIR;
  return config;
}

Config load_config(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw std::runtime_error(path + ": cannot read the configuration file");
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  Config config = default_config();
  if (root.IsNull()) return config;
  check_keys(path, root, "",
             {"listen",       "database",     "dashboard", "limits",       "timeouts", "threads",
              "agent_tokens", "remote_write", "api",       "api_tokens",   "tls",      "role",
              "federation",   "rules",        "alerts",    "alertmanager", "webhooks", "storage",
              "retention",    "csirt",        "reports"});

  if (const auto listen = root["listen"]) {
    check_keys(path, listen, "listen.", {"address", "port"});
    if (listen["address"])
      config.listen_address = scalar<std::string>(path, listen["address"], "listen.address");
    if (listen["port"]) config.port = scalar<uint16_t>(path, listen["port"], "listen.port");
  }
  if (root["database"])
    config.database_path = scalar<std::string>(path, root["database"], "database");
  if (const auto dashboard = root["dashboard"]) {
    check_keys(path, dashboard, "dashboard.", {"dir", "vendor_dir"});
    if (dashboard["dir"])
      config.dashboard_dir = scalar<std::string>(path, dashboard["dir"], "dashboard.dir");
    if (dashboard["vendor_dir"])
      config.vendor_dir =
          scalar<std::string>(path, dashboard["vendor_dir"], "dashboard.vendor_dir");
  }
  if (const auto limits = root["limits"]) {
    check_keys(path, limits, "limits.",
               {"body_bytes", "header_bytes", "max_connections", "max_pending_batches"});
    if (limits["max_pending_batches"])
      config.max_pending_batches =
          scalar<std::size_t>(path, limits["max_pending_batches"], "limits.max_pending_batches");
    if (limits["body_bytes"])
      config.body_limit_bytes =
          scalar<std::size_t>(path, limits["body_bytes"], "limits.body_bytes");
    if (limits["header_bytes"])
      config.header_limit_bytes =
          scalar<std::size_t>(path, limits["header_bytes"], "limits.header_bytes");
    if (limits["max_connections"])
      config.max_connections =
          scalar<std::size_t>(path, limits["max_connections"], "limits.max_connections");
    if (config.body_limit_bytes == 0 || config.header_limit_bytes < 1024 ||
        config.max_connections == 0)
      fail(path, limits,
           "limits.body_bytes and limits.max_connections must be > 0 and limits.header_bytes "
           ">= 1024");
  }
  if (const auto timeouts = root["timeouts"]) {
    check_keys(path, timeouts, "timeouts.", {"header_seconds", "read_seconds", "idle_seconds"});
    if (timeouts["header_seconds"])
      config.header_timeout = std::chrono::seconds(
          scalar<unsigned>(path, timeouts["header_seconds"], "timeouts.header_seconds"));
    if (timeouts["read_seconds"])
      config.read_timeout = std::chrono::seconds(
          scalar<unsigned>(path, timeouts["read_seconds"], "timeouts.read_seconds"));
    if (timeouts["idle_seconds"])
      config.idle_timeout = std::chrono::seconds(
          scalar<unsigned>(path, timeouts["idle_seconds"], "timeouts.idle_seconds"));
    if (config.header_timeout.count() == 0 || config.read_timeout.count() == 0 ||
        config.idle_timeout.count() == 0)
      fail(path, timeouts, "timeouts must be > 0 seconds");
  }
  if (root["threads"]) {
    config.threads = scalar<unsigned>(path, root["threads"], "threads");
    if (config.threads == 0 || config.threads > 256)
      fail(path, root["threads"], "threads must be in 1..256");
  }
  if (const auto tokens = root["agent_tokens"]) {
    if (!tokens.IsSequence()) fail(path, tokens, "agent_tokens must be a list");
    for (const auto& entry : tokens) {
      check_keys(path, entry, "agent_tokens[].", {"sha256", "site", "host", "any_host"});
      AgentToken token;
      if (!entry["sha256"] ||
          !parse_hex_digest(scalar<std::string>(path, entry["sha256"], "sha256"), token.sha256))
        fail(path, entry,
             "agent_tokens[].sha256 must be 64 hex digits (sha256 of the token, see --hash-token)");
      if (entry["site"]) token.site = scalar<std::string>(path, entry["site"], "site");
      if (entry["host"]) token.host = scalar<std::string>(path, entry["host"], "host");
      if (entry["any_host"]) token.any_host = scalar<bool>(path, entry["any_host"], "any_host");
      if (token.host.empty() != token.any_host)
        fail(path, entry,
             "agent_tokens[] entries need a host (the node the token writes for) or, for labs "
             "only, any_host: true; not both");
      config.agent_tokens.push_back(std::move(token));
    }
  }
  if (const auto remote_write = root["remote_write"])
    config.remote_write = remote_write::parse_config(path, remote_write);
  config.api = parse_api_config(path, root["api"], root["api_tokens"]);
  config.tls = parse_tls_config(path, root["tls"]);
  config.federation = parse_federation_config(path, root["role"], root["federation"]);
  config.alerting = parse_alerting_config(path, root);
  // After `database:`: storage.sqlite_path, when given, wins.
  parse_storage_config(path, root["storage"], config.storage, config.database_path);
  config.retention = parse_retention_config(path, root["retention"]);
  config.csirt = parse_csirt_config(path, root["csirt"]);
  config.reports = parse_reports_config(path, root["reports"]);
  return config;
}

}  // namespace vigie::collector
