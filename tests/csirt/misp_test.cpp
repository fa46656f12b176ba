#include "vigie/csirt/misp.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace vigie::csirt {
namespace {

// A MISP event as exported (MISP core format): the event's TLP tag, an
// attribute with its own, a revoked one, one not for detection, a composite
// filename|sha256 in an object, types Vigie does not observe, a bad value.
constexpr const char* kEvent = R"({"Event": {
  "uuid": "5e0f1c2a-0000-4000-8000-00000000abcd", "info": "Miner campaign",
  "Tag": [{"name": "tlp:green"}, {"name": "misp-galaxy:threat-actor=\"x\""}],
  "Attribute": [
    {"type": "ip-dst|port", "value": "198.51.100.7|3333", "to_ids": true, "comment": "pool"},
    {"type": "domain", "value": "Pool.Example.", "to_ids": true, "Tag": [{"name": "tlp:amber+strict"}]},
    {"type": "ip-dst", "value": "198.51.100.8", "to_ids": true, "deleted": true},
    {"type": "hostname", "value": "c2.example", "to_ids": false},
    {"type": "link", "value": "https://blog.example/post"},
    {"type": "ip-src", "value": "not-an-ip", "to_ids": true},
    {"type": "url", "value": "https://pool.example/x", "to_ids": true, "uuid": 7}],
  "Object": [{"name": "file", "Attribute": [
    {"type": "filename|sha256",
     "value": "xmrig|AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
     "to_ids": "1"}]}]}})";

TEST(MispImport, KeepsEachIndicatorsTlpRevocationAndDetectionFlag) {
  const auto imported = import_misp(kEvent, Tlp::kAmber);
  ASSERT_TRUE(imported) << imported.error();
  const auto& all = imported->indicators;
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(imported->format, "misp");
  EXPECT_EQ(imported->counts.revoked, 1u);  // 198.51.100.8
  EXPECT_EQ(imported->counts.skipped, 1u);  // c2.example: to_ids false
  EXPECT_EQ(imported->counts.unsupported,
            1u);                            // the link (the url's uuid is not a string: invalid)
  ASSERT_EQ(imported->invalid.size(), 2u);  // not-an-ip, the url
  EXPECT_EQ(imported->counts.invalid, 2u);
  EXPECT_NE(imported->invalid[1].find("'uuid' is not a UUID"), std::string::npos);
  ASSERT_EQ(imported->context.size(), 1u);  // the link, kept, never matched
  EXPECT_EQ(imported->context[0].type, "link");
  EXPECT_EQ(imported->context[0].tlp, Tlp::kGreen);
  EXPECT_EQ(all[0].value, "198.51.100.7");
  EXPECT_EQ(all[0].tlp, Tlp::kGreen);  // the event's
  EXPECT_EQ(all[0].source, "misp:5e0f1c2a-0000-4000-8000-00000000abcd");
  EXPECT_EQ(all[0].comment, "pool");
  EXPECT_EQ(all[0].tags, std::vector<std::string>{"misp-galaxy:threat-actor=\"x\""});
  EXPECT_EQ(all[1].value, "pool.example");
  EXPECT_EQ(all[1].tlp, Tlp::kAmberStrict);  // its own tag wins
  EXPECT_TRUE(all[2].deleted);
  EXPECT_FALSE(active(all[2], 1));  // a revoked indicator never matches
  EXPECT_FALSE(all[3].to_ids);
  EXPECT_EQ(all[4].type, ObservableType::kFileName);
  EXPECT_EQ(all[5].type, ObservableType::kSha256);
  EXPECT_EQ(all[5].value, std::string(64, 'a'));
  EXPECT_TRUE(all[5].to_ids);  // "1", as older exports write it
}

TEST(MispImport, ListsBareEventsAndRefusals) {
  const auto list = import_misp(
      R"([{"Event": {"Attribute": [{"type": "sha256", "value": ")" + std::string(64, 'b') +
          R"("}]}}, {"Attribute": [{"type": "target-user", "value": "mallory"}]}])",
      Tlp::kRed);
  ASSERT_TRUE(list) << list.error();
  ASSERT_EQ(list->indicators.size(), 2u);
  EXPECT_EQ(list->indicators[1].tlp, Tlp::kRed);  // no tag: the fallback
  EXPECT_EQ(list->indicators[1].source, "misp:unknown");
  const auto white = import_misp(
      R"({"Event": {"Tag": [{"name": "tlp:white"}], "Attribute": [{"type": "user", "value": "x"}]}})",
      Tlp::kRed);
  ASSERT_TRUE(white) << white.error();
  EXPECT_EQ(white->indicators[0].tlp, Tlp::kClear);  // TLP 1.0 white is 2.0 CLEAR
  EXPECT_FALSE(import_misp("{", Tlp::kAmber));
  EXPECT_FALSE(import_misp(R"({"response": 1})", Tlp::kAmber));
  EXPECT_FALSE(import_misp(R"({"response": []})", Tlp::kAmber));  // no event at all
  EXPECT_FALSE(import_misp(R"([1])", Tlp::kAmber));
}

std::string corpus_file(const std::string& name) {
  const auto path = std::filesystem::path(VIGIE_SOURCE_DIR) / ".." / "shared" / "corpus" / "csirt" /
                    "misp" / name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "no " << path << " (shared/ must sit beside the checkout)";
  return {std::istreambuf_iterator<char>(in), {}};
}

// The real MISP events of the corpus, counted by reading them (per attribute:
// type, to_ids, deleted; an object's attributes included).
TEST(MispImport, RealEventsImportWithTheCountsTheyHold) {
  struct Expected {
    const char* file;
    std::size_t indicators;  // of a type Vigie matches, for detection
    uint64_t skipped, unsupported;
    std::size_t sightings;
    Tlp tlp;
  };
  const Expected expected[] = {
      // CIRCL ransomware event, tlp:white: filename and sha256 match; md5, sha1
      // and regkey|value are for detection but unmatchable; comment, text and
      // two links are not for detection.
      {"events/57c4445b-c548-4654-af0b-4be3950d210f.json", 2, 4, 3, 0, Tlp::kClear},
      // Emotet/Qakbot OSINT, tlp:white, 96 attributes: 19 ip-dst, 24 more in
      // 24 ip-port objects, 4 filename, 5 sha256 (52 indicators); 5 md5 and 5
      // sha1 unmatchable (10); 24 port, 6 link, 3 regkey, 1 comment not for
      // detection (34).
      {"events/to_delete3.json", 52, 34, 10, 0, Tlp::kClear},
      // Ursnif domains with sightings, no TLP tag (the fallback): 4 domains,
      // a url (unmatchable); 6 MISP sightings on 5 attributes, of which 2 of
      // type "0" (seen: a domain, the url); three are false positives
      // (type "1") and one an expiration (type "2"), which are not sightings.
      {"events/sighting_1.json", 4, 0, 1, 2, Tlp::kAmber},
      // The feed sample: one link, not for detection.
      {"feed/56bf399d-c46c-4fdb-a9cf-d9bb02de0b81.json", 0, 1, 0, 0, Tlp::kClear},
  };
  for (const auto& e : expected) {
    SCOPED_TRACE(e.file);
    const auto imported = import_misp(corpus_file(e.file), Tlp::kAmber);
    ASSERT_TRUE(imported) << imported.error();
    EXPECT_EQ(imported->indicators.size(), e.indicators);
    EXPECT_EQ(imported->counts.skipped, e.skipped);
    EXPECT_EQ(imported->counts.unsupported, e.unsupported);
    EXPECT_EQ(imported->counts.revoked, 0u);
    EXPECT_EQ(imported->invalid, std::vector<std::string>{});
    EXPECT_EQ(imported->sightings.size(), e.sightings);
    ASSERT_EQ(imported->events.size(), 1u);
    for (const auto& i : imported->indicators) {
      EXPECT_EQ(i.tlp, e.tlp);
      EXPECT_EQ(i.uuid.size(), 36u);  // the attribute's, kept for re-exports
      EXPECT_TRUE(i.to_ids);
    }
  }
  // {"response": [...]}, MISP's REST search answer, holds the same events.
  const auto response =
      import_misp(R"({"response": [)" + corpus_file("events/sighting_1.json") + "]}", Tlp::kAmber);
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->indicators.size(), 4u);
  EXPECT_EQ(response->events[0].uuid, "5b646415-7b48-40d5-86b4-c0070acd0835");
  EXPECT_EQ(response->events[0].timestamp, 1533306089u);
}

}  // namespace
}  // namespace vigie::csirt
