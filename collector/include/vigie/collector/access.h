// Who may write and read what (DESIGN "Security model"): agent tokens bound to
// a site and host, API tokens with roles, both stored hashed and looked up
// here in constant time, and the role -> resource matrix. Also the server's
// TLS settings.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace YAML {
class Node;
}

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

// Who a bearer token belongs to (find_token); nullptr when no token matches.
inline const AgentToken* find_agent_token(const std::vector<AgentToken>& tokens,
                                          std::string_view bearer_token) {
  return find_token(tokens, bearer_token);
}

// Roles, after DESIGN's users:
//   admin           everything
//   csirt           CSIRT coordinator: alerts, events, agents, federation data,
//                   incidents and indicators (the CSIRT API, read and write)
//   operator        site admin on call: alerts, events, agents, energy, /metrics
//   sustainability  energy officer: energy and job footprints, facilities,
//                   their readings and the sustainability reports
//   user:<uid>      a researcher: their own jobs' footprints and their own
//                   workloads in the energy report, nothing else
//   project:<account>  a community's contact: the community report's rows of
//                   that Slurm account (or of its project), nothing else
enum class Role : uint8_t { kAdmin, kCsirt, kOperator, kSustainability, kUser, kProject };

// What a read route serves; each route of the handler maps to one.
enum class Resource : uint8_t {
  kAlerts,         // GET /api/v1/alerts
  kEvents,         // GET /api/v1/events
  kAgents,         // GET /api/v1/agents
  kEnergy,         // GET /api/v1/energy (filtered to the user's own workloads for user:<uid>)
  kJobFootprints,  // GET /api/v1/jobs/<id>/footprint (own jobs only for user:<uid>)
  kMetrics,        // GET /metrics (public when api.public_metrics)
  kFederation,     // federation data (shared alerts, site energy aggregates)
  kIncidents,      // /api/v1/csirt/: incidents, indicators, sightings, retro-hunts (read and write)
  kReports,        // GET /api/v1/reports/… (project:<account>: its own community rows only)
  kFacilities,  // /api/v1/facilities…, /api/v1/grid/…: facilities, meter readings, grid series
  kAdmin,       // anything else under /api/: admin only
};

// The matrix: whether `role` may read `resource` at all. user:<uid> is then
// restricted to its own data by the handler.
bool allowed(Role role, Resource resource);

std::string_view to_string(Role role);  // "admin", …, "user"
std::string_view to_string(Resource resource);

// A caller of the read API once authenticated.
struct Principal {
  Role role = Role::kAdmin;
  std::string name;  // the token's name, "anonymous" for api.anonymous_role
  // For Role::kUser: the forms of the user's identity a workload or job may
  // carry: the uid as written in the token and the account name it resolves
  // to on the collector (getpwuid_r), or the name and its uid (getpwnam_r).
  // Agents report a job's user by name, or by decimal uid when the node
  // cannot resolve it; either matches.
  std::vector<std::string> users;
  // For Role::kProject: the Slurm account it speaks for.
  std::string project;

  // Whether a job or workload whose user is `user` belongs to this
  // principal; always true except for Role::kUser.
  bool owns(std::string_view user) const;
  // "admin" or "user:alice" for messages and logs.
  std::string describe() const;
};

// One API token, stored hashed (SHA-256 of the token, like agent tokens).
struct ApiToken {
  Sha256Digest sha256{};
  Principal principal;
};

// The `api:` and `api_tokens:` sections.
struct ApiConfig {
  std::vector<ApiToken> tokens;
  // Role of a request without an Authorization header; none by default (401).
  // The quick start sets admin on 127.0.0.1; the collector warns loudly when
  // it is set on a non-loopback address. A request with an unknown token is
  // refused (401) whatever this says.
  std::optional<Principal> anonymous;
  bool public_metrics = false;  // GET /metrics without a token (else admin or operator)
};

// Server-side TLS (the `tls:` section). Enabled when cert_file is set: the
// port then speaks only TLS (plain HTTP to it gets a 400 and is closed).
struct ServerTls {
  std::string cert_file;  // PEM, the server certificate then its chain
  std::string key_file;   // PEM private key
  std::string
      client_ca_file;       // PEM CAs; set: clients must present a certificate they signed (mTLS)
  bool tls13_only = false;  // min_version: "1.3"; default "1.2"
  std::chrono::seconds handshake_timeout{10};

  bool enabled() const { return !cert_file.empty(); }
};

// "admin", "csirt", "operator", "sustainability", "user:<uid or name>" or
// "project:<account>" ->
// a principal (uid <-> name resolved through NSS). Nothing for anything else.
std::optional<Principal> parse_role(const std::string& text);

// Parses `api:` (may be undefined), `api_tokens:` (may be undefined) and
// `tls:` (may be undefined) of the YAML file `path`. Throws
// std::runtime_error naming the file, line and key on any error; unknown
// keys are errors.
ApiConfig parse_api_config(const std::string& path, const YAML::Node& api,
                           const YAML::Node& tokens);
ServerTls parse_tls_config(const std::string& path, const YAML::Node& tls);

// The principal a bearer token belongs to, comparing digests in constant
// time; nullptr when none.
const Principal* find_api_token(const std::vector<ApiToken>& tokens, std::string_view bearer_token);

// A warning to log at start when an anonymous role is granted on an address
// other than loopback; empty otherwise.
std::string anonymous_access_warning(const ApiConfig& api, const std::string& listen_address);

}  // namespace vigie::collector
