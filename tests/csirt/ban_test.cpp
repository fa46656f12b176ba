#include "vigie/csirt/ban.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace vigie::csirt {
namespace {

constexpr uint64_t kNow = 1'800'000'000'000'000'000ull;
const std::string kKey = "SHA256:" + std::string(43, 'A');

BanEntry entry(SubjectType type, std::string value, uint8_t actions, Tlp tlp = Tlp::kAmber) {
  static int next = 0;
  BanEntry e;
  e.id = "ban-" + std::to_string(++next);
  e.type = type;
  e.value = std::move(value);
  e.actions = actions;
  e.tlp = tlp;
  e.reason = "stolen credentials";
  e.origin = "federation";
  e.created_ns = kNow - 10;
  return e;
}

BanList sample_list() {
  BanList list;
  list.serial = 7;
  list.origin = "federation";
  list.entries = {
      entry(SubjectType::kUser, "mallory", kDenyLogin | kDenySubmit | kDetect),
      entry(SubjectType::kX509Dn, "/DC=org/DC=example/CN=Mallory Q", kDenyLogin | kDenySubmit),
      entry(SubjectType::kVomsFqan, "/vo.example/Role=pilot", kDenyLogin),
      entry(SubjectType::kIp, "198.51.100.0/24", kDenyNetwork | kDenyLogin | kDetect),
      entry(SubjectType::kIp, "2001:db8::/32", kDenyNetwork),
      entry(SubjectType::kSshKey, kKey, kDetect),
  };
  BanEntry oidc = entry(SubjectType::kOidc, "abc@egi.eu", kDenySubmit | kDetect);
  oidc.issuer = "https://aai.egi.eu/auth/realms/egi";
  list.entries.push_back(oidc);
  BanEntry lifted = entry(SubjectType::kUser, "eve", kDenySubmit | kDetect);
  lifted.lifted_ns = kNow - 1;
  list.entries.push_back(lifted);
  BanEntry elsewhere = entry(SubjectType::kUser, "trent", kDenySubmit);
  elsewhere.sites = {"other-site"};
  list.entries.push_back(elsewhere);
  return list;
}

IdentityMap identities() {
  auto map = parse_identity_map(
      "# federated subjects at grif\n"
      "x509-dn mallory /DC=org/DC=example/CN=Mallory Q\n"
      "oidc mq https://aai.egi.eu/auth/realms/egi|abc@egi.eu\n");
  EXPECT_TRUE(map) << map.error();
  return map ? *map : IdentityMap{};
}

TEST(BanSubjects, NormalisedOrRefusedWithAReason) {
  EXPECT_EQ(*normalise_subject(SubjectType::kUser, "alice.b-1"), "alice.b-1");
  EXPECT_FALSE(normalise_subject(SubjectType::kUser, "alice bob"));
  EXPECT_FALSE(normalise_subject(SubjectType::kUser, "-rf"));
  EXPECT_EQ(*normalise_subject(SubjectType::kX509Dn, "  /DC=org/CN=A B  "), "/DC=org/CN=A B");
  EXPECT_FALSE(normalise_subject(SubjectType::kX509Dn, "CN=A,DC=org"));  // not one-line form
  EXPECT_FALSE(normalise_subject(SubjectType::kVomsFqan, "/vo/Role=a b"));
  EXPECT_EQ(*normalise_subject(SubjectType::kSshKey, kKey + "="), kKey);  // padding dropped
  EXPECT_FALSE(normalise_subject(SubjectType::kSshKey, "MD5:aa:bb"));
  EXPECT_EQ(*normalise_subject(SubjectType::kIp, "198.51.100.77/24"), "198.51.100.0/24");
  EXPECT_FALSE(normalise_subject(SubjectType::kOidc, std::string(256, 'a')));
}

TEST(BanDraft, IsParsedStrictly) {
  const auto draft = parse_ban_draft(
      R"({"type":"oidc","value":"abc@egi.eu","issuer":"https://aai.egi.eu/auth/realms/egi",
          "actions":["deny-submit","detect"],"sites":["grif"],"reason":"phished","tlp":"green",
          "incident":"grif-2026-0003"})");
  ASSERT_TRUE(draft) << draft.error();
  EXPECT_EQ(draft->actions, kDenySubmit | kDetect);
  EXPECT_EQ(draft->tlp, Tlp::kGreen);
  EXPECT_EQ(draft->sites, std::vector<std::string>{"grif"});
  const struct {
    const char* body;
    const char* says;
  } refused[] = {
      {R"({"type":"user","value":"a"})", "'reason' is required"},
      {R"({"type":"user","value":"a","reason":"r","colour":1})", "unknown key 'colour'"},
      {R"({"type":"oidc","value":"a","reason":"r"})", "'issuer' is required"},
      {R"({"type":"user","value":"a","issuer":"https://x","reason":"r"})", "oidc subjects only"},
      {R"({"type":"user","value":"a","reason":"r","actions":["ban"]})", "not an action"},
      {R"({"type":"group","value":"a","reason":"r"})", "not a subject type"},
      {R"({"type":"ip","value":"300.1.1.1","reason":"r"})", "'value'"},
      {R"({"type":"user","value":"a","reason":"r","tlp":"white"})", "TLP 2.0"},
      {R"([1])", "JSON object"},
  };
  for (const auto& r : refused) {
    const auto parsed = parse_ban_draft(r.body);
    ASSERT_FALSE(parsed) << r.body;
    EXPECT_NE(parsed.error().find(r.says), std::string::npos) << parsed.error();
  }
}

TEST(BanList, RoundTripsRefusesRollbackAndKeepsRedAtHome) {
  const BanList list = sample_list();
  const auto back = parse_ban_list(to_json(list).dump());
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, list);
  EXPECT_TRUE(takes(list, 6));
  EXPECT_FALSE(takes(list, 7));  // the list held
  EXPECT_FALSE(takes(list, 8));  // a rollback
  BanList mixed = list;
  mixed.entries.push_back(entry(SubjectType::kUser, "r", kDetect, Tlp::kRed));
  mixed.entries.push_back(entry(SubjectType::kUser, "s", kDetect, Tlp::kAmberStrict));
  EXPECT_EQ(shareable(mixed).entries, list.entries);
  // Strict: a duplicate id, a value not normalised, a missing serial.
  auto dump = to_json(list);
  dump["entries"][1]["id"] = dump["entries"][0]["id"];
  EXPECT_FALSE(parse_ban_list(dump.dump()));
  dump = to_json(list);
  dump["entries"][0]["value"] = "not a user";
  EXPECT_FALSE(parse_ban_list(dump.dump()));
  dump = to_json(list);
  dump.erase("serial");
  EXPECT_FALSE(parse_ban_list(dump.dump()));
  EXPECT_FALSE(parse_ban_list("{"));
}

TEST(BanList, ActiveEntriesBecomeTheAgentsIocLists) {
  const auto lists = ban_ioc_lists(sample_list(), "grif", identities(), kNow);
  ASSERT_EQ(lists.size(), 3u);
  EXPECT_EQ(lists[0].first, "ban.users.csv");
  // mallory (detect), mq (the oidc subject's local user); not eve (lifted),
  // not trent (another site's), not the DN (no detect action).
  EXPECT_EQ(lists[0].second, "type,value\nuser,mallory\nuser,mq\n");
  EXPECT_EQ(lists[1].second, "type,value\ncidr,198.51.100.0/24\n");
  EXPECT_EQ(lists[2].second, "type,value\nsshkey," + kKey + "\n");
  BanList empty;
  for (const auto& [name, csv] : ban_ioc_lists(empty, "grif", {}, kNow))
    EXPECT_EQ(csv, "type,value\n") << name;  // present, so that lifting empties them
  auto expired = sample_list();
  for (auto& e : expired.entries) e.expires_ns = kNow;
  EXPECT_EQ(ban_ioc_lists(expired, "grif", {}, kNow)[0].second, "type,value\n");
}

TEST(BanIdentityMap, NamesTheLineOfAnError) {
  EXPECT_FALSE(parse_identity_map("user alice alice\n"));  // local users need no map
  const auto bad = parse_identity_map("\n# c\nx509-dn alice\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("line 3"), std::string::npos) << bad.error();
  EXPECT_FALSE(parse_identity_map("oidc alice no-bar-here\n"));
  const auto map = identities();
  BanEntry dn = entry(SubjectType::kX509Dn, "/DC=org/DC=example/CN=Mallory Q", kDenyLogin);
  EXPECT_EQ(map.local_users(dn), std::vector<std::string>{"mallory"});
  dn.value = "/DC=org/CN=Nobody";
  EXPECT_TRUE(map.local_users(dn).empty());
}

TEST(BanRender, EachFormatActsOnItsEntries) {
  const BanList list = sample_list();
  const auto map = identities();
  const auto argus = render_bans(list, RenderFormat::kArgus, "grif", map, kNow);
  EXPECT_NE(argus.text.find(R"(rule deny { subject = "/DC=org/DC=example/CN=Mallory Q" })"),
            std::string::npos)
      << argus.text;
  EXPECT_NE(argus.text.find(R"(rule deny { fqan = "/vo.example/Role=pilot" })"), std::string::npos);
  EXPECT_EQ(argus.entries, 2u);  // the user and the address are not Argus subjects: notes
  EXPECT_EQ(argus.notes.size(), 2u);

  const auto lcmaps = render_bans(list, RenderFormat::kLcmaps, "grif", map, kNow);
  EXPECT_NE(lcmaps.text.find("\"/DC=org/DC=example/CN=Mallory Q\"\n"), std::string::npos);
  const auto empty_lcmaps = render_bans(BanList{}, RenderFormat::kLcmaps, "grif", map, kNow);
  EXPECT_FALSE(empty_lcmaps.text.empty());  // written even when empty: a header comment

  const auto slurm = render_bans(list, RenderFormat::kSlurm, "grif", map, kNow);
  EXPECT_NE(slurm.text.find("sacctmgr -i modify user where name=mallory set MaxSubmitJobs=0"),
            std::string::npos)
      << slurm.text;
  EXPECT_NE(slurm.text.find("name=mq set MaxSubmitJobs=0"), std::string::npos);    // oidc → mq
  EXPECT_EQ(slurm.text.find("trent"), std::string::npos);                          // another site's
  EXPECT_NE(slurm.undo.find("name=eve set MaxSubmitJobs=-1"), std::string::npos);  // lifted
  EXPECT_EQ(slurm.undo.find("name=mq"), std::string::npos);                        // still banned
  EXPECT_EQ(slurm.entries, 3u);  // mallory, the DN (→ mallory), the oidc subject (→ mq)

  IdentityMap none;
  const auto unmapped = render_bans(list, RenderFormat::kSlurm, "grif", none, kNow);
  EXPECT_EQ(unmapped.unmapped, 2u);  // the DN and the oidc subject
  EXPECT_EQ(unmapped.entries, 1u);
}

// The rendered files pass the tools that will load them.
int run(const std::string& command) {
  const int status = std::system((command + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class BanRenderChecked : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("vigie-ban-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  std::filesystem::path dir_;
};

TEST_F(BanRenderChecked, SshdIncludePassesSshdT) {
  ASSERT_TRUE(std::filesystem::exists("/usr/sbin/sshd"))
      << "openssh-server is a test dependency (deploy/install-deps.sh --test)";
  ASSERT_EQ(getuid(), 0u) << "sshd -t runs as root (its privilege separation directory)";
  std::filesystem::create_directories("/run/sshd");
  const auto key = (dir_ / "host_key").string();
  ASSERT_EQ(run("ssh-keygen -q -t ed25519 -N '' -f " + key), 0);
  for (const BanList& list : {sample_list(), BanList{}}) {
    const auto sshd = render_bans(list, RenderFormat::kSshd, "grif", identities(), kNow);
    const auto include = write("bans.conf", sshd.text);
    const auto config = write("sshd_config", "HostKey " + key + "\nInclude " + include + "\n");
    EXPECT_EQ(run("/usr/sbin/sshd -t -f " + config), 0) << sshd.text;
    if (!list.entries.empty()) {
      EXPECT_NE(sshd.text.find("DenyUsers mallory\n"), std::string::npos);
      EXPECT_NE(sshd.text.find("DenyUsers *@198.51.100.0/24\n"), std::string::npos);
    }
  }
  // The check can fail: a directive sshd does not know.
  const auto broken = write("broken_config", "HostKey " + key + "\nDenyUserz mallory\n");
  EXPECT_NE(run("/usr/sbin/sshd -t -f " + broken), 0);
}

TEST_F(BanRenderChecked, NftablesScriptPassesNftC) {
  ASSERT_TRUE(std::filesystem::exists("/usr/sbin/nft"))
      << "nftables is a test dependency (deploy/install-deps.sh --test)";
  for (const BanList& list : {sample_list(), BanList{}}) {
    const auto nft = render_bans(list, RenderFormat::kNftables, "grif", {}, kNow);
    EXPECT_EQ(run("/usr/sbin/nft -c -f " + write("bans.nft", nft.text)), 0) << nft.text;
    if (!list.entries.empty()) {
      EXPECT_NE(nft.text.find("elements = { 198.51.100.0/24 }"), std::string::npos) << nft.text;
      EXPECT_NE(nft.text.find("elements = { 2001:db8::/32 }"), std::string::npos) << nft.text;
    }
  }
  EXPECT_NE(
      run("/usr/sbin/nft -c -f " + write("broken.nft", "table inet x { set s { type nope; } }")),
      0);
}

TEST(BanStates, PerSiteFromTheirAcknowledgements) {
  BanAck applied{"grif", 7, 7, 100, {}, 101};
  BanAck failed{"lapp", 7, 7, 100, {"slurm: sacctmgr: connection refused"}, 101};
  BanAck reached{"cc", 7, 5, 90, {}, 101};
  BanAck stale{"lal", 6, 6, 80, {}, 101};
  const auto states =
      ban_states(7, {"grif", "lapp", "cc", "lal", "cines"}, {applied, failed, reached, stale});
  ASSERT_EQ(states.size(), 5u);  // by site name
  std::map<std::string, std::pair<std::string, uint64_t>> got;
  for (const auto& s : states) got[s.site] = {s.state, s.lag};
  EXPECT_EQ(got["grif"], std::make_pair(std::string("applied"), uint64_t{0}));
  EXPECT_EQ(got["lapp"], std::make_pair(std::string("failed"), uint64_t{0}));
  EXPECT_EQ(got["cc"], std::make_pair(std::string("reached"), uint64_t{2}));
  EXPECT_EQ(got["lal"], std::make_pair(std::string("stale"), uint64_t{1}));
  EXPECT_EQ(got["cines"], std::make_pair(std::string("unknown"), uint64_t{7}));
  const auto ack = parse_ban_ack(to_json(failed).dump());
  EXPECT_FALSE(ack);  // received_ns is the federation's, not the site's to send
  auto sent = to_json(failed);
  sent.erase("received_ns");
  const auto parsed = parse_ban_ack(sent.dump());
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->failures, failed.failures);
  EXPECT_FALSE(parse_ban_ack(R"({"site":""})"));
}

}  // namespace
}  // namespace vigie::csirt
