// STIX 2.1 (OASIS, stix-v2.1-os; schemas in ../shared/corpus/csirt/stix2/)
// bundles in and out of the IOC store, with TLP 2.0 as its official
// marking-definition objects (../shared/corpus/csirt/tlp2/).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "vigie/csirt/exchange.h"
#include "vigie/protocol/result.h"

namespace vigie::csirt {

// The id of the official TLP 2.0 marking-definition of `tlp`
// ("marking-definition--94868c89-…" for CLEAR, …; tlp2/README.md).
std::string_view tlp_marking_id(Tlp tlp);
// The TLP of a marking-definition id: the five TLP 2.0 ids, and the four
// TLP 1.0 ids STIX 2.1 §7.2.1.4 defines (WHITE read as CLEAR, GREEN,
// AMBER, RED). Nothing for any other id.
std::optional<Tlp> tlp_of_marking(std::string_view id);
// The TLP 2.0 marking-definition object of `tlp`, exactly as published
// (type, spec_version, id, created, name, extensions; no created_by_ref).
nlohmann::json tlp_marking_definition(Tlp tlp);

// One comparison of a STIX pattern that the engine can match.
struct PatternTerm {
  ObservableType type = ObservableType::kIp;
  std::string value;  // normalise()d
  bool operator==(const PatternTerm&) const = default;
};
// A STIX 2.1 pattern (§9) that is one observation expression holding one
// comparison or an OR of comparisons, each `=` on ipv4-addr:value,
// ipv6-addr:value (a CIDR too), domain-name:value, file:hashes.'SHA-256'
// (or "SHA256", sha256) or file:name, string literals (escapes: a quote or a
// backslash after a backslash); brackets and parentheses around them
// allowed (32 deep at most).
// Observation expressions joined by OR (`[a] OR [b]`) are accepted too: they
// match what `[a OR b]` matches. Anything else (AND, FOLLOWEDBY, other
// operators or objects, qualifiers) is an error saying what is unsupported;
// so is a literal normalise() refuses (or an IPv6 one for ipv4-addr, and
// the reverse). Terms are in pattern order, each once.
protocol::Result<std::vector<PatternTerm>> parse_stix_pattern(std::string_view pattern);

// A bundle (or a single object) into the IOC store's terms. A bundle needs
// an id "bundle--<UUID>" and "objects" an array (or none). Every object
// must be a JSON object with a "type" (3 to 250 of a-z, 0-9, -), an "id" of
// the form "<type>--<UUID>" (8-4-4-4-12 hex digits, either case), and, for
// SDOs, SROs, language-content and extension-definition, spec_version "2.1"
// and RFC 3339 UTC "created"/"modified" timestamps ("…T…[.frac]Z");
// marking-definition: spec_version and created (it has no modified); SCOs
// and custom objects: type and id only. Otherwise the whole bundle is
// refused, each object's reasons named by its id (the first 20 objects
// listed, then a count), and nothing is imported (a bundle is one unit).
//   indicator   pattern_type "stix": each PatternTerm an Indicator (uuid:
//               the id's UUID, lower case, for the first term,
//               uuid_v5(id UUID, value) for the others; valid_until from
//               valid_until; revoked: deleted; to_ids; tags: labels and
//               indicator_types; comment "name: description");
//               other pattern types and unsupported patterns: a
//               ContextItem ("stix-pattern", the whole pattern; the comment
//               says why it is not matched); a literal refused by
//               normalise(), no pattern, or a bad valid_until: invalid
//   TLP         from object_marking_refs (tlp_of_marking), the most
//               restricted one when several; AMBER when unmarked (TLP 2.0:
//               an unlabelled item from another team is not CLEAR)
//   sighting    an ExchangeSighting when its sighting_of_ref is an indicator
//               (first_ns: first_seen, else created; last_ns: last_seen,
//               else first; count: count, else 1); a bad one: invalid
//   relationship an ExchangeRelationship (refs must be identifiers)
//   others      checked as above, not imported (SCOs are not indicators)
// source "stix:<bundle id>" (or "stix:<object id>" for a lone object).
// Bounded by kMaxBodyBytes and 100,000 objects.
protocol::Result<ExchangeImport> import_stix(std::string_view body);

// A STIX 2.1 bundle of one incident:
//   identity           the site, and each site of a sighting (identity_class
//                      "organization"; id uuid_v5 of Vigie's namespace
//                      47d4a3e9-8bbf-4d20-8c2c-5fd71c74e8a1 and the site name)
//   incident           the incident (id "incident--<incident uuid>"), name, description
//   indicator          each linked indicator may_receive() at the clearance and
//                      not deleted: id "indicator--<indicator uuid>", pattern
//                      "[ipv4-addr:value = '…']" etc., pattern_type "stix",
//                      valid_from its first sighting or creation
//   observed-data, SCO per sighted indicator and site: the SCO (ipv4-addr, ipv6-addr,
//                      domain-name, file, user-account only when names_allowed)
//                      with its deterministic id (§2.9), observed over the
//                      sightings' first/last, number_observed their count
//   sighting           per indicator and site: count, first_seen, last_seen,
//                      where_sighted_refs that site's identity, observed_data_refs;
//                      when names_allowed, a description naming hosts, users, jobs
//   relationship       incident "related-to" each indicator
//   marking-definition the TLP 2.0 objects used, exactly as published
// Every SDO and SRO created_by_ref the site's identity (SCOs have no
// created_by_ref, §3.2). Every object but the marking-definitions marked with
// one TLP: an indicator its own; what tells of an indicator in this incident
// (relationship, sighting, observed-data, SCO) the stricter of its own and the
// incident's; the rest the incident's. Ids are deterministic (uuid_v5 from
// the incident and indicator uuids), so that a re-export updates the same
// objects: `modified` is request.now_ns.
// An error when the incident's own TLP is stricter than the clearance.
protocol::Result<nlohmann::json> export_stix(const ExportRequest& request);

}  // namespace vigie::csirt
