// STIX 2.1 in (csirt/stix.h): the OASIS example bundles and the published
// TLP 2.0 marking-definitions of ../shared/corpus/csirt/, the pattern subset,
// and the bundles refused whole.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "vigie/csirt/json.h"
#include "vigie/csirt/stix.h"

namespace vigie::csirt {
namespace {

using nlohmann::json;

const std::filesystem::path kCorpus =
    std::filesystem::path(VIGIE_SOURCE_DIR) / ".." / "shared" / "corpus" / "csirt";

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string example(const char* name) { return read(kCorpus / "stix2" / "examples" / name); }

struct Counts {
  std::size_t indicators = 0, context = 0, sightings = 0, relationships = 0, invalid = 0;
  bool operator==(const Counts&) const = default;
};
Counts counts_of(const ExchangeImport& imported) {
  // The import's own counts agree with what it holds (no revoked object in these).
  EXPECT_EQ(imported.counts.unsupported, imported.context.size());
  EXPECT_EQ(imported.counts.invalid, imported.invalid.size());
  return {imported.indicators.size(), imported.context.size(), imported.sightings.size(),
          imported.relationships.size(), imported.invalid.size()};
}
std::ostream& operator<<(std::ostream& out, const Counts& c) {
  return out << "{indicators " << c.indicators << ", context " << c.context << ", sightings "
             << c.sightings << ", relationships " << c.relationships << ", invalid " << c.invalid
             << "}";
}

// Each OASIS example (stix2/examples/), with what it holds for the IOC store.
struct ExampleCase {
  const char* file;
  Counts counts;
};
const ExampleCase kExamples[] = {
    // One indicator, [ipv4-addr:value = '10.0.0.0'].
    {"indicator-for-c2-ip-address.json", {1, 0, 0, 0, 0}},
    // campaign (not imported), an indicator "[ ipv4-addr:value = '10.0.0.0' ]" (spaces inside
    // the brackets), one "indicates" relationship.
    {"indicator-to-campaign-relationship.json", {1, 0, 0, 1, 0}},
    // identity, malware, course-of-action (not imported); 2 indicators (IPv4 and
    // file:hashes.'SHA-256'); 3 relationships (mitigates, indicates ×2).
    {"indicators-for-C2-with-COA.json", {2, 0, 0, 3, 0}},
    // 2 infrastructure, 2 malware, the SCOs ipv4-addr and domain-name (observed facts, not
    // indicators: not imported); 4 relationships (controls, consists-of ×2, uses), one of them
    // with an upper-case hex id, accepted.
    {"infrastructure.json", {0, 0, 0, 4, 0}},
    // identity, attack-pattern; both indicators MATCHES regexes on email-message: context;
    // 2 indicates relationships.
    {"malicious-email-indicator-with-attachment.json", {0, 2, 0, 2, 0}},
    // One file:hashes.'SHA-256' indicator, malware, one indicates relationship.
    {"malware-indicator-for-file-hash.json", {1, 0, 0, 1, 0}},
    // A url:value indicator (context: Vigie matches no URLs), 2 identities, one sighting of
    // that indicator.
    {"sighting-of-an-indicator.json", {0, 1, 1, 0, 0}},
    // identities, malware, file and windows-registry-key SCOs, 2 observed-data; its sighting is
    // of the malware, not of an indicator: nothing for the store.
    {"sighting-of-observed-data.json", {0, 0, 0, 0, 0}},
};

TEST(StixImport, EveryOasisExampleImportsWithTheExpectedCounts) {
  for (const auto& [file, counts] : kExamples) {
    const auto imported = import_stix(example(file));
    ASSERT_TRUE(imported) << file << ": " << imported.error();
    EXPECT_EQ(counts_of(*imported), counts) << file;
    EXPECT_EQ(imported->format, "stix");
    for (const auto& reason : imported->invalid) ADD_FAILURE() << file << ": " << reason;
  }
}

TEST(StixImport, ReadsAnIndicatorsFields) {
  const auto imported = import_stix(example("indicator-for-c2-ip-address.json"));
  ASSERT_TRUE(imported) << imported.error();
  ASSERT_EQ(imported->indicators.size(), 1u);
  const Indicator& i = imported->indicators[0];
  EXPECT_EQ(i.uuid, "33fe3b22-0201-47cf-85d0-97c02164528d");
  EXPECT_EQ(i.type, ObservableType::kIp);
  EXPECT_EQ(i.value, "10.0.0.0");
  EXPECT_TRUE(i.to_ids);
  EXPECT_FALSE(i.deleted);
  EXPECT_EQ(i.tlp, Tlp::kAmber);  // unmarked
  EXPECT_EQ(i.source, "stix:bundle--44af6c39-c09b-49c5-9de2-394224b04982");
  EXPECT_EQ(i.comment, "IP Address for known C2 channel: Test description C2 channel.");
  EXPECT_EQ(i.tags, std::vector<std::string>{"malicious-activity"});
  EXPECT_EQ(i.valid_until_ns, 0u);
}

TEST(StixImport, ReadsTheHashIndicatorAndTheRelationships) {
  const auto imported = import_stix(example("indicators-for-C2-with-COA.json"));
  ASSERT_TRUE(imported) << imported.error();
  ASSERT_EQ(imported->indicators.size(), 2u);
  EXPECT_EQ(imported->indicators[1].type, ObservableType::kSha256);
  EXPECT_EQ(imported->indicators[1].value,
            "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c");
  EXPECT_EQ(imported->indicators[1].uuid, "a932fcc6-e032-476c-826f-cb970a5a1ade");
  ASSERT_EQ(imported->relationships.size(), 3u);
  EXPECT_EQ(imported->relationships[1],
            (ExchangeRelationship{"indicator--a932fcc6-e032-476c-826f-cb970a5a1ade", "indicates",
                                  "malware--fdd60b30-b67c-41e3-b0b9-f01faf20d111"}));
}

TEST(StixImport, KeepsUnsupportedPatternsAsContext) {
  const auto imported = import_stix(example("malicious-email-indicator-with-attachment.json"));
  ASSERT_TRUE(imported) << imported.error();
  ASSERT_EQ(imported->context.size(), 2u);
  const ContextItem& item = imported->context[0];
  EXPECT_EQ(item.type, "stix-pattern");
  EXPECT_EQ(item.value, "[email-message:subject MATCHES '^[IMPORTANT] Please Review Before']");
  EXPECT_EQ(item.tlp, Tlp::kAmber);
  EXPECT_EQ(item.source, "stix:bundle--8b8ed1c1-f01d-4393-ac65-97017ed15876");
  EXPECT_NE(item.comment.find("Malicious E-mail"), std::string::npos) << item.comment;
}

TEST(StixImport, ReadsASightingOfAnIndicator) {
  const auto imported = import_stix(example("sighting-of-an-indicator.json"));
  ASSERT_TRUE(imported) << imported.error();
  ASSERT_EQ(imported->sightings.size(), 1u);
  const ExchangeSighting& s = imported->sightings[0];
  EXPECT_EQ(s.indicator_uuid, "9299f726-ce06-492e-8472-2b52ccb53191");
  EXPECT_EQ(s.first_ns, 1'488'231'431'213'000'000u);  // 2017-02-27T21:37:11.213Z
  EXPECT_EQ(s.last_ns, 1'488'231'431'214'000'000u);
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.where, "identity--5206ba14-478f-4b0b-9a48-395f690c20a2");
  ASSERT_EQ(imported->context.size(), 1u);
  EXPECT_EQ(imported->context[0].value, "[url:value = 'http://paypa1.banking.com']");
}

TEST(StixImport, ReadsALoneObject) {
  const auto imported = import_stix(R"({"type": "indicator", "spec_version": "2.1",
    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "created": "2016-04-06T20:03:48Z", "modified": "2016-04-06T20:03:48.123456789123Z",
    "pattern": "[domain-name:value = 'C2.Example.' OR ipv4-addr:value = '198.51.100.0/24']",
    "pattern_type": "stix", "valid_from": "2016-04-06T20:03:48Z",
    "valid_until": "2030-01-01T00:00:00.5Z", "revoked": true, "labels": ["c2", "c2"],
    "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]})");
  ASSERT_TRUE(imported) << imported.error();
  ASSERT_EQ(imported->indicators.size(), 2u);
  EXPECT_EQ(imported->counts.revoked, 1u);  // one indicator object, two terms
  const auto& [domain, net] = std::pair(imported->indicators[0], imported->indicators[1]);
  EXPECT_EQ(domain.uuid, "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
  EXPECT_EQ(domain.value, "c2.example");
  EXPECT_EQ(net.uuid, uuid_v5("8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "198.51.100.0/24"));
  EXPECT_EQ(net.type, ObservableType::kIp);
  for (const Indicator& i : imported->indicators) {
    EXPECT_EQ(i.source, "stix:indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
    EXPECT_TRUE(i.deleted);
    EXPECT_EQ(i.tlp, Tlp::kGreen);
    EXPECT_EQ(i.valid_until_ns, 1'893'456'000'500'000'000u);
    EXPECT_EQ(i.tags, std::vector<std::string>{"c2"});
  }
}

TEST(StixImport, ALiteralNormaliseRefusesIsInvalid) {
  const auto imported = import_stix(R"({"type": "bundle",
    "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982", "objects": [
    {"type": "indicator", "spec_version": "2.1", "pattern_type": "stix",
     "id": "indicator--33fe3b22-0201-47cf-85d0-97c02164528d",
     "created": "2014-05-08T09:00:00.000Z", "modified": "2014-05-08T09:00:00.000Z",
     "pattern": "[ipv4-addr:value = '999.0.0.1']", "valid_from": "2014-05-08T09:00:00Z"},
    {"type": "indicator", "spec_version": "2.1", "pattern_type": "sigma",
     "id": "indicator--43fe3b22-0201-47cf-85d0-97c02164528d",
     "created": "2014-05-08T09:00:00.000Z", "modified": "2014-05-08T09:00:00.000Z",
     "pattern": "title: x", "valid_from": "2014-05-08T09:00:00Z"}]})");
  ASSERT_TRUE(imported) << imported.error();
  EXPECT_EQ(counts_of(*imported), (Counts{0, 1, 0, 0, 1}));
  ASSERT_EQ(imported->invalid.size(), 1u);
  EXPECT_NE(imported->invalid[0].find("indicator--33fe3b22"), std::string::npos);
  EXPECT_NE(imported->invalid[0].find("999.0.0.1"), std::string::npos);
  EXPECT_EQ(imported->context[0].value, "title: x");  // another pattern_type: context
}

TEST(StixImport, RefusesWhatIsNotABundleOrObject) {
  const auto refused = [](std::string_view body, std::string_view word) {
    const auto imported = import_stix(body);
    ASSERT_FALSE(imported) << body;
    EXPECT_NE(imported.error().find(word), std::string::npos) << imported.error();
  };
  refused("{not json", "JSON");
  refused("[1, 2]", "object");
  refused(R"("bundle")", "object");
  refused(R"({"id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982"})", "type");
  refused(R"({"type": "bundle", "id": "bundle--nope", "objects": []})", "'id'");
  refused(R"({"type": "bundle", "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982",
              "objects": {}})",
          "array");
  // An id whose type is not the object's.
  refused(R"({"type": "bundle", "id": "bundle--44af6c39-c09b-49c5-9de2-394224b04982",
              "objects": [{"type": "domain-name", "value": "example.com",
                           "id": "ipv4-addr--1e4ffad7-0b88-41d4-ba4d-77d27490b956"}]})",
          "not of type 'domain-name'");
  refused(R"({"type": "indicator", "id": "indicator--33fe3b22-0201-47cf-85d0-97c02164528d",
              "spec_version": "2.0", "created": "2014-05-08T09:00:00Z",
              "modified": "2014-05-08T09:00:00Z", "pattern": "[ipv4-addr:value = '10.0.0.1']",
              "pattern_type": "stix"})",
          "spec_version");
  std::string big = example("indicator-for-c2-ip-address.json");
  big.insert(big.size() - 2, std::string(kMaxBodyBytes, ' '));
  refused(big, "exceeds");
}

TEST(StixImport, RefusesTheWholeBundleWithEveryReason) {
  json bundle = json::parse(example("indicators-for-C2-with-COA.json"));
  bundle["objects"][2]["modified"] = "2014-05-08 09:00:00";
  bundle["objects"][5].erase("spec_version");
  bundle["objects"][6]["created"] = "2017-02-30T13:49:53.997Z";
  const auto imported = import_stix(bundle.dump());
  ASSERT_FALSE(imported);
  const std::string& error = imported.error();
  EXPECT_EQ(error.rfind("3 objects refused: ", 0), 0u) << error;
  EXPECT_NE(error.find("indicator--53fe3b22-0201-47cf-85d0-97c02164528d: 'modified'"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad: 'spec_version'"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("relationship--2f9a9aa9-108a-4333-83e2-4fb25add0463: 'created'"),
            std::string::npos)
      << error;
}

// tlp2/examples/using-tlp2.0-green.json: identity, threat-actor and an attributed-to relationship
// marked TLP:GREEN (the marking object itself left out of the bundle).
const std::filesystem::path kUsingGreen = kCorpus / "tlp2" / "examples" / "using-tlp2.0-green.json";

TEST(Tlp2Markings, UsingTlp2GreenImportsOneRelationshipMarkedGreen) {
  const std::string body = read(kUsingGreen);
  const auto imported = import_stix(body);
  ASSERT_TRUE(imported) << imported.error();
  EXPECT_EQ(counts_of(*imported), (Counts{0, 0, 0, 1, 0}));
  EXPECT_EQ(
      imported->relationships[0],
      (ExchangeRelationship{"threat-actor--9a8a0d25-7636-429b-a99e-b2a73cd0f11f", "attributed-to",
                            "identity--1621d4d4-b67d-41e3-9670-f01faf20d111"}));
  // The marking is read as GREEN: the relationship's ref, and an indicator given the same refs.
  json bundle = json::parse(body);
  const json& refs = bundle["objects"][2]["object_marking_refs"];
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(tlp_of_marking(refs[0].get<std::string>()), Tlp::kGreen);
  bundle["objects"].push_back({{"type", "indicator"},
                               {"spec_version", "2.1"},
                               {"id", "indicator--9a8a0d25-7636-429b-a99e-b2a73cd0f11f"},
                               {"created", "2022-10-27T13:49:54.326Z"},
                               {"modified", "2022-10-27T13:49:54.326Z"},
                               {"pattern", "[ipv6-addr:value = '2001:DB8::0:1']"},
                               {"pattern_type", "stix"},
                               {"valid_from", "2022-10-27T13:49:54.326Z"},
                               {"object_marking_refs", refs}});
  const auto marked = import_stix(bundle.dump());
  ASSERT_TRUE(marked) << marked.error();
  ASSERT_EQ(marked->indicators.size(), 1u);
  EXPECT_EQ(marked->indicators[0].tlp, Tlp::kGreen);
  EXPECT_EQ(marked->indicators[0].value, "2001:db8::1");
}

TEST(Tlp2Markings, TheMalformedUpstreamVersionIsRefusedWhole) {
  // tlp2/README.md "Version notes": upstream's version @216329ae has "2022-101-27T…".
  json bundle = json::parse(read(kUsingGreen));
  ASSERT_EQ(bundle["objects"][2]["type"], "relationship");
  bundle["objects"][2]["created"] = "2022-101-27T13:49:54.326Z";
  const auto imported = import_stix(bundle.dump());
  ASSERT_FALSE(imported);
  EXPECT_NE(imported.error().find("relationship--1621d4d4-b67d-41e3-9670-f01faf20d111"),
            std::string::npos)
      << imported.error();
  EXPECT_NE(imported.error().find("'created'"), std::string::npos) << imported.error();
}

TEST(Tlp2Markings, ThePublishedObjectsAreReadAndWrittenExactly) {
  const struct {
    const char* file;
    Tlp tlp;
  } published[] = {
      {"examples/tlp-clear.json", Tlp::kClear},
      {"objects/marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb.json", Tlp::kGreen},
      {"examples/tlp-amber.json", Tlp::kAmber},
      {"examples/tlp-amber+strict.json", Tlp::kAmberStrict},
      {"objects/marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003.json", Tlp::kAmberStrict},
      {"objects/marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1.json", Tlp::kRed},
  };
  for (const auto& [file, tlp] : published) {
    const std::string body = read(kCorpus / "tlp2" / file);
    const json object = json::parse(body)["objects"][0];
    const std::string id = object["id"];
    EXPECT_EQ(tlp_of_marking(id), tlp) << file;
    EXPECT_EQ(tlp_marking_id(tlp), id) << file;
    EXPECT_EQ(tlp_marking_definition(tlp), object) << file;
    const auto imported = import_stix(body);  // a bundle of a marking-definition: nothing to store
    ASSERT_TRUE(imported) << file << ": " << imported.error();
    EXPECT_EQ(counts_of(*imported), Counts{}) << file;
  }
}

TEST(Tlp2Markings, Tlp1IdsMapAndTheMostRestrictedMarkingWins) {
  EXPECT_EQ(tlp_of_marking("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"),
            Tlp::kClear);  // TLP:WHITE
  EXPECT_EQ(tlp_of_marking("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"),
            Tlp::kGreen);
  EXPECT_EQ(tlp_of_marking("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"),
            Tlp::kAmber);
  EXPECT_EQ(tlp_of_marking("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"), Tlp::kRed);
  EXPECT_EQ(tlp_of_marking("marking-definition--62fd3f9b-15f3-4ebc-802c-91fce9536bcf"),
            std::nullopt);  // the repository's licence statement
  EXPECT_EQ(tlp_of_marking(""), std::nullopt);

  const auto marked = [](const json& refs) {
    json indicator = {{"type", "indicator"},
                      {"spec_version", "2.1"},
                      {"id", "indicator--33fe3b22-0201-47cf-85d0-97c02164528d"},
                      {"created", "2014-05-08T09:00:00.000Z"},
                      {"modified", "2014-05-08T09:00:00.000Z"},
                      {"pattern", "[file:name = 'xmrig']"},
                      {"pattern_type", "stix"},
                      {"valid_from", "2014-05-08T09:00:00Z"}};
    if (!refs.is_null()) indicator["object_marking_refs"] = refs;
    const auto imported = import_stix(indicator.dump());
    EXPECT_TRUE(imported && imported->indicators.size() == 1);
    return imported ? imported->indicators.at(0).tlp : Tlp::kClear;
  };
  EXPECT_EQ(marked(nullptr), Tlp::kAmber);
  EXPECT_EQ(marked(json::array()), Tlp::kAmber);
  EXPECT_EQ(marked({"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"}), Tlp::kClear);
  EXPECT_EQ(marked({"marking-definition--62fd3f9b-15f3-4ebc-802c-91fce9536bcf"}), Tlp::kAmber);
  EXPECT_EQ(marked({"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
                    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
                    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"}),
            Tlp::kAmberStrict);
  EXPECT_EQ(marked({"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
                    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"}),
            Tlp::kRed);
}

TEST(StixPattern, AcceptsTheSubset) {
  const std::string hash = "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c";
  const std::string upper = "EF537F25C895BFA782526529A9B63D97AA631564D5D789C2B765448C8635FB6C";
  const struct {
    std::string pattern;
    std::vector<PatternTerm> terms;
  } accepted[] = {
      {"[ipv4-addr:value = '198.51.100.1']", {{ObservableType::kIp, "198.51.100.1"}}},
      {"[ipv4-addr:value = '10.1.2.3/8']", {{ObservableType::kIp, "10.0.0.0/8"}}},
      {"[ipv6-addr:value = '2001:db8:0::1']", {{ObservableType::kIp, "2001:db8::1"}}},
      {"[ipv6-addr:value = '2001:db8::/32']", {{ObservableType::kIp, "2001:db8::/32"}}},
      {"[domain-name:value = 'Example.COM']", {{ObservableType::kDomain, "example.com"}}},
      {"[domain-name:value = 'x.example' OR ipv4-addr:value = '10.0.0.0/8']",
       {{ObservableType::kDomain, "x.example"}, {ObservableType::kIp, "10.0.0.0/8"}}},
      {"[file:hashes.'SHA-256' = '" + hash + "']", {{ObservableType::kSha256, hash}}},
      {"[file:hashes.SHA256 = '" + upper + "']", {{ObservableType::kSha256, hash}}},
      {"[file:hashes.sha256 = '" + hash + "']", {{ObservableType::kSha256, hash}}},
      {"[file:hashes.'sha-256' = '" + hash + "']", {{ObservableType::kSha256, hash}}},
      {"[file:name = 'xmrig']", {{ObservableType::kFileName, "xmrig"}}},
      {"[file:'name' = 'it\\'s']", {{ObservableType::kFileName, "it's"}}},
      {"[file:name = 'a\\\\b']", {{ObservableType::kFileName, "a\\b"}}},
      {" \t\n[ ( file:name='a' ) OR (file:name = 'b' OR file:name = 'a') ]\r\n",
       {{ObservableType::kFileName, "a"}, {ObservableType::kFileName, "b"}}},
      {"([ipv4-addr:value = '192.0.2.1']) OR [domain-name:value = 'c2.example']",
       {{ObservableType::kIp, "192.0.2.1"}, {ObservableType::kDomain, "c2.example"}}},
  };
  for (const auto& [pattern, terms] : accepted) {
    const auto parsed = parse_stix_pattern(pattern);
    ASSERT_TRUE(parsed) << pattern << ": " << parsed.error();
    EXPECT_EQ(*parsed, terms) << pattern;
  }
}

TEST(StixPattern, RefusesWhatItCannotMatchSayingWhat) {
  const struct {
    const char* pattern;
    const char* word;
  } refused[] = {
      {"[file:name = 'a' AND file:size = 3]", "AND"},
      {"[ipv4-addr:value = '10.0.0.1'] AND [file:name = 'a']", "AND"},
      {"[ipv4-addr:value = '10.0.0.1'] FOLLOWEDBY [file:name = 'a']", "FOLLOWEDBY"},
      {"[email-message:subject MATCHES '^x']", "MATCHES"},
      {"[ipv4-addr:value != '10.0.0.1']", "!="},
      {"[ipv4-addr:value NOT = '10.0.0.1']", "NOT"},
      {"[ipv4-addr:value IN ('10.0.0.1', '10.0.0.2')]", "IN"},
      {"[url:value = 'http://paypa1.banking.com']", "url:value"},
      {"[file:hashes.MD5 = '1717b7fff97d37a1e1a0029d83492de1']", "file:hashes.MD5"},
      {"[file:size = 3]", "file:size"},
      {"[file:name = 3]", "literal"},
      {"[ipv4-addr:value = '10.0.0.1'] WITHIN 5 SECONDS", "WITHIN"},
      {"[ipv4-addr:value = '10.0.0.1'] REPEATS 5 TIMES", "REPEATS"},
      {"[ipv4-addr:value = '10.0.0.1'] START t'2016-06-01T00:00:00Z' STOP "
       "t'2016-07-01T00:00:00Z'",
       "START"},
      {"[file:name = 'abc]", "unterminated"},
      {"[file:name = 'a\\nb']", "escape"},
      {"[file:name = 'a'", "']'"},
      {"", "empty"},
      {"garbage", "STIX pattern"},
      {"[ipv4-addr:value = '10.0.0.1'] trailing", "after"},
      {"[ipv4-addr:value = '999.1.1.1']", "999.1.1.1"},
      {"[ipv4-addr:value = '2001:db8::1']", "IPv4"},
      {"[ipv6-addr:value = '192.0.2.1']", "IPv6"},
      {"[file:hashes.'SHA-256' = 'abc']", "SHA-256"},
      {"[ipv4-addr:value = '10.0.0.1|80']", "IPv4"},
      {"[domain-name:value = '']", "domain"},
  };
  for (const auto& [pattern, word] : refused) {
    const auto parsed = parse_stix_pattern(pattern);
    ASSERT_FALSE(parsed) << pattern;
    EXPECT_NE(parsed.error().find(word), std::string::npos) << pattern << ": " << parsed.error();
  }
  // Nesting is bounded: the parser recurses.
  const std::string deep = std::string(1000, '(') + "[file:name = 'a']" + std::string(1000, ')');
  const auto parsed = parse_stix_pattern(deep);
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().find("deeper"), std::string::npos) << parsed.error();
}

}  // namespace
}  // namespace vigie::csirt
