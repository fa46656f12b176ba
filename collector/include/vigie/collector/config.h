// vigie-collector configuration: the YAML file and its defaults. Each
// section's options live in their own header (access.h, alerting_config.h,
// federation_config.h, remote_write_config.h, storage_config.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/collector/access.h"
#include "vigie/collector/alerting_config.h"
#include "vigie/collector/csirt_config.h"
#include "vigie/collector/federation_config.h"
#include "vigie/collector/remote_write_config.h"
#include "vigie/collector/reports_config.h"
#include "vigie/collector/storage_config.h"

namespace vigie::collector {

struct Config {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 9800;  // 0: an ephemeral port (tests)
  std::string database_path = "/var/lib/vigie/collector.db";
  std::string dashboard_dir;  // static files served at "/"; empty: none
  std::string vendor_dir;     // served at "/vendor/" (uPlot's dist/); empty: none
  std::vector<AgentToken> agent_tokens;
  std::size_t body_limit_bytes = 16u << 20;    // larger requests get 413
  std::size_t header_limit_bytes = 16u << 10;  // larger headers get 431
  std::size_t max_connections = 1024;          // more get 503 and are closed
  // Ingest requests waiting on the store at once; more get 429 with
  // Retry-After (storage lags). Handlers block their I/O thread while they
  // wait, so set it below `threads` to keep threads free to answer 429s and
  // API queries. 0: `threads` (never more waiting than threads can serve).
  std::size_t max_pending_batches = 0;
  std::chrono::seconds header_timeout{10};                 // to read a request's headers
  std::chrono::seconds read_timeout{30};                   // to read a request's body
  std::chrono::seconds idle_timeout{60};                   // between keep-alive requests
  unsigned threads = 4;                                    // io_context pool size
  std::vector<remote_write::EndpointConfig> remote_write;  // `remote_write:`; empty: none
  ApiConfig api;                // `api:` and `api_tokens:`: who may read what (access.h)
  ServerTls tls;                // `tls:`; disabled (plain HTTP) when tls.cert_file is empty
  FederationConfig federation;  // `role:` and `federation:` (federation_config.h)
  AlertingConfig alerting;  // `rules:`, `alerts:`, `alertmanager:`, `webhooks:` (alerting_config.h)
  StorageConfig storage;    // `storage:` (storage_config.h); SQLite's file is database_path
  RetentionConfig retention;  // `retention:` (storage_config.h)
  CsirtConfig csirt;          // `csirt:` (csirt_config.h)
  ReportsConfig reports;      // `reports:` (reports_config.h)
};

// The defaults above, with dashboard_dir and vendor_dir pointing at the
// dashboards/ tree this binary was built from.
Config default_config();

// Reads a YAML file over default_config() (see deploy/config/vigie-collector.yaml). Throws
// std::runtime_error with the file name and the offending key on any error; unknown keys are
// errors.
Config load_config(const std::string& path);

}  // namespace vigie::collector
