#include "vigie/sustainability/meter.h"

#include <gtest/gtest.h>

#include <cmath>

namespace vigie::sustainability {
namespace {

Reading interval(Quantity q, int64_t from, int64_t to, double value,
                 Basis basis = Basis::kMeasured) {
  return {.quantity = q, .start_s = from, .end_s = to, .value = value, .basis = basis};
}

Reading index(Quantity q, int64_t at, double value, std::string meter = "m1") {
  return {
      .quantity = q, .end_s = at, .value = value, .cumulative = true, .meter = std::move(meter)};
}

TEST(Meter, ReadingsThatCoverThePeriodAddUpAndAreMeasured) {
  const auto c = consolidate(
      {interval(Quantity::kEdc, 0, 50, 10), interval(Quantity::kEdc, 50, 100, 30)}, {0, 100});
  const Consolidated& edc = c.at(Quantity::kEdc);
  EXPECT_DOUBLE_EQ(*edc.value, 40);
  EXPECT_EQ(edc.quality, Quality::kMeasured);
  EXPECT_DOUBLE_EQ(edc.coverage, 1);
  EXPECT_TRUE(edc.gaps.empty());
  EXPECT_EQ(edc.readings_used, 2u);
}

TEST(Meter, AReadingAcrossTheBoundaryIsProratedByTime) {
  // A monthly bill of 300 kWh over [0, 300), the period [100, 400): 200 kWh of it.
  const auto c = consolidate({interval(Quantity::kEdc, 0, 300, 300, Basis::kBill),
                              interval(Quantity::kEdc, 300, 400, 50, Basis::kBill)},
                             {100, 400});
  EXPECT_DOUBLE_EQ(*c.at(Quantity::kEdc).value, 250);
  EXPECT_EQ(c.at(Quantity::kEdc).quality, Quality::kProrated);
  ASSERT_EQ(c.at(Quantity::kEdc).pieces.size(), 2u);
  EXPECT_EQ(c.at(Quantity::kEdc).pieces[0].span, (Span{100, 300}));
}

TEST(Meter, ABillIsReportedAsABill) {
  const auto c = consolidate({interval(Quantity::kWin, 0, 100, 5, Basis::kBill)}, {0, 100});
  EXPECT_EQ(c.at(Quantity::kWin).quality, Quality::kBill);
}

TEST(Meter, GapsMakeTheValueIncompleteWithItsCoverage) {
  const auto c = consolidate(
      {interval(Quantity::kEit, 10, 40, 3), interval(Quantity::kEit, 60, 80, 2)}, {0, 100});
  const Consolidated& eit = c.at(Quantity::kEit);
  EXPECT_DOUBLE_EQ(*eit.value, 5);
  EXPECT_EQ(eit.quality, Quality::kIncomplete);
  EXPECT_DOUBLE_EQ(eit.coverage, 0.5);
  EXPECT_EQ(eit.gaps, (std::vector<Span>{{0, 10}, {40, 60}, {80, 100}}));
}

TEST(Meter, NoReadingIsMissingNeverZero) {
  const auto c = consolidate({interval(Quantity::kEdc, 0, 100, 1)}, {0, 100});
  const Consolidated& win = c.at(Quantity::kWin);
  EXPECT_FALSE(win.value.has_value());
  EXPECT_EQ(win.quality, Quality::kMissing);
  EXPECT_EQ(win.gaps, (std::vector<Span>{{0, 100}}));
}

TEST(Meter, OverlappingReadingsAreReportedNotSummed) {
  const auto c = consolidate({interval(Quantity::kEdc, 0, 100, 100),
                              interval(Quantity::kEdc, 50, 150, 999),  // a second import of a meter
                              interval(Quantity::kEdc, 100, 200, 100)},
                             {0, 200});
  EXPECT_DOUBLE_EQ(*c.at(Quantity::kEdc).value, 200);
  ASSERT_EQ(c.overlaps.size(), 1u);
  EXPECT_EQ(c.overlaps[0].kept, (Span{0, 100}));
  EXPECT_EQ(c.overlaps[0].dropped, (Span{50, 150}));
}

TEST(Meter, CumulativeIndexesBecomeIntervalsAndAResetIsAGap) {
  const auto c = consolidate(
      {index(Quantity::kEdc, 0, 1000), index(Quantity::kEdc, 50, 1100),
       index(Quantity::kEdc, 100, 1300), index(Quantity::kEdc, 150, 20),  // meter replaced
       index(Quantity::kEdc, 200, 70)},
      {0, 200});
  const Consolidated& edc = c.at(Quantity::kEdc);
  EXPECT_DOUBLE_EQ(*edc.value, 350);
  EXPECT_EQ(edc.gaps, (std::vector<Span>{{100, 150}}));
  ASSERT_EQ(c.resets.size(), 1u);
  EXPECT_EQ(c.resets[0].at_s, 150);
  // Two meters' indexes are told apart.
  const auto two =
      consolidate({index(Quantity::kWin, 0, 5, "a"), index(Quantity::kWin, 100, 7, "a"),
                   index(Quantity::kWin, 100, 900, "b"), index(Quantity::kWin, 200, 903, "b")},
                  {0, 200});
  EXPECT_DOUBLE_EQ(*two.at(Quantity::kWin).value, 5);
}

TEST(Meter, AveragedQuantitiesAreTimeWeighted) {
  const auto c = consolidate(
      {interval(Quantity::kTwh, 0, 75, 30), interval(Quantity::kTwh, 75, 100, 40)}, {0, 100});
  EXPECT_DOUBLE_EQ(*c.at(Quantity::kTwh).value, 32.5);
}

TEST(Meter, UnitsConvertToTheReportUnitAndAWrongOneIsRefused) {
  EXPECT_DOUBLE_EQ(to_report_unit(Quantity::kEdc, 2, "MWh"), 2000);
  EXPECT_DOUBLE_EQ(to_report_unit(Quantity::kEdc, 7.2e6, "J"), 2);
  EXPECT_DOUBLE_EQ(to_report_unit(Quantity::kEdc, 3, "mwh"), 3000);
  EXPECT_DOUBLE_EQ(to_report_unit(Quantity::kWin, 1500, "L"), 1.5);
  EXPECT_DOUBLE_EQ(to_report_unit(Quantity::kBin, 80, "Gbit/s"), 10);
  EXPECT_DOUBLE_EQ(to_report_unit(Quantity::kTinTraffic, 3, "PB"), 0.003);
  EXPECT_THROW(to_report_unit(Quantity::kEdc, 1, "m3"), InputError);
  EXPECT_THROW(to_report_unit(Quantity::kWin, 1, "gallons"), InputError);
}

TEST(Meter, BadReadingsAreRefusedWithTheReason) {
  EXPECT_THROW(check(interval(Quantity::kEdc, 0, 10, -1)), InputError);
  EXPECT_THROW(check(interval(Quantity::kEdc, 10, 10, 1)), InputError);
  EXPECT_THROW(check(interval(Quantity::kEdc, 0, 10, std::nan(""))), InputError);
  EXPECT_NO_THROW(check(interval(Quantity::kTwh, 0, 10, -5)));  // a temperature may be negative
  Reading avg = index(Quantity::kTwh, 10, 20);
  EXPECT_THROW(check(avg), InputError);
  EXPECT_THROW(consolidate({}, {10, 10}), InputError);
  try {
    check(interval(Quantity::kEit, 0, 10, -3));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("EIT"), std::string::npos);
  }
}

TEST(Meter, QuantitiesKnowTheirSymbolsAndAreFoundById) {
  EXPECT_EQ(parse_quantity("eres-goo"), Quantity::kEresGoo);
  EXPECT_EQ(info(Quantity::kTinSetpoint).symbol, "TIN");
  EXPECT_EQ(info(Quantity::kTinTraffic).symbol, "TIN");  // the regulation uses TIN twice
  EXPECT_FALSE(parse_quantity("PUE").has_value());
  for (std::size_t i = 0; i < quantities().size(); ++i) {
    EXPECT_EQ(static_cast<std::size_t>(quantities()[i].quantity), i);
  }
}

}  // namespace
}  // namespace vigie::sustainability

namespace vigie::sustainability {
namespace {

TEST(Readings, JsonIntervalsAndIndexesWithUnits) {
  const auto r = parse_readings_json(R"({"readings": [
    {"quantity": "EDC", "from": "2025-01-01T00:00:00+01:00", "to": "2025-02-01T00:00:00+01:00",
     "value": 1.5, "unit": "MWh", "basis": "bill", "meter": "TGBT", "source": "EDF invoice 0425"},
    {"quantity": "win", "cumulative": true, "at": 1735686000, "value": 1200, "unit": "L"},
    {"quantity": "TWH", "from": 0, "to": 3600, "value": -2}]})");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].quantity, Quantity::kEdc);
  EXPECT_DOUBLE_EQ(r[0].value, 1500);
  EXPECT_EQ(r[0].start_s, 1735686000);
  EXPECT_EQ(r[0].basis, Basis::kBill);
  EXPECT_EQ(r[0].meter, "TGBT");
  EXPECT_TRUE(r[1].cumulative);
  EXPECT_DOUBLE_EQ(r[1].value, 1.2);
  EXPECT_EQ(r[1].end_s, 1735686000);
  EXPECT_DOUBLE_EQ(r[2].value, -2);
}

TEST(Readings, EveryBadRowIsReportedAndNoneTaken) {
  try {
    parse_readings_json(R"([
      {"quantity": "EDC", "from": 0, "to": 10, "value": 1},
      {"quantity": "PUE", "from": 0, "to": 10, "value": 1},
      {"quantity": "EDC", "from": 10, "to": 0, "value": 1},
      {"quantity": "EDC", "from": 0, "to": 10, "value": 1, "unit": "m3"},
      {"quantity": "EDC", "from": 0, "to": 10, "value": "lots"},
      {"quantity": "EDC", "from": 0, "to": 10, "value": 1, "colour": "red"}])");
    FAIL();
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("5 bad reading(s), none stored"), std::string::npos) << what;
    for (const char* row : {"reading 2:", "reading 3:", "reading 4:", "reading 5:", "reading 6:"})
      EXPECT_NE(what.find(row), std::string::npos) << row;
    EXPECT_EQ(what.find("reading 1:"), std::string::npos);
  }
  EXPECT_THROW(parse_readings_json("not json"), InputError);
  EXPECT_THROW(parse_readings_json(R"({"rows": []})"), InputError);
}

TEST(Readings, CsvWithQuotesSemicolonsAndADecimalComma) {
  const auto r = parse_readings_csv(
      "quantity;from;to;value;unit;basis;meter;source\r\n"
      "EDC;2025-01-01;2025-02-01;\"1234,5\";kWh;measured;TGBT;\"Diris A40; \"\"main\"\"\"\r\n"
      "\r\n"
      "EIT;2025-01-01;2025-02-01;1000;kWh;;UPS;\r\n");
  ASSERT_EQ(r.size(), 2u);
  EXPECT_DOUBLE_EQ(r[0].value, 1234.5);
  EXPECT_EQ(r[0].source, "Diris A40; \"main\"");
  EXPECT_EQ(r[1].basis, Basis::kMeasured);
  const auto cumulative =
      parse_readings_csv("quantity,at,value,meter\nEDC,2025-01-01,100,m\nEDC,2025-02-01,250,m\n");
  EXPECT_TRUE(cumulative[1].cumulative);
  try {
    parse_readings_csv("quantity,from,to,value\nEDC,2025-01-01,2025-02-01,1\nEDC,x,2025-02-01,1\n");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("line 3:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_readings_csv("quantity,when,value\n"), InputError);
  EXPECT_THROW(parse_readings_csv("quantity,from,to,value\n\"EDC,0,1,1\n"), InputError);
}

}  // namespace
}  // namespace vigie::sustainability

#include "vigie/sustainability/time.h"

namespace vigie::sustainability {
namespace {

TEST(Times, Rfc3339ByPositionAndUnixSeconds) {
  EXPECT_EQ(parse_time("2025-01-01", "t"), 1735689600);
  EXPECT_EQ(parse_time("2025-01-01T00:00:00Z", "t"), 1735689600);
  EXPECT_EQ(parse_time("2025-01-01t01:00:00.250+01:00", "t"), 1735689600);
  EXPECT_EQ(parse_time("2024-12-31 19:30:00-04:30", "t"), 1735689600);
  EXPECT_EQ(parse_time("1735689600", "t"), 1735689600);
  EXPECT_EQ(format_time(1735689600), "2025-01-01T00:00:00Z");
  for (const char* bad :
       {"2025-02-30", "2025-01-01T24:00:00Z", "2025-01-01T00:00:00", "2025-01-01T00:00:nanZ",
        "2025-01-01T00:00:00+0100", "2025-1-1", "", "-", "tomorrow", "2025-01-01T00:00:00.Z"}) {
    EXPECT_THROW(parse_time(bad, "t"), InputError) << bad;
  }
}

}  // namespace
}  // namespace vigie::sustainability
