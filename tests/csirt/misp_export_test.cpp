// export_misp and the MISP feed layout (csirt/misp.h), checked against the
// MISP core format (draft-dulaunoy-misp-core-format-20, its MUST and SHALL
// fields and category-type table), the corpus's JSON Schema (schema-lax.json,
// by Debian's python3-jsonschema) and the corpus's feed
// (../shared/corpus/csirt/misp/).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "vigie/csirt/json.h"
#include "vigie/csirt/misp.h"

namespace vigie::csirt {
namespace {

using nlohmann::json;

constexpr uint64_t kSecondNs = 1'000'000'000;
constexpr uint64_t kDiscoveredNs = 1'772'359'200 * kSecondNs;  // 2026-03-01T10:00:00Z
constexpr uint64_t kNowNs = 1'772'524'800 * kSecondNs + 123;   // 2026-03-03T08:00:00Z
constexpr const char* kIncidentUuid = "6f2c1c1e-3b4a-4d5e-8f90-0123456789ab";
constexpr const char* kSha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

std::filesystem::path corpus() {
  return std::filesystem::path(VIGIE_SOURCE_DIR) / ".." / "shared" / "corpus" / "csirt" / "misp";
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

LinkedIndicator linked(const char* uuid, ObservableType type, const char* value, Tlp tlp,
                       bool deleted = false) {
  LinkedIndicator out;
  out.indicator.uuid = uuid;
  out.indicator.type = type;
  out.indicator.value = value;
  out.indicator.tlp = tlp;
  out.indicator.deleted = deleted;
  out.indicator.source = "site";
  out.indicator.created_ns = kDiscoveredNs;
  out.indicator.updated_ns = kDiscoveredNs + 60 * kSecondNs;
  return out;
}

Sighting sighting(const char* indicator, const char* site, const char* host, const char* user,
                  const char* job, uint64_t last_ns) {
  Sighting out;
  out.indicator_uuid = indicator;
  out.site = site;
  out.host = host;
  out.user = user;
  out.workload_kind = "slurm_job";
  out.workload_id = job;
  out.first_ns = kDiscoveredNs;
  out.last_ns = last_ns;
  out.count = 3;
  out.source = "alert";
  return out;
}

// An incident at `tlp` with one indicator of each TLP and type (and a
// revoked one), sighted at two sites, exported to a destination of `clearance`.
ExportRequest request(Tlp tlp, Tlp clearance, bool local = false) {
  ExportRequest r;
  r.incident.id = "grif-2026-0007";
  r.incident.uuid = kIncidentUuid;
  r.incident.title = "Cryptominer on the\nworker nodes";
  r.incident.state = State::kInvestigating;
  r.incident.severity = Severity::kHigh;
  r.incident.tlp = tlp;
  r.incident.sites = {"grif"};
  r.incident.times.discovered_ns = kDiscoveredNs;
  r.incident.created_ns = kDiscoveredNs + kSecondNs;
  r.indicators = {
      linked("11111111-1111-4111-8111-111111111111", ObservableType::kIp, "198.51.100.7",
             Tlp::kGreen),
      linked("22222222-2222-4222-8222-222222222222", ObservableType::kDomain, "pool.evil.example",
             Tlp::kAmber),
      linked("33333333-3333-4333-8333-333333333333", ObservableType::kSha256, kSha256, Tlp::kClear),
      linked("44444444-4444-4444-8444-444444444444", ObservableType::kFileName, "xmrig",
             Tlp::kAmberStrict),
      linked("55555555-5555-4555-8555-555555555555", ObservableType::kUser, "mallory", Tlp::kRed),
      linked("66666666-6666-4666-8666-666666666666", ObservableType::kIp, "203.0.113.9",
             Tlp::kClear, /*deleted=*/true),
  };
  r.sightings = {
      sighting("11111111-1111-4111-8111-111111111111", "grif", "wn-042.grif.fr", "alice", "9081726",
               kDiscoveredNs + 10 * kSecondNs),
      sighting("11111111-1111-4111-8111-111111111111", "grif", "wn-043.grif.fr", "carol", "9081727",
               kDiscoveredNs + 20 * kSecondNs),
      sighting("11111111-1111-4111-8111-111111111111", "llr", "node-7.llr.fr", "bob", "6540321",
               kDiscoveredNs + 5 * kSecondNs),
      sighting("66666666-6666-4666-8666-666666666666", "grif", "wn-044.grif.fr", "dave", "6540888",
               kDiscoveredNs + 5 * kSecondNs),
  };
  r.site = "grif";
  r.clearance = clearance;
  r.local = local;
  r.now_ns = kNowNs;
  return r;
}

json export_ok(const ExportRequest& r) {
  auto out = export_misp(r);
  EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error());
  return out.ok() ? *out : json::object();
}

std::set<std::string> attribute_uuids(const json& document) {
  std::set<std::string> out;
  for (const json& a : document["Event"]["Attribute"]) out.insert(a["uuid"].get<std::string>());
  return out;
}

// The JSON types the draft names: "JSON string", "JSON boolean".
bool has_type(const json& value, const std::string& type) {
  return type == "string" ? value.is_string() : type == "boolean" ? value.is_boolean() : false;
}

// Every MUST and SHALL field (RFC 2119: the same requirement) of the MISP
// core format, with its JSON type and the section that requires it.
struct RequiredField {
  const char* section;
  const char* object;  // which objects of the export must hold it
  const char* field;
  const char* type;
};
const RequiredField kRequiredFields[] = {
    {"§Event uuid", "Event", "uuid", "string"},
    {"§Event id (SHALL)", "Event", "id", "string"},
    {"§Event published", "Event", "published", "boolean"},
    {"§Event info", "Event", "info", "string"},
    {"§Event threat_level_id (SHALL)", "Event", "threat_level_id", "string"},
    {"§Event analysis (SHALL)", "Event", "analysis", "string"},
    {"§Event date", "Event", "date", "string"},
    {"§Event timestamp", "Event", "timestamp", "string"},
    {"§Event publish_timestamp", "Event", "publish_timestamp", "string"},
    {"§Event first_publication (SHALL)", "Event", "first_publication", "string"},
    {"§Event org_id", "Event", "org_id", "string"},
    {"§Event orgc_id", "Event", "orgc_id", "string"},
    {"§Event attribute_count (SHALL)", "Event", "attribute_count", "string"},
    {"§Event distribution", "Event", "distribution", "string"},
    {"§Event sharing_group_id (\"0\" unless distribution 4)", "Event", "sharing_group_id",
     "string"},
    {"§Event Objects Org", "Org", "uuid", "string"},
    {"§Event Objects Org", "Org", "name", "string"},
    {"§Event Objects Org", "Org", "id", "string"},
    {"§Event Objects Orgc", "Orgc", "uuid", "string"},
    {"§Event Objects Orgc", "Orgc", "name", "string"},
    {"§Event Objects Orgc", "Orgc", "id", "string"},
    {"§Attribute uuid", "Attribute", "uuid", "string"},
    {"§Attribute id (SHALL)", "Attribute", "id", "string"},
    {"§Attribute type", "Attribute", "type", "string"},
    {"§Attribute category", "Attribute", "category", "string"},
    {"§Attribute to_ids", "Attribute", "to_ids", "boolean"},
    {"§Attribute event_id", "Attribute", "event_id", "string"},
    {"§Attribute distribution", "Attribute", "distribution", "string"},
    {"§Attribute timestamp", "Attribute", "timestamp", "string"},
    {"§Attribute sharing_group_id (\"0\" unless distribution 4)", "Attribute", "sharing_group_id",
     "string"},
    {"§Attribute deleted", "Attribute", "deleted", "boolean"},
    {"§Attribute value", "Attribute", "value", "string"},
    {"§Tag name", "Tag", "name", "string"},
    {"§Tag colour (SHALL)", "Tag", "colour", "string"},
    {"§Tag id (SHALL)", "Tag", "id", "string"},
    {"§Tag exportable (SHALL)", "Tag", "exportable", "boolean"},
    {"§Sighting type", "Sighting", "type", "string"},
    {"§Sighting uuid", "Sighting", "uuid", "string"},
    {"§Sighting date_sighting", "Sighting", "date_sighting", "string"},
};

// The objects of kind `object` in an export.
std::vector<json> objects_of(const json& document, const std::string& object) {
  const json& event = document["Event"];
  if (object == "Event") return {event};
  if (object == "Org" || object == "Orgc") return {event[object]};
  std::vector<json> out;
  if (object == "Tag") out.insert(out.end(), event["Tag"].begin(), event["Tag"].end());
  for (const json& a : event["Attribute"]) {
    if (object == "Attribute") out.push_back(a);
    if (object == "Tag") out.insert(out.end(), a["Tag"].begin(), a["Tag"].end());
    if (object == "Sighting" && a.contains("Sighting"))
      out.insert(out.end(), a["Sighting"].begin(), a["Sighting"].end());
  }
  return out;
}

TEST(MispExport, HasEveryRequiredFieldOfTheCoreFormat) {
  const json document = export_ok(request(Tlp::kAmberStrict, Tlp::kRed, /*local=*/true));
  for (const RequiredField& required : kRequiredFields) {
    const auto objects = objects_of(document, required.object);
    EXPECT_FALSE(objects.empty()) << required.section << ": no " << required.object;
    for (const json& object : objects) {
      ASSERT_TRUE(object.contains(required.field))
          << required.section << ": " << required.object << " without " << required.field;
      EXPECT_TRUE(has_type(object[required.field], required.type))
          << required.section << ": " << required.object << "." << required.field << " is "
          << object[required.field].dump() << ", not a JSON " << required.type;
    }
  }
}

TEST(MispExport, WritesTheEventFieldsFromTheIncident) {
  const json event = export_ok(request(Tlp::kAmber, Tlp::kAmber))["Event"];
  EXPECT_EQ(event["uuid"], kIncidentUuid);
  EXPECT_EQ(event["id"], "0");
  EXPECT_EQ(event["info"], "grif-2026-0007: Cryptominer on the worker nodes");  // one line
  EXPECT_EQ(event["date"], "2026-03-01");
  EXPECT_EQ(event["timestamp"], "1772524800");  // decimal seconds
  EXPECT_EQ(event["published"], false);
  EXPECT_EQ(event["publish_timestamp"], "0");
  EXPECT_EQ(event["first_publication"], "0");
  EXPECT_EQ(event["analysis"], "1");
  EXPECT_EQ(event["threat_level_id"], "1");
  EXPECT_EQ(event["distribution"], "0");
  EXPECT_EQ(event["sharing_group_id"], "0");
  EXPECT_EQ(event["Org"], event["Orgc"]);
  EXPECT_EQ(event["Org"]["name"], "grif");
  EXPECT_EQ(event["Org"]["uuid"], uuid_v5("00abedb4-aa42-466c-9c01-fed23315a9b7", "grif"));
  EXPECT_EQ(event["Tag"], json::parse(R"([{"id":"0","name":"tlp:amber","colour":"#FFC000",
                                          "exportable":true}])"));
  EXPECT_EQ(event["attribute_count"], std::to_string(event["Attribute"].size()));

  struct Case {
    Tlp tlp;
    State state;
    Severity severity;
    const char* distribution;
    const char* analysis;
    const char* threat_level;
  };
  for (const Case& c : {Case{Tlp::kClear, State::kResolved, Severity::kLow, "3", "2", "3"},
                        Case{Tlp::kGreen, State::kClosed, Severity::kMedium, "2", "2", "2"},
                        Case{Tlp::kRed, State::kReported, Severity::kCritical, "0", "1", "1"}}) {
    ExportRequest r = request(c.tlp, Tlp::kRed, true);
    r.incident.state = c.state;
    r.incident.severity = c.severity;
    const json e = export_ok(r)["Event"];
    EXPECT_EQ(e["distribution"], c.distribution) << to_string(c.tlp);
    EXPECT_EQ(e["analysis"], c.analysis) << to_string(c.state);
    EXPECT_EQ(e["threat_level_id"], c.threat_level) << to_string(c.severity);
    EXPECT_EQ(e["Tag"][0]["name"], "tlp:" + std::string(to_string(c.tlp)));
  }
}

// The draft's category-type table: the types valid for `category`.
std::set<std::string> spec_types(const std::string& category) {
  const std::string spec = read_file(corpus() / "spec" / "misp-core-format.md");
  const std::string head = "\n" + category + "\n:   ";
  const auto at = spec.find(head);
  if (at == std::string::npos) return {};
  const auto begin = at + head.size();
  std::stringstream line(spec.substr(begin, spec.find('\n', begin) - begin));
  std::set<std::string> out;
  for (std::string type; std::getline(line, type, ',');)
    out.insert(type.substr(type.find_first_not_of(' ')));
  return out;
}

TEST(MispExport, WritesValidCategoryTypePairs) {
  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"198.51.100.7", {"ip-dst", "Network activity"}},
      {"pool.evil.example", {"domain", "Network activity"}},
      {kSha256, {"sha256", "Payload delivery"}},
      {"xmrig", {"filename", "Payload delivery"}},
      {"mallory", {"target-user", "Targeting data"}},
  };
  const json event = export_ok(request(Tlp::kRed, Tlp::kRed, true))["Event"];
  ASSERT_EQ(event["Attribute"].size(), expected.size());
  for (const json& a : event["Attribute"]) {
    const auto& [type, category] = expected.at(a["value"].get<std::string>());
    EXPECT_EQ(a["type"], type);
    EXPECT_EQ(a["category"], category);
    EXPECT_TRUE(spec_types(category).count(type)) << category << " / " << type;
    EXPECT_EQ(a["id"], "0");
    EXPECT_EQ(a["event_id"], "0");
    EXPECT_EQ(a["sharing_group_id"], "0");
    EXPECT_EQ(a["deleted"], false);
    EXPECT_EQ(a["to_ids"], true);
    EXPECT_EQ(a["timestamp"], "1772359260");  // the indicator's last change, in seconds
    EXPECT_TRUE(std::regex_match(a["timestamp"].get<std::string>(), std::regex("[0-9]+")));
  }
  EXPECT_EQ(spec_types("Network activity").count("ip-dst"), 1u);  // the table was read
}

TEST(MispExport, KeepsTheEventUuidAndBumpsTheTimestamp) {
  ExportRequest r = request(Tlp::kAmber, Tlp::kAmber);
  const json first = export_ok(r);
  r.now_ns += 90 * kSecondNs;
  const json second = export_ok(r);
  EXPECT_EQ(first["Event"]["uuid"], second["Event"]["uuid"]);
  EXPECT_EQ(first["Event"]["Org"]["uuid"], second["Event"]["Org"]["uuid"]);
  EXPECT_EQ(std::stoull(second["Event"]["timestamp"].get<std::string>()),
            std::stoull(first["Event"]["timestamp"].get<std::string>()) + 90);
  // Attribute uuids are the indicators' own.
  EXPECT_EQ(attribute_uuids(first), attribute_uuids(second));
  EXPECT_EQ(attribute_uuids(first),
            (std::set<std::string>{"11111111-1111-4111-8111-111111111111",
                                   "22222222-2222-4222-8222-222222222222",
                                   "33333333-3333-4333-8333-333333333333"}));
}

TEST(MispExport, NeverExportsARevokedIndicator) {
  const json document = export_ok(request(Tlp::kRed, Tlp::kRed, true));
  EXPECT_EQ(attribute_uuids(document).count("66666666-6666-4666-8666-666666666666"), 0u);
  const std::string dump = document.dump();
  EXPECT_EQ(dump.find("203.0.113.9"), std::string::npos);
  EXPECT_EQ(dump.find("wn-044"), std::string::npos);  // nor its sightings
  EXPECT_EQ(dump.find("\"deleted\":true"), std::string::npos);
}

TEST(MispExport, FiltersIndicatorsByTheDestinationsClearance) {
  struct Case {
    const char* destination;
    Tlp incident, clearance;
    bool local;
    std::set<std::string> values;
  };
  const Case cases[] = {
      {"GREEN peer", Tlp::kGreen, Tlp::kGreen, false, {kSha256, "198.51.100.7"}},
      {"AMBER peer",
       Tlp::kAmber,
       Tlp::kAmber,
       false,
       {kSha256, "198.51.100.7", "pool.evil.example"}},
      {"local",
       Tlp::kAmber,
       Tlp::kRed,
       true,
       {kSha256, "198.51.100.7", "pool.evil.example", "xmrig", "mallory"}},
  };
  for (const Case& c : cases) {
    const json event = export_ok(request(c.incident, c.clearance, c.local))["Event"];
    std::set<std::string> values;
    for (const json& a : event["Attribute"]) {
      values.insert(a["value"].get<std::string>());
      // Each attribute carries its own TLP, as a tag and as its distribution.
      const std::string tlp = a["Tag"][0]["name"].get<std::string>().substr(4);
      const auto parsed = parse_tlp(tlp);
      ASSERT_TRUE(parsed) << tlp;
      EXPECT_TRUE(may_receive(*parsed, c.clearance)) << c.destination << ": " << tlp;
      EXPECT_EQ(a["distribution"], *parsed == Tlp::kClear   ? "3"
                                   : *parsed == Tlp::kGreen ? "2"
                                                            : "0");
    }
    EXPECT_EQ(values, c.values) << c.destination;
  }
}

TEST(MispExport, NamesHostsUsersAndJobsOnlyInALocalExportOfAStrictIncident) {
  struct Case {
    Tlp incident, clearance;
    bool local, names;
  };
  for (const Case& c :
       {Case{Tlp::kAmberStrict, Tlp::kRed, true, true}, Case{Tlp::kRed, Tlp::kRed, true, true},
        Case{Tlp::kAmber, Tlp::kRed, true, false},
        Case{Tlp::kAmberStrict, Tlp::kAmberStrict, false, false},
        Case{Tlp::kRed, Tlp::kRed, false, false}, Case{Tlp::kGreen, Tlp::kGreen, false, false}}) {
    const std::string dump = export_ok(request(c.incident, c.clearance, c.local)).dump();
    for (const char* name :
         {"wn-042", "wn-043", "node-7", "alice", "carol", "bob", "9081726", "9081727", "6540321"}) {
      EXPECT_EQ(dump.find(name) != std::string::npos, c.names)
          << to_string(c.incident) << " local " << c.local << ": " << name;
    }
  }
  const json event = export_ok(request(Tlp::kRed, Tlp::kRed, true))["Event"];
  std::set<std::string> sources;
  for (const json& s : event["Attribute"][0]["Sighting"])
    sources.insert(s["source"].get<std::string>());
  EXPECT_EQ(sources, (std::set<std::string>{"grif/wn-042.grif.fr/alice/9081726",
                                            "grif/wn-043.grif.fr/carol/9081727",
                                            "llr/node-7.llr.fr/bob/6540321"}));
}

TEST(MispExport, AggregatesSightingsPerIndicatorAndSite) {
  const json event = export_ok(request(Tlp::kGreen, Tlp::kGreen))["Event"];
  ASSERT_EQ(event["Attribute"][0]["value"], "198.51.100.7");
  const json& sightings = event["Attribute"][0]["Sighting"];
  ASSERT_EQ(sightings.size(), 2u);
  std::map<std::string, std::string> last_by_site;
  for (const json& s : sightings) {
    EXPECT_EQ(s["uuid"], "11111111-1111-4111-8111-111111111111");  // §Sighting: the attribute
    EXPECT_EQ(s["type"], "0");
    EXPECT_FALSE(s.contains("count"));  // MISP has no count field
    last_by_site[s["source"].get<std::string>()] = s["date_sighting"].get<std::string>();
  }
  EXPECT_EQ(last_by_site,
            (std::map<std::string, std::string>{{"grif", "1772359220"}, {"llr", "1772359205"}}));
  for (std::size_t i = 1; i < event["Attribute"].size(); ++i)
    EXPECT_FALSE(event["Attribute"][i].contains("Sighting"));
}

TEST(MispExport, RefusesAnIncidentStricterThanTheClearance) {
  const auto red = export_misp(request(Tlp::kRed, Tlp::kAmber));
  ASSERT_FALSE(red.ok());
  EXPECT_NE(red.error().find("TLP:red"), std::string::npos) << red.error();
  EXPECT_FALSE(export_misp(request(Tlp::kAmberStrict, Tlp::kAmber)).ok());
  EXPECT_FALSE(export_misp(request(Tlp::kAmber, Tlp::kGreen)).ok());
  ExportRequest no_uuid = request(Tlp::kGreen, Tlp::kGreen);
  no_uuid.incident.uuid = "";
  EXPECT_FALSE(export_misp(no_uuid).ok());
}

// Runs tests/csirt/validate_misp.py under Debian's python3 (python3-jsonschema);
// its exit status, and what it printed in `output`.
int validate(const std::filesystem::path& schema, const std::vector<std::filesystem::path>& files,
             std::string& output) {
  std::string command =
      "/usr/bin/python3 '" +
      (std::filesystem::path(VIGIE_SOURCE_DIR) / "tests" / "csirt" / "validate_misp.py").string() +
      "' '" + schema.string() + "'";
  for (const auto& file : files) command += " '" + file.string() + "'";
  command += " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  const auto path =
      std::filesystem::path(testing::TempDir()) / (std::to_string(getpid()) + "_" + name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(MispExport, ValidatesAgainstTheCorpusSchema) {
  const auto schema = corpus() / "events" / "schema-lax.json";
  std::vector<std::filesystem::path> files;
  files.push_back(
      write_temp("misp_export_peer.json", export_ok(request(Tlp::kGreen, Tlp::kGreen)).dump(2)));
  files.push_back(
      write_temp("misp_export_local.json", export_ok(request(Tlp::kRed, Tlp::kRed, true)).dump(2)));
  std::string output;
  EXPECT_EQ(validate(schema, files, output), 0) << output;

  // A negative control: the validator runs and catches a broken event.
  json broken = export_ok(request(Tlp::kGreen, Tlp::kGreen));
  broken["Event"]["published"] = "no";
  broken["Event"]["Attribute"][0]["to_ids"] = 1;
  output.clear();
  EXPECT_EQ(validate(schema, {write_temp("misp_export_broken.json", broken.dump())}, output), 1)
      << output;
  EXPECT_NE(output.find("'no' is not of type 'boolean'"), std::string::npos) << output;
  EXPECT_NE(output.find("1 is not of type 'boolean'"), std::string::npos) << output;
}

// The draft's own JSON Schema ("# JSON Schema", a draft-04 schema in a ~~~~
// block): stricter than schema-lax.json, it refuses any field it does not list.
TEST(MispExport, ValidatesAgainstTheDraftsEmbeddedSchema) {
  const std::string spec = read_file(corpus() / "spec" / "misp-core-format.md");
  const auto section = spec.find("\n# JSON Schema");
  ASSERT_NE(section, std::string::npos);
  const auto begin = spec.find("~~~~", section) + 4;
  const auto end = spec.find("~~~~", begin);
  ASSERT_NE(end, std::string::npos);
  const auto schema = write_temp("misp_core_format_schema.json", spec.substr(begin, end - begin));
  std::string output;
  EXPECT_EQ(validate(schema,
                     {write_temp("misp_export_strict.json",
                                 export_ok(request(Tlp::kRed, Tlp::kRed, true)).dump())},
                     output),
            0)
      << output;
  // A count in a sighting is not MISP's: the draft's schema refuses it.
  json counted = export_ok(request(Tlp::kGreen, Tlp::kGreen));
  counted["Event"]["Attribute"][0]["Sighting"][0]["count"] = "3";
  output.clear();
  EXPECT_EQ(validate(schema, {write_temp("misp_export_counted.json", counted.dump())}, output), 1)
      << output;
  EXPECT_NE(output.find("'count' was unexpected"), std::string::npos) << output;
}

// What import_misp reads of an export: the same indicators, TLPs and sightings.
TEST(MispExport, ImportsBackAsExported) {
  const json document = export_ok(request(Tlp::kRed, Tlp::kRed, true));
  const auto imported = import_misp(document.dump(), Tlp::kAmber);
  ASSERT_TRUE(imported.ok()) << imported.error();
  std::map<std::string, std::pair<std::string, Tlp>> got;
  for (const Indicator& i : imported->indicators) got[i.uuid] = {i.value, i.tlp};
  std::map<std::string, std::pair<std::string, Tlp>> expected;
  for (const LinkedIndicator& l : request(Tlp::kRed, Tlp::kRed, true).indicators) {
    if (!l.indicator.deleted) expected[l.indicator.uuid] = {l.indicator.value, l.indicator.tlp};
  }
  EXPECT_EQ(got, expected);
  std::set<std::string> where;
  for (const ExchangeSighting& s : imported->sightings) {
    EXPECT_EQ(s.indicator_uuid, "11111111-1111-4111-8111-111111111111");
    where.insert(s.where);
  }
  EXPECT_EQ(where.size(), 3u);
  EXPECT_TRUE(imported->invalid.empty());
  EXPECT_EQ(imported->events, (std::vector<EventStamp>{{kIncidentUuid, 1772524800}}));
}

// A real event imported, its indicators linked to an incident, exported
// again: every attribute uuid it had is kept (the sha256 part of a
// filename|sha256 has its derived uuid), and nothing else is added.
TEST(MispExport, AReExportOfARealEventKeepsEveryAttributeUuid) {
  const auto imported =
      import_misp(read_file(corpus() / "events" / "to_delete3.json"), Tlp::kAmber);
  ASSERT_TRUE(imported.ok()) << imported.error();
  ASSERT_EQ(imported->indicators.size(), 52u);
  ExportRequest r = request(Tlp::kClear, Tlp::kClear);
  r.indicators.clear();
  r.sightings.clear();
  std::set<std::string> uuids;
  for (const Indicator& i : imported->indicators) {
    LinkedIndicator l;
    l.indicator = i;
    r.indicators.push_back(l);
    uuids.insert(i.uuid);
  }
  const json event = export_ok(r)["Event"];
  std::set<std::string> exported;
  for (const json& a : event["Attribute"]) exported.insert(a["uuid"].get<std::string>());
  EXPECT_EQ(exported, uuids);
}

TEST(MispFeed, ParsesTheCorpusManifest) {
  const auto entries = parse_misp_manifest(read_file(corpus() / "feed" / "manifest.json"));
  ASSERT_TRUE(entries.ok()) << entries.error();
  EXPECT_EQ(*entries, (std::vector<MispFeedEntry>{
                          {"56bf399d-c46c-4fdb-a9cf-d9bb02de0b81",
                           "OSINT - Hunting for Malware with Machine Learning", 1455373240}}));
  // The draft's sample manifest ("# Manifest"): string timestamps, sorted by uuid.
  const auto sample = parse_misp_manifest(R"({
    "57c6ac4c-c60c-4f79-a38f-b666950d210f": {
      "info": "Malspam 2016-08-31 (.wsf in .zip) - campaign: Photo",
      "Orgc": {"id": "2", "name": "CIRCL", "uuid": "55f6ea5e-2c60-40e5-964f-47a8950d210f"},
      "analysis": "0", "Tag": [{"colour": "#ffffff", "name": "tlp:white"}],
      "timestamp": "1472638251", "date": "2016-08-31", "threat_level_id": "3"},
    "5720ACCD-dd28-45f8-80e5-4605950d210f": {"info": "Malspam 2016-04-27 - Locky",
      "timestamp": "1461764231", "date": "2016-04-27", "integrity:sha256": "00"}})");
  ASSERT_TRUE(sample.ok()) << sample.error();
  EXPECT_EQ(*sample,
            (std::vector<MispFeedEntry>{
                {"5720accd-dd28-45f8-80e5-4605950d210f", "Malspam 2016-04-27 - Locky", 1461764231},
                {"57c6ac4c-c60c-4f79-a38f-b666950d210f",
                 "Malspam 2016-08-31 (.wsf in .zip) - campaign: Photo", 1472638251}}));
  const auto empty = parse_misp_manifest("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(MispFeed, RefusesAMalformedManifest) {
  struct Case {
    const char* body;
    const char* error;  // part of the message
  };
  const Case cases[] = {
      {R"({"not-a-uuid": {"timestamp": 1}})", "\"not-a-uuid\": the key is not a UUID"},
      {R"({"56bf399d-c46c-4fdb-a9cf-d9bb02de0b8": {"timestamp": 1}})", "not a UUID"},
      {R"({"56bf399d-c46c-4fdb-a9cf-d9bb02de0b81": {"info": "x"}})", "no timestamp"},
      {R"({"56bf399d-c46c-4fdb-a9cf-d9bb02de0b81": {"timestamp": -1}})", "timestamp"},
      {R"({"56bf399d-c46c-4fdb-a9cf-d9bb02de0b81": {"timestamp": 1.5}})", "timestamp"},
      {R"({"56bf399d-c46c-4fdb-a9cf-d9bb02de0b81": {"timestamp": "12a"}})", "timestamp"},
      {R"({"56bf399d-c46c-4fdb-a9cf-d9bb02de0b81": {"timestamp": ""}})", "timestamp"},
      {R"({"56bf399d-c46c-4fdb-a9cf-d9bb02de0b81": {"timestamp": "-5"}})", "timestamp"},
      {R"({"56bf399d-c46c-4fdb-a9cf-d9bb02de0b81": {"timestamp": "99999999999999999999"}})",
       "timestamp"},
      {R"({"56bf399d-c46c-4fdb-a9cf-d9bb02de0b81": {"timestamp": null}})", "timestamp"},
      {R"({"56bf399d-c46c-4fdb-a9cf-d9bb02de0b81": {"timestamp": 1, "info": 5}})", "info"},
      {R"({"56bf399d-c46c-4fdb-a9cf-d9bb02de0b81": 1455373240})", "not an object"},
      {R"({"56bf399d-c46c-4fdb-a9cf-d9bb02de0b81": {"timestamp": 1},
           "56BF399D-c46c-4fdb-a9cf-d9bb02de0b81": {"timestamp": 2}})",
       "twice"},
      {R"([{"56bf399d-c46c-4fdb-a9cf-d9bb02de0b81": {"timestamp": 1}}])", "not a JSON object"},
      {R"("manifest")", "not a JSON object"},
      {R"({"56bf399d-c46c-4fdb-a9cf-d9bb02de0b81": )", "not JSON"},
  };
  for (const Case& c : cases) {
    const auto parsed = parse_misp_manifest(c.body);
    ASSERT_FALSE(parsed.ok()) << c.body;
    EXPECT_NE(parsed.error().find(c.error), std::string::npos) << c.body << ": " << parsed.error();
  }
  EXPECT_FALSE(parse_misp_manifest(std::string(kMaxBodyBytes + 1, ' ')).ok());
}

TEST(MispFeed, FetchesNewAndChangedEventsOnly) {
  const std::vector<MispFeedEntry> manifest = {
      {"11111111-0000-4000-8000-000000000001", "new", 100},
      {"11111111-0000-4000-8000-000000000002", "changed", 200},
      {"11111111-0000-4000-8000-000000000003", "unchanged", 300},
  };
  const std::vector<EventStamp> known = {
      {"11111111-0000-4000-8000-000000000002", 150},
      {"11111111-0000-4000-8000-000000000003", 300},
      {"11111111-0000-4000-8000-000000000009", 900},  // gone from the feed: nothing to fetch
  };
  EXPECT_EQ(events_to_fetch(manifest, known),
            (std::vector<std::string>{"11111111-0000-4000-8000-000000000001",
                                      "11111111-0000-4000-8000-000000000002"}));
  EXPECT_EQ(events_to_fetch(manifest, {}).size(), 3u);
  EXPECT_TRUE(events_to_fetch({}, known).empty());
}

TEST(MispFeed, ManifestOfExportsRoundTrips) {
  ExportRequest first = request(Tlp::kGreen, Tlp::kGreen);
  ExportRequest second = request(Tlp::kClear, Tlp::kGreen);
  second.incident.id = "grif-2026-0008";
  second.incident.uuid = "7a3d2e1f-4b5c-4d6e-9f01-23456789abcd";
  second.incident.title = "Phishing";
  second.now_ns = kNowNs + 3600 * kSecondNs;
  const std::vector<json> events = {export_ok(first), export_ok(second)};
  const json manifest = misp_manifest(events);
  ASSERT_EQ(manifest.size(), 2u);
  const json& entry = manifest[kIncidentUuid];
  for (const char* key : {"info", "Orgc", "analysis", "timestamp", "date", "threat_level_id"})
    EXPECT_EQ(entry[key], events[0]["Event"][key]) << key;
  EXPECT_EQ(entry["Tag"], json::parse(R"([{"name":"tlp:green","colour":"#339900"}])"));

  const auto parsed = parse_misp_manifest(manifest.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(*parsed,
            (std::vector<MispFeedEntry>{
                {kIncidentUuid, "grif-2026-0007: Cryptominer on the worker nodes", 1772524800},
                {"7a3d2e1f-4b5c-4d6e-9f01-23456789abcd", "grif-2026-0008: Phishing", 1772528400}}));
  // A feed reader that read both at these timestamps fetches nothing more.
  EXPECT_TRUE(events_to_fetch(*parsed, {{kIncidentUuid, 1772524800},
                                        {"7a3d2e1f-4b5c-4d6e-9f01-23456789abcd", 1772528400}})
                  .empty());
  EXPECT_TRUE(
      misp_manifest({json::array(), json{{"Event", 5}}, json{{"Event", {{"uuid", "x"}}}}}).empty());
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(MispFeed, WritesHashesCsvAsMispFeedsDo) {
  const json document = export_ok(request(Tlp::kGreen, Tlp::kGreen));
  const auto csv = misp_hashes_csv({document});
  ASSERT_FALSE(csv.empty());
  EXPECT_EQ(csv.back(), '\n');
  const auto got = lines(csv);
  ASSERT_EQ(got.size(), document["Event"]["Attribute"].size());
  // printf %s 198.51.100.7 | md5sum
  EXPECT_EQ(got[0], std::string("526291673f8700ef4e4902e29550a03b,") + kIncidentUuid);
  // printf %s <kSha256> | md5sum
  EXPECT_EQ(got[1], std::string("fe3a1ff59f3b89b2ad3d33f08984874b,") + kIncidentUuid);

  // A composite value is hashed part by part; objects' attributes count too.
  const json composite = json::parse(R"({"Event": {"uuid": "56bf399d-c46c-4fdb-a9cf-d9bb02de0b81",
    "Attribute": [{"type": "filename|sha256",
                   "value": "evil.exe|0123456789abcdef0123456789abcdef0123456789abcdef01234567)"
                                     R"(89abcdef"}],
    "Object": [{"Attribute": [{"type": "target-user", "value": "mallory"}, {"type": "x"}]}]}})");
  EXPECT_EQ(lines(misp_hashes_csv({composite})),
            (std::vector<std::string>{
                "27ad5239e11f88e03661da7a622b7603,56bf399d-c46c-4fdb-a9cf-d9bb02de0b81",
                "fe3a1ff59f3b89b2ad3d33f08984874b,56bf399d-c46c-4fdb-a9cf-d9bb02de0b81",
                "2fbeefa3a12d1bf0ce004e4af7e0cf6f,56bf399d-c46c-4fdb-a9cf-d9bb02de0b81"}));

  // The corpus's feed event (one link attribute).
  const json feed_event =
      json::parse(read_file(corpus() / "feed" / "56bf399d-c46c-4fdb-a9cf-d9bb02de0b81.json"));
  EXPECT_EQ(misp_hashes_csv({feed_event}),
            "8da1221f97281cc0d25a9b562daf03e5,56bf399d-c46c-4fdb-a9cf-d9bb02de0b81\n");
  EXPECT_EQ(misp_hashes_csv({json::object(), json{{"Event", {{"uuid", 7}}}}}), "");
}

}  // namespace
}  // namespace vigie::csirt
