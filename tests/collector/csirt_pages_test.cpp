// The CSIRT pages (dashboards/web/incidents.html, incident.html,
// indicator.html) served by a whole collector (Service) on loopback and
// driven in headless Chromium by tests/dashboards/csirt_pages_check.mjs: an
// incident opened from an alert in Slurm job 123456 on node12, with an
// indicator seen by an alert and by a retro-hunt; the deadline and its
// overdue mark, the timeline with the alert and the sighting, the scope,
// a state change with If-Match (and a stale one), a note, the indicator's
// sightings. Texts from agents carry markup that must stay text.
// The ban list page (dashboards/web/bans.html) at a federation, driven by
// tests/dashboards/bans_page_check.mjs: each site's acknowledgement
// (applied, failed, reached, never reported) and lag, the bans with their
// actions and TLP (RED shown where it was made), one suspended through the
// form, one lifted through its button; a reason with markup stays text.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "storage/sqlite_store.h"
#include "support/browser_check.h"
#include "support/footprint_fixture.h"
#include "support/sample_batch.h"
#include "vigie/collector/service.h"
#include "vigie/protocol/http_client.h"

namespace vigie::collector {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::kSecondNs;

constexpr const char* kToken = "csirt-pages-token";

TEST(CollectorCsirtPages, CoordinatorWorksAnIncidentInABrowser) {
  if (const std::string missing = testing::browser_missing(VIGIE_SOURCE_DIR); !missing.empty())
    FAIL() << missing;
  testing::TempDir dir;
  Config config =
      testing::page_config(dir.path(), VIGIE_SOURCE_DIR, "csirt", "coordinator", kToken);
  config.csirt.site = "GRIF";
  Service service(config);
  service.start();

  // What agents sent: job 123456 of alice ran on node12 and node13; on
  // node12 it ran /tmp/.x/xmrig (an alert) which connected to 192.0.2.7.
  const uint64_t now = protocol::wall_clock_ns();
  {
    SqliteStore store(config.database_path);
    auto batch = testing::sample_batch(1, "node12", now - 3600 * kSecondNs);
    for (auto& event : batch.events) event.workload.id = "123456";
    auto& exec = std::get<protocol::ProcessExec>(batch.events[0].body);
    exec.image = "/tmp/.x/xmrig";
    exec.command_line = "/tmp/.x/xmrig -o pool <b>x</b>";
    std::get<protocol::NetworkConnect>(batch.events[1].body).destination_ip = "192.0.2.7";
    batch.alerts[0].event = batch.events[0];
    batch.alerts[0].rule_title = "Crypto miner started from /tmp";
    ASSERT_EQ(store.store_batch(batch, now).status, StoreOutcome::Status::kStored);
    for (const auto& [host, seq] : {std::pair{"node12", 2}, {"node13", 3}}) {
      auto job = testing::agent_batch(host, seq);
      auto energy = testing::job_energy("123456", 100, 7.2e6, 300.0, false);
      energy.workload.user = "alice";
      job.workload_energy = {energy};
      job.workload_ends = {{100'000'000'000, 101'000'000'000, energy.workload}};
      ASSERT_EQ(store.store_batch(job, now).status, StoreOutcome::Status::kStored);
    }
  }
  protocol::Endpoint endpoint;
  endpoint.port = std::to_string(service.port());
  auto api = [&](const std::string& method, const std::string& target, const std::string& body) {
    protocol::HttpRequest request{method, "/api/v1/csirt" + target,
                                  {{"Authorization", std::string("Bearer ") + kToken},
                                   {"Content-Type", "application/json"}},
                                  body};
    auto response = protocol::send(endpoint, request, std::chrono::seconds(10));
    EXPECT_LT(response.status, 300) << method << " " << target << ": " << response.body;
    return json::parse(response.body, nullptr, false);
  };
  const auto alerts = protocol::send(
      endpoint,
      {"GET", "/api/v1/alerts", {{"Authorization", std::string("Bearer ") + kToken}}, ""},
      std::chrono::seconds(10));
  const int64_t alert_id = json::parse(alerts.body)["alerts"][0]["id"];
  // Discovered 5 hours ago: the report to EGI CSIRT (4 h) is overdue.
  const json incident =
      api("POST", "/incidents",
          json({{"title", "Miner in job 123456"}, {"severity", "high"},
                {"discovered_ns", now - 5 * 3600 * kSecondNs}, {"alerts", {alert_id}}})
              .dump());
  const std::string id = incident["id"];
  const json linked =
      api("POST", "/incidents/" + id + "/indicators", R"({"type":"ip","value":"192.0.2.7"})");
  const std::string uuid = linked["indicators"][0]["uuid"];
  const std::string hunt = linked["retrohunt"]["id"];
  for (int i = 0; i < 200 && api("GET", "/retrohunt/" + hunt, "")["state"] != "done"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));

  const json spec = {
      {"incident", id},
      {"indicator", uuid},
      {"token", kToken},
      {"expect",
       {{"deadline", "Report to EGI CSIRT"},
        {"overdue", true},
        {"clocks", {"Report to EGI CSIRT", "Contain"}},
        {"timeline", {"Crypto miner started from /tmp", "node12"}},
        {"alert", {"node12", "alice", "123456", "/tmp/.x/xmrig -o pool <b>x</b>"}},
        {"sighting", {"192.0.2.7", "node12", "123456"}},
        {"scope", {"123456", "node12", "node13", "alice"}},
        {"indicators", {"192.0.2.7"}},
        {"transition", "reported"},
        {"reason", "reported to abuse@egi.eu"},
        {"stale_coordinator", "someone else"},
        {"indicator_facts", {"192.0.2.7"}},
        {"revoked", false},
        {"sightings", {{"node12", "123456", "retrohunt"}}}}}};
  EXPECT_EQ(testing::page_check_failure(VIGIE_SOURCE_DIR, VIGIE_BINARY_DIR, "csirt_pages_check.mjs",
                                        service.port(), dir.path() / "csirt_pages.json",
                                        spec.dump(2), "csirt-pages"),
            "");
}

TEST(CollectorCsirtPages, CoordinatorSeesEverySitesBanStateInABrowser) {
  if (const std::string missing = testing::browser_missing(VIGIE_SOURCE_DIR); !missing.empty())
    FAIL() << missing;
  testing::TempDir dir;
  Config config =
      testing::page_config(dir.path(), VIGIE_SOURCE_DIR, "csirt", "coordinator", kToken);
  config.csirt.site = "GRIF";
  // The sites' tokens at this (federation) collector: each names its site.
  const std::vector<std::pair<std::string, std::string>> sites = {
      {"lapp", "ban-ack-lapp"}, {"cc", "ban-ack-cc"}, {"lal", "ban-ack-lal"}};
  for (const auto& [site, secret] : sites)
    config.agent_tokens.push_back(AgentToken{sha256(secret), site, "", true});
  Service service(config);
  service.start();

  protocol::Endpoint endpoint;
  endpoint.port = std::to_string(service.port());
  auto post = [&](const std::string& target, const std::string& token, const json& body) {
    protocol::HttpRequest request{
        "POST",
        target,
        {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}},
        body.dump()};
    const auto response = protocol::send(endpoint, request, std::chrono::seconds(10));
    EXPECT_LT(response.status, 300)
        << target << ": " << response.status << " " << response.error << " " << response.body;
    return json::parse(response.body, nullptr, false);
  };
  auto ban = [&](const json& draft) { return post("/api/v1/csirt/bans", kToken, draft); };

  // Four bans: serial 4. One TLP:RED (never leaves GRIF, shown here), one
  // whose reason carries markup, one for two sites only (ijclab never
  // reports: unknown), an OIDC subject the check lifts.
  const std::string dn = "/DC=org/DC=example/CN=Mallory";
  const std::string oidc = "0a1b2c3d-4e5f@egi.eu";
  ban({{"type", "x509-dn"},
       {"value", dn},
       {"actions", {"deny-login", "detect"}},
       {"reason", "credentials sold on a forum"},
       {"tlp", "amber"}});
  ban({{"type", "user"},
       {"value", "eve"},
       {"actions", {"deny-login", "deny-submit", "detect"}},
       {"reason", "insider: for named recipients only"},
       {"tlp", "red"}});
  ban({{"type", "user"},
       {"value", "mallory"},
       {"actions", {"deny-login"}},
       {"sites", {"lapp", "ijclab"}},
       {"reason", "phished <b>x</b> then reused"},
       {"tlp", "green"}});
  ban({{"type", "oidc"},
       {"issuer", "https://aai.egi.eu/auth/realms/egi"},
       {"value", oidc},
       {"actions", {"detect"}},
       {"reason", "refresh token leaked in a public repository"}});

  // lapp applied serial 4, cc applied it with a failure, lal holds 4 and
  // applied 3. The token names the site.
  const uint64_t applied_ns = protocol::wall_clock_ns() - 60 * kSecondNs;
  const std::string failure = "slurm: sacctmgr: Connection refused";
  for (const auto& [site, secret] : sites) {
    json ack = {{"site", site},
                {"reached_serial", 4},
                {"applied_serial", site == "lal" ? 3 : 4},
                {"applied_ns", applied_ns},
                {"failures", json::array()}};
    if (site == "cc") ack["failures"].push_back(failure);
    post("/api/v1/distribution/bans/ack", secret, ack);
  }
  const auto status = protocol::send(endpoint,
                                     {"GET",
                                      "/api/v1/csirt/bans/status",
                                      {{"Authorization", std::string("Bearer ") + kToken}},
                                      ""},
                                     std::chrono::seconds(10));
  ASSERT_EQ(status.status, 200) << status.body;
  const json states = json::parse(status.body);
  ASSERT_EQ(states["serial"], 4) << status.body;
  ASSERT_EQ(states["sites"].size(), 4u) << status.body;  // cc, ijclab, lal, lapp

  const json spec = {{"token", kToken},
                     {"expect",
                      {{"serial", 4},
                       {"origin", "GRIF"},
                       {"sites",
                        {{{"site", "lapp"}, {"state", "applied"}, {"lag", 0}},
                         {{"site", "cc"}, {"state", "failed"}, {"lag", 0}, {"failures", {failure}}},
                         {{"site", "lal"}, {"state", "reached"}, {"min_lag", 1}},
                         {{"site", "ijclab"}, {"state", "unknown"}, {"lag", 4}}}},
                       {"bans",
                        {{{"value", dn},
                          {"actions", {"deny-login", "detect"}},
                          {"tlp", "TLP:AMBER"},
                          {"reason", "credentials sold on a forum"},
                          {"origin", "GRIF"}},
                         {{"value", "mallory"}, {"actions", {"deny-login"}}, {"tlp", "TLP:GREEN"}},
                         {{"value", oidc}, {"actions", {"detect"}}, {"tlp", "TLP:AMBER"}}}},
                       {"red", "eve"},
                       {"markup", "<b>x</b>"},
                       {"new",
                        {{"type", "ip"},
                         {"value", "198.51.100.0/24"},
                         {"actions", {"deny-network"}},
                         {"reason", "scanning every site's login nodes"}}},
                       {"lift", oidc},
                       {"lift_reason", "the leaked token was revoked at the IdP"}}}};
  EXPECT_EQ(testing::page_check_failure(VIGIE_SOURCE_DIR, VIGIE_BINARY_DIR, "bans_page_check.mjs",
                                        service.port(), dir.path() / "bans_page.json", spec.dump(2),
                                        "csirt-pages"),
            "");
}

}  // namespace
}  // namespace vigie::collector
