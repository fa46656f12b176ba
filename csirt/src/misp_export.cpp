// MISP export of an incident and the MISP feed layout (misp.h). Section
// numbers are those of draft-dulaunoy-misp-core-format-20
// (../shared/corpus/csirt/misp/spec/misp-core-format.md).
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "text.h"
#include "vigie/csirt/json.h"
#include "vigie/csirt/misp.h"

namespace vigie::csirt {

using text::clean_text;
using text::is_uuid;
using text::lower;
using text::valid_utf8;

using nlohmann::json;
using protocol::fail;

namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;
constexpr std::size_t kMaxManifestEntries = 100'000;
constexpr std::size_t kMaxInfoBytes = 256;  // §Event info: SHOULD NOT be bigger than 256 characters
// The namespace of the site's Org uuid (uuid_v5 of the site name): STIX 2.1
// §2.9's, so that the site's MISP Org and its STIX identity can share one.
constexpr std::string_view kSiteNamespace = "00abedb4-aa42-466c-9c01-fed23315a9b7";

// §Event timestamp and the others: seconds since the Unix epoch, decimal, in a JSON string.
std::string seconds(uint64_t ns) { return std::to_string(ns / kNsPerSecond); }

std::tm utc(uint64_t ns) {
  const auto time = static_cast<std::time_t>(ns / kNsPerSecond);
  std::tm out{};
  gmtime_r(&time, &out);
  return out;
}

// §Event date: "YYYY-MM-DD" (UTC).
std::string utc_day(uint64_t ns) {
  const std::tm t = utc(ns);
  std::array<char, 16> out{};
  std::strftime(out.data(), out.size(), "%Y-%m-%d", &t);
  return out.data();
}

// §Attribute first_seen, last_seen: ISO 8601 to the microsecond, with its zone.
std::string iso8601(uint64_t ns) {
  const std::tm t = utc(ns);
  std::array<char, 32> date{};
  std::strftime(date.data(), date.size(), "%Y-%m-%dT%H:%M:%S", &t);
  std::array<char, 48> out{};
  std::snprintf(out.data(), out.size(), "%s.%06llu+00:00", date.data(),
                static_cast<unsigned long long>(ns % kNsPerSecond / 1000));
  return out.data();
}

// §Attribute type and category: each pair is in the draft's category-type table.
std::pair<std::string_view, std::string_view> misp_type(ObservableType type) {
  switch (type) {
    case ObservableType::kIp:
      return {"ip-dst", "Network activity"};
    case ObservableType::kDomain:
      return {"domain", "Network activity"};
    case ObservableType::kSha256:
      return {"sha256", "Payload delivery"};
    case ObservableType::kFileName:
      return {"filename", "Payload delivery"};
    case ObservableType::kUser:
      return {"target-user", "Targeting data"};
  }
  return {"other", "Other"};
}

// §Event/§Attribute distribution: "0" your organisation only, "2" connected
// communities, "3" all communities.
std::string_view distribution(Tlp tlp) {
  if (tlp == Tlp::kClear) return "3";
  if (tlp == Tlp::kGreen) return "2";
  return "0";
}

// §Tag: name, colour, id and exportable; the colours of MISP's tlp taxonomy.
json tlp_tag(Tlp tlp) {
  std::string_view colour = "#FFC000";  // amber, amber+strict
  if (tlp == Tlp::kRed) colour = "#CC0033";
  if (tlp == Tlp::kGreen) colour = "#339900";
  if (tlp == Tlp::kClear) colour = "#ffffff";
  return {{"id", "0"},
          {"name", "tlp:" + std::string(to_string(tlp))},
          {"colour", colour},
          {"exportable", true}};
}

// §Event Org and Orgc: uuid, name and id.
json organisation(std::string_view site) {
  return {{"id", "0"},
          {"name", clean_text(site, kMaxShortBytes, true)},
          {"uuid", uuid_v5(kSiteNamespace, site)}};
}

std::string_view threat_level(Severity severity) {
  switch (severity) {
    case Severity::kCritical:
    case Severity::kHigh:
      return "1";
    case Severity::kMedium:
      return "2";
    case Severity::kLow:
      return "3";
  }
  return "4";  // undefined
}

// Sightings aggregated by (indicator uuid, source): the last time seen.
using SightingKey = std::pair<std::string, std::string>;

std::map<SightingKey, uint64_t> aggregate_sightings(const ExportRequest& request,
                                                    const std::set<std::string>& exported) {
  const bool names = names_allowed(request);
  std::map<SightingKey, uint64_t> out;
  for (const Sighting& s : request.sightings) {
    const std::string uuid = lower(s.indicator_uuid);
    if (!exported.count(uuid)) continue;
    const uint64_t last_ns = std::max(s.first_ns, s.last_ns);
    if (last_ns == 0) continue;  // date_sighting MUST be present: no time, no sighting
    std::string source = s.site.empty() ? request.site : s.site;
    if (names) source += "/" + s.host + "/" + s.user + "/" + s.workload_id;
    uint64_t& last = out[{uuid, clean_text(source, kMaxTextBytes, true)}];
    last = std::max(last, last_ns);
  }
  return out;
}

json attribute(const Indicator& indicator, const std::string& uuid, uint64_t now_ns) {
  const auto [type, category] = misp_type(indicator.type);
  // The attribute changed when the indicator did; never after the event.
  uint64_t changed_ns = std::max(indicator.updated_ns, indicator.created_ns);
  if (changed_ns == 0 || changed_ns > now_ns) changed_ns = now_ns;
  json out = {{"uuid", uuid},
              {"id", "0"},
              {"type", type},
              {"category", category},
              {"to_ids", indicator.to_ids},
              {"event_id", "0"},
              {"object_id", "0"},
              {"distribution", distribution(indicator.tlp)},
              {"sharing_group_id", "0"},
              {"timestamp", seconds(changed_ns)},
              {"comment", clean_text(indicator.comment, kMaxTextBytes, false)},
              {"deleted", false},
              {"disable_correlation", false},
              {"value", indicator.value},
              {"Tag", json::array({tlp_tag(indicator.tlp)})}};
  if (indicator.first_seen_ns != 0) out["first_seen"] = iso8601(indicator.first_seen_ns);
  if (indicator.last_seen_ns != 0 && indicator.last_seen_ns >= indicator.first_seen_ns)
    out["last_seen"] = iso8601(indicator.last_seen_ns);
  return out;
}

// A manifest's timestamp: an unsigned JSON integer or a string of decimal digits.
std::optional<uint64_t> manifest_seconds(const json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer()) {
    const auto n = value.get<int64_t>();
    return n < 0 ? std::nullopt : std::optional<uint64_t>(static_cast<uint64_t>(n));
  }
  if (!value.is_string()) return std::nullopt;
  const auto& text = value.get_ref<const std::string&>();
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  uint64_t out = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return out;
}

// The event object of {"Event": {...}} or of a bare event; null when neither.
const json* event_of(const json& document) {
  if (!document.is_object()) return nullptr;
  const auto inner = document.find("Event");
  if (inner != document.end()) return inner->is_object() ? &*inner : nullptr;
  return &document;
}

std::string md5_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_md5(), nullptr) != 1)
    return {};
  std::string out;
  out.reserve(2 * size);
  constexpr std::string_view kHex = "0123456789abcdef";
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0x0f];
  }
  return out;
}

// hashes.csv lines of the attributes of `holder` (an event or an object).
void hash_attributes(const json& holder, const std::string& event_uuid, std::string& out) {
  const auto list = holder.find("Attribute");
  if (list == holder.end() || !list->is_array()) return;
  for (const json& a : *list) {
    if (!a.is_object()) continue;
    const auto type = a.find("type");
    const auto value = a.find("value");
    if (type == a.end() || value == a.end() || !type->is_string() || !value->is_string()) continue;
    const auto& text = value->get_ref<const std::string&>();
    // A composite type ("filename|sha256", "ip-dst|port") is hashed part by part.
    const bool composite = type->get_ref<const std::string&>().find('|') != std::string::npos ||
                           *type == "malware-sample";
    std::size_t start = 0;
    while (true) {
      const std::size_t bar = composite ? text.find('|', start) : std::string::npos;
      const std::string hash = md5_hex(
          std::string_view(text).substr(start, bar == std::string::npos ? bar : bar - start));
      if (!hash.empty()) out += hash + "," + event_uuid + "\n";
      if (bar == std::string::npos) break;
      start = bar + 1;
    }
  }
}

}  // namespace

protocol::Result<nlohmann::json> export_misp(const ExportRequest& request) {
  const Incident& incident = request.incident;
  if (!may_receive(incident.tlp, request.clearance)) {
    return fail("incident " + incident.id + " is TLP:" + std::string(to_string(incident.tlp)) +
                ", stricter than the destination's clearance TLP:" +
                std::string(to_string(request.clearance)));
  }
  if (!is_uuid(incident.uuid)) return fail("incident " + incident.id + " has no valid uuid");
  const std::string event_uuid = lower(incident.uuid);
  const uint64_t now_ns = request.now_ns;

  json attributes = json::array();
  std::set<std::string> exported;
  std::vector<std::pair<const Indicator*, std::string>> kept;
  for (const LinkedIndicator& linked : request.indicators) {
    const Indicator& i = linked.indicator;
    if (i.deleted || !may_receive(i.tlp, request.clearance) || !valid_utf8(i.value)) continue;
    // Attribute uuid MUST be present: a stored indicator has one; otherwise a stable one.
    const std::string uuid =
        is_uuid(i.uuid) ? lower(i.uuid)
                        : uuid_v5(event_uuid, std::string(to_string(i.type)) + ":" + i.value);
    if (!exported.insert(uuid).second) continue;
    kept.emplace_back(&i, uuid);
  }
  const auto sightings = aggregate_sightings(request, exported);
  for (const auto& [indicator, uuid] : kept) {
    json a = attribute(*indicator, uuid, now_ns);
    json list = json::array();
    for (auto it = sightings.lower_bound({uuid, ""});
         it != sightings.end() && it->first.first == uuid; ++it) {
      // §Sighting: uuid names the sighted attribute; MISP has no count.
      list.push_back({{"uuid", uuid},
                      {"type", "0"},
                      {"date_sighting", seconds(it->second)},
                      {"source", it->first.second}});
    }
    if (!list.empty()) a["Sighting"] = std::move(list);
    attributes.push_back(std::move(a));
  }

  uint64_t day_ns = incident.times.discovered_ns;
  if (day_ns == 0) day_ns = incident.created_ns != 0 ? incident.created_ns : now_ns;
  const bool complete = incident.state == State::kResolved || !is_open(incident.state);
  const std::string site =
      request.site.empty() && !incident.sites.empty() ? incident.sites.front() : request.site;
  json event = {
      {"uuid", event_uuid},
      {"id", "0"},
      {"info", clean_text(incident.id + ": " + incident.title, kMaxInfoBytes, true)},
      {"date", utc_day(day_ns)},
      {"timestamp", seconds(now_ns)},
      {"published", false},
      {"publish_timestamp", "0"},
      {"first_publication", "0"},
      {"analysis", complete ? "2" : "1"},
      {"threat_level_id", threat_level(incident.severity)},
      {"distribution", distribution(incident.tlp)},
      {"sharing_group_id", "0"},
      {"org_id", "0"},
      {"orgc_id", "0"},
      {"attribute_count", std::to_string(attributes.size())},
      {"extends_uuid", ""},
      {"locked", false},
      {"proposal_email_lock", false},
      {"disable_correlation", false},
      {"Org", organisation(site)},
      {"Orgc", organisation(site)},
      {"Tag", json::array({tlp_tag(incident.tlp)})},
      {"Attribute", std::move(attributes)},
  };
  return json{{"Event", std::move(event)}};
}

protocol::Result<std::vector<MispFeedEntry>> parse_misp_manifest(std::string_view body) {
  if (body.size() > kMaxBodyBytes)
    return fail("the manifest exceeds " + std::to_string(kMaxBodyBytes) + " bytes");
  const json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return fail("the manifest is not JSON");
  if (!parsed.is_object()) return fail("the manifest is not a JSON object keyed by event uuid");
  if (parsed.size() > kMaxManifestEntries)
    return fail("the manifest has more than " + std::to_string(kMaxManifestEntries) + " entries");
  std::vector<MispFeedEntry> out;
  out.reserve(parsed.size());
  for (const auto& [key, value] : parsed.items()) {
    const std::string name = "manifest entry " + json(clean_text(key, 64, true)).dump();
    if (!is_uuid(key)) return fail(name + ": the key is not a UUID");
    if (!value.is_object()) return fail(name + ": not an object");
    const auto timestamp = value.find("timestamp");
    if (timestamp == value.end()) return fail(name + ": no timestamp");
    const auto seconds = manifest_seconds(*timestamp);
    if (!seconds) return fail(name + ": the timestamp is not a number of seconds");
    MispFeedEntry entry{lower(key), "", *seconds};
    if (const auto info = value.find("info"); info != value.end()) {
      if (!info->is_string()) return fail(name + ": info is not a string");
      entry.info = info->get<std::string>();
    }
    out.push_back(std::move(entry));
  }
  std::sort(out.begin(), out.end(),
            [](const MispFeedEntry& a, const MispFeedEntry& b) { return a.uuid < b.uuid; });
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].uuid == out[i - 1].uuid)
      return fail("manifest entry \"" + out[i].uuid + "\": listed twice");
  }
  return out;
}

std::vector<std::string> events_to_fetch(const std::vector<MispFeedEntry>& manifest,
                                         const std::vector<EventStamp>& known) {
  std::map<std::string, uint64_t> seen;
  for (const EventStamp& stamp : known) seen[lower(stamp.uuid)] = stamp.timestamp;
  std::vector<std::string> out;
  for (const MispFeedEntry& entry : manifest) {
    const auto it = seen.find(lower(entry.uuid));
    if (it == seen.end() || it->second != entry.timestamp) out.push_back(entry.uuid);
  }
  return out;
}

nlohmann::json misp_manifest(const std::vector<nlohmann::json>& events) {
  json out = json::object();
  for (const json& document : events) {
    const json* event = event_of(document);
    if (event == nullptr) continue;
    const auto uuid = event->find("uuid");
    if (uuid == event->end() || !uuid->is_string() || !is_uuid(uuid->get_ref<const std::string&>()))
      continue;
    // The draft's "# Manifest" fields, as the event has them.
    json entry = json::object();
    for (const char* key : {"info", "Orgc", "analysis", "timestamp", "date", "threat_level_id"}) {
      if (const auto it = event->find(key); it != event->end()) entry[key] = *it;
    }
    json tags = json::array();
    if (const auto list = event->find("Tag"); list != event->end() && list->is_array()) {
      for (const json& tag : *list) {
        if (!tag.is_object() || !tag.contains("name") || !tag["name"].is_string()) continue;
        json kept = {{"name", tag["name"]}};
        if (tag.contains("colour")) kept["colour"] = tag["colour"];
        tags.push_back(std::move(kept));
      }
    }
    entry["Tag"] = std::move(tags);
    out[uuid->get<std::string>()] = std::move(entry);
  }
  return out;
}

std::string misp_hashes_csv(const std::vector<nlohmann::json>& events) {
  std::string out;
  for (const json& document : events) {
    const json* event = event_of(document);
    if (event == nullptr) continue;
    const auto uuid = event->find("uuid");
    if (uuid == event->end() || !uuid->is_string() || !is_uuid(uuid->get_ref<const std::string&>()))
      continue;
    const auto& event_uuid = uuid->get_ref<const std::string&>();
    hash_attributes(*event, event_uuid, out);
    if (const auto objects = event->find("Object");
        objects != event->end() && objects->is_array()) {
      for (const json& object : *objects) {
        if (object.is_object()) hash_attributes(object, event_uuid, out);
      }
    }
  }
  return out;
}

}  // namespace vigie::csirt
