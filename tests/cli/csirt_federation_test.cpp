// A federation and two sites on loopback (whole Services, their mirrors
// pulling every second), driven from the command line. The ban list: a ban
// reaches both sites' agents (the IOC list ban.users.csv an agent pulls), a
// TLP:RED one never leaves the federation, a site renders and acknowledges
// it, the federation sees each site's state and lag, a rollback is refused,
// lifting empties the sites' lists and gives the Slurm undo. Exchange: the
// federation imports a site's MISP feed by URL; each site's incidents go up
// as its peer's TLP policy allows, RED never; the federation's incidents
// come down as heads-ups, are retro-hunted at each site, and the counts go
// back up.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "run_command.h"
#include "storage/sqlite_store.h"
#include "support/sample_batch.h"
#include "vigie/collector/service.h"
#include "vigie/protocol/distribution.h"

namespace vigie::cli {
namespace {

namespace fs = std::filesystem;
namespace dist = protocol::distribution;
using nlohmann::json;
using testing::run_command;

constexpr char kNodeToken[] = "node-token";

collector::AgentToken token(const std::string& secret, const std::string& site) {
  collector::AgentToken t;
  t.sha256 = collector::sha256(secret);
  t.site = site;
  t.any_host = true;
  return t;
}

// Polls `done` every 100 ms for up to 30 s (mirror rounds are 1 s apart).
bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 300; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

class CsirtFederation : public ::testing::Test {
 protected:
  void SetUp() override {
    collector::Config fed = base("national");
    fed.database_path = (federation_dir_.path() / "collector.db").string();
    fed.federation.role = collector::CollectorRole::kFederation;
    fed.federation.distribution_dir = (federation_dir_.path() / "dist").string();
    fed.agent_tokens = {token("site-a-token", "site-a"), token("site-b-token", "site-b")};
    federation_ = std::make_unique<collector::Service>(fed);
    federation_->start();
    distribution_ = fed.federation.distribution_dir;
    site_a_ = site("site-a", "site-a-token", site_a_dir_, /*allow_amber=*/true);
    site_b_ = site("site-b", "site-b-token", site_b_dir_);
  }

  collector::Config base(const std::string& name) {
    collector::Config config = collector::default_config();
    config.port = 0;
    config.api.anonymous = collector::Principal{collector::Role::kAdmin, "anonymous", {}};
    config.csirt.site = name;
    return config;
  }

  std::unique_ptr<collector::Service> site(const std::string& name, const std::string& secret,
                                           const collector::testing::TempDir& dir,
                                           bool allow_amber = false) {
    collector::Config config = base(name);
    config.database_path = (dir.path() / "collector.db").string();
    config.agent_tokens = {token(kNodeToken, name)};
    auto& f = config.federation;
    f.site = name;
    f.name = name + "-collector";
    f.state_dir = (dir.path() / "state").string();
    f.distribution_dir = (dir.path() / "dist").string();
    f.pull_interval = std::chrono::seconds(1);
    collector::FederationPeer peer;
    peer.name = "national";
    peer.url = "http://127.0.0.1:" + std::to_string(federation_->port());
    peer.token = secret;
    peer.pull = true;
    peer.energy = false;
    peer.allow_amber = allow_amber;
    f.peers = {peer};
    auto service = std::make_unique<collector::Service>(config);
    service->start();
    return service;
  }

  static std::string vigie(const collector::Service& at) {
    return std::string(VIGIE_CLI_PATH) +
           " --collector http://127.0.0.1:" + std::to_string(at.port()) + " ";
  }

  // ban.users.csv as an agent of `site` pulls it from its collector.
  std::string agent_pull(const collector::Service& site, const collector::testing::TempDir& dir) {
    dist::PullOptions options;
    options.endpoint =
        *protocol::Endpoint::parse("http://127.0.0.1:" + std::to_string(site.port()));
    options.token = kNodeToken;
    const fs::path agent = dir.path() / "agent";
    const auto pulled = dist::pull_item(options, agent, dist::Kind::kIocs, "ban.users.csv");
    if (pulled.status == dist::PullResult::Status::kFailed) return "pull failed: " + pulled.error;
    const auto item = dist::read_item(agent, dist::Kind::kIocs, "ban.users.csv");
    return item ? item->files.at(0).content : item.error();
  }

  json status() {
    const auto shown = run_command(vigie(*federation_) + "--json ban status");
    EXPECT_EQ(shown.exit_code, 0) << shown.output;
    return json::parse(shown.output, nullptr, false);
  }

  static std::string state_of(const json& status, const std::string& site) {
    for (const auto& s : status.value("sites", json::array()))
      if (s["site"] == site) return s["state"].get<std::string>() + "/" + s["lag"].dump();
    return "none";
  }

  collector::testing::TempDir federation_dir_, site_a_dir_, site_b_dir_;
  std::unique_ptr<collector::Service> federation_, site_a_, site_b_;
  fs::path distribution_;
};

TEST_F(CsirtFederation, ABanReachesEverySiteIsAppliedAcknowledgedAndLifted) {
  auto added = run_command(vigie(*federation_) +
                           "--json ban add --type user --value mallory --action deny-submit "
                           "--action deny-login --action detect --reason 'stolen SSH key'");
  ASSERT_EQ(added.exit_code, 0) << added.output;
  const std::string id = json::parse(added.output)["id"];
  auto red = run_command(vigie(*federation_) +
                         "ban add --type user --value redcase --tlp red --reason 'named only'");
  ASSERT_EQ(red.exit_code, 0) << red.output;

  // Both sites' agents get mallory within a mirror round and one pull; the
  // RED entry never leaves the federation.
  for (auto [site, dir] : {std::pair{site_a_.get(), &site_a_dir_}, {site_b_.get(), &site_b_dir_}}) {
    std::string users;
    EXPECT_TRUE(eventually([&] {
      users = agent_pull(*site, *dir);
      return users.find("user,mallory\n") != std::string::npos;
    })) << users;
    EXPECT_EQ(users.find("redcase"), std::string::npos) << users;
  }
  std::ifstream published(distribution_ / "bans" / "national.json");
  const json shared = json::parse(published);
  EXPECT_EQ(shared["serial"], 2);
  EXPECT_EQ(shared["entries"].size(), 1u);

  // Site A renders and applies; the federation sees it applied, site B reached.
  const auto slurm = run_command(vigie(*site_a_) + "ban render --format slurm --ack");
  ASSERT_EQ(slurm.exit_code, 0) << slurm.output;
  EXPECT_NE(slurm.output.find("sacctmgr -i modify user where name=mallory set MaxSubmitJobs=0"),
            std::string::npos)
      << slurm.output;
  const auto sshd = run_command(vigie(*site_a_) + "ban render --format sshd");
  EXPECT_NE(sshd.output.find("DenyUsers mallory"), std::string::npos) << sshd.output;
  EXPECT_TRUE(eventually([&] {
    const json s = status();
    return state_of(s, "site-a") == "applied/0" && state_of(s, "site-b") == "reached/2";
  })) << status().dump(1);
  const std::string metrics =
      protocol::send(
          *protocol::Endpoint::parse("http://127.0.0.1:" + std::to_string(federation_->port())),
          {"GET", "/metrics", {}, ""})
          .body;
  EXPECT_NE(metrics.find("vigie_csirt_ban_serial_lag{site=\"site-b\"} 2"), std::string::npos)
      << metrics;

  // A rollback (an older list published upstream) is refused by the sites.
  json older = shared;
  older["serial"] = 1;
  older["entries"] = json::array();
  std::ofstream(distribution_ / "bans" / "national.json") << older.dump();
  std::this_thread::sleep_for(std::chrono::seconds(3));  // two mirror rounds
  EXPECT_NE(agent_pull(*site_a_, site_a_dir_).find("user,mallory"), std::string::npos);
  const std::string site_metrics =
      protocol::send(
          *protocol::Endpoint::parse("http://127.0.0.1:" + std::to_string(site_a_->port())),
          {"GET", "/metrics", {}, ""})
          .body;
  EXPECT_NE(site_metrics.find("vigie_csirt_ban_rollbacks_refused_total"), std::string::npos);
  EXPECT_EQ(site_metrics.find("vigie_csirt_ban_rollbacks_refused_total 0"), std::string::npos)
      << site_metrics;

  // Lifted at the federation (serial 3, republished over the rollback): the
  // sites' lists empty and the Slurm undo gives mallory back her jobs.
  auto lifted = run_command(vigie(*federation_) + "ban lift " + id + " --reason 'key revoked'");
  ASSERT_EQ(lifted.exit_code, 0) << lifted.output;
  EXPECT_TRUE(eventually(
      [&] { return agent_pull(*site_b_, site_b_dir_).find("mallory") == std::string::npos; }));
  const fs::path undo = site_b_dir_.path() / "undo.sh";
  const auto rendered =
      run_command(vigie(*site_b_) + "ban render --format slurm --undo " + undo.string());
  ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
  EXPECT_EQ(rendered.output.find("mallory"), std::string::npos) << rendered.output;
  std::ifstream undo_file(undo);
  const std::string undo_text{std::istreambuf_iterator<char>(undo_file), {}};
  EXPECT_NE(undo_text.find("name=mallory set MaxSubmitJobs=-1"), std::string::npos) << undo_text;

  const auto listed = run_command(vigie(*site_b_) + "ban list --all");
  EXPECT_NE(listed.output.find("lifted"), std::string::npos) << listed.output;
  EXPECT_EQ(listed.output.find("redcase"), std::string::npos) << listed.output;
}

// Site A's MISP feed (its CLEAR and GREEN incidents, served without a
// token) imported by URL at the federation; a second import fetches nothing.
TEST_F(CsirtFederation, TheFederationImportsASitesMispFeedByUrl) {
  auto created =
      run_command(vigie(*site_a_) + "--json incident create --title 'Phishing wave' --tlp green");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  const std::string id = json::parse(created.output)["id"];
  ASSERT_EQ(run_command(vigie(*site_a_) + "incident link " + id +
                        " --type domain --value login-egi.example --tlp green")
                .exit_code,
            0);
  ASSERT_EQ(
      run_command(vigie(*site_a_) + "incident create --title 'Insider' --tlp amber").exit_code,
      0);  // AMBER: not in a feed read without a token
  const std::string feed =
      "http://127.0.0.1:" + std::to_string(site_a_->port()) + "/api/v1/csirt/feeds/misp";
  auto imported = run_command(vigie(*federation_) + "csirt import " + feed);
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  EXPECT_NE(imported.output.find("1 event(s) imported, 0 unchanged"), std::string::npos)
      << imported.output;
  EXPECT_NE(imported.output.find("1 added"), std::string::npos) << imported.output;
  auto listed =
      run_command(vigie(*federation_) + "--json ioc list --type domain --value login-egi.example");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  const json indicators = json::parse(listed.output)["indicators"];
  ASSERT_EQ(indicators.size(), 1u);
  EXPECT_EQ(indicators[0]["tlp"], "green");
  EXPECT_EQ(indicators[0]["source"].get<std::string>().rfind("misp:", 0), 0u);
  imported = run_command(vigie(*federation_) + "csirt import " + feed);
  EXPECT_NE(imported.output.find("0 event(s) imported, 1 unchanged"), std::string::npos)
      << imported.output;
}

// Each site's incidents go up as its peer's TLP policy allows: site A may
// send AMBER, site B only GREEN; RED never leaves either; the indicators and
// the sightings' counts reach the federation's store, names never.
TEST_F(CsirtFederation, SitesShareTheirIncidentsUpByTlp) {
  auto incident = [&](collector::Service& at, const std::string& title, const std::string& tlp) {
    auto created =
        run_command(vigie(at) + "--json incident create --title '" + title + "' --tlp " + tlp);
    EXPECT_EQ(created.exit_code, 0) << created.output;
    const std::string id = json::parse(created.output)["id"];
    EXPECT_EQ(run_command(vigie(at) + "incident link " + id + " --type ip --value 198.51.100." +
                          std::to_string(title.size()) + " --tlp " + tlp)
                  .exit_code,
              0);
    return id;
  };
  incident(*site_a_, "A green", "green");
  incident(*site_a_, "A amber one", "amber");
  incident(*site_a_, "A red secret", "red");
  incident(*site_b_, "B green two", "green");
  incident(*site_b_, "B amber three", "amber");

  auto shared = [&] {
    const auto response = protocol::send(
        *protocol::Endpoint::parse("http://127.0.0.1:" + std::to_string(federation_->port())),
        {"GET", "/api/v1/csirt/sites/incidents", {}, ""});
    std::set<std::string> names;
    const json body = json::parse(response.body, nullptr, false);
    for (const auto& i : body.value("incidents", json::array()))
      names.insert(i["site"].get<std::string>() + ": " +
                   i["incident"]["name"].get<std::string>().substr(
                       i["incident"]["name"].get<std::string>().find(": ") + 2));
    return names;
  };
  const std::set<std::string> expected = {"site-a: A green", "site-a: A amber one",
                                          "site-b: B green two"};
  EXPECT_TRUE(eventually([&] { return shared() == expected; }));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // two more rounds: nothing else comes
  EXPECT_EQ(shared(), expected);
  // Their indicators are in the federation's IOC store; the RED and the
  // not-allowed AMBER ones are not.
  auto stored = [&](const std::string& value) {
    const auto listed =
        run_command(vigie(*federation_) + "--json ioc list --type ip --value " + value);
    return !json::parse(listed.output)["indicators"].empty();
  };
  EXPECT_TRUE(stored("198.51.100.7"));    // "A green"
  EXPECT_TRUE(stored("198.51.100.11"));   // "A amber one", "B green two"
  EXPECT_FALSE(stored("198.51.100.12"));  // "A red secret"
  EXPECT_FALSE(stored("198.51.100.13"));  // "B amber three"
}

// A heads-up: the federation's incident (its MISP feed, read by each site
// with its site token) is retro-hunted at each site, and each site's counts
// come back. Site A's stored events hold a connection to the indicator.
TEST_F(CsirtFederation, AHeadsUpIsRetroHuntedAtEachSiteAndTheCountsComeBack) {
  {  // node1 at site A connected to 198.51.100.7 a minute ago (stored before the heads-up).
    collector::SqliteStore store((site_a_dir_.path() / "collector.db").string());
    ASSERT_EQ(store
                  .store_batch(collector::testing::sample_batch(
                                   1, "node1", protocol::wall_clock_ns() - 60'000'000'000ull),
                               1)
                  .status,
              collector::StoreOutcome::Status::kStored);
  }
  auto created = run_command(vigie(*federation_) +
                             "--json incident create --title 'C2 seen at two sites' --tlp green");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  const std::string id = json::parse(created.output)["id"];
  ASSERT_EQ(run_command(vigie(*federation_) + "incident link " + id +
                        " --type ip --value 198.51.100.7 --tlp green")
                .exit_code,
            0);
  json answers;
  auto totals = [&] {
    const auto response = protocol::send(
        *protocol::Endpoint::parse("http://127.0.0.1:" + std::to_string(federation_->port())),
        {"GET", "/api/v1/csirt/headsups/answers", {}, ""});
    answers = json::parse(response.body, nullptr, false);
    std::map<std::string, uint64_t> out;
    for (const auto& a : answers.value("answers", json::array()))
      out[a["site"].get<std::string>()] = a["total"].get<uint64_t>();
    return out;
  };
  EXPECT_TRUE(eventually([&] {
    const auto t = totals();
    return t.size() == 2 && t.count("site-a") == 1 && t.at("site-a") >= 1 &&
           t.count("site-b") == 1 && t.at("site-b") == 0;
  })) << answers.dump(1);
  // The indicator reached both sites' IOC stores, with the federation's TLP.
  const auto at_b = run_command(vigie(*site_b_) + "--json ioc list --type ip --value 198.51.100.7");
  ASSERT_EQ(at_b.exit_code, 0) << at_b.output;
  EXPECT_EQ(json::parse(at_b.output)["indicators"][0]["tlp"], "green");

  // An indicator of no incident comes down too (GREEN: sites read the
  // federation's feed at GREEN unless named AMBER peers); an AMBER one not.
  ASSERT_EQ(run_command(vigie(*federation_) +
                        "ioc add --type domain --value c2.loose.example --tlp green")
                .exit_code,
            0);
  ASSERT_EQ(run_command(vigie(*federation_) +
                        "ioc add --type domain --value amber.loose.example --tlp amber")
                .exit_code,
            0);
  auto at_site = [&](collector::Service& site, const std::string& value) {
    const auto listed = run_command(vigie(site) + "--json ioc list --type domain --value " + value);
    return listed.exit_code == 0 && !json::parse(listed.output)["indicators"].empty();
  };
  EXPECT_TRUE(eventually([&] {
    return at_site(*site_a_, "c2.loose.example") && at_site(*site_b_, "c2.loose.example");
  }));
  EXPECT_FALSE(at_site(*site_b_, "amber.loose.example"));
}

}  // namespace
}  // namespace vigie::cli
