#include "vigie/sustainability/communities.h"

#include <gtest/gtest.h>

#include <random>

namespace vigie::sustainability {
namespace {

MonthInput month(std::optional<uint64_t> edc, uint64_t node, std::vector<CommunityUsage> c,
                 int64_t start = 1735686000) {
  return {.span = {start, start + 31 * 86400},
          .facility_joules = edc,
          .node_joules = node,
          .communities = std::move(c),
          .grid_gco2e_per_kwh = 50};
}

uint64_t sum_month(const MonthResult& m) {
  uint64_t sum = m.idle_joules + m.unallocated_joules;
  for (const auto& c : m.communities) sum += c.facility_joules;
  return sum;
}

TEST(Communities, TheFacilityFactorSpreadsTheMeterOverMeasuredEnergy) {
  // Nodes measured 1 000 J: astro 600, bio 300, idle 100; the meter read 1 500 J.
  const auto r = distribute({month(1500, 1000, {{"astro", 600, 10}, {"bio", 300, 5}})},
                            IdlePolicy::kSeparate, {}, "account");
  const MonthResult& m = r.months[0];
  EXPECT_DOUBLE_EQ(*m.facility_factor, 1.5);
  ASSERT_EQ(m.communities.size(), 2u);
  EXPECT_EQ(m.communities[0].facility_joules, 900u);
  EXPECT_EQ(m.communities[1].facility_joules, 450u);
  EXPECT_EQ(m.idle_joules, 150u);
  EXPECT_EQ(m.unallocated_joules, 0u);
  // Operational carbon at 50 g/kWh.
  EXPECT_DOUBLE_EQ(*m.communities[0].operational_kgco2e, 900 / 3.6e6 * 50 / 1000);
}

TEST(Communities, ProportionalIdleGoesToCommunitiesByTheirEnergy) {
  const auto r = distribute({month(1500, 1000, {{"astro", 600}, {"bio", 300}})},
                            IdlePolicy::kProportional, {}, "account");
  EXPECT_EQ(r.months[0].communities[0].facility_joules, 1000u);
  EXPECT_EQ(r.months[0].communities[1].facility_joules, 500u);
  EXPECT_EQ(r.months[0].idle_joules, 0u);
}

TEST(Communities, AllocationIdleGoesByAllocatedCoreHours) {
  // Idle 100 J split 1:3 by allocation: astro 600+25, bio 300+75.
  CommunityUsage astro{"astro", 600, 0, 0, 10};
  CommunityUsage bio{"bio", 300, 0, 0, 30};
  const auto r =
      distribute({month(1000, 1000, {astro, bio})}, IdlePolicy::kAllocation, {}, "project");
  EXPECT_EQ(r.months[0].communities[0].facility_joules, 625u);
  EXPECT_EQ(r.months[0].communities[1].facility_joules, 375u);
  EXPECT_EQ(r.months[0].idle_joules, 0u);
  // Nothing allocated: the idle energy stays apart, and the note says so.
  const auto none =
      distribute({month(1000, 1000, {{"astro", 600}})}, IdlePolicy::kAllocation, {}, "project");
  EXPECT_EQ(none.months[0].idle_joules, 400u);
  EXPECT_FALSE(none.months[0].notes.empty());
}

TEST(Communities, AMonthWithoutAMeterReadingIsNotDistributedAndSaysSo) {
  const auto r = distribute({month(std::nullopt, 1000, {{"astro", 600}}),
                             month(2000, 1000, {{"astro", 600}}, 1735686000 + 31 * 86400)},
                            IdlePolicy::kSeparate, {}, "account");
  EXPECT_EQ(r.missing_months.size(), 1u);
  EXPECT_FALSE(r.months[0].facility_joules.has_value());
  EXPECT_EQ(r.facility_joules, 2000u);
  ASSERT_EQ(r.totals.size(), 1u);
  EXPECT_EQ(r.totals[0].facility_joules, 1200u);
  EXPECT_EQ(r.totals[0].node_joules, 600u);  // the month distributed only
}

TEST(Communities, NoMeasuredEnergyLeavesTheMeterUnallocated) {
  const auto r = distribute({month(700, 0, {})}, IdlePolicy::kSeparate, {}, "account");
  EXPECT_EQ(r.months[0].unallocated_joules, 700u);
}

TEST(Communities, CommunitiesAboveTheNodeEnergyAreAnInputError) {
  EXPECT_THROW(distribute({month(10, 5, {{"a", 6}})}, IdlePolicy::kSeparate, {}, "account"),
               InputError);
}

// The property the report stands on: for random facilities, meters, job
// mixes and every policy, communities + idle + unallocated = EDC, every
// month, to the joule; no share is negative (unsigned) or above its due by
// more than rounding.
TEST(Communities, ConservationToTheJouleForRandomFacilities) {
  std::mt19937_64 rng(20241364);
  for (int facility = 0; facility < 300; ++facility) {
    std::vector<MonthInput> months;
    const int n_months = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < n_months; ++i) {
      const uint64_t node = rng() % 2 == 0 ? rng() % 1000 : rng() % (uint64_t{1} << 52);
      std::vector<CommunityUsage> c;
      uint64_t left = node;
      const int n_c = static_cast<int>(rng() % 8);
      for (int k = 0; k < n_c && left > 0; ++k) {
        const uint64_t e = rng() % (left + 1);
        left -= e;
        c.push_back({"c" + std::to_string(rng() % 5), e, static_cast<double>(rng() % 1000),
                     static_cast<double>(rng() % 50),
                     static_cast<double>(rng() % 3 == 0 ? 0 : rng() % 5000)});
      }
      std::optional<uint64_t> edc;
      if (rng() % 10 != 0) edc = node + rng() % (node + 1000);  // PUE-like, sometimes below 1
      if (rng() % 20 == 0) edc = node / 2;
      months.push_back(month(edc, node, c, 1735686000 + i * 2'678'400));
    }
    for (IdlePolicy p :
         {IdlePolicy::kSeparate, IdlePolicy::kProportional, IdlePolicy::kAllocation}) {
      const auto r = distribute(
          months, p, {.server_kgco2e = 1500, .lifetime_years = 4, .cores_per_server = 64},
          "account");
      uint64_t facility_total = 0;
      for (std::size_t i = 0; i < months.size(); ++i) {
        if (!months[i].facility_joules) continue;
        facility_total += *months[i].facility_joules;
        ASSERT_EQ(sum_month(r.months[i]), *months[i].facility_joules)
            << "facility " << facility << " month " << i << " policy " << to_string(p);
        ASSERT_EQ(r.months[i].unallocated_joules,
                  months[i].node_joules == 0 ? *months[i].facility_joules : 0);
        // Each row within a joule of its exact share (one row per community
        // name: the generator may repeat names, which merge).
        const long double factor =
            static_cast<long double>(*months[i].facility_joules) /
            static_cast<long double>(std::max<uint64_t>(1, months[i].node_joules));
        if (p == IdlePolicy::kSeparate && months[i].node_joules > 0) {
          for (const auto& c : r.months[i].communities) {
            ASSERT_LE(std::abs(static_cast<long double>(c.facility_joules) -
                               static_cast<long double>(c.node_joules) * factor),
                      1.01L);
          }
        }
      }
      uint64_t totals = r.idle_joules + r.unallocated_joules;
      for (const auto& t : r.totals) totals += t.facility_joules;
      ASSERT_EQ(totals, facility_total);
      ASSERT_EQ(r.facility_joules, facility_total);
    }
  }
}

TEST(Communities, EmbodiedCarbonPerCoreHourFromAServerArchetype) {
  // Boavizta's platform_compute_medium archetype: 2 CPUs of 24 cores, a
  // lifetime of 35 040 h (4 years: USAGE.hours_life_time); with 1 500 kgCO2e
  // made (the order of Boavizta's manufacturing GWP for such a server),
  // 1 500 / (4 x 8 760 x 48) kgCO2e per core-hour.
  const EmbodiedModel model{
      .server_kgco2e = 1500, .lifetime_years = 35040.0 / 8760, .cores_per_server = 48};
  EXPECT_DOUBLE_EQ(model.kg_per_core_hour(), 1500.0 / 35040 / 48);
  const auto r =
      distribute({month(100, 100, {{"astro", 50, 1000}})}, IdlePolicy::kSeparate, model, "account");
  EXPECT_DOUBLE_EQ(r.totals[0].embodied_kgco2e, 1000 * 1500.0 / 35040 / 48);
  EXPECT_EQ(EmbodiedModel{}.kg_per_core_hour(), 0);
}

TEST(Communities, AProjectTokenSeesItsOwnRowsOnly) {
  const auto r = distribute({month(1500, 1000, {{"astro", 600}, {"bio", 300}})},
                            IdlePolicy::kSeparate, {}, "account");
  const auto mine = only(r, {"bio"});
  ASSERT_EQ(mine.totals.size(), 1u);
  EXPECT_EQ(mine.totals[0].community, "bio");
  EXPECT_EQ(mine.months[0].communities.size(), 1u);
  EXPECT_EQ(mine.facility_joules, 0u);
  const auto json = to_json(mine);
  EXPECT_EQ(json.dump().find("astro"), std::string::npos);
}

TEST(Communities, JsonAndCsvStateThePolicyAndAddUp) {
  const auto r = distribute({month(1500, 1000, {{"astro, inc", 600}, {"bio", 300}})},
                            IdlePolicy::kSeparate, {}, "account");
  const auto json = to_json(r);
  EXPECT_EQ(json["schema"], "vigie.community-report/1");
  EXPECT_EQ(json["idle_policy"], "separate");
  EXPECT_EQ(json["months"][0]["idle_joules"], 150);
  const std::string csv = to_csv(r);
  EXPECT_EQ(csv.substr(0, csv.find('\r')),
            "month,community,node_kwh,facility_kwh,cpu_hours,gpu_hours,operational_kgco2e,embodied_"
            "kgco2e");
  EXPECT_NE(csv.find("2025-01,\"astro, inc\","), std::string::npos);
  EXPECT_NE(csv.find("2025-01,(idle),,"), std::string::npos);
}

}  // namespace
}  // namespace vigie::sustainability
