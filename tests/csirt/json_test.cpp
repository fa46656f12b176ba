#include "vigie/csirt/json.h"

#include <gtest/gtest.h>

namespace vigie::csirt {
namespace {

TEST(CsirtJson, IncidentDraftStrictly) {
  auto draft = parse_incident_draft(
      R"({"title":"Miner on node12","severity":"high","tlp":"TLP:AMBER+STRICT","alerts":[4,5]})");
  ASSERT_TRUE(draft) << draft.error();
  EXPECT_EQ(draft->title, "Miner on node12");
  EXPECT_EQ(draft->severity, Severity::kHigh);
  EXPECT_EQ(draft->tlp, Tlp::kAmberStrict);
  EXPECT_EQ(draft->alerts, (std::vector<int64_t>{4, 5}));

  EXPECT_EQ(parse_incident_draft(R"({"summary":"x"})").error(), "missing key 'title'");
  EXPECT_EQ(parse_incident_draft(R"({"title":"x","colour":"red"})").error(),
            "unknown key 'colour'");
  EXPECT_NE(parse_incident_draft(R"({"title":"x","tlp":"white-ish"})").error().find("'tlp'"),
            std::string::npos);
  EXPECT_FALSE(parse_incident_draft(R"({"title":"   "})"));
  EXPECT_FALSE(parse_incident_draft(R"({"title":"x","alerts":[-1]})"));
  EXPECT_FALSE(parse_incident_draft(R"({"title":"x","discovered_ns":-5})"));
  EXPECT_FALSE(parse_incident_draft("[1]"));
  EXPECT_FALSE(parse_incident_draft("{"));
  EXPECT_FALSE(parse_incident_draft(std::string(kMaxBodyBytes + 1, ' ')));
}

TEST(CsirtJson, PatchNeedsSomethingAndReasonGoesWithState) {
  auto patch = parse_incident_patch(R"({"state":"reported","reason":"mailed"})");
  ASSERT_TRUE(patch) << patch.error();
  EXPECT_EQ(patch->state, State::kReported);
  EXPECT_EQ(patch->reason, "mailed");
  EXPECT_FALSE(parse_incident_patch("{}"));
  EXPECT_FALSE(parse_incident_patch(R"({"reason":"why not"})"));
  EXPECT_FALSE(parse_incident_patch(R"({"sites":[]})"));
  EXPECT_FALSE(parse_incident_patch(R"({"state":"done"})"));
}

TEST(CsirtJson, EntriesTheCollectorWritesAreRefused) {
  auto entry = parse_entry(R"({"kind":"egi_request","text":"logs of node12 please"})");
  ASSERT_TRUE(entry) << entry.error();
  EXPECT_EQ(entry->entry.kind, EntryKind::kEgiRequest);
  EXPECT_FALSE(entry->tlp);
  auto with_refs = parse_entry(
      R"({"kind":"note","text":"t","tlp":"red","references":{"alerts":[1],"jobs":["42"]}})");
  ASSERT_TRUE(with_refs) << with_refs.error();
  EXPECT_EQ(with_refs->tlp, Tlp::kRed);
  EXPECT_EQ(with_refs->entry.references.jobs, std::vector<std::string>{"42"});
  EXPECT_FALSE(parse_entry(R"({"kind":"state_change","text":"t"})"));
  EXPECT_FALSE(parse_entry(R"({"kind":"note"})"));
  EXPECT_FALSE(parse_entry(R"({"kind":"note","text":"t","references":{"files":[]}})"));
}

TEST(CsirtJson, IndicatorsOneOrAList) {
  auto one = parse_indicators(R"({"type":"ip-dst","value":"127.0.0.9","role":"suspected"})");
  ASSERT_TRUE(one) << one.error();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].indicator.type, ObservableType::kIp);
  EXPECT_EQ((*one)[0].role, LinkRole::kSuspected);
  EXPECT_FALSE((*one)[0].has_tlp);
  EXPECT_EQ((*one)[0].indicator.source, "site");

  auto list = parse_indicators(
      R"({"indicators":[{"type":"domain","value":"Pool.Example"},{"type":"user","value":"eve","tlp":"red"}]})");
  ASSERT_TRUE(list) << list.error();
  EXPECT_EQ((*list)[0].indicator.value, "pool.example");
  EXPECT_TRUE((*list)[1].has_tlp);

  EXPECT_EQ(parse_indicators(R"({"indicators":[{"type":"ip","value":"x"}]})").error(),
            "indicators[0]: 'value': not an IP address or CIDR network: 'x'");
  EXPECT_FALSE(parse_indicators(R"({"indicators":[]})"));
  EXPECT_FALSE(parse_indicators(R"({"type":"md5","value":"x"})"));
}

TEST(CsirtJson, IncidentShowsItsNextDeadline) {
  Incident incident;
  incident.id = "grif-2026-0001";
  Step done{"report", "Report", 1, 0, 10, 5, StepStatus::kDone, 0};
  Step late{"contain", "Contain", 2, 0, 30, 0, StepStatus::kOverdue, 0};
  Step soon{"downtime", "Downtime", 4, 0, 20, 0, StepStatus::kDueSoon, 0};
  const auto json = to_json(incident, {done, late, soon});
  EXPECT_EQ(json["sec01"].size(), 3u);
  EXPECT_EQ(json["next_deadline"]["key"], "downtime");
  EXPECT_TRUE(to_json(incident, {done})["next_deadline"].is_null());
}

}  // namespace
}  // namespace vigie::csirt

namespace vigie::csirt {
namespace {

TEST(CsirtJson, StoredFormsRoundTrip) {
  Incident incident;
  incident.id = "grif-2026-0002";
  incident.uuid = new_uuid();
  incident.title = "t";
  incident.sites = {"GRIF", "LAL"};
  incident.state = State::kContained;
  incident.tlp = Tlp::kRed;
  incident.times.discovered_ns = 1;
  incident.times.closure_report_ns = 8;
  incident.requests = {{"e1", 5, 6}};
  incident.version = 3;
  EXPECT_EQ(incident_from_json(to_json(incident, {})), incident);

  TimelineEntry entry;
  entry.id = "x";
  entry.kind = EntryKind::kCommunication;
  entry.references.alerts = {7};
  entry.references.jobs = {"42"};
  entry.answers = "e1";
  EXPECT_EQ(entry_from_json(to_json(entry)), entry);

  Indicator indicator;
  indicator.uuid = "u";
  indicator.type = ObservableType::kDomain;
  indicator.value = "pool.example";
  indicator.tags = {"misp-galaxy:x"};
  indicator.deleted = true;
  EXPECT_EQ(indicator_from_json(to_json(indicator)), indicator);

  Retrohunt hunt;
  hunt.id = "h";
  hunt.indicators = {"u"};
  hunt.truncated = true;
  const Retrohunt back = retrohunt_from_json(to_json(hunt));
  EXPECT_EQ(back.indicators, hunt.indicators);
  EXPECT_TRUE(back.truncated);
}

}  // namespace
}  // namespace vigie::csirt
