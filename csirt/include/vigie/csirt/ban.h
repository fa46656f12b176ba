// The federation's suspension (ban) list: compromised identities suspended
// at every site at once (EGI CSIRT's "suspension of credentials", SEC01
// containment), what sites make of it (IOC sets for the agents' rules,
// enforcement files for Argus, LCMAPS, Slurm, sshd and nftables), and their
// acknowledgements.
//
// The list travels as one JSON document with a serial number bumped on
// every change; a site refuses a serial lower than the one it holds (no
// rollback), and entries marked TLP:RED or TLP:AMBER+STRICT never leave the
// site that made them (TLP 2.0: RED is for named recipients, AMBER+STRICT
// for the organisation only).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vigie/csirt/tlp.h"
#include "vigie/protocol/result.h"

namespace vigie::csirt {

// Who is suspended.
enum class SubjectType : uint8_t {
  kUser,      // a local account name, as the site's nodes know it
  kX509Dn,    // an X.509 certificate subject, OpenSSL one-line form "/DC=org/DC=x/CN=Alice"
  kVomsFqan,  // a VOMS FQAN, "/vo.example/Role=NULL/Capability=NULL" or a group "/vo.example/g"
  kOidc,      // an OIDC identity: `issuer` and the `sub` claim as value
  kSshKey,    // an SSH public key fingerprint, "SHA256:<base64, no padding>" (ssh-keygen -l)
  kIp,        // an address or CIDR network
};
std::string_view to_string(
    SubjectType type);  // "user", "x509-dn", "voms-fqan", "oidc", "ssh-key", "ip"
std::optional<SubjectType> parse_subject_type(std::string_view text);

// What a site does about it (bits).
enum BanAction : uint8_t {
  kDenyLogin = 1,    // sshd, Argus/LCMAPS (grid and cloud front ends)
  kDenySubmit = 2,   // Slurm: no new jobs
  kDenyNetwork = 4,  // nftables: drop traffic from the address
  kDetect = 8,       // the agents' rules raise a critical alert on any activity
};
// "deny-login", "deny-submit", "deny-network", "detect".
std::vector<std::string> action_names(uint8_t actions);
std::optional<BanAction> parse_action(std::string_view text);

struct BanEntry {
  std::string id;  // uuid
  SubjectType type = SubjectType::kUser;
  std::string value;   // normalised (normalise_subject)
  std::string issuer;  // kOidc: the issuer URL; empty otherwise
  uint8_t actions = kDetect;
  std::vector<std::string> sites;  // empty: every site
  std::string incident;            // the incident it contains, if any
  std::string reason;
  Tlp tlp = Tlp::kAmber;
  std::string origin;  // the site (or federation) that made it
  std::string created_by;
  uint64_t created_ns = 0;
  uint64_t expires_ns = 0;  // 0: until lifted
  uint64_t lifted_ns = 0;   // 0: not lifted
  std::string lifted_by, lift_reason;
  bool operator==(const BanEntry&) const = default;
};

struct BanList {
  uint64_t serial = 0;  // bumped on every change; never goes down at a site
  std::string origin;   // who publishes it
  uint64_t updated_ns = 0;
  std::vector<BanEntry> entries;  // lifted and expired ones kept (history), by created_ns
  bool operator==(const BanList&) const = default;
};

// `value` in its canonical form for `type`, or why it is not one:
//   user       1..256 bytes of [A-Za-z0-9._-] (POSIX portable user names), '$' allowed last
//   x509-dn    starts with '/', 1..1024 bytes, no control character, surrounding spaces trimmed
//   voms-fqan  starts with '/', 1..512 bytes, no space or control character
//   oidc       the `sub`: 1..255 bytes, no control character (OpenID Connect Core 1.0 §2)
//   ssh-key    "SHA256:" and 43 base64 characters (a SHA-256 digest, padding dropped)
//   ip         an address or CIDR network (indicator.h normalise, host bits cleared)
protocol::Result<std::string> normalise_subject(SubjectType type, std::string_view value);

// Whether `entry` applies at `site` at `now_ns`: not lifted, not expired, and
// `site` among its sites (or it has none).
bool ban_active(const BanEntry& entry, std::string_view site, uint64_t now_ns);

// POST /bans: {"type", "value" (both required), "issuer" (oidc: required),
// "actions" ([…], default ["detect"]; at least one), "sites" ([…], default
// all), "incident", "reason" (required), "tlp" (default amber),
// "expires_ns"}. Strict (json.h's rules). id, origin, times set by the route.
protocol::Result<BanEntry> parse_ban_draft(std::string_view body);

// The list's JSON: {"serial","origin","updated_ns","entries":[{"id","type","value","issuer",
// "actions":[…],"sites":[…],"incident","reason","tlp","origin","created_by","created_ns",
// "expires_ns","lifted_ns","lifted_by","lift_reason"}]}. Parsing is strict:
// every field of that shape, values normalised, ids unique, at most 100,000 entries.
nlohmann::json to_json(const BanEntry& entry);
nlohmann::json to_json(const BanList& list);
protocol::Result<BanList> parse_ban_list(std::string_view text);

// What may leave the site that made it: `list` without its RED and
// AMBER+STRICT entries.
BanList shareable(BanList list);

// Whether a site holding `held_serial` takes `incoming`: only a higher serial
// (the same serial is the list it has; a lower one a rollback, refused).
bool takes(const BanList& incoming, uint64_t held_serial);

// The IOC lists the agents' rules match (rules/ioc.h CSV, "type,value"
// lines, sorted), of the entries active at `site` with the detect action:
//   "ban.users.csv"     user lines of local users (and of federated subjects
//                       the identity map gives a local user)
//   "ban.ips.csv"       ip and cidr lines
//   "ban.ssh_keys.csv"  sshkey lines (fingerprints)
// Every list is present, empty or not, so that a lifted last entry empties it.
struct IdentityMap;
std::vector<std::pair<std::string, std::string>> ban_ioc_lists(const BanList& list,
                                                               std::string_view site,
                                                               const IdentityMap& identities,
                                                               uint64_t now_ns);
// The hpc-csirt rule's IOC list names (rules: `User|ioc: ban.users`).
inline constexpr std::string_view kBanUsers = "ban.users.csv";
inline constexpr std::string_view kBanIps = "ban.ips.csv";
inline constexpr std::string_view kBanSshKeys = "ban.ssh_keys.csv";

// A site's map from federated subjects (x509-dn, voms-fqan, oidc) to its
// local account names, for the renderers that act on local users.
struct IdentityMap {
  // (type, "issuer|sub" for oidc, else the value) → local user names
  std::map<std::pair<SubjectType, std::string>, std::vector<std::string>> users;
  // The local users of `entry` (itself for kUser; none when unmapped).
  std::vector<std::string> local_users(const BanEntry& entry) const;
};
// Parses a site's identity map: one mapping per line, "<type> <local user>
// <subject>" (the subject last, as it may hold spaces; an oidc subject as
// "<issuer>|<sub>"); blank lines and '#' comments skipped. An error names the line.
protocol::Result<IdentityMap> parse_identity_map(std::string_view text);

// What a site runs to enforce the list.
enum class RenderFormat : uint8_t { kArgus, kLcmaps, kSlurm, kSshd, kNftables };
std::optional<RenderFormat> parse_render_format(std::string_view text);  // "argus", …

struct Rendered {
  std::string text;       // the file (Argus policy, LCMAPS ban file, sshd include, nft script)
                          // or, for Slurm, the sacctmgr commands that apply it
  std::string undo;       // Slurm: the commands that lift what is no longer banned
  uint64_t entries = 0;   // active entries this format acts on
  uint64_t unmapped = 0;  // federated subjects with no local user in the identity map
  std::vector<std::string> notes;  // one per unmapped subject or entry this format cannot express
};

// Renders the entries active at `site` at `now_ns` whose actions this
// format enforces:
//   argus     deny-login: an Argus SPL policy (PAP "simplified policy
//             language"): one `rule deny { subject="…" }` per DN, `fqan="…"`
//             per FQAN, under resource and action ".*"
//   lcmaps    deny-login: the ban file of lcmaps-plugins-banfile, one quoted DN
//             or FQAN per line; written (a header comment) even when empty
//   slurm     deny-submit: `sacctmgr -i modify user where name=<u> set
//             MaxSubmitJobs=0` per local user; `undo` sets MaxSubmitJobs=-1
//             (no limit) for the local users of lifted or expired entries
//             who are not banned by another
//   sshd      deny-login: an sshd_config include, `DenyUsers` of local users
//             and `*@<cidr>` of addresses (sshd_config(5) USER@HOST
//             patterns); only comments when empty (`sshd -t` accepts it)
//   nftables  deny-network: table inet vigie_bans with interval sets of
//             IPv4 and IPv6 networks dropped on input (`nft -c -f` accepts it)
// Federated subjects reach slurm and sshd through `identities`.
Rendered render_bans(const BanList& list, RenderFormat format, std::string_view site,
                     const IdentityMap& identities, uint64_t now_ns);

// A site's report (POST /api/v1/distribution/bans/ack at the federation,
// sent by the site collector at every mirror round where it changed): the
// serial it holds (reached) and the one its renderers last applied, with
// their failures (vigie ban render --ack at the site).
struct BanAck {
  std::string site;
  uint64_t reached_serial = 0;
  uint64_t applied_serial = 0;
  uint64_t applied_ns = 0;
  std::vector<std::string> failures;  // of the last apply
  uint64_t received_ns = 0;           // set by the federation
  bool operator==(const BanAck&) const = default;
};
protocol::Result<BanAck> parse_ban_ack(std::string_view body);
nlohmann::json to_json(const BanAck& ack);

// Per site, against the current serial: "applied" (applied, no failure),
// "failed" (the last apply had failures), "reached" (holds it, not applied
// yet), "stale" (holds an older serial), "unknown" (never reported); lag:
// current serial minus the serial applied.
struct SiteBanState {
  std::string site;
  std::string state;
  uint64_t reached_serial = 0, applied_serial = 0, lag = 0, applied_ns = 0, received_ns = 0;
  std::vector<std::string> failures;
};
std::vector<SiteBanState> ban_states(uint64_t current_serial, const std::vector<std::string>& sites,
                                     const std::vector<BanAck>& acks);
nlohmann::json to_json(const SiteBanState& state);

}  // namespace vigie::csirt
