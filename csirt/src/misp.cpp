#include "vigie/csirt/misp.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "text.h"
#include "vigie/csirt/json.h"

namespace vigie::csirt {

using text::is_uuid;
using text::lower;

using nlohmann::json;
using protocol::fail;

namespace {

constexpr std::size_t kMaxAttributes = 100'000;

// MISP writes times as decimal-second strings; some tools as numbers.
std::optional<uint64_t> seconds(const json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (!value.is_string()) return std::nullopt;
  const std::string& text = value.get_ref<const std::string&>();
  uint64_t out = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return out;
}

uint64_t to_ns(uint64_t s) { return s > UINT64_MAX / 1'000'000'000 ? 0 : s * 1'000'000'000; }

// A MISP boolean: JSON true/false, or "0"/"1" as older PHP exports wrote them.
// Nothing when present with any other value.
std::optional<bool> boolean(const json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (value == "1" || value == 1) return true;
  if (value == "0" || value == 0) return false;
  return std::nullopt;
}

// Why `object`'s Tag list is malformed, if it is; its TLP, and the other tag
// names appended to `names`.
std::optional<std::string> read_tags(const json& object, std::optional<Tlp>& tlp,
                                     std::vector<std::string>& names) {
  const auto tags = object.find("Tag");
  if (tags == object.end() || tags->is_null()) return std::nullopt;
  if (!tags->is_array()) return "'Tag' is not a list";
  for (const json& tag : *tags) {
    if (!tag.is_object() || !tag.contains("name") || !tag["name"].is_string())
      return "a tag without a string 'name'";
    const std::string& name = tag["name"].get_ref<const std::string&>();
    // MISP's tlp taxonomy still has TLP 1.0's white, which TLP 2.0's CLEAR replaces.
    if (lower(name) == "tlp:white") {
      tlp = Tlp::kClear;
      continue;
    }
    if (lower(name).rfind("tlp:", 0) == 0) {
      if (auto parsed = parse_tlp(name)) {
        tlp = parsed;
        continue;
      }
    }
    if (name.size() <= kMaxShortBytes) names.push_back(name);
  }
  return std::nullopt;
}

class EventReader {
 public:
  EventReader(ExchangeImport& out, Tlp fallback) : out_(out), fallback_(fallback) {}

  protocol::Result<void> event(const json& event) {
    if (!event.is_object()) return fail("a MISP event must be an object");
    std::string uuid = "unknown";
    if (const auto it = event.find("uuid"); it != event.end()) {
      if (!it->is_string() || !is_uuid(it->get_ref<const std::string&>())) {
        out_.invalid.push_back("an event whose 'uuid' is not a UUID: skipped whole");
        return {};
      }
      uuid = lower(*it);
    }
    const std::string label = "event " + uuid;
    std::optional<Tlp> tlp;
    std::vector<std::string> tags;
    if (auto problem = read_tags(event, tlp, tags)) {
      out_.invalid.push_back(label + ": " + *problem + ": skipped whole");
      return {};
    }
    if (const auto it = event.find("timestamp"); it != event.end() && uuid != "unknown") {
      const auto stamp = seconds(*it);
      if (!stamp) {
        out_.invalid.push_back(label + ": 'timestamp' is not decimal seconds: skipped whole");
        return {};
      }
      out_.events.push_back({uuid, *stamp});
    }
    const EventContext context{tlp.value_or(fallback_), "misp:" + uuid, std::move(tags), label};
    if (auto r = attributes(event, context); !r) return r;
    if (const auto objects = event.find("Object"); objects != event.end() && !objects->is_null()) {
      if (!objects->is_array()) {
        out_.invalid.push_back(label + ": 'Object' is not a list");
        return {};
      }
      for (const json& object : *objects) {
        if (!object.is_object()) {
          out_.invalid.push_back(label + ": an object that is not a JSON object");
          continue;
        }
        if (auto r = attributes(object, context); !r) return r;
      }
    }
    // Event-level sightings (MISP core format §2.6) name the attribute by uuid.
    if (const auto list = event.find("Sighting"); list != event.end() && list->is_array()) {
      for (const json& s : *list) read_sighting(s, "");
    }
    return {};
  }

 private:
  struct EventContext {
    Tlp tlp;
    std::string source;
    std::vector<std::string> tags;
    std::string label;
  };

  protocol::Result<void> attributes(const json& holder, const EventContext& event) {
    const auto list = holder.find("Attribute");
    if (list == holder.end() || list->is_null()) return {};
    if (!list->is_array()) {
      out_.invalid.push_back(event.label + ": 'Attribute' is not a list");
      return {};
    }
    for (const json& attribute : *list) {
      if (++seen_ > kMaxAttributes)
        return fail("more than " + std::to_string(kMaxAttributes) + " attributes");
      if (auto problem = read_attribute(attribute, event))
        out_.invalid.push_back(event.label + ": " + *problem);
    }
    return {};
  }

  // Why the attribute is invalid, if it is.
  std::optional<std::string> read_attribute(const json& a, const EventContext& event) {
    if (!a.is_object()) return "an attribute that is not an object";
    if (!a.contains("type") || !a["type"].is_string())
      return "an attribute without a string 'type'";
    if (!a.contains("value") || !a["value"].is_string())
      return "an attribute without a string 'value'";
    const std::string type = a["type"], value = a["value"];
    const std::string what = type + " '" + value.substr(0, 80) + "'";
    std::string uuid;
    if (const auto it = a.find("uuid"); it != a.end()) {
      if (!it->is_string() || !is_uuid(it->get_ref<const std::string&>()))
        return what + ": 'uuid' is not a UUID";
      uuid = lower(*it);
    }
    bool to_ids = true, deleted = false;
    if (const auto it = a.find("to_ids"); it != a.end()) {
      const auto flag = boolean(*it);
      if (!flag) return what + ": 'to_ids' is not a boolean";
      to_ids = *flag;
    }
    if (const auto it = a.find("deleted"); it != a.end() && !it->is_null()) {
      const auto flag = boolean(*it);
      if (!flag) return what + ": 'deleted' is not a boolean";
      deleted = *flag;
    }
    std::string comment;
    if (const auto it = a.find("comment"); it != a.end() && !it->is_null()) {
      if (!it->is_string()) return what + ": 'comment' is not a string";
      comment = it->get<std::string>().substr(0, kMaxTextBytes);
    }
    std::optional<Tlp> own_tlp;
    std::vector<std::string> tags = event.tags;
    if (auto problem = read_tags(a, own_tlp, tags)) return what + ": " + *problem;
    const Tlp tlp = own_tlp.value_or(event.tlp);

    // Composite "filename|sha256": one indicator per part.
    std::vector<std::pair<std::string, std::string>> parts;
    if (type == "filename|sha256") {
      const auto bar = value.find('|');
      if (bar == std::string::npos) return what + ": a filename|sha256 without '|'";
      parts = {{"filename", value.substr(0, bar)}, {"sha256", value.substr(bar + 1)}};
    } else {
      parts = {{type, value}};
    }
    std::vector<Indicator> found;
    for (const auto& [part_type, part_value] : parts) {
      const auto observable = parse_observable_type(part_type);
      if (!observable) continue;
      auto normalised = normalise(*observable, part_value);
      if (!normalised) return what + ": " + normalised.error();
      Indicator i;
      i.uuid = found.empty() || uuid.empty() ? uuid : uuid_v5(uuid, part_type);
      i.type = *observable;
      i.value = std::move(*normalised);
      i.to_ids = to_ids;
      i.deleted = deleted;
      i.tlp = tlp;
      i.source = event.source;
      i.tags = tags;
      i.comment = comment;
      found.push_back(std::move(i));
    }
    if (deleted) {
      ++out_.counts.revoked;  // a revoked unsupported one has nothing to revoke
    } else if (!to_ids) {
      ++out_.counts.skipped;
    } else if (found.empty()) {
      ++out_.counts.unsupported;
    }
    if (found.empty() && !deleted) {
      out_.context.push_back({type, value.substr(0, kMaxTextBytes), tlp, event.source, comment});
    }
    for (auto& i : found) out_.indicators.push_back(std::move(i));
    // Attribute-level sightings: this attribute's.
    if (const auto list = a.find("Sighting"); list != a.end() && list->is_array()) {
      for (const json& s : *list) read_sighting(s, uuid);
    }
    return std::nullopt;
  }

  // A sighting of type "0" (seen; "1" false positive, "2" expiration are not sightings).
  void read_sighting(const json& s, const std::string& attribute_uuid) {
    if (!s.is_object()) return;
    if (const auto type = s.find("type"); type != s.end() && *type != "0" && *type != 0) return;
    std::string uuid = attribute_uuid;
    for (const char* key : {"attribute_uuid", "uuid"}) {
      if (!uuid.empty()) break;
      if (const auto it = s.find(key);
          it != s.end() && it->is_string() && is_uuid(it->get_ref<const std::string&>()))
        uuid = lower(*it);
    }
    const auto when = s.contains("date_sighting") ? seconds(s["date_sighting"]) : std::nullopt;
    if (uuid.empty() || !when) {
      out_.invalid.push_back("a sighting without an attribute uuid and a date_sighting");
      return;
    }
    ExchangeSighting sighting;
    sighting.indicator_uuid = uuid;
    sighting.first_ns = sighting.last_ns = to_ns(*when);
    if (const auto org = s.find("Organisation");
        org != s.end() && org->is_object() && org->contains("name") && (*org)["name"].is_string())
      sighting.where = (*org)["name"];
    if (const auto source = s.find("source");
        source != s.end() && source->is_string() && !source->get_ref<const std::string&>().empty())
      sighting.where = *source;
    sighting.where.resize(std::min(sighting.where.size(), kMaxShortBytes));
    out_.sightings.push_back(std::move(sighting));
  }

  ExchangeImport& out_;
  const Tlp fallback_;
  std::size_t seen_ = 0;
};

}  // namespace

protocol::Result<ExchangeImport> import_misp(std::string_view body, Tlp fallback) {
  if (body.size() > kMaxBodyBytes)
    return fail("the body exceeds " + std::to_string(kMaxBodyBytes) + " bytes");
  const json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return fail("the body is not JSON");
  ExchangeImport out;
  out.format = "misp";
  EventReader reader(out, fallback);
  std::size_t events = 0;
  auto one = [&](const json& item) -> protocol::Result<void> {
    ++events;
    if (item.is_object() && item.contains("Event")) return reader.event(item["Event"]);
    if (item.is_object() && (item.contains("Attribute") || item.contains("Object")))
      return reader.event(item);
    return fail("not a MISP event: expected {\"Event\": {...}} or an event");
  };
  const json* list = &parsed;
  if (parsed.is_object() && parsed.contains("response")) list = &parsed["response"];
  if (list->is_array()) {
    for (const json& item : *list) {
      if (auto r = one(item); !r) return fail(r.error());
    }
  } else if (auto r = one(*list); !r) {
    return fail(r.error());
  }
  if (events == 0) return fail("no MISP event in the body");
  out.counts.invalid = out.invalid.size();
  return out;
}

}  // namespace vigie::csirt
