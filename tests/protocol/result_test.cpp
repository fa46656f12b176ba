#include "vigie/protocol/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace vigie::protocol {
namespace {

Result<int> parse_port(const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    return fail("port '" + text + "' is not a number");
  }
  return std::stoi(text);
}

TEST(Result, HoldsTheValueOrTheError) {
  const auto port = parse_port("9800");
  ASSERT_TRUE(port);
  EXPECT_TRUE(port.ok());
  EXPECT_EQ(*port, 9800);
  EXPECT_EQ(port.value_or(1), 9800);

  const auto bad = parse_port("98x0");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "port '98x0' is not a number");
  EXPECT_EQ(bad.value_or(1), 1);
}

TEST(Result, TheWrongHalfIsAProgrammingErrorNotAValue) {
  EXPECT_THROW((void)parse_port("x").value(), std::logic_error);
  EXPECT_THROW((void)parse_port("1").error(), std::logic_error);
  const Result<void> done;
  EXPECT_TRUE(done);
  EXPECT_THROW((void)done.error(), std::logic_error);
}

TEST(Result, AValueOfTheErrorsTypeIsStillAValue) {
  // Result<std::string>: a string value and a string error stay apart.
  const Result<std::string> value = std::string("text");
  ASSERT_TRUE(value);
  EXPECT_EQ(*value, "text");
  const Result<std::string> error = fail("why");
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error(), "why");
}

TEST(Result, CarriesMoveOnlyValuesAndStructuredErrors) {
  struct Refusal {
    int code;
    std::string message;
  };
  Result<std::unique_ptr<int>, Refusal> ok = std::make_unique<int>(7);
  ASSERT_TRUE(ok);
  const std::unique_ptr<int> taken = std::move(ok).value();
  EXPECT_EQ(*taken, 7);
  const Result<std::unique_ptr<int>, Refusal> refused = fail(Refusal{413, "too large"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, 413);
  const Result<void, Refusal> not_done = fail(Refusal{400, "bad"});
  ASSERT_FALSE(not_done);
  EXPECT_EQ(not_done.error().message, "bad");
}

}  // namespace
}  // namespace vigie::protocol
