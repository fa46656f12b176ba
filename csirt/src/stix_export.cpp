// export_stix: one incident as a STIX 2.1 bundle (stix-v2.1-os), marked
// with the official TLP 2.0 marking-definitions.
#include <date/date.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text.h"
#include "vigie/csirt/stix.h"

namespace vigie::csirt {

using text::clean_text;
using text::valid_utf8;

namespace {

using nlohmann::json;

// Vigie's own UUIDv5 namespace for STIX ids (chosen once, random v4): the
// identity of a site is uuid_v5(kVigieNamespace, site name), and it stands
// in for an incident or indicator uuid that is not an RFC 4122 UUID.
constexpr std::string_view kVigieNamespace = "47d4a3e9-8bbf-4d20-8c2c-5fd71c74e8a1";
// STIX 2.1 §2.9: the namespace of deterministic SCO ids.
constexpr std::string_view kScoNamespace = "00abedb4-aa42-466c-9c01-fed23315a9b7";
// The identities' `created`: they describe sites, which Vigie does not date.
constexpr uint64_t kIdentityCreatedNs = 1767225600ULL * 1000000000ULL;  // 2026-01-01T00:00:00Z
// The largest sighting count (STIX 2.1 §5.2) and observed-data number_observed (§4.14).
constexpr uint64_t kMaxCount = 999999999;

// RFC 3339 UTC, millisecond precision, as STIX 2.1 §3.2 requires of created
// and modified: "2026-12-07T10:00:00.000Z".
std::string timestamp(uint64_t ns) {
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  const std::chrono::sys_time<std::chrono::nanoseconds> time{
      std::chrono::nanoseconds{static_cast<int64_t>(std::min(ns, kMax))}};
  return date::format("%FT%TZ", std::chrono::floor<std::chrono::milliseconds>(time));
}

uint64_t floor_ms(uint64_t ns) { return ns / 1000000 * 1000000; }

// Whether `text` is a UUID the STIX identifier pattern accepts: 8-4-4-4-12
// lower-case hex digits, version 1 to 5, RFC 4122 variant.
bool stix_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return text[14] >= '1' && text[14] <= '5' &&
         std::string_view("89ab").find(text[19]) != std::string_view::npos;
}

// `uuid` when STIX accepts it, otherwise a stable UUID derived from it.
std::string stix_uuid_of(std::string_view uuid) {
  return stix_uuid(uuid) ? std::string(uuid) : uuid_v5(kVigieNamespace, uuid);
}

// A STIX pattern string literal (§9): ' and \ escaped.
std::string literal(std::string_view value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

// The SCO of an indicator's value and its ID contributing properties
// (STIX 2.1 §6: ipv4-addr, ipv6-addr and domain-name value; file hashes,
// else name; user-account account_login).
struct Sco {
  std::string type;
  json contributing;
};
Sco sco_of(const Indicator& indicator) {
  switch (indicator.type) {
    case ObservableType::kIp:
      return {indicator.value.find(':') == std::string::npos ? "ipv4-addr" : "ipv6-addr",
              {{"value", indicator.value}}};
    case ObservableType::kDomain:
      return {"domain-name", {{"value", indicator.value}}};
    case ObservableType::kSha256:
      return {"file", {{"hashes", {{"SHA-256", indicator.value}}}}};
    case ObservableType::kFileName:
      return {"file", {{"name", indicator.value}}};
    case ObservableType::kUser:
      return {"user-account", {{"account_login", indicator.value}}};
  }
  return {};
}

// "[ipv4-addr:value = '198.51.100.7']", "[file:hashes.'SHA-256' = '…']", …
std::string pattern_of(const Indicator& indicator, const Sco& sco) {
  std::string_view path = "value";
  if (indicator.type == ObservableType::kSha256) path = "hashes.'SHA-256'";
  if (indicator.type == ObservableType::kFileName) path = "name";
  if (indicator.type == ObservableType::kUser) path = "account_login";
  return "[" + sco.type + ":" + std::string(path) + " = " + literal(indicator.value) + "]";
}

// §2.9: UUIDv5 over the JCS (RFC 8785) form of the ID contributing
// properties. nlohmann's compact dump sorts keys and escapes as JCS does
// for the keys and strings written here.
std::string sco_id(const Sco& sco) {
  return sco.type + "--" + uuid_v5(kScoNamespace, sco.contributing.dump());
}

Tlp stricter(Tlp a, Tlp b) { return looser(a, b) ? b : a; }

// The sightings of one indicator at one site, summed.
struct SiteSightings {
  uint64_t first_ns = 0, last_ns = 0, count = 0;
  std::set<std::string> hosts, users, workloads;
};

void add(SiteSightings& sum, const Sighting& sighting) {
  if (sighting.first_ns != 0 && (sum.first_ns == 0 || sighting.first_ns < sum.first_ns)) {
    sum.first_ns = sighting.first_ns;
  }
  sum.last_ns = std::max({sum.last_ns, sighting.last_ns, sighting.first_ns});
  if (sum.first_ns == 0) sum.first_ns = sum.last_ns;
  sum.count = std::min(kMaxCount, sum.count + std::min(kMaxCount, sighting.count));
  if (!sighting.host.empty()) sum.hosts.insert(clean_text(sighting.host));
  if (!sighting.user.empty()) sum.users.insert(clean_text(sighting.user));
  if (!sighting.workload_id.empty()) {
    sum.workloads.insert(clean_text(sighting.workload_kind + " " + sighting.workload_id));
  }
}

std::string join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// "hosts: …; users: …; workloads: …", for a sighting's description when
// names_allowed().
std::string names_of(const SiteSightings& sum) {
  std::string out;
  const auto part = [&out](std::string_view label, const std::set<std::string>& items) {
    if (items.empty()) return;
    out += (out.empty() ? "" : "; ") + std::string(label) + ": " + join(items);
  };
  part("hosts", sum.hosts);
  part("users", sum.users);
  part("workloads", sum.workloads);
  return out;
}

class BundleBuilder {
 public:
  explicit BundleBuilder(const ExportRequest& request)
      : request_(request),
        incident_ns_(stix_uuid_of(request.incident.uuid)),
        identity_id_(identity_id(request.site)) {}

  json build() {
    const Incident& incident = request_.incident;
    add_identity(request_.site);
    const std::string incident_id = "incident--" + incident_ns_;
    json object = sdo("incident", incident_id, incident.created_ns, incident.tlp);
    object["name"] = clean_text(incident.id + ": " + incident.title);
    if (!incident.summary.empty()) object["description"] = clean_text(incident.summary);
    objects_.push_back(std::move(object));

    std::set<std::string> done;
    for (const LinkedIndicator& linked : request_.indicators) {
      const Indicator& indicator = linked.indicator;
      if (indicator.deleted || !may_receive(indicator.tlp, request_.clearance) ||
          !valid_utf8(indicator.value) || !done.insert(indicator.uuid).second) {
        continue;
      }
      add_indicator(linked, incident_id);
    }

    json bundle = {
        {"type", "bundle"},
        {"id", "bundle--" + uuid_v5(incident_ns_, "bundle:" + std::to_string(request_.now_ns))},
        {"objects", json::array()}};
    for (const Tlp tlp : markings_) bundle["objects"].push_back(tlp_marking_definition(tlp));
    for (auto& item : objects_) bundle["objects"].push_back(std::move(item));
    return bundle;
  }

 private:
  static std::string identity_id(const std::string& site) {
    return "identity--" + uuid_v5(kVigieNamespace, site);
  }

  std::string derived_id(std::string_view type, std::string_view name) const {
    return std::string(type) + "--" + uuid_v5(incident_ns_, name);
  }

  json marking(Tlp tlp) {
    markings_.insert(tlp);
    return json::array({tlp_marking_id(tlp)});
  }

  // The common properties of an SDO or SRO (§3.2): `modified` is the
  // export's time, never before `created`.
  json sdo(std::string_view type, const std::string& id, uint64_t created_ns, Tlp tlp) {
    if (created_ns == 0) created_ns = request_.incident.created_ns;
    if (created_ns == 0) created_ns = request_.now_ns;
    const uint64_t modified_ns = std::max(floor_ms(created_ns), floor_ms(request_.now_ns));
    return {{"type", type},
            {"spec_version", "2.1"},
            {"id", id},
            {"created_by_ref", identity_id_},
            {"created", timestamp(created_ns)},
            {"modified", timestamp(modified_ns)},
            {"object_marking_refs", marking(tlp)}};
  }

  std::string add_identity(const std::string& site) {
    std::string id = identity_id(site);
    if (!identities_.insert(id).second) return id;
    json object = sdo("identity", id, kIdentityCreatedNs, request_.incident.tlp);
    object["name"] = clean_text(site);
    object["identity_class"] = "organization";
    objects_.push_back(std::move(object));
    return id;
  }

  void add_indicator(const LinkedIndicator& linked, const std::string& incident_id) {
    const Indicator& indicator = linked.indicator;
    const std::string uuid = stix_uuid_of(indicator.uuid);
    const std::string id = "indicator--" + uuid;
    const Sco sco = sco_of(indicator);
    json object = sdo("indicator", id, indicator.created_ns, indicator.tlp);
    object["name"] = std::string(to_string(indicator.type)) + " " + indicator.value;
    if (!indicator.comment.empty()) object["description"] = clean_text(indicator.comment);
    object["indicator_types"] = {indicator.type == ObservableType::kUser ? "compromised"
                                                                         : "malicious-activity"};
    object["pattern"] = pattern_of(indicator, sco);
    object["pattern_type"] = "stix";
    object["pattern_version"] = "2.1";
    uint64_t valid_from_ns =
        indicator.first_seen_ns != 0 ? indicator.first_seen_ns : object_created_ns(indicator);
    if (indicator.valid_until_ns != 0) {
      // §4.7: valid_until MUST be later than valid_from.
      const uint64_t until_ns = floor_ms(indicator.valid_until_ns);
      if (until_ns <= floor_ms(valid_from_ns)) {
        valid_from_ns = until_ns - std::min<uint64_t>(until_ns, 1000000);
      }
      object["valid_until"] = timestamp(until_ns);
    }
    object["valid_from"] = timestamp(valid_from_ns);
    if (!indicator.tags.empty()) {
      object["labels"] = json::array();
      for (const auto& tag : indicator.tags) object["labels"].push_back(clean_text(tag));
    }
    objects_.push_back(std::move(object));

    // Whatever tells of this indicator in this incident carries the
    // stricter of the two TLPs.
    const Tlp tlp = stricter(indicator.tlp, request_.incident.tlp);
    json relation = sdo("relationship", derived_id("relationship", "related-to:" + uuid),
                        linked.linked_ns, tlp);
    relation["relationship_type"] = "related-to";
    relation["source_ref"] = incident_id;
    relation["target_ref"] = id;
    relation["description"] = "linked as " + std::string(to_string(linked.role));
    objects_.push_back(std::move(relation));
    add_sightings(linked, uuid, sco, tlp);
  }

  // Per site where the indicator (STIX id "indicator--<uuid>") was sighted:
  // a sighting, and the observed-data of its SCO (a user-account only when
  // names_allowed()).
  void add_sightings(const LinkedIndicator& linked, const std::string& uuid, const Sco& sco,
                     Tlp tlp) {
    const Indicator& indicator = linked.indicator;
    const std::string id = "indicator--" + uuid;
    std::map<std::string, SiteSightings> by_site;
    for (const Sighting& sighting : request_.sightings) {
      if (sighting.indicator_uuid == indicator.uuid) add(by_site[sighting.site], sighting);
    }
    const bool names = names_allowed(request_);
    const bool observable = indicator.type != ObservableType::kUser || names;
    for (const auto& [site, sum] : by_site) {
      const std::string where = add_identity(site);
      json sighting = sdo("sighting", derived_id("sighting", "sighting:" + uuid + ":" + site),
                          linked.linked_ns, tlp);
      sighting["sighting_of_ref"] = id;
      sighting["count"] = sum.count;
      if (sum.first_ns != 0) {
        sighting["first_seen"] = timestamp(sum.first_ns);
        sighting["last_seen"] = timestamp(sum.last_ns);
      }
      sighting["where_sighted_refs"] = json::array({where});
      if (names && !names_of(sum).empty()) sighting["description"] = names_of(sum);
      if (observable && sum.first_ns != 0) {
        const std::string observed_id =
            derived_id("observed-data", "observed-data:" + uuid + ":" + site);
        json observed = sdo("observed-data", observed_id, linked.linked_ns, tlp);
        observed["first_observed"] = timestamp(sum.first_ns);
        observed["last_observed"] = timestamp(sum.last_ns);
        observed["number_observed"] = std::max<uint64_t>(1, sum.count);
        observed["object_refs"] = json::array({add_sco(sco, tlp)});
        objects_.push_back(std::move(observed));
        sighting["observed_data_refs"] = json::array({observed_id});
      }
      objects_.push_back(std::move(sighting));
    }
  }

  uint64_t object_created_ns(const Indicator& indicator) const {
    if (indicator.created_ns != 0) return indicator.created_ns;
    return request_.incident.created_ns != 0 ? request_.incident.created_ns : request_.now_ns;
  }

  // The SCO once per bundle, marked with the strictest TLP it is used under.
  std::string add_sco(const Sco& sco, Tlp tlp) {
    std::string id = sco_id(sco);
    const auto found = scos_.find(id);
    if (found != scos_.end()) {
      auto& [index, was] = found->second;
      if (looser(was, tlp)) {
        was = tlp;
        objects_[index]["object_marking_refs"] = marking(tlp);
      }
      return id;
    }
    json object = {{"type", sco.type}, {"spec_version", "2.1"}, {"id", id}};
    object.update(sco.contributing);
    object["object_marking_refs"] = marking(tlp);
    scos_.emplace(id, std::pair{objects_.size(), tlp});
    objects_.push_back(std::move(object));
    return id;
  }

  const ExportRequest& request_;
  std::string incident_ns_;  // the namespace of the ids derived from the incident
  std::string identity_id_;  // the exporting site's
  std::vector<json> objects_;
  std::set<Tlp> markings_;
  std::set<std::string> identities_;
  std::map<std::string, std::pair<std::size_t, Tlp>> scos_;  // id → index in objects_, TLP
};

}  // namespace

protocol::Result<json> export_stix(const ExportRequest& request) {
  if (!may_receive(request.incident.tlp, request.clearance)) {
    return protocol::fail("incident " + request.incident.id +
                          " is TLP:" + std::string(to_string(request.incident.tlp)) +
                          ", stricter than the destination's clearance TLP:" +
                          std::string(to_string(request.clearance)));
  }
  return BundleBuilder(request).build();
}

}  // namespace vigie::csirt
