#include "vigie/collector/federation_config.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "vigie/config/yaml.h"

namespace vigie::collector {
namespace {

using ::vigie::config::check_keys;
using ::vigie::config::fail;
using ::vigie::config::scalar;

bool plain_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 && name.front() != '.' &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '_' || c == '.' || c == '-';
         });
}

std::string trimmed_file(const std::string& path, const YAML::Node& node, const std::string& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) fail(path, node, "cannot read " + file);
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty()) fail(path, node, file + " is empty");
  return token;
}

FederationPeer parse_peer(const std::string& path, const YAML::Node& node) {
  const std::string c = "federation.peers[].";
  check_keys(path, node, c,
             {"name", "url", "token", "token_file", "tls_ca_file", "allow_tlp", "energy", "pull"});
  FederationPeer peer;
  if (!node["name"] || !node["url"]) fail(path, node, c + "name and url are required");
  peer.name = scalar<std::string>(path, node["name"], c + "name");
  if (!plain_name(peer.name)) fail(path, node["name"], c + "name must match [A-Za-z0-9_.-]{1,64}");
  peer.url = scalar<std::string>(path, node["url"], c + "url");
  if (!peer.url.starts_with("http://") && !peer.url.starts_with("https://"))
    fail(path, node["url"], c + "url must start with http:// or https://");
  if (node["token"] && node["token_file"]) fail(path, node, c + "token and token_file exclude");
  if (node["token"]) peer.token = scalar<std::string>(path, node["token"], c + "token");
  if (node["token_file"]) {
    peer.token_file = scalar<std::string>(path, node["token_file"], c + "token_file");
    peer.token = trimmed_file(path, node["token_file"], peer.token_file);
  }
  if (peer.token.empty()) fail(path, node, c + "token_file (the site token) is required");
  if (node["tls_ca_file"])
    peer.tls_ca_file = scalar<std::string>(path, node["tls_ca_file"], c + "tls_ca_file");
  if (const auto levels = node["allow_tlp"]) {
    if (!levels.IsSequence()) fail(path, levels, c + "allow_tlp must be a list");
    for (const auto& level : levels) {
      std::string name = scalar<std::string>(path, level, c + "allow_tlp");
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char ch) { return std::tolower(ch); });
      if (name == "amber") {
        peer.allow_amber = true;
      } else if (name == "amber+strict") {
        peer.allow_amber_strict = true;
      } else if (name == "green" || name == "clear") {
        // Always shared; accepted so that a list may say it.
      } else if (name == "red") {
        fail(path, level, c + "allow_tlp: TLP:RED never leaves the site");
      } else {
        fail(path, level, c + "allow_tlp: expected amber, amber+strict, green or clear");
      }
    }
  }
  if (node["energy"]) peer.energy = scalar<bool>(path, node["energy"], c + "energy");
  if (node["pull"]) peer.pull = scalar<bool>(path, node["pull"], c + "pull");
  return peer;
}

template <typename Duration>
Duration positive_seconds(const std::string& path, const YAML::Node& node, const std::string& key,
                          unsigned max) {
  const auto value = scalar<unsigned>(path, node, key);
  if (value == 0 || value > max)
    fail(path, node, key + " must be in 1.." + std::to_string(max) + " seconds");
  return std::chrono::duration_cast<Duration>(std::chrono::seconds(value));
}

}  // namespace

FederationConfig parse_federation_config(const std::string& path, const YAML::Node& role,
                                         const YAML::Node& federation) {
  FederationConfig config;
  if (role) {
    const auto name = scalar<std::string>(path, role, "role");
    if (name == "site") {
      config.role = CollectorRole::kSite;
    } else if (name == "federation") {
      config.role = CollectorRole::kFederation;
    } else {
      fail(path, role, "role must be site or federation");
    }
  }
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) == 0) config.name = host;
  if (!federation) return config;
  const std::string c = "federation.";
  check_keys(path, federation, c,
             {"site", "name", "peers", "state_dir", "aggregate_interval_seconds",
              "aggregate_delay_seconds", "flush_interval_ms", "max_queue_batches",
              "request_timeout_seconds", "distribution_dir", "pull_interval_seconds"});
  if (federation["site"]) config.site = scalar<std::string>(path, federation["site"], c + "site");
  if (federation["name"]) config.name = scalar<std::string>(path, federation["name"], c + "name");
  if (!plain_name(config.name))
    fail(path, federation, c + "name must match [A-Za-z0-9_.-]{1,64} (default: the host name)");
  if (federation["state_dir"])
    config.state_dir = scalar<std::string>(path, federation["state_dir"], c + "state_dir");
  if (federation["distribution_dir"])
    config.distribution_dir =
        scalar<std::string>(path, federation["distribution_dir"], c + "distribution_dir");
  if (federation["aggregate_interval_seconds"])
    config.aggregate_interval = positive_seconds<std::chrono::seconds>(
        path, federation["aggregate_interval_seconds"], c + "aggregate_interval_seconds", 86400);
  if (federation["aggregate_delay_seconds"])
    config.aggregate_delay = std::chrono::seconds(scalar<unsigned>(
        path, federation["aggregate_delay_seconds"], c + "aggregate_delay_seconds"));
  if (federation["flush_interval_ms"]) {
    const auto ms =
        scalar<unsigned>(path, federation["flush_interval_ms"], c + "flush_interval_ms");
    if (ms < 10 || ms > 600000)
      fail(path, federation["flush_interval_ms"], c + "flush_interval_ms must be in 10..600000");
    config.flush_interval = std::chrono::milliseconds(ms);
  }
  if (federation["max_queue_batches"]) {
    config.max_queue_batches =
        scalar<std::size_t>(path, federation["max_queue_batches"], c + "max_queue_batches");
    if (config.max_queue_batches == 0)
      fail(path, federation["max_queue_batches"], c + "max_queue_batches must be > 0");
  }
  if (federation["request_timeout_seconds"])
    config.request_timeout = positive_seconds<std::chrono::milliseconds>(
        path, federation["request_timeout_seconds"], c + "request_timeout_seconds", 3600);
  if (federation["pull_interval_seconds"])
    config.pull_interval = positive_seconds<std::chrono::seconds>(
        path, federation["pull_interval_seconds"], c + "pull_interval_seconds", 86400);
  if (const auto peers = federation["peers"]) {
    if (!peers.IsSequence()) fail(path, peers, c + "peers must be a list");
    std::set<std::string> names;
    for (const auto& node : peers) {
      FederationPeer peer = parse_peer(path, node);
      if (!names.insert(peer.name).second)
        fail(path, node, c + "peers: two peers named '" + peer.name + "'");
      config.peers.push_back(std::move(peer));
    }
  }
  if (config.role == CollectorRole::kFederation && !config.peers.empty())
    fail(path, federation["peers"],
         "role: federation forwards to no peer; remove federation.peers");
  if (!config.peers.empty() && config.site.empty())
    fail(path, federation, c + "site is required to forward to peers");
  if (std::count_if(config.peers.begin(), config.peers.end(),
                    [](const FederationPeer& p) { return p.pull; }) > 1)
    fail(path, federation["peers"], c + "peers: at most one peer may have pull: true");
  if (std::any_of(config.peers.begin(), config.peers.end(),
                  [](const FederationPeer& p) { return p.pull; }) &&
      config.distribution_dir.empty())
    fail(path, federation, c + "distribution_dir is required with a pull peer (the mirror)");
  return config;
}

}  // namespace vigie::collector
