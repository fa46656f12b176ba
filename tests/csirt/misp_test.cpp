#include "vigie/csirt/misp.h"

#include <gtest/gtest.h>

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
    {"type": "ip-src", "value": "not-an-ip", "to_ids": true}],
  "Object": [{"name": "file", "Attribute": [
    {"type": "filename|sha256",
     "value": "xmrig|AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
     "to_ids": "1"}]}]}})";

TEST(MispImport, KeepsEachIndicatorsTlpRevocationAndDetectionFlag) {
  const auto imported = indicators_from_misp(kEvent, Tlp::kAmber);
  ASSERT_TRUE(imported) << imported.error();
  const auto& all = imported->indicators;
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(imported->skipped, 1u);          // the link
  EXPECT_EQ(imported->problems.size(), 1u);  // not-an-ip
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
  const auto list = indicators_from_misp(
      R"([{"Event": {"Attribute": [{"type": "sha256", "value": ")" + std::string(64, 'b') +
          R"("}]}}, {"Attribute": [{"type": "target-user", "value": "mallory"}]}])",
      Tlp::kRed);
  ASSERT_TRUE(list) << list.error();
  ASSERT_EQ(list->indicators.size(), 2u);
  EXPECT_EQ(list->indicators[1].tlp, Tlp::kRed);  // no tag: the fallback
  EXPECT_EQ(list->indicators[1].source, "misp:unknown");
  const auto white = indicators_from_misp(
      R"({"Event": {"Tag": [{"name": "tlp:white"}], "Attribute": [{"type": "user", "value": "x"}]}})",
      Tlp::kRed);
  ASSERT_TRUE(white) << white.error();
  EXPECT_EQ(white->indicators[0].tlp, Tlp::kClear);  // TLP 1.0 white is 2.0 CLEAR
  EXPECT_FALSE(indicators_from_misp("{", Tlp::kAmber));
  EXPECT_FALSE(indicators_from_misp(R"({"response": 1})", Tlp::kAmber));
  EXPECT_FALSE(indicators_from_misp(R"([1])", Tlp::kAmber));
}

}  // namespace
}  // namespace vigie::csirt
