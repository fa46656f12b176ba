// STIX 2.1 in (stix.h): the TLP marking-definitions, the pattern subset the
// engine matches, and bundles read into the IOC store's terms. The export is
// stix_export.cpp.
#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text.h"
#include "vigie/csirt/json.h"
#include "vigie/csirt/stix.h"

namespace vigie::csirt {

using text::is_uuid;
using text::truncate_utf8;

using nlohmann::json;
using protocol::fail;

namespace {

constexpr std::size_t kMaxObjects = 100'000;
// The refusal of a bundle lists this many reasons, then counts the others.
constexpr std::size_t kMaxReasonsListed = 20;
// Brackets and parentheses nested deeper than this are refused (the parser recurses).
constexpr int kMaxPatternDepth = 32;
constexpr std::size_t kUuidChars = 36;

// The ids of the TLP 2.0 marking-definitions OASIS publishes
// (oasis-open/cti-stix-common-objects; ../shared/corpus/csirt/tlp2/, README).
// The five objects differ only in id, name and level (tlp_marking_definition).
constexpr std::array<std::pair<Tlp, std::string_view>, 5> kTlp2Markings{{
    {Tlp::kClear, "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"},
    {Tlp::kGreen, "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"},
    {Tlp::kAmber, "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"},
    {Tlp::kAmberStrict, "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"},
    {Tlp::kRed, "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"},
}};
constexpr std::string_view kTlp2Extension =
    "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

// The TLP 1.0 marking-definitions STIX 2.1 predefines (§7.2.1.4; the
// tlp_white … tlp_red definitions of schemas/common/marking-definition.json).
// TLP 2.0 renamed WHITE to CLEAR.
constexpr std::array<std::pair<std::string_view, Tlp>, 4> kTlp1Markings{{
    {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", Tlp::kClear},
    {"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", Tlp::kGreen},
    {"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", Tlp::kAmber},
    {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", Tlp::kRed},
}};

// The STIX Domain and Relationship Objects of STIX 2.1 (§4, §5), and the
// meta objects with the same common properties (§7.1 language-content,
// §7.3 extension-definition): spec_version, created and modified required.
// clang-format off
constexpr std::array<std::string_view, 23> kSdoSroTypes{
    "attack-pattern", "campaign", "course-of-action", "grouping", "identity", "incident",
    "indicator", "infrastructure", "intrusion-set", "location", "malware", "malware-analysis",
    "note", "observed-data", "opinion", "report", "threat-actor", "tool", "vulnerability",
    "relationship", "sighting", "language-content", "extension-definition",
};
// clang-format on

// A STIX type name (§3.1): 3 to 250 of a-z, 0-9 and '-'.
bool is_type_name(std::string_view text) {
  return text.size() >= 3 && text.size() <= 250 &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
         });
}

// Whether `id` is "<type>--<UUID>" with a type name before the dashes.
bool is_identifier(std::string_view id) {
  if (id.size() < kUuidChars + 2) return false;
  const std::string_view type = id.substr(0, id.size() - kUuidChars - 2);
  return is_type_name(type) && id.substr(type.size(), 2) == "--" &&
         is_uuid(id.substr(id.size() - kUuidChars));
}

// The UUID of an identifier, lower case (RFC 4122 §3: output in lower case).
std::string uuid_of(std::string_view id) {
  std::string uuid(id.substr(id.size() - kUuidChars));
  std::transform(uuid.begin(), uuid.end(), uuid.begin(), [](char c) {
    return c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return uuid;
}

// A STIX timestamp (§3.2): RFC 3339 in UTC, "YYYY-MM-DDTHH:MM:SS[.fraction]Z",
// as seconds since the Unix epoch (negative before 1970) and nanoseconds
// (digits past the ninth dropped). Nothing for anything else.
struct Timestamp {
  int64_t seconds = 0;
  uint32_t nanos = 0;
};
std::optional<Timestamp> parse_timestamp(std::string_view text) {
  auto digits = [&text](std::size_t at, std::size_t count) -> std::optional<int> {
    int value = 0;
    for (std::size_t i = at; i < at + count; ++i) {
      if (i >= text.size() || text[i] < '0' || text[i] > '9') return std::nullopt;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text.back() != 'Z')
    return std::nullopt;
  const auto year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  const auto hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || *hour > 23 || *minute > 59 ||
      *second > 60)  // 60: a leap second, as RFC 3339 allows
    return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(*year),
                                         std::chrono::month(static_cast<unsigned>(*month)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;
  Timestamp out;
  std::size_t at = 19;
  if (text[at] == '.') {
    ++at;
    const std::size_t start = at;
    uint32_t scale = 100'000'000;
    for (; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at) {
      out.nanos += static_cast<uint32_t>(text[at] - '0') * scale;
      scale /= 10;
    }
    if (at == start) return std::nullopt;
  }
  if (at != text.size() - 1) return std::nullopt;
  const int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
  out.seconds = days * 86'400 + *hour * 3'600 + *minute * 60 + *second;
  return out;
}

// As ns since the epoch, 0 before it, the largest value past 2554.
uint64_t to_ns(const Timestamp& t) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (t.seconds < 0) return 0;
  const auto seconds = static_cast<uint64_t>(t.seconds);
  if (seconds > (kMax - t.nanos) / 1'000'000'000) return kMax;
  return seconds * 1'000'000'000 + t.nanos;
}

const std::string* string_at(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

// ---------------------------------------------------------------------------
// Patterns (§9): the subset parse_stix_pattern() documents, by recursive
// descent over the text (no separate tokenizer: object paths hold brackets).

// What a pattern gave: `unsupported` set when it is outside the subset (or
// not a pattern), else `refused` holds a reason per literal normalise()
// refused, else `terms` are the comparisons.
struct PatternOutcome {
  std::vector<PatternTerm> terms;
  std::string unsupported;
  std::vector<std::string> refused;
};

class PatternParser {
 public:
  explicit PatternParser(std::string_view text) : text_(text) {}

  PatternOutcome run() && {
    skip_space();
    if (at_end()) {
      error("an empty pattern");
    } else if (observations(0)) {
      skip_space();
      if (!at_end()) unexpected("after the pattern");
    }
    return std::move(out_);
  }

 private:
  // observations := observation ("OR" observation)*
  bool observations(int depth) {
    if (!observation(depth)) return false;
    for (;;) {
      skip_space();
      const std::string_view word = peek_word();
      if (word == "OR") {
        pos_ += word.size();
        if (!observation(depth)) return false;
      } else if (word == "AND" || word == "FOLLOWEDBY") {
        return error("observation expressions joined by " + std::string(word));
      } else if (word == "WITHIN" || word == "REPEATS" || word == "START" || word == "STOP") {
        return error("the qualifier " + std::string(word));
      } else {
        return true;
      }
    }
  }

  // observation := "(" observations ")" | "[" comparisons "]"
  bool observation(int depth) {
    if (depth > kMaxPatternDepth) return error("brackets nested deeper than 32");
    skip_space();
    if (eat('(')) return observations(depth + 1) && expect(')');
    if (eat('[')) return comparisons(depth + 1) && expect(']');
    return unexpected("where an observation expression '[' was expected");
  }

  // comparisons := primary ("OR" primary)*; primary := "(" comparisons ")" | comparison
  bool comparisons(int depth) {
    if (!primary(depth)) return false;
    for (;;) {
      skip_space();
      const std::string_view word = peek_word();
      if (word == "OR") {
        pos_ += word.size();
        if (!primary(depth)) return false;
      } else if (word == "AND") {
        return error("comparisons joined by AND");
      } else {
        return true;
      }
    }
  }

  bool primary(int depth) {
    if (depth > kMaxPatternDepth) return error("parentheses nested deeper than 32");
    skip_space();
    if (eat('(')) return comparisons(depth + 1) && expect(')');
    return comparison();
  }

  // comparison := object-path "=" 'string'
  bool comparison() {
    const std::string_view keyword = peek_word();
    if (!keyword.empty() &&
        std::all_of(keyword.begin(), keyword.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
      return error("the keyword " + std::string(keyword));
    const std::size_t path_start = pos_;
    std::string object_type;
    std::vector<std::string> properties;
    if (!object_path(object_type, properties)) return false;
    const std::string path(text_.substr(path_start, pos_ - path_start));
    skip_space();
    if (!comparison_operator()) return false;
    const auto type = observable_of(object_type, properties);
    if (!type) return error("the object path " + path);
    skip_space();
    if (at_end() || text_[pos_] != '\'')  // a number, h'', b'', t'', a set…
      return error("a literal other than a string after " + path);
    std::string literal;
    if (!string_literal(literal)) return false;
    add(*type, path, literal);
    return true;
  }

  // object-path := type ":" component ("." component | "[" (digits | "*") "]")*
  // with a component an identifier or a quoted string.
  bool object_path(std::string& object_type, std::vector<std::string>& properties) {
    const std::size_t start = pos_;
    while (!at_end() && ((text_[pos_] >= 'a' && text_[pos_] <= 'z') ||
                         (text_[pos_] >= '0' && text_[pos_] <= '9') || text_[pos_] == '-'))
      ++pos_;
    object_type = std::string(text_.substr(start, pos_ - start));
    if (object_type.empty() || !eat(':')) return unexpected("where an object path was expected");
    if (!path_component(properties)) return false;
    for (;;) {
      if (eat('.')) {
        if (!path_component(properties)) return false;
      } else if (eat('[')) {
        const std::size_t index = pos_;
        while (!at_end() && ((text_[pos_] >= '0' && text_[pos_] <= '9') || text_[pos_] == '*'))
          ++pos_;
        properties.emplace_back("[" + std::string(text_.substr(index, pos_ - index)) + "]");
        if (!expect(']')) return false;
      } else {
        return true;
      }
    }
  }

  bool path_component(std::vector<std::string>& properties) {
    if (!at_end() && text_[pos_] == '\'') {
      std::string quoted;
      if (!string_literal(quoted)) return false;
      properties.push_back(std::move(quoted));
      return true;
    }
    const std::size_t start = pos_;
    while (!at_end() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) != 0 || text_[pos_] == '_'))
      ++pos_;
    if (pos_ == start) return unexpected("in an object path");
    properties.emplace_back(text_.substr(start, pos_ - start));
    return true;
  }

  bool comparison_operator() {
    if (eat('=')) return true;
    const std::size_t start = pos_;
    while (!at_end() && std::string_view("!<>=").find(text_[pos_]) != std::string_view::npos)
      ++pos_;
    if (pos_ > start)
      return error("the operator " + std::string(text_.substr(start, pos_ - start)));
    const std::string_view word = peek_word();
    if (!word.empty()) return error("the operator " + std::string(word));
    return unexpected("where the operator '=' was expected");
  }

  // 'text' with \' and \\ the only escapes (§9.3).
  bool string_literal(std::string& out) {
    ++pos_;  // the opening quote
    for (;;) {
      if (at_end()) return error("an unterminated string literal");
      const char c = text_[pos_++];
      if (c == '\'') return true;
      if (c == '\\') {
        if (at_end() || (text_[pos_] != '\'' && text_[pos_] != '\\'))
          return error("an escape other than \\' and \\\\ in a string literal");
        out.push_back(text_[pos_++]);
      } else {
        out.push_back(c);
      }
    }
  }

  enum class Address : uint8_t { kAny, kIpv4, kIpv6 };
  struct Target {
    ObservableType type;
    Address address = Address::kAny;
  };
  static std::optional<Target> observable_of(const std::string& object_type,
                                             const std::vector<std::string>& properties) {
    const bool value = properties.size() == 1 && properties[0] == "value";
    if (object_type == "ipv4-addr" && value) return Target{ObservableType::kIp, Address::kIpv4};
    if (object_type == "ipv6-addr" && value) return Target{ObservableType::kIp, Address::kIpv6};
    if (object_type == "domain-name" && value) return Target{ObservableType::kDomain};
    if (object_type != "file") return std::nullopt;
    if (properties.size() == 1 && properties[0] == "name") return Target{ObservableType::kFileName};
    if (properties.size() != 2 || properties[0] != "hashes") return std::nullopt;
    std::string key = properties[1];
    std::transform(key.begin(), key.end(), key.begin(), [](char c) {
      return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    });
    if (key == "SHA-256" || key == "SHA256") return Target{ObservableType::kSha256};
    return std::nullopt;
  }

  void add(const Target& target, const std::string& path, const std::string& literal) {
    auto value = normalise(target.type, literal);
    // normalise() takes either family, and MISP's "address|port".
    if (target.address != Address::kAny &&
        ((literal.find(':') != std::string::npos) != (target.address == Address::kIpv6) ||
         literal.find('|') != std::string::npos))
      value =
          fail(target.address == Address::kIpv6 ? "not an IPv6 address" : "not an IPv4 address");
    if (!value) {
      std::string shown = literal, why = value.error();
      truncate_utf8(shown, kMaxShortBytes);
      truncate_utf8(why, kMaxShortBytes);
      out_.refused.push_back(path + " '" + shown + "': " + why);
      return;
    }
    PatternTerm term{target.type, std::move(*value)};
    if (std::find(out_.terms.begin(), out_.terms.end(), term) == out_.terms.end())
      out_.terms.push_back(std::move(term));
  }

  bool at_end() const { return pos_ >= text_.size(); }
  void skip_space() {
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                         text_[pos_] == '\r'))
      ++pos_;
  }
  bool eat(char c) {
    if (at_end() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  bool expect(char c) {
    skip_space();
    if (eat(c)) return true;
    return unexpected(std::string("where '") + c + "' was expected");
  }
  // The letters at the current position (a keyword such as OR), not consumed.
  std::string_view peek_word() const {
    std::size_t end = pos_;
    while (end < text_.size() && std::isalpha(static_cast<unsigned char>(text_[end])) != 0) ++end;
    return text_.substr(pos_, end - pos_);
  }
  bool error(std::string what) {
    if (out_.unsupported.empty()) {
      truncate_utf8(what, kMaxShortBytes);
      out_.unsupported = std::move(what);
    }
    return false;
  }
  bool unexpected(const std::string& where) {
    if (at_end()) return error("not a STIX pattern: it ends " + where);
    std::string near(text_.substr(pos_, 17));
    truncate_utf8(near, 16);
    return error("not a STIX pattern: '" + near + "' at offset " + std::to_string(pos_) + " " +
                 where);
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  PatternOutcome out_;
};

PatternOutcome read_pattern(std::string_view pattern) {
  if (pattern.size() > kMaxBodyBytes) {
    PatternOutcome out;
    out.unsupported = "a pattern longer than " + std::to_string(kMaxBodyBytes) + " bytes";
    return out;
  }
  return PatternParser(pattern).run();
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Bundles.

// Why `object` is not a well-formed STIX object (stix.h), empty when it is.
std::vector<std::string> problems_of(const json& object) {
  if (!object.is_object()) return {"not a JSON object"};
  std::vector<std::string> problems;
  const std::string* type = string_at(object, "type");
  if (type == nullptr || !is_type_name(*type)) {
    problems.emplace_back("'type' is not a STIX type name");
    return problems;
  }
  const std::string* id = string_at(object, "id");
  if (id == nullptr || !is_identifier(*id)) {
    problems.emplace_back("'id' is not of the form '<type>--<UUID>'");
  } else if (id->compare(0, type->size() + 2, *type + "--") != 0) {
    problems.emplace_back("'id' is not of type '" + *type + "'");
  }
  const bool common =
      std::find(kSdoSroTypes.begin(), kSdoSroTypes.end(), *type) != kSdoSroTypes.end();
  if (!common && *type != "marking-definition") return problems;  // SCOs, custom objects
  const std::string* version = string_at(object, "spec_version");
  if (version == nullptr || *version != "2.1")
    problems.emplace_back("'spec_version' is not \"2.1\"");
  for (const char* key : {"created", "modified"}) {
    if (!common && std::string_view(key) == "modified") continue;  // marking-definitions: immutable
    const std::string* stamp = string_at(object, key);
    if (stamp == nullptr || !parse_timestamp(*stamp))
      problems.push_back("'" + std::string(key) + "' is not an RFC 3339 timestamp");
  }
  return problems;
}

// The objects of a bundle, or the lone object, and its source name.
struct Document {
  std::vector<const json*> objects;
  std::string source;
};

protocol::Result<Document> document_of(const json& parsed) {
  if (!parsed.is_object())
    return fail("not a STIX bundle or object: the body is not a JSON object");
  const std::string* type = string_at(parsed, "type");
  if (type == nullptr) return fail("not a STIX bundle or object: no \"type\" string");
  Document document;
  if (*type != "bundle") {
    document.objects.push_back(&parsed);
    const std::string* id = string_at(parsed, "id");
    document.source = "stix:" + (id != nullptr ? *id : std::string());
    return document;
  }
  const std::string* id = string_at(parsed, "id");
  if (id == nullptr || !is_identifier(*id) || id->rfind("bundle--", 0) != 0)
    return fail("the bundle's 'id' is not of the form 'bundle--<UUID>'");
  document.source = "stix:" + *id;
  const auto objects = parsed.find("objects");
  if (objects == parsed.end()) return document;  // optional (§8)
  if (!objects->is_array()) return fail("the bundle's 'objects' is not an array");
  if (objects->size() > kMaxObjects)
    return fail("a bundle of more than " + std::to_string(kMaxObjects) + " objects");
  document.objects.reserve(objects->size());
  for (const json& object : *objects) document.objects.push_back(&object);
  return document;
}

protocol::Result<void> check_objects(const Document& document) {
  std::vector<std::string> reasons;
  std::size_t refused = 0;
  for (std::size_t i = 0; i < document.objects.size(); ++i) {
    const json& object = *document.objects[i];
    const auto problems = problems_of(object);
    if (problems.empty()) continue;
    if (++refused > kMaxReasonsListed) continue;
    const std::string* id = object.is_object() ? string_at(object, "id") : nullptr;
    std::string name =
        id != nullptr && id->size() <= kMaxShortBytes ? *id : "object " + std::to_string(i);
    reasons.push_back(name + ": " + join(problems, ", "));
  }
  if (refused == 0) return {};
  std::string message = std::to_string(refused) + (refused == 1 ? " object" : " objects") +
                        " refused: " + join(reasons, "; ");
  if (refused > kMaxReasonsListed)
    message += "; and " + std::to_string(refused - kMaxReasonsListed) + " more";
  return fail(message);
}

// The most restricted TLP of object_marking_refs, AMBER when none is one.
Tlp tlp_of(const json& object) {
  std::optional<Tlp> tlp;
  const auto refs = object.find("object_marking_refs");
  if (refs != object.end() && refs->is_array()) {
    for (const json& ref : *refs) {
      if (!ref.is_string()) continue;
      const auto marked = tlp_of_marking(ref.get_ref<const std::string&>());
      if (marked && (!tlp || looser(*tlp, *marked))) tlp = marked;
    }
  }
  return tlp.value_or(Tlp::kAmber);
}

// "name: description", either alone when the other is empty, within kMaxTextBytes.
std::string text_of(const json& object) {
  const std::string* name = string_at(object, "name");
  const std::string* description = string_at(object, "description");
  std::string text = name != nullptr ? *name : std::string();
  if (description != nullptr && !description->empty())
    text += (text.empty() ? "" : ": ") + *description;
  truncate_utf8(text, kMaxTextBytes);
  return text;
}

// labels, then indicator_types: each once, within kMaxShortBytes, kMaxListItems in all.
std::vector<std::string> tags_of(const json& object) {
  std::vector<std::string> tags;
  for (const char* key : {"labels", "indicator_types"}) {
    const auto list = object.find(key);
    if (list == object.end() || !list->is_array()) continue;
    for (const json& tag : *list) {
      if (tags.size() == kMaxListItems) return tags;
      if (!tag.is_string()) continue;
      const auto& name = tag.get_ref<const std::string&>();
      if (name.empty() || name.size() > kMaxShortBytes ||
          std::find(tags.begin(), tags.end(), name) != tags.end())
        continue;
      tags.push_back(name);
    }
  }
  return tags;
}

class Reader {
 public:
  Reader(ExchangeImport& out, std::string source) : out_(out), source_(std::move(source)) {}

  void object(const json& object) {
    const auto& type = object["type"].get_ref<const std::string&>();
    const auto& id = object["id"].get_ref<const std::string&>();
    if (type == "indicator") indicator(object, id);
    if (type == "sighting") sighting(object, id);
    if (type == "relationship") relationship(object, id);
  }

 private:
  void indicator(const json& object, const std::string& id) {
    const std::string* pattern = string_at(object, "pattern");
    const std::string* pattern_type = string_at(object, "pattern_type");
    if (pattern == nullptr || pattern_type == nullptr)
      return invalid(id, "no 'pattern' and 'pattern_type' strings");
    uint64_t valid_until_ns = 0;
    if (object.contains("valid_until")) {
      const std::string* text = string_at(object, "valid_until");
      const auto stamp = text != nullptr ? parse_timestamp(*text) : std::nullopt;
      if (!stamp) return invalid(id, "'valid_until' is not an RFC 3339 timestamp");
      valid_until_ns = std::max<uint64_t>(to_ns(*stamp), 1);  // 0 would be "no end"
    }
    const Tlp tlp = tlp_of(object);
    std::string text = text_of(object);
    PatternOutcome parsed;
    if (*pattern_type == "stix") {
      parsed = read_pattern(*pattern);
    } else {
      parsed.unsupported = "pattern_type " + *pattern_type;
      truncate_utf8(parsed.unsupported, kMaxShortBytes);
    }
    if (!parsed.unsupported.empty()) {
      if (pattern->size() > kMaxTextBytes)
        return invalid(
            id, "an unsupported pattern longer than " + std::to_string(kMaxTextBytes) + " bytes");
      text += (text.empty() ? "" : " ") + ("(not matched: " + parsed.unsupported + ")");
      truncate_utf8(text, kMaxTextBytes);
      out_.context.push_back({"stix-pattern", *pattern, tlp, source_, std::move(text)});
      ++out_.counts.unsupported;
      return;
    }
    if (!parsed.refused.empty()) return invalid(id, join(parsed.refused, "; "));
    const std::string uuid = uuid_of(id);
    const auto tags = tags_of(object);
    const auto revoked = object.find("revoked");
    const bool deleted = revoked != object.end() && revoked->is_boolean() && revoked->get<bool>();
    if (deleted) ++out_.counts.revoked;
    for (std::size_t k = 0; k < parsed.terms.size(); ++k) {
      Indicator i;
      i.uuid = k == 0 ? uuid : uuid_v5(uuid, parsed.terms[k].value);
      i.type = parsed.terms[k].type;
      i.value = std::move(parsed.terms[k].value);
      i.to_ids = true;
      i.tlp = tlp;
      i.valid_until_ns = valid_until_ns;
      i.source = source_;
      i.tags = tags;
      i.comment = text;
      i.deleted = deleted;
      out_.indicators.push_back(std::move(i));
    }
  }

  void sighting(const json& object, const std::string& id) {
    const std::string* of = string_at(object, "sighting_of_ref");
    if (of == nullptr || !is_identifier(*of))
      return invalid(id, "'sighting_of_ref' is not an identifier");
    if (of->rfind("indicator--", 0) != 0) return;  // of malware, observed-data…: not the store's
    ExchangeSighting s;
    s.indicator_uuid = uuid_of(*of);
    // first_seen, else when the sighting was made; last_seen, else first_seen.
    const std::string* first = string_at(object, "first_seen");
    const std::string* last = string_at(object, "last_seen");
    if ((object.contains("first_seen") && first == nullptr) ||
        (object.contains("last_seen") && last == nullptr))
      return invalid(id, "'first_seen' or 'last_seen' is not an RFC 3339 timestamp");
    const auto first_stamp = parse_timestamp(
        first != nullptr ? *first : object["created"].get_ref<const std::string&>());
    const auto last_stamp = last != nullptr ? parse_timestamp(*last) : first_stamp;
    if (!first_stamp || !last_stamp)
      return invalid(id, "'first_seen' or 'last_seen' is not an RFC 3339 timestamp");
    s.first_ns = to_ns(*first_stamp);
    s.last_ns = to_ns(*last_stamp);
    if (const auto count = object.find("count"); count != object.end()) {
      if (!count->is_number_integer() || count->get<int64_t>() < 0 ||
          count->get<int64_t>() > 999'999'999)  // §5.2
        return invalid(id, "'count' is not an integer from 0 to 999999999");
      s.count = count->get<uint64_t>();
    }
    if (const auto where = object.find("where_sighted_refs");
        where != object.end() && where->is_array()) {
      std::size_t n = 0;
      for (const json& ref : *where) {
        if (!ref.is_string() || !is_identifier(ref.get_ref<const std::string&>())) continue;
        if (++n > kMaxListItems) break;
        s.where += (s.where.empty() ? "" : ",") + ref.get<std::string>();
      }
    }
    out_.sightings.push_back(std::move(s));
  }

  void relationship(const json& object, const std::string& id) {
    const std::string* source = string_at(object, "source_ref");
    const std::string* type = string_at(object, "relationship_type");
    const std::string* target = string_at(object, "target_ref");
    if (source == nullptr || !is_identifier(*source) || target == nullptr ||
        !is_identifier(*target))
      return invalid(id, "'source_ref' or 'target_ref' is not an identifier");
    if (type == nullptr || type->empty() || type->size() > kMaxShortBytes)
      return invalid(id, "'relationship_type' is not a string of 1 to " +
                             std::to_string(kMaxShortBytes) + " bytes");
    out_.relationships.push_back({*source, *type, *target});
  }

  void invalid(const std::string& id, const std::string& reason) {
    out_.invalid.push_back(id + ": " + reason);
  }

  ExchangeImport& out_;
  const std::string source_;
};

}  // namespace

std::string_view tlp_marking_id(Tlp tlp) {
  for (const auto& [level, id] : kTlp2Markings) {
    if (level == tlp) return id;
  }
  return kTlp2Markings[2].second;  // unreachable: every Tlp has its marking
}

std::optional<Tlp> tlp_of_marking(std::string_view id) {
  for (const auto& [level, tlp2_id] : kTlp2Markings) {
    if (tlp2_id == id) return level;
  }
  for (const auto& [tlp1_id, tlp] : kTlp1Markings) {
    if (tlp1_id == id) return tlp;
  }
  return std::nullopt;
}

json tlp_marking_definition(Tlp tlp) {
  std::string name = "TLP:" + std::string(to_string(tlp));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return {{"type", "marking-definition"},
          {"spec_version", "2.1"},
          {"id", tlp_marking_id(tlp)},
          {"created", "2022-10-01T00:00:00.000Z"},
          {"name", name},
          {"extensions",
           {{kTlp2Extension,
             {{"extension_type", "property-extension"}, {"tlp_2_0", to_string(tlp)}}}}}};
}

protocol::Result<std::vector<PatternTerm>> parse_stix_pattern(std::string_view pattern) {
  PatternOutcome parsed = read_pattern(pattern);
  if (!parsed.unsupported.empty()) return fail("unsupported STIX pattern: " + parsed.unsupported);
  if (!parsed.refused.empty()) return fail(join(parsed.refused, "; "));
  return std::move(parsed.terms);
}

protocol::Result<ExchangeImport> import_stix(std::string_view body) {
  if (body.size() > kMaxBodyBytes)
    return fail("the body exceeds " + std::to_string(kMaxBodyBytes) + " bytes");
  const json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return fail("the body is not JSON");
  auto document = document_of(parsed);
  if (!document) return fail(document.error());
  if (auto checked = check_objects(*document); !checked) return fail(checked.error());
  ExchangeImport out;
  out.format = "stix";
  Reader reader(out, document->source);
  for (const json* object : document->objects) reader.object(*object);
  out.counts.invalid = out.invalid.size();
  return out;
}

}  // namespace vigie::csirt
