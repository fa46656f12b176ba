// Indicators of compromise (IOC): named sets of IP addresses and CIDR ranges,
// domains, SHA-256 digests and file names, loaded from CSV or from MISP JSON
// attributes, and matched against event fields by Sigma rules through Vigie's
// `ioc` modifier:
//
//   detection:
//     selection:
//       DestinationIp|ioc: mining-pools     # the list loaded under that name
//
// A field value matches a set when it is (IPv4/IPv6 text) an address of the
// set or inside one of its CIDR ranges; or equals one of its domains or is a
// subdomain of one ("a.pool.example" matches "pool.example"); or equals one of
// its SHA-256 digests (case-insensitive hex), alone or as Sysmon's
// "SHA256=<hex>"; or its last path component equals one of its file names;
// or it equals one of its exact values (user names, SSH key fingerprints:
// CSV types user, target-user, sshkey; the CSIRT ban list's IOC sets).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "vigie/rules/diagnostic.h"

namespace vigie::rules {

enum class IocType : uint8_t { kIp, kDomain, kSha256, kFileName, kExact };

// An IP network: 16 bytes (IPv4 as IPv4-mapped IPv6, ::ffff:a.b.c.d) and a
// prefix length over those 128 bits.
struct IpNetwork {
  std::array<uint8_t, 16> address{};
  int prefix_bits = 128;

  // "192.0.2.0/24", "2001:db8::/32", or a bare address (a /32 or /128).
  // nullopt when `text` is not one, or the prefix exceeds the family's width.
  static std::optional<IpNetwork> parse(std::string_view text);
  bool contains(const std::array<uint8_t, 16>& address) const;
};

// Parses an IPv4 or IPv6 address into the IpNetwork address form; nullopt if `text` is not one.
std::optional<std::array<uint8_t, 16>> parse_ip(std::string_view text);

class IocSet {
 public:
  // Adds one indicator; false (nothing added) when `value` is not valid for `type`.
  bool add(IocType type, std::string_view value);
  bool matches(std::string_view value) const;
  std::size_t size() const;

 private:
  std::unordered_set<std::string> addresses_;  // 16 raw bytes each
  std::vector<IpNetwork> networks_;
  std::unordered_set<std::string> domains_;  // lower-case, no trailing dot
  std::unordered_set<std::string> sha256_;   // lower-case hex
  std::unordered_set<std::string> file_names_;
  std::unordered_set<std::string> exact_;  // compared byte for byte
};

// IOC sets by name, as rules refer to them.
class IocStore {
 public:
  // CSV, one indicator per line: `type,value[,anything else]`. `type` is one of
  // ip, cidr, domain, hostname, sha256, filename, user, sshkey, or a MISP attribute type
  // (ip-dst, ip-src, ip-dst|port, domain|ip, filename|sha256, ...). Blank lines,
  // `#` comments and a `type,value` header are skipped. Every other bad line is
  // a Diagnostic and is not loaded. The set is named `name`; loading the same
  // name again adds to it. Returns the number of indicators added.
  std::size_t load_csv(const std::string& name, const std::filesystem::path& path,
                       std::vector<Diagnostic>& diagnostics);

  // MISP JSON (MISP core format): an event {"Event": {"Attribute": [...],
  // "Object": [{"Attribute": [...]}]}}, a list of such events, a REST search
  // answer {"response": {"Attribute": [...]}}, or {"Attribute": [...]}. Each
  // attribute's "type" and "value" are read as for CSV; attributes with
  // "to_ids": false (MISP's "not for detection") or "deleted": true (revoked,
  // a soft delete MISP keeps in exports) are skipped and counted in
  // `skipped`. Unknown types are diagnostics.
  std::size_t load_misp_json(const std::string& name, const std::filesystem::path& path,
                             std::vector<Diagnostic>& diagnostics, std::size_t* skipped = nullptr);

  // Adds one indicator typed by its CSV/MISP type name; false if the type is
  // unknown or the value is invalid for it.
  bool add(const std::string& name, std::string_view type, std::string_view value);

  // nullptr when no set has that name.
  std::shared_ptr<const IocSet> find(std::string_view name) const;
  const std::map<std::string, std::shared_ptr<IocSet>, std::less<>>& sets() const { return sets_; }

 private:
  std::map<std::string, std::shared_ptr<IocSet>, std::less<>> sets_;
};

}  // namespace vigie::rules
