#include "vigie/csirt/exchange.h"

#include <gtest/gtest.h>

namespace vigie::csirt {
namespace {

TEST(UuidV5, MatchesRfc4122NameBasedUuids) {
  // Python's uuid.uuid5(uuid.NAMESPACE_DNS, "python.org"), a published example.
  EXPECT_EQ(uuid_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  // STIX 2.1 §2.9's SCO namespace over {"value":"198.51.100.3"}; the same
  // input twice gives the same id, another value another one.
  const std::string a =
      uuid_v5("00abedb4-aa42-466c-9c01-fed23315a9b7", R"({"value":"198.51.100.3"})");
  EXPECT_EQ(a, uuid_v5("00abedb4-aa42-466c-9c01-fed23315a9b7", R"({"value":"198.51.100.3"})"));
  EXPECT_NE(a, uuid_v5("00abedb4-aa42-466c-9c01-fed23315a9b7", R"({"value":"198.51.100.4"})"));
  EXPECT_EQ(a[14], '5');
  EXPECT_TRUE(uuid_v5("not-a-uuid", "x").empty());
  EXPECT_TRUE(uuid_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c", "x").empty());
}

TEST(ExportRequest, NamesOnlyInALocalExportOfAStrictIncident) {
  ExportRequest request;
  request.incident.tlp = Tlp::kAmberStrict;
  request.clearance = Tlp::kRed;
  EXPECT_FALSE(names_allowed(request));  // not local
  request.local = true;
  EXPECT_TRUE(names_allowed(request));
  request.incident.tlp = Tlp::kAmber;
  EXPECT_FALSE(names_allowed(request));
  request.incident.tlp = Tlp::kRed;
  request.clearance = Tlp::kAmber;
  EXPECT_FALSE(names_allowed(request));
  EXPECT_TRUE(may_receive(Tlp::kGreen, Tlp::kAmber));
  EXPECT_TRUE(may_receive(Tlp::kAmber, Tlp::kAmber));
  EXPECT_FALSE(may_receive(Tlp::kAmberStrict, Tlp::kAmber));
  EXPECT_TRUE(may_receive(Tlp::kRed, Tlp::kRed));
}

}  // namespace
}  // namespace vigie::csirt
