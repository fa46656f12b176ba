// Per-job footprints: totalled by the store at a Slurm job's WorkloadEnd,
// served at GET /api/v1/jobs/<id>/footprint.
#include "footprint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "http/handler.h"
#include "storage/sqlite_store.h"
#include "support/footprint_fixture.h"
#include "support/sample_batch.h"

namespace vigie::collector {
namespace {

using nlohmann::json;

using testing::agent_batch;
using testing::job_energy;

TEST(CollectorFootprint, TotalledAcrossHostsAtJobEndAndServed) {
  testing::TempDir dir;
  SqliteStore store((dir.path() / "collector.db").string());
  Config config;
  config.api.anonymous = Principal{Role::kAdmin, "anonymous", {}};  // roles: handler_test.cpp
  Metrics metrics;
  Handler handler(config, store, metrics);
  auto get = [&](const std::string& target) {
    return handler.handle({"GET", target, "", "", "", ""});
  };

  auto a1 = agent_batch("node1", 1);
  a1.workload_energy = {job_energy("42", 100, 300, 2.0, false),
                        job_energy("42", 101, 100, 1.0, false),
                        job_energy("7", 100, 999, 9.0, false)};
  ASSERT_EQ(store.store_batch(a1, 1).status, StoreOutcome::Status::kStored);
  EXPECT_EQ(get("/api/v1/jobs/42/footprint").status, 404);  // not ended yet

  auto a2 = agent_batch("node1", 2);
  a2.workload_ends = {{100'000'000'000, 102'000'000'000, a1.workload_energy[0].workload}};
  ASSERT_EQ(store.store_batch(a2, 2).status, StoreOutcome::Status::kStored);
  auto b1 = agent_batch("node2", 1);
  b1.workload_energy = {job_energy("42", 100, 600, 4.0, true)};
  b1.workload_ends = a2.workload_ends;
  ASSERT_EQ(store.store_batch(b1, 3).status, StoreOutcome::Status::kStored);

  auto r = get("/api/v1/jobs/42/footprint");
  ASSERT_EQ(r.status, 200) << r.body;
  auto f = json::parse(r.body);
  EXPECT_EQ(f["job_id"], "42");
  EXPECT_EQ(f["user"], "alice");
  EXPECT_EQ(f["account"], "proj42");
  EXPECT_DOUBLE_EQ(f["energy_joules"].get<double>(), 1000);
  EXPECT_DOUBLE_EQ(f["operational_gco2e"].get<double>(), 7.0);
  EXPECT_DOUBLE_EQ(f["embodied_gco2e"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(f["carbon_gco2e"].get<double>(), 8.5);
  EXPECT_DOUBLE_EQ(f["breakdown_joules"]["cpu"].get<double>(), 750);
  EXPECT_TRUE(f["estimated"].get<bool>());  // node2's figures were estimated
  EXPECT_DOUBLE_EQ(f["equivalents"]["car_km"].get<double>(), 8.5 / 175);
  ASSERT_EQ(f["hosts"].size(), 2u);
  EXPECT_EQ(f["hosts"][0]["host"], "node1");
  EXPECT_DOUBLE_EQ(f["hosts"][0]["energy_joules"].get<double>(), 400);
  EXPECT_FALSE(f["hosts"][0]["estimated"].get<bool>());
  EXPECT_EQ(f["start_ns"].get<uint64_t>(), 100'000'000'000u);
  EXPECT_EQ(f["end_ns"].get<uint64_t>(), 102'000'000'000u);

  EXPECT_EQ(get("/api/v1/jobs/7/footprint").status, 404);  // never ended
  EXPECT_EQ(get("/api/v1/jobs/x;DROP/footprint").status, 400);
  EXPECT_EQ(get("/api/v1/jobs/42/footprint?x=1").status, 400);
  EXPECT_EQ(get("/api/v1/jobs//footprint").status, 404);
}

TEST(CollectorFootprint, EquivalentsUseGreenAlgorithmsFactors) {
  auto e = equivalents(1750);
  EXPECT_DOUBLE_EQ(e.car_km, 10);  // 175 gCO2e per km
  EXPECT_DOUBLE_EQ(e.tree_months, 1750 / (11000.0 / 12));
  EXPECT_DOUBLE_EQ(equivalents(-3).car_km, 0);
  EXPECT_DOUBLE_EQ(equivalents(std::nan("")).tree_months, 0);
  JobFootprint f{"9", "bob", "", {{}}};
  f.hosts[0].host = "n1";
  f.hosts[0].energy_joules = 7.2e6;
  f.hosts[0].operational_gco2e = 350;
  auto j = footprint_json(f);
  EXPECT_DOUBLE_EQ(j["energy_kwh"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(j["equivalents"]["car_km"].get<double>(), 2.0);
  EXPECT_FALSE(j["estimated"].get<bool>());
}

}  // namespace
}  // namespace vigie::collector
