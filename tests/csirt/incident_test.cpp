#include "vigie/csirt/incident.h"

#include <gtest/gtest.h>

#include <set>

namespace vigie::csirt {
namespace {

constexpr State kAll[] = {State::kSuspected,     State::kReported, State::kContained,
                          State::kInvestigating, State::kResolved, State::kClosed,
                          State::kFalsePositive, State::kMerged};

TEST(IncidentStates, NamesRoundTrip) {
  for (State s : kAll) EXPECT_EQ(parse_state(to_string(s)), s);
  EXPECT_FALSE(parse_state("Closed"));
  EXPECT_EQ(parse_severity("critical"), Severity::kCritical);
  EXPECT_FALSE(parse_severity("urgent"));
}

TEST(IncidentStates, TheChainOneStepAtATimeAndFalsePositiveOrMergedFromAnyOpenState) {
  const std::set<std::pair<State, State>> expected = {
      {State::kSuspected, State::kReported},     {State::kReported, State::kContained},
      {State::kContained, State::kInvestigating}, {State::kInvestigating, State::kResolved},
      {State::kResolved, State::kClosed}};
  for (State from : kAll) {
    for (State to : kAll) {
      const bool chain = expected.count({from, to}) > 0;
      const bool side = is_open(from) && (to == State::kFalsePositive || to == State::kMerged);
      EXPECT_EQ(transition_allowed(from, to), chain || side)
          << to_string(from) << " -> " << to_string(to);
    }
  }
}

TEST(IncidentStates, ClosedFalsePositiveAndMergedAreFinal) {
  for (State final_state : {State::kClosed, State::kFalsePositive, State::kMerged}) {
    EXPECT_FALSE(is_open(final_state));
    for (State to : kAll) EXPECT_FALSE(transition_allowed(final_state, to));
  }
}

TEST(IncidentTransition, SetsTheSec01TimeOfTheNewStateOnceAndNeedsAReason) {
  Incident incident;
  incident.id = "grif-2026-0001";
  auto refused = transition(incident, State::kReported, "  ", 100);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, TransitionError::Code::kBadRequest);
  EXPECT_EQ(incident.state, State::kSuspected);

  ASSERT_TRUE(transition(incident, State::kReported, "mailed abuse@egi.eu", 100));
  EXPECT_EQ(incident.times.reported_ns, 100u);
  ASSERT_TRUE(transition(incident, State::kContained, "node isolated", 200));
  EXPECT_EQ(incident.times.contained_ns, 200u);

  const Incident before = incident;
  auto skip = transition(incident, State::kClosed, "done", 300);
  ASSERT_FALSE(skip);
  EXPECT_EQ(skip.error().code, TransitionError::Code::kNotAllowed);
  EXPECT_EQ(incident, before);  // unchanged on error

  ASSERT_TRUE(transition(incident, State::kInvestigating, "forensics", 300));
  ASSERT_TRUE(transition(incident, State::kResolved, "cleaned", 400));
  ASSERT_TRUE(transition(incident, State::kClosed, "report sent", 500));
  EXPECT_EQ(incident.times.resolved_ns, 400u);
  EXPECT_EQ(incident.times.closed_ns, 500u);
  auto after_close = transition(incident, State::kFalsePositive, "oops", 600);
  ASSERT_FALSE(after_close);
  EXPECT_NE(after_close.error().message.find("final"), std::string::npos);
}

TEST(IncidentTransition, AStateTimeSetByHandIsKept) {
  Incident incident;
  incident.times.reported_ns = 50;  // reported by phone before the move was recorded
  ASSERT_TRUE(transition(incident, State::kReported, "phoned EGI CSIRT", 100));
  EXPECT_EQ(incident.times.reported_ns, 50u);
}

TEST(IncidentTransition, MergedNeedsAnotherIncident) {
  Incident incident;
  incident.id = "a-2026-0001";
  EXPECT_FALSE(transition(incident, State::kMerged, "same attacker", 1));
  EXPECT_FALSE(transition(incident, State::kMerged, "same attacker", 1, "a-2026-0001"));
  ASSERT_TRUE(transition(incident, State::kMerged, "same attacker", 1, "a-2026-0002"));
  EXPECT_EQ(incident.merged_into, "a-2026-0002");
}

TEST(IncidentIds, ReadablePerSiteAndYear) {
  EXPECT_EQ(incident_id("GRIF", 2026, 7), "grif-2026-0007");
  EXPECT_EQ(incident_id("IN2P3 CC", 2025, 12345), "in2p3-cc-2025-12345");
  EXPECT_EQ(incident_id("", 2025, 1), "site-2025-0001");
}

TEST(IncidentIds, UuidsAreVersion4AndDistinct) {
  const std::string a = new_uuid(), b = new_uuid();
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace vigie::csirt

#include "vigie/csirt/timeline.h"

namespace vigie::csirt {
namespace {

TEST(IncidentEntries, RequestsStartAndAnswersStopStepFiveAndTheClosureReportStepSix) {
  Incident incident;
  TimelineEntry request;
  request.id = "r1";
  request.kind = EntryKind::kEgiRequest;
  request.occurred_ns = 10;
  ASSERT_TRUE(*apply_entry(incident, request));
  ASSERT_EQ(incident.requests.size(), 1u);

  TimelineEntry answer;
  answer.kind = EntryKind::kCommunication;
  answer.answers = "r1";
  answer.occurred_ns = 20;
  ASSERT_TRUE(*apply_entry(incident, answer));
  EXPECT_EQ(incident.requests[0].answered_ns, 20u);
  answer.occurred_ns = 30;  // a second answer does not move the first
  EXPECT_FALSE(*apply_entry(incident, answer));
  EXPECT_EQ(incident.requests[0].answered_ns, 20u);
  answer.answers = "nope";
  EXPECT_FALSE(apply_entry(incident, answer));

  TimelineEntry report;
  report.kind = EntryKind::kReport;
  report.closure_report = true;
  report.occurred_ns = 40;
  ASSERT_TRUE(*apply_entry(incident, report));
  EXPECT_EQ(incident.times.closure_report_ns, 40u);

  TimelineEntry note;
  EXPECT_FALSE(*apply_entry(incident, note));
}

}  // namespace
}  // namespace vigie::csirt
