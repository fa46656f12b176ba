#include "vigie/csirt/misp.h"

#include <nlohmann/json.hpp>

#include "vigie/csirt/json.h"

namespace vigie::csirt {

using nlohmann::json;
using protocol::fail;

namespace {

constexpr std::size_t kMaxAttributes = 100'000;

// The TLP among `tags` (MISP tag objects {"name": "tlp:amber"}), and the
// other tag names appended to `names`.
std::optional<Tlp> read_tags(const json& object, std::vector<std::string>& names) {
  std::optional<Tlp> tlp;
  const auto tags = object.find("Tag");
  if (tags == object.end() || !tags->is_array()) return tlp;
  for (const json& tag : *tags) {
    if (!tag.is_object() || !tag.contains("name") || !tag["name"].is_string()) continue;
    const std::string name = tag["name"];
    if (name.rfind("tlp:", 0) == 0 || name.rfind("TLP:", 0) == 0) {
      // MISP's tlp taxonomy still has TLP 1.0's white, which TLP 2.0's CLEAR replaces.
      if (name.size() == 9 && (name.substr(4) == "white" || name.substr(4) == "WHITE")) {
        tlp = Tlp::kClear;
        continue;
      }
      if (auto parsed = parse_tlp(name)) {
        tlp = *parsed;
        continue;
      }
    }
    if (name.size() <= kMaxShortBytes) names.push_back(name);
  }
  return tlp;
}

bool flag(const json& attribute, const char* key, bool fallback) {
  const auto it = attribute.find(key);
  if (it == attribute.end()) return fallback;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string()) return *it == "1" || *it == "true";  // older exports quote booleans
  if (it->is_number_integer()) return it->get<int>() != 0;
  return fallback;
}

class EventReader {
 public:
  EventReader(MispImport& out, Tlp fallback) : out_(out), fallback_(fallback) {}

  protocol::Result<void> event(const json& event) {
    if (!event.is_object()) return fail("a MISP event must be an object");
    std::vector<std::string> event_tags;
    const Tlp tlp = read_tags(event, event_tags).value_or(fallback_);
    const std::string source =
        "misp:" + (event.contains("uuid") && event["uuid"].is_string()
                       ? event["uuid"].get<std::string>()
                       : std::string("unknown"));
    auto attributes = [&](const json& holder) -> protocol::Result<void> {
      const auto list = holder.find("Attribute");
      if (list == holder.end() || !list->is_array()) return {};
      for (const json& attribute : *list) {
        if (++seen_ > kMaxAttributes)
          return fail("more than " + std::to_string(kMaxAttributes) + " attributes");
        read_attribute(attribute, tlp, source, event_tags);
      }
      return {};
    };
    if (auto r = attributes(event); !r) return r;
    if (const auto objects = event.find("Object"); objects != event.end() && objects->is_array()) {
      for (const json& object : *objects) {
        if (!object.is_object()) continue;
        if (auto r = attributes(object); !r) return r;
      }
    }
    return {};
  }

 private:
  void read_attribute(const json& a, Tlp event_tlp, const std::string& source,
                      const std::vector<std::string>& event_tags) {
    if (!a.is_object() || !a.contains("type") || !a.contains("value") || !a["type"].is_string() ||
        !a["value"].is_string()) {
      out_.problems.push_back("an attribute without a string type and value");
      return;
    }
    const std::string type = a["type"], value = a["value"];
    // Composite "filename|sha256": one indicator per part.
    std::vector<std::pair<std::string, std::string>> parts;
    if (type == "filename|sha256" && value.find('|') != std::string::npos) {
      parts = {{"filename", value.substr(0, value.find('|'))},
               {"sha256", value.substr(value.find('|') + 1)}};
    } else {
      parts = {{type, value}};
    }
    for (const auto& [part_type, part_value] : parts) {
      const auto observable = parse_observable_type(part_type);
      if (!observable) {
        ++out_.skipped;
        continue;
      }
      auto normalised = normalise(*observable, part_value);
      if (!normalised) {
        out_.problems.push_back(part_type + " '" + part_value + "': " + normalised.error());
        continue;
      }
      Indicator i;
      i.type = *observable;
      i.value = std::move(*normalised);
      i.to_ids = flag(a, "to_ids", true);
      i.deleted = flag(a, "deleted", false);
      i.tags = event_tags;
      i.tlp = read_tags(a, i.tags).value_or(event_tlp);
      i.source = source;
      if (a.contains("comment") && a["comment"].is_string()) {
        i.comment = a["comment"];
        if (i.comment.size() > kMaxTextBytes) i.comment.resize(kMaxTextBytes);
      }
      out_.indicators.push_back(std::move(i));
    }
  }

  MispImport& out_;
  const Tlp fallback_;
  std::size_t seen_ = 0;
};

}  // namespace

protocol::Result<MispImport> indicators_from_misp(std::string_view body, Tlp fallback) {
  if (body.size() > kMaxBodyBytes)
    return fail("the body exceeds " + std::to_string(kMaxBodyBytes) + " bytes");
  const json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return fail("the body is not JSON");
  MispImport out;
  EventReader reader(out, fallback);
  auto one = [&reader](const json& item) -> protocol::Result<void> {
    if (item.is_object() && item.contains("Event")) return reader.event(item["Event"]);
    if (item.is_object() && (item.contains("Attribute") || item.contains("Object")))
      return reader.event(item);
    return fail("not a MISP event: expected {\"Event\": {...}} or an event");
  };
  if (parsed.is_array()) {
    for (const json& item : parsed) {
      if (auto r = one(item); !r) return fail(r.error());
    }
  } else if (auto r = one(parsed); !r) {
    return fail(r.error());
  }
  return out;
}

}  // namespace vigie::csirt
