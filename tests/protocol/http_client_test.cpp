#include "vigie/protocol/http_client.h"

#include <gtest/gtest.h>

namespace vigie::protocol {
namespace {

using std::chrono::seconds;

// 2026-11-21T12:00:00Z.
const auto kNow = std::chrono::system_clock::from_time_t(1795262400);

TEST(RetryAfter, DelaySeconds) {
  EXPECT_EQ(parse_retry_after("1", kNow), seconds(1));
  EXPECT_EQ(parse_retry_after(" 120\t", kNow), seconds(120));
  EXPECT_EQ(parse_retry_after("0", kNow), seconds(0));
  EXPECT_EQ(parse_retry_after("999999999999", kNow), seconds(86400));  // capped at a day
}

TEST(RetryAfter, ImfFixdate) {
  EXPECT_EQ(parse_retry_after("Sat, 21 Nov 2026 12:00:30 GMT", kNow), seconds(30));
  EXPECT_EQ(parse_retry_after("Sat, 21 Nov 2026 11:00:00 GMT", kNow), seconds(0));  // past
  EXPECT_EQ(parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", kNow), seconds(86400));
}

TEST(RetryAfter, AnythingElseIsIgnored) {
  for (const char* value : {"", "  ", "-1", "1.5", "soon", "Saturday, 21-Nov-26 12:00:30 GMT",
                            "Sat Nov 21 12:00:30 2026", "Sat, 21 Nov 2026 12:00:30 CET",
                            "Sat, 21 Nov 2026 12:00:30 GMT trailing"}) {
    EXPECT_EQ(parse_retry_after(value, kNow), std::nullopt) << "'" << value << "'";
  }
}

}  // namespace
}  // namespace vigie::protocol
