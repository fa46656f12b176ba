// Indicators of compromise as the CSIRT keeps them (one TLP each, revocable),
// the observables Vigie records of every event, and how the two meet:
// both are reduced to a type and a sortable key, an indicator to ranges of
// keys, so that a live match (IndicatorMatcher) and a retro-hunt over the
// stored observables (a range scan of an index) agree by construction.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vigie/csirt/tlp.h"
#include "vigie/protocol/event.h"
#include "vigie/protocol/result.h"

namespace vigie::csirt {

// The types Vigie observes on its events, and MISP's names for them.
enum class ObservableType : uint8_t {
  kIp,        // MISP ip-dst, ip-src; a CIDR range as an indicator
  kDomain,    // MISP domain, hostname: matches the name and its subdomains
  kSha256,    // MISP sha256
  kFileName,  // MISP filename: the last path component of an executed image
  kUser,      // a user name (a compromised account), MISP target-user
};
std::string_view to_string(ObservableType type);  // "ip", "domain", "sha256", "filename", "user"
// Vigie's names above, and the MISP attribute types that map to them
// (ip-dst, ip-src, ip-dst|port, ip-src|port, hostname, domain, sha256,
// filename, target-user). Nothing for anything else.
std::optional<ObservableType> parse_observable_type(std::string_view text);

// `value` in the indicator's canonical form, or why it is not one:
//   ip        "192.0.2.1", "2001:db8::1" (inet_ntop's form), "192.0.2.0/24"
//             (a CIDR, host bits cleared); an ip-dst|port's port is dropped
//   domain    lower case, no trailing dot, labels of [a-z0-9-_], 253 bytes at most
//   sha256    64 hex digits, lower case
//   filename  a non-empty last path component, 255 bytes at most
//   user      1 to 256 bytes, no control character
protocol::Result<std::string> normalise(ObservableType type, std::string_view value);

// A key range [low, high], inclusive, over observable keys of one type.
struct KeyRange {
  std::string low;
  std::string high;
  bool operator==(const KeyRange&) const = default;
};

// The key of an observed value, nothing when it is not one of `type`:
//   ip       the 16 bytes of the address (IPv4 as ::ffff:a.b.c.d) in 32 lower hex digits
//   domain   the labels reversed, lower case: "a.pool.example" → "example.pool.a"
//   others   the normalised value
std::optional<std::string> observable_key(ObservableType type, std::string_view value);

// The key ranges a normalised indicator value matches: an address or a CIDR
// network is one range; a domain is its own key and the range of its
// subdomains' keys; any other value one single-key range.
std::vector<KeyRange> key_ranges(ObservableType type, std::string_view normalised);

// What one event offers to match: the destination of an outbound
// connection (address and host name), the remote peer of an accepted one,
// and of an execution its image name, SHA-256 and user.
struct Observable {
  ObservableType type = ObservableType::kIp;
  std::string key;
  bool operator==(const Observable&) const = default;
};
std::vector<Observable> observables_of(const protocol::Event& event);

// An indicator in the CSIRT's IOC store.
struct Indicator {
  std::string uuid;
  ObservableType type = ObservableType::kIp;
  std::string value;   // normalise()d; unique per (type, value, source)
  bool to_ids = true;  // MISP's "for detection": false ones are kept, never matched
  Tlp tlp = Tlp::kAmber;
  uint64_t first_seen_ns = 0;   // 0: never seen
  uint64_t last_seen_ns = 0;
  uint64_t valid_until_ns = 0;  // 0: no end; past it, the indicator no longer matches
  std::string source;           // "site", "misp:<event uuid>", "egi-csirt", …
  std::vector<std::string> tags;
  std::string comment;
  bool deleted = false;  // revoked (MISP deleted: true): never matches
  uint64_t created_ns = 0;
  uint64_t updated_ns = 0;
  bool operator==(const Indicator&) const = default;
};

// Whether `indicator` may match at `now_ns`: to_ids, not deleted, not expired.
bool active(const Indicator& indicator, uint64_t now_ns);

// The indicators active() at `now_ns` as an IOC list for Sigma rules'
// `|ioc:` modifier (rules/ioc.h IocStore::load_csv): "type,value" lines of
// ip, cidr, domain, sha256 and filename, sorted. User names are left out:
// rules match them with plain field conditions, not IOC sets.
std::string ioc_list_csv(const std::vector<Indicator>& indicators, uint64_t now_ns);
// The IOC list item a site collector publishes it as (rules: `|ioc: csirt`).
// A site's mirror of its federation keeps this name for the site's own list.
inline constexpr std::string_view kIocListName = "csirt.csv";

// The link of an indicator to an incident.
enum class LinkRole : uint8_t { kObserved, kSuspected, kRelated };
std::string_view to_string(LinkRole role);  // "observed", "suspected", "related"
std::optional<LinkRole> parse_link_role(std::string_view text);

// Active indicators by key, for matching events as they arrive. Immutable
// once built; rebuild it when the store changes.
class IndicatorMatcher {
 public:
  IndicatorMatcher() = default;
  // Keeps the indicators active() at `now_ns`.
  IndicatorMatcher(const std::vector<Indicator>& indicators, uint64_t now_ns);

  // The uuids of the indicators `observable` matches (an address inside a
  // CIDR, a subdomain of a domain), each once; empty when none.
  std::vector<std::string> match(const Observable& observable) const;
  std::size_t size() const { return size_; }

 private:
  // Key: type, then the exact key; for ip "<32 hex>/<prefix bits>".
  std::unordered_map<std::string, std::vector<std::string>> by_key_;
  std::vector<int> ip_prefixes_;  // the prefix lengths present, longest first
  std::size_t size_ = 0;
};

// Where an indicator was seen: one row per (indicator, site, host,
// workload, user, source), with its first and last time and count.
struct Sighting {
  std::string indicator_uuid;
  std::string site;
  std::string host;
  std::string workload_kind;  // "slurm_job", "systemd_unit", …
  std::string workload_id;    // the Slurm job id for slurm_job
  std::string user;
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;
  uint64_t count = 0;
  // "alert" (an alert's event matched), "retrohunt", or "exchange" (another
  // team's sighting, from a MISP or STIX document: site is who saw it)
  std::string source;
  int64_t alert_id = 0;  // "alert": the last alert that matched (0 unknown)
  bool operator==(const Sighting&) const = default;
};

}  // namespace vigie::csirt
