// Configuration of a collector's place in a federation (DESIGN "Data flow":
// site -> federation: shared alerts and energy aggregates; federation ->
// sites -> agents: rule packs and IOC lists): the `role:` key and the
// `federation:` section of deploy/config/vigie-collector.yaml. Kept apart
// from federation.h so that config.h does not pull in the forwarder.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace vigie::collector {

// What a collector is: a site's (its agents send to it; it forwards what may
// be shared) or a federation's (sites send to it; it publishes rule packs
// and IOC lists). The same binary.
enum class CollectorRole : uint8_t { kSite, kFederation };

// One federation collector a site forwards to.
struct FederationPeer {
  std::string name;  // for metrics and logs: [A-Za-z0-9_.-]+
  std::string url;   // http(s)://host:port of the federation collector
  // The site token the federation knows (its agent_tokens entry with
  // site: <this site> and any_host: true), read from token_file.
  std::string token;
  std::string token_file;
  std::string tls_ca_file;  // https: PEM CA bundle (default: the system store)
  // TLP 2.0 (https://www.first.org/tlp/): CLEAR and GREEN always go, RED
  // never; AMBER and AMBER+STRICT only when allowed here for this peer.
  bool allow_amber = false;
  bool allow_amber_strict = false;
  bool energy = true;  // forward the site's energy aggregates
  bool pull = false;   // mirror its rule packs and IOC lists (at most one peer)
};

struct FederationConfig {
  CollectorRole role = CollectorRole::kSite;
  std::string site;  // this site's name, as the federation's token knows it
  // This collector's name: forwarded batches carry agent_id
  // "collector/<name>", unique per collector so that two collectors of one
  // site (scale-out) never share sequence numbers. Default: the host name.
  std::string name;
  std::vector<FederationPeer> peers;  // role: site only
  // Sequence numbers and the spool of batches not yet delivered, so that a
  // restart neither reuses a number nor loses what was queued. Empty: in
  // memory only (numbers from the wall clock).
  std::string state_dir;
  // Energy aggregates: one row per zone kind, source and flags, and one per
  // workload kind, over each interval of this length (aligned on the epoch);
  // sent once the interval ended `aggregate_delay` ago (late data is sent as
  // an extra row for the same interval, so sums stay exact).
  std::chrono::seconds aggregate_interval{60};
  std::chrono::seconds aggregate_delay{30};
  std::chrono::milliseconds flush_interval{1000};  // alerts wait at most this long
  std::size_t max_queue_batches = 10000;           // per peer; beyond, the oldest is dropped
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{30000};
  // Served at GET /api/v1/distribution (protocol/distribution.h layout): a
  // federation's published packs and lists; a site's mirror of its pull peer.
  // Empty: nothing served (404).
  std::string distribution_dir;
  std::chrono::seconds pull_interval{300};
};

// Parses the `role:` node (may be undefined: site) and the `federation:`
// section (may be undefined) of the collector's YAML file `path`; reads the
// peers' token files. Throws std::runtime_error naming the file, line and key
// on any error; unknown keys are errors.
FederationConfig parse_federation_config(const std::string& path, const YAML::Node& role,
                                         const YAML::Node& federation);

}  // namespace vigie::collector
