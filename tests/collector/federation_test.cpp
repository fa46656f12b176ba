// Federation on loopback: two site collectors and one federation collector,
// each a real Handler + Server over a SQLite store. Alerts cross by TLP 2.0
// policy, per-site energy aggregates add up to the sites' totals, and a rule
// pack and an IOC list published at the federation reach a site, then an
// agent's pull (ETag, 304) and its rule set reload.
#include "federation/federation.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "alerting/alert_router.h"
#include "http/handler.h"
#include "http/server.h"
#include "metrics.h"
#include "storage/sqlite_store.h"
#include "support/sample_batch.h"
#include "vigie/collector/config.h"
#include "vigie/protocol/codec.h"
#include "vigie/protocol/distribution.h"
#include "vigie/protocol/http_client.h"
#include "vigie/rules/rule_set.h"

namespace vigie::collector {
namespace {

using testing::kBaseNs;
using testing::kSecondNs;
using testing::sample_batch;
using testing::TempDir;
namespace dist = protocol::distribution;
namespace fs = std::filesystem;

constexpr char kSiteAToken[] = "site-a-federation-token";
constexpr char kSiteBToken[] = "site-b-federation-token";
constexpr char kNodeToken[] = "node-token";

AgentToken token(const std::string& secret, const std::string& site) {
  AgentToken t;
  t.sha256 = sha256(secret);
  t.site = site;
  t.any_host = true;
  return t;
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// One collector: store, handler (with the listeners and distribution given
// before it serves), server on 127.0.0.1.
class Collector {
 public:
  explicit Collector(const std::function<void(Config&)>& configure)
      : store_((dir_.path() / "collector.db").string()) {
    config_.port = 0;
    config_.threads = 2;
    config_.api.anonymous = Principal{};  // admin: the test reads the API without a token
    configure(config_);
    handler_ = std::make_unique<Handler>(config_, store_, metrics_);
  }
  ~Collector() { stop(); }
  void stop() {
    if (server_) server_->stop();
  }
  void start() {
    server_ = std::make_unique<Server>(config_, *handler_);
    server_->start();
  }
  const fs::path& dir() const { return dir_.path(); }
  Config& config() { return config_; }
  SqliteStore& store() { return store_; }
  Handler& handler() { return *handler_; }
  Metrics& metrics() { return metrics_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  protocol::Endpoint endpoint() const {
    const auto e = protocol::Endpoint::parse(url());
    EXPECT_TRUE(e) << e.error();
    return e.value_or(protocol::Endpoint{});
  }
  protocol::HttpResponse get(const std::string& target, const std::string& bearer = "") const {
    protocol::HttpRequest request;
    request.target = target;
    if (!bearer.empty()) request.headers.emplace_back("Authorization", "Bearer " + bearer);
    return protocol::send(endpoint(), request);
  }
  void ingest(const protocol::Batch& batch) const {
    const auto response = protocol::send(
        endpoint(), protocol::ingest_request(kNodeToken, protocol::encode_batch(batch)));
    ASSERT_EQ(response.status, 200) << response.error << response.body;
  }

 private:
  TempDir dir_;
  Config config_;
  SqliteStore store_;
  Metrics metrics_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<Server> server_;
};

// Waits until every peer's queue is empty; fails the test after 60 s.
void drain(const FederationForwarder& forwarder) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    bool empty = true;
    for (const auto& s : forwarder.stats()) empty = empty && s.queue_batches == 0;
    if (empty) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL() << "the forwarder did not deliver its queue within 60 s";
}

protocol::Alert tagged_alert(const protocol::Batch& batch, const std::string& id,
                             const std::string& tlp_tag) {
  protocol::Alert alert = batch.alerts.at(0);
  alert.rule_id = id;
  alert.rule_title = "rule " + id;
  alert.tags = {"attack.execution", tlp_tag};
  return alert;
}

// The batch of `host` at `site`, with alerts tagged tlp.red, tlp.green and tlp.amber.
protocol::Batch site_batch(const std::string& site, const std::string& host, uint64_t sequence,
                           uint64_t time_ns, bool with_alerts) {
  protocol::Batch batch = sample_batch(sequence, host, time_ns);
  batch.site = site;
  for (auto& e : batch.events) e.site = site;
  if (with_alerts) {
    batch.alerts = {tagged_alert(batch, "red-" + host, "tlp.red"),
                    tagged_alert(batch, "green-" + host, "tlp.green"),
                    tagged_alert(batch, "amber-" + host, "TLP.AMBER")};
  } else {
    batch.alerts.clear();
  }
  return batch;
}

std::set<std::string> alert_ids(const Collector& collector, const std::string& host) {
  const auto response = collector.get("/api/v1/alerts?limit=1000&host=" + host);
  EXPECT_EQ(response.status, 200) << response.error << response.body;
  std::set<std::string> ids;
  const auto body = nlohmann::json::parse(response.body);
  for (const auto& a : body["alerts"]) ids.insert(a["rule_id"].get<std::string>());
  return ids;
}

class FederationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    federation_ = std::make_unique<Collector>([&](Config& c) {
      c.agent_tokens = {token(kSiteAToken, "site-a"), token(kSiteBToken, "site-b")};
      c.federation.role = CollectorRole::kFederation;
      c.federation.distribution_dir = (published_.path()).string();
    });
    federation_distribution_ =
        std::make_unique<DistributionServer>(federation_->config().federation.distribution_dir);
    federation_->handler().set_distribution(*federation_distribution_);
    federation_->start();
    site_a_ = make_site("site-a", kSiteAToken, /*allow_amber=*/true);
    site_b_ = make_site("site-b", kSiteBToken, /*allow_amber=*/false);
  }

  // The sites' servers stop first: their forwarders then flush to the
  // federation, still up, and count into registries still alive.
  void TearDown() override {
    for (Site* s : {&site_a_, &site_b_}) {
      if (s->collector) s->collector->stop();
      s->forwarder.reset();
    }
  }

  struct Site {
    std::unique_ptr<Collector> collector;
    std::unique_ptr<AlertRouter> router;
    std::unique_ptr<FederationForwarder> forwarder;
    std::unique_ptr<DistributionServer> distribution;
    std::unique_ptr<DistributionMirror> mirror;
  };

  Site make_site(const std::string& site, const std::string& secret, bool allow_amber) {
    Site s;
    s.collector = std::make_unique<Collector>([&](Config& c) {
      c.agent_tokens = {token(kNodeToken, site)};
      FederationConfig& f = c.federation;
      f.site = site;
      f.name = site + "-collector";
      FederationPeer peer;
      peer.name = "national";
      peer.url = federation_->url();
      peer.token = secret;
      peer.allow_amber = allow_amber;
      peer.pull = true;
      f.peers = {peer};
      f.initial_backoff = std::chrono::milliseconds(10);
      f.max_backoff = std::chrono::milliseconds(100);
    });
    Collector& collector = *s.collector;
    collector.config().federation.state_dir = (collector.dir() / "state").string();
    collector.config().federation.distribution_dir = (collector.dir() / "mirror").string();
    const FederationConfig& f = collector.config().federation;
    s.router = std::make_unique<AlertRouter>(AlertRouterOptions{site});
    s.forwarder = std::make_unique<FederationForwarder>(f, &collector.metrics().registry());
    s.router->add_sink(*s.forwarder);
    collector.handler().add_listener(*s.router);
    collector.handler().add_listener(*s.forwarder);
    s.distribution = std::make_unique<DistributionServer>(f.distribution_dir);
    collector.handler().set_distribution(*s.distribution);
    s.mirror = std::make_unique<DistributionMirror>(f, f.peers[0], &collector.metrics().registry());
    collector.start();
    return s;
  }

  TempDir published_;
  std::unique_ptr<Collector> federation_;
  std::unique_ptr<DistributionServer> federation_distribution_;
  Site site_a_, site_b_;
};

TEST_F(FederationTest, AlertsCrossByTlpPolicy) {
  site_a_.collector->ingest(site_batch("site-a", "node-a1", 1, kBaseNs, true));
  site_b_.collector->ingest(site_batch("site-b", "node-b1", 1, kBaseNs, true));
  site_a_.forwarder->flush();
  site_b_.forwarder->flush();
  drain(*site_a_.forwarder);
  drain(*site_b_.forwarder);

  // Each site keeps all three.
  EXPECT_EQ(alert_ids(*site_a_.collector, "node-a1"),
            (std::set<std::string>{"red-node-a1", "green-node-a1", "amber-node-a1"}));
  // TLP:RED never leaves; AMBER only where the peer allows it.
  EXPECT_EQ(alert_ids(*federation_, "node-a1"),
            (std::set<std::string>{"green-node-a1", "amber-node-a1"}));
  EXPECT_EQ(alert_ids(*federation_, "node-b1"), (std::set<std::string>{"green-node-b1"}));

  const auto a = site_a_.forwarder->stats().at(0);
  const auto b = site_b_.forwarder->stats().at(0);
  EXPECT_EQ(a.alerts_forwarded_total, 2u);
  EXPECT_EQ(a.alerts_refused_total[static_cast<int>(Tlp::kRed)], 1u);
  EXPECT_EQ(a.alerts_refused_total[static_cast<int>(Tlp::kAmber)], 0u);
  EXPECT_EQ(b.alerts_forwarded_total, 1u);
  EXPECT_EQ(b.alerts_refused_total[static_cast<int>(Tlp::kRed)], 1u);
  EXPECT_EQ(b.alerts_refused_total[static_cast<int>(Tlp::kAmber)], 1u);
  EXPECT_EQ(a.batches_rejected_total + b.batches_rejected_total, 0u);
  const std::string exposition = site_b_.collector->metrics().exposition();
  EXPECT_NE(
      exposition.find("vigie_federation_alerts_refused_total{peer=\"national\",tlp=\"amber\"} 1"),
      std::string::npos)
      << exposition;

  // The federation knows each alert's TLP, to share it no further than allowed.
  const auto response = federation_->get("/api/v1/alerts?host=node-a1");
  const auto body = nlohmann::json::parse(response.body);
  ASSERT_EQ(body["alerts"].size(), 2u);
  for (const auto& alert : body["alerts"]) {
    const auto tags = alert["tags"].get<std::vector<std::string>>();
    const std::string expected = alert["rule_id"] == "amber-node-a1" ? "tlp.amber" : "tlp.green";
    EXPECT_NE(std::find(tags.begin(), tags.end(), expected), tags.end()) << alert.dump();
  }
}

TEST_F(FederationTest, SiteEnergyAggregatesSumToTheSitesTotals) {
  // Two nodes per site, 10 s intervals across minute boundaries.
  for (uint64_t i = 0; i < 9; ++i) {
    for (const std::string host : {"n1", "n2"}) {
      site_a_.collector->ingest(
          site_batch("site-a", "a-" + host, i + 1, kBaseNs + i * 10 * kSecondNs, false));
    }
    site_b_.collector->ingest(
        site_batch("site-b", "b-n1", i + 1, kBaseNs + i * 7 * kSecondNs, false));
  }
  site_a_.forwarder->flush();
  site_b_.forwarder->flush();
  drain(*site_a_.forwarder);
  drain(*site_b_.forwarder);

  const uint64_t until = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  for (const auto& [site, collector] : {std::pair{std::string("site-a"), site_a_.collector.get()},
                                        {"site-b", site_b_.collector.get()}}) {
    const EnergyReport local = collector->store().energy({0, until, ""});
    double joules = 0, carbon = 0;
    for (const auto& node : local.nodes) {
      joules += node.energy_joules;
      carbon += node.carbon_gco2e;
    }
    ASSERT_GT(joules, 0);
    const EnergyReport shared = federation_->store().energy({0, until, site});
    ASSERT_EQ(shared.nodes.size(), 1u) << site;
    EXPECT_DOUBLE_EQ(shared.nodes[0].energy_joules, joules) << site;
    EXPECT_DOUBLE_EQ(shared.nodes[0].carbon_gco2e, carbon) << site;
    // No job, user or account leaves the site.
    for (const auto& w : shared.workloads) {
      EXPECT_EQ(w.workload.id, "all");
      EXPECT_EQ(w.workload.user, "");
      EXPECT_EQ(w.workload.account, "");
    }
    // Zone kinds, not zone names: package-0 is "package".
    bool package = false;
    for (const auto& z : shared.nodes[0].zones) package = package || z.zone == "package";
    EXPECT_TRUE(package);
  }
  // The federation holds no node of either site, only the sites.
  for (const auto& node : federation_->store().energy({0, until, ""}).nodes)
    EXPECT_TRUE(node.host == "site-a" || node.host == "site-b") << node.host;
}

TEST_F(FederationTest, SpooledBatchesAreDeliveredOnceAfterARestart) {
  const fs::path state = site_a_.collector->dir() / "restart-state";
  FederationConfig config = site_a_.collector->config().federation;
  config.state_dir = state.string();
  config.peers[0].url = "http://127.0.0.1:1";  // nothing listens: every POST fails
  protocol::Batch batch = site_batch("site-a", "node-r", 1, kBaseNs, true);
  {
    FederationForwarder offline(config, nullptr);
    AlertNotification n;
    n.site = "site-a";
    n.host = "node-r";
    n.alert = batch.alerts[1];  // green
    n.tlp = Tlp::kGreen;
    n.fingerprint = "f1";
    n.starts_ns = kBaseNs;
    offline.deliver(n);
    offline.deliver(n);  // a re-send of the same alert: not a new one
    offline.flush();
    offline.stop(std::chrono::milliseconds(0));
    EXPECT_EQ(offline.stats().at(0).batches_sent_total, 0u);
    EXPECT_EQ(offline.stats().at(0).alerts_forwarded_total, 1u);
  }
  config.peers[0].url = federation_->url();
  FederationForwarder online(config, nullptr);
  drain(online);
  EXPECT_EQ(online.stats().at(0).batches_sent_total, 1u);
  const auto alerts =
      nlohmann::json::parse(federation_->get("/api/v1/alerts?host=node-r").body)["alerts"];
  ASSERT_EQ(alerts.size(), 1u) << alerts.dump();
  EXPECT_EQ(alerts[0]["rule_id"], "green-node-r");
  EXPECT_TRUE(fs::is_empty(state / "federation/national/spool"));
}

// A spool file damaged while the collector was down (a bad disk, a partial
// copy) is dropped at restart, counted, and the others are still delivered.
TEST_F(FederationTest, ACorruptSpoolFileIsDroppedAndCounted) {
  const fs::path state = site_a_.collector->dir() / "corrupt-state";
  FederationConfig config = site_a_.collector->config().federation;
  config.state_dir = state.string();
  config.peers[0].url = "http://127.0.0.1:1";
  protocol::Batch batch = site_batch("site-a", "node-c", 1, kBaseNs, true);
  {
    FederationForwarder offline(config, nullptr);
    for (const char* host : {"node-c1", "node-c2"}) {  // one batch per host
      AlertNotification n;
      n.site = "site-a";
      n.host = host;
      n.alert = batch.alerts[1];  // green
      n.alert.rule_id = std::string("green-") + host;
      n.tlp = Tlp::kGreen;
      n.fingerprint = host;
      n.starts_ns = kBaseNs;
      offline.deliver(n);
    }
    offline.flush();
    offline.stop(std::chrono::milliseconds(0));
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(state / "federation/national/spool"))
    files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 2u);
  {
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x5a');  // the last byte of the body: its CRC no longer matches
  }
  config.peers[0].url = federation_->url();
  prometheus::Registry registry;
  FederationForwarder online(config, &registry);
  drain(online);
  EXPECT_EQ(online.stats().at(0).batches_sent_total, 1u);
  EXPECT_EQ(online.stats().at(0).batches_dropped_total, 1u);
  bool counted = false;
  for (const auto& family : registry.Collect())
    if (family.name == "vigie_federation_batches_dropped_total")
      for (const auto& metric : family.metric)
        for (const auto& label : metric.label)
          counted = counted || (label.value == "corrupt" && metric.counter.value == 1);
  EXPECT_TRUE(counted);
  const auto alerts =
      nlohmann::json::parse(federation_->get("/api/v1/alerts?host=node-c2").body)["alerts"];
  ASSERT_EQ(alerts.size(), 1u) << alerts.dump();
  EXPECT_EQ(alerts[0]["rule_id"], "green-node-c2");
  EXPECT_TRUE(fs::is_empty(state / "federation/national/spool"));
}

constexpr char kIocRule[] = R"(title: Connection to a listed address
id: 6a0c7c1e-0000-4000-8000-00000000f001
status: test
logsource:
  category: network_connection
  product: linux
detection:
  selection:
    DestinationIp|ioc: bad-ips
  condition: selection
level: high
)";

constexpr char kMinerRule[] = R"(title: Miner started
id: 6a0c7c1e-0000-4000-8000-00000000f002
status: test
logsource:
  category: process_creation
  product: linux
detection:
  selection:
    Image|endswith: '/xmrig'
  condition: selection
level: critical
)";

TEST_F(FederationTest, RulePacksAndIocListsReachSitesAndAgents) {
  const fs::path published = published_.path();
  write(published / "rules/hpc-test/VERSION", "1\n");
  write(published / "rules/hpc-test/net/ioc_connect.yml", kIocRule);
  write(published / "iocs/bad-ips.csv", "type,value\nip,198.51.100.7\n");

  // The index and an item need a token; a wrong one is refused.
  EXPECT_EQ(federation_->get("/api/v1/distribution").status, 401);
  EXPECT_EQ(federation_->get("/api/v1/distribution", "nope").status, 401);
  EXPECT_EQ(federation_->get("/api/v1/distribution/rules/none", kSiteAToken).status, 404);
  EXPECT_EQ(federation_->get("/api/v1/distribution/rules/..", kSiteAToken).status, 404);

  // Site A mirrors the federation.
  ASSERT_EQ(site_a_.mirror->sync(), 2);
  EXPECT_EQ(site_a_.mirror->sync(), 0);  // nothing changed: 304s

  // An agent of site A pulls from its site collector.
  TempDir agent;
  dist::PullOptions options{site_a_.collector->endpoint(), kNodeToken};
  auto pulled = dist::pull_item(options, agent.path(), dist::Kind::kRules, "hpc-test");
  ASSERT_EQ(pulled.status, dist::PullResult::Status::kUpdated) << pulled.error;
  const std::string first_etag = pulled.etag;
  auto ioc = dist::pull_item(options, agent.path(), dist::Kind::kIocs, "bad-ips.csv");
  ASSERT_EQ(ioc.status, dist::PullResult::Status::kUpdated) << ioc.error;
  // The same content has the same ETag at the federation, the site and the agent.
  EXPECT_EQ(first_etag, dist::read_item(published, dist::Kind::kRules, "hpc-test")->etag);

  rules::RuleSetReloader reloader(
      {{agent.path() / "rules/hpc-test"}, {{"bad-ips", agent.path() / "iocs/bad-ips.csv"}}});
  ASSERT_EQ(reloader.current()->rules_loaded, 1);
  EXPECT_EQ(reloader.current()->engine->pack_version(), "1");
  protocol::Event connect =
      testing::sample_event(kBaseNs, "node-a1", protocol::EventKind::kNetworkConnect);
  std::vector<protocol::Alert> alerts;
  reloader.current()->engine->evaluate(connect, alerts);
  ASSERT_EQ(alerts.size(), 1u);  // 198.51.100.7 is in the pulled IOC list

  // A second pull: 304, nothing written.
  pulled = dist::pull_item(options, agent.path(), dist::Kind::kRules, "hpc-test");
  EXPECT_EQ(pulled.status, dist::PullResult::Status::kNotModified);
  EXPECT_EQ(pulled.http_status, 304);
  EXPECT_FALSE(reloader.reload_if_changed().has_value());

  // The federation publishes a new version of the pack.
  write(published / "rules/hpc-test/proc/miner.yml", kMinerRule);
  write(published / "rules/hpc-test/VERSION", "2\n");
  ASSERT_EQ(site_a_.mirror->sync(), 1);
  pulled = dist::pull_item(options, agent.path(), dist::Kind::kRules, "hpc-test");
  ASSERT_EQ(pulled.status, dist::PullResult::Status::kUpdated) << pulled.error;
  EXPECT_NE(pulled.etag, first_etag);
  const auto outcome = reloader.reload_if_changed();
  ASSERT_TRUE(outcome.has_value());
  ASSERT_TRUE(outcome->swapped);
  EXPECT_EQ(outcome->active->rules_loaded, 2);
  EXPECT_EQ(outcome->active->engine->pack_version(), "2");

  // The site's own CSIRT list (published by its collector) is neither
  // replaced by the federation's item of that name nor withdrawn.
  const fs::path mirror = site_a_.collector->config().federation.distribution_dir;
  write(mirror / "iocs/csirt.csv", "type,value\nip,192.0.2.99\n");
  write(published / "iocs/csirt.csv", "type,value\nip,203.0.113.1\n");

  // Withdrawn at the federation: the site removes it too.
  fs::remove(published / "iocs/bad-ips.csv");
  EXPECT_EQ(site_a_.mirror->sync(), 0);
  EXPECT_EQ(dist::read_item(mirror, dist::Kind::kIocs, "csirt.csv")->files[0].content,
            "type,value\nip,192.0.2.99\n");
  EXPECT_EQ(site_a_.collector->get("/api/v1/distribution/iocs/bad-ips.csv", kNodeToken).status,
            404);
  const std::string exposition = site_a_.collector->metrics().exposition();
  EXPECT_NE(exposition.find("vigie_distribution_pulls_total{result=\"removed\"} 1"),
            std::string::npos)
      << exposition;
}

TEST(DistributionManifest, RefusesTamperedAndHostileManifests) {
  dist::Item item{dist::Kind::kRules, "pack", {{"a.yml", "x: 1\n"}}, ""};
  item.etag = dist::content_etag(item.files);
  const auto parsed = dist::from_json(dist::to_json(item));
  ASSERT_TRUE(parsed) << parsed.error();

  auto manifest = nlohmann::json::parse(dist::to_json(item));
  manifest["etag"] = std::string(64, '0');
  const auto tampered = dist::from_json(manifest.dump());
  ASSERT_FALSE(tampered);
  EXPECT_NE(tampered.error().find("etag"), std::string::npos);

  for (const std::string path : {"../x.yml", "/etc/passwd", "a/../../b", ".hidden", "a//b", ""}) {
    auto hostile = nlohmann::json::parse(dist::to_json(item));
    hostile["files"][0]["path"] = path;
    EXPECT_FALSE(dist::from_json(hostile.dump())) << path;
  }
  EXPECT_FALSE(dist::from_json("not json"));
  EXPECT_FALSE(dist::valid_name(dist::Kind::kIocs, "list.txt"));
  EXPECT_TRUE(dist::if_none_match("W/\"abc\", \"def\"", "abc"));
  EXPECT_TRUE(dist::if_none_match("*", "abc"));
  EXPECT_FALSE(dist::if_none_match("\"abcd\"", "abc"));
}

TEST(ZoneKind, StripsIndexes) {
  EXPECT_EQ(zone_kind("package-0"), "package");
  EXPECT_EQ(zone_kind("package-1/core"), "package/core");
  EXPECT_EQ(zone_kind("gpu-12"), "gpu");
  EXPECT_EQ(zone_kind("node"), "node");
  EXPECT_EQ(zone_kind("x-y"), "x-y");
}

}  // namespace
}  // namespace vigie::collector
