#include "vigie/csirt/indicator.h"

#include <gtest/gtest.h>

#include "vigie/csirt/timeline.h"

namespace vigie::csirt {
namespace {

using protocol::Event;

TEST(Indicators, TypesIncludeMispNames) {
  EXPECT_EQ(parse_observable_type("ip-dst"), ObservableType::kIp);
  EXPECT_EQ(parse_observable_type("ip-src|port"), ObservableType::kIp);
  EXPECT_EQ(parse_observable_type("hostname"), ObservableType::kDomain);
  EXPECT_EQ(parse_observable_type("SHA256"), ObservableType::kSha256);
  EXPECT_EQ(parse_observable_type("target-user"), ObservableType::kUser);
  EXPECT_FALSE(parse_observable_type("md5"));
}

TEST(Indicators, ValuesAreNormalised) {
  EXPECT_EQ(*normalise(ObservableType::kIp, "192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(*normalise(ObservableType::kIp, "192.0.2.7/24"), "192.0.2.0/24");
  EXPECT_EQ(*normalise(ObservableType::kIp, "2001:DB8:0:0::1"), "2001:db8::1");
  EXPECT_EQ(*normalise(ObservableType::kIp, "198.51.100.3|443"), "198.51.100.3");
  EXPECT_EQ(*normalise(ObservableType::kDomain, "Pool.Example."), "pool.example");
  EXPECT_EQ(*normalise(ObservableType::kSha256, std::string(64, 'A')), std::string(64, 'a'));
  EXPECT_EQ(*normalise(ObservableType::kFileName, "/tmp/.x/xmrig"), "xmrig");
  EXPECT_FALSE(normalise(ObservableType::kIp, "300.1.1.1"));
  EXPECT_FALSE(normalise(ObservableType::kDomain, "a..b"));
  EXPECT_FALSE(normalise(ObservableType::kDomain, "a b"));
  EXPECT_FALSE(normalise(ObservableType::kSha256, "abc"));
  EXPECT_FALSE(normalise(ObservableType::kFileName, "/tmp/"));
  EXPECT_FALSE(normalise(ObservableType::kUser, "bad\nname"));
}

TEST(Indicators, KeyRangesCoverExactlyWhatTheMatcherMatches) {
  // Network 192.0.2.0/24: the range and the matcher agree on its edges.
  const auto ranges = key_ranges(ObservableType::kIp, "192.0.2.0/24");
  ASSERT_EQ(ranges.size(), 1u);
  const auto inside = *observable_key(ObservableType::kIp, "192.0.2.255");
  const auto outside = *observable_key(ObservableType::kIp, "192.0.3.0");
  EXPECT_TRUE(ranges[0].low <= inside && inside <= ranges[0].high);
  EXPECT_FALSE(ranges[0].low <= outside && outside <= ranges[0].high);

  // Domain: itself and subdomains, not a name that merely ends the same.
  const auto domain = key_ranges(ObservableType::kDomain, "pool.example");
  auto in_any = [&domain](const std::string& key) {
    for (const auto& r : domain) {
      if (r.low <= key && key <= r.high) return true;
    }
    return false;
  };
  EXPECT_TRUE(in_any(*observable_key(ObservableType::kDomain, "pool.example")));
  EXPECT_TRUE(in_any(*observable_key(ObservableType::kDomain, "eu.Pool.example")));
  EXPECT_FALSE(in_any(*observable_key(ObservableType::kDomain, "xpool.example")));
  EXPECT_FALSE(in_any(*observable_key(ObservableType::kDomain, "example")));
}

Indicator indicator(std::string uuid, ObservableType type, std::string value) {
  Indicator i;
  i.uuid = std::move(uuid);
  i.type = type;
  i.value = *normalise(type, value);
  return i;
}

TEST(IndicatorMatcher, MatchesAddressesInNetworksSubdomainsAndExactValues) {
  std::vector<Indicator> all = {
      indicator("net", ObservableType::kIp, "10.1.0.0/16"),
      indicator("host", ObservableType::kIp, "10.1.2.3"),
      indicator("v6", ObservableType::kIp, "2001:db8::/32"),
      indicator("pool", ObservableType::kDomain, "pool.example"),
      indicator("miner", ObservableType::kFileName, "xmrig"),
      indicator("mallory", ObservableType::kUser, "mallory"),
  };
  const IndicatorMatcher matcher(all, 1);
  EXPECT_EQ(matcher.size(), 6u);
  auto match = [&matcher](ObservableType type, const char* value) {
    return matcher.match({type, *observable_key(type, value)});
  };
  EXPECT_EQ(match(ObservableType::kIp, "10.1.2.3"), (std::vector<std::string>{"host", "net"}));
  EXPECT_EQ(match(ObservableType::kIp, "10.1.9.9"), std::vector<std::string>{"net"});
  EXPECT_TRUE(match(ObservableType::kIp, "10.2.0.1").empty());
  EXPECT_EQ(match(ObservableType::kIp, "2001:db8:1::5"), std::vector<std::string>{"v6"});
  EXPECT_EQ(match(ObservableType::kDomain, "a.b.pool.example"), std::vector<std::string>{"pool"});
  EXPECT_TRUE(match(ObservableType::kDomain, "example").empty());
  EXPECT_EQ(match(ObservableType::kFileName, "xmrig"), std::vector<std::string>{"miner"});
  EXPECT_TRUE(match(ObservableType::kUser, "alice").empty());
}

TEST(IndicatorMatcher, RevokedExpiredAndNotForDetectionNeverMatch) {
  auto revoked = indicator("revoked", ObservableType::kIp, "10.0.0.1");
  revoked.deleted = true;
  auto expired = indicator("expired", ObservableType::kIp, "10.0.0.1");
  expired.valid_until_ns = 100;
  auto not_ids = indicator("not_ids", ObservableType::kIp, "10.0.0.1");
  not_ids.to_ids = false;
  const IndicatorMatcher matcher({revoked, expired, not_ids}, 200);
  EXPECT_EQ(matcher.size(), 0u);
  EXPECT_TRUE(matcher.match({ObservableType::kIp, *observable_key(ObservableType::kIp, "10.0.0.1")})
                  .empty());
  EXPECT_TRUE(active(expired, 99));
}

TEST(IndicatorList, ActiveOnesAsACsvTheRulesLoad) {
  auto revoked = indicator("r", ObservableType::kIp, "10.0.0.9");
  revoked.deleted = true;
  const std::vector<Indicator> all = {indicator("a", ObservableType::kIp, "10.1.0.0/16"),
                                      indicator("b", ObservableType::kIp, "10.0.0.1"),
                                      indicator("c", ObservableType::kDomain, "Pool.Example"),
                                      indicator("d", ObservableType::kUser, "mallory"), revoked};
  EXPECT_EQ(ioc_list_csv(all, 1),
            "type,value\ncidr,10.1.0.0/16\ndomain,pool.example\nip,10.0.0.1\n");
}

TEST(Observables, OfConnectionsAcceptsAndExecutions) {
  Event connect;
  connect.user = "alice";
  protocol::NetworkConnect c;
  c.destination_ip = "127.0.0.9";
  c.destination_hostname = "Pool.Example";
  connect.body = c;
  EXPECT_EQ(observables_of(connect),
            (std::vector<Observable>{
                {ObservableType::kIp, *observable_key(ObservableType::kIp, "127.0.0.9")},
                {ObservableType::kDomain, "example.pool"}}));

  Event accept;
  protocol::NetworkAccept a;
  a.source_ip = "203.0.113.5";  // the peer
  a.destination_ip = "10.0.0.1";
  accept.body = a;
  ASSERT_EQ(observables_of(accept).size(), 1u);
  EXPECT_EQ(observables_of(accept)[0].key, *observable_key(ObservableType::kIp, "203.0.113.5"));

  Event exec;
  exec.user = "bob";
  protocol::ProcessExec e;
  e.image = "/tmp/xmrig";
  e.sha256 = std::string(64, 'f');
  exec.body = e;
  EXPECT_EQ(observables_of(exec), (std::vector<Observable>{{ObservableType::kFileName, "xmrig"},
                                                           {ObservableType::kSha256, e.sha256},
                                                           {ObservableType::kUser, "bob"}}));
}

TEST(Timeline, EntryTlpNeverLooserThanTheIncidentsAndClosureReportRules) {
  TimelineEntry entry;
  entry.tlp = Tlp::kGreen;
  EXPECT_FALSE(check_entry(entry, Tlp::kAmber));
  entry.tlp = Tlp::kRed;
  EXPECT_TRUE(check_entry(entry, Tlp::kAmber));
  entry.kind = EntryKind::kReport;
  entry.closure_report = true;
  entry.tlp = Tlp::kGreen;
  EXPECT_FALSE(check_entry(entry, Tlp::kClear));  // a GREEN closure report is refused
  entry.tlp = Tlp::kAmber;
  EXPECT_TRUE(check_entry(entry, Tlp::kClear));
  entry.kind = EntryKind::kNote;
  EXPECT_FALSE(check_entry(entry, Tlp::kClear));
  entry = TimelineEntry{};
  entry.answers = "x";
  EXPECT_FALSE(check_entry(entry, Tlp::kAmber));
  entry.kind = EntryKind::kCommunication;
  EXPECT_TRUE(check_entry(entry, Tlp::kAmber));
}

}  // namespace
}  // namespace vigie::csirt
