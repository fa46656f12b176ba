#include "vigie/workload/user_cache.h"

#include <gtest/gtest.h>

namespace vigie::workload {
namespace {

TEST(UserCacheTest, ResolvesNamesAndFallsBackToNumber) {
  UserCache users(2);
  EXPECT_EQ(users.name(0), "root");
  EXPECT_EQ(users.name(3999999999u), "3999999999");
  EXPECT_EQ(users.name(0), "root");  // cached, then cleared at the bound
  EXPECT_EQ(users.name(3999999998u), "3999999998");
}

}  // namespace
}  // namespace vigie::workload
