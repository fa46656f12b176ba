#include "vigie/collector/access.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <charconv>
#include <set>
#include <stdexcept>

#include "vigie/config/yaml.h"

namespace vigie::collector {
namespace {

using ::vigie::config::check_keys;
using ::vigie::config::fail;
using ::vigie::config::parse_hex_digest;
using ::vigie::config::scalar;

// A readable file, or a config error naming the key.
std::string readable_file(const std::string& path, const YAML::Node& node, const std::string& key) {
  auto file = scalar<std::string>(path, node, key);
  if (file.empty() || access(file.c_str(), R_OK) != 0)
    fail(path, node, "'" + key + "': cannot read " + file);
  return file;
}

// getpw*_r with a buffer grown on ERANGE, as the agent's UserCache does.
template <typename Lookup>
std::optional<passwd> lookup_user(std::vector<char>& buffer, Lookup lookup) {
  const long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
  buffer.assign(hint > 0 ? static_cast<std::size_t>(hint) : 4096, '\0');
  passwd entry{};
  passwd* result = nullptr;
  int rc;
  while ((rc = lookup(&entry, buffer.data(), buffer.size(), &result)) == ERANGE &&
         buffer.size() < (1u << 20)) {
    buffer.resize(buffer.size() * 2);
  }
  if (rc != 0 || result == nullptr || result->pw_name == nullptr) return std::nullopt;
  return entry;
}

// The forms of `user` (a decimal uid or an account name) that workloads may carry.
std::vector<std::string> user_forms(const std::string& user) {
  std::vector<std::string> forms = {user};
  std::vector<char> buffer;
  uint32_t uid = 0;
  const auto [end, ec] = std::from_chars(user.data(), user.data() + user.size(), uid);
  if (ec == std::errc() && end == user.data() + user.size()) {
    const auto entry = lookup_user(buffer, [uid](passwd* e, char* b, std::size_t n, passwd** r) {
      return getpwuid_r(uid, e, b, n, r);
    });
    if (entry && user != entry->pw_name) forms.emplace_back(entry->pw_name);
  } else {
    const auto entry = lookup_user(buffer, [&user](passwd* e, char* b, std::size_t n, passwd** r) {
      return getpwnam_r(user.c_str(), e, b, n, r);
    });
    if (entry) forms.push_back(std::to_string(entry->pw_uid));
  }
  return forms;
}

constexpr const char* kRoles =
    "admin, csirt, operator, sustainability, user:<uid or name> or project:<account>";

// The text after "user:" or "project:": 1 to 256 bytes, no space, control, ':' or '/'.
bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= 256 &&
         std::none_of(name.begin(), name.end(), [](unsigned char c) {
           return c <= 0x20 || c == 0x7f || c == ':' || c == '/';
         });
}

}  // namespace

Sha256Digest sha256(std::string_view data) {
  Sha256Digest digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != digest.size()) {
    throw std::runtime_error("SHA-256 failed in OpenSSL");
  }
  return digest;
}

std::string to_hex(const Sha256Digest& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(64);
  for (unsigned char byte : digest) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0xf];
  }
  return hex;
}

bool digests_equal(const Sha256Digest& a, const Sha256Digest& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool allowed(Role role, Resource resource) {
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kCsirt:
      return resource == Resource::kAlerts || resource == Resource::kEvents ||
             resource == Resource::kAgents || resource == Resource::kFederation ||
             resource == Resource::kIncidents;
    case Role::kOperator:
      return resource == Resource::kAlerts || resource == Resource::kEvents ||
             resource == Resource::kAgents || resource == Resource::kEnergy ||
             resource == Resource::kMetrics;
    case Role::kSustainability:
      return resource == Resource::kEnergy || resource == Resource::kJobFootprints ||
             resource == Resource::kReports || resource == Resource::kFacilities;
    case Role::kUser:
      return resource == Resource::kEnergy || resource == Resource::kJobFootprints;
    case Role::kProject:
      return resource == Resource::kReports;
  }
  return false;
}

std::string_view to_string(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kCsirt:
      return "csirt";
    case Role::kOperator:
      return "operator";
    case Role::kSustainability:
      return "sustainability";
    case Role::kUser:
      return "user";
    case Role::kProject:
      return "project";
  }
  return "unknown";
}

std::string_view to_string(Resource resource) {
  switch (resource) {
    case Resource::kAlerts:
      return "alerts";
    case Resource::kEvents:
      return "events";
    case Resource::kAgents:
      return "agents";
    case Resource::kEnergy:
      return "energy";
    case Resource::kJobFootprints:
      return "job footprints";
    case Resource::kMetrics:
      return "metrics";
    case Resource::kFederation:
      return "federation data";
    case Resource::kIncidents:
      return "incidents";
    case Resource::kReports:
      return "reports";
    case Resource::kFacilities:
      return "facilities";
    case Resource::kAdmin:
      return "administration";
  }
  return "unknown";
}

bool Principal::owns(std::string_view user) const {
  if (role != Role::kUser) return true;
  return !user.empty() && std::find(users.begin(), users.end(), user) != users.end();
}

std::string Principal::describe() const {
  if (role == Role::kProject) return "project:" + project;
  if (role != Role::kUser || users.empty()) return std::string(to_string(role));
  return "user:" + users.front();
}

std::optional<Principal> parse_role(const std::string& text) {
  Principal principal;
  for (Role role : {Role::kAdmin, Role::kCsirt, Role::kOperator, Role::kSustainability}) {
    if (text == to_string(role)) {
      principal.role = role;
      return principal;
    }
  }
  constexpr std::string_view kUser = "user:";
  constexpr std::string_view kProject = "project:";
  if (text.starts_with(kUser) && valid_name(std::string_view(text).substr(kUser.size()))) {
    principal.role = Role::kUser;
    principal.users = user_forms(text.substr(kUser.size()));
    return principal;
  }
  if (text.starts_with(kProject) && valid_name(std::string_view(text).substr(kProject.size()))) {
    principal.role = Role::kProject;
    principal.project = text.substr(kProject.size());
    return principal;
  }
  return std::nullopt;
}

ApiConfig parse_api_config(const std::string& path, const YAML::Node& api,
                           const YAML::Node& tokens) {
  ApiConfig config;
  if (api.IsDefined() && !api.IsNull()) {
    check_keys(path, api, "api.", {"anonymous_role", "public_metrics"});
    if (api["anonymous_role"]) {
      const auto text = scalar<std::string>(path, api["anonymous_role"], "api.anonymous_role");
      if (text != "none") {
        auto principal = parse_role(text);
        if (!principal)
          fail(path, api["anonymous_role"],
               "api.anonymous_role must be none, " + std::string(kRoles) + ", got '" + text + "'");
        principal->name = "anonymous";
        config.anonymous = std::move(*principal);
      }
    }
    if (api["public_metrics"])
      config.public_metrics = scalar<bool>(path, api["public_metrics"], "api.public_metrics");
  }
  if (tokens.IsDefined() && !tokens.IsNull()) {
    if (!tokens.IsSequence()) fail(path, tokens, "api_tokens must be a list");
    std::set<std::string> names;
    for (const auto& entry : tokens) {
      check_keys(path, entry, "api_tokens[].", {"sha256", "name", "role"});
      ApiToken token;
      if (!entry["sha256"] ||
          !parse_hex_digest(scalar<std::string>(path, entry["sha256"], "sha256"), token.sha256))
        fail(path, entry,
             "api_tokens[].sha256 must be 64 hex digits (sha256 of the token, see --hash-token)");
      if (!entry["name"]) fail(path, entry, "api_tokens[] entries need a name (who holds it)");
      token.principal.name = scalar<std::string>(path, entry["name"], "api_tokens[].name");
      if (token.principal.name.empty() || !names.insert(token.principal.name).second)
        fail(path, entry["name"], "api_tokens[].name must be non-empty and unique");
      if (!entry["role"])
        fail(path, entry, "api_tokens[] entries need a role: " + std::string(kRoles));
      const auto role = scalar<std::string>(path, entry["role"], "api_tokens[].role");
      auto principal = parse_role(role);
      if (!principal)
        fail(path, entry["role"],
             "api_tokens[].role must be " + std::string(kRoles) + ", got '" + role + "'");
      principal->name = std::move(token.principal.name);
      token.principal = std::move(*principal);
      config.tokens.push_back(std::move(token));
    }
  }
  return config;
}

ServerTls parse_tls_config(const std::string& path, const YAML::Node& tls) {
  ServerTls config;
  if (!tls.IsDefined() || tls.IsNull()) return config;
  check_keys(
      path, tls, "tls.",
      {"cert_file", "key_file", "client_ca_file", "min_version", "handshake_timeout_seconds"});
  if (!tls["cert_file"] || !tls["key_file"])
    fail(path, tls, "tls needs cert_file and key_file (PEM)");
  config.cert_file = readable_file(path, tls["cert_file"], "tls.cert_file");
  config.key_file = readable_file(path, tls["key_file"], "tls.key_file");
  if (tls["client_ca_file"])
    config.client_ca_file = readable_file(path, tls["client_ca_file"], "tls.client_ca_file");
  if (tls["min_version"]) {
    const auto version = scalar<std::string>(path, tls["min_version"], "tls.min_version");
    if (version != "1.2" && version != "1.3")
      fail(path, tls["min_version"], "tls.min_version must be \"1.2\" or \"1.3\"");
    config.tls13_only = version == "1.3";
  }
  if (tls["handshake_timeout_seconds"]) {
    const auto seconds =
        scalar<unsigned>(path, tls["handshake_timeout_seconds"], "tls.handshake_timeout_seconds");
    if (seconds == 0 || seconds > 300)
      fail(path, tls["handshake_timeout_seconds"],
           "tls.handshake_timeout_seconds must be in 1..300");
    config.handshake_timeout = std::chrono::seconds(seconds);
  }
  return config;
}

const Principal* find_api_token(const std::vector<ApiToken>& tokens,
                                std::string_view bearer_token) {
  const ApiToken* found = find_token(tokens, bearer_token);
  return found ? &found->principal : nullptr;
}

std::string anonymous_access_warning(const ApiConfig& api, const std::string& listen_address) {
  if (!api.anonymous) return {};
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(listen_address, ec);
  if (!ec && address.is_loopback()) return {};
  return "api.anonymous_role gives every client that reaches " + listen_address +
         " without a token the role '" + api.anonymous->describe() +
         "': anyone on the network can read the API. Use it on 127.0.0.1 only; give people "
         "api_tokens instead";
}

}  // namespace vigie::collector
