#include "vigie/sustainability/grid.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace vigie::sustainability {
namespace {

// RTE's download format: tab-separated, the local date and time, "Taux de Co2".
std::string rte_day(const char* date, const std::vector<std::string>& times) {
  std::string text = "P\xe9rim\xe8tre\tNature\tDate\tHeures\tConsommation\tTaux de Co2\t\n";
  int value = 20;
  for (const auto& t : times) {
    text += std::string("France\tDonn\xe9\x65s temps r\xe9\x65l\t") + date + "\t" + t +
            "\t50000\t" + std::to_string(value++) + "\t\n";
  }
  return text + "RTE ne pourra \xeatre tenu responsable de l'utilisation des donn\xe9\x65s\n\n";
}

std::vector<std::string> quarter_hours(int from_hour, int to_hour) {
  std::vector<std::string> out;
  char buf[8];
  for (int h = from_hour; h < to_hour; ++h) {
    for (int m = 0; m < 60; m += 15) {
      std::snprintf(buf, sizeof buf, "%02d:%02d", h, m);
      out.emplace_back(buf);
    }
  }
  return out;
}

void expect_quarter_hours(const TimeSeries& s, std::size_t count, uint64_t first) {
  ASSERT_EQ(s.points().size(), count);
  EXPECT_EQ(s.points().front().time_s, first);
  for (std::size_t i = 1; i < s.points().size(); ++i) {
    EXPECT_EQ(s.points()[i].time_s - s.points()[i - 1].time_s, 900u) << i;
    EXPECT_EQ(s.points()[i].value, s.points()[i - 1].value + 1) << "out of file order at " << i;
  }
}

TEST(GridSeries, Eco2mixSpringForwardDayHas23Hours) {
  auto times = quarter_hours(0, 2);
  const auto rest = quarter_hours(3, 24);
  times.insert(times.end(), rest.begin(), rest.end());
  const auto s = TimeSeries::parse_csv(rte_day("2024-03-31", times), "gco2e_per_kwh");
  expect_quarter_hours(s, 92, 1711839600);  // 2024-03-30T23:00:00Z
}

TEST(GridSeries, Eco2mixFallBackDayHas25HoursTheRepeatedHourInOrder) {
  auto times = quarter_hours(0, 3);
  const auto again = quarter_hours(2, 24);  // 02:00-02:45 a second time, in winter time
  times.insert(times.end(), again.begin(), again.end());
  const auto s = TimeSeries::parse_csv(
      rte_day("2024-10-26", quarter_hours(0, 24)) +
          rte_day("2024-10-27", times).substr(rte_day("2024-10-27", {}).find('\n') + 1),
      "gco2e_per_kwh");
  // 96 quarter-hours of the 26th (from 2024-10-25T22:00Z), then the 27th's 100.
  EXPECT_EQ(s.points().size(), 96u + 100u);
  for (std::size_t i = 1; i < s.points().size(); ++i) {
    ASSERT_EQ(s.points()[i].time_s - s.points()[i - 1].time_s, 900u) << i;
  }
  EXPECT_EQ(s.points().back().time_s, 1730069100u);  // 2024-10-27T22:45:00Z = 23:45 CET
}

// ODRÉ's export (../shared/corpus/sustainability/eco2mix/README.md): UTF-8,
// ';', CRLF, rows out of time order, "Date - Heure" with its offset and
// "Taux de CO2 (g/kWh)"; the local "Date" and "Heures" are there too.
TEST(GridSeries, OdreExportsAreSortedOnTheirOffsetTimes) {
  std::string text =
      "P\xc3\xa9rim\xc3\xa8tre;Nature;Date;Heures;Date - Heure;Consommation (MW);"
      "Taux de CO2 (g/kWh);Ech. comm. Angleterre (MW)\r\n";
  const char* rows[] = {"2024-10-27;02:15;2024-10-27T02:15:00+01:00;61",
                        "2024-10-27;02:00;2024-10-27T02:00:00+02:00;58",
                        "2024-10-27;02:00;2024-10-27T02:00:00+01:00;60",
                        "2024-10-27;02:15;2024-10-27T02:15:00+02:00;59"};
  for (const char* row : rows) {
    const std::string r(row);
    const auto cut = r.rfind(';');
    text += "France;Donn\xc3\xa9\x65s temps r\xc3\xa9\x65l;" + r.substr(0, cut) + ";48000;" +
            r.substr(cut + 1) + ";\r\n";
  }
  const auto s = TimeSeries::parse_csv(text, "gco2e_per_kwh");
  ASSERT_EQ(s.points().size(), 4u);
  EXPECT_EQ(s.points()[0].time_s, 1729987200u);  // 2024-10-27T00:00:00Z
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(s.points()[i].time_s, 1729987200u + 900 * (i == 0 ? 0 : i == 1 ? 1 : i == 2 ? 4 : 5));
    EXPECT_EQ(s.points()[i].value, 58 + static_cast<double>(i));
  }
}

TEST(GridSeries, ElectricityMapsExportsGiveDirectOrLifeCycle) {
  const std::string csv =
      "Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO\xe2\x82\x82"
      "eq/kWh (direct),"
      "Carbon Intensity gCO\xe2\x82\x82"
      "eq/kWh (LCA),Low Carbon Percentage\n"
      "2024-01-01 00:00:00,France,France,FR,21.5,38.2,95\n"
      "2024-01-01 01:00:00,France,France,FR,22.0,39.0,95\n";
  const auto direct = TimeSeries::parse_csv(csv, "direct");
  const auto lca = TimeSeries::parse_csv(csv, "lca");
  ASSERT_EQ(direct.points().size(), 2u);
  EXPECT_EQ(direct.points()[0].time_s, 1704067200u);
  EXPECT_EQ(direct.points()[1].value, 22.0);
  EXPECT_EQ(lca.points()[0].value, 38.2);
  EXPECT_THROW(TimeSeries::parse_csv(csv, "market"), std::runtime_error);
}

TEST(GridSeries, IsoTimesWithAnOffset) {
  const auto s = TimeSeries::parse_csv(
      "time,v\n2021-12-01T01:00:00+01:00,5\n2021-12-01T00:30:00-01:30,6\n", "v");
  EXPECT_EQ(s.points()[0].time_s, 1638316800u);
  EXPECT_EQ(s.points()[1].time_s, 1638324000u);
}

}  // namespace
}  // namespace vigie::sustainability
