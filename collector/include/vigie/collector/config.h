// vigie-collector configuration: the YAML file, its defaults, and agent token checks.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/collector/access.h"
#include "vigie/collector/alerting_config.h"
#include "vigie/collector/federation_config.h"
#include "vigie/collector/remote_write_config.h"
#include "vigie/collector/storage.h"

namespace vigie::collector {

using Sha256Digest = std::array<unsigned char, 32>;

// SHA-256 of `data` (OpenSSL EVP).
Sha256Digest sha256(std::string_view data);
// Lower-case hex of a digest, 64 characters.
std::string to_hex(const Sha256Digest& digest);
// Equality of two digests in constant time (OpenSSL CRYPTO_memcmp).
bool digests_equal(const Sha256Digest& a, const Sha256Digest& b);

// The entry of `tokens` (any type with a `Sha256Digest sha256` member) whose
// digest is SHA-256 of `bearer_token`; nullptr when none. Every entry is
// compared, in constant time, so the time taken says nothing about which one
// matched.
template <typename Token>
const Token* find_token(const std::vector<Token>& tokens, std::string_view bearer_token) {
  const Sha256Digest digest = sha256(bearer_token);
  const Token* found = nullptr;
  for (const auto& token : tokens) {
    if (digests_equal(token.sha256, digest)) found = &token;
  }
  return found;
}

// One agent token, stored hashed (DESIGN "Security model": secrets are stored
// hashed). A token writes only for its host (DESIGN: "Agent tokens are scoped
// to one site and host") unless any_host says otherwise (labs); an empty
// site means any site.
struct AgentToken {
  Sha256Digest sha256{};
  std::string site;
  std::string host;
  bool any_host = false;
};

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
  StorageConfig storage;    // `storage:` (storage.h); SQLite's file is database_path
  RetentionConfig retention;  // `retention:` (storage.h)
};

// The defaults above, with dashboard_dir and vendor_dir pointing at the
// dashboards/ tree this binary was built from.
Config default_config();

// Reads a YAML file over default_config() (see deploy/config/vigie-collector.yaml). Throws
// std::runtime_error with the file name and the offending key on any error; unknown keys are
// errors.
Config load_config(const std::string& path);

// Who a bearer token belongs to (find_token); nullptr when no token matches.
inline const AgentToken* find_agent_token(const std::vector<AgentToken>& tokens,
                                          std::string_view bearer_token) {
  return find_token(tokens, bearer_token);
}

}  // namespace vigie::collector
